"""Triggering Zuora's CPQ connector like the Salesforce buttons do, against the sandbox endpoint."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from cpq_sync_gui.connector import client as connector_client
from cpq_sync_gui.connector.client import (
    ConnectorClient,
    ConnectorError,
    button_url,
    check_endpoint_url,
    check_sfdc_domain,
)
from cpq_sync_gui.net import make_session
from cpq_sync_gui.salesforce.ids import InvalidSalesforceId
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import ConnectorSettings, NetworkSettings, Profile


def make_client(sandbox: Sandbox, **kwargs: Any) -> ConnectorClient:
    endpoint = kwargs.pop("endpoint_url", sandbox.connector_url)
    domain = kwargs.pop("sfdc_domain", sandbox.sfdc_domain)
    kwargs.setdefault(
        "session", make_session(NetworkSettings(proxy_mode="none", ca_bundle=sandbox.ca_path))
    )
    return ConnectorClient(endpoint, domain, **kwargs)


def an_account_id(sandbox: Sandbox) -> str:
    return str(sandbox.org.all("Account")[0]["Id"])


def test_an_account_sync_is_started_exactly_as_the_button_does(
    sandbox: Sandbox, requests_ca_bundle_points_elsewhere: str
) -> None:
    assert requests_ca_bundle_points_elsewhere
    account_id = an_account_id(sandbox)
    answer = make_client(sandbox).trigger_account(account_id[:15])  # 15 characters are fine
    assert answer.status == 200
    assert "has started" in answer.text
    assert (
        answer.url == f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&accountId={account_id}"
    )
    (entry,) = sandbox.log.entries("connector", "GET")
    assert entry.query == {"sfdc": [sandbox.sfdc_domain], "accountId": [account_id]}
    assert sandbox.connector_service.wait_idle(10)
    (synced,) = sandbox.connector_service.sync_log
    assert (synced.record_type, synced.record_id, synced.outcome) == (
        "Account",
        account_id,
        "Success",
    )


def test_an_order_sync_is_started_with_order_id(sandbox: Sandbox) -> None:
    order_id = str(sandbox.org.all("Order")[0]["Id"])
    answer = make_client(sandbox).trigger_order(order_id)
    assert answer.status == 200
    (entry,) = sandbox.log.entries("connector", "GET")
    assert entry.query["orderId"] == [order_id]
    assert "accountId" not in entry.query


def test_an_unrouted_domain_says_to_open_a_support_ticket(sandbox: Sandbox) -> None:
    client = make_client(sandbox, sfdc_domain="acme.lightning.force.com")
    with pytest.raises(ConnectorError) as caught:
        client.trigger_account(an_account_id(sandbox))
    error = caught.value
    assert error.kind == "not_routed"
    assert error.status == 403
    assert "acme.lightning.force.com" in error.message
    assert "support ticket" in error.message
    assert f"{sandbox.connector_url}?sfdc=acme.lightning.force.com&accountId=" in error.message
    assert "not registered" in error.text


def test_a_malformed_request_is_a_plain_400(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client checks ids itself; let one through to see what the endpoint says.
    monkeypatch.setattr(connector_client, "parse_id", lambda text, prefix=None: text)
    with pytest.raises(ConnectorError) as caught:
        make_client(sandbox).trigger_account("001-not-an-id")
    assert caught.value.kind == "rejected"
    assert caught.value.status == 400
    assert "Malformed Salesforce id" in caught.value.message


def test_ids_are_checked_before_anything_is_sent(sandbox: Sandbox) -> None:
    client = make_client(sandbox)
    with pytest.raises(InvalidSalesforceId):
        client.trigger_account("001' OR 1=1")
    with pytest.raises(InvalidSalesforceId, match="Order"):
        client.trigger_order(an_account_id(sandbox))
    assert sandbox.log.count("connector") == 0


def test_a_wrong_endpoint_path_is_named(sandbox: Sandbox) -> None:
    client = make_client(sandbox, endpoint_url=sandbox.connector_url + "-old")
    with pytest.raises(ConnectorError) as caught:
        client.trigger_account(an_account_id(sandbox))
    assert caught.value.status == 404
    assert "connector address" in caught.value.message


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("reset", "ambiguous"), ("http500", "server"), ("http429", "rate_limited")],
)
def test_failures_are_classified_and_never_retried(sandbox: Sandbox, fault: str, kind: str) -> None:
    sandbox.faults.add("connector", "GET", "*", fault, 1.0)
    with pytest.raises(ConnectorError) as caught:
        make_client(sandbox).trigger_account(an_account_id(sandbox))
    assert caught.value.kind == kind
    assert sandbox.log.count("connector") == 1
    if kind == "ambiguous":
        assert caught.value.may_have_been_applied
        assert "Integration Hub" in caught.value.message


def test_a_timeout_is_ambiguous(sandbox: Sandbox) -> None:
    sandbox.faults.hang_s = 1.0
    sandbox.faults.add("connector", "GET", "*", "timeout", 1.0)
    with pytest.raises(ConnectorError) as caught:
        make_client(sandbox, timeouts=(5, 0.3)).trigger_account(an_account_id(sandbox))
    assert caught.value.kind == "ambiguous"


def test_nothing_listening_is_network_before_send(sandbox: Sandbox) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(sandbox, endpoint_url=f"https://127.0.0.1:{port}/default/sfdccpq")
    with pytest.raises(ConnectorError) as caught:
        client.trigger_account(an_account_id(sandbox))
    assert caught.value.kind == "network_before_send"
    assert "safe to try again" in caught.value.message


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("Acme.Lightning.Force.com", "acme.lightning.force.com"),
        ("https://acme--uat.sandbox.lightning.force.com/", "acme--uat.sandbox.lightning.force.com"),
        ("127.0.0.1:8443", "127.0.0.1:8443"),
    ],
)
def test_check_sfdc_domain_accepts_hosts(typed: str, domain: str) -> None:
    assert check_sfdc_domain(typed) == domain


@pytest.mark.parametrize(
    "bad", ["", "acme lightning", "acme.com/path", "acme.com?x=1", "acme.com:99999", "-acme.com"]
)
def test_check_sfdc_domain_refuses_what_is_not_a_host(bad: str) -> None:
    with pytest.raises(ValueError, match="Lightning host"):
        check_sfdc_domain(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "http://r7eq6a62d4.execute-api.us-west-2.amazonaws.com/default/sfdccpq",
        "https://example.com/default/sfdccpq?sfdc=x",
        "https://user:pw@example.com/x",
        "not a url",
    ],
)
def test_check_endpoint_url_refuses_bad_addresses(bad: str) -> None:
    with pytest.raises(ValueError, match="connector address"):
        check_endpoint_url(bad)


def test_button_url_matches_the_salesforce_button() -> None:
    url = button_url(
        "https://r7eq6a62d4.execute-api.us-west-2.amazonaws.com/default/sfdccpq/",
        "zuora-18f-dev-ed.develop.lightning.force.com",
        "account",
        "0015g000Hl89dJk",
    )
    assert url == (
        "https://r7eq6a62d4.execute-api.us-west-2.amazonaws.com/default/sfdccpq"
        "?sfdc=zuora-18f-dev-ed.develop.lightning.force.com&accountId=0015g000Hl89dJkAII"
    )
    with pytest.raises(ValueError, match="account"):
        button_url("https://x.example/p", "x.example", "contact", "0015g000Hl89dJk")


def test_a_client_from_a_profile_derives_the_domain_from_the_instance(sandbox: Sandbox) -> None:
    profile = Profile(
        name="connector",
        connector=ConnectorSettings(endpoint_url=sandbox.connector_url),
        network=NetworkSettings(proxy_mode="none", ca_bundle=sandbox.ca_path),
    )
    client = ConnectorClient.from_profile(profile, instance_url=sandbox.salesforce_url)
    assert client.sfdc_domain == sandbox.sfdc_domain
    assert client.trigger_account(an_account_id(sandbox)).status == 200
    with pytest.raises(ValueError, match="log in to Salesforce first"):
        ConnectorClient.from_profile(profile)
