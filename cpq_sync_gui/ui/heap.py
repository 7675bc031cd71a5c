"""Keep the cycle collector's pauses short in a window that holds tens of thousands of rows.

CPython's full ("generation 2") collection walks every tracked object and holds the GIL while
it does, so the window stalls for as long as it takes: ~30 ms for the objects the app has
right after start-up (modules, classes, Qt wrappers), and as much again for 50,000 loaded
rows. The rows are named tuples, which the collector tracks for as long as they live (it
only stops tracking plain tuples), so every full collection walked all of them.

Long-lived objects are therefore moved out of the collector's sight with ``gc.freeze()`` (the
pattern the gc documentation describes): the start-up objects once, after one full
collection, and the loaded rows as they arrive, after a young collection (a few
milliseconds). Frozen objects are still freed by reference counting as usual (rows hold only
strings, numbers and dates, so they never form cycles); only cyclic garbage that has already
reached the old generation when a freeze happens is kept (small: the young collection just
before the freeze frees what is recent).
"""

from __future__ import annotations

import gc

__all__ = ["freeze_long_lived", "freeze_startup_objects"]


def freeze_startup_objects() -> int:
    """Collect once, then exempt every object alive now from later collections.

    Returns how many objects were frozen. Call it once, when the main window is built.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def freeze_long_lived() -> None:
    """Collect the young generations, then exempt every object alive now (loaded rows).

    Cheap (it walks only the objects made since the last collection: ~0.2 ms for a page of
    rows) and safe to call often. It does not count the frozen objects: that walks all of
    them (~10 ms at 50,000 rows).
    """
    gc.collect(1)
    gc.freeze()
