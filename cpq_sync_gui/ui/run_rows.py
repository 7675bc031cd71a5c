"""Per-record run status for the window: the run's records table model and the overlay that shows
the same status in the Accounts / Orders tables.

Updates come in batches (one per drain of the run's events): each batch is at most one
``rowsInserted`` and one ``dataChanged`` for the rows it touched, never one signal per record,
so a 2,000-record run costs the event loop a few milliseconds per batch. Repaints are what
cost most under a busy run (see :class:`RunRecordsModel`), so the record tables' overlay
repaints only the visible cells that changed, at most five times a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    QTimer,
)
from PySide6.QtGui import QColor, QGuiApplication, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from cpq_sync_gui.sync.events import FINAL_STATES, RecordState
from cpq_sync_gui.ui.record_models import ID_ROLE  # rows are matched by the browsers' id role

__all__ = [
    "RunRecordsFilter",
    "RunRecordsModel",
    "RunRow",
    "RunStatusOverlay",
    "state_colour",
    "status_text",
]

_Index = QModelIndex | QPersistentModelIndex


@dataclass(slots=True)
class RunRow:
    """One record of the run on screen."""

    record_id: str
    record_kind: str  # "account" or "order"
    label: str
    state: RecordState = RecordState.QUEUED
    detail: str = ""  # the reason or the result, already redacted
    zuora_number: str | None = None


def status_text(state: RecordState, detail: str = "", zuora_number: str | None = None) -> str:
    """The status in the users' words: "Synced A00000012", "Failed: <the exact error>"…"""
    if state is RecordState.SYNCED:
        return f"Synced {zuora_number}" if zuora_number else "Synced"
    if state is RecordState.RUNNING:
        return f"Running: {detail}" if detail else "Running…"
    if state in (RecordState.SKIPPED, RecordState.FAILED, RecordState.TIMED_OUT) and detail:
        return f"{state.label}: {detail}"
    return state.label


_COLOURS_LIGHT = {
    "good": "#1b7a2e",
    "bad": "#c62828",
    "busy": "#1565c0",
    "quiet": "#6b7280",
    "warn": "#a15c00",
}
_COLOURS_DARK = {
    "good": "#7fd18b",
    "bad": "#ff8a80",
    "busy": "#8ab4f8",
    "quiet": "#9ca3af",
    "warn": "#f6c26b",
}
_TONE = {
    RecordState.SYNCED: "good",
    RecordState.ACCEPTED: "good",
    RecordState.SKIPPED: "quiet",
    RecordState.FAILED: "bad",
    RecordState.TIMED_OUT: "bad",
    RecordState.CANCELLED: "warn",
    RecordState.RUNNING: "busy",
    RecordState.VERIFYING: "busy",
    RecordState.QUEUED: "quiet",
}


def state_colour(state: RecordState) -> QColor:
    """A text colour for the state that reads on the light and the dark palette."""
    dark = QGuiApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
    return QColor((_COLOURS_DARK if dark else _COLOURS_LIGHT)[_TONE[state]])


COLUMNS = ("Record", "Status", "Zuora number", "Salesforce id", "Message")
STATUS_COLUMN = 1


