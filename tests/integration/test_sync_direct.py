"""Direct sync against the sandbox over HTTPS: exactly one Zuora account per crmId and one order per
number — also with faults injected, after a re-run, and after the syncing process is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpq_sync_gui.salesforce.client import SalesforceClient
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sync.engines import DirectEngine
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync.plan import PlanOptions, SyncPlan, build_plan
from cpq_sync_gui.sync.runner import RetryPolicy, RunResult, SyncRunner
from cpq_sync_gui.zuora.client import ZuoraClient
from tests.helpers.sandbox_clients import sync_clients

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CREATES = ("/v1/accounts", "/v1/orders")


@dataclass
class Rig:
    """Real clients for one sandbox, a journal, and helpers to plan and run."""

    sandbox: Sandbox
    salesforce: SalesforceClient
    zuora: ZuoraClient
    journal: RunJournal

    def plan(self, kind: str, ids: list[str], **options: Any) -> SyncPlan:
        return build_plan(kind, ids, self.salesforce, self.zuora, PlanOptions(**options))

    def planner(self) -> Callable[[str, list[str]], SyncPlan]:
        return lambda kind, ids: self.plan(kind, ids)

    def runner(self, **kwargs: Any) -> SyncRunner:
        kwargs.setdefault("retry", RetryPolicy(max_attempts=8, base_delay_s=0.05, max_delay_s=0.5))
        return SyncRunner(DirectEngine(self.zuora), self.journal, profile="sandbox", **kwargs)

    def run(self, kind: str, ids: list[str], **kwargs: Any) -> RunResult:
        return self.runner(**kwargs).execute(self.plan(kind, ids))

    def creates(self) -> int:
        return sum(self.sandbox.log.count("zuora", "POST", path) for path in CREATES)


@pytest.fixture
def rig_for(make_sandbox: Callable[..., Sandbox]) -> Callable[..., Rig]:
    rigs: list[Rig] = []

    def make(**config: Any) -> Rig:
        sandbox = make_sandbox(**config)
        sandbox.faults.hang_s = 0.5  # a "timeout" fault holds the connection this long
        salesforce, zuora = sync_clients(sandbox, "sandbox", 5)
        rig = Rig(sandbox, salesforce, zuora, RunJournal())
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.journal.close()
        rig.zuora.session.close()
        rig.salesforce.connection.session.close()


def _ids(sandbox: Sandbox, sobject: str) -> list[str]:
    return [r["Id"] for r in sandbox.org.all(sobject)]


def _assert_no_duplicates(sandbox: Sandbox) -> None:
    assert sandbox.zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}


def _assert_truthful(rig: Rig, result: RunResult) -> None:
    """Every record is final, and each Synced one is in Zuora exactly once."""
    assert result.all_final
    for record in result.records:
        if record.state is not RecordState.SYNCED:
            continue
        if record.record_kind == "account":
            found = rig.sandbox.zuora.accounts_by_crm_id(record.record_id)
            assert [a["accountNumber"] for a in found] == [record.zuora_number]
        else:
            assert len(rig.sandbox.zuora.orders_by_number(record.zuora_number)) == 1


# --- the acceptance run ---------------------------------------------------------------------


def test_200_accounts_then_300_orders(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(accounts=200, orders=300)
    sandbox = rig.sandbox
    accounts = rig.run("accounts", _ids(sandbox, "Account"), concurrency=8)
    _assert_truthful(rig, accounts)
    by_state = accounts.counts()
    blocked = [r for r in accounts.records if r.state is RecordState.FAILED]
    assert all(r.detail.startswith("Not sent: ") for r in blocked), blocked[:3]
    assert by_state["synced"] == sandbox.zuora.account_count() >= 170
    assert set(by_state) <= {"synced", "failed"}

    query_count = sandbox.log.count("salesforce", "GET", "*/query*")
    orders = rig.run("orders", _ids(sandbox, "Order"), concurrency=8)
    assert sandbox.log.count("salesforce", "GET", "*/query*") - query_count <= 10
    _assert_truthful(rig, orders)
    _assert_no_duplicates(sandbox)
    synced = [r for r in orders.records if r.state is RecordState.SYNCED]
    assert len(synced) >= 230
    assert sandbox.zuora.order_count() == len(synced)
    failed = [r for r in orders.records if r.state is RecordState.FAILED]
    assert failed
    assert all(r.detail.startswith("Not sent: ") for r in failed)
    assert any("SKU-" in r.detail for r in failed)  # a product missing from the catalog
    # Subscriptions and rate plans as docs/mapping.md says, for every synced order.
    orders_by_id = {
        o.id: o
        for o in rig.salesforce.orders_with_items_by_ids([r.record_id for r in synced]).values()
    }
    for record in synced:
        _assert_order_as_mapped(sandbox, orders_by_id[record.record_id], record.zuora_number)
    assert sandbox.problems() == []  # every payload passed Zuora's schemas


def _assert_order_as_mapped(sandbox: Sandbox, order: Any, number: str) -> None:
    zuora_order = sandbox.zuora.orders_by_number(number)[0]
    assert zuora_order["orderDate"] == order.effective_date.isoformat()
    subscription_items = [i for i in order.items if i.is_subscription]
    one_time = [i for i in order.items if not i.is_subscription]
    subscriptions = sandbox.zuora.subscriptions_for(number)
    assert len(subscriptions) == (1 if subscription_items else 0)
    assert len(zuora_order["orderLineItems"]) == len(one_time)
    if not subscription_items:
        return
    subscription = subscriptions[0]
    starts = [i.service_date or order.effective_date for i in subscription_items]
    assert subscription["termStartDate"] == min(starts).isoformat()
    assert subscription["initialTerm"] == max(i.subscription_term or 12 for i in subscription_items)
    plans = {p["externallyManagedPlanId"]: p for p in subscription["ratePlans"]}
    assert set(plans) == {i.id for i in subscription_items}
    for item in subscription_items:
        charge = plans[item.id]["ratePlanCharges"][0]
        assert plans[item.id]["productSku"] == item.product_code
        assert Decimal(str(charge["price"])) == item.unit_price
        assert Decimal(str(charge["quantity"])) == item.quantity


def test_a_second_run_creates_nothing(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(accounts=30, orders=40)
    first = rig.run("orders", _ids(rig.sandbox, "Order"))
    _assert_truthful(rig, first)
    creates = rig.creates()
    accounts_before = rig.sandbox.zuora.account_count()
    orders_before = rig.sandbox.zuora.order_count()
    second = rig.run("orders", _ids(rig.sandbox, "Order"))
    assert rig.creates() == creates
    assert rig.sandbox.zuora.account_count() == accounts_before
    assert rig.sandbox.zuora.order_count() == orders_before
    again = {r.record_id: r for r in second.records}
    # Accounts already in Zuora are not even planned again: the orders use their numbers.
    assert {r.record_kind for r in second.records if r.state is RecordState.SKIPPED} == {"order"}
    for record in first.records:
        if record.state is RecordState.SYNCED and record.record_kind == "order":
            assert again[record.record_id].state is RecordState.SKIPPED
            assert "already in Zuora" in again[record.record_id].detail
    synced_accounts = {
        r.record_id
        for r in first.records
        if r.record_kind == "account" and r.state is RecordState.SYNCED
    }
    assert synced_accounts
    accounts = rig.run("accounts", sorted(synced_accounts))
    assert {r.state for r in accounts.records} == {RecordState.SKIPPED}
    assert rig.creates() == creates


def test_update_existing_changes_the_zuora_account_and_creates_nothing(
    rig_for: Callable[..., Rig],
) -> None:
    rig = rig_for(accounts=12, orders=0)
    ids = [a["Id"] for a in rig.sandbox.org.all("Account") if a["BillingCountry"]][:3]
    first = rig.run("accounts", ids)
    _assert_truthful(rig, first)
    target = ids[0]
    rig.sandbox.org.update("Account", target, {"Name": "Renamed In Salesforce Ltd"})
    creates = rig.creates()

    second = rig.runner().execute(rig.plan("accounts", ids, update_existing=True))

    assert rig.creates() == creates
    assert {r.state for r in second.records} == {RecordState.SYNCED}
    (account,) = rig.sandbox.zuora.accounts_by_crm_id(target)
    assert account["name"] == "Renamed In Salesforce Ltd"
    assert rig.sandbox.log.count("zuora", "PUT", "/v1/accounts/*") == len(ids)
    _assert_no_duplicates(rig.sandbox)


# --- faults ---------------------------------------------------------------------------------

FAULTS = "http500=5%,reset=5%,reset_after=5%,timeout=5%,http429=5%,success_false=5%"


def test_faults_on_every_zuora_post_end_in_final_states_without_duplicates(
    rig_for: Callable[..., Rig],
) -> None:
    rig = rig_for(accounts=120, orders=160, seed=11)
    sandbox = rig.sandbox
    sandbox.faults.add("zuora", "POST", "/v1/*", "http500", 0.05)
    for kind in ("reset", "reset_after", "timeout", "http429", "success_false"):
        sandbox.faults.add("zuora", "POST", "/v1/*", kind, 0.05)
    accounts = rig.run("accounts", _ids(sandbox, "Account"), concurrency=8)
    orders = rig.run("orders", _ids(sandbox, "Order"), concurrency=8)
    faults = [e.fault for e in sandbox.log.entries("zuora", "POST") if e.fault]
    assert {"http500", "reset", "reset_after", "timeout", "http429", "success_false"} <= set(faults)
    for result in (accounts, orders):
        _assert_truthful(rig, result)
        # Retryable faults were recovered: only records the plan stopped ended Failed.
        not_sent = [r for r in result.records if r.state is not RecordState.SYNCED]
        assert all(r.detail.startswith("Not sent: ") for r in not_sent), not_sent[:3]
    _assert_no_duplicates(sandbox)
    # reset_after created things whose answers were lost: they were found, not re-created.
    lost = sum(1 for f in faults if f == "reset_after")
    assert lost > 0


# --- a killed process, then resume -------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[2])
    from tests.integration.test_sync_direct import child_main
    child_main(json.loads(os.environ['CPQ_SYNC_TEST_CHILD']))
    """
)


