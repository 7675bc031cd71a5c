"""The main window: active connection, Accounts and Orders tabs, and the log pane."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QTableView,
    QTabWidget,
    QToolBar,
)

from cpq_sync_gui.ui.log_pane import LogPane


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("CPQ Sync")
        self.resize(1200, 760)

        self.connection_label = QLabel("No connection selected")
        self.connection_label.setObjectName("connectionLabel")
        self.connection_label.setAccessibleName("Active connection")

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(self.connection_label)
        self.addToolBar(toolbar)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("recordTabs")
        self.accounts_view = QTableView(self)
        self.accounts_view.setObjectName("accountsTable")
        self.accounts_view.setAccessibleName("Accounts")
        self.orders_view = QTableView(self)
        self.orders_view.setObjectName("ordersTable")
        self.orders_view.setAccessibleName("Orders")
        self.tabs.addTab(self.accounts_view, "Accounts")
        self.tabs.addTab(self.orders_view, "Orders")
        self.setCentralWidget(self.tabs)

        self.log_pane = LogPane(self)
        log_dock = QDockWidget("Log", self)
        log_dock.setObjectName("logDock")
        log_dock.setWidget(self.log_pane)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, log_dock)

        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.menuBar().addMenu("&File").addAction(quit_action)

        self.statusBar().showMessage("Ready")
