"""Paste or import ids to select them; ids not loaded are looked up, and everything refused is listed.

Nothing is dropped silently: the report panel names every token that is not an id of this
tab's object (with its line and reason) and every id Salesforce does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.ids_import import IdsFileError, ParsedIds, parse_ids, read_ids_file
from cpq_sync_gui.ui.record_loading import LookupOutcome, PageLoaded, lookup_rows

if TYPE_CHECKING:
    from cpq_sync_gui.ui.record_browser import RecordBrowser

__all__ = ["IdsImport", "ImportReport", "ImportResult"]

_MAX_LISTED = 500  # tokens listed one per line; the rest are counted


@dataclass
class ImportResult:
    """What one paste or file did (also what the report panel shows)."""

    origin: str
    parsed: ParsedIds
    selected_loaded: list[str] = field(default_factory=list)
    found_by_lookup: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    finished: bool = False
    error: str = ""


class ImportReport(QFrame):
    """The panel under the table that says what a paste or import did."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}ImportReport")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(self)
        self.title.setObjectName(f"{name}ImportTitle")
        self.title.setWordWrap(True)
        self.details = QPlainTextEdit(self)
        self.details.setObjectName(f"{name}ImportDetails")
        self.details.setAccessibleName("Ids not selected")
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(self.fontMetrics().height() * 8)
        copy = QPushButton("Copy", self)
        copy.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.title.text() + "\n" + self.text())
        )
        close = QPushButton("Close", self)
        close.setObjectName(f"{name}ImportClose")
        close.clicked.connect(self.hide)
        buttons = QVBoxLayout()
        buttons.addWidget(copy)
        buttons.addWidget(close)
        buttons.addStretch(1)
        body = QVBoxLayout()
        body.addWidget(self.title)
        body.addWidget(self.details)
        layout = QHBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        self.hide()

    def text(self) -> str:
        return self.details.toPlainText()

    def show_result(self, result: ImportResult) -> None:
        parsed = result.parsed
        if result.error and not parsed.ids and not parsed.rejected:
            self.title.setText(result.error)
            self.details.setPlainText("")
            self.details.hide()
            self.show()
            return
        selected = len(result.selected_loaded) + len(result.found_by_lookup)
        title = f"From {result.origin}: {parsed.summary()}. Selected {selected:,}"
        pending = len(parsed.ids) - selected - len(result.not_found)
        if not result.finished and pending:
            title += f"; looking up {pending:,} not loaded in Salesforce…"
        elif result.not_found:
            title += f"; {len(result.not_found):,} not found in Salesforce"
        self.title.setText((result.error + " " if result.error else "") + title + ".")
        lines: list[str] = []
        for number, rejected in enumerate(parsed.rejected):
            if number == _MAX_LISTED:
                lines.append(f"… and {len(parsed.rejected) - _MAX_LISTED:,} more not taken")
                break
            lines.append(f"Not taken — {rejected.describe()}")
        for number, record_id in enumerate(result.not_found):
            if number == _MAX_LISTED:
                lines.append(f"… and {len(result.not_found) - _MAX_LISTED:,} more not found")
                break
            lines.append(f"Not found in Salesforce — {record_id}")
        self.details.setPlainText("\n".join(lines))
        self.details.setVisible(bool(lines))
        self.show()


