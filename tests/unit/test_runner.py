"""The runner's scheduling: bounded and adaptive concurrency, safe retries, cancel, resume.

The engine here is an in-process fake implementing the Engine interface (no HTTP at all); the
engines' HTTP behaviour is tested against the sandbox in tests/integration.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cpq_sync_gui.sync.events import (
    FINAL_STATES,
    LogLine,
    Progress,
    RecordState,
    RecordStateChanged,
    RunFinished,
    RunStarted,
)
from cpq_sync_gui.sync.journal import SENDING, JournalError, NewRecord, RunJournal
from cpq_sync_gui.sync.mapping import Problem
from cpq_sync_gui.sync.plan import PlannedRecord, SyncPlan
from cpq_sync_gui.sync.runner import (
    AdaptiveLimit,
    AttemptError,
    CallContext,
    Outcome,
    RetryPolicy,
    SyncRunner,
    idempotency_key,
    payload_hash,
)

FAST = RetryPolicy(max_attempts=5, base_delay_s=0.001, max_delay_s=0.01)


def account(n: int, **changes: Any) -> PlannedRecord:
    record_id = f"001T{n:014d}"
    values: dict[str, Any] = {
        "record_id": record_id,
        "record_kind": "account",
        "label": f"Account {n}",
        "action": "create",
        "payload": {"name": f"Account {n}", "crmId": record_id},
        "lookup_key": record_id,
    }
    values.update(changes)
    return PlannedRecord(**values)


def order(n: int, account_id: str | None = None, **changes: Any) -> PlannedRecord:
    values: dict[str, Any] = {
        "record_id": f"801T{n:014d}",
        "record_kind": "order",
        "label": f"Order {n}",
        "action": "create",
        "payload": {"orderNumber": f"{n:08d}", "existingAccountNumber": "<later>"},
        "lookup_key": f"{n:08d}",
    }
    if account_id:
        values["depends_on"] = (account_id,)
        values["bindings"] = {"existingAccountNumber": account_id}
    values.update(changes)
    return PlannedRecord(**values)


def plan_of(*records: PlannedRecord, kind: str = "orders") -> SyncPlan:
    return SyncPlan(kind=kind, records=tuple(records))


Step = str | Callable[["FakeEngine", PlannedRecord, CallContext], Outcome]


@dataclass
class FakeEngine:
    """A pretend Zuora: ``created`` is what exists there; ``script`` says what each attempt does.

    Script steps: "ok", "server", "rate_limited", "rejected", "auth", "bug",
    "ambiguous_created" (created, answer lost), "ambiguous_lost" (not created, answer lost).
    """

    name: str = "fake"
    script: dict[str, list[Step]] = field(default_factory=dict)
    hold: float = 0.0  # seconds each send takes (interruptible only by the test's release)
    hold_until_peak: int = 0  # each send waits (≤5 s) until this many sends were in flight
    release: threading.Event = field(default_factory=threading.Event)
    created: dict[str, str] = field(default_factory=dict)
    sends: list[tuple[str, int, str, float]] = field(default_factory=list)
    finished_at: dict[str, float] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    journal: RunJournal | None = None
    states_seen_during_send: list[str] = field(default_factory=list)
    retry_after: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def prepare(self, record: PlannedRecord, done: Mapping[str, Outcome]) -> Any:
        payload = dict(record.payload or {})
        for name, dependency in record.bindings.items():
            payload[name] = done[dependency].zuora_number
        return payload

    def find_existing(self, record: PlannedRecord) -> Outcome | None:
        with self.lock:
            self.lookups.append(record.record_id)
            number = self.created.get(record.record_id)
        if number is None:
            return None
        return Outcome(RecordState.SYNCED, "", f"id-{number}", number)

    def _create(self, record: PlannedRecord) -> str:
        with self.lock:
            if record.record_id in self.created:
                raise AssertionError(f"duplicate create of {record.record_id}")
            number = f"Z{len(self.created) + 1:05d}"
            self.created[record.record_id] = number
            return number

    def send(self, record: PlannedRecord, payload: Any, call: CallContext) -> Outcome:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.sends.append(
                (record.record_id, call.attempt, call.idempotency_key, time.monotonic())
            )
            steps = self.script.get(record.record_id, [])
            step = steps.pop(0) if steps else "ok"
        try:
            if self.journal is not None:
                row = self.journal.record(call.run_id, record.record_id)
                self.states_seen_during_send.append(row.state if row else "?")
            if self.hold:
                self.release.wait(self.hold)
            deadline = time.monotonic() + 5
            while self.peak < self.hold_until_peak and time.monotonic() < deadline:
                time.sleep(0.002)
            if callable(step):
                return step(self, record, call)
            if step == "ok":
                number = self._create(record)
                return Outcome(RecordState.SYNCED, f"Created {number}", f"id-{number}", number)
            if step == "ambiguous_created":
                self._create(record)
                raise AttemptError("ambiguous", "connection reset after sending")
            if step == "ambiguous_lost":
                raise AttemptError("ambiguous", "read timed out")
            if step == "bug":
                raise ValueError("engine bug")
            raise AttemptError(step, f"{step} happened", retry_after=self.retry_after)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.finished_at[record.record_id] = time.monotonic()


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.lock = threading.Lock()

    def on_event(self, event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        with self.lock:
            return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def journal() -> RunJournal:
    with RunJournal() as opened:
        yield opened


def make_runner(
    engine: FakeEngine, journal: RunJournal, **kwargs: Any
) -> tuple[SyncRunner, Recorder]:
    recorder = Recorder()
    kwargs.setdefault("retry", FAST)
    runner = SyncRunner(
        engine,
        journal,
        profile="uat",
        subscriber=recorder,
        rng=random.Random(1),
        **kwargs,
    )
    return runner, recorder


def states(result: Any) -> dict[str, RecordState]:
    return {r.record_id: r.state for r in result.records}


# --- the normal path ------------------------------------------------------------------------


def test_every_record_ends_synced_with_events_and_journal(journal: RunJournal) -> None:
    engine = FakeEngine(journal=journal)
    accounts = [account(n) for n in range(5)]
    orders = [order(n, accounts[n % 5].record_id) for n in range(10)]
    runner, recorder = make_runner(engine, journal)
    result = runner.execute(plan_of(*accounts, *orders))
    assert result.status == "finished"
    assert result.all_final
    assert result.ok
    assert set(states(result).values()) == {RecordState.SYNCED}
    assert len(engine.created) == 15
    # Journaled as "sending" before every send left.
    assert set(engine.states_seen_during_send) == {SENDING}
    rows = journal.records_of(result.run_id)
    assert {r.state for r in rows} == {"synced"}
    assert all(r.idempotency_key and r.zuora_number for r in rows)
    events = recorder.events
    assert isinstance(events[0], RunStarted)
    assert events[0].total == 15
    assert isinstance(events[-1], RunFinished)
    assert events[-1].counts == {"synced": 15}
    final_progress = recorder.of(Progress)[-1]
    assert (final_progress.done, final_progress.total, final_progress.succeeded) == (15, 15, 15)
    assert final_progress.eta_s == 0.0
    assert final_progress.rate_per_s > 0
    finals = [e for e in recorder.of(RecordStateChanged) if e.new in FINAL_STATES]
    assert len(finals) == 15
    assert journal.run(result.run_id).status == "finished"


def test_orders_wait_for_their_account(journal: RunJournal) -> None:
    engine = FakeEngine(hold=0.05)
    acct = account(1)
    orders = [order(n, acct.record_id) for n in range(6)]
    runner, _ = make_runner(engine, journal, concurrency=8)
    result = runner.execute(plan_of(acct, *orders))
    assert result.ok
    account_done = engine.finished_at[acct.record_id]
    order_starts = [t for rid, _, _, t in engine.sends if rid.startswith("801")]
    assert min(order_starts) >= account_done
    # The account's Zuora number was filled into each order at send time.
    assert all(r.state is RecordState.SYNCED for r in result.records)


def test_a_failed_account_fails_its_orders_without_sending_them(journal: RunJournal) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: ["rejected"]})
    orders = [order(n, acct.record_id) for n in range(3)]
    runner, _ = make_runner(engine, journal)
    result = runner.execute(plan_of(acct, *orders))
    assert set(states(result).values()) == {RecordState.FAILED}
    assert [rid for rid, *_ in engine.sends] == [acct.record_id]
    detail = result.records[1].detail
    assert detail.startswith("Not sent: Account 1 did not reach Zuora (Failed: rejected happened")
    assert not result.ok


def test_blocked_and_skipped_records_are_never_sent(journal: RunJournal) -> None:
    blocked = account(
        1, problems=(Problem("billing_country_missing", "Account 1 has no billing country."),)
    )
    skipped = account(2, action="skip", reason="already in Zuora as A7", zuora_number="A7")
    warned = account(3, problems=(Problem("mixed_terms", "Terms differ.", severity="warning"),))
    engine = FakeEngine()
    runner, _ = make_runner(engine, journal)
    result = runner.execute(plan_of(blocked, skipped, warned, kind="accounts"))
    got = {r.record_id: (r.state, r.detail, r.zuora_number) for r in result.records}
    assert got[blocked.record_id] == (
        RecordState.FAILED,
        "Not sent: Account 1 has no billing country.",
        None,
    )
    assert got[skipped.record_id] == (RecordState.SKIPPED, "already in Zuora as A7", "A7")
    assert got[warned.record_id][0] is RecordState.SYNCED
    assert [rid for rid, *_ in engine.sends] == [warned.record_id]


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 16])
def test_concurrency_is_bounded(journal: RunJournal, limit: int) -> None:
    engine = FakeEngine(hold=0.01, hold_until_peak=limit)
    runner, _ = make_runner(engine, journal, concurrency=limit)
    result = runner.execute(plan_of(*[account(n) for n in range(40)], kind="accounts"))
    assert result.ok
    assert engine.peak == limit
    assert runner.limit.peak_in_flight == limit


@pytest.mark.parametrize("bad", [0, 17])
def test_concurrency_outside_1_to_16_is_refused(journal: RunJournal, bad: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 16"):
        SyncRunner(FakeEngine(), journal, profile="p", concurrency=bad)


def test_adaptive_limit_halves_and_recovers() -> None:
    limit = AdaptiveLimit(16, cooldown_s=0.0)
    assert limit.throttled() == 8
    assert limit.throttled() == 4
    limit.pressure(remaining=30, limit=40)  # plenty left
    assert limit.limit == 4
    limit.pressure(remaining=2, limit=40)  # low: growth stops, but only a 429 halves
    assert limit.limit == 4
    for _ in range(2):
        limit.throttled()
    assert limit.limit == 1
    grown = [limit.succeeded() for _ in range(200)]
    assert limit.limit == 16
    assert [g for g in grown if g is not None] == list(range(2, 17))
    cooled = AdaptiveLimit(8, cooldown_s=60)
    assert cooled.throttled() == 4
    assert cooled.throttled() is None  # a burst of 429s halves once


def test_in_flight_sends_never_exceed_the_adaptive_limit(journal: RunJournal) -> None:
    seen: list[tuple[int, int]] = []
    runner_box: list[SyncRunner] = []

    def watch(engine: FakeEngine, record: PlannedRecord, call: CallContext) -> Outcome:
        seen.append((engine.in_flight, runner_box[0].limit.limit))
        time.sleep(0.01)
        number = engine._create(record)
        return Outcome(RecordState.SYNCED, "", f"id-{number}", number)

    records = [account(n) for n in range(40)]
    engine = FakeEngine(script={r.record_id: [watch] for r in records})
    runner, _ = make_runner(engine, journal, concurrency=8, throttle_cooldown_s=0.0)
    runner_box.append(runner)
    runner.limit.throttled()
    runner.limit.throttled()  # Zuora pushed back before the run: 2 at a time
    result = runner.execute(plan_of(*records, kind="accounts"))
    assert result.ok
    assert seen[0][1] == 2
    assert all(in_flight <= limit for in_flight, limit in seen), seen
    assert runner.limit.limit > 2  # and it recovered additively


def test_429s_slow_the_run_down(journal: RunJournal) -> None:
    records = [account(n) for n in range(24)]
    engine = FakeEngine(hold=0.01, script={r.record_id: ["rate_limited"] for r in records[:8]})
    runner, recorder = make_runner(engine, journal, concurrency=8, throttle_cooldown_s=0.0)
    result = runner.execute(plan_of(*records, kind="accounts"))
    assert result.ok
    assert any("slow down" in line.message for line in recorder.of(LogLine))
    assert len(engine.created) == 24


# --- retries --------------------------------------------------------------------------------


def test_safe_failures_are_retried_with_the_same_idempotency_key(journal: RunJournal) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: ["server", "network_before_send", "ok"]})
    runner, recorder = make_runner(engine, journal)
    result = runner.execute(plan_of(acct, kind="accounts"))
    assert result.ok
    keys = {key for _, _, key, _ in engine.sends}
    assert [attempt for _, attempt, _, _ in engine.sends] == [1, 2, 3]
    expected = idempotency_key("uat", acct.record_id, payload_hash(acct.payload))
    assert keys == {expected}
    assert len(expected) <= 255
    assert journal.record(result.run_id, acct.record_id).attempt == 3
    assert len([line for line in recorder.of(LogLine) if line.level == "WARNING"]) == 2


def test_attempts_are_bounded(journal: RunJournal) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: ["server"] * 10})
    runner, _ = make_runner(engine, journal, retry=RetryPolicy(3, 0.001, 0.01))
    result = runner.execute(plan_of(acct, kind="accounts"))
    assert states(result)[acct.record_id] is RecordState.FAILED
    assert result.records[0].detail == "Gave up after 3 attempts: server happened"
    assert len(engine.sends) == 3


@pytest.mark.parametrize("kind", ["rejected", "idempotency_mismatch", "auth"])
def test_unsafe_or_final_failures_are_not_retried(journal: RunJournal, kind: str) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: [kind, "ok"]})
    runner, _ = make_runner(engine, journal)
    result = runner.execute(plan_of(acct, kind="accounts"))
    assert states(result)[acct.record_id] is RecordState.FAILED
    assert len(engine.sends) == 1
    if kind == "auth":
        assert "even after a fresh log-in" in result.records[0].detail


def test_a_lost_answer_is_looked_up_before_sending_again(journal: RunJournal) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: ["ambiguous_created"]})
    runner, _ = make_runner(engine, journal)
    result = runner.execute(plan_of(acct, kind="accounts"))
    assert states(result)[acct.record_id] is RecordState.SYNCED
    assert len(engine.sends) == 1  # found in Zuora: not sent again
    assert engine.lookups == [acct.record_id]
    assert result.records[0].zuora_number == "Z00001"


def test_a_lost_request_is_sent_again_after_looking(journal: RunJournal) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: ["ambiguous_lost", "ok"]})
    runner, _ = make_runner(engine, journal)
    result = runner.execute(plan_of(acct, kind="accounts"))
    assert states(result)[acct.record_id] is RecordState.SYNCED
    assert engine.lookups == [acct.record_id]
    assert len(engine.sends) == 2
    assert len(engine.created) == 1


def test_an_engine_bug_fails_the_record_not_the_run(journal: RunJournal) -> None:
    records = [account(1), account(2)]
    engine = FakeEngine(script={records[0].record_id: ["bug"]})
    runner, _ = make_runner(engine, journal)
    result = runner.execute(plan_of(*records, kind="accounts"))
    assert [r.state for r in result.records] == [RecordState.FAILED, RecordState.SYNCED]
    assert "Internal error while syncing (ValueError: engine bug)" in result.records[0].detail


def test_a_broken_subscriber_does_not_stop_the_run(journal: RunJournal) -> None:
    class Broken:
        def on_event(self, event: Any) -> None:
            raise RuntimeError("window closed")

    runner = SyncRunner(FakeEngine(), journal, profile="p", subscriber=Broken(), retry=FAST)
    assert runner.execute(plan_of(account(1), kind="accounts")).ok


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_finishes_in_flight_calls_and_cancels_the_rest_within_a_second(
    journal: RunJournal,
) -> None:
    engine = FakeEngine(hold=0.4)
    records = [account(n) for n in range(200)]
    runner, recorder = make_runner(engine, journal, concurrency=4)
    outcome: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("result", runner.execute(plan_of(*records)))
    )
    thread.start()
    deadline = time.monotonic() + 5
    while engine.in_flight < 4 and time.monotonic() < deadline:
        time.sleep(0.005)
    cancelled_at = time.monotonic()
    runner.cancel()
    # Everything not started is Cancelled within a second, while the calls in flight go on.
    while time.monotonic() - cancelled_at < 1.0:
        cancelled = [e for e in recorder.of(RecordStateChanged) if e.new is RecordState.CANCELLED]
        if len(cancelled) == 196:
            break
        time.sleep(0.01)
    assert len(cancelled) == 196
    assert time.monotonic() - cancelled_at < 1.0
    thread.join(timeout=2)
    assert not thread.is_alive()
    result = outcome["result"]
    assert result.status == "cancelled"
    assert result.all_final
    counts = result.counts()
    assert counts == {"synced": 4, "cancelled": 196}  # in-flight calls finished
    assert len(engine.sends) == 4
    assert journal.run_summary(result.run_id).counts == {"synced": 4, "cancelled": 196}
    assert journal.run(result.run_id).status == "cancelled"


def test_backoff_waits_are_interrupted_by_cancel(journal: RunJournal) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: ["rate_limited"]}, retry_after=60.0)
    runner, _ = make_runner(engine, journal)
    outcome: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: outcome.setdefault("result", runner.execute(plan_of(acct)))
    )
    thread.start()
    deadline = time.monotonic() + 5
    while not engine.sends and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)  # now in its 60 s Retry-After wait
    started = time.monotonic()
    runner.cancel()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1.0
    assert states(outcome["result"])[acct.record_id] is RecordState.CANCELLED


def test_retry_after_is_honoured(journal: RunJournal) -> None:
    acct = account(1)
    engine = FakeEngine(script={acct.record_id: ["rate_limited"]}, retry_after=0.3)
    runner, _ = make_runner(engine, journal)
    runner.execute(plan_of(acct))
    (_, _, _, first), (_, _, _, second) = engine.sends
    assert second - first >= 0.3


# --- resume and retry -----------------------------------------------------------------------


def _crashed_run(journal: RunJournal, records: list[PlannedRecord]) -> str:
    """A run as a killed process leaves it: one synced, one in flight, the rest queued."""
    run_id = journal.create_run(
        profile="uat",
        kind="accounts",
        engine="fake",
        records=[
            NewRecord(r.record_id, r.record_kind, r.label, payload=r.payload) for r in records
        ],
    )
    journal.mark_result(run_id, records[0].record_id, RecordState.SYNCED, zuora_number="Z1")
    journal.mark_sending(
        run_id, records[1].record_id, attempt=1, idempotency_key="k", payload_hash="h"
    )
    return run_id


def test_resume_checks_zuora_for_what_was_in_flight(journal: RunJournal) -> None:
    records = [account(n) for n in range(4)]
    run_id = _crashed_run(journal, records)
    engine = FakeEngine()
    engine.created[records[1].record_id] = "Z00777"  # the crash happened after Zuora created it
    planned: list[tuple[str, list[str]]] = []

    def planner(kind: str, ids: list[str]) -> SyncPlan:
        planned.append((kind, ids))
        return plan_of(*[r for r in records if r.record_id in ids], kind=kind)

    runner, _ = make_runner(engine, journal)
    assert [r.run_id for r in journal.unfinished_runs()] == [run_id]
    result = runner.resume(run_id, planner)
    assert result.run_id == run_id
    assert result.status == "finished"
    assert planned == [("accounts", [r.record_id for r in records[1:]])]
    assert sorted(rid for rid, *_ in engine.sends) == [records[2].record_id, records[3].record_id]
    assert engine.lookups[0] == records[1].record_id
    final = {r.record_id: (r.state, r.zuora_number) for r in journal.records_of(run_id)}
    assert final[records[0].record_id] == ("synced", "Z1")  # untouched
    assert final[records[1].record_id] == ("synced", "Z00777")
    assert journal.unfinished_runs() == []


def test_retry_failed_makes_a_new_run_of_the_failed_records(journal: RunJournal) -> None:
    records = [account(n) for n in range(3)]
    engine = FakeEngine(script={records[1].record_id: ["rejected"]})
    runner, _ = make_runner(engine, journal)
    first = runner.execute(plan_of(*records, kind="accounts"))
    assert first.counts() == {"synced": 2, "failed": 1}

    def planner(kind: str, ids: list[str]) -> SyncPlan:
        return plan_of(*[r for r in records if r.record_id in ids], kind=kind)

    runner2, _ = make_runner(engine, journal)
    second = runner2.retry_failed(first.run_id, planner)
    assert second.run_id != first.run_id
    assert [r.record_id for r in second.records] == [records[1].record_id]
    assert second.ok
    assert journal.run(second.run_id).parent_run_id == first.run_id
    with pytest.raises(JournalError, match="no failed records"):
        runner2.retry_failed(second.run_id, planner)


def test_a_subscriber_may_cancel_from_inside_on_event(journal: RunJournal) -> None:
    engine = FakeEngine(hold=0.01)
    box: list[SyncRunner] = []

    class CancelOnFirst:
        def on_event(self, event: Any) -> None:
            if isinstance(event, RecordStateChanged) and event.new is RecordState.SYNCED:
                box[0].cancel()

    runner = SyncRunner(
        engine, journal, profile="p", subscriber=CancelOnFirst(), concurrency=2, retry=FAST
    )
    box.append(runner)
    began = time.monotonic()
    result = runner.execute(plan_of(*[account(n) for n in range(50)], kind="accounts"))
    assert time.monotonic() - began < 2
    assert result.status == "cancelled"
    assert result.all_final
    assert result.counts()["cancelled"] >= 45


def test_a_payload_that_cannot_be_completed_fails_without_sending(journal: RunJournal) -> None:
    class Unbindable(FakeEngine):
        def prepare(self, record: PlannedRecord, done: Mapping[str, Outcome]) -> Any:
            raise AttemptError("rejected", "Not sent: the account number is not known.")

    engine = Unbindable()
    runner, _ = make_runner(engine, journal)
    result = runner.execute(plan_of(account(1), kind="accounts"))
    assert [(r.state, r.detail) for r in result.records] == [
        (RecordState.FAILED, "Not sent: the account number is not known.")
    ]
    assert engine.sends == []


def test_resume_never_sends_a_record_the_planner_left_out(journal: RunJournal) -> None:
    records = [account(n) for n in range(4)]
    run_id = _crashed_run(journal, records)  # records[1] was being sent
    engine = FakeEngine()
    engine.created[records[1].record_id] = "Z00042"

    def planner(kind: str, ids: list[str]) -> SyncPlan:
        return plan_of(records[2], kind=kind)  # records[1] and [3] vanished from Salesforce

    runner, _ = make_runner(engine, journal)
    result = runner.resume(run_id, planner)
    got = {r.record_id: (r.state, r.zuora_number) for r in result.records}
    assert got[records[1].record_id] == (RecordState.SYNCED, "Z00042")  # looked up, found
    assert got[records[2].record_id][0] is RecordState.SYNCED
    assert got[records[3].record_id] == (RecordState.FAILED, None)
    assert "could not be planned again" in journal.record(run_id, records[3].record_id).detail
    assert sorted(rid for rid, *_ in engine.sends) == [records[2].record_id]
