"""The Zuora client against the sandbox tenant: tokens, look-ups, idempotent creates, and every failure kind."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from cpq_sync_gui import secrets as names
from cpq_sync_gui.net import make_session
from cpq_sync_gui.redact import Redactor
from cpq_sync_gui.salesforce.ids import IdFactory, InvalidSalesforceId
from cpq_sync_gui.sandbox import zuora_tenant, zuora_zoql
from cpq_sync_gui.sandbox.http import Request
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import Profile, ZuoraSettings
from cpq_sync_gui.zuora.client import (
    CatalogMatch,
    ZuoraClient,
    ZuoraError,
    ZuoraReason,
    check_track_id,
    classify_network_error,
)
from tests.helpers.sandbox_clients import ZUORA_VERSION as VERSION
from tests.helpers.sandbox_clients import (
    account_payload,
    network_settings,
    zuora_client,
)
from tests.helpers.sandbox_clients import order_payload as sandbox_order_payload

IDS = IdFactory(21)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(sandbox: Sandbox, **kwargs: Any) -> ZuoraClient:
    kwargs.setdefault("redactor", Redactor())
    return zuora_client(sandbox, **kwargs)


@pytest.fixture
def client(sandbox: Sandbox) -> ZuoraClient:
    return make_client(sandbox)


def order_payload(account_number: str, plan_id: str, number: str) -> dict[str, Any]:
    return sandbox_order_payload(account_number, {"productRatePlanId": plan_id}, number)


def a_rate_plan_id(sandbox: Sandbox) -> str:
    return next(iter(sandbox.zuora.rate_plans))


def token_posts(sandbox: Sandbox) -> int:
    return sandbox.log.count("zuora", "POST", "/oauth/token")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- token ---------------------------------------------------------------------------------


def test_one_token_serves_many_calls_with_the_headers_zuora_wants(
    sandbox: Sandbox, requests_ca_bundle_points_elsewhere: str
) -> None:
    assert requests_ca_bundle_points_elsewhere
    client = make_client(sandbox, entity_id="entity-7")
    assert client.get_account("A-none") is None
    assert client.get_order("O-none") is None
    assert token_posts(sandbox) == 1
    for entry in sandbox.log.entries("zuora", "GET"):
        assert entry.headers["zuora-version"] == VERSION
        assert entry.headers["zuora-entity-ids"] == "entity-7"
        assert entry.headers["authorization"].startswith("Bearer ")
    assert sandbox.zuora_service.versions_seen[VERSION] == 2


def test_the_token_is_renewed_a_minute_before_it_expires(sandbox: Sandbox) -> None:
    clock = Clock()
    client = make_client(sandbox, clock=clock)
    client.get_account("A-none")
    clock.now += 3599 - 61
    client.get_account("A-none")
    assert client.tokens_fetched == 1
    clock.now += 2  # now within 60 s of expiry
    client.get_account("A-none")
    assert client.tokens_fetched == 2
    assert sandbox.log.count("zuora", "GET") == 3
    assert [e.status for e in sandbox.log.entries("zuora", "GET")] == [200, 200, 200]


def test_a_401_gets_one_new_token_and_one_more_try(sandbox: Sandbox, client: ZuoraClient) -> None:
    client.get_account("A-none")
    sandbox.zuora_service.expire_tokens()
    assert client.get_account("A-none") is None
    assert [e.status for e in sandbox.log.entries("zuora", "GET")] == [200, 401, 200]
    assert token_posts(sandbox) == 2


def test_a_wrong_secret_is_auth_and_never_shown(sandbox: Sandbox) -> None:
    secret = "not-the-secret-" + "z" * 20
    client = make_client(sandbox, client_secret=secret)
    with pytest.raises(ZuoraError) as caught:
        client.get_account("A-1")
    error = caught.value
    assert error.kind == "auth"
    assert error.status == 401
    assert "client ID and secret" in error.message
    assert secret not in str(error)
    assert secret not in repr(client)
    assert sandbox.log.count("zuora", "GET") == 0


def test_a_track_id_is_sent_and_kept(sandbox: Sandbox, client: ZuoraClient) -> None:
    answer = client.create_account(
        account_payload(IDS("001")), idempotency_key="key-track", track_id="run-7/acct-1"
    )
    assert answer.track_id == "run-7/acct-1"
    assert answer.request_id
    assert answer.limits.concurrency_limit == 40
    assert answer.limits.rate_remaining is not None
    (post,) = sandbox.log.entries("zuora", "POST", "/v1/accounts")
    assert post.headers["zuora-track-id"] == "run-7/acct-1"
    assert post.headers["idempotency-key"] == "key-track"


@pytest.mark.parametrize("bad", ["", "x" * 65, "a:b", "a;b", 'a"b', "a'b", "é", "a\nb"])
def test_a_bad_track_id_is_refused_before_sending(client: ZuoraClient, bad: str) -> None:
    with pytest.raises(ValueError, match="Zuora-Track-Id"):
        client.request("GET", "/v1/x", track_id=bad)
    with pytest.raises(ValueError, match="Zuora-Track-Id"):
        check_track_id(bad)


def test_idempotency_keys_only_on_writes_and_within_limits(client: ZuoraClient) -> None:
    with pytest.raises(ValueError, match="POST and PATCH"):
        client.request("GET", "/v1/accounts/x", idempotency_key="k")
    with pytest.raises(ValueError, match="255"):
        client.create_account(account_payload(IDS("001")), idempotency_key="k" * 256)


# --- accounts by CRM id --------------------------------------------------------------------


def test_find_accounts_by_crm_id_in_batches_of_at_most_200_conditions(
    sandbox: Sandbox, client: ZuoraClient
) -> None:
    wanted = [IDS("001") for _ in range(250)]
    stored = {0: [wanted[0], wanted[0]], 120: [wanted[120][:15]], 249: [wanted[249]]}
    made: dict[int, list[str]] = {}
    for index, crm_ids in stored.items():
        for copy, crm in enumerate(crm_ids):
            answer = client.create_account(
                account_payload(crm, f"Acme {index}"), idempotency_key=f"k{index}-{copy}"
            )
            made.setdefault(index, []).append(answer.get("accountNumber"))
    sandbox.log.clear()
    found = client.find_accounts_by_crm_id([*wanted, wanted[5][:15]])
    assert set(found) == set(wanted)
    assert [r.account_number for r in found[wanted[0]]] == made[0]  # a duplicate shows
    assert [(r.crm_id, r.account_number) for r in found[wanted[120]]] == [
        (wanted[120][:15], made[120][0])
    ]
    assert [r.account_number for r in found[wanted[249]]] == made[249]
    assert sum(len(v) for v in found.values()) == 4
    queries = sandbox.log.entries("zuora", "POST", "/v1/action/query")
    assert len(queries) == 3  # 250 ids, each in both lengths: 100 ids per query
    for entry in queries:
        parsed = zuora_zoql.parse(json.loads(entry.body)["queryString"])
        assert len(parsed.where) <= 200


def test_a_15_character_crm_id_matches_only_with_its_letter_case(
    client: ZuoraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = IDS("001")
    # What a tenant that compares text without case could answer: a 15-character id that
    # differs in case belongs to another Salesforce record; an 18-character one does not.
    answer = [
        {"Id": "z1", "AccountNumber": "A1", "CrmId": mine[:15].swapcase()},
        {"Id": "z2", "AccountNumber": "A2", "CrmId": mine.upper()},
        {"Id": "z3", "AccountNumber": "A3", "CrmId": mine[:15]},
        {"Id": "z4", "AccountNumber": "A4", "CrmId": "not an id"},
    ]
    monkeypatch.setattr(client, "query", lambda text: answer)
    found = client.find_accounts_by_crm_id([mine])
    assert [r.account_number for r in found[mine]] == ["A2", "A3"]


def test_find_accounts_refuses_text_that_is_not_an_id(client: ZuoraClient) -> None:
    with pytest.raises(InvalidSalesforceId):
        client.find_accounts_by_crm_id(["001' or CrmId != '"])


def test_zoql_results_are_paged_with_query_more(
    sandbox: Sandbox, client: ZuoraClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zuora_tenant, "QUERY_BATCH", 2)
    crm = IDS("001")
    for index in range(5):
        client.create_account(account_payload(crm, f"Twin {index}"), idempotency_key=f"t{index}")
    found = client.find_accounts_by_crm_id([crm])
    assert len(found[crm]) == 5
    assert sandbox.log.count("zuora", "POST", "/v1/action/queryMore") == 2


# --- creates --------------------------------------------------------------------------------


def test_the_same_idempotency_key_twice_creates_one_account(
    sandbox: Sandbox, client: ZuoraClient
) -> None:
    payload = account_payload(IDS("001"))
    first = client.create_account(payload, idempotency_key="acct-1")
    second = client.create_account(payload, idempotency_key="acct-1")
    assert len(sandbox.zuora.accounts) == 1
    assert first.get("accountId") == second.get("accountId")
    assert first.request_id == second.request_id  # Zuora replayed the first answer
    account = client.get_account(first.get("accountNumber"))
    assert account is not None
    assert account["basicInfo"]["crmId"] == payload["crmId"]


def test_the_same_key_with_other_data_is_an_idempotency_mismatch(client: ZuoraClient) -> None:
    client.create_account(account_payload(IDS("001")), idempotency_key="acct-2")
    with pytest.raises(ZuoraError) as caught:
        client.create_account(account_payload(IDS("001")), idempotency_key="acct-2")
    assert caught.value.kind == "idempotency_mismatch"
    assert caught.value.status == 422


def test_the_same_key_still_in_flight_is_a_conflict(sandbox: Sandbox, client: ZuoraClient) -> None:
    client.get_account("warm-up")  # the token first, so both threads only create
    entered, release = threading.Event(), threading.Event()

    def hold_first(request: Request) -> None:
        if request.path == "/v1/accounts" and not entered.is_set():
            entered.set()
            release.wait(10)

    sandbox.zuora_service.pause_hook = hold_first
    payload = account_payload(IDS("001"))
    results: list[Any] = []
    worker = threading.Thread(
        target=lambda: results.append(client.create_account(payload, idempotency_key="acct-3"))
    )
    worker.start()
    try:
        assert entered.wait(10)
        with pytest.raises(ZuoraError) as caught:
            client.create_account(payload, idempotency_key="acct-3")
    finally:
        release.set()
        worker.join(10)
    assert caught.value.kind == "conflict"
    assert caught.value.transient
    assert len(results) == 1
    assert results[0].get("success") is True
    assert len(sandbox.zuora.accounts) == 1


def test_a_refusal_keeps_zuoras_reason_codes(client: ZuoraClient) -> None:
    with pytest.raises(ZuoraError) as caught:
        client.create_account(account_payload(IDS("001"), currency="XYZ"), idempotency_key="cur")
    error = caught.value
    assert error.kind == "rejected"
    assert error.reasons[0].code == 50000020
    assert error.reasons[0].category == 20
    assert "[50000020]" in error.message
    assert not error.transient


def test_a_sync_order_is_created_and_found_by_number(sandbox: Sandbox, client: ZuoraClient) -> None:
    account = client.create_account(account_payload(IDS("001")), idempotency_key="a")
    payload = order_payload(account.get("accountNumber"), a_rate_plan_id(sandbox), "O-100")
    answer = client.create_order(payload, idempotency_key="o-100")
    assert answer.get("orderNumber") == "O-100"
    assert answer.get("subscriptionNumbers")
    order = client.get_order("O-100")
    assert order is not None
    assert order["orderNumber"] == "O-100"
    assert client.order_exists_many(["O-100", "O-101", "O-100"]) == {
        "O-100": True,
        "O-101": False,
    }


def test_an_async_order_is_followed_to_the_end(sandbox: Sandbox, client: ZuoraClient) -> None:
    client = make_client(sandbox, poll_interval_s=0.05)
    account = client.create_account(account_payload(IDS("001")), idempotency_key="a")
    payload = order_payload(account.get("accountNumber"), a_rate_plan_id(sandbox), "O-200")
    answer = client.create_order(payload, idempotency_key="o-200", asynchronous=True)
    assert answer.job_id
    assert answer.get("orderNumber") == "O-200"
    assert sandbox.log.count("zuora", "POST", "/v1/async/orders") == 1
    assert sandbox.log.count("zuora", "GET", "/v1/async-jobs/*") >= 2  # Processing, then done


def test_an_async_order_that_fails_is_rejected_with_reasons(
    sandbox: Sandbox,
) -> None:
    client = make_client(sandbox, poll_interval_s=0.05)
    payload = order_payload("A-NO-SUCH", a_rate_plan_id(sandbox), "O-300")
    with pytest.raises(ZuoraError) as caught:
        client.create_order(payload, idempotency_key="o-300", asynchronous=True)
    assert caught.value.kind == "rejected"
    assert caught.value.job_id
    assert caught.value.reasons


def test_an_async_order_that_takes_too_long_is_ambiguous(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(async_order_delay_s=30.0)
    client = make_client(sandbox, poll_interval_s=0.05)
    account = client.create_account(account_payload(IDS("001")), idempotency_key="a")
    payload = order_payload(account.get("accountNumber"), a_rate_plan_id(sandbox), "O-400")
    with pytest.raises(ZuoraError) as caught:
        client.create_order(payload, idempotency_key="o-400", asynchronous=True, poll_timeout_s=0.3)
    assert caught.value.kind == "ambiguous"
    assert caught.value.may_have_been_applied
    assert caught.value.job_id
    assert "check Zuora" in caught.value.message


# --- failure kinds, one per sandbox fault --------------------------------------------------


@pytest.fixture
def warm(client: ZuoraClient) -> ZuoraClient:
    client.get_account("warm-up")  # holds a token: faults on /v1/accounts hit only the create
    return client


@pytest.mark.parametrize(
    ("fault", "kind", "created"),
    [
        ("http429", "rate_limited", 0),
        ("http429_retry_after", "rate_limited", 0),
        ("http500", "server", 0),
        ("http503", "server", 0),
        ("reset", "ambiguous", 0),
        ("reset_after", "ambiguous", 1),
        ("truncated", "ambiguous", 1),
        ("success_false", "rejected", 0),
    ],
)
def test_each_fault_is_one_kind_and_a_create_is_never_retried(
    sandbox: Sandbox, warm: ZuoraClient, fault: str, kind: str, created: int
) -> None:
    sandbox.faults.add("zuora", "POST", "/v1/accounts", fault, 1.0)
    with pytest.raises(ZuoraError) as caught:
        warm.create_account(account_payload(IDS("001")), idempotency_key=f"f-{fault}")
    error = caught.value
    assert error.kind == kind
    assert sandbox.log.count("zuora", "POST", "/v1/accounts") == 1
    assert len(sandbox.zuora.accounts) == created
    assert error.may_have_been_applied == (kind == "ambiguous")
    if fault == "http429":
        assert error.limits.concurrency_remaining == 0
        assert error.retry_after is None
        assert error.transient
    if fault == "http429_retry_after":
        assert error.retry_after == 1.0
    if fault == "success_false":
        assert error.reasons == (
            ZuoraReason(50000060, "An internal error occurred (injected by the sandbox)."),
        )
        assert error.transient  # category 60: internal error
    if kind == "ambiguous":
        assert "check Zuora" in error.message.lower() or "Check Zuora" in error.message


def test_a_timeout_after_sending_is_ambiguous(sandbox: Sandbox) -> None:
    client = make_client(sandbox, timeouts=(5, 0.3))
    client.get_account("warm-up")
    sandbox.faults.hang_s = 1.0
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "timeout", 1.0)
    with pytest.raises(ZuoraError) as caught:
        client.create_account(account_payload(IDS("001")), idempotency_key="slow")
    assert caught.value.kind == "ambiguous"
    assert "read timeout" in caught.value.message
    deadline = time.monotonic() + 5  # the server logs the request when it stops hanging
    while sandbox.log.count("zuora", "POST", "/v1/accounts") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox.log.count("zuora", "POST", "/v1/accounts") == 1  # sent once, not retried


def test_nothing_listening_is_network_before_send(sandbox: Sandbox) -> None:
    client = make_client(sandbox, base_url=f"https://127.0.0.1:{closed_port()}")
    with pytest.raises(ZuoraError) as caught:
        client.create_account(account_payload(IDS("001")), idempotency_key="nowhere")
    assert caught.value.kind == "network_before_send"
    assert "safe to try again" in caught.value.message
    assert not caught.value.may_have_been_applied


def test_a_token_request_that_fails_means_nothing_was_sent(sandbox: Sandbox) -> None:
    client = make_client(sandbox)
    sandbox.faults.add("zuora", "POST", "/oauth/token", "reset", 1.0)
    with pytest.raises(ZuoraError) as caught:
        client.create_account(account_payload(IDS("001")), idempotency_key="no-token")
    assert caught.value.kind == "network_before_send"
    assert "access token" in caught.value.message
    assert token_posts(sandbox) == 2  # getting a token changes nothing: tried twice
    assert sandbox.log.count("zuora", "POST", "/v1/accounts") == 0


def test_a_client_from_a_profile(sandbox: Sandbox) -> None:
    profile = Profile(
        name="zuora",
        zuora=ZuoraSettings(
            environment="custom",
            base_url=sandbox.zuora_url,
            client_id=sandbox.credentials.zuora_client_id,
            entity_id="e-1",
        ),
        network=network_settings(sandbox),
    )
    secrets = {names.ZUORA_CLIENT_SECRET: sandbox.credentials.zuora_client_secret}
    client = ZuoraClient.from_profile(profile, secrets)  # type: ignore[arg-type]
    assert client.get_order("O-1") is None
    (entry,) = sandbox.log.entries("zuora", "GET")
    assert entry.headers["zuora-entity-ids"] == "e-1"
    assert entry.headers["zuora-version"] == profile.zuora.zuora_version
    with pytest.raises(ZuoraError, match="client secret is not set"):
        ZuoraClient.from_profile(profile, {})  # type: ignore[arg-type]


def test_an_untrusted_certificate_is_network_before_send(sandbox: Sandbox) -> None:
    client = make_client(
        sandbox, session=make_session(network_settings(sandbox, trust_sandbox=False))
    )
    with pytest.raises(ZuoraError) as caught:
        client.get_account("A-1")
    assert caught.value.kind == "network_before_send"
    assert "certificate" in caught.value.message
    assert sandbox.log.count("zuora") == 0


def test_reads_are_tried_twice_on_network_errors_and_writes_once(
    sandbox: Sandbox, warm: ZuoraClient
) -> None:
    sandbox.faults.add("zuora", "GET", "/v1/orders/*", "reset", 1.0)
    with pytest.raises(ZuoraError) as caught:
        warm.get_order("O-1")
    assert caught.value.kind == "ambiguous"
    assert sandbox.log.count("zuora", "GET", "/v1/orders/*") == 2
    sandbox.faults.clear()
    sandbox.faults.add("zuora", "GET", "/v1/orders/*", "reset", 0.5)
    # With a 50% fault rate one retry nearly always gets through (the draw is seeded).
    outcomes = []
    for number in range(6):
        try:
            outcomes.append(warm.get_order(f"O-{number}"))
        except ZuoraError:
            outcomes.append("failed")
    assert outcomes.count(None) >= 3


def test_classify_network_error_on_real_exceptions() -> None:
    with pytest.raises(requests.RequestException) as refused:
        requests.get(f"https://127.0.0.1:{closed_port()}", timeout=2)
    assert classify_network_error(refused.value) == "network_before_send"
    assert classify_network_error(requests.exceptions.ReadTimeout("read timed out")) == "ambiguous"
    assert classify_network_error(requests.exceptions.ChunkedEncodingError("cut")) == "ambiguous"
    assert classify_network_error(requests.exceptions.ConnectTimeout("slow")) == (
        "network_before_send"
    )


# --- catalog --------------------------------------------------------------------------------


def test_rate_plans_are_found_by_product2_id_then_sku_and_cached(
    sandbox: Sandbox, client: ZuoraClient
) -> None:
    catalog = sandbox.generated.catalog
    product = next(p for p in catalog if p.rate_plans and p.rate_plans[0].charges)
    plan_spec = product.rate_plans[0]
    missing = sandbox.generated.products_missing_from_zuora
    product2_ids = [plan_spec.external_id, *missing[:1]]
    match = client.find_rate_plans(product2_ids, [product.sku, "NO-SUCH-SKU"])
    assert isinstance(match, CatalogMatch)
    plans = match.by_product2_id[plan_spec.external_id]
    assert [p.name for p in plans] == [plan_spec.name]
    assert [c.name for c in plans[0].charges] == [c.name for c in plan_spec.charges]
    assert match.by_sku[product.sku].name == product.name
    assert "NO-SUCH-SKU" in match.missing_skus
    assert set(missing[:1]) <= match.missing_product2_ids
    assert match.rate_plans_for(plan_spec.external_id[:15], None) == plans
    assert match.rate_plans_for(None, product.sku) == match.by_sku[product.sku].rate_plans
    assert match.rate_plans_for(None, "NO-SUCH-SKU") == ()
    listed = list(match)
    assert len({p.id for p in listed}) == len(listed)
    assert all(p.product_sku == product.sku for p in match.by_sku[product.sku].rate_plans)

    calls = sandbox.log.count("zuora")
    again = client.find_rate_plans(product2_ids, [product.sku, "NO-SUCH-SKU"])
    assert again == match
    assert sandbox.log.count("zuora") == calls  # all from the cache


# --- pure helpers ---------------------------------------------------------------------------


def test_reasons_from_every_shape_zuora_uses() -> None:
    from cpq_sync_gui.zuora.client import _reasons

    assert _reasons({"success": False, "reasons": [{"code": 53100320, "message": "bad"}]}) == [
        ZuoraReason(53100320, "bad")
    ]
    assert _reasons({"Errors": [{"Code": "INVALID_VALUE", "Message": "x"}], "Success": False}) == [
        ZuoraReason(None, "INVALID_VALUE: x")
    ]
    assert _reasons({"FaultCode": "MALFORMED_QUERY", "FaultMessage": "y"}) == [
        ZuoraReason(None, "MALFORMED_QUERY: y")
    ]
    assert _reasons({"message": "Authentication error"}) == [
        ZuoraReason(None, "Authentication error")
    ]
    assert _reasons("not json") == []


def test_the_client_wants_https() -> None:
    with pytest.raises(ValueError, match="https"):
        ZuoraClient(
            "http://rest.zuora.com",
            "id",
            "secret",
            session=requests.Session(),
            zuora_version=VERSION,
        )
