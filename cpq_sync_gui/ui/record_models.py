"""Table model over AccountRow/OrderRow with checkbox selection, and the quick-filter proxy.

The selection is a set of 18-character ids held by the source model, so it does not care how
the rows are sorted or filtered, and it can hold ids whose rows are not loaded (select all
matching). Sorting is done by the source model with plain Python sort keys (50,000 rows in a
few tens of milliseconds); the proxy only filters.

Painting calls into Python, and while worker threads (page reads, Zuora checks) run Python each
such call can wait for the interpreter lock, so both models keep the calls per painted cell
few: ``index()`` without Qt's rowCount()/columnCount() round trip and ``multiData()`` answering
every role at once (3 calls a cell instead of ~24 through the proxy).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from cpq_sync_gui.ui.record_rows import RecordKind, Row, ZuoraState, ZuoraStatus
from cpq_sync_gui.ui.theme import status_colours

__all__ = ["ROW_ROLE", "RecordFilterProxy", "RecordTableModel"]

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the row object
ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the 18-character id

_Index = QModelIndex | QPersistentModelIndex
_CHECKED = Qt.CheckState.Checked
_UNCHECKED = Qt.CheckState.Unchecked
_CELL_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_CHECKBOX_FLAGS = _CELL_FLAGS | Qt.ItemFlag.ItemIsUserCheckable
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_CHECK_STATE = int(Qt.ItemDataRole.CheckStateRole)
_ACCESSIBLE_TEXT = int(Qt.ItemDataRole.AccessibleTextRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _status_colour(row: Row) -> QColor | None:
    colour = status_colours().get(row.zuora.state.value)
    return QColor(colour) if colour else None


def cell_flags(index: _Index) -> Qt.ItemFlag:
    """A cell's flags, the same for every row: the checkbox column is user-checkable."""
    if not index.isValid():
        return Qt.ItemFlag.NoItemFlags
    return _CHECKBOX_FLAGS if index.column() == 0 else _CELL_FLAGS


def fill(span: QModelRoleDataSpan, row: Row, answers: dict[int, Callable[[Row], Any]]) -> None:
    """Answer a ``multiData`` call: each asked role this column answers, the rest cleared."""
    for role_data in span:
        answer = answers.get(role_data.role())
        if answer is None:
            role_data.clearData()
        else:
            role_data.setData(answer(row))


