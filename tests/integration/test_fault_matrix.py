"""The fault matrix: every fault the sandbox can inject, one test each, over a 200-record run.

Real parts throughout: the sandbox over HTTPS, the unmodified simple-salesforce and requests, the
app's own clients, planner, runner and journal. Each test asserts that

- every record ends in a final state,
- retryable faults were recovered (the only records not synced are those the plan stopped for
  their data, "Not sent: …"),
- non-retryable failures are reported in plain words that name the problem,
- the simulated Zuora tenant holds no duplicate account (crmId) or order (number), and every
  record reported Synced is there exactly once, with the number reported,
- and that the fault really happened (how often is counted, for docs/reliability.md).

Timings are kept short so the whole file runs in about a minute: 1 s client read timeouts,
faults that hang for 1.5 s, spikes of 1.5 s, and backoff from 50 ms.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cpq_sync_gui.salesforce.client import SalesforceClient, SalesforceQueryError
from cpq_sync_gui.sandbox.http import Request
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sync.engines import DirectEngine
from cpq_sync_gui.sync.events import FINAL_STATES, LogLine, RecordState, RecordStateChanged
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync.plan import PlanOptions, SyncPlan, build_plan
from cpq_sync_gui.sync.runner import RetryPolicy, RunResult, SyncRunner
from cpq_sync_gui.zuora.client import ZuoraClient
from tests.helpers.cli_sync_rig import make_cli_rig
from tests.helpers.sandbox_clients import sync_clients

pytestmark = pytest.mark.slow

READ_TIMEOUT_S = 1.0  # the client's read timeout: a hang or spike longer than this is a timeout
HANG_S = 1.5  # a "timeout" fault holds the connection this long
SPIKE_MS = 1500.0  # a "spike" delays the answer this long (longer than the read timeout)
RATE = 0.10  # each fault hits 10 % of the matching requests
RETRY = RetryPolicy(max_attempts=8, base_delay_s=0.05, max_delay_s=0.5)
RECORDS = 200
CREATES = ("/v1/accounts", "/v1/orders", "/v1/async/orders")

# Totals over the whole file, written to build/test-artifacts for docs/reliability.md.
SURVIVED: Counter[str] = Counter()


class Recorder:
    """The run's one subscriber: keeps log lines and counts Synced records, with a hook."""

    def __init__(self, on_synced: Callable[[int], None] | None = None) -> None:
        self.log: list[LogLine] = []
        self.synced = 0
        self.on_synced = on_synced

    def on_event(self, event: object) -> None:
        if isinstance(event, LogLine):
            self.log.append(event)
        elif isinstance(event, RecordStateChanged) and event.new is RecordState.SYNCED:
            self.synced += 1
            if self.on_synced is not None:
                self.on_synced(self.synced)


@dataclass
class Rig:
    sandbox: Sandbox
    salesforce: SalesforceClient
    zuora: ZuoraClient
    journal: RunJournal
    injected: Counter[str] = field(default_factory=Counter)

    def ids(self, sobject: str, count: int = RECORDS) -> list[str]:
        return [str(r["Id"]) for r in self.sandbox.org.all(sobject)][:count]

    def plan(self, kind: str, ids: list[str], salesforce: Any = None) -> SyncPlan:
        return build_plan(kind, ids, salesforce or self.salesforce, self.zuora, PlanOptions())

    def run(self, plan: SyncPlan, subscriber: Any = None, **kwargs: Any) -> RunResult:
        kwargs.setdefault("retry", RETRY)
        kwargs.setdefault("concurrency", 8)
        runner = SyncRunner(
            DirectEngine(self.zuora),
            self.journal,
            profile="faults",
            subscriber=subscriber,
            **kwargs,
        )
        return runner.execute(plan)

    def posts(self, path: str) -> list[dict[str, Any]]:
        """The JSON bodies of every POST to ``path`` the tenant received (answered or not)."""
        return [
            json.loads(e.body) for e in self.sandbox.log.entries("zuora", "POST", path) if e.body
        ]


@pytest.fixture(scope="module", autouse=True)
def figures(artifacts_dir: Path) -> Iterator[None]:
    yield
    path = artifacts_dir / "fault-matrix.json"
    path.write_text(json.dumps(dict(sorted(SURVIVED.items())), indent=2) + "\n")


