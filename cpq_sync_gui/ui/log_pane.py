"""The live log pane: timestamped, level-coloured lines with filters, copy and save; never a secret."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.redact import redact

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LEVEL_COLOURS = {  # readable on light and dark backgrounds
    "DEBUG": "#8a8f98",
    "INFO": None,  # the palette's text colour
    "WARNING": "#c77c02",
    "ERROR": "#d93025",
}


@dataclass(frozen=True)
class LogEntry:
    at: dt.datetime
    level: str
    message: str  # already redacted

    def line(self) -> str:
        return f"{self.at:%H:%M:%S}  {self.level:<7}  {self.message}"


class LogPane(QWidget):
    """Shows log lines as they come; follows the newest line unless the user scrolled up."""

    saved = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("logPane")
        self._entries: list[LogEntry] = []

        self.level_filter = QComboBox(self)
        self.level_filter.setObjectName("logLevelFilter")
        self.level_filter.setAccessibleName("Show log lines from level")
        for level in LEVELS:
            self.level_filter.addItem(f"{level.title()} and above", level)
        self.level_filter.setCurrentIndex(1)
        self.text_filter = QLineEdit(self)
        self.text_filter.setObjectName("logTextFilter")
        self.text_filter.setPlaceholderText("Filter log lines…")
        self.text_filter.setAccessibleName("Filter log lines")
        self.text_filter.setClearButtonEnabled(True)
        copy_button = QPushButton("Copy", self)
        copy_button.setObjectName("logCopy")
        save_button = QPushButton("Save…", self)
        save_button.setObjectName("logSave")
        clear_button = QPushButton("Clear", self)
        clear_button.setObjectName("logClear")

        self.view = QPlainTextEdit(self)
        self.view.setObjectName("logView")
        self.view.setAccessibleName("Log")
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setMaximumBlockCount(200_000)

        bar = QHBoxLayout()
        bar.addWidget(self.level_filter)
        bar.addWidget(self.text_filter, 1)
        bar.addWidget(copy_button)
        bar.addWidget(save_button)
        bar.addWidget(clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view)

        self.level_filter.currentIndexChanged.connect(self._refilter)
        self.text_filter.textChanged.connect(self._refilter)
        copy_button.clicked.connect(self.copy_visible)
        save_button.clicked.connect(self._ask_where_to_save)
        clear_button.clicked.connect(self.clear)

    # --- adding lines ---------------------------------------------------------------------------

    def add(self, level: str, message: str, at: dt.datetime | None = None) -> None:
        self.add_many([(level, message, at)])

    def add_many(self, items: list[tuple[str, str, dt.datetime | None]]) -> None:
        """Add a batch of lines with one repaint (how runs deliver them)."""
        now = dt.datetime.now()
        fresh = [
            LogEntry(at or now, level.upper() if level.upper() in LEVELS else "INFO", redact(msg))
            for level, msg, at in items
        ]
        self._entries.extend(fresh)
        self._append([entry for entry in fresh if self._shown(entry)])

    def entries(self) -> list[LogEntry]:
        return list(self._entries)

    def visible_text(self) -> str:
        return self.view.toPlainText()

    def clear(self) -> None:
        self._entries.clear()
        self.view.clear()

    # --- copy and save --------------------------------------------------------------------------

    def copy_visible(self) -> None:
        QGuiApplication.clipboard().setText(self.visible_text())

    def save_to(self, path: Path) -> None:
        """Write every line (not only the filtered ones) as UTF-8 text."""
        path.write_text("\n".join(entry.line() for entry in self._entries) + "\n", encoding="utf-8")
        self.saved.emit(path)

    def _ask_where_to_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Save log", f"cpq-sync-log-{dt.datetime.now():%Y%m%d-%H%M%S}.txt", "Text (*.txt)"
        )
        if name:
            self.save_to(Path(name))

    # --- filtering and display -------------------------------------------------------------------

    def _shown(self, entry: LogEntry) -> bool:
        minimum = LEVELS.index(self.level_filter.currentData() or "INFO")
        if LEVELS.index(entry.level) < minimum:
            return False
        needle = self.text_filter.text().strip().lower()
        return not needle or needle in entry.line().lower()

    def _refilter(self) -> None:
        self.view.clear()
        self._append([entry for entry in self._entries if self._shown(entry)], force_follow=True)

    def _append(self, entries: list[LogEntry], force_follow: bool = False) -> None:
        if not entries:
            return
        scroll = self.view.verticalScrollBar()
        following = force_follow or scroll.value() >= scroll.maximum() - 2
        keep = scroll.value()
        cursor = QTextCursor(self.view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        default = QTextCharFormat()
        for entry in entries:
            colour = LEVEL_COLOURS[entry.level]
            fmt = QTextCharFormat(default)
            if colour:
                fmt.setForeground(QColor(colour))
            if not self.view.document().isEmpty():
                cursor.insertBlock()
            cursor.insertText(entry.line(), fmt)
        cursor.endEditBlock()
        if following:
            scroll.setValue(scroll.maximum())
        else:
            scroll.setValue(keep)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.text_filter.clear()
        super().keyPressEvent(event)
