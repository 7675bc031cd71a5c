"""The connector engine against the sandbox's connector endpoint: trigger, verify in Zuora, and the
failures an admin meets (unregistered domain, a sync that never shows up, no Zuora credentials)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cpq_sync_gui import secrets as names
from cpq_sync_gui.connector.client import ConnectorClient
from cpq_sync_gui.net import make_session
from cpq_sync_gui.salesforce.client import SalesforceClient
from cpq_sync_gui.salesforce.session import connect
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import NetworkSettings, Profile, SalesforceSettings
from cpq_sync_gui.sync.engines import ConnectorEngine
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync.plan import SyncPlan, build_plan
from cpq_sync_gui.sync.runner import RetryPolicy, RunResult, SyncRunner
from cpq_sync_gui.zuora.client import ZuoraClient

pytestmark = pytest.mark.slow


class Secrets:
    def __init__(self, **values: str) -> None:
        self.values = values

    def get(self, secret_name: str) -> str | None:
        return self.values.get(secret_name)


class Rig:
    def __init__(self, sandbox: Sandbox, domain: str | None = None) -> None:
        self.sandbox = sandbox
        network = NetworkSettings(proxy_mode="none", ca_bundle=sandbox.ca_path, read_timeout_s=5)
        profile = Profile(
            name="sandbox",
            salesforce=SalesforceSettings(
                auth_method="password",
                login_host="custom",
                custom_login_url=sandbox.salesforce_url,
                username=sandbox.credentials.sf_username,
            ),
            network=network,
        )
        secrets = Secrets(
            **{
                names.SALESFORCE_PASSWORD: sandbox.credentials.sf_password,
                names.SALESFORCE_SECURITY_TOKEN: sandbox.credentials.sf_security_token,
            }
        )
        self.salesforce = SalesforceClient(connect(profile, secrets))
        session = make_session(network)
        self.zuora = ZuoraClient(
            sandbox.zuora_url,
            sandbox.credentials.zuora_client_id,
            sandbox.credentials.zuora_client_secret,
            session=session,
            zuora_version="2025-08-12",
            timeouts=(5, 5),
        )
        self.connector = ConnectorClient(
            sandbox.connector_url, domain or sandbox.sfdc_domain, session=session, timeouts=(5, 5)
        )
        self.journal = RunJournal()

    def plan(self, kind: str, ids: list[str], *, with_zuora: bool = True) -> SyncPlan:
        return build_plan(kind, ids, self.salesforce, self.zuora if with_zuora else None)

    def runner(self, *, verify: bool = True, **engine_options: Any) -> SyncRunner:
        engine_options.setdefault("verify_timeout_s", 15.0)
        engine_options.setdefault("poll_interval_s", 0.1)
        engine = ConnectorEngine(self.connector, self.zuora if verify else None, **engine_options)
        return SyncRunner(
            engine,
            self.journal,
            profile="sandbox",
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
    began = time.monotonic()
    result = rig.run("accounts", ids, verify_timeout_s=0.6)
    assert time.monotonic() - began < 10
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
    runner = rig.runner(verify_timeout_s=60.0)
    plan = rig.plan("accounts", ids)
    box: dict[str, RunResult] = {}
    thread = threading.Thread(target=lambda: box.setdefault("r", runner.execute(plan)))
    thread.start()
    deadline = time.monotonic() + 10
    while rig.sandbox.log.count("connector", "GET") < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the four in flight are now waiting for Zuora
    cancelled = time.monotonic()
    runner.cancel()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert time.monotonic() - cancelled < 1.0
    counts = box["r"].counts()
    assert counts == {"accepted": 4, "cancelled": 2}
    accepted = [r for r in box["r"].records if r.state is RecordState.ACCEPTED]
    assert all("Verification stopped because the run was cancelled" in r.detail for r in accepted)