class IdsImport(QObject):
    """The Paste ids / Import ids buttons of a records tab and what they do."""

    imported = Signal(object)  # the finished ImportResult

    def __init__(self, browser: RecordBrowser) -> None:
        super().__init__(browser)
        self.browser = browser
        name = browser.kind.plural
        self.paste_button = QPushButton("Paste ids", browser)
        self.paste_button.setObjectName(f"{name}PasteIds")
        self.paste_button.setToolTip(
            f"Select the {name} whose ids are on the clipboard (15 or 18 characters, any "
            "separators)"
        )
        self.file_button = QPushButton("Import ids…", browser)
        self.file_button.setObjectName(f"{name}ImportIds")
        self.file_button.setToolTip(f"Select the {name} whose ids are in a CSV or text file")
        self.report = ImportReport(name, browser)
        self.paste_button.clicked.connect(self.paste)
        self.file_button.clicked.connect(self.choose_file)
        self.last: ImportResult | None = None

    def paste(self) -> None:
        text = QGuiApplication.clipboard().text()
        if not text.strip():
            self._fail("clipboard", "The clipboard holds no text: copy the ids first, then paste.")
            return
        self.import_text(text, "the clipboard")

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self.browser,
            f"Import {self.browser.kind.singular} ids",
            "",
            "CSV or text (*.csv *.txt *.tsv);;All files (*)",
        )
        if name:
            self.import_file(Path(name))

    def import_file(self, path: Path) -> ImportResult:
        kind = self.browser.kind
        try:
            parsed = read_ids_file(path, kind.key_prefix, object_label=kind.sobject)
        except IdsFileError as error:
            return self._fail(path.name, str(error))
        return self.apply(parsed, path.name)

    def import_text(self, text: str, origin: str = "pasted text") -> ImportResult:
        kind = self.browser.kind
        return self.apply(parse_ids(text, kind.key_prefix, object_label=kind.sobject), origin)

    def _fail(self, origin: str, message: str) -> ImportResult:
        result = ImportResult(origin, ParsedIds(), finished=True, error=message)
        self.last = result
        self.report.show_result(result)
        self.browser.log.emit("WARNING", message)
        self.imported.emit(result)
        return result

    def apply(self, parsed: ParsedIds, origin: str) -> ImportResult:
        """Select the loaded ids now; look the others up in Salesforce (≤200 ids a query)."""
        model = self.browser.model
        result = ImportResult(origin, parsed)
        self.last = result
        loaded = [i for i in parsed.ids if model.row_number(i) is not None]
        missing = [i for i in parsed.ids if model.row_number(i) is None]
        model.set_selected(loaded, True)
        result.selected_loaded = loaded
        source = self.browser.source
        if missing and source is None:
            result.not_found = missing
            result.error = (
                f"{len(missing):,} ids are not loaded and cannot be looked up: no connection. "
                "Choose a connection, then paste again."
            )
        if not missing or source is None:
            self._finish(result)
            return result
        self.report.show_result(result)
        job = self.browser.start_job(
            "lookup",
            partial(lookup_rows, client=source.salesforce, kind=self.browser.kind, ids=missing),
        )

        def events(items: list[Any]) -> None:
            for event in items:
                if isinstance(event, PageLoaded):
                    self.browser._add_rows(event.rows)
                    ids = [row.id for row in event.rows]
                    model.set_selected(ids, True)
                    result.found_by_lookup += ids

        def done(outcome: LookupOutcome) -> None:
            result.not_found = outcome.not_found
            self._finish(result)

        def failed(message: str, details: str) -> None:
            found = set(result.found_by_lookup)
            result.not_found = [i for i in missing if i not in found]
            result.error = f"Looking up the ids stopped: {message}"
            self.browser.log.emit("DEBUG", details)
            self._finish(result)

        job.events.connect(events)
        job.succeeded.connect(done)
        job.failed.connect(failed)
        job.start()
        return result

    def _finish(self, result: ImportResult) -> None:
        result.finished = True
        self.report.show_result(result)
        parsed = result.parsed
        level = "WARNING" if parsed.rejected or result.not_found or result.error else "INFO"
        self.browser.log.emit(level, f"Ids from {result.origin}: {self.report.title.text()}")
        for rejected in parsed.rejected[:_MAX_LISTED]:
            self.browser.log.emit("WARNING", f"Not taken — {rejected.describe()}")
        for record_id in result.not_found[:_MAX_LISTED]:
            self.browser.log.emit("WARNING", f"Not found in Salesforce — {record_id}")
        self.imported.emit(result)
