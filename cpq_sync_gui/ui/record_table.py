"""The records table: checkbox clicks and Shift+click ranges, Space, Enter, column chooser, remembered layout."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QTableView,
    QWidget,
)

from cpq_sync_gui import paths
from cpq_sync_gui.ui.record_models import RecordFilterProxy, RecordTableModel
from cpq_sync_gui.ui.record_rows import RecordKind, Row
from cpq_sync_gui.ui.theme import row_height

__all__ = ["RecordTable", "changed_on_screen", "ui_settings"]

SETTINGS_FILE = "window-state.ini"
_LAYOUT_VERSION = 1  # bump when columns change so an old saved layout is not applied


def ui_settings() -> QSettings:
    """Window and table layout, kept in CPQ_SYNC_HOME's config folder (never the registry)."""
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / SETTINGS_FILE), QSettings.Format.IniFormat)


def changed_on_screen(
    view: QTableView,
    top_left: QModelIndex | QPersistentModelIndex,
    bottom_right: QModelIndex | QPersistentModelIndex,
) -> tuple[QModelIndex | QPersistentModelIndex, QModelIndex | QPersistentModelIndex] | None:
    """The part of a ``dataChanged`` range on the view's visible rows; None when none is.

    Qt repaints the whole table for a change that spans rows beyond the visible ones: a batch
    of Zuora statuses or run states for rows far below cost a full paint (~5-10 ms of the
    GUI thread, longer while worker threads hold the interpreter lock) 25 times a second.
    A view that passes only this part on repaints just the changed cells it shows.
    """
    first = view.rowAt(0)
    if not (top_left.isValid() and bottom_right.isValid()) or first < 0:
        return top_left, bottom_right
    last = view.rowAt(view.viewport().height() - 1)
    if last < 0:
        last = view.model().rowCount() - 1
    top, bottom = max(first, top_left.row()), min(last, bottom_right.row())
    if top > bottom:
        return None
    return top_left.siblingAtRow(top), bottom_right.siblingAtRow(bottom)


class OnScreenTable(QTableView):
    """A table view that repaints only the changed cells it shows (:func:`changed_on_screen`)."""

    def dataChanged(
        self,
        topLeft: QModelIndex | QPersistentModelIndex,
        bottomRight: QModelIndex | QPersistentModelIndex,
        roles: Sequence[int] = (),
    ) -> None:
        visible = changed_on_screen(self, topLeft, bottomRight)
        if visible is not None:
            super().dataChanged(*visible, list(roles))


