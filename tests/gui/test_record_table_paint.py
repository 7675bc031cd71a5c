"""What the record table paints, and when, now that it asks Python less: cells answered in one call, repaints only for changes on screen, quiet appends below it."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QEvent, QModelRoleData, QModelRoleDataSpan, QObject, QRect, Qt

from cpq_sync_gui.ui.record_models import ID_ROLE, ROW_ROLE
from cpq_sync_gui.ui.record_rows import ZuoraState, ZuoraStatus
from tests.helpers.records import open_browser

pytestmark = pytest.mark.usefixtures("ca_bundle_points_elsewhere")

ROLES = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.CheckStateRole,
    Qt.ItemDataRole.TextAlignmentRole,
    Qt.ItemDataRole.ForegroundRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.AccessibleTextRole,
    Qt.ItemDataRole.FontRole,
    ROW_ROLE,
    ID_ROLE,
)


class PaintLog(QObject):
    """The regions the table's viewport was asked to paint."""

    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())
        return False


def multi_data(model, index, role):
    role_data = QModelRoleData(int(role))
    model.multiData(index, QModelRoleDataSpan(role_data))
    return role_data.data()


def test_a_cell_answers_every_role_in_one_call_as_data_does(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox)
    model, proxy = browser.model, browser.proxy
    model.set_selected([model.row_at(1).id])
    for row in range(3):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            proxy_index = proxy.mapFromSource(index)
            for role in ROLES:
                expected = model.data(index, role)
                assert multi_data(model, index, role) == expected, (row, column, role)
                assert multi_data(proxy, proxy_index, role) == expected, (row, column, role)
    assert model.index(model.rowCount(), 1).isValid() is False  # past the end: no index
    assert model.index(0, model.columnCount()).isValid() is False


def test_status_changes_repaint_what_is_on_screen_only(qtbot, make_sandbox):
    browser = open_browser(qtbot, make_sandbox(accounts=2000, orders=0), zuora=False)
    table, model = browser.table, browser.model
    log = PaintLog()
    table.viewport().installEventFilter(log)
    column = model.kind.column_index("zuora")
    last = model.rowCount() - 1
    assert table.rowAt(table.viewport().height() - 1) < last  # the last row is off screen
    status = ZuoraStatus(ZuoraState.IN_ZUORA, account_number="A00000042")

    qtbot.wait(50)
    log.rects.clear()
    off_screen = range(1000, last + 1)  # one dataChanged range, all of it off screen
    model.set_statuses({model.row_at(r).zuora_key: status for r in off_screen})
    qtbot.wait(50)
    assert log.rects == []

    first_cell = table.visualRect(browser.proxy.mapFromSource(model.index(0, column)))
    model.set_statuses({model.row_at(r).zuora_key: status for r in (0, last - 1)})
    qtbot.waitUntil(lambda: any(rect.intersects(first_cell) for rect in log.rects))
    assert model.index(0, column).data() == "In Zuora (A00000042)"
    table.scrollToBottom()
    qtbot.wait(50)
    assert model.index(last, column).data() == "In Zuora (A00000042)"


def test_rows_appended_below_the_screen_can_be_scrolled_to(qtbot, make_sandbox):
    sandbox = make_sandbox(accounts=700, orders=0)
    browser = open_browser(qtbot, sandbox, batch_size=200)  # 4 pages: appends out of sight
    table, proxy = browser.table, browser.proxy
    assert proxy.rowCount() == 700
    table.scrollToBottom()
    qtbot.waitUntil(lambda: table.rowAt(table.viewport().height() - 1) == 699)
    bar = table.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0
    table.scrollToTop()
    qtbot.waitUntil(lambda: table.rowAt(0) == 0)


def test_loaded_rows_leave_the_collectors_full_passes(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox)
    qtbot.waitUntil(lambda: not browser._freeze_timer.isActive())
    qtbot.wait(400)  # any freeze still pending after the last rows
    tracked = {id(o) for o in gc.get_objects()}  # the frozen generation is not listed
    assert browser.model.rowCount() == 40
    assert not any(id(row) in tracked for row in browser.model.rows())


