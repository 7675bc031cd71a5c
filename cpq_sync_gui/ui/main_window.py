"""The main window: active connection, Accounts and Orders tabs, and the log pane."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
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

from cpq_sync_gui.ui.jobs import Job, JobContext
from cpq_sync_gui.ui.log_pane import LogPane
from cpq_sync_gui.ui.profile_badge import ProfileBadge, badge_text
from cpq_sync_gui.ui.record_tabs import install_record_tabs
from cpq_sync_gui.ui.sync_window import install_sync

if TYPE_CHECKING:
    from cpq_sync_gui.demo import DemoSession
    from cpq_sync_gui.sandbox.sandbox import Sandbox
    from cpq_sync_gui.secrets import SecretStorageUnavailable, SessionSecrets
    from cpq_sync_gui.settings import Profile, ProfileStore


@dataclass
class OpenedStores:
    """What the start-up job found: the profiles and the password store (see load_in_background)."""

    profiles: ProfileStore
    profiles_error: str | None  # the profiles file could not be read (left as it is)
    secrets: SessionSecrets | None  # the OS password store, or None when there is none
    problem: SecretStorageUnavailable | None  # why there is none
    memory_only: SessionSecrets  # what to use instead once the admin agrees


def open_stores(_context: JobContext) -> OpenedStores:
    """Read the profiles and choose the password store (off the GUI thread: pydantic's models,
    the settings file and keyring's scan of its backends take a noticeable time). The store is
    chosen on a second thread meanwhile: keyring spends part of its time waiting on D-Bus."""
    from concurrent.futures import ThreadPoolExecutor

    # Imported here first, one after the other: two threads importing packages that share
    # dependencies at the same time can see a partly initialised module (importlib's deadlock
    # avoidance), which failed the start-up now and then on a busy machine.
    import cpq_sync_gui.secrets  # noqa: F401  (keyring)
    from cpq_sync_gui.settings import ProfileStore, SettingsFileError

    with ThreadPoolExecutor(1, thread_name_prefix="startup-keyring") as pool:
        chosen = pool.submit(choose_secret_store)
        profiles, profiles_error = ProfileStore(), None
        try:
            profiles.load()
        except SettingsFileError as exc:
            profiles_error = str(exc)
        secrets, problem, memory_only = chosen.result()
    return OpenedStores(profiles, profiles_error, secrets, problem, memory_only)


def choose_secret_store() -> tuple[
    SessionSecrets | None, SecretStorageUnavailable | None, SessionSecrets
]:
    """The OS password store (or None and why there is none), and what to use without one."""
    from cpq_sync_gui.secrets import SecretStorageUnavailable, SecretStore, SessionSecrets

    try:
        secrets = SessionSecrets(SecretStore())
    except SecretStorageUnavailable as problem:
        return None, problem, SessionSecrets(SecretStore(allow_memory_only=True))
    return secrets, None, secrets


def start_demo_sandbox(_context: JobContext) -> Sandbox:
    """The demo sandbox, started off the GUI thread (importing it loads the network stack)."""
    from cpq_sync_gui.demo import start_demo_sandbox as start

    return start()


class MainWindow(QMainWindow):
    """With ``load_later``, the window paints before the profiles and the password store are
    read: :meth:`load_in_background` reads them, then ``ready`` fires (False: the admin chose to
    quit rather than keep secrets for this session only)."""

    active_profile_changed = Signal(object)  # the active Profile, or None
    ready = Signal(bool)

    def __init__(
        self,
        store: ProfileStore | None = None,
        secrets: SessionSecrets | None = None,
        *,
        load_later: bool = False,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("CPQ Sync")
        self.resize(1200, 760)
        self.secrets = secrets
        self.demo: DemoSession | None = None
        self.demo_job: Job | None = None
        self.connections_dialog = None
        self.shut_down = False

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

        self.profile_store: ProfileStore | None = None
        self.is_ready = not load_later
        if load_later:
            self.profile_badge.show_loading()
            self.statusBar().showMessage("Reading the connection profiles…")
        else:
            self.profile_store = store if store is not None else self._load_profiles()
            self.refresh_profiles()
        self.show_secrets_status()
        self.records = install_record_tabs(self)  # Accounts / Orders browsers (record_tabs.py)
        self.sync = install_sync(self)  # Run dock, "Sync selected (N)", Runs menu (sync_window.py)

    # --- profiles -------------------------------------------------------------------------

    def _load_profiles(self) -> ProfileStore:
        from cpq_sync_gui.settings import ProfileStore, SettingsFileError

        store = ProfileStore()
        try:
            store.load()
        except SettingsFileError as exc:
            self._profiles_not_loaded(str(exc))
        return store

    def _profiles_not_loaded(self, message: str) -> None:
        # The file is left as it is; saving later backs it up before writing a new one.
        self.log_pane.add("ERROR", message)
        self.statusBar().showMessage("The connection profiles could not be loaded: see the log")

    def load_in_background(self, *, ask: bool = True) -> Job:
        """Read the profiles and choose the password store off the GUI thread, then fire
        ``ready``. Without a secure store, ``ask`` asks once whether to keep secrets for this
        session only (else that is what happens, as for the demo and unattended runs)."""
        job = Job("startup", open_stores, self)
        job.succeeded.connect(lambda opened: self._stores_opened(opened, ask))
        job.failed.connect(self._stores_failed)
        return job.start()

    def _stores_opened(self, opened: OpenedStores, ask: bool) -> None:
        if self.secrets is None:  # not already opened by an early click on Connections…
            secrets = opened.secrets
            if secrets is None and opened.problem is not None and ask:
                from cpq_sync_gui.ui.connections_dialog import ask_memory_only

                if not ask_memory_only(self, opened.problem):
                    self.ready.emit(False)
                    return
            self.secrets = secrets if secrets is not None else opened.memory_only
            self.show_secrets_status()
        if opened.profiles_error is not None:
            self._profiles_not_loaded(opened.profiles_error)
        else:
            self.statusBar().showMessage("Ready")
        self._profiles_loaded(opened.profiles)

    @Slot(str, str)
    def _stores_failed(self, message: str, _details: str) -> None:
        self.log_pane.add("ERROR", f"Start-up: {message}")
        self._profiles_loaded(self._load_profiles())

    def _profiles_loaded(self, store: ProfileStore) -> None:
        self.profile_store = store
        self.is_ready = True
        self.refresh_profiles()
        if store.active is not None:  # the record tabs list the remembered profile's records
            self.active_profile_changed.emit(store.active)
        self.ready.emit(True)

    @property
    def active_profile(self) -> Profile | None:
        return self.profile_store.active if self.profile_store is not None else None

    def refresh_profiles(self) -> None:
        """Show the store's profiles and the active one in the toolbar."""
        if self.profile_store is None:
            return  # still loading (the badge says so)
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
        if self.profile_store is None or name not in self.profile_store:
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
        if self.profile_store is None:
            self.statusBar().showMessage("Still reading the connection profiles: try again", 3000)
            return
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
        if (
            secrets is None
            or self.profile_store is None
            or (self.demo_job is not None and self.demo_job.running)
        ):
            return None
        self.log_pane.add("INFO", "Starting the demo sandbox (a simulated org and tenant)…")
        self.statusBar().showMessage("Starting the demo sandbox…")
        job = Job("demo-sandbox", start_demo_sandbox, QCoreApplication.instance())
        job.succeeded.connect(self._on_demo_started)
        job.failed.connect(self._on_demo_failed)
        self.demo_job = job
        return job.start()

    @Slot(object)
    def _on_demo_started(self, sandbox: Sandbox) -> None:
        from cpq_sync_gui.demo import install_demo_profile

        if self.shut_down:  # the window closed while the sandbox was starting
            sandbox.stop()
            return
        assert self.secrets is not None
        assert self.profile_store is not None
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
        self.shut_down = True
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
