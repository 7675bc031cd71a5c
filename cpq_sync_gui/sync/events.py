"""What a sync run tells its one subscriber: record states, log lines and progress (plain data, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = [
    "FINAL_STATES",
    "SUCCESS_STATES",
    "Event",
    "LogLine",
    "Progress",
    "RecordState",
    "RecordStateChanged",
    "RunFinished",
    "RunStarted",
    "Subscriber",
]


class RecordState(StrEnum):
    """Where one record stands in a run. The value is what the journal stores."""

    QUEUED = "queued"
    RUNNING = "running"
    VERIFYING = "verifying"  # the connector took it; waiting to see it in Zuora (not final)
    SYNCED = "synced"
    ACCEPTED = "accepted"  # the connector took it; Zuora did not (yet) confirm it
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def label(self) -> str:
        """The state in the users' words, as the window and the CLI show it."""
        return _LABELS[self]

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


_LABELS = {
    RecordState.QUEUED: "Queued",
    RecordState.RUNNING: "Running",
    RecordState.VERIFYING: "Verifying in Zuora",
    RecordState.SYNCED: "Synced",
    RecordState.ACCEPTED: "Accepted (unverified)",
    RecordState.SKIPPED: "Skipped",
    RecordState.FAILED: "Failed",
    RecordState.CANCELLED: "Cancelled",
    RecordState.TIMED_OUT: "Timed out",
}

FINAL_STATES = frozenset(
    {
        RecordState.SYNCED,
        RecordState.ACCEPTED,
        RecordState.SKIPPED,
        RecordState.FAILED,
        RecordState.CANCELLED,
        RecordState.TIMED_OUT,
    }
)
SUCCESS_STATES = frozenset({RecordState.SYNCED, RecordState.ACCEPTED})
"""States that count as "succeeded" in progress and summaries."""


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    kind: str  # "accounts" or "orders"
    engine: str  # "direct" or "connector"
    total: int


@dataclass(frozen=True)
class RecordStateChanged:
    run_id: str
    record_id: str
    label: str
    old: RecordState | None
    new: RecordState
    detail: str = ""  # the plain-words reason or result, e.g. the exact Zuora error
    zuora_number: str | None = None
    record_kind: str = ""  # "account" or "order"


@dataclass(frozen=True)
class LogLine:
    level: str  # "DEBUG", "INFO", "WARNING", "ERROR" (logging's level names)
    message: str
    record_id: str | None = None
    track_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Progress:
    done: int  # records in a final state
    total: int
    succeeded: int  # Synced + Accepted
    failed: int  # Failed + Timed out + Cancelled
    skipped: int
    rate_per_s: float  # records finished per second since the run started (0 until known)
    eta_s: float | None  # seconds left at that rate; None until a rate is known
    verifying: int = 0  # sent and accepted, waiting to be seen in Zuora (not in done)


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    status: str  # "finished", "cancelled" or "failed" (the runner itself broke)
    counts: dict[str, int] = field(default_factory=dict)  # RecordState value -> records
    message: str = ""


Event = RunStarted | RecordStateChanged | LogLine | Progress | RunFinished


@runtime_checkable
class Subscriber(Protocol):
    """Receives every event of a run, one at a time, from the runner's threads.

    Calls never overlap (the runner serialises them) but they come from worker threads: a GUI
    subscriber must hand the event over to its own thread (a queued signal) and return quickly.
    An exception raised here is logged and otherwise ignored: it never stops a run.
    """

    def on_event(self, event: Event) -> None: ...
