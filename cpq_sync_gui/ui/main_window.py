"""The main window: active connection, Accounts and Orders tabs, and the log pane."""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTableView,
    QTabWidget,
    QToolBar,
)

from cpq_sync_gui.settings import Profile, ProfileStore, SettingsFileError
from cpq_sync_gui.ui.jobs import Job
from cpq_sync_gui.ui.log_pane import LogPane
from cpq_sync_gui.ui.profile_badge import ProfileBadge, badge_text
from cpq_sync_gui.ui.record_tabs import install_record_tabs
from cpq_sync_gui.ui.sync_window import install_sync

if TYPE_CHECKING:
    from cpq_sync_gui.connections import SessionSecrets
    from cpq_sync_gui.demo import DemoSession
    from cpq_sync_gui.sandbox.sandbox import Sandbox


class MainWindow(QMainWindow):
    active_profile_changed = Signal(object)  # the active Profile, or None

    def __init__(
        self, store: ProfileStore | None = None, secrets: SessionSecrets | None = None
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("CPQ Sync")
        self.resize(1200, 760)
        self.secrets = secrets
        self.demo: DemoSession | None = None
        self.demo_job: Job | None = None
        self.connections_dialog = None

        self.connection_label = QLabel("No connection selected")
        self.connection_label.setObjectName("connectionLabel")
        self.connection_label.setAccessibleName("Active connection")

        self.profile_badge = ProfileBadge(self)
        self.profile_badge.profile_chosen.connect(self.set_active_profile)
        self.connections_action = QAction("&Connections…", self)
        self.connections_action.setObjectName("connectionsAction")
        self.connections_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.connections_action.setToolTip("Create, edit, test and delete connection profiles")
        self.connections_action.triggered.connect(self.open_connections)

        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(self.profile_badge)
        toolbar.addWidget(self.connection_label)
        toolbar.addSeparator()
        toolbar.addAction(self.connections_action)
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
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.connections_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        # "Send to Zuora" buttons of the active profile's org (ui/buttons_panel.py).
        self.buttons_action = QAction("Send to Zuora &buttons…", self)
        self.buttons_action.setObjectName("buttonsAction")
        self.buttons_action.setToolTip(
            'Check, create or fix the "Send to Zuora" buttons in Salesforce'
        )
        self.buttons_action.triggered.connect(self.open_buttons_panel)
        self.menuBar().addMenu("&Salesforce").addAction(self.buttons_action)

        self.secrets_status = QLabel(self)
        self.secrets_status.setObjectName("secretsStatus")
        self.statusBar().addPermanentWidget(self.secrets_status)
        self.statusBar().showMessage("Ready")

        self.profile_store = store if store is not None else self._load_profiles()
        self.refresh_profiles()
        self.show_secrets_status()
        self.records = install_record_tabs(self)  # Accounts / Orders browsers (record_tabs.py)
        self.sync = install_sync(self)  # Run dock, "Sync selected (N)", Runs menu (sync_window.py)

    # --- profiles -------------------------------------------------------------------------

    def _load_profiles(self) -> ProfileStore:
        store = ProfileStore()
        try:
            store.load()
        except SettingsFileError as exc:
            # The file is left as it is; saving later backs it up before writing a new one.
            self.log_pane.add("ERROR", str(exc))
            self.statusBar().showMessage("The connection profiles could not be loaded: see the log")
        return store

    @property
    def active_profile(self) -> Profile | None:
        return self.profile_store.active

    def refresh_profiles(self) -> None:
        """Show the store's profiles and the active one in the toolbar."""
        active = self.profile_store.active
        self.profile_badge.set_profiles(
            self.profile_store.profiles, active.name if active is not None else None
        )
        self._show_active(active)

    def _show_active(self, profile: Profile | None) -> None:
        if profile is None:
            self.connection_label.setText("No connection selected")
        else:
            self.connection_label.setText(
                f"Salesforce {profile.salesforce.login_url()} · Zuora "
                f"{profile.zuora.environment_label}"
            )
        self.setWindowTitle(f"CPQ Sync — {profile.name}" if profile else "CPQ Sync")

    @Slot(str)
    def set_active_profile(self, name: str) -> None:
        """Make ``name`` the active profile, remember it, and say so in the log."""
        if name not in self.profile_store:
            return
        self.profile_store.set_active(name)
        try:
            self.profile_store.save()
        except (OSError, ValueError) as exc:
            self.log_pane.add("ERROR", f"The active profile could not be remembered: {exc}")
        profile = self.profile_store.active
        self.refresh_profiles()
        if profile is not None:
            self.log_pane.add("INFO", f"Active profile: {profile.name} ({badge_text(profile)})")
        self.active_profile_changed.emit(profile)

    # --- secrets --------------------------------------------------------------------------

    def ensure_secrets(self) -> SessionSecrets | None:
        """The app's secret store; the first time without a keyring, ask about session-only."""
        if self.secrets is None:
            from cpq_sync_gui.ui.connections_dialog import open_app_secrets

            self.secrets = open_app_secrets(self)
            self.show_secrets_status()
        return self.secrets

    def show_secrets_status(self) -> None:
        secrets = self.secrets
        if secrets is None:
            self.secrets_status.setText("")
        elif secrets.memory_only:
            self.secrets_status.setText("Secrets: this session only (no password store)")
            self.secrets_status.setStyleSheet("color: #c77c02; font-weight: bold;")
            self.secrets_status.setToolTip(secrets.unavailable_reason or "")
        else:
            self.secrets_status.setText(f"Secrets: {secrets.backend_name}")
            self.secrets_status.setStyleSheet("")

    @Slot()
    def open_buttons_panel(self) -> None:
        from cpq_sync_gui.ui.buttons_panel import open_buttons_panel

        open_buttons_panel(self)

    @Slot()
    def open_connections(self) -> None:
        """Open the Connections dialog (modeless; one at a time)."""
        secrets = self.ensure_secrets()
        if secrets is None:
            QMessageBox.information(
                self,
                "Connections",
                "Connections need somewhere to keep their secrets. Restart CPQ Sync and choose "
                "to keep them for this session only, or set up the computer's password store.",
            )
            return
        from cpq_sync_gui.ui.connections_dialog import ConnectionsDialog

        if self.connections_dialog is None:
            active = self.profile_store.active
            dialog = ConnectionsDialog(
                self.profile_store, secrets, self, select=active.name if active else None
            )
            dialog.profiles_changed.connect(self._on_profiles_changed)
            dialog.finished.connect(self._on_connections_closed)
            self.connections_dialog = dialog
        self.connections_dialog.show()
        self.connections_dialog.raise_()
        self.connections_dialog.activateWindow()

    @Slot()
    def _on_profiles_changed(self) -> None:
        if self.profile_store.active is None and len(self.profile_store.profiles) == 1:
            self.set_active_profile(self.profile_store.profiles[0].name)
            return
        self.refresh_profiles()
        self.active_profile_changed.emit(self.profile_store.active)

    @Slot()
    def _on_connections_closed(self) -> None:
        dialog, self.connections_dialog = self.connections_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    # --- demo -----------------------------------------------------------------------------

    def start_demo(self) -> Job | None:
        """Start the built-in sandbox in the background, then make "Demo sandbox" active."""
        secrets = self.ensure_secrets()
        if secrets is None or (self.demo_job is not None and self.demo_job.running):
            return None
        from cpq_sync_gui.demo import start_demo_sandbox

        self.log_pane.add("INFO", "Starting the demo sandbox (a simulated org and tenant)…")
        self.statusBar().showMessage("Starting the demo sandbox…")
        job = Job(
            "demo-sandbox", lambda _context: start_demo_sandbox(), QCoreApplication.instance()
        )
        job.succeeded.connect(self._on_demo_started)
        job.failed.connect(self._on_demo_failed)
        self.demo_job = job
        return job.start()

    @Slot(object)
    def _on_demo_started(self, sandbox: Sandbox) -> None:
        from cpq_sync_gui.demo import install_demo_profile

        assert self.secrets is not None
        try:
            self.demo = install_demo_profile(self.profile_store, self.secrets, sandbox)
        except (
            Exception
        ) as exc:  # a broken profiles file, a read-only disk: say it, stop the servers
            sandbox.stop()
            self._on_demo_failed(f"The demo profile could not be set up: {exc}", "")
            return
        self.refresh_profiles()
        self.log_pane.add("INFO", self.demo.describe())
        self.statusBar().showMessage("Demo sandbox ready", 5000)
        self.active_profile_changed.emit(self.profile_store.active)

    @Slot(str, str)
    def _on_demo_failed(self, message: str, details: str) -> None:
        self.log_pane.add("ERROR", f"The demo sandbox did not start: {message}")
        self.statusBar().showMessage("The demo sandbox did not start: see the log")

    def shutdown(self) -> None:
        """Stop background services this window started (the demo sandbox, running jobs)."""
        # A QThread destroyed while running aborts the process: jobs still running when the
        # window goes are cancelled, cut off from the widgets that would show their results,
        # and handed to the application, which outlives the window.
        app = QCoreApplication.instance()
        for job in self.findChildren(Job):
            if job.running:
                job.cancel()
                for signal in (job.events, job.succeeded, job.failed, job.finished):
                    with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
                        warnings.simplefilter("ignore")  # "nothing was connected" is fine
                        signal.disconnect()
                if app is not None:
                    job.setParent(app)
        if self.demo is not None:
            self.demo.stop()
            self.demo = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