class RunRecordsModel(QStandardItemModel):
    """The records of the run on screen, in planned order, with their live state.

    The cells live in Qt (a QStandardItemModel), not in Python: painting the table then calls
    no Python at all. While a run's worker threads are busy every call from Qt into Python
    waits for the interpreter lock, and a Python ``data()`` is called ~10 times per visible
    cell per repaint — that, not the updates, is what stalled the window. The Python list
    :meth:`rows` is the truth the panel and the tests read.
    """

    FILL_CHUNK = 50  # rows made per event-loop turn (2,000 rows: 40 turns of ~2 ms)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self._rows: list[RunRow] = []
        self._row_of: dict[str, int] = {}
        self._counts: dict[RecordState, int] = {}
        self._filled = 0
        self._colours = _colours()
        self._fill_timer = QTimer(self)
        self._fill_timer.setInterval(0)
        self._fill_timer.timeout.connect(self._fill_some)

    # --- cells ---------------------------------------------------------------------------

    def _show(self, number: int, row: RunRow, new: bool) -> None:
        """Write one row's cells (signals blocked by the caller; one dataChanged follows)."""
        if new:
            for column in range(len(COLUMNS)):
                item = QStandardItem()
                item.setEditable(False)
                self.setItem(number, column, item)
            self.item(number, 0).setText(row.label)
            self.item(number, 3).setText(row.record_id)
        status = self.item(number, STATUS_COLUMN)
        status.setText(row.state.label)
        status.setForeground(self._colours[row.state])
        status.setToolTip(status_text(row.state, row.detail, row.zuora_number))
        self.item(number, 2).setText(row.zuora_number or "")
        self.item(number, 4).setText(row.detail)

    def _fill_some(self) -> None:
        start = self._filled
        end = min(len(self._rows), start + self.FILL_CHUNK)
        if start >= end:
            self._fill_timer.stop()
            return
        self.insertRows(start, end - start)
        self.blockSignals(True)
        try:
            for number in range(start, end):
                self._show(number, self._rows[number], True)
        finally:
            self.blockSignals(False)
        self._filled = end
        self.dataChanged.emit(self.index(start, 0), self.index(end - 1, len(COLUMNS) - 1))
        if end < len(self._rows):
            self._fill_timer.start()
        else:
            self._fill_timer.stop()

    # --- rows ----------------------------------------------------------------------------

    def reset(self, rows: Iterable[RunRow]) -> None:
        self._fill_timer.stop()
        self.removeRows(0, self.rowCount())
        self._rows = []
        self._row_of = {}
        self._filled = 0
        self._colours = _colours()  # the palette may have changed (light / dark)
        for row in rows:
            if row.record_id not in self._row_of:
                self._row_of[row.record_id] = len(self._rows)
                self._rows.append(row)
        self._counts = {}
        for row in self._rows:
            self._counts[row.state] = self._counts.get(row.state, 0) + 1
        self._fill_timer.start()

    def apply(self, changes: Mapping[str, RunRow]) -> None:
        """Apply the latest state of each changed record: one dataChanged for the batch."""
        if not changes:
            return
        touched: list[int] = []
        for record_id, change in changes.items():
            number = self._row_of.get(record_id)
            if number is None:
                self._row_of[record_id] = len(self._rows)
                self._rows.append(change)
                self._counts[change.state] = self._counts.get(change.state, 0) + 1
                continue
            row = self._rows[number]
            self._counts[row.state] -= 1
            row.state = change.state
            row.detail = change.detail
            row.zuora_number = change.zuora_number or row.zuora_number
            if change.label:
                row.label = change.label
            self._counts[row.state] = self._counts.get(row.state, 0) + 1
            if number < self._filled:
                touched.append(number)
        if touched:
            self.blockSignals(True)
            try:
                for number in touched:
                    self._show(number, self._rows[number], False)
            finally:
                self.blockSignals(False)
            self.dataChanged.emit(
                self.index(min(touched), 0), self.index(max(touched), len(COLUMNS) - 1)
            )
        if self._filled < len(self._rows):
            self._fill_timer.start()

    def total(self) -> int:
        """Records of the run (the table may still be filling in)."""
        return len(self._rows)

    def rows(self) -> list[RunRow]:
        return list(self._rows)

    def state_at(self, row: int) -> RecordState:
        return self._rows[row].state

    def row(self, record_id: str) -> RunRow | None:
        number = self._row_of.get(record_id)
        return None if number is None else self._rows[number]

    def counts(self) -> dict[RecordState, int]:
        return {state: n for state, n in self._counts.items() if n}

    def all_final(self) -> bool:
        return all(row.state in FINAL_STATES for row in self._rows)


def _colours() -> dict[RecordState, QColor]:
    return {state: state_colour(state) for state in RecordState}


SHOW_CHOICES: tuple[tuple[str, frozenset[RecordState] | None], ...] = (
    ("All records", None),
    ("Failed, timed out or cancelled", frozenset(
        {RecordState.FAILED, RecordState.TIMED_OUT, RecordState.CANCELLED}
    )),
    ("Synced or accepted", frozenset({RecordState.SYNCED, RecordState.ACCEPTED})),
    ("Skipped", frozenset({RecordState.SKIPPED})),
    ("Not finished", frozenset(
        {RecordState.QUEUED, RecordState.RUNNING, RecordState.VERIFYING}
    )),
)  # fmt: skip


