"""StatusLabel: new texts never cut, room kept for shorter ones, and a new font refits it."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QWidget

from cpq_sync_gui.ui.status_label import StatusLabel


def _shown(qtbot, text: str) -> tuple[QWidget, StatusLabel]:
    window = QWidget()
    qtbot.addWidget(window)
    label = StatusLabel(text, window)
    row = QHBoxLayout(window)
    row.addWidget(label)
    row.addStretch(1)
    window.resize(900, 60)
    window.show()
    qtbot.waitExposed(window)
    return window, label


def test_reserved_room_holds_the_texts_to_come_without_a_new_layout(qtbot):
    _window, label = _shown(qtbot, "Counting accounts…")
    label.reserve("50,000 of 50,000 loaded", "All 50,000 accounts loaded")
    qtbot.waitUntil(
        lambda: label.width() >= label.fontMetrics().horizontalAdvance("All 50,000 accounts loaded")
    )
    width = label.width()
    for text in ("2,000 of 50,000 loaded", "50,000 of 50,000 loaded", "All 50,000 accounts loaded"):
        label.setText(text)
        qtbot.wait(20)
        assert label.width() == width  # no new size: its window is not laid out again


def test_a_bigger_font_refits_the_label_to_its_whole_text(qtbot):
    _window, label = _shown(qtbot, "All 50,000 accounts loaded")
    before = label.width()
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    label.setFont(font)
    qtbot.waitUntil(lambda: label.width() > before)
    assert label.width() >= label.fontMetrics().horizontalAdvance("All 50,000 accounts loaded")
