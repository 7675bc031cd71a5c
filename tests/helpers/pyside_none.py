"""Work around PySide6 6.12.0 on CPython 3.11: every call of a void Qt method drops a reference to None.

Seen here: ``QWidget.update()`` called 100 times lowers ``sys.getrefcount(None)`` by 100 with
PySide6 6.12.0 on CPython 3.11.7; PySide6 6.11.3 does not. CPython 3.12 made None immortal
(PEP 683), so it only bites on 3.11, where the process aborts with "none_dealloc: deallocating
None" once the count reaches zero — after a few thousand Qt calls, e.g. loading 50,000 rows.
The real fix is a PySide6 without the bug (or CPython >= 3.12); until then long GUI tests and
benchmarks keep None alive with a large extra count, the way 3.12 does.
"""

from __future__ import annotations

import ctypes
import sys

EXTRA = 1 << 40


def affected() -> bool:
    if sys.version_info >= (3, 12):
        return False
    import PySide6

    return PySide6.__version__.startswith("6.12.")


def keep_none_alive() -> bool:
    """Give None a huge reference count on affected versions; True when it did."""
    if not affected():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += EXTRA
    return True
