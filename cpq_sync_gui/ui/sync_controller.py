"""Owns sync runs in the window: plan (a Job) → plan dialog → run (a Job) → live panel, tables and log.

How events reach the widgets: the runner's threads call :class:`RunSubscriber.on_event`, which
turns each event into plain rows and log lines (redacted there, off the GUI thread), writes
outcome lines to the log file, and queues everything with ``JobContext.report``. The Job
hands the queue to the GUI thread every 100 ms as one list; :meth:`SyncController._on_events`
keeps only the latest state per record and the latest progress, then updates the run panel,
the record tables and the log pane once per batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow

from cpq_sync_gui.redact import redact
from cpq_sync_gui.sync.events import Progress, RecordState, RunStarted
from cpq_sync_gui.sync.throttle import DEFAULT_CONCURRENCY, RetryPolicy
from cpq_sync_gui.sync_export import default_base_name, export_rows, write_results
from cpq_sync_gui.ui.jobs import Job, JobContext
from cpq_sync_gui.ui.run_bridge import (
    PaneLine,
    RunConnections,
    RunHandle,
    RunSubscriber,
    ShownRun,
    Snapshot,
    hold_gc,
    open_run_connections,
    planner_for,
    release_gc,
    rows_of,
    run_target,
    summary_text,
)
from cpq_sync_gui.ui.run_panel import RETRY_STATES, RunNotifier, RunPanel
from cpq_sync_gui.ui.run_rows import RunRow

if TYPE_CHECKING:
    from cpq_sync_gui.sync import PlanOptions, RunJournal, SyncPlan, SyncRunner
    from cpq_sync_gui.ui.plan_dialog import PlanDialog, RunRequest

__all__ = ["LONG_RUN_S", "SyncController"]

log = logging.getLogger("cpq_sync_gui.ui.sync")
LONG_RUN_S = 30.0  # a run longer than this ends with a system notification (window inactive)
START_DELAY_MS = 50


class SyncController(QObject):
    """Plans, runs, cancels, retries, resumes and exports runs for one main window."""

    run_started = Signal()
    run_finished = Signal(object)  # the RunResult, or None when the run could not run

    def __init__(
        self,
        window: QMainWindow,
        panel: RunPanel,
        *,
        connect: Callable[[Any, Any], RunConnections] = open_run_connections,
        journal_path: Path | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.panel = panel
        self.connect = connect
        self.journal_path = journal_path
        self.retry_policy = RetryPolicy()
        self.notify_after_s = LONG_RUN_S
        self.notifier = RunNotifier(window)
        self.overlays: dict[str, Any] = {}  # record kind -> RunStatusOverlay (record tables)
        self.plan_dialog: PlanDialog | None = None
        self.shown: ShownRun | None = None
        self.run_job: Job | None = None
        self._handle: RunHandle | None = None
        self._connections: dict[str, RunConnections] = {}
        self._jobs: set[Job] = set()
        self._started = 0.0
        self._planning = False
        panel.cancel_requested.connect(self.cancel)
        panel.retry_requested.connect(self.retry_failed)
        panel.export_requested.connect(lambda: self.export_results())

    # --- state ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """From the moment a run is started until its last event is shown."""
        return self.run_job is not None

    @property
    def busy(self) -> bool:
        return self.running or self._planning

    def forget_connections(self, *_: Any) -> None:
        """The active profile changed: log in again next time."""
        for connections in self._connections.values():
            connections.close()
        self._connections.clear()

    def say(self, level: str, message: str) -> None:
        message = redact(message)
        self.window.log_pane.add(level, message)  # type: ignore[attr-defined]
        log.log(logging.getLevelName(level), message)

    def job(self, name: str, function: Callable[[JobContext], Any]) -> Job:
        job = Job(name, function, self)
        self._jobs.add(job)

        def done() -> None:
            self._jobs.discard(job)
            job.deleteLater()

        job.finished.connect(done)
        return job

    def _profile_and_secrets(self, name: str | None = None) -> tuple[Any, Any] | None:
        store = self.window.profile_store  # type: ignore[attr-defined]
        profile = store.active if name is None else (store.get(name) if name in store else None)
        if profile is None:
            missing = (
                "Choose a connection profile first."
                if name is None
                else (
                    f"The profile “{name}” of this run no longer exists: recreate it to continue."
                )
            )
            self.panel.show_message(missing, "ERROR")
            self.say("ERROR", missing)
            return None
        secrets = self.window.ensure_secrets()  # type: ignore[attr-defined]
        if secrets is None:
            return None
        return profile, secrets

    def _connections_for(self, profile: Any, secrets: Any) -> RunConnections:
        """Called in a Job: reuse the profile's clients, or log in."""
        found = self._connections.get(profile.name)
        if found is None:
            found = self.connect(profile, secrets)
            self._connections[profile.name] = found
        return found

    # --- plan ----------------------------------------------------------------------------

    def sync_selected(self, kind: str, ids: Iterable[str], *, dry_run: bool = False) -> Job | None:
        """Plan a run of these records, then show the plan dialog."""
        ids = list(ids)
        if self.busy:
            self.panel.show_message("A run is in progress: wait for it or cancel it first.")
            return None
        if not ids:
            self.panel.show_message(f"Select the {kind} to sync first.")
            return None
        found = self._profile_and_secrets()
        if found is None:
            return None
        profile, secrets = found
        self._planning = True
        what = f"{len(ids):,} {kind}"
        self.panel.show_message(f"Planning {what}: reading Salesforce and Zuora…")
        self.say("INFO", f"Planning {what} with profile {profile.name}.")

        def plan(_context: JobContext) -> tuple[RunConnections, SyncPlan]:
            from cpq_sync_gui.sync import build_plan

            connections = self._connections_for(profile, secrets)
            return connections, build_plan(kind, ids, connections.salesforce, connections.zuora)

        job = self.job("sync-plan", plan)
        job.succeeded.connect(lambda found: self._show_plan(profile, ids, found, dry_run))
        job.failed.connect(self._plan_failed)
        return job.start()

    def _plan_failed(self, message: str, details: str) -> None:
        self._planning = False
        self.panel.show_message(f"The plan could not be made: {message}", "ERROR")
        self.say("ERROR", f"The plan could not be made: {message}")
        self.say("DEBUG", details)

    def _show_plan(
        self, profile: Any, ids: list[str], found: tuple[RunConnections, SyncPlan], dry_run: bool
    ) -> None:
        self._planning = False
        connections, plan = found
        self.panel.show_message("")
        counts = plan.counts()
        self.say(
            "INFO",
            f"Plan ready: {counts['total']:,} {plan.kind}, {counts['create']:,} to "
            f"create, {counts['skip']:,} to skip, {counts['blocked']:,} with problems.",
        )
        from cpq_sync_gui.ui.plan_dialog import PlanDialog

        dialog = PlanDialog(
            plan, run_target(profile, connections), dry_run=dry_run, parent=self.window
        )
        dialog.run_requested.connect(lambda request: self.execute(request, profile))
        dialog.replan_requested.connect(
            lambda options: self._replan(dialog, profile, plan.kind, ids, options)
        )
        dialog.exported.connect(lambda path: self.say("INFO", f"Plan exported to {path}."))
        dialog.finished.connect(lambda _result: self._plan_closed(dialog))
        self.plan_dialog = dialog
        dialog.open()

    def _plan_closed(self, dialog: PlanDialog) -> None:
        if self.plan_dialog is dialog:
            self.plan_dialog = None
        dialog.deleteLater()

    def _replan(
        self, dialog: PlanDialog, profile: Any, kind: str, ids: list[str], options: PlanOptions
    ) -> None:
        from cpq_sync_gui.sync import build_plan

        connections = self._connections[profile.name]
        job = self.job(
            "sync-replan",
            lambda _ctx: build_plan(kind, ids, connections.salesforce, connections.zuora, options),
        )

        def planned(plan: SyncPlan) -> None:
            if self.plan_dialog is dialog:  # not closed meanwhile
                dialog.set_plan(plan)

        def failed(message: str, _details: str) -> None:
            if self.plan_dialog is dialog:
                dialog.replan_failed(message)

        job.succeeded.connect(planned)
        job.failed.connect(failed)
        job.start()

    # --- run -----------------------------------------------------------------------------

    def execute(self, request: RunRequest, profile: Any) -> Job | None:
        plan = request.plan
        rows = tuple(RunRow(r.record_id, r.record_kind, r.label) for r in plan.records)
        title = (
            f"{len(rows):,} {plan.kind} → Zuora {profile.zuora.environment_label} "
            f"({request.engine}) · profile {profile.name}"
        )
        options = {**plan.options.to_json(), "concurrency": request.concurrency}
        self.shown = ShownRun(None, profile.name, plan.kind, request.engine, options)
        if request.excluded:
            self.say("INFO", f"{request.excluded:,} records were left out of the run.")
        return self._start_run(
            title,
            rows,
            profile,
            request.engine,
            request.concurrency,
            lambda runner, _journal, _conns: runner.execute(plan, engine_name=request.engine),
        )

    def retry_failed(self) -> Job | None:
        """A new run of the shown run's failed, timed-out and cancelled records."""
        shown = self.shown
        if shown is None or shown.run_id is None or self.busy:
            return None
        found = self._profile_and_secrets(shown.profile)
        if found is None:
            return None
        run_id = shown.run_id

        def work(runner: SyncRunner, journal: RunJournal, conns: RunConnections) -> Any:
            return runner.retry_failed(run_id, planner_for(conns, shown), states=RETRY_STATES)

        def snapshot(journal: RunJournal) -> Snapshot:
            rows = rows_of(journal.records_of(run_id, RETRY_STATES), queued=True)
            return Snapshot(f"Retry of run {run_id}: {len(rows):,} {shown.kind}", rows)

        self.say("INFO", f"Retrying the failed records of run {run_id}.")
        return self._start_run(
            f"Retry of run {run_id}",
            (),
            found[0],
            shown.engine,
            int(shown.options.get("concurrency") or DEFAULT_CONCURRENCY),
            work,
            snapshot,
        )

    def resume(self, run: Any) -> Job | None:
        """Finish an interrupted run (a RunInfo from the journal)."""
        if self.busy:
            return None
        found = self._profile_and_secrets(run.profile)
        if found is None:
            return None
        self.shown = ShownRun(run.run_id, run.profile, run.kind, run.engine, dict(run.options))
        shown = self.shown

        def work(runner: SyncRunner, journal: RunJournal, conns: RunConnections) -> Any:
            return runner.resume(run.run_id, planner_for(conns, shown))

        def snapshot(journal: RunJournal) -> Snapshot:
            rows = rows_of(journal.records_of(run.run_id))
            return Snapshot(f"Resuming run {run.run_id}: {len(rows):,} {run.kind}", rows)

        self.say("INFO", f"Resuming run {run.run_id}.")
        concurrency = int(run.options.get("concurrency") or DEFAULT_CONCURRENCY)
        return self._start_run(
            f"Resuming run {run.run_id}", (), found[0], run.engine, concurrency, work, snapshot
        )

    def _start_run(
        self,
        title: str,
        rows: tuple[RunRow, ...],
        profile: Any,
        engine_name: str,
        concurrency: int,
        work: Callable[[SyncRunner, RunJournal, RunConnections], Any],
        snapshot: Callable[[RunJournal], Snapshot] | None = None,
    ) -> Job:
        secrets = self.window.ensure_secrets()  # type: ignore[attr-defined]
        handle = RunHandle()
        retry = self.retry_policy

        def run(context: JobContext) -> Any:
            from cpq_sync_gui.sync import ConnectorEngine, DirectEngine, RunJournal, SyncRunner

            conns = self._connections_for(profile, secrets)
            if engine_name == "connector":
                if conns.connector is None:
                    raise RuntimeError(conns.connector_problem or "The connector is not set up.")
                engine: Any = ConnectorEngine(conns.connector, conns.zuora)
            else:
                if conns.zuora is None:
                    raise RuntimeError(conns.zuora_problem or "The Zuora tenant is not set up.")
                engine = DirectEngine(conns.zuora)
            with RunJournal(self.journal_path) as journal:
                if snapshot is not None:
                    context.report(snapshot(journal))
                runner = SyncRunner(
                    engine,
                    journal,
                    profile=profile.name,
                    subscriber=RunSubscriber(context),
                    concurrency=concurrency,
                    retry=retry,
                )
                handle.attach(runner)
                return work(runner, journal, conns)

        def locked_run(context: JobContext) -> Any:
            # One run per profile at a time, across windows and cpq-sync commands.
            from cpq_sync_gui.sync.run_lock import RunLock, profile_busy_message

            lock = RunLock.for_profile(profile.name)
            if not lock.acquire():
                raise RuntimeError(profile_busy_message(profile.name, lock.holder()))
            try:
                return run(context)
            finally:
                lock.release()

        job = self.job("sync-run", locked_run)
        job.events.connect(self._on_events)
        job.succeeded.connect(self._on_run_done)
        job.failed.connect(self._on_run_failed)
        self.run_job, self._handle = job, handle
        job.finished.connect(release_gc)
        hold_gc()
        self._started = time.monotonic()
        self._run_began = False
        self._install_overlays()
        self._begin(title, rows)
        self.run_started.emit()
        # Start the threads a moment later: the window first repaints what the plan dialog
        # covered (the record table's model is Python; painting it while the run's threads
        # compete for the interpreter is the slowest thing a run start could do).
        QTimer.singleShot(START_DELAY_MS, job.start)
        return job

    def cancel(self) -> None:
        """Stop the run: nothing new starts; the rest becomes Cancelled (within a second)."""
        if not self.running or self._handle is None or self._handle.cancelled:
            return
        self._handle.cancel()
        assert self.run_job is not None
        self.run_job.cancel()
        self.panel.cancelling()
        self.say(
            "WARNING", "Cancelling: nothing new is sent; requests already on their way finish."
        )

    # --- events from the run (GUI thread, one batch every 100 ms) ------------------------

    def _on_events(self, batch: list[Any]) -> None:
        changes: dict[str, RunRow] = {}
        lines: list[PaneLine] = []
        progress: Progress | None = None
        for event in batch:
            if isinstance(event, RunRow):
                changes[event.record_id] = event
            elif isinstance(event, PaneLine):
                lines.append(event)
            elif isinstance(event, Progress):
                progress = event
            elif isinstance(event, Snapshot):
                self._apply(changes, progress)
                changes, progress = {}, None
                self._begin(event.title, event.rows)
            elif isinstance(event, RunStarted):
                self._run_began = True
                if self.shown is not None:
                    self.shown.run_id = event.run_id
                title = self.panel.title.text()
                if event.run_id not in title:
                    title = f"Run {event.run_id}: {title}"
                self.panel.set_title(title, event.run_id)
        self._apply(changes, progress)
        if lines:
            self.window.log_pane.add_many(lines)  # type: ignore[attr-defined]

    def _apply(self, changes: dict[str, RunRow], progress: Progress | None) -> None:
        if not changes and progress is None:
            return
        self.panel.apply(changes, progress)
        self._show_in_tables(changes.values())

    def _begin(self, title: str, rows: tuple[RunRow, ...]) -> None:
        self.panel.begin(title, rows)
        self._show_in_tables(rows)  # Queued, in the tables too

    def _show_in_tables(self, rows: Iterable[RunRow]) -> None:
        by_kind: dict[str, dict[str, RunRow]] = {}
        for row in rows:
            by_kind.setdefault(row.record_kind, {})[row.record_id] = row
        for kind, changed in by_kind.items():
            overlay = self.overlays.get(kind)
            if overlay is not None:
                overlay.update(changed)

    def _install_overlays(self) -> None:
        """Per-row status in the Accounts / Orders tables, on their "Zuora status" column."""
        from cpq_sync_gui.ui.record_browser import RecordBrowser
        from cpq_sync_gui.ui.run_rows import RunStatusOverlay

        for browser in self.window.findChildren(RecordBrowser):
            kind = browser.kind.singular
            overlay = self.overlays.get(kind)
            if overlay is not None and overlay.view is browser.table:
                overlay.clear()
                continue
            column = browser.kind.column_index("zuora")
            self.overlays[kind] = RunStatusOverlay(browser.table, column)

    def _on_run_done(self, result: Any) -> None:
        seconds = time.monotonic() - self._started
        if self.shown is not None:
            self.shown.run_id = result.run_id
        self.panel.run_id = result.run_id
        summary = summary_text(result.status, result.counts(), seconds, result.message)
        self.panel.finish(f"Run {result.run_id}: {summary}", error=result.status == "failed")
        self.say(
            "ERROR" if result.status == "failed" else "INFO", f"Run {result.run_id}: {summary}"
        )
        self._finish_run(result, summary, seconds)

    def _on_run_failed(self, message: str, details: str) -> None:
        seconds = time.monotonic() - self._started
        if not self._run_began:
            # It never started (no connection, no journal): nothing was sent, say so per record.
            detail = f"Not sent: the run could not start ({message})."
            unfinished = [r for r in self.panel.model.rows() if not r.state.is_final]
            self._apply({r.record_id: replace(r, state=RecordState.FAILED, detail=detail)
                         for r in unfinished}, None)  # fmt: skip
            text = f"The run could not start: {message}"
        else:
            text = (
                f"The run stopped: {message}. Records not finished are shown as they were; "
                "nothing more was sent. Resume the run from Runs → History when the cause is "
                "fixed: Zuora is checked first for records that may have been sent."
            )
        self.panel.finish(text, error=True)
        self.say("ERROR", text)
        self.say("DEBUG", details)
        self._finish_run(None, text, seconds)

    def _finish_run(self, result: Any, summary: str, seconds: float) -> None:
        self.run_job, self._handle = None, None
        for overlay in self.overlays.values():
            overlay.flush()
        if seconds > self.notify_after_s and not self.window.isActiveWindow():
            self.notifier.notify("CPQ Sync: run ended", summary)
        self.run_finished.emit(result)

    # --- results and past runs -------------------------------------------------------------

    def export_results(self, folder: Path | None = None) -> Job | None:
        """Write the shown run's success and error CSV files (Data Loader style)."""
        run_id = self.shown.run_id if self.shown else None
        if run_id is None:
            return None
        if folder is None:
            chosen = QFileDialog.getExistingDirectory(self.window, "Export results to")
            if not chosen:
                return None
            folder = Path(chosen)

        def work(_context: JobContext) -> Any:
            from cpq_sync_gui.sync import RunJournal

            with RunJournal(self.journal_path) as journal:
                rows = export_rows(journal.records_of(run_id))
            return write_results(rows, folder, default_base_name(run_id))

        job = self.job("sync-export", work)
        job.succeeded.connect(self._exported)
        job.failed.connect(lambda message, _d: self.say("ERROR", f"Export failed: {message}"))
        return job.start()

    def _exported(self, files: Any) -> None:
        text = (
            f"Exported {files.successes:,} successes to {files.success_path} and "
            f"{files.errors:,} errors to {files.error_path}."
        )
        self.panel.show_message(text)
        self.say("INFO", text)

    def open_run(self, run_id: str) -> Job:
        """Show a past run (from the journal) on the panel, ready for Retry failed and Export."""
        from cpq_sync_gui.ui.run_history import open_past_run

        return open_past_run(self, run_id)

    def wait_for_jobs(self, timeout_ms: int = 30000) -> bool:
        """Wait until every job of ours has ended (window closing, app quitting).

        The GUI thread keeps handling events meanwhile: a job's thread only ends after the
        GUI thread has seen its result (``Job`` quits the thread from there), so blocking in
        ``QThread.wait`` would only wait for the timeout.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        while any(job.running for job in list(self._jobs)) and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.002)
        return not any(job.running for job in list(self._jobs))

    def shutdown(self, timeout_ms: int = 60000) -> None:
        """The app is quitting: cancel the run and wait for every thread of ours."""
        self.cancel()
        self.wait_for_jobs(timeout_ms)
        self.forget_connections()