class RecordTableModel(QAbstractTableModel):
    """Rows in load (or sorted) order; column 0 is the checkbox, then ``kind.columns``."""

    selection_changed = Signal(int)  # the number of selected ids

    def __init__(self, kind: RecordKind, parent: Any = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self._rows: list[Row] = []
        self._row_of: dict[str, int] = {}
        self._ids_by_key: dict[str, tuple[str, ...]] = {}  # Zuora key → row ids
        self._selected: set[str] = set()  # changed in place, never replaced (see _role_answers)
        self._haystacks: dict[str, str] = {}
        self._states: Counter[ZuoraState] = Counter()  # rows per Zuora state, kept as they change
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._zuora_column = kind.column_index("zuora")
        self._columns = len(kind.columns)  # model columns after the checkbox column
        self._answers = self._role_answers()

    # --- Qt model API ----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 — Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.kind.columns) + 1

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if section == 0:
            if role == Qt.ItemDataRole.ToolTipRole:
                return "Selected for sync (click; Shift+click for a range; Space)"
            if role == Qt.ItemDataRole.AccessibleTextRole:
                return "Selected"
            return "" if role == Qt.ItemDataRole.DisplayRole else None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return self.kind.columns[section - 1].title
        return None

    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        # Qt's own index() asks rowCount() and columnCount() first: two calls into Python
        # for every cell the view or the proxy looks at, where this is one.
        if parent.isValid() or not (0 <= row < len(self._rows) and 0 <= column <= self._columns):
            return QModelIndex()
        return self.createIndex(row, column)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.value(self._rows[index.row()], index.column(), role)

    def multiData(self, index: _Index, roleDataSpan: QModelRoleDataSpan) -> None:
        """Every role a cell is painted with in one call (Qt's default calls data() per role)."""
        if index.isValid():
            fill(roleDataSpan, self._rows[index.row()], self._answers[index.column()])

    def value(self, row: Row, column: int, role: int) -> Any:
        """What ``data()`` answers for this row's cell in ``column`` and ``role``."""
        answer = self._answers[column].get(int(role))
        return None if answer is None else answer(row)

    def _role_answers(self) -> list[dict[int, Callable[[Row], Any]]]:
        """Per column, the roles it answers and how (a painted cell is asked ~7 roles, and
        a dictionary look-up per role keeps the paint's Python short)."""
        selected = self._selected
        common: dict[int, Callable[[Row], Any]] = {
            ROW_ROLE: lambda row: row,
            ID_ROLE: lambda row: row.id,
        }
        checkbox = {
            **common,
            _CHECK_STATE: lambda row: _CHECKED if row.id in selected else _UNCHECKED,
            _ACCESSIBLE_TEXT: lambda row: "selected" if row.id in selected else "not selected",
        }
        answers = [checkbox]
        for number, column in enumerate(self.kind.columns, 1):
            roles = {**common, _DISPLAY: column.text}
            if column.align_right:
                roles[_ALIGNMENT] = lambda _row: _RIGHT
            if number == self._zuora_column:
                roles[_TOOLTIP] = lambda row: row.zuora.tooltip
                roles[_FOREGROUND] = _status_colour
            answers.append(roles)
        return answers

    def answers(self, column: int) -> dict[int, Callable[[Row], Any]]:
        """The roles ``column`` answers (for the proxy's ``multiData``)."""
        return self._answers[column]

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return cell_flags(index)

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != 0 or role != Qt.ItemDataRole.CheckStateRole:
            return False
        state = Qt.CheckState(value) if not isinstance(value, Qt.CheckState) else value
        self.set_selected([self._rows[index.row()].id], state == _CHECKED)
        return True

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by a column's sort key; persistent indexes (current row) follow."""
        if column <= 0 or column > len(self.kind.columns):
            return
        self._sort = (column, order)
        self._apply_sort()

    def _apply_sort(self) -> None:
        if self._sort is None or not self._rows:
            return
        column, order = self._sort
        key = self.kind.columns[column - 1].sort_key
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        old_ids = [self._rows[index.row()].id for index in old]
        self._rows.sort(key=key, reverse=order == Qt.SortOrder.DescendingOrder)
        self._row_of = {row.id: number for number, row in enumerate(self._rows)}
        self.changePersistentIndexList(
            old,
            [
                self.index(self._row_of[row_id], index.column())
                for row_id, index in zip(old_ids, old, strict=True)
            ],
        )
        self.layoutChanged.emit()

    # --- rows ------------------------------------------------------------------------------

    def rows(self) -> Sequence[Row]:
        return self._rows

    def row_at(self, row: int) -> Row:
        return self._rows[row]

    def row_number(self, record_id: str) -> int | None:
        return self._row_of.get(record_id)

    def row_by_id(self, record_id: str) -> Row | None:
        number = self._row_of.get(record_id)
        return None if number is None else self._rows[number]

    def clear(self) -> None:
        """Forget every row (the selection stays: it is what the admin chose)."""
        self.beginResetModel()
        self._rows = []
        self._row_of = {}
        self._ids_by_key = {}
        self._haystacks = {}
        self._states.clear()
        self.endResetModel()

    def add_rows(self, rows: Iterable[Row]) -> list[Row]:
        """Append new rows (one insert per call); rows already loaded are refreshed in place."""
        fresh: list[Row] = []
        for row in rows:
            number = self._row_of.get(row.id)
            if number is None:
                fresh.append(row)
                continue
            row = row._replace(zuora=self._rows[number].zuora)
            self._rows[number] = row
            self._haystacks.pop(row.id, None)
            self._changed_rows([number], 1, self.columnCount() - 1)
        if fresh:
            start = len(self._rows)
            seen: set[str] = set()
            unique = [r for r in fresh if not (r.id in seen or seen.add(r.id))]
            self.beginInsertRows(QModelIndex(), start, start + len(unique) - 1)
            self._rows.extend(unique)
            for number, row in enumerate(unique, start):
                self._row_of[row.id] = number
                self._states[row.zuora.state] += 1
                self._ids_by_key[row.zuora_key] = (*self._ids_by_key.get(row.zuora_key, ()), row.id)
            self.endInsertRows()
            self._apply_sort()
            return unique
        return fresh

    def set_statuses(self, statuses: dict[str, ZuoraStatus]) -> None:
        """Zuora statuses by key (account id / order number) for the rows that have them."""
        if not statuses:
            return
        changed: list[int] = []
        for key, status in statuses.items():
            for record_id in self._ids_by_key.get(key, ()):
                number = self._row_of[record_id]
                row = self._rows[number]
                if status != row.zuora:
                    self._states[row.zuora.state] -= 1
                    self._states[status.state] += 1
                    self._rows[number] = row._replace(zuora=status)
                    changed.append(number)
        self._changed_rows(changed, self._zuora_column, self._zuora_column)

    def count_by_state(self) -> dict[ZuoraState, int]:
        """Loaded rows per Zuora state (kept up to date, so asking is free)."""
        return {state: count for state, count in self._states.items() if count}

    def haystack(self, row: int) -> str:
        """The row's text in lower case, for the quick filter (cached)."""
        record = self._rows[row]
        text = self._haystacks.get(record.id)
        if text is None:
            text = "\x1f".join(
                column.text(record) for column in self.kind.columns if column.key != "zuora"
            ).casefold()
            self._haystacks[record.id] = text
        return text

    def _changed_rows(self, numbers: Sequence[int], first_column: int, last_column: int) -> None:
        """dataChanged per run of neighbouring rows (few signals, and no signal that spans
        thousands of untouched rows, which the proxy would re-filter one by one)."""
        if not numbers:
            return
        ordered = sorted(set(numbers))
        runs: list[tuple[int, int]] = []
        for number in ordered:
            if runs and number == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], number)
            else:
                runs.append((number, number))
        if len(runs) > 64:
            runs = [(ordered[0], ordered[-1])]
        for first, last in runs:
            self.dataChanged.emit(self.index(first, first_column), self.index(last, last_column))

    # --- selection -------------------------------------------------------------------------

    def selected_ids(self) -> set[str]:
        return set(self._selected)

    def selected_count(self) -> int:
        return len(self._selected)

    def selected_not_loaded(self) -> int:
        return sum(1 for record_id in self._selected if record_id not in self._row_of)

    def is_selected(self, record_id: str) -> bool:
        return record_id in self._selected

    def set_selected(self, ids: Iterable[str], selected: bool = True) -> int:
        """Select (or unselect) these ids; returns how many changed."""
        before = len(self._selected)
        touched: list[int] = []
        for record_id in ids:
            if selected == (record_id in self._selected):
                continue
            if selected:
                self._selected.add(record_id)
            else:
                self._selected.discard(record_id)
            number = self._row_of.get(record_id)
            if number is not None:
                touched.append(number)
        self._changed_rows(touched, 0, 0)
        changed = abs(len(self._selected) - before)
        if changed:
            self.selection_changed.emit(len(self._selected))
        return changed

    def invert(self, ids: Iterable[str]) -> None:
        """Flip these ids: selected ones become unselected and the other way round."""
        ids = list(ids)
        now_on = [i for i in ids if i not in self._selected]
        now_off = [i for i in ids if i in self._selected]
        self._selected.difference_update(now_off)
        self._selected.update(now_on)
        touched = [n for i in ids if (n := self._row_of.get(i)) is not None]
        self._changed_rows(touched, 0, 0)
        if ids:
            self.selection_changed.emit(len(self._selected))

    def clear_selection(self) -> None:
        if not self._selected:
            return
        self._selected.clear()
        if self._rows:
            self._changed_rows([0, len(self._rows) - 1], 0, 0)
        self.selection_changed.emit(0)