@pytest.fixture
def rig_for(make_sandbox: Callable[..., Sandbox]) -> Iterator[Callable[..., Rig]]:
    journals: list[RunJournal] = []

    def make(**config: Any) -> Rig:
        config.setdefault("accounts", RECORDS)
        config.setdefault("orders", RECORDS)
        config.setdefault("seed", 23)
        sandbox = make_sandbox(**config)
        sandbox.faults.hang_s = HANG_S
        sandbox.faults.spike_ms = SPIKE_MS
        salesforce, zuora = sync_clients(sandbox, "faults", READ_TIMEOUT_S)
        journal = RunJournal()
        journals.append(journal)
        rig = Rig(sandbox, salesforce, zuora, journal)
        decide = sandbox.faults.decide

        def counting(service: str, request: Request) -> str | None:
            kind = decide(service, request)
            if kind is not None:
                rig.injected[kind] += 1
            return kind

        sandbox.faults.decide = counting  # type: ignore[method-assign]
        return rig

    yield make
    for journal in journals:
        journal.close()


# --- what every test checks -------------------------------------------------------------------

_NOT_PLAIN = re.compile(
    r"Traceback|File \"|Error\(|Exception\b|<class |object at 0x|urllib3|HTTPSConnectionPool"
)


def assert_plain(message: str, *words: str) -> None:
    """A message for an admin: no traceback or Python internals, names the problem."""
    assert message.strip(), "an empty message"
    assert not _NOT_PLAIN.search(message), message
    assert len(message) < 1500, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)


def assert_final_and_truthful(rig: Rig, result: RunResult) -> None:
    """Every record final; Synced ones in Zuora exactly once, as reported; no duplicates."""
    zuora = rig.sandbox.zuora
    assert result.all_final
    assert {r.state for r in result.records} <= FINAL_STATES
    assert zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}
    for record in result.records:
        assert_plain(record.detail)
        if record.record_kind == "account":
            found = [a["accountNumber"] for a in zuora.accounts_by_crm_id(record.record_id)]
            if record.state is RecordState.SYNCED:
                assert found == [record.zuora_number], record
            elif "may have reached Zuora" not in record.detail:
                assert found == [], record  # reported as not in Zuora: it is not
        elif record.state is RecordState.SYNCED:
            assert len(zuora.orders_by_number(record.zuora_number)) == 1, record


def assert_recovered(result: RunResult) -> None:
    """Only records the plan stopped for their data failed: every fault was recovered."""
    not_synced = [r for r in result.records if r.state is not RecordState.SYNCED]
    assert all(r.state is RecordState.FAILED for r in not_synced), not_synced[:3]
    assert all(r.detail.startswith("Not sent: ") for r in not_synced), not_synced[:3]
    synced = [r for r in result.records if r.state is RecordState.SYNCED]
    assert len(synced) >= 0.8 * len(result.records)


def survived(rig: Rig, kind: str, at_least: int) -> None:
    assert rig.injected[kind] >= at_least, dict(rig.injected)
    SURVIVED[kind] += rig.injected[kind]


# --- one test per fault kind ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "minimum"),
    [
        ("http429", 10),  # 429 with Concurrency-Limit headers, no Retry-After
        ("http429_retry_after", 10),  # 429 with Retry-After: 1
        ("http500", 10),
        ("http503", 10),
        ("reset", 10),  # connection reset before the request is handled: nothing created
        ("success_false", 10),  # HTTP 200, success:false with an internal-error reason (…60)
    ],
)
def test_retryable_answers_on_every_zuora_call_are_recovered(
    rig_for: Callable[..., Rig], kind: str, minimum: int
) -> None:
    rig = rig_for()
    rig.sandbox.faults.add("zuora", "*", "/v1/*", kind, RATE)  # creates, look-ups and the plan's
    recorder = Recorder()
    result = rig.run(rig.plan("accounts", rig.ids("Account")), recorder)
    assert len(result.records) == RECORDS
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    survived(rig, kind, minimum)
    retried = [line for line in recorder.log if "trying again" in line.message]
    assert retried  # the faults were seen and retried, not silently absorbed elsewhere
    for line in retried:
        assert_plain(line.message, "attempt")
    if kind.startswith("http429"):
        assert any("slow down" in line.message for line in recorder.log)  # concurrency cut


def test_latency_spikes_longer_than_the_read_timeout(rig_for: Callable[..., Rig]) -> None:
    # A spike delays the answer past the client's read timeout while Zuora still does the work:
    # the engine cannot know whether the account was created, must look before sending again,
    # and must never create it twice (the Idempotency-Key covers a re-send in flight).
    rig = rig_for()
    rig.sandbox.faults.add("zuora", "POST", "/v1/accounts", "spike", RATE)
    result = rig.run(rig.plan("accounts", rig.ids("Account")))
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    survived(rig, "spike", 10)
    crm_ids = Counter(body["crmId"] for body in rig.posts("/v1/accounts"))
    assert any(count > 1 for count in crm_ids.values())  # some were sent again…
    assert rig.sandbox.zuora.account_count() == len(crm_ids)  # …and each exists once


