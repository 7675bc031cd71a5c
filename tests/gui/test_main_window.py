"""The main window opens with its tabs, tables and log pane in place."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit, QTableView, QTabWidget

from cpq_sync_gui.ui.main_window import MainWindow


def test_main_window_has_accounts_and_orders_tabs_and_a_log(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)

    tabs = window.findChild(QTabWidget, "recordTabs")
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Accounts", "Orders"]
    assert window.findChild(QTableView, "accountsTable") is not None
    assert window.findChild(QTableView, "ordersTable") is not None
    log = window.findChild(QPlainTextEdit, "logView")
    assert log is not None
    assert log.isReadOnly()
