"""Puts runs into the main window: the Run dock, "Sync selected (N)", the Runs menu, the log file,
the start-up offer to resume, and a close that asks first during a run, then cancels cleanly.

``MainWindow`` calls :func:`install_sync` once; everything else lives here and in
:mod:`cpq_sync_gui.ui.sync_controller`, so the window's own file only gains two lines.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QToolBar

from cpq_sync_gui.ui.jobs import Job
from cpq_sync_gui.ui.run_bridge import install_log_file
from cpq_sync_gui.ui.run_panel import RunPanel
from cpq_sync_gui.ui.sync_controller import SyncController

__all__ = ["SyncWindow", "install_sync"]


class SyncWindow(QObject):
    """The window's side of runs: actions, dock, close guard and start-up offer."""

    def __init__(self, window: QMainWindow, controller: SyncController, dock: QDockWidget) -> None:
        super().__init__(window)
        self.window = window
        self.controller = controller
        self.panel = controller.panel
        self.dock = dock
        self.closing = False  # the admin chose "stop the run and close"
        self.close_question: QMessageBox | None = None
        self.resume_offer: Any = None
        self.history: Any = None
        self._browsers: set[int] = set()
        install_log_file()

        self.sync_action = QAction("Sync selected", self)
        self.sync_action.setObjectName("syncSelectedAction")
        self.sync_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.sync_action.setToolTip(
            "Plan a sync of the selected records, then run it (Ctrl+Shift+S)"
        )
        self.sync_action.triggered.connect(lambda: self.sync_selected())
        self.dry_run_action = QAction("Dry run…", self)
        self.dry_run_action.setObjectName("dryRunAction")
        self.dry_run_action.setToolTip(
            "Plan the selected records and show every payload; send nothing"
        )
        self.dry_run_action.triggered.connect(lambda: self.sync_selected(dry_run=True))
        self.history_action = QAction("Run &history…", self)
        self.history_action.setObjectName("runHistoryAction")
        self.history_action.triggered.connect(self.open_history)
        self.export_action = QAction("&Export results…", self)
        self.export_action.setObjectName("exportResultsAction")
        self.export_action.triggered.connect(lambda: controller.export_results())
        self.cancel_action = QAction("&Cancel the run", self)
        self.cancel_action.setObjectName("cancelRunAction")
        self.cancel_action.triggered.connect(controller.cancel)

        toolbar = window.findChild(QToolBar, "mainToolbar")
        if toolbar is not None:
            toolbar.addSeparator()
            toolbar.addAction(self.sync_action)
            toolbar.addAction(self.dry_run_action)
        menu = window.menuBar().addMenu("&Runs")
        menu.setObjectName("runsMenu")
        for action in (self.sync_action, self.dry_run_action, None, self.history_action,
                       self.export_action, self.cancel_action):  # fmt: skip
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)

        window.installEventFilter(self)
        controller.run_started.connect(self._update_actions)
        controller.run_finished.connect(self._run_finished)
        changed = getattr(window, "active_profile_changed", None)
        if changed is not None:
            changed.connect(controller.forget_connections)
        tabs = getattr(window, "tabs", None)
        if tabs is not None:
            tabs.currentChanged.connect(lambda _i: self._update_actions())
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._update_actions()

    # --- "Sync selected (N)" -------------------------------------------------------------

    def browsers(self) -> list[Any]:
        from cpq_sync_gui.ui.record_browser import RecordBrowser

        found = self.window.findChildren(RecordBrowser)
        for browser in found:
            if id(browser) not in self._browsers:
                self._browsers.add(id(browser))
                browser.model.selection_changed.connect(lambda _n: self._update_actions())
        return found

    def current_browser(self) -> Any:
        browsers = self.browsers()
        tabs = getattr(self.window, "tabs", None)
        current = tabs.currentWidget() if tabs is not None else None
        for browser in browsers:
            if current is not None and (browser is current or current.isAncestorOf(browser)):
                return browser
        return browsers[0] if len(browsers) == 1 else None

    def sync_selected(self, *, dry_run: bool = False) -> Job | None:
        browser = self.current_browser()
        if browser is None:
            self.panel.show_message("Open the Accounts or Orders tab and select records first.")
            return None
        model = browser.model
        loaded = [row.id for row in model.rows() if model.is_selected(row.id)]
        rest = sorted(model.selected_ids() - set(loaded))
        self.dock.show()
        job = self.controller.sync_selected(browser.kind.plural, loaded + rest, dry_run=dry_run)
        if job is not None:
            job.finished.connect(self._update_actions)
        self._update_actions()
        return job

    def _update_actions(self) -> None:
        browser = self.current_browser()
        count = browser.model.selected_count() if browser is not None else 0
        idle = not self.controller.busy
        self.sync_action.setText(f"Sync selected ({count:,})")
        self.sync_action.setEnabled(idle and count > 0)
        self.dry_run_action.setEnabled(idle and count > 0)
        self.cancel_action.setEnabled(self.controller.running)
        self.history_action.setEnabled(True)

    def _run_finished(self, _result: Any) -> None:
        self._update_actions()
        if self.closing:
            QTimer.singleShot(0, self.window.close)
            return
        # A moment later, in its own turn of the event loop: the run's last batch and summary
        # are painted first (2,000 rows to queue for a Zuora check is not nothing).
        QTimer.singleShot(250, self._refresh_zuora_column)

    def _refresh_zuora_column(self) -> None:
        """Records the run put into Zuora: the tabs read their Zuora status again."""
        if self.closing or not self.window.isVisible():
            return  # the window is going: start nothing new
        from cpq_sync_gui.sync.events import SUCCESS_STATES

        done = {r.record_id for r in self.panel.model.rows() if r.state in SUCCESS_STATES}
        for browser in self.browsers():
            rows = [row for i in done if (row := browser.model.row_by_id(i)) is not None]
            if rows:
                browser.check_in_zuora(rows)

    # --- history and resume ---------------------------------------------------------------

    def open_history(self) -> Any:
        from cpq_sync_gui.ui.run_history import RunHistoryDialog

        if self.history is None:
            self.history = RunHistoryDialog(self.controller, self.window)
            self.history.finished.connect(self._history_closed)
            self.history.show()
        else:
            self.history.raise_()
            self.history.activateWindow()
        return self.history

    def _history_closed(self, _result: int) -> None:
        dialog, self.history = self.history, None
        if dialog is not None:
            dialog.deleteLater()
        self.dock.show()

    def offer_interrupted_runs(self) -> Job:
        """At start-up: look in the journal (off the GUI thread) and offer to resume."""
        from cpq_sync_gui.ui.run_history import ResumeOffer, find_interrupted

        path = self.controller.journal_path

        def offer(summaries: list[Any]) -> None:
            if not summaries or self.controller.busy or self.closing:
                return
            box = ResumeOffer(summaries, self.window)
            box.finished.connect(lambda _r: self._offer_answered(box))
            self.resume_offer = box
            box.open()

        job = self.controller.job("resume-check", lambda _ctx: find_interrupted(path))
        job.succeeded.connect(offer)
        job.failed.connect(lambda message, _d: self.controller.say("ERROR", message))
        return job.start()

    def _offer_answered(self, box: Any) -> None:
        self.resume_offer = None
        if box.clickedButton() is box.resume_button:
            self.dock.show()
            self.controller.resume(box.run)
        box.deleteLater()

    # --- closing ----------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            if self.controller.running:
                event.ignore()
                if not self.closing and self.close_question is None:
                    self._ask_to_close()
                return True
            self.shutdown()  # short jobs (history, export) end before the window goes
        return False

    def _ask_to_close(self) -> None:
        box = QMessageBox(self.window)
        box.setObjectName("closeDuringRun")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("A run is in progress")
        box.setText("A sync run is still going. Stop it and close CPQ Sync?")
        box.setInformativeText(
            "Stopping sends nothing new; requests already on their way finish and the rest "
            "become Cancelled. The window closes when the run has stopped."
        )
        stop = box.addButton("Stop the run and close", QMessageBox.ButtonRole.DestructiveRole)
        stop.setObjectName("closeDuringRunStop")
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        keep.setObjectName("closeDuringRunKeep")
        box.setDefaultButton(keep)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(_result: int) -> None:
            self.close_question = None
            if box.clickedButton() is stop and self.controller.running:
                self.closing = True
                self.controller.cancel()
                self.panel.show_message("Stopping the run; the window closes when it has stopped.")
            box.deleteLater()

        box.finished.connect(answered)
        self.close_question = box
        box.open()

    def shutdown(self) -> None:
        """Cancel and wait for every thread of ours (window closing, app quitting)."""
        self.controller.shutdown()


def install_sync(window: QMainWindow) -> SyncWindow:
    """Add the Run dock, actions and menu to the main window; returns the wiring."""
    panel = RunPanel(window)
    dock = QDockWidget("Run", window)
    dock.setObjectName("runDock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    log_dock = window.findChild(QDockWidget, "logDock")
    if log_dock is not None:
        window.splitDockWidget(log_dock, dock, Qt.Orientation.Horizontal)
    controller = SyncController(window, panel)
    return SyncWindow(window, controller, dock)