class _Sandboxed:
    """What the child process needs to reach the parent's sandbox."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.salesforce_url = info["salesforce_url"]
        self.zuora_url = info["zuora_url"]
        self.ca_path = Path(info["ca_path"])
        self.credentials = type("C", (), info["credentials"])()


def child_main(info: dict[str, Any]) -> None:
    """Runs in a subprocess: plan and sync orders slowly, printing each final state."""
    salesforce, zuora = sync_clients(_Sandboxed(info), "sandbox", 5)  # type: ignore[arg-type]

    class Printer:
        def on_event(self, event: Any) -> None:
            if getattr(event, "new", None) in (RecordState.SYNCED,):
                print("synced", event.record_id, flush=True)

    with RunJournal() as journal:  # (killed before the end: nothing here is cleaned up)
        plan = build_plan("orders", info["ids"], salesforce, zuora)
        runner = SyncRunner(
            DirectEngine(zuora), journal, profile="sandbox", subscriber=Printer(), concurrency=4
        )
        print("run", flush=True)
        runner.execute(plan)
        print("done", flush=True)


def test_kill_9_mid_run_then_resume_loses_nothing_and_duplicates_nothing(
    rig_for: Callable[..., Rig], tmp_path: Path
) -> None:
    rig = rig_for(accounts=40, orders=80, latency_ms=15)
    sandbox = rig.sandbox
    order_ids = _ids(sandbox, "Order")
    info = {
        "salesforce_url": sandbox.salesforce_url,
        "zuora_url": sandbox.zuora_url,
        "ca_path": str(sandbox.ca_path),
        "credentials": {
            "sf_username": sandbox.credentials.sf_username,
            "sf_password": sandbox.credentials.sf_password,
            "sf_security_token": sandbox.credentials.sf_security_token,
            "zuora_client_id": sandbox.credentials.zuora_client_id,
            "zuora_client_secret": sandbox.credentials.zuora_client_secret,
        },
        "ids": order_ids,
    }
    synced = 0
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, "-", str(REPO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CPQ_SYNC_TEST_CHILD": json.dumps(info)},  # secrets: never a file
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            if line.startswith("synced"):
                synced += 1
                if synced == 25:
                    break
        child.send_signal(signal.SIGKILL)  # kill -9: no clean-up of any kind
        child.wait(timeout=10)
        errors = child.stderr.read()
    assert child.returncode == -signal.SIGKILL
    assert synced == 25, errors
    unfinished = rig.journal.unfinished_runs()
    assert len(unfinished) == 1
    run_id = unfinished[0].run_id
    before = rig.journal.run_summary(run_id)
    assert before.unfinished > 0
    result = rig.runner().resume(run_id, rig.planner())
    assert result.run_id == run_id
    assert result.status == "finished"
    summary = rig.journal.run_summary(run_id)
    assert summary.unfinished == 0
    rows = rig.journal.records_of(run_id)
    assert {r.record_id for r in rows} >= set(order_ids)
    _assert_no_duplicates(sandbox)
    for row in rows:
        if row.record_kind == "order" and row.state == "synced":
            assert len(sandbox.zuora.orders_by_number(row.zuora_number)) == 1
    synced_orders = [r for r in rows if r.record_kind == "order" and r.state == "synced"]
    assert len(synced_orders) == sandbox.zuora.order_count()
    assert rig.journal.unfinished_runs() == []


# --- long runs and few reads ----------------------------------------------------------------


def test_expired_zuora_token_and_salesforce_session_mid_run(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(accounts=30, orders=40)
    sandbox = rig.sandbox

    class ExpireMidRun:
        def __init__(self) -> None:
            self.synced = 0

        def on_event(self, event: Any) -> None:
            if getattr(event, "new", None) is RecordState.SYNCED:
                self.synced += 1
                if self.synced in (5, 15):  # as after an hour: every token stops working
                    sandbox.zuora_service.expire_tokens()

    tokens_before = rig.zuora.tokens_fetched
    sandbox.salesforce_service.expire_all_sessions()  # the plan's reads log in again
    plan = rig.plan("orders", _ids(sandbox, "Order"))
    result = rig.runner(subscriber=ExpireMidRun()).execute(plan)
    _assert_truthful(rig, result)
    assert rig.zuora.tokens_fetched >= tokens_before + 2
    assert rig.salesforce.connection.relogin_count >= 1
    not_synced = [r for r in result.records if r.state is not RecordState.SYNCED]
    assert all(r.detail.startswith("Not sent: ") for r in not_synced)
    _assert_no_duplicates(sandbox)


def test_1000_orders_are_planned_with_about_10_salesforce_queries(
    rig_for: Callable[..., Rig],
) -> None:
    rig = rig_for(accounts=200, orders=1000)
    before = rig.sandbox.log.count("salesforce", "GET", "*/query*")
    plan = rig.plan("orders", _ids(rig.sandbox, "Order"))
    queries = rig.sandbox.log.count("salesforce", "GET", "*/query*") - before
    assert len([r for r in plan.records if r.record_kind == "order"]) == 1000
    assert queries <= 10, queries
    assert plan.salesforce_queries is not None
    assert plan.salesforce_queries <= queries
