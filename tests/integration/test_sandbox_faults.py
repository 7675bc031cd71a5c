"""Every fault kind of the sandbox behaves as a client would see it in real life."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from cpq_sync_gui.sandbox.http import FaultPlan, FaultSpecError


def _token(sandbox, session: requests.Session) -> str:
    answer = session.post(
        f"{sandbox.zuora_url}/oauth/token",
        data={
            "client_id": sandbox.credentials.zuora_client_id,
            "client_secret": sandbox.credentials.zuora_client_secret,
            "grant_type": "client_credentials",
        },
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


@pytest.fixture
def zuora(sandbox):
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {_token(sandbox, session)}"
    yield sandbox, session
    session.close()


def _account(name: str) -> dict:
    return {
        "name": name,
        "currency": "USD",
        "billCycleDay": 1,
        "billToContact": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "country": "United States",
            "state": "CA",
        },
    }


def test_fault_spec_parses_rates_and_rejects_nonsense():
    plan = FaultPlan.parse(
        "zuora:POST:/v1/accounts:http500=5%,reset_after=0.1; salesforce:*:*:spike=1%"
    )
    assert [(r.service, r.method, r.path, r.kind, r.rate) for r in plan.rules] == [
        ("zuora", "POST", "/v1/accounts", "http500", 0.05),
        ("zuora", "POST", "/v1/accounts", "reset_after", 0.1),
        ("salesforce", "*", "*", "spike", 0.01),
    ]
    for bad, words in [
        ("zuora:POST:/v1/accounts", "must look like"),
        ("zuora:POST:/x:boom=1%", "unknown fault kind"),
        ("zuora:POST:/x:http500=lots", "not a number"),
        ("zuora:POST:/x:http500=150%", "between 0 and 100%"),
    ]:
        with pytest.raises(FaultSpecError, match=words):
            FaultPlan.parse(bad)


def test_decisions_are_deterministic_for_a_seed_and_retries_get_fresh_draws(sandbox):
    def outcomes(seed: int) -> list[str | None]:
        plan = FaultPlan.parse("zuora:POST:*:http500=50%", seed=seed)
        from cpq_sync_gui.sandbox.http import Request

        request = Request("POST", "/v1/accounts", {}, {}, b'{"a": 1}', "https://x")
        return [plan.decide("zuora", request) for _ in range(40)]

    assert outcomes(3) == outcomes(3)
    assert outcomes(3) != outcomes(4)
    assert 5 < outcomes(3).count("http500") < 35  # the same request is not doomed forever


@pytest.mark.parametrize(
    ("kind", "status", "retry_after"),
    [
        ("http500", 500, None),
        ("http503", 503, None),
        ("http429", 429, None),
        ("http429_retry_after", 429, "1"),
    ],
)
def test_status_faults_answer_without_touching_the_tenant(zuora, kind, status, retry_after):
    sandbox, session = zuora
    sandbox.faults.add("zuora", "POST", "/v1/accounts", kind, 1.0)
    answer = session.post(f"{sandbox.zuora_url}/v1/accounts", json=_account("Fault Co"), timeout=10)
    assert answer.status_code == status
    assert answer.headers.get("Retry-After") == retry_after
    if status == 429:
        assert answer.headers["Concurrency-Limit-Remaining"] == "0"
    assert sandbox.zuora.account_count() == 0


def test_success_false_is_http_200_with_reasons(zuora):
    sandbox, session = zuora
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "success_false", 1.0)
    answer = session.post(f"{sandbox.zuora_url}/v1/accounts", json=_account("Nope Co"), timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is False
    assert body["reasons"][0]["code"] == 50000060
    assert sandbox.zuora.account_count() == 0


def test_reset_before_handling_creates_nothing(zuora):
    sandbox, session = zuora
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "reset", 1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(f"{sandbox.zuora_url}/v1/accounts", json=_account("Reset Co"), timeout=10)
    assert sandbox.zuora.account_count() == 0
    assert sandbox.log.entries("zuora", "POST", "/v1/accounts")[-1].fault == "reset"


def test_reset_after_create_loses_the_answer_but_the_account_exists(zuora):
    """The real-life cause of duplicates: the object was made, the client never heard."""
    sandbox, session = zuora
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "reset_after", 1.0)
    payload = _account("Ghost Co") | {"crmId": "0015g000000GHOSTAAA"}
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(f"{sandbox.zuora_url}/v1/accounts", json=payload, timeout=10)
    assert len(sandbox.zuora.accounts_by_crm_id("0015g000000GHOSTAAA")) == 1


def test_timeout_holds_the_answer_until_the_client_gives_up(zuora):
    sandbox, session = zuora
    sandbox.faults.hang_s = 5
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "timeout", 1.0)
    began = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(f"{sandbox.zuora_url}/v1/accounts", json=_account("Slow Co"), timeout=(5, 0.5))
    assert time.monotonic() - began < 3
    assert sandbox.zuora.account_count() == 0


def test_truncated_answer_is_not_valid_json(zuora):
    sandbox, session = zuora
    sandbox.faults.add("zuora", "POST", "/v1/action/query", "truncated", 1.0)
    answer = session.post(
        f"{sandbox.zuora_url}/v1/action/query",
        json={"queryString": "select Id from Account where CrmId = '0015g000000GHOSTAAA'"},
        timeout=10,
    )
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.text)


def test_latency_and_spikes_delay_answers(zuora):
    sandbox, session = zuora
    sandbox.faults.latency_ms["zuora"] = 150
    began = time.monotonic()
    session.get(f"{sandbox.zuora_url}/v1/accounts/A00000001", timeout=10)
    assert time.monotonic() - began >= 0.15
    sandbox.faults.latency_ms.clear()
    sandbox.faults.spike_ms = 300
    sandbox.faults.add("zuora", "GET", "*", "spike", 1.0)
    began = time.monotonic()
    session.get(f"{sandbox.zuora_url}/v1/accounts/A00000001", timeout=10)
    assert time.monotonic() - began >= 0.3


def test_faults_are_per_service_and_path(zuora):
    sandbox, session = zuora
    sandbox.faults.add("salesforce", "*", "*", "http500", 1.0)
    sandbox.faults.add("zuora", "POST", "/v1/orders", "http500", 1.0)
    answer = session.post(f"{sandbox.zuora_url}/v1/accounts", json=_account("Fine Co"), timeout=10)
    assert answer.status_code == 200
    assert answer.json()["success"] is True


def test_stopping_the_sandbox_closes_kept_alive_connections(make_sandbox):
    sandbox = make_sandbox()
    before = set(threading.enumerate())
    session = requests.Session()  # kept open on purpose: a client that never closes
    session.verify = str(sandbox.ca_path)
    session.trust_env = False
    _token(sandbox, session)  # one kept-alive connection, its handler waiting for more
    handlers = [t for t in set(threading.enumerate()) - before if "process_request" in t.name]
    assert handlers  # the connection's handler thread, still waiting
    sandbox.stop()
    for thread in handlers:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in handlers)
    session.close()
