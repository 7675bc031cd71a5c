"""The connector engine against the sandbox's connector endpoint: trigger, verify in Zuora (all
waiting records together), the failures an admin meets (unregistered domain, a sync that never
shows up, no Zuora credentials), and resuming a run stopped while records waited for Zuora."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cpq_sync_gui.connector.client import ConnectorClient
from cpq_sync_gui.net import make_session
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sync.engines import ConnectorEngine
from cpq_sync_gui.sync.events import Event, Progress, RecordState, RecordStateChanged
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync.plan import SyncPlan, build_plan
from cpq_sync_gui.sync.runner import RetryPolicy, RunResult, SyncRunner
from tests.helpers.sandbox_clients import network_settings, salesforce_client, zuora_client

pytestmark = pytest.mark.slow


class Rig:
    def __init__(self, sandbox: Sandbox, domain: str | None = None) -> None:
        self.sandbox = sandbox
        network = network_settings(sandbox, read_timeout_s=5)
        self.salesforce = salesforce_client(sandbox, network)
        session = make_session(network)
        self.zuora = zuora_client(sandbox, session=session, timeouts=(5, 5))
        self.connector = ConnectorClient(
            sandbox.connector_url, domain or sandbox.sfdc_domain, session=session, timeouts=(5, 5)
        )
        self.journal = RunJournal()

    def plan(self, kind: str, ids: list[str], *, with_zuora: bool = True) -> SyncPlan:
        return build_plan(kind, ids, self.salesforce, self.zuora if with_zuora else None)

    def runner(
        self,
        *,
        verify: bool = True,
        subscriber: Any = None,
        concurrency: int = 4,
        **engine_options: Any,
    ) -> SyncRunner:
        engine_options.setdefault("verify_timeout_s", 15.0)
        engine_options.setdefault("poll_interval_s", 0.1)
        engine = ConnectorEngine(self.connector, self.zuora if verify else None, **engine_options)
        return SyncRunner(
            engine,
            self.journal,
            profile="sandbox",
            subscriber=subscriber,
            concurrency=concurrency,
            retry=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2),
        )

    def run(self, kind: str, ids: list[str], **options: Any) -> RunResult:
        plan = self.plan(kind, ids, with_zuora=options.get("verify", True))
        return self.runner(**options).execute(plan)


@pytest.fixture
def rig_for(make_sandbox: Callable[..., Sandbox]) -> Callable[..., Rig]:
    rigs: list[Rig] = []

    def make(domain: str | None = None, **config: Any) -> Rig:
        rig = Rig(make_sandbox(**config), domain)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.journal.close()
        rig.zuora.session.close()  # the connector client shares this session
        rig.salesforce.connection.session.close()


def _clean_accounts(sandbox: Sandbox, count: int) -> list[str]:
    """Accounts the connector can sync: a billing country and state, and no parent."""
    return [
        a["Id"]
        for a in sandbox.org.all("Account")
        if a["BillingCountry"] and a["BillingState"] and not a["ParentId"]
    ][:count]


def test_trigger_then_verify_in_zuora(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    ids = _clean_accounts(rig.sandbox, 4)
    result = rig.run("accounts", ids)
    assert [r.state for r in result.records] == [RecordState.SYNCED] * 4
    for record in result.records:
        in_zuora = rig.sandbox.zuora.accounts_by_crm_id(record.record_id)
        assert [a["accountNumber"] for a in in_zuora] == [record.zuora_number]
        assert record.detail == f"Synced by the connector: Zuora account {record.zuora_number}."
    triggers = rig.sandbox.log.entries("connector", "GET")
    assert len(triggers) == 4
    assert all(t.query["sfdc"] == [rig.sandbox.sfdc_domain] for t in triggers)
    # Orders of those accounts: triggered with orderId and verified by order number.
    orders = [o["Id"] for o in rig.sandbox.org.all("Order") if o["AccountId"] in ids][:2]
    assert orders
    order_result = rig.run("orders", orders)
    synced = [r for r in order_result.records if r.state is RecordState.SYNCED]
    assert synced, [(r.state, r.detail) for r in order_result.records]
    for record in synced:
        assert len(rig.sandbox.zuora.orders_by_number(record.zuora_number)) == 1
    assert rig.sandbox.zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}


def test_an_unregistered_domain_fails_in_plain_words(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(domain="unrouted-org.lightning.force.com")
    ids = _clean_accounts(rig.sandbox, 2)
    result = rig.run("accounts", ids)
    assert [r.state for r in result.records] == [RecordState.FAILED] * 2
    detail = result.records[0].detail
    assert "has not routed this Salesforce domain (unrouted-org.lightning.force.com)" in detail
    assert "HTTP 403" in detail
    assert "support ticket" in detail
    assert "is not registered with this connector" in detail  # the endpoint's own words
    assert rig.sandbox.log.count("connector", "GET") == 2  # a refusal is not retried
    assert rig.sandbox.zuora.account_count() == 0


def test_a_sync_that_never_shows_up_times_out(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(connector_delay_s=60.0)
    ids = _clean_accounts(rig.sandbox, 2)
    result = rig.run("accounts", ids, verify_timeout_s=0.6)
    assert [r.state for r in result.records] == [RecordState.TIMED_OUT] * 2
    detail = result.records[0].detail
    assert detail.startswith("The connector accepted it (HTTP 200) and said: Sync of Account")
    assert "did not appear in Zuora within 0.6 seconds" in detail
    assert "Integration Hub" in detail
    assert not result.ok


def test_without_zuora_credentials_the_trigger_is_accepted_unverified(
    rig_for: Callable[..., Rig],
) -> None:
    rig = rig_for()
    ids = _clean_accounts(rig.sandbox, 2)
    result = rig.run("accounts", ids, verify=False)
    assert [r.state for r in result.records] == [RecordState.ACCEPTED] * 2
    assert "Not verified: no Zuora credentials" in result.records[0].detail
    assert result.ok  # accepted counts as done for the exit code
    assert RecordState.ACCEPTED.label == "Accepted (unverified)"


def test_cancel_stops_verification_at_once(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(connector_delay_s=60.0)
    ids = _clean_accounts(rig.sandbox, 6)
    events = Events()
    runner = rig.runner(verify_timeout_s=60.0, subscriber=events)
    plan = rig.plan("accounts", ids)
    box: dict[str, RunResult] = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", runner.execute(plan)))
    thread.start()
    # Every trigger was accepted: the six wait for Zuora without holding a worker.
    assert events.wait_for(lambda: len(events.verifying()) == 6), events.states()
    runner.cancel()
    thread.join(timeout=30)  # a hang guard, not a timing check
    assert not thread.is_alive()
    assert box["r"].counts() == {"accepted": 6}
    assert all(
        "Verification stopped because the run was cancelled" in r.detail for r in box["r"].records
    )
    assert rig.sandbox.log.count("connector", "GET") == 6


# --- verification of many waiting records at once -------------------------------------------


class Events:
    """A subscriber that keeps every record state change (thread-safe; waits on a condition)."""

    def __init__(self) -> None:
        self.changes: list[RecordStateChanged] = []
        self.progress: list[Progress] = []
        self._cond = threading.Condition()

    def on_event(self, event: Event) -> None:
        with self._cond:
            if isinstance(event, RecordStateChanged):
                self.changes.append(event)
            elif isinstance(event, Progress):
                self.progress.append(event)
            self._cond.notify_all()

    def wait_for(self, check: Callable[[], bool], timeout: float = 20.0) -> bool:
        with self._cond:
            return self._cond.wait_for(check, timeout)

    def states(self) -> dict[str, RecordState]:
        last: dict[str, RecordState] = {}
        for change in list(self.changes):
            last[change.record_id] = change.new
        return last

    def verifying(self) -> list[str]:
        return [k for k, v in self.states().items() if v is RecordState.VERIFYING]

    def path_of(self, record_id: str) -> list[RecordState]:
        return [c.new for c in self.changes if c.record_id == record_id]


def _verification_queries(sandbox: Sandbox) -> list[int]:
    """How many crmId conditions each account query held, in order."""
    asked = []
    for entry in sandbox.log.entries("zuora", "POST", "/v1/action/query"):
        text = json.loads(entry.body)["queryString"]
        if "from Account" in text:
            asked.append(text.count("CrmId = "))
    return asked


def test_many_waiting_records_are_verified_together(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(accounts=200)
    ids = _clean_accounts(rig.sandbox, 100)
    assert len(ids) == 100
    plan = rig.plan("accounts", ids)
    rig.sandbox.log.clear()  # count the run's requests only, not the plan's
    events = Events()
    runner = rig.runner(poll_interval_s=1.0, subscriber=events, concurrency=8)
    result = runner.execute(plan)

    assert result.counts() == {"synced": 100}, [r.detail for r in result.records][:3]
    assert rig.sandbox.log.count("connector", "GET") == 100  # one trigger each, never again
    queries = _verification_queries(rig.sandbox)
    # One query per poll for every waiting record (at most 200 crmIds each), not one or two
    # per record as when each record waited on its own worker (the polls are 1 s apart and
    # the whole run takes a few seconds, so 20 leaves a wide margin on a slow machine).
    assert 1 <= len(queries) <= 20, queries
    assert max(queries) >= 20, queries
    assert all(n <= 200 for n in queries)
    for record in result.records:
        in_zuora = rig.sandbox.zuora.accounts_by_crm_id(record.record_id)
        assert [a["accountNumber"] for a in in_zuora] == [record.zuora_number]
        assert record.detail == f"Synced by the connector: Zuora account {record.zuora_number}."
        # Truthful on screen: running, then waiting for Zuora, then synced; never synced early.
        assert events.path_of(record.record_id) == [
            RecordState.RUNNING,
            RecordState.VERIFYING,
            RecordState.SYNCED,
        ]
        history = [h.new_state for h in rig.journal.history(result.run_id, record.record_id)]
        assert history == ["queued", "sending", "verifying", "synced"]
    assert max(p.verifying for p in events.progress) > 1
    assert events.progress[-1].verifying == 0
    assert rig.sandbox.zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}


def test_a_record_the_connector_never_syncs_times_out_among_synced_ones(
    rig_for: Callable[..., Rig],
) -> None:
    rig = rig_for()
    ids = _clean_accounts(rig.sandbox, 5)
    plan = rig.plan("accounts", ids)
    # After planning, someone clears one account's billing state in Salesforce: the connector
    # refuses it (Integration Hub logs why) and it never appears in Zuora.
    rig.sandbox.org.update("Account", ids[2], {"BillingState": None})
    result = rig.runner(verify_timeout_s=2.0, poll_interval_s=0.2).execute(plan)

    states = {r.record_id: r for r in result.records}
    assert states[ids[2]].state is RecordState.TIMED_OUT
    detail = states[ids[2]].detail
    assert detail.startswith("The connector accepted it (HTTP 200) and said: Sync of Account")
    assert "But the account did not appear in Zuora within 2 seconds" in detail
    assert "System Health → Integration Hub" in detail
    assert [states[i].state for i in ids if i != ids[2]] == [RecordState.SYNCED] * 4
    assert not result.ok
    assert rig.sandbox.log.count("connector", "GET") == 5
    row = rig.journal.record(result.run_id, ids[2])
    assert row is not None
    assert row.state == "timed_out"
    assert row.error == detail
    failed = [e for e in rig.sandbox.connector_service.sync_log if e.outcome == "Failed"]
    assert [e.record_id for e in failed] == [ids[2]]


def test_resume_after_a_stop_mid_verification_verifies_without_triggering_again(
    rig_for: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = rig_for(connector_delay_s=3.0)
    ids = _clean_accounts(rig.sandbox, 8)
    path = tmp_path / "journal.sqlite3"
    first = RunJournal(path)
    events = Events()
    engine = ConnectorEngine(rig.connector, rig.zuora, poll_interval_s=0.2)
    runner = SyncRunner(engine, first, profile="sandbox", subscriber=events)
    plan = rig.plan("accounts", ids)
    box: dict[str, RunResult] = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", runner.execute(plan)))
    thread.start()
    assert events.wait_for(lambda: len(events.verifying()) == 8), events.states()
    # The process stops here: from now on nothing it does reaches the journal file.
    first.close()
    runner.cancel()
    thread.join(timeout=10)
    assert not thread.is_alive()
    run_id = box["r"].run_id

    with RunJournal(path) as journal:
        assert {r.state for r in journal.records_of(run_id)} == {"verifying"}
        assert [r.run_id for r in journal.unfinished_runs()] == [run_id]
        triggers = rig.sandbox.log.count("connector", "GET")
        assert triggers == 8
        resumed_events = Events()
        resumed = SyncRunner(
            ConnectorEngine(rig.connector, rig.zuora, poll_interval_s=0.2),
            journal,
            profile="sandbox",
            subscriber=resumed_events,
        ).resume(run_id, lambda kind, wanted: rig.plan(kind, wanted))

        assert resumed.counts() == {"synced": 8}
        assert rig.sandbox.log.count("connector", "GET") == triggers  # none triggered again
        for record in resumed.records:
            in_zuora = rig.sandbox.zuora.accounts_by_crm_id(record.record_id)
            assert [a["accountNumber"] for a in in_zuora] == [record.zuora_number]
            assert resumed_events.path_of(record.record_id) == [
                RecordState.VERIFYING,
                RecordState.SYNCED,
            ]
            history = [h.new_state for h in journal.history(run_id, record.record_id)]
            assert history == ["queued", "sending", "verifying", "synced"]
        assert journal.run(run_id).status == "finished"
    assert rig.sandbox.zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}


def test_resume_without_zuora_credentials_leaves_accepted_records_unverified(
    rig_for: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = rig_for(connector_delay_s=60.0)
    ids = _clean_accounts(rig.sandbox, 3)
    path = tmp_path / "journal.sqlite3"
    first = RunJournal(path)
    events = Events()
    runner = SyncRunner(ConnectorEngine(rig.connector, rig.zuora), first, profile="sandbox",
                        subscriber=events)  # fmt: skip
    box: dict[str, RunResult] = {}
    plan = rig.plan("accounts", ids)
    thread = threading.Thread(target=lambda: box.setdefault("r", runner.execute(plan)))
    thread.start()
    assert events.wait_for(lambda: len(events.verifying()) == 3), events.states()
    first.close()  # stopped: nothing more reaches the journal file
    runner.cancel()
    thread.join(timeout=10)
    assert not thread.is_alive()

    with RunJournal(path) as journal:
        resumed = SyncRunner(
            ConnectorEngine(rig.connector, None), journal, profile="sandbox"
        ).resume(box["r"].run_id, lambda kind, wanted: rig.plan(kind, wanted, with_zuora=False))
    assert resumed.counts() == {"accepted": 3}
    assert all("Not verified: no Zuora credentials" in r.detail for r in resumed.records)
    assert rig.sandbox.log.count("connector", "GET") == 3
