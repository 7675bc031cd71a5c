"""A one-line status label whose new texts do not make its window lay out (and repaint) again."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtWidgets import QLabel, QWidget

__all__ = ["StatusLabel"]

_ANY_SIZE = 16_777_215  # QWIDGETSIZE_MAX


class StatusLabel(QLabel):
    """A QLabel for counts that change several times a second ("12,000 of 50,000 loaded").

    A plain QLabel asks its parent to lay out again for every new text. Inside a tab widget
    that repaints the whole tab (~3 ms of the GUI thread when idle, ~40 ms while worker threads
    run Python, measured), although nothing moved. A widget of fixed size asks nothing, so this
    label keeps a fixed size that grows only when a text needs more room; :meth:`fit` lets it
    shrink back at a quiet moment (a new search). A new text then repaints the label's own
    rectangle only (its parents paint the background behind it: it is not opaque, because a
    tab page's background is not the window colour in every style).
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.fit()

    def setText(self, text: str) -> None:
        if text == self.text():
            return
        super().setText(text)
        self._grow(self.sizeHint())

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.fit()  # the same text may need another size now

    def reserve(self, *texts: str) -> None:
        """Make room now for texts to come (say when the window is not busy drawing rows)."""
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        for text in texts:
            width = metrics.horizontalAdvance(text) + margins.left() + margins.right()
            self._grow(QSize(width, self.sizeHint().height()))

    def _grow(self, needed: QSize) -> None:
        width = max(needed.width(), self.minimumWidth())
        height = max(needed.height(), self.minimumHeight())
        if (width, height) != (self.minimumWidth(), self.minimumHeight()):
            self.setFixedSize(width, height)

    def fit(self) -> None:
        """Take the size the current text needs (one new layout), growing from there."""
        self.setMinimumSize(0, 0)
        self.setMaximumSize(_ANY_SIZE, _ANY_SIZE)
        text = self.text()
        super().setText("")  # a QLabel keeps its size hint (at least its minimum size) until
        super().setText(text)  # its text changes
        hint = self.sizeHint()
        self.setFixedSize(hint.width(), hint.height())
