"""What an engine is to the runner: one attempt in, an Outcome or an AttemptError out; and keys.

Engines (DirectEngine, ConnectorEngine, test fakes) implement :class:`Engine`; the runner owns
retries, waits, the journal and the events. An engine whose sends are confirmed later
(ConnectorEngine) also implements :class:`Verifier`: its ``send`` answers Verifying and the
runner verifies the waiting records together, without holding a worker.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cpq_sync_gui.sync.events import FINAL_STATES, SUCCESS_STATES, RecordState
from cpq_sync_gui.sync.plan_model import PlannedRecord

__all__ = [
    "AMBIGUOUS",
    "RETRYABLE_KINDS",
    "AttemptError",
    "CallContext",
    "Engine",
    "Outcome",
    "RecordResult",
    "RunResult",
    "Verifier",
    "canonical_json",
    "idempotency_key",
    "payload_hash",
    "track_id",
]

RETRYABLE_KINDS = frozenset({"network_before_send", "server", "rate_limited", "conflict"})
"""Failures after which the same request can be sent again without risk: it never reached
Zuora (network_before_send), Zuora failed before doing anything (server, rate_limited), or the
same Idempotency-Key is still being processed (conflict: the retry replays its answer)."""
AMBIGUOUS = "ambiguous"  # sent, but the answer was lost: look in Zuora before sending again


# --- what an engine is ------------------------------------------------------------------------


class AttemptError(Exception):
    """One attempt failed. ``kind`` decides what happens next (see :data:`RETRYABLE_KINDS`)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        concurrency_remaining: int | None = None,
        concurrency_limit: int | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.concurrency_remaining = concurrency_remaining
        self.concurrency_limit = concurrency_limit


@dataclass(frozen=True)
class Outcome:
    """How a record ended in Zuora (or was found there)."""

    state: RecordState
    detail: str = ""
    zuora_id: str | None = None
    zuora_number: str | None = None
    request_id: str | None = None
    concurrency_remaining: int | None = None
    concurrency_limit: int | None = None


@dataclass
class CallContext:
    """What an engine gets for one attempt."""

    run_id: str
    attempt: int
    idempotency_key: str
    track_id: str
    cancel: threading.Event  # set when the user cancels; long waits (verification) must watch it
    log: Callable[[str, str], None]  # (level, message) about this record


class Engine(Protocol):
    """One way of getting a record into Zuora (DirectEngine, ConnectorEngine, test fakes)."""

    name: str

    def prepare(self, record: PlannedRecord, done: Mapping[str, Outcome]) -> Any:
        """The final payload: the plan's, with bound values filled from finished dependencies."""
        ...

    def find_existing(self, record: PlannedRecord) -> Outcome | None:
        """The record as Zuora holds it now, or None; raises AttemptError when it cannot tell."""
        ...

    def send(self, record: PlannedRecord, payload: Any, call: CallContext) -> Outcome:
        """One attempt; raises AttemptError. Never retries a create by itself."""
        ...


@runtime_checkable
class Verifier(Protocol):
    """An engine whose accepted records are confirmed in Zuora later, many at a time.

    Its ``send`` returns a Verifying Outcome (the detail says what accepted it); the runner
    journals that, frees the worker and, once per poll interval, calls :meth:`verify` with every
    record still waiting. A record not settled within ``verify_timeout_s`` of being accepted ends
    with :meth:`verification_timed_out`; on cancel, with :meth:`verification_cancelled`.
    """

    poll_interval_s: float  # the first wait, and the wait while records keep appearing
    max_poll_interval_s: float  # the longest wait while nothing appears
    verify_timeout_s: float

    def verify(self, records: Sequence[PlannedRecord]) -> dict[str, Outcome]:
        """Final outcomes (record id -> Outcome) for the records that can be settled now,
        e.g. found in Zuora; the others keep waiting. Raises AttemptError when it cannot tell."""
        ...

    def verification_timed_out(self, record: PlannedRecord, accepted: str, problem: str) -> Outcome:
        """The final outcome of a record not seen in time (``problem``: the last check's error)."""
        ...

    def verification_cancelled(self, record: PlannedRecord, accepted: str) -> Outcome:
        """The final outcome of a record still waiting when the run is cancelled."""
        ...


# --- keys -----------------------------------------------------------------------------------


def canonical_json(payload: Any) -> str:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def payload_hash(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def idempotency_key(profile: str, record_id: str, payload_digest: str) -> str:
    """``cpqsync-`` + 64 hex digits (72 characters; Zuora allows 255).

    The same profile, record and payload always give the same key, so a retry — in this run or
    a later one within Zuora's 24 hours — replays the first answer instead of creating twice.
    """
    digest = hashlib.sha256(f"{profile}\0{record_id}\0{payload_digest}".encode()).hexdigest()
    return f"cpqsync-{digest}"


def track_id(run_id: str, record_id: str, attempt: int) -> str:
    """A Zuora-Track-Id: ≤64 ASCII characters without ``:;"'``, echoed back by Zuora."""
    return f"cpqs-{run_id}-{record_id}-{attempt}"[:64]


# --- results --------------------------------------------------------------------------------


@dataclass
class RecordResult:
    record_id: str
    record_kind: str
    label: str
    state: RecordState
    detail: str = ""
    zuora_id: str | None = None
    zuora_number: str | None = None


@dataclass
class RunResult:
    run_id: str
    status: str  # finished, cancelled, failed
    records: list[RecordResult] = field(default_factory=list)
    message: str = ""

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.state.value] = counts.get(record.state.value, 0) + 1
        return counts

    @property
    def all_final(self) -> bool:
        return all(r.state in FINAL_STATES for r in self.records)

    @property
    def ok(self) -> bool:
        """Every record synced, accepted or skipped (the CLI's exit code 0)."""
        return all(
            r.state in SUCCESS_STATES or r.state is RecordState.SKIPPED for r in self.records
        )
