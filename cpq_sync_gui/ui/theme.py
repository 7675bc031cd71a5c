"""Light and dark look: Fusion with a palette that follows the OS colour scheme (or a forced one).

``apply_theme(app)`` follows ``QStyleHints.colorScheme()`` and switches when the OS does;
``apply_theme(app, "dark")`` forces a scheme (``--color-scheme`` for screenshots). Fusion's
own palette is used for light; the dark palette is ours, so dark looks the same on every
platform, including Linux desktops whose Qt has no dark theme plugin. Colours that carry a
meaning (Zuora status) come from :func:`status_colours`, readable on both backgrounds.
High DPI needs nothing here: Qt 6 scales by the screen's factor; sizes below are derived
from font metrics, never fixed pixels.
"""

from __future__ import annotations

import math
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QWidget

__all__ = [
    "SCHEMES",
    "apply_theme",
    "current_scheme",
    "dark_palette",
    "row_height",
    "status_colours",
]

Scheme = Literal["auto", "light", "dark"]
SCHEMES: tuple[str, ...] = ("auto", "light", "dark")

_LIGHT_STATUS = {
    "in_zuora": "#1b7a2e",
    "checking": "#6b7280",
    "failed": "#c62828",
    "unknown": "#6b7280",
}
_DARK_STATUS = {
    "in_zuora": "#7fd18b",
    "checking": "#9ca3af",
    "failed": "#ff8a80",
    "unknown": "#9ca3af",
}

_state: dict[str, object] = {"forced": None, "connected": False, "dark": False}


def dark_palette() -> QPalette:
    """A calm dark palette for Fusion (contrast checked against WCAG AA for text)."""
    window, base, alt, text = (
        QColor("#2b2d31"),
        QColor("#1f2023"),
        QColor("#26282c"),
        QColor("#e6e6e6"),
    )
    highlight, link = QColor("#3d6fb6"), QColor("#7fb2ff")
    disabled = QColor("#80838a")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: alt,
        QPalette.ColorRole.ToolTipBase: QColor("#3a3c41"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor("#9a9da3"),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#34363b"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ff6b6b"),
        QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: link,
        QPalette.ColorRole.LinkVisited: QColor("#c3a6ff"),
        QPalette.ColorRole.Light: QColor("#4a4d53"),
        QPalette.ColorRole.Midlight: QColor("#3d4045"),
        QPalette.ColorRole.Mid: QColor("#2f3135"),
        QPalette.ColorRole.Dark: QColor("#18191b"),
        QPalette.ColorRole.Shadow: QColor("#0b0b0c"),
    }
    for role, colour in roles.items():
        palette.setColor(role, colour)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor("#44474d"))
    return palette


_INDICATORS = {
    QStyle.PrimitiveElement.PE_IndicatorCheckBox,
    QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck,
    QStyle.PrimitiveElement.PE_IndicatorRadioButton,
}
_OUTLINE_SOURCE = QColor("#b4b7bd")


class ThemedStyle(QProxyStyle):
    """Fusion, with check boxes and radio buttons that stay visible on a dark palette.

    Fusion outlines indicators with the window colour made darker, which disappears on a
    dark window; for those primitives the outline is derived from a mid grey instead.
    """

    def __init__(self) -> None:
        super().__init__("Fusion")

    def drawPrimitive(self, element, option, painter, widget=None) -> None:
        if (
            element in _INDICATORS
            and option.palette.color(QPalette.ColorRole.Base).lightness() < 128
        ):
            copy = type(option)(option)
            copy.palette.setColor(QPalette.ColorRole.Window, _OUTLINE_SOURCE)
            option = copy
        super().drawPrimitive(element, option, painter, widget)


def _os_is_dark(app: QGuiApplication) -> bool:
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    # Unknown (no platform theme): judge by the platform palette's window colour.
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _refresh(app: QApplication) -> None:
    forced = _state["forced"]
    dark = forced == "dark" if forced in ("light", "dark") else _os_is_dark(app)
    _state["dark"] = dark
    style = app.style()
    app.setPalette(dark_palette() if dark else style.standardPalette())


def apply_theme(app: QApplication, scheme: str = "auto") -> None:
    """Fusion + the palette for ``scheme`` (``auto`` follows the OS and its later changes)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown colour scheme {scheme!r}: use auto, light or dark")
    if not isinstance(app.style(), ThemedStyle):
        app.setStyle(ThemedStyle())
    hints = app.styleHints()
    _state["forced"] = None if scheme == "auto" else scheme
    if scheme == "dark":
        hints.setColorScheme(Qt.ColorScheme.Dark)
    elif scheme == "light":
        hints.setColorScheme(Qt.ColorScheme.Light)
    else:
        hints.unsetColorScheme()
    if not _state["connected"]:
        hints.colorSchemeChanged.connect(lambda _scheme: _refresh(app))
        _state["connected"] = True
    _refresh(app)


def current_scheme() -> str:
    """``dark`` or ``light``: what the window shows now."""
    if _state["forced"] is None and QApplication.instance() is not None:
        palette = QGuiApplication.palette()
        return "dark" if palette.color(QPalette.ColorRole.Base).lightness() < 128 else "light"
    return "dark" if _state["dark"] else "light"


def status_colours() -> dict[str, str]:
    """Text colours for the Zuora status states, for the scheme on screen."""
    palette = QGuiApplication.palette()
    dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
    return _DARK_STATUS if dark else _LIGHT_STATUS


def row_height(widget: QWidget) -> int:
    """A table row height that fits the font at any DPI: text height plus padding."""
    height = widget.fontMetrics().height()
    return height + 2 * math.ceil(height * 0.3)