class RunRecordsFilter(QSortFilterProxyModel):
    """Shows the records in some states only ("show me what failed").

    Not dynamic: re-filtering on every ``dataChanged`` would call :meth:`filterAcceptsRow`
    for every row of a batch's range; the panel calls :meth:`refilter` once per batch while
    a filter is chosen, and never otherwise.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(False)
        self._states: frozenset[RecordState] | None = None

    @property
    def active(self) -> bool:
        return self._states is not None

    def set_states(self, states: frozenset[RecordState] | None) -> None:
        if states != self._states:
            self._states = states
            self.invalidateRowsFilter()

    def refilter(self) -> None:
        if self._states is not None:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if self._states is None:
            return True
        model = self.sourceModel()
        assert isinstance(model, RunRecordsModel)
        return model.state_at(source_row) in self._states


class RunStatusOverlay(QStyledItemDelegate):
    """Shows a record's run status in a record table's "Zuora status" column while it has one.

    Installed on the column with ``setItemDelegateForColumn``; rows without a run status are
    painted as the table paints them. The table's model needs nothing new: rows are matched
    by the browsers' id role, and one repaint per batch shows the changes.
    """

    REPAINT_MS = 200

    def __init__(self, view: QAbstractItemView, column: int) -> None:
        super().__init__(view)
        self.setObjectName("runStatusOverlay")
        self.view = view
        self.column = column
        self._statuses: dict[str, RunRow] = {}
        self._pending: set[str] = set()
        self._previous = view.itemDelegateForColumn(column)
        view.setItemDelegateForColumn(column, self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.REPAINT_MS)
        self._timer.timeout.connect(self._repaint_changed)

    def remove(self) -> None:
        self.view.setItemDelegateForColumn(self.column, self._previous)
        self.deleteLater()

    def status(self, record_id: str) -> RunRow | None:
        return self._statuses.get(record_id)

    def text_for(self, index: _Index) -> str:
        """What the cell shows (the run status, or the table's own text)."""
        row = self._statuses.get(index.data(ID_ROLE))
        if row is None:
            return str(index.data() or "")
        return status_text(row.state, row.detail, row.zuora_number)

    def update(self, changes: Mapping[str, RunRow]) -> None:
        if not changes:
            return
        self._statuses.update(changes)
        self._pending.update(changes)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Repaint now what changed (the run ended)."""
        self._timer.stop()
        self._repaint_changed()

    def clear(self) -> None:
        if self._statuses:
            self._statuses.clear()
            self._pending.clear()
            self.view.viewport().update()

    def _repaint_changed(self) -> None:
        """Repaint only the status cells of visible rows that changed (each repaint of the
        record table calls its Python model for every cell it paints)."""
        changed, self._pending = self._pending, set()
        view, model = self.view, self.view.model()
        if not changed or model is None or not view.isVisible():
            return
        first = view.rowAt(0)
        if first < 0:
            return
        last = view.rowAt(view.viewport().height() - 1)
        last = model.rowCount() - 1 if last < 0 else last
        for row in range(first, last + 1):
            index = model.index(row, self.column)
            if index.data(ID_ROLE) in changed:
                view.update(index)

    def initStyleOption(self, option: QStyleOptionViewItem, index: _Index) -> None:
        super().initStyleOption(option, index)
        row = self._statuses.get(index.data(ID_ROLE))
        if row is not None:
            option.text = status_text(row.state, row.detail, row.zuora_number)
            colour = state_colour(row.state)
            option.palette.setColor(QPalette.ColorRole.Text, colour)
            option.palette.setColor(QPalette.ColorRole.HighlightedText, colour.lighter(130))

    def helpEvent(self, event: QEvent, view: Any, option: Any, index: _Index) -> bool:
        row = self._statuses.get(index.data(ID_ROLE)) if index.isValid() else None
        if row is None or event.type() != QEvent.Type.ToolTip:
            return super().helpEvent(event, view, option, index)
        QToolTip.showText(event.globalPos(), status_text(row.state, row.detail, row.zuora_number))
        return True