def test_rows_arrive_already_marked_checking_when_zuora_is_connected(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox, load=False)
    model = browser.model
    states_on_arrival: list[ZuoraState] = []
    model.rowsInserted.connect(
        lambda _parent, first, last: states_on_arrival.extend(
            model.row_at(r).zuora.state for r in range(first, last + 1)
        )
    )
    browser.search()
    qtbot.waitUntil(lambda: not browser.busy(), timeout=60000)
    assert len(states_on_arrival) == model.rowCount() == 40
    assert ZuoraState.UNKNOWN not in states_on_arrival  # never "—" before the check
    assert set(model.count_by_state()) <= {ZuoraState.IN_ZUORA, ZuoraState.NOT_IN_ZUORA}


def test_the_proxy_shows_the_source_rows_before_during_and_after_a_filter(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox)
    model, proxy = browser.model, browser.proxy
    name = model.kind.column_index("name")

    def shown_names() -> list[str]:
        return [
            multi_data(proxy, proxy.index(r, name), Qt.ItemDataRole.DisplayRole)
            for r in range(proxy.rowCount())
        ]

    def source_names(rows) -> list[str]:
        return [model.index(r, name).data() for r in rows]

    proxy.sort(name, Qt.SortOrder.DescendingOrder)  # the source sorts; the proxy follows
    assert shown_names() == source_names(range(model.rowCount()))
    needle = model.row_at(3).name[:4].lower()
    proxy.set_quick_filter(needle)
    kept = [r for r in range(model.rowCount()) if needle in model.row_at(r).name.lower()]
    assert 0 < len(kept) < model.rowCount()
    assert shown_names() == source_names(kept)
    proxy.set_quick_filter("")
    assert shown_names() == source_names(range(model.rowCount()))
    for column in range(model.columnCount()):
        index = proxy.index(0, column)
        assert proxy.flags(index) == model.flags(proxy.mapToSource(index))
        for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            expected = model.headerData(column, Qt.Orientation.Horizontal, role)
            assert proxy.headerData(column, Qt.Orientation.Horizontal, role) == expected


def test_new_progress_texts_repaint_the_label_not_the_tab_and_are_never_cut(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox)
    label = browser.progress_label
    watched = (browser, browser.filter_bar, label, browser.select_shown_button)
    logs = {widget: PaintLog() for widget in watched}
    for widget, log in logs.items():
        widget.installEventFilter(log)
    label.setText("1,000,000 of 1,000,000 loaded")  # may grow the label: one new layout
    qtbot.wait(50)
    for log in logs.values():
        log.rects.clear()
    width = label.width()

    label.setText("2,000 of 1,000,000 loaded")  # shorter: the label keeps its room
    qtbot.waitUntil(lambda: bool(logs[label].rects))
    qtbot.wait(50)
    assert label.width() == width
    assert {w for w, log in logs.items() if log.rects} <= {label, browser}
    assert all(  # the page behind the label, nothing else of it
        label.geometry().contains(rect) for rect in logs[browser].rects
    )

    longer = "Cancelled: 2,000 of 1,000,000 loaded — cancelling…"
    label.setText(longer)  # longer: the label grows to show all of it
    qtbot.waitUntil(lambda: label.width() > width)
    assert label.width() >= label.fontMetrics().horizontalAdvance(longer)
    label.setText("Not loaded")
    label.fit()  # a new search gives the room back
    qtbot.waitUntil(lambda: label.width() < width)
    assert label.width() >= label.fontMetrics().horizontalAdvance("Not loaded")


def test_starting_and_ending_a_load_moves_nothing_in_the_tab(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox)
    table_rect = browser.table.geometry()
    browser.show_progress(True)
    qtbot.waitUntil(browser.progress_bar.isVisible)
    qtbot.wait(50)
    assert browser.table.geometry() == table_rect
    browser.show_progress(False)
    qtbot.waitUntil(lambda: not browser.progress_bar.isVisible())
    qtbot.wait(50)
    assert browser.table.geometry() == table_rect
