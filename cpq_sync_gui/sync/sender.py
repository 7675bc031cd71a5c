"""One record into Zuora, safely: look first when it may be there, journal before every send,
retry only what cannot create twice, and look again after a lost answer."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from cpq_sync_gui.sync.engine_api import (
    AMBIGUOUS,
    RETRYABLE_KINDS,
    AttemptError,
    CallContext,
    Engine,
    Outcome,
    idempotency_key,
    payload_hash,
    track_id,
)
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync.plan_model import PlannedRecord
from cpq_sync_gui.sync.throttle import AdaptiveLimit, RetryPolicy

__all__ = ["RecordSender"]


class LogFunction(Protocol):
    def __call__(
        self,
        level: str,
        message: str,
        record_id: str | None = None,
        *,
        track_id: str | None = None,
        request_id: str | None = None,
    ) -> None: ...


class RecordSender:
    """Sends records of one run; shared by the run's worker threads."""

    def __init__(
        self,
        *,
        engine: Engine,
        journal: RunJournal,
        run_id: str,
        profile: str,
        retry: RetryPolicy,
        limit: AdaptiveLimit,
        cancel: threading.Event,
        rng: random.Random,
        log: LogFunction,
        done: Callable[[], dict[str, Outcome]],
    ) -> None:
        self.engine = engine
        self.journal = journal
        self._run_id = run_id
        self.profile = profile
        self.retry = retry
        self.limit = limit
        self._cancel = cancel
        self._rng = rng
        self._rng_lock = threading.Lock()
        self._log = log
        self._done = done

    def _lookup(self, record: PlannedRecord) -> Outcome | None:
        """Look in Zuora (with safe retries); None when not there or when it cannot tell."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return self.engine.find_existing(record)
            except AttemptError as exc:
                if (
                    exc.kind not in RETRYABLE_KINDS | {AMBIGUOUS}
                    or attempt == self.retry.max_attempts
                ):
                    self._log(
                        "WARNING",
                        f"Could not check Zuora for {record.label}: {exc.message}",
                        record.record_id,
                        request_id=exc.request_id,
                    )
                    return None
                if self._wait(self._delay(attempt, exc.retry_after)):
                    return None
        return None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        with self._rng_lock:
            return self.retry.delay(attempt, self._rng, retry_after)

    def _wait(self, seconds: float) -> bool:
        """Sleep, unless cancelled first (returns True then)."""
        return self._cancel.wait(seconds)

    def send(self, record: PlannedRecord, *, check_first: bool = False) -> Outcome:
        """Get one record into Zuora (or find it there); always returns a final Outcome.

        ``check_first``: the record may already exist (it was being sent when a run stopped).
        """
        maybe_sent = check_first
        if check_first:
            found = self._lookup(record)
            if found is not None:
                return replace(
                    found,
                    detail=found.detail
                    or "Found in Zuora: it was created before the run was interrupted.",
                )
            if record.action == "skip":
                return Outcome(
                    RecordState.SKIPPED, record.reason, record.zuora_id, record.zuora_number
                )
            if record.blocked:
                return Outcome(RecordState.FAILED, "Not sent: " + record.problem_text())
        try:
            payload = self.engine.prepare(record, self._done())
        except AttemptError as error:  # e.g. a value from another record is missing
            return Outcome(RecordState.FAILED, error.message)
        digest = payload_hash(payload)
        key = idempotency_key(self.profile, record.record_id, digest)
        for attempt in range(1, self.retry.max_attempts + 1):
            if self._cancel.is_set() or not self.limit.acquire(self._cancel):
                return self._cancelled_outcome(maybe_sent)
            try:
                outcome = self._attempt(record, payload, digest, key, attempt)
            except AttemptError as exc:
                error = exc
            else:
                self._note_pressure(outcome.concurrency_remaining, outcome.concurrency_limit)
                grown = self.limit.succeeded()
                if grown is not None and grown < self.limit.maximum:
                    self._log("INFO", f"Zuora keeps up again: {grown} requests at a time.")
                return outcome
            finally:
                self.limit.release()
            if error.kind == "rate_limited":
                self._cap(error.concurrency_limit)
                self._throttled("Zuora asked to slow down (429)")
            else:
                self._note_pressure(error.concurrency_remaining, error.concurrency_limit)
            if error.kind == AMBIGUOUS:
                maybe_sent = True
            if error.kind == "rejected" and maybe_sent:
                # e.g. "order number already exists" after a lost answer: it may be ours.
                found = self._lookup(record)
                if found is not None:
                    return replace(found, detail=found.detail or "Found in Zuora after a retry.")
            retryable = error.kind in RETRYABLE_KINDS or error.kind == AMBIGUOUS
            if not retryable or attempt == self.retry.max_attempts:
                return self._failed_outcome(error, attempt, maybe_sent, record)
            delay = self._delay(attempt, error.retry_after)
            self._log(
                "WARNING",
                f"{record.label}: attempt {attempt} failed ({error.kind}: {error.message}); "
                f"trying again in {delay:.1f} s.",
                record.record_id,
                request_id=error.request_id,
            )
            self.journal.record_transition(
                self._run_id,
                record.record_id,
                RecordState.RUNNING,
                detail=f"attempt {attempt} failed: {error.message}",
                error=error.message,
                request_id=error.request_id,
            )
            if self._wait(delay):
                return self._cancelled_outcome(maybe_sent)
            if error.kind == AMBIGUOUS:
                found = self._lookup(record)
                if found is not None:
                    return replace(
                        found,
                        detail=found.detail
                        or "The answer was lost, but Zuora shows it was created.",
                    )
        raise AssertionError("unreachable: the loop returns on its last attempt")

    def _attempt(
        self, record: PlannedRecord, payload: Any, digest: str, key: str, attempt: int
    ) -> Outcome:
        """Journal ``sending`` durably, then send once."""
        track = track_id(self._run_id, record.record_id, attempt)
        self.journal.mark_sending(
            self._run_id,
            record.record_id,
            attempt=attempt,
            idempotency_key=key,
            payload_hash=digest,
            payload=payload,
            track_id=track,
        )

        def call_log(level: str, message: str) -> None:
            self._log(level, message, record.record_id, track_id=track)

        call = CallContext(self._run_id, attempt, key, track, self._cancel, call_log)
        return self.engine.send(record, payload, call)

    def _failed_outcome(
        self, exc: AttemptError, attempt: int, maybe_sent: bool, record: PlannedRecord
    ) -> Outcome:
        if exc.kind == "auth":
            detail = f"Zuora refused the credentials even after a fresh log-in: {exc.message}"
        elif exc.kind in RETRYABLE_KINDS or exc.kind == AMBIGUOUS:
            detail = f"Gave up after {attempt} attempts: {exc.message}"
        else:
            detail = exc.message
        if maybe_sent:
            found = self._lookup(record)
            if found is not None:
                return replace(found, detail=found.detail or "Found in Zuora after a lost answer.")
            detail += (
                " An earlier attempt may have reached Zuora without an answer; Zuora did not show "
                "the record when checked. Resume or retry checks Zuora again before sending."
            )
        state = RecordState.TIMED_OUT if exc.kind == "timed_out" else RecordState.FAILED
        return Outcome(state, detail, request_id=exc.request_id)

    def _cancelled_outcome(self, maybe_sent: bool) -> Outcome:
        detail = "Cancelled before sending."
        if maybe_sent:
            detail = (
                "Cancelled. An earlier attempt may have reached Zuora without an answer; resume "
                "or retry checks Zuora before sending again."
            )
        return Outcome(RecordState.CANCELLED, detail)

    def _throttled(self, why: str) -> None:
        new = self.limit.throttled()
        if new is not None:
            self._log("WARNING", f"{why}: now {new} request(s) at a time.")

    def _cap(self, tenant_limit: int | None) -> None:
        new = self.limit.cap(tenant_limit)
        if new is not None:
            self._log(
                "INFO",
                f"Zuora allows {new} requests at a time for this tenant: sending at most {new} "
                "at once.",
            )

    def _note_pressure(self, remaining: int | None, limit: int | None) -> None:
        self._cap(limit)
        self.limit.pressure(remaining, limit)
