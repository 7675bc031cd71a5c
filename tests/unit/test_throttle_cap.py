"""A run never sends more at once than the Concurrency-Limit-Limit Zuora states in its answers."""

from __future__ import annotations

import random
from typing import Any

from cpq_sync_gui.sync.engine_api import AttemptError, CallContext, Outcome
from cpq_sync_gui.sync.events import LogLine, RecordState
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync.plan_model import PlannedRecord
from cpq_sync_gui.sync.runner import RetryPolicy, SyncRunner
from cpq_sync_gui.sync.throttle import AdaptiveLimit
from tests.unit.test_runner import FakeEngine, Recorder, account, plan_of

FAST = RetryPolicy(max_attempts=5, base_delay_s=0.001, max_delay_s=0.01)


def test_cap_lowers_the_maximum_and_growth_stops_there() -> None:
    limit = AdaptiveLimit(16, cooldown_s=0.0)
    assert limit.cap(None) is None
    assert limit.cap(0) is None
    assert limit.cap(40) is None  # above the run's own setting: nothing changes
    assert limit.limit == 16
    assert limit.cap(10) == 10
    assert (limit.maximum, limit.limit) == (10, 10)
    assert limit.cap(10) is None  # said again: no news
    limit.throttled()
    for _ in range(200):
        limit.succeeded()
    assert limit.limit == 10  # grows back to the tenant's limit, never past it


def _answer_with_limit(tenant_limit: int) -> Any:
    def step(engine: FakeEngine, record: PlannedRecord, call: CallContext) -> Outcome:
        number = engine._create(record)
        return Outcome(RecordState.SYNCED, "", f"id-{number}", number, None, None, tenant_limit)

    return step


def _refused_with_limit(tenant_limit: int) -> Any:
    def step(engine: FakeEngine, record: PlannedRecord, call: CallContext) -> Outcome:
        raise AttemptError("rate_limited", "429", status=429, concurrency_limit=tenant_limit)

    return step


def _run(engine: FakeEngine, records: list[PlannedRecord]) -> tuple[SyncRunner, Recorder, Any]:
    recorder = Recorder()
    with RunJournal() as journal:
        runner = SyncRunner(
            engine, journal, profile="uat", subscriber=recorder, concurrency=8, retry=FAST,
            rng=random.Random(1),
        )  # fmt: skip
        result = runner.execute(plan_of(*records, kind="accounts"))
    return runner, recorder, result


def test_a_run_set_above_the_tenant_limit_comes_down_to_it() -> None:
    records = [account(n) for n in range(12)]
    engine = FakeEngine(script={r.record_id: [_answer_with_limit(3)] for r in records})
    runner, recorder, result = _run(engine, records)
    assert result.ok
    assert runner.limit.maximum == 3
    assert any("Zuora allows 3 requests at a time" in e.message for e in recorder.of(LogLine))


def test_a_429_that_states_the_limit_caps_the_run_too() -> None:
    records = [account(n) for n in range(4)]
    script = {records[0].record_id: [_refused_with_limit(2)]}
    runner, _, result = _run(FakeEngine(script=script), records)
    assert result.ok  # the refused record was retried and synced
    assert runner.limit.maximum == 2
