"""The worker side of a run in the window: connections, the runner's subscriber, and the small
plain values that cross from the run's threads to the GUI thread (no widget is touched here).

The runner's threads call :class:`RunSubscriber.on_event`; it turns each event into a
:class:`~cpq_sync_gui.ui.run_rows.RunRow` or a :class:`PaneLine`, redacts their text there (off
the GUI thread), writes outcome lines to the log file, and queues them with
``JobContext.report``. The log file is a rotating file in ``paths.log_dir()`` behind a
:class:`~cpq_sync_gui.redact.RedactingFilter` (:class:`AppLogFile`).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cpq_sync_gui import paths
from cpq_sync_gui.redact import RedactingFilter, redact
from cpq_sync_gui.sync.events import (
    LogLine,
    RecordState,
    RecordStateChanged,
    RunFinished,
    RunStarted,
)
from cpq_sync_gui.ui.jobs import JobContext
from cpq_sync_gui.ui.run_panel import duration_text
from cpq_sync_gui.ui.run_rows import RunRow

if TYPE_CHECKING:
    from cpq_sync_gui.sync import SyncPlan, SyncRunner
    from cpq_sync_gui.ui.plan_dialog import RunTarget

__all__ = [
    "LOG_FILE_NAME",
    "AppLogFile",
    "PaneLine",
    "RunConnections",
    "RunHandle",
    "RunSubscriber",
    "ShownRun",
    "Snapshot",
    "hold_gc",
    "install_log_file",
    "open_run_connections",
    "outcome_line",
    "planner_for",
    "release_gc",
    "rows_of",
    "run_target",
    "summary_text",
]

LOG_FILE_NAME = "gui.log"  # beside the command line's cli.log

log = logging.getLogger("cpq_sync_gui.ui.sync")


@dataclass
class RunConnections:
    """Logged-in clients for one profile (opened in a Job; reused by the next runs)."""

    salesforce: Any
    zuora: Any | None
    connector: Any | None = None
    zuora_problem: str = ""
    connector_problem: str = ""

    def close(self) -> None:
        """Close the clients' pooled connections (a run still using them opens new ones)."""
        for session in {
            id(s): s
            for s in (
                getattr(getattr(self.salesforce, "connection", None), "session", None),
                getattr(self.zuora, "session", None),
                getattr(self.connector, "session", None),
            )
            if s is not None
        }.values():
            session.close()


def open_run_connections(profile: Any, secrets: Any) -> RunConnections:
    """Log in to Salesforce, and to Zuora and the connector when the profile allows (blocking)."""
    from cpq_sync_gui.connections import (
        ConnectionFailed,
        open_connector,
        open_salesforce,
        open_zuora,
    )

    salesforce = open_salesforce(profile, secrets)
    connections = RunConnections(salesforce, None)
    try:
        connections.zuora = open_zuora(profile, secrets)
    except ConnectionFailed as exc:
        connections.zuora_problem = exc.message
    try:
        connections.connector = open_connector(profile, secrets, salesforce=salesforce)
    except ConnectionFailed as exc:
        connections.connector_problem = exc.message
    return connections


@dataclass
class ShownRun:
    """The run on the panel: what Retry failed and Export results work on."""

    run_id: str | None
    profile: str
    kind: str
    engine: str
    options: dict[str, Any] = field(default_factory=dict)


class PaneLine(NamedTuple):  # what LogPane.add_many takes
    level: str
    message: str
    at: dt.datetime


@dataclass(frozen=True)
class Snapshot:
    """The records a run starts with (resume and retry learn them from the journal)."""

    title: str
    rows: tuple[RunRow, ...]


def outcome_line(row: RunRow) -> tuple[int, str] | None:
    """The log line for a record's final state; none for Cancelled (the run's summary counts
    them: a cancelled 10,000-record run does not need 9,000 identical lines)."""
    who = f"{row.label} ({row.record_id})" if row.label != row.record_id else row.record_id
    if row.state is RecordState.CANCELLED:
        return None
    level = (
        logging.ERROR if row.state in (RecordState.FAILED, RecordState.TIMED_OUT) else logging.INFO
    )
    state = row.state.label
    if row.state is RecordState.SYNCED and row.zuora_number:
        state = f"Synced {row.zuora_number}"
    return level, f"{who}: {state} — {row.detail}" if row.detail else f"{who}: {state}"


class RunSubscriber:
    """The runner's subscriber: runs on the runner's threads, never touches a widget."""

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def on_event(self, event: Any) -> None:
        now = dt.datetime.now()
        if isinstance(event, RecordStateChanged):
            row = RunRow(
                event.record_id,
                event.record_kind,
                event.label,
                event.new,
                redact(event.detail),  # an error text may echo a URL with a token in it
                event.zuora_number,
            )
            self.context.report(row)
            line = outcome_line(row) if event.new.is_final else None
            if line is not None:
                level, text = line
                log.log(level, text)  # the log file, written here, off the GUI thread
                self.context.report(PaneLine(logging.getLevelName(level), text, now))
        elif isinstance(event, LogLine):  # the runner wrote it to the log file already
            extra = [f"request {event.request_id}"] if event.request_id else []
            extra += [f"track {event.track_id}"] if event.track_id else []
            text = event.message + (f" [{', '.join(extra)}]" if extra else "")
            self.context.report(PaneLine(event.level, redact(text), now))
        else:
            if isinstance(event, RunStarted):
                log.info(
                    "Run %s started: %d %s (%s engine).",
                    event.run_id,
                    event.total,
                    event.kind,
                    event.engine,
                )
            elif isinstance(event, RunFinished):
                log.info("Run %s %s: %s", event.run_id, event.status, event.counts)
            self.context.report(event)


