"""Keep the cycle collector's pauses short in a window that holds tens of thousands of rows.

CPython's full ("generation 2") collection walks every tracked object and holds the GIL while
it does, so the window stalls for as long as it takes: ~30 ms for the objects the app has
right after start-up (modules, classes, Qt wrappers), more once records are loaded. Those
start-up objects live as long as the process, so after one collection they are moved out of
the collector's sight with ``gc.freeze()`` (the pattern the gc documentation describes).
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> int:
    """Collect once, then exempt every object alive now from later collections.

    Returns how many objects were frozen. Call it once, when the main window is built.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