class RecordTable(OnScreenTable):
    """A QTableView over a :class:`RecordFilterProxy` of a :class:`RecordTableModel`."""

    details_requested = Signal(object)  # the row (Enter or double-click)
    row_menu_requested = Signal(object, QPoint)  # the row, global position
    select_all_requested = Signal()

    def __init__(self, kind: RecordKind, proxy: RecordFilterProxy, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.proxy = proxy
        self._anchor: int | None = None  # proxy row of the last checkbox click
        self._appended_out_of_sight = False  # since the last layout (see doItemsLayout)
        self._other_change = False
        self.setModel(proxy)
        for signal in (
            proxy.layoutChanged,
            proxy.modelReset,
            proxy.rowsRemoved,
            proxy.rowsMoved,
            proxy.columnsInserted,
            proxy.columnsRemoved,
        ):
            signal.connect(self._note_change)
        self.setObjectName("accountsTable" if kind.sobject == "Account" else "ordersTable")
        self.setAccessibleName(kind.plural.title())
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setSortingEnabled(True)
        # Shown from the start: a scroll bar appearing with the first rows narrows the table
        # and makes it lay out and paint everything a second time (~15 ms) as rows stream in.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._row_menu)
        vertical = self.verticalHeader()
        vertical.setVisible(False)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # 50,000 rows stay cheap
        vertical.setDefaultSectionSize(row_height(self))
        header = self.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self._default_widths()
        header.setSortIndicatorShown(False)  # rows come in the server's order until a click
        header.sectionClicked.connect(lambda _section: header.setSortIndicatorShown(True))
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self.save_layout)
        self.restore_layout()
        header.sectionMoved.connect(lambda *_: self._save_timer.start())
        header.sectionResized.connect(lambda *_: self._save_timer.start())

    # --- helpers ---------------------------------------------------------------------------

    @property
    def source(self) -> RecordTableModel:
        return self.proxy.source()

    def row_at(self, proxy_row: int) -> Row:
        return self.proxy.row_at(proxy_row)

    def current_row(self) -> Row | None:
        index = self.currentIndex()
        return self.row_at(index.row()) if index.isValid() else None

    def highlighted_rows(self) -> list[int]:
        """Proxy rows highlighted with the keyboard or mouse (current row when none)."""
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        if not rows and self.currentIndex().isValid():
            rows = [self.currentIndex().row()]
        return rows

    def _default_widths(self) -> None:
        header = self.horizontalHeader()
        check = self.style().pixelMetric(self.style().PixelMetric.PM_IndicatorWidth)
        header.resizeSection(0, check + 2 * self.fontMetrics().horizontalAdvance("M"))
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        scale = max(1.0, self.fontMetrics().height() / 16)
        for number, column in enumerate(self.kind.columns, 1):
            header.resizeSection(number, int(column.width * scale))

    # --- layout ----------------------------------------------------------------------------

    def _settings_key(self) -> str:
        return f"{self.kind.plural}/header_v{_LAYOUT_VERSION}"

    def save_layout(self) -> None:
        settings = ui_settings()
        settings.setValue(self._settings_key(), self.horizontalHeader().saveState())
        settings.sync()

    def restore_layout(self) -> bool:
        value = ui_settings().value(self._settings_key())
        if isinstance(value, QByteArray) and not value.isEmpty():
            header = self.horizontalHeader()
            restored = header.restoreState(value)
            header.setSectionHidden(0, False)  # the checkbox column is never hidden
            return restored
        return False

    def reset_layout(self) -> None:
        header = self.horizontalHeader()
        for number in range(header.count()):
            header.setSectionHidden(number, False)
            header.moveSection(header.visualIndex(number), number)
        self._default_widths()
        self.save_layout()

    def set_column_hidden(self, key: str, hidden: bool) -> None:
        self.horizontalHeader().setSectionHidden(self.kind.column_index(key), hidden)
        self.save_layout()

    def column_menu(self) -> QMenu:
        menu = QMenu("Columns", self)
        menu.setObjectName(f"{self.kind.plural}ColumnMenu")
        header = self.horizontalHeader()
        for number, column in enumerate(self.kind.columns, 1):
            action = QAction(column.title, menu)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(number))
            action.setData(column.key)
            action.toggled.connect(lambda on, key=column.key: self.set_column_hidden(key, not on))
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction("Reset columns", self.reset_layout)
        return menu

    def _header_menu(self, position: QPoint) -> None:
        self.column_menu().exec(self.horizontalHeader().mapToGlobal(position))

    def _row_menu(self, position: QPoint) -> None:
        index = self.indexAt(position)
        if index.isValid():
            self.setCurrentIndex(index)
            self.row_menu_requested.emit(
                self.row_at(index.row()), self.viewport().mapToGlobal(position)
            )

    # --- painting ----------------------------------------------------------------------------

    def rowsInserted(
        self, parent: QModelIndex | QPersistentModelIndex, start: int, end: int
    ) -> None:
        super().rowsInserted(parent, start, end)
        last = self.rowAt(self.viewport().height() - 1)
        if 0 <= last < start:
            self._appended_out_of_sight = True
        else:
            self._other_change = True

    def _note_change(self, *_args: object) -> None:
        self._other_change = True

    def doItemsLayout(self) -> None:
        """After rows were only appended below the visible ones, update the scroll bar alone.

        Qt lays out and repaints the whole table after every insert, though no visible cell
        changed: while 50,000 rows load that was a ~10 ms paint per insert.
        """
        quiet = self._appended_out_of_sight and not self._other_change
        self._appended_out_of_sight = self._other_change = False
        if quiet:
            self.updateGeometries()
            return
        super().doItemsLayout()

    # --- checkboxes: click, Shift+click, Space ----------------------------------------------

    def toggle_proxy_row(self, proxy_row: int, shift: bool = False) -> None:
        """A click on a row's checkbox; with Shift, every shown row since the last click
        gets the clicked row's new state."""
        row = self.row_at(proxy_row)
        selected = not self.source.is_selected(row.id)
        if shift and self._anchor is not None and self._anchor < self.proxy.rowCount():
            low, high = sorted((self._anchor, proxy_row))
            ids = [self.row_at(r).id for r in range(low, high + 1)]
            self.source.set_selected(ids, selected)
        else:
            self.source.set_selected([row.id], selected)
        self._anchor = proxy_row

    def _checkbox_index(self, event: QMouseEvent) -> QModelIndex | None:
        if event.button() != Qt.MouseButton.LeftButton:
            return None
        index = self.indexAt(event.position().toPoint())
        return index if index.isValid() and index.column() == 0 else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self._checkbox_index(event)
        if index is None:
            super().mousePressEvent(event)
            return
        self.toggle_proxy_row(
            index.row(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        )
        self.selectionModel().setCurrentIndex(index, self.selectionModel().SelectionFlag.NoUpdate)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._checkbox_index(event) is None:
            super().mouseReleaseEvent(event)
        else:
            event.accept()  # the press did the toggle; the delegate must not do it again

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self._checkbox_index(event)
        if index is not None:
            self.toggle_proxy_row(index.row())  # a fast second click is a second toggle
            event.accept()
            return
        index = self.indexAt(event.position().toPoint())
        if index.isValid():
            self.details_requested.emit(self.row_at(index.row()))
        event.accept()

    def toggle_highlighted(self) -> None:
        """Space: the highlighted rows all become selected, or all unselected when they were."""
        rows = self.highlighted_rows()
        if not rows:
            return
        ids = [self.row_at(r).id for r in rows]
        selected = not all(self.source.is_selected(i) for i in ids)
        self.source.set_selected(ids, selected)
        self._anchor = rows[-1]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.toggle_highlighted()
            event.accept()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            row = self.current_row()
            if row is not None:
                self.details_requested.emit(row)
            event.accept()
            return
        if event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)
