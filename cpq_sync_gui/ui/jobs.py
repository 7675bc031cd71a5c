"""Run slow work (network, disk) in a QThread and hand its events to the window in batches."""

from __future__ import annotations

import threading
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from cpq_sync_gui.redact import redact

# How often the window picks up events from running jobs. Each pick-up updates (and repaints)
# the run panel, the log pane and the tables: at 40 ms that took ~19 % of the GUI thread
# during a 200-records/s run, at 100 ms ~11 %, and 10 updates a second still look live.
DRAIN_INTERVAL_MS = 100
DRAIN_BATCH = 2000  # at most this many events per pick-up, so one pick-up stays short


class JobContext:
    """What a job's function gets: a way to report events and to see a cancel request."""

    def __init__(self) -> None:
        self.cancel_requested = threading.Event()
        self._events: deque[Any] = deque()

    def report(self, event: Any) -> None:
        """Queue an event for the window (thread-safe, never blocks)."""
        self._events.append(event)

    def cancelled(self) -> bool:
        return self.cancel_requested.is_set()

    def take(self, limit: int) -> list[Any]:
        taken: list[Any] = []
        while self._events and len(taken) < limit:
            taken.append(self._events.popleft())
        return taken

    def pending(self) -> int:
        return len(self._events)


JobFunction = Callable[[JobContext], Any]


class _Worker(QObject):
    done = Signal(object)  # the function's result
    failed = Signal(str, str)  # plain message, redacted technical details

    def __init__(self, function: JobFunction, context: JobContext) -> None:
        super().__init__()
        self._function = function
        self._context = context

    @Slot()
    def run(self) -> None:
        try:
            result = self._function(self._context)
        except Exception as exc:  # every failure reaches the window as words, never lost
            self.failed.emit(plain_message(exc), redact(traceback.format_exc()))
        else:
            self.done.emit(result)


def plain_message(exc: BaseException) -> str:
    """The message a person reads: the exception's own text (our errors are written for people)."""
    text = str(exc).strip() or type(exc).__name__
    return redact(text)


class Job(QObject):
    """One piece of background work: a function run in its own QThread.

    Signals arrive on the GUI thread: ``events`` (a list, batched every ~100 ms), then exactly
    one of ``succeeded(result)`` / ``failed(message, details)``, then ``finished``.
    """

    events = Signal(list)
    succeeded = Signal(object)
    failed = Signal(str, str)
    finished = Signal()

    def __init__(self, name: str, function: JobFunction, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.context = JobContext()
        # The thread belongs to the job (deleted with it, always after it has finished); the
        # worker lives in the thread and is deleted there when the thread finishes, as Qt's
        # worker-object pattern asks, so a job can be deleteLater()'d safely once finished.
        self._thread = QThread(self)
        self._thread.setObjectName(f"job-{name}")
        self._worker = _Worker(function, self.context)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._thread.finished.connect(self._worker.deleteLater)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self._drain)
        self._outcome: tuple[str, tuple[Any, ...]] | None = None
        self.running = False

    def start(self) -> Job:
        self.running = True
        self._timer.start()
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.context.cancel_requested.set()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until the thread ends (only for shutdown and tests)."""
        return self._thread.wait(timeout_ms)

    def _drain(self) -> None:
        batch = self.context.take(DRAIN_BATCH)
        if batch:
            self.events.emit(batch)
        if self._outcome is not None and not self.context.pending():
            self._finish()

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        self._outcome = ("succeeded", (result,))
        self._thread.quit()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._outcome = ("failed", (message, details))
        self._thread.quit()

    def _finish(self) -> None:
        self._timer.stop()
        self._thread.wait()
        self.running = False
        assert self._outcome is not None
        kind, values = self._outcome
        (self.succeeded if kind == "succeeded" else self.failed).emit(*values)
        self.finished.emit()