class RecordFilterProxy(QSortFilterProxyModel):
    """Filters loaded rows by quick text and "only not yet in Zuora"; sorting goes to the source."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._only_not_in_zuora = False
        # Re-filter rows whose Zuora status changed, only while a filter is on: otherwise
        # every status update would call filterAcceptsRow (Python) once per changed row.
        self.setDynamicSortFilter(False)

    def source(self) -> RecordTableModel:
        model = self.sourceModel()
        assert isinstance(model, RecordTableModel)
        return model

    @property
    def active(self) -> bool:
        return bool(self._needle) or self._only_not_in_zuora

    def multiData(self, index: _Index, roleDataSpan: QModelRoleDataSpan) -> None:
        """Every role of a cell in one call into Python (Qt's proxy would map each role alone).

        Without a filter the proxy shows every source row in the source's order (it never
        sorts itself), so the row number is the source's: no ``mapToSource``, which calls the
        source's ``index()`` and lets go of the interpreter lock twice per cell.
        """
        if index.isValid():
            model = self.source()
            number = self.mapToSource(index).row() if self.active else index.row()
            fill(roleDataSpan, model.row_at(number), model.answers(index.column()))

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        # Columns are never filtered or moved by the proxy: the source's header, asked directly
        # (Qt's proxy maps each section through the source's index() first).
        if orientation == Qt.Orientation.Horizontal:
            return self.source().headerData(section, orientation, role)
        return super().headerData(section, orientation, role)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        """The source's flags, which depend on the column alone (Qt's proxy would ask the
        source's ``index()`` and ``flags()``: three more calls into Python per painted cell)."""
        return cell_flags(index)

    def set_quick_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        if needle != self._needle:
            self.beginFilterChange()
            self._needle = needle
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            self.setDynamicSortFilter(self.active)

    def quick_filter(self) -> str:
        return self._needle

    def set_only_not_in_zuora(self, on: bool) -> None:
        if on != self._only_not_in_zuora:
            self.beginFilterChange()
            self._only_not_in_zuora = on
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
            self.setDynamicSortFilter(self.active)

    def only_not_in_zuora(self) -> bool:
        return self._only_not_in_zuora

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if not (self._needle or self._only_not_in_zuora):
            return True
        model = self.source()
        if self._only_not_in_zuora:
            state = model.row_at(source_row).zuora.state
            if state is not ZuoraState.NOT_IN_ZUORA:
                return False
        return not self._needle or self._needle in model.haystack(source_row)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.source().sort(column, order)

    def visible_ids(self) -> list[str]:
        """Ids of the rows the filter shows, in view order."""
        model = self.source()
        if not self.active:
            return [row.id for row in model.rows()]
        return [
            model.row_at(self.mapToSource(self.index(r, 0)).row()).id
            for r in range(self.rowCount())
        ]

    def row_at(self, proxy_row: int) -> Row:
        return self.source().row_at(self.mapToSource(self.index(proxy_row, 0)).row())
