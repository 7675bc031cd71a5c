"""The runner's verification of records an engine accepted but has yet to confirm (Verifying):
workers are freed, waiting records are verified together, deadlines, errors, cancel, resume.

The engine is an in-process fake implementing Engine and Verifier (no HTTP); the connector
engine's verification against the sandbox is tested in tests/integration/test_sync_connector.py.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cpq_sync_gui.sync.engine_api import AttemptError, CallContext, Outcome, Verifier
from cpq_sync_gui.sync.events import Event, LogLine, RecordState, RecordStateChanged
from cpq_sync_gui.sync.journal import NewRecord, RunJournal
from cpq_sync_gui.sync.plan_model import PlannedRecord, SyncPlan
from cpq_sync_gui.sync.runner import SyncRunner


def account(n: int) -> PlannedRecord:
    record_id = f"001T{n:014d}"
    return PlannedRecord(
        record_id=record_id,
        record_kind="account",
        label=f"Account {n}",
        action="create",
        payload={"name": f"Account {n}"},
        lookup_key=record_id,
    )


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def on_event(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def changes(self) -> list[RecordStateChanged]:
        with self._lock:
            return [e for e in self.events if isinstance(e, RecordStateChanged)]


class AcceptingEngine:
    """Accepts every record at once; Zuora "shows" a record once ``visible`` holds its id."""

    name = "fake-connector"

    def __init__(self, *, verify_timeout_s: float = 30.0, fail_with: Exception | None = None):
        self.poll_interval_s = 0.01
        self.max_poll_interval_s = 0.05
        self.verify_timeout_s = verify_timeout_s
        self.fail_with = fail_with
        self.visible: set[str] = set()
        self.sent: list[str] = []
        self.looked_up: list[list[str]] = []
        self.lock = threading.Lock()

    def prepare(self, record: PlannedRecord, done: Mapping[str, Outcome]) -> Any:
        return {"id": record.record_id}

    def find_existing(self, record: PlannedRecord) -> Outcome | None:
        return None

    def send(self, record: PlannedRecord, payload: Any, call: CallContext) -> Outcome:
        with self.lock:
            self.sent.append(record.record_id)
        return Outcome(RecordState.VERIFYING, f"Accepted {record.label}.")

    def verify(self, records: Sequence[PlannedRecord]) -> dict[str, Outcome]:
        with self.lock:
            self.looked_up.append([r.record_id for r in records])
            if self.fail_with is not None:
                raise self.fail_with
            return {
                r.record_id: Outcome(RecordState.SYNCED, f"Found {r.label}.", "Z" + r.record_id)
                for r in records
                if r.record_id in self.visible
            }

    def verification_timed_out(self, record: PlannedRecord, accepted: str, problem: str) -> Outcome:
        return Outcome(RecordState.TIMED_OUT, f"{accepted} Not seen. {problem}".strip())

    def verification_cancelled(self, record: PlannedRecord, accepted: str) -> Outcome:
        return Outcome(RecordState.ACCEPTED, f"{accepted} Cancelled while verifying.")


def _runner(
    engine: Any, tmp_path: Path, subscriber: Any = None, concurrency: int = 1
) -> SyncRunner:
    journal = RunJournal(tmp_path / "journal.sqlite3")
    return SyncRunner(engine, journal, profile="p", subscriber=subscriber, concurrency=concurrency)


def test_the_fake_is_a_verifier() -> None:
    assert isinstance(AcceptingEngine(), Verifier)


def test_one_worker_sends_every_record_while_the_first_ones_still_wait(tmp_path: Path) -> None:
    engine = AcceptingEngine()
    records = [account(n) for n in range(6)]
    recorder = Recorder()
    runner = _runner(engine, tmp_path, recorder, concurrency=1)

    def show_all_once_sent() -> None:  # Zuora shows them only after all six were sent
        for _ in range(6000):  # (a hang guard: the assertions below fail if it ends early)
            if len(engine.sent) >= 6:
                break
            threading.Event().wait(0.005)
        with engine.lock:
            engine.visible.update(r.record_id for r in records)

    shower = threading.Thread(target=show_all_once_sent)
    shower.start()
    result = runner.execute(SyncPlan("accounts", tuple(records)))
    shower.join()

    assert result.counts() == {"synced": 6}
    assert all(r.zuora_id == "Z" + r.record_id for r in result.records)
    # With one worker, the six could all be sent only because waiting held no worker.
    changes = recorder.changes()
    first_synced = next(i for i, c in enumerate(changes) if c.new is RecordState.SYNCED)
    verifying = [c for c in changes[:first_synced] if c.new is RecordState.VERIFYING]
    assert len(verifying) == 6
    # Looked up together: some look-up asked about several records at once.
    assert max(len(batch) for batch in engine.looked_up) > 1
    history = runner.journal.history(result.run_id, records[0].record_id)
    assert [h.new_state for h in history] == ["queued", "sending", "verifying", "synced"]


def test_a_record_never_seen_times_out_with_the_last_problem(tmp_path: Path) -> None:
    engine = AcceptingEngine(
        verify_timeout_s=0.2, fail_with=AttemptError("server", "Zuora answered 503.")
    )
    recorder = Recorder()
    runner = _runner(engine, tmp_path, recorder)
    result = runner.execute(SyncPlan("accounts", (account(1), account(2))))
    assert result.counts() == {"timed_out": 2}
    assert all(r.detail.endswith("Not seen. Zuora answered 503.") for r in result.records)
    warnings = [e for e in recorder.events if isinstance(e, LogLine) and e.level == "WARNING"]
    assert len(warnings) == 1  # the same problem is logged once, not once per look
    assert "waiting for verification: Zuora answered 503. Trying again." in warnings[0].message
    journaled = runner.journal.record(result.run_id, result.records[0].record_id)
    assert journaled is not None
    assert journaled.state == "timed_out"


def test_an_engine_bug_while_verifying_still_ends_every_record(tmp_path: Path) -> None:
    engine = AcceptingEngine(verify_timeout_s=0.2, fail_with=KeyError("boom"))
    result = _runner(engine, tmp_path).execute(SyncPlan("accounts", (account(1),)))
    assert result.all_final
    assert result.counts() == {"timed_out": 1}
    assert "KeyError('boom')" in result.records[0].detail


def test_cancel_settles_waiting_records_as_accepted(tmp_path: Path) -> None:
    engine = AcceptingEngine()
    recorder = Recorder()
    runner = _runner(engine, tmp_path, recorder, concurrency=2)
    records = tuple(account(n) for n in range(4))
    box: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: box.setdefault("r", runner.execute(SyncPlan("accounts", records)))
    )
    thread.start()
    for _ in range(6000):  # until the four wait (a hang guard, not a timing check)
        if sum(c.new is RecordState.VERIFYING for c in recorder.changes()) >= 4:
            break
        threading.Event().wait(0.005)
    runner.cancel()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert box["r"].counts() == {"accepted": 4}
    assert all(r.detail.endswith("Cancelled while verifying.") for r in box["r"].records)


def test_resume_verifies_accepted_records_and_sends_only_the_others(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path / "journal.sqlite3")
    records = (account(1), account(2), account(3))
    engine = AcceptingEngine()
    # A run that stopped with record 1 accepted (verifying) and the others not sent yet.
    run_id = journal.create_run(
        profile="p",
        kind="accounts",
        engine=engine.name,
        records=[NewRecord(r.record_id, r.record_kind, r.label, r.action) for r in records],
    )
    first_id = records[0].record_id
    journal.mark_sending(run_id, first_id, attempt=1, idempotency_key="k1", payload_hash="h1")
    journal.record_transition(
        run_id, first_id, RecordState.VERIFYING, detail="Accepted Account 1 earlier."
    )
    engine.visible.update(r.record_id for r in records)
    recorder = Recorder()
    result = SyncRunner(engine, journal, profile="p", subscriber=recorder).resume(
        run_id, lambda kind, ids: SyncPlan(kind, tuple(r for r in records if r.record_id in ids))
    )
    assert result.counts() == {"synced": 3}
    assert sorted(engine.sent) == [records[1].record_id, records[2].record_id]  # not record 1
    first = [c.new for c in recorder.changes() if c.record_id == first_id]
    assert first == [RecordState.VERIFYING, RecordState.SYNCED]
    history = [h.new_state for h in journal.history(run_id, first_id)]
    assert history == ["queued", "sending", "verifying", "synced"]
    journal.close()


def test_an_engine_that_cannot_verify_fails_plainly(tmp_path: Path) -> None:
    class NoVerifier:
        name = "odd"

        def prepare(self, record: PlannedRecord, done: Mapping[str, Outcome]) -> Any:
            return {}

        def find_existing(self, record: PlannedRecord) -> Outcome | None:
            return None

        def send(self, record: PlannedRecord, payload: Any, call: CallContext) -> Outcome:
            return Outcome(RecordState.VERIFYING, "Accepted.")

    result = _runner(NoVerifier(), tmp_path).execute(SyncPlan("accounts", (account(1),)))
    assert result.counts() == {"failed": 1}
    assert "The odd engine cannot verify it; check Zuora." in result.records[0].detail
