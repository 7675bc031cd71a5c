"""The Qt binding itself: guards against PySide6 releases that corrupt the interpreter."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QWidget


def test_void_qt_calls_do_not_drop_references_to_none(qtbot):
    """PySide6 6.12.0 on CPython 3.11 lowers None's reference count on every void Qt call,
    and the process aborts ("deallocating None") after a few thousand of them."""
    widget = QWidget()
    qtbot.addWidget(widget)
    before = sys.getrefcount(None)
    for _ in range(500):
        widget.update()
    assert sys.getrefcount(None) >= before - 5