class RunHandle:
    """Lets the GUI cancel a runner that the worker thread creates (no race either way)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runner: SyncRunner | None = None
        self.cancelled = False

    def attach(self, runner: SyncRunner) -> None:
        with self._lock:
            self._runner = runner
            if self.cancelled:
                runner.cancel()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._runner is not None:
                self._runner.cancel()  # never blocks


def run_target(profile: Any, connections: RunConnections) -> RunTarget:
    """Where a run of this profile goes, and which engines it can use (for the plan dialog)."""
    from cpq_sync_gui.ui.plan_dialog import RunTarget

    engines, notes = [], []
    if connections.zuora is not None:
        engines.append("direct")
    else:
        notes.append(f"Direct needs the Zuora tenant: {connections.zuora_problem}")
    if connections.connector is not None:
        engines.append("connector")
    else:
        notes.append(f"Connector: {connections.connector_problem}")
    why = [
        text
        for flag, text in (
            (profile.zuora.is_production, "the Zuora environment is production"),
            (profile.salesforce.is_production, "the Salesforce org is production"),
            (profile.treat_as_production, "the profile is marked as production"),
        )
        if flag
    ]
    return RunTarget(
        profile_name=profile.name,
        salesforce=profile.salesforce.login_url(),
        zuora=profile.zuora.environment_label,
        production=profile.is_production,
        production_why="; ".join(why),
        engines=tuple(engines),
        engine_notes=" ".join(notes),
    )


def planner_for(conns: RunConnections, shown: ShownRun) -> Callable[[str, list[str]], SyncPlan]:
    """How resume and retry plan their records again (fresh reads, the run's options)."""
    from cpq_sync_gui.sync import PlanOptions, build_plan

    options = PlanOptions(update_existing=bool(shown.options.get("update_existing")))
    return lambda kind, ids: build_plan(kind, ids, conns.salesforce, conns.zuora, options)


def rows_of(records: Iterable[Any], *, queued: bool = False) -> tuple[RunRow, ...]:
    """Panel rows from journal records: unfinished ones (and all with ``queued``) as Queued,
    except that a record the connector accepted stays "Verifying in Zuora" until resumed."""
    rows = []
    for record in records:
        final = record.is_final and not queued
        verifying = not queued and record.state == RecordState.VERIFYING
        state = RecordState(record.state) if final or verifying else RecordState.QUEUED
        detail = redact(record.detail or record.error or "") if final else ""
        rows.append(
            RunRow(
                record.record_id,
                record.record_kind,
                record.label,
                state,
                detail,
                record.zuora_number if final else None,
            )
        )
    return tuple(rows)


def summary_text(status: str, counts: dict[str, int], seconds: float, message: str = "") -> str:
    words = {"finished": "Finished", "cancelled": "Cancelled", "failed": "Stopped"}
    order = [s for s in RecordState if counts.get(s.value)]
    parts = [f"{counts[s.value]:,} {s.label.lower()}" for s in order]
    text = f"{words.get(status, status.title())} after {duration_text(seconds)}: "
    text += ", ".join(parts) if parts else "no records"
    return text + "." + (f" {message}" if message else "")


class AppLogFile(logging.Handler):
    """The window's log file: ``gui.log`` in ``paths.log_dir()``, rotated at 5 MB (5 kept),
    every record redacted first. The folder is looked up at each write, so a changed
    ``CPQ_SYNC_HOME`` (every test has its own) gets its own file."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.addFilter(RedactingFilter())
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s")
        )
        self._file: RotatingFileHandler | None = None
        self.path: Path | None = None

    def emit(self, record: logging.LogRecord) -> None:
        path = paths.log_dir() / LOG_FILE_NAME
        try:
            if path != self.path or self._file is None:
                if self._file is not None:
                    self._file.close()
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = RotatingFileHandler(
                    path, maxBytes=5_000_000, backupCount=5, encoding="utf-8", delay=True
                )
                self._file.setFormatter(self.formatter)
                self.path = path
            self._file.emit(record)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()


def install_log_file() -> AppLogFile:
    """Send the app's log (runs included) to the log file, once per process."""
    root = logging.getLogger("cpq_sync_gui")
    for handler in root.handlers:
        if isinstance(handler, AppLogFile):
            return handler
    handler = AppLogFile()
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(handler)
    return handler


_gc_holds = 0
_gc_thresholds: tuple[int, int, int] | None = None
_gc_lock = threading.Lock()
NO_FULL_COLLECTIONS = 1_000_000  # generation-1 collections before a full one: "not now"


def hold_gc() -> None:
    """While a run is on: no full ("generation 2") garbage collection.

    A full collection holds the interpreter lock while it walks every object (the plan, the
    loaded rows: tens of milliseconds at 2,000 records), and the window cannot paint in the
    meantime, whichever thread started it. Young objects are still collected as usual; the
    full collection simply waits until the run has ended (:func:`release_gc`). The frozen
    start-up objects (``ui/heap.py``) are left as they are.
    """
    global _gc_holds, _gc_thresholds
    with _gc_lock:
        _gc_holds += 1
        if _gc_holds == 1:
            _gc_thresholds = gc.get_threshold()
            gc.set_threshold(_gc_thresholds[0], _gc_thresholds[1], NO_FULL_COLLECTIONS)


def release_gc() -> None:
    global _gc_holds, _gc_thresholds
    with _gc_lock:
        if _gc_holds == 0:
            return
        _gc_holds -= 1
        if _gc_holds == 0 and _gc_thresholds is not None:
            gc.set_threshold(*_gc_thresholds)
            _gc_thresholds = None