def test_timeouts_before_zuora_answers(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    rig.sandbox.faults.add("zuora", "*", "/v1/*", "timeout", RATE)
    recorder = Recorder()
    result = rig.run(rig.plan("accounts", rig.ids("Account")), recorder)
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    survived(rig, "timeout", 10)
    timeouts = [line.message for line in recorder.log if "read timeout" in line.message]
    assert timeouts
    for message in timeouts:
        assert_plain(message, "did not answer within 1 seconds", "may have done it")


def test_resets_after_create_are_found_not_created_again(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    rig.sandbox.faults.add("zuora", "POST", "/v1/accounts", "reset_after", 0.3)
    rig.sandbox.faults.add("zuora", "POST", "/v1/orders", "reset_after", 0.3)
    result = rig.run(rig.plan("orders", rig.ids("Order")))
    assert len([r for r in result.records if r.record_kind == "order"]) == RECORDS
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    survived(rig, "reset_after", 30)
    found = [r for r in result.records if r.detail.startswith("Found in Zuora")]
    assert {r.record_kind for r in found} == {"account", "order"}  # created, answer lost, found
    assert rig.sandbox.zuora.order_count() == sum(
        1 for r in result.records if r.record_kind == "order" and r.state is RecordState.SYNCED
    )


def test_every_answer_to_an_account_create_lost(rig_for: Callable[..., Rig]) -> None:
    # The worst case of the above: Zuora creates every account and every answer is lost.
    rig = rig_for()
    rig.sandbox.faults.add("zuora", "POST", "/v1/accounts", "reset_after", 1.0)
    result = rig.run(rig.plan("accounts", rig.ids("Account")))
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    survived(rig, "reset_after", 150)
    synced = [r for r in result.records if r.state is RecordState.SYNCED]
    assert all(r.detail.startswith("Found in Zuora") for r in synced), synced[:3]
    assert rig.sandbox.zuora.account_count() == len(synced)


def test_truncated_json_answers(rig_for: Callable[..., Rig]) -> None:
    # The request is handled, then its JSON answer is cut in half: for a create, an ambiguous
    # outcome (look, do not re-create); for a read, a retryable one.
    rig = rig_for()
    rig.sandbox.faults.add("zuora", "*", "/v1/*", "truncated", RATE)
    result = rig.run(rig.plan("orders", rig.ids("Order")))
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    survived(rig, "truncated", 20)


def test_success_false_retried_when_transient_reported_when_final(
    rig_for: Callable[..., Rig],
) -> None:
    rig = rig_for()
    ids = rig.ids("Account")
    # Ten accounts bill in a currency the Zuora tenant does not have: Zuora answers
    # success:false with an invalid-value reason (…20), which no retry can fix.
    strangers = [
        i
        for i in ids
        if rig.sandbox.org.get("Account", i)["BillingCountry"]  # type: ignore[index]
        and rig.sandbox.org.get("Account", i)["BillingState"]  # type: ignore[index]
    ][:10]
    for record_id in strangers:
        rig.sandbox.org.update("Account", record_id, {"CurrencyIsoCode": "XTS"})
    rig.sandbox.faults.add("zuora", "POST", "/v1/accounts", "success_false", RATE)
    result = rig.run(rig.plan("accounts", ids))
    assert_final_and_truthful(rig, result)
    survived(rig, "success_false", 10)
    by_id = {r.record_id: r for r in result.records}
    answered = Counter(
        json.loads(e.body)["crmId"]
        for e in rig.sandbox.log.entries("zuora", "POST", "/v1/accounts")
        if e.fault is None
    )
    refused = 0
    for record_id in strangers:
        record = by_id[record_id]
        assert record.state is RecordState.FAILED
        assert_plain(record.detail, "XTS", "not an active currency")
        assert "Gave up after" not in record.detail
        if record.detail.startswith("Not sent: "):  # its parent account is another stranger
            assert_plain(record.detail, "did not reach Zuora")
            assert answered[record_id] == 0
        else:
            assert answered[record_id] == 1  # Zuora's refusal came once: it was not retried
            refused += 1
    assert refused >= 5
    rest = [r for r in result.records if r.record_id not in strangers]
    not_synced = [r for r in rest if r.state is not RecordState.SYNCED]
    assert all(r.detail.startswith("Not sent: ") for r in not_synced), not_synced[:3]


def test_retries_are_bounded_and_the_failure_is_plain(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(accounts=24, orders=0)
    rig.sandbox.faults.add("zuora", "POST", "/v1/accounts", "http500", 1.0)
    result = rig.run(rig.plan("accounts", rig.ids("Account")))
    assert_final_and_truthful(rig, result)
    sent = Counter(body["crmId"] for body in rig.posts("/v1/accounts"))
    assert sent
    assert set(sent.values()) == {RETRY.max_attempts}  # every create tried exactly 8 times
    failed = [r for r in result.records if not r.detail.startswith("Not sent: ")]
    assert {r.state for r in failed} == {RecordState.FAILED}
    for record in failed:
        assert_plain(record.detail, "gave up after 8 attempts", "500")
    assert rig.sandbox.zuora.account_count() == 0
    survived(rig, "http500", 8 * len(sent))


# --- sessions, tokens and allowances --------------------------------------------------------------


class ExpiringReader:
    """The Salesforce reader, with the org ending every session before each of its reads."""

    def __init__(self, client: SalesforceClient, sandbox: Sandbox) -> None:
        self.client = client
        self.sandbox = sandbox
        self.expired = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method):
            return method

        def read(*args: Any, **kwargs: Any) -> Any:
            self.sandbox.salesforce_service.expire_all_sessions()
            self.expired += 1
            return method(*args, **kwargs)

        return read


def test_salesforce_session_expiry_while_reading_and_mid_run(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    reader = ExpiringReader(rig.salesforce, rig.sandbox)
    before = rig.salesforce.connection.relogin_count
    plan = rig.plan("orders", rig.ids("Order"), salesforce=reader)
    assert reader.expired >= 3  # every read of the plan found its session ended
    assert rig.salesforce.connection.relogin_count - before >= reader.expired

    # And while the run sends to Zuora: sessions end again; a retry of the failed records
    # plans again from Salesforce.
    recorder = Recorder(
        on_synced=lambda n: n % 50 == 0 and rig.sandbox.salesforce_service.expire_all_sessions()
    )
    result = rig.run(plan, recorder)
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    relogins = rig.salesforce.connection.relogin_count
    runner = SyncRunner(DirectEngine(rig.zuora), rig.journal, profile="faults", retry=RETRY)
    again = runner.retry_failed(result.run_id, lambda kind, ids: rig.plan(kind, ids))
    assert rig.salesforce.connection.relogin_count > relogins
    assert_final_and_truthful(rig, again)
    assert {r.record_id for r in again.records} <= {r.record_id for r in result.records}
    SURVIVED["salesforce session expired"] += reader.expired + recorder.synced // 50


def test_zuora_token_expiry_mid_run(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    expiries = Counter[str]()

    def expire(synced: int) -> None:
        if synced % 30 == 0:  # as if an hour had passed: every token stops working
            rig.sandbox.zuora_service.expire_tokens()
            expiries["zuora token expired"] += 1

    plan = rig.plan("accounts", rig.ids("Account"))
    tokens = rig.zuora.tokens_fetched
    result = rig.run(plan, Recorder(on_synced=expire))
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    assert expiries["zuora token expired"] >= 5
    assert rig.zuora.tokens_fetched - tokens >= expiries["zuora token expired"]
    SURVIVED.update(expiries)


def test_salesforce_request_limit_exceeded(rig_for: Callable[..., Rig], tmp_path: Path) -> None:
    rig = rig_for()
    ids = rig.ids("Order")
    used, limit = rig.sandbox.salesforce_service.api_usage
    # The allowance runs out after the plan's first query, in the middle of its reads.
    rig.sandbox.salesforce_service.set_api_usage(limit - 1)
    with pytest.raises(SalesforceQueryError) as caught:
        rig.plan("orders", ids)
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert_plain(caught.value.message, "daily API allowance", "try again later")
    assert rig.sandbox.log.count("zuora", "POST", "/v1/accounts") == 0  # nothing was sent
    assert rig.sandbox.log.count("zuora", "POST", "/v1/orders") == 0
    assert rig.journal.list_runs() == []  # and no half-made run

    # The same from the command line: a plain message, no run, and no traceback.
    cli = make_cli_rig(rig.sandbox, tmp_path / "cli")
    try:
        rig.sandbox.salesforce_service.set_api_usage(limit - 1)
        answer = cli.sync("orders", "--ids", ",".join(ids[:20]), "--json")
    finally:
        cli.close()
    assert answer.returncode in (1, 2), answer.stdout + answer.stderr
    assert_plain(answer.stderr, "daily API allowance")
    assert rig.sandbox.log.count("zuora", "POST", "/v1/*") == 0

    # When the allowance frees up, the same records go through, once each.
    rig.sandbox.salesforce_service.set_api_usage(used)
    result = rig.run(rig.plan("orders", ids))
    assert_final_and_truthful(rig, result)
    assert_recovered(result)
    SURVIVED["salesforce request limit exceeded"] += 2


def _counts(result: RunResult) -> Mapping[str, int]:  # pragma: no cover - debugging aid
    return result.counts()
