"""Runs a SyncPlan with an engine: bounded adaptive concurrency, safe retries, cancel, journal, events.

Threads, not asyncio: the clients are blocking (requests, simple-salesforce). Every wait is on
an Event or a Condition, so cancel takes effect at once; nothing sleeps uninterruptibly.

Records an engine accepted but has yet to confirm (the connector: Verifying) leave their worker
and wait in the runner; one verifier thread checks all of them together once per poll interval
(:class:`~cpq_sync_gui.sync.engine_api.Verifier`).
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cpq_sync_gui.sync.engine_api import (
    RETRYABLE_KINDS,
    AttemptError,
    CallContext,
    Engine,
    Outcome,
    RecordResult,
    RunResult,
    Verifier,
    canonical_json,
    idempotency_key,
    payload_hash,
)
from cpq_sync_gui.sync.events import (
    FINAL_STATES,
    SUCCESS_STATES,
    Event,
    LogLine,
    Progress,
    RecordState,
    RecordStateChanged,
    RunFinished,
    RunStarted,
    Subscriber,
)
from cpq_sync_gui.sync.journal import SENDING, JournalError, NewRecord, RunJournal
from cpq_sync_gui.sync.mapping_types import Problem
from cpq_sync_gui.sync.plan_model import PlannedRecord, SyncPlan
from cpq_sync_gui.sync.sender import RecordSender
from cpq_sync_gui.sync.throttle import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    MIN_CONCURRENCY,
    AdaptiveLimit,
    RetryPolicy,
)

__all__ = [
    "RETRYABLE_KINDS",
    "AdaptiveLimit",
    "AttemptError",
    "CallContext",
    "Engine",
    "Outcome",
    "RetryPolicy",
    "RunResult",
    "SyncRunner",
    "canonical_json",
    "idempotency_key",
    "payload_hash",
]

log = logging.getLogger(__name__)


# --- the runner -----------------------------------------------------------------------------


@dataclass
class _Item:
    seq: int
    record: PlannedRecord
    check_first: bool = False  # may already be in Zuora (journaled as sending): look first
    state: RecordState = RecordState.QUEUED
    outcome: Outcome | None = None
    waiting_on: int = 0
    worked: bool = False  # went through a worker (counts towards the rate)
    verify_only: bool = False  # accepted in an earlier session: verify, never send again
    accepted: str = ""  # what accepted it, while it waits for verification
    deadline: float = 0.0  # time.monotonic() after which verification gives up


class SyncRunner:
    """Executes plans. One runner runs one plan at a time; :meth:`cancel` may come from any thread."""

    def __init__(
        self,
        engine: Engine,
        journal: RunJournal,
        *,
        profile: str,
        subscriber: Subscriber | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        throttle_cooldown_s: float = 1.0,
    ) -> None:
        if not MIN_CONCURRENCY <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(
                f"concurrency must be between {MIN_CONCURRENCY} and {MAX_CONCURRENCY}, "
                f"not {concurrency}"
            )
        self.engine = engine
        self.journal = journal
        self.profile = profile
        self.subscriber = subscriber
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()  # noqa: S311 — jitter, not secrets
        self._throttle_cooldown_s = throttle_cooldown_s
        self._cancel = threading.Event()
        self._emit_lock = threading.Lock()
        self._cond = threading.Condition()
        self.limit = AdaptiveLimit(concurrency, cooldown_s=throttle_cooldown_s)
        self._fatal: str | None = None
        self._verifier: Verifier | None = engine if isinstance(engine, Verifier) else None

    # -- public --------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop: nothing new starts, calls in flight finish, everything else becomes Cancelled."""
        self._cancel.set()
        self.limit.wake()
        # Never block here (a subscriber may call this from inside on_event): the waiters
        # also poll every 0.2 s, so a skipped notify only delays them a little.
        if self._cond.acquire(blocking=False):
            try:
                self._cond.notify_all()
            finally:
                self._cond.release()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def execute(
        self,
        plan: SyncPlan,
        *,
        engine_name: str | None = None,
        parent_run_id: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """Journal a new run of ``plan`` and run it to the end (blocks; call from a worker)."""
        run_options = {**plan.options.to_json(), **(options or {})}
        run_options["concurrency"] = self.concurrency
        run_id = self.journal.create_run(
            profile=self.profile,
            kind=plan.kind,
            engine=engine_name or self.engine.name,
            options=run_options,
            parent_run_id=parent_run_id,
            records=[_new_record(r) for r in plan.records],
        )
        items = [_Item(seq, r) for seq, r in enumerate(plan.records)]
        return self._run(run_id, plan.kind, items)

    def resume(self, run_id: str, planner: Callable[[str, list[str]], SyncPlan]) -> RunResult:
        """Finish an interrupted run: unfinished records are planned again from fresh reads;
        those that may have been sent (journaled ``sending``, or sent before) are looked up in
        Zuora first. Records journaled Verifying (the engine accepted them) are only verified,
        never sent again. Finished records keep their outcome."""
        run = self.journal.run(run_id)
        rows = self.journal.records_of(run_id)
        finished = {r.record_id: r for r in rows if r.is_final}
        unfinished = [r for r in rows if not r.is_final]
        maybe_sent = {r.record_id for r in unfinished if r.state == SENDING or r.attempt > 0}
        accepted = {
            r.record_id: r.detail or "Accepted before the run was interrupted."
            for r in unfinished
            if r.state == RecordState.VERIFYING.value and self._verifier is not None
        }
        self.journal.reopen_run(run_id)
        plan = self._replan(run.kind, unfinished, planner)
        # Records already final in this run keep their outcome; those accepted wait for
        # verification again; the rest are queued again (with any record the new plan needs
        # first, e.g. a parent created meanwhile).
        items: list[_Item] = []
        for record in plan.records:
            if record.record_id in finished:
                continue
            if record.record_id in accepted:
                items.append(
                    _Item(0, record, verify_only=True, accepted=accepted[record.record_id])
                )
                continue
            items.append(_Item(0, record, check_first=record.record_id in maybe_sent))
        self.journal.requeue(run_id, [_new_record(i.record) for i in items if not i.verify_only])
        for row in unfinished:
            if not any(i.record.record_id == row.record_id for i in items):
                # Not planned again (the planner left it out): never send it blind.
                gone = Problem(
                    "not_planned",
                    f"{row.label or row.record_id} could not be planned again (is it still in "
                    "Salesforce?).",
                )
                record = PlannedRecord(
                    record_id=row.record_id,
                    record_kind=row.record_kind,  # type: ignore[arg-type]
                    label=row.label,
                    action="create",
                    problems=(gone,),
                    lookup_key=row.record_id if row.record_kind == "account" else "",
                )
                items.append(_Item(0, record, check_first=row.record_id in maybe_sent))
        order = {r.record_id: r.seq for r in self.journal.records_of(run_id)}
        for item in items:
            item.seq = order.get(item.record.record_id, len(order))
        items.sort(key=lambda i: i.seq)
        done_outcomes = {
            r.record_id: Outcome(
                RecordState(r.state), r.detail, r.zuora_id, r.zuora_number, r.request_id
            )
            for r in finished.values()
        }
        return self._run(run_id, run.kind, items, prior=done_outcomes, resumed=True)

    def retry_failed(
        self,
        run_id: str,
        planner: Callable[[str, list[str]], SyncPlan],
        states: Iterable[RecordState] = (RecordState.FAILED, RecordState.TIMED_OUT),
    ) -> RunResult:
        """A new run (linked to ``run_id``) of the records that ended in ``states``."""
        run = self.journal.run(run_id)
        rows = self.journal.records_of(run_id, states)
        if not rows:
            raise JournalError(f"Run {run_id} has no failed records to retry.")
        plan = self._replan(run.kind, rows, planner)
        return self.execute(plan, engine_name=self.engine.name, parent_run_id=run_id)

    # -- planning again --------------------------------------------------------------------

    def _replan(
        self, kind: str, rows: Sequence[Any], planner: Callable[[str, list[str]], SyncPlan]
    ) -> SyncPlan:
        order_ids = [r.record_id for r in rows if r.record_kind == "order"]
        account_ids = [r.record_id for r in rows if r.record_kind == "account"]
        records: list[PlannedRecord] = []
        seen: set[str] = set()
        plans: list[SyncPlan] = []
        if account_ids:
            plans.append(planner("accounts", account_ids))
        if order_ids:
            plans.append(planner("orders", order_ids))
        accounts_first = sorted(
            (r for p in plans for r in p.records), key=lambda r: r.record_kind != "account"
        )
        for record in accounts_first:
            if record.record_id not in seen:
                seen.add(record.record_id)
                records.append(record)
        options = plans[0].options if plans else SyncPlan(kind, ()).options
        return SyncPlan(kind=kind, records=tuple(records), options=options)

    # -- the run ---------------------------------------------------------------------------

    def _run(
        self,
        run_id: str,
        kind: str,
        items: list[_Item],
        *,
        prior: Mapping[str, Outcome] | None = None,
        resumed: bool = False,
    ) -> RunResult:
        self._run_id = run_id
        self._sender = RecordSender(
            engine=self.engine,
            journal=self.journal,
            run_id=run_id,
            profile=self.profile,
            retry=self.retry,
            limit=self.limit,
            cancel=self._cancel,
            rng=self._rng,
            log=self._log,
            done=self._done_snapshot,
        )
        self._items = {i.record.record_id: i for i in items}
        self._done: dict[str, Outcome] = dict(prior or {})
        self._ready: list[tuple[int, str]] = []
        self._dependents: dict[str, list[str]] = {}
        self._started = time.monotonic()
        self._finished_count = 0
        self._worked_count = 0
        self._counts = {"succeeded": 0, "failed": 0, "skipped": 0}
        self._active = 0
        self._fatal = None
        self._waiting: dict[str, _Item] = {}  # accepted, waiting for verification
        self._fresh = False  # a record started waiting while the verifier waits
        self._emit(RunStarted(run_id, kind, self.engine.name, len(items)))
        if resumed:
            self._log("INFO", f"Resuming run {run_id}: {len(items)} records to finish.")
        with self._cond:
            for item in items:
                pending = [
                    d
                    for d in item.record.depends_on
                    if d in self._items and d not in self._done and d != item.record.record_id
                ]
                item.waiting_on = len(pending)
                for dependency in pending:
                    self._dependents.setdefault(dependency, []).append(item.record.record_id)
            for item in items:
                if item.verify_only:
                    self._await_verification_locked(item, item.accepted)
                elif item.waiting_on == 0:
                    self._make_ready(item)
        workers = [
            threading.Thread(target=self._worker, name=f"sync-worker-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        if self._verifier is not None:
            verifier = self._verifier
            workers.append(
                threading.Thread(
                    target=self._verify_loop, args=(verifier,), name="sync-verifier", daemon=True
                )
            )
        for worker in workers:
            worker.start()
        # Wait for every record to be final; on cancel, settle the queue at once.
        with self._cond:
            while not self._all_final():
                if self._cancel.is_set():
                    self._cancel_queued()
                    if self._all_final():
                        break
                self._cond.wait(0.2)
        for worker in workers:
            worker.join()
        status = "cancelled" if self._cancel.is_set() else "finished"
        message = ""
        if self._fatal:
            status, message = "failed", self._fatal
        counts = {s.value: 0 for s in RecordState}
        for item in items:
            counts[item.state.value] += 1
        try:
            self.journal.finish_run(run_id, status, message)
        except JournalError as exc:
            status, message = "failed", str(exc)
        self._emit(RunFinished(run_id, status, {k: v for k, v in counts.items() if v}, message))
        return RunResult(
            run_id=run_id,
            status=status,
            message=message,
            records=[
                RecordResult(
                    i.record.record_id,
                    i.record.record_kind,
                    i.record.label,
                    i.state,
                    i.outcome.detail if i.outcome else "",
                    i.outcome.zuora_id if i.outcome else None,
                    i.outcome.zuora_number if i.outcome else None,
                )
                for i in items
            ],
        )

    def _all_final(self) -> bool:
        return self._finished_count >= len(self._items) and self._active == 0

    # Called with self._cond held.
    def _make_ready(self, item: _Item) -> None:
        record = item.record
        failed_dependency = next(
            (
                d
                for d in record.depends_on
                if d in self._done
                and self._done[d].state not in SUCCESS_STATES
                and not (self._done[d].state is RecordState.SKIPPED and self._done[d].zuora_id)
            ),
            None,
        )
        if record.blocked and not item.check_first:  # (if it may be in Zuora: look first)
            self._finish_locked(
                item, Outcome(RecordState.FAILED, "Not sent: " + record.problem_text())
            )
        elif record.action == "skip" and not item.check_first:
            self._finish_locked(
                item,
                Outcome(
                    RecordState.SKIPPED,
                    record.reason or "Nothing to send.",
                    record.zuora_id,
                    record.zuora_number,
                ),
            )
        elif failed_dependency is not None:
            dependency = self._done[failed_dependency]
            dep_item = self._items.get(failed_dependency)
            label = dep_item.record.label if dep_item else failed_dependency
            if dependency.state is RecordState.CANCELLED:
                outcome = Outcome(RecordState.CANCELLED, f"Not sent: {label} was cancelled.")
            else:
                outcome = Outcome(
                    RecordState.FAILED,
                    f"Not sent: {label} did not reach Zuora ({dependency.state.label}: "
                    f"{dependency.detail})",
                )
            self._finish_locked(item, outcome)
        elif self._cancel.is_set():
            self._finish_locked(item, Outcome(RecordState.CANCELLED, "Cancelled before sending."))
        else:
            heapq.heappush(self._ready, (item.seq, record.record_id))
            self._cond.notify_all()

    def _cancel_queued(self) -> None:
        """Called with self._cond held: every record not started becomes Cancelled."""
        waiting = [
            i
            for i in self._items.values()
            if i.state is RecordState.QUEUED and i.record.record_id not in self._done
        ]
        if not waiting:
            return
        self._ready.clear()
        ids = [i.record.record_id for i in waiting]
        detail = "Cancelled before sending."
        try:
            self.journal.record_transitions(self._run_id, ids, RecordState.CANCELLED, detail)
        except JournalError as exc:
            self._fatal = self._fatal or str(exc)
        for item in waiting:
            self._finish_locked(item, Outcome(RecordState.CANCELLED, detail), journal=False)

    def _finish_locked(self, item: _Item, outcome: Outcome, *, journal: bool = True) -> None:
        record = item.record
        old = item.state
        if record.record_id in self._done and item.state in FINAL_STATES:
            return
        self._waiting.pop(record.record_id, None)
        if journal:
            self._journal_outcome(record, outcome)
        item.state = outcome.state
        item.outcome = outcome
        self._done[record.record_id] = outcome
        self._finished_count += 1
        if item.worked:
            self._worked_count += 1
        if outcome.state in SUCCESS_STATES:
            self._counts["succeeded"] += 1
        elif outcome.state is RecordState.SKIPPED:
            self._counts["skipped"] += 1
        else:
            self._counts["failed"] += 1
        self._emit(
            RecordStateChanged(
                self._run_id,
                record.record_id,
                record.label,
                old,
                outcome.state,
                outcome.detail,
                outcome.zuora_number,
                record.record_kind,
            )
        )
        self._emit(self._progress())
        for dependent_id in self._dependents.get(record.record_id, ()):
            dependent = self._items[dependent_id]
            dependent.waiting_on -= 1
            if dependent.waiting_on == 0 and dependent.state is RecordState.QUEUED:
                self._make_ready(dependent)
        self._cond.notify_all()

    def _journal_outcome(self, record: PlannedRecord, outcome: Outcome) -> None:
        """Journal where a record now stands (needs no lock: the journal has its own)."""
        try:
            self.journal.record_transition(
                self._run_id,
                record.record_id,
                outcome.state,
                detail=outcome.detail,
                error=outcome.detail
                if outcome.state
                not in SUCCESS_STATES | {RecordState.SKIPPED, RecordState.VERIFYING}
                else None,
                zuora_id=outcome.zuora_id,
                zuora_number=outcome.zuora_number,
                request_id=outcome.request_id,
            )
        except JournalError as exc:
            self._journal_broken(exc)

    def _progress(self) -> Progress:
        elapsed = max(1e-6, time.monotonic() - self._started)
        total = len(self._items)
        done = self._finished_count
        rate = self._worked_count / elapsed if self._worked_count else 0.0
        remaining = total - done
        eta = (remaining / rate) if rate > 0 else (0.0 if remaining == 0 else None)
        return Progress(
            done=done,
            total=total,
            succeeded=self._counts["succeeded"],
            failed=self._counts["failed"],
            skipped=self._counts["skipped"],
            rate_per_s=round(rate, 3),
            eta_s=round(eta, 1) if eta is not None else None,
            verifying=len(self._waiting),
        )

    def _journal_broken(self, exc: JournalError) -> None:
        """Without a journal nothing can be sent safely: stop the run."""
        if self._fatal is None:
            self._fatal = f"The run stopped because the journal could not be written: {exc}"
            self._log("ERROR", self._fatal)
        self._cancel.set()
        self.limit.wake()

    # -- workers ---------------------------------------------------------------------------

    def _next(self) -> _Item | None:
        with self._cond:
            while True:
                if self._cancel.is_set():
                    return None
                if self._ready:
                    _, record_id = heapq.heappop(self._ready)
                    item = self._items[record_id]
                    item.state = RecordState.RUNNING
                    item.worked = True
                    self._active += 1
                    return item
                if self._finished_count >= len(self._items):
                    return None
                self._cond.wait(0.2)

    def _worker(self) -> None:
        while True:
            item = self._next()
            if item is None:
                return
            try:
                outcome = self._process(item)
            except JournalError as exc:
                self._journal_broken(exc)
                outcome = Outcome(RecordState.FAILED, f"Stopped: {exc}")
            except Exception as exc:  # an engine bug must not leave a record unfinished
                log.exception("sync of %s failed unexpectedly", item.record.record_id)
                outcome = Outcome(
                    RecordState.FAILED,
                    f"Internal error while syncing ({type(exc).__name__}: {exc}). Nothing more "
                    "was sent for this record; the log has the details.",
                )
            # Journaled before taking the lock: the other workers need not wait for the fsync.
            self._journal_outcome(item.record, outcome)
            with self._cond:
                self._active -= 1
                if outcome.state is RecordState.VERIFYING:
                    self._await_verification_locked(item, outcome.detail)
                else:
                    self._finish_locked(item, outcome, journal=False)

    def _set_running(self, item: _Item, detail: str = "") -> None:
        # Not journaled: "running" tells a resumed run nothing that "queued" does not, and
        # each journal commit is an fsync. The journal's next write is "sending" (durable,
        # before the request leaves) or the final state.
        self._emit(
            RecordStateChanged(
                self._run_id,
                item.record.record_id,
                item.record.label,
                RecordState.QUEUED,
                RecordState.RUNNING,
                detail,
                None,
                item.record.record_kind,
            )
        )

    def _process(self, item: _Item) -> Outcome:
        self._set_running(item, "checking Zuora first" if item.check_first else "")
        return self._sender.send(item.record, check_first=item.check_first)

    # -- verification ----------------------------------------------------------------------

    # Called with self._cond held.
    def _await_verification_locked(self, item: _Item, accepted: str) -> None:
        """The engine accepted ``item`` (journaled Verifying): let the verifier take it."""
        verifier = self._verifier
        if verifier is None:  # an engine bug: it cannot verify what it asks to verify
            self._finish_locked(
                item,
                Outcome(
                    RecordState.FAILED,
                    f"Internal error: {accepted} The {self.engine.name} engine cannot verify it; "
                    "check Zuora.",
                ),
            )
            return
        if self._cancel.is_set():  # (also when the journal could not be written)
            self._finish_locked(item, verifier.verification_cancelled(item.record, accepted))
            return
        old = item.state
        item.state = RecordState.VERIFYING
        item.accepted = accepted
        item.deadline = time.monotonic() + verifier.verify_timeout_s
        self._waiting[item.record.record_id] = item
        self._fresh = True
        self._emit(
            RecordStateChanged(
                self._run_id,
                item.record.record_id,
                item.record.label,
                old,
                RecordState.VERIFYING,
                accepted,
                None,
                item.record.record_kind,
            )
        )
        self._emit(self._progress())
        self._cond.notify_all()

    def _verify_loop(self, verifier: Verifier) -> None:
        """The verifier thread: check all waiting records at once, once per poll interval.

        The interval grows (x1.5, up to ``max_poll_interval_s``) while nothing appears, and
        returns to ``poll_interval_s`` as soon as something does; a record that starts waiting
        is looked at within ``poll_interval_s`` whatever the interval has grown to.
        """
        interval = verifier.poll_interval_s
        problem = ""
        while True:
            with self._cond:
                while not self._waiting:
                    if self._cancel.is_set() or self._finished_count >= len(self._items):
                        return
                    self._cond.wait(0.2)
                self._wait_for_next_look_locked(verifier, interval)
                if self._cancel.is_set():
                    for item in list(self._waiting.values()):
                        outcome = verifier.verification_cancelled(item.record, item.accepted)
                        self._finish_locked(item, outcome)
                    return
                batch = list(self._waiting.values())
            try:
                found = verifier.verify([i.record for i in batch])
                problem = ""
            except Exception as exc:  # whatever it is, records keep waiting until their deadline
                message = exc.message if isinstance(exc, AttemptError) else f"{exc!r}"
                if not isinstance(exc, AttemptError):
                    log.exception("verification failed unexpectedly")
                if message != problem:
                    self._log(
                        "WARNING",
                        f"Could not check Zuora for {len(batch)} record(s) waiting for "
                        f"verification: {message.rstrip('.')}. Trying again.",
                    )
                found, problem = {}, message
            now = time.monotonic()
            settled: list[tuple[_Item, Outcome]] = []
            for item in batch:  # only this thread finishes waiting records
                outcome = found.get(item.record.record_id)
                if outcome is None and now >= item.deadline:
                    outcome = verifier.verification_timed_out(item.record, item.accepted, problem)
                if outcome is not None:
                    self._journal_outcome(item.record, outcome)  # outside the lock, as workers do
                    settled.append((item, outcome))
            with self._cond:
                for item, outcome in settled:
                    self._finish_locked(item, outcome, journal=False)
            if found:
                interval = verifier.poll_interval_s
            else:
                interval = min(interval * 1.5, verifier.max_poll_interval_s)

    # Called with self._cond held and records waiting (only the verifier removes them).
    def _wait_for_next_look_locked(self, verifier: Verifier, interval: float) -> None:
        """Until ``interval`` has passed, a deadline is due, or the run is cancelled."""
        due = time.monotonic() + interval
        self._fresh = False
        while not self._cancel.is_set():
            now = time.monotonic()
            if self._fresh:
                self._fresh = False
                due = min(due, now + verifier.poll_interval_s)
            soonest = min(due, *(i.deadline for i in self._waiting.values()))
            if now >= soonest:
                return
            self._cond.wait(min(soonest - now, 0.2))  # cancel() may skip its notify

    def _done_snapshot(self) -> dict[str, Outcome]:
        with self._cond:
            return dict(self._done)

    # -- events ----------------------------------------------------------------------------

    def _log(
        self,
        level: str,
        message: str,
        record_id: str | None = None,
        *,
        track_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        log.log(logging.getLevelName(level), message)
        self._emit(LogLine(level, message, record_id, track_id, request_id))

    def _emit(self, event: Event) -> None:
        if self.subscriber is None:
            return
        with self._emit_lock:
            try:
                self.subscriber.on_event(event)
            except Exception:
                log.exception("the run's subscriber failed on %r", type(event).__name__)


def _new_record(record: PlannedRecord) -> NewRecord:
    return NewRecord(
        record_id=record.record_id,
        record_kind=record.record_kind,
        label=record.label,
        action=record.action,
        depends_on=record.depends_on,
        payload=record.payload,
        detail=record.reason,
        zuora_id=record.zuora_id,
        zuora_number=record.zuora_number,
    )
