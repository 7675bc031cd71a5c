"""The record browser's listing read (SalesforceClient.list_iter) against the sandbox org, and its page parser."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cpq_sync_gui.salesforce.client import SalesforceClient, SalesforceQueryError, parse_query_page
from cpq_sync_gui.sandbox.sandbox import Sandbox
from tests.helpers.sandbox_clients import network_settings, salesforce_client


def client_for(sandbox: Sandbox) -> SalesforceClient:
    return salesforce_client(sandbox, network_settings(sandbox))


def test_list_iter_reads_what_query_iter_reads(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(accounts=2300, orders=0)
    client = client_for(sandbox)
    soql = "SELECT Id, Name, Owner.Name, BillingCity FROM Account ORDER BY Name, Id"
    sandbox.log.clear()
    listed = list(client.list_iter(soql, batch_size=1000))
    pages = sandbox.log.entries("salesforce", "GET", "/services/data/v62.0/query/*")
    assert [e.status for e in pages] == [200, 200, 200]  # 1,000 + 1,000 + 300
    assert {e.headers["sforce-query-options"] for e in pages} == {"batchSize=1000"}
    assert listed == list(client.query_iter(soql, batch_size=1000))
    assert len({record["Id"] for record in listed}) == 2300
    assert client.api_usage() is not None  # Sforce-Limit-Info read from the listing's answers


def test_listing_resumes_at_the_failed_page_after_session_expiry(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(accounts=500, orders=0)
    client = client_for(sandbox)
    sandbox.log.clear()
    seen: list[str] = []
    for number, record in enumerate(client.list_iter("SELECT Id FROM Account", batch_size=200)):
        seen.append(record["Id"])
        if number == 199:  # the first page is read: the session times out
            sandbox.salesforce_service.expire_all_sessions()
    assert len(seen) == len(set(seen)) == 500
    assert client.connection.relogin_count == 1
    more = sandbox.log.entries("salesforce", "GET", "/services/data/v62.0/query/01g*")
    assert [e.status for e in more] == [401, 200, 200]
    assert more[0].path == more[1].path  # the page that failed was read again
    assert len(sandbox.log.entries("salesforce", "GET", "/services/data/v62.0/query/")) == 1


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT NoSuchField__c FROM Account", "INVALID_FIELD"),
    ],
)
def test_listing_errors_are_plain(sandbox: Sandbox, soql: str, code: str) -> None:
    with pytest.raises(SalesforceQueryError) as caught:
        list(client_for(sandbox).list_iter(soql))
    assert caught.value.code == code


def test_a_truncated_listing_page_is_a_bad_answer(sandbox: Sandbox) -> None:
    client = client_for(sandbox)
    sandbox.faults.add("salesforce", "GET", "/services/data/*/query/*", "truncated", 1.0)
    with pytest.raises(SalesforceQueryError) as caught:
        list(client.list_iter("SELECT Id FROM Account"))
    assert caught.value.code == "BAD_ANSWER"


def test_list_iter_checks_the_batch_size(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="between 200 and 2000"):
        list(client_for(sandbox).list_iter("SELECT Id FROM Account", batch_size=100))


# --- the page parser (no server needed) ----------------------------------------------------

PAGE = {
    "totalSize": 3,
    "done": False,
    "nextRecordsUrl": "/services/data/v62.0/query/01gX-2",
    "records": [
        {"attributes": {"type": "Account"}, "Id": "001A", "Name": 'Ä "quoted" \\ name'},
        {"Id": "001B", "Owner": {"Name": "Ann"}, "Amount": 12.5, "Tags": [1, None, True]},
    ],
}


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(PAGE),
        json.dumps(PAGE, indent=2),
        json.dumps(PAGE, separators=(",", ":"), ensure_ascii=False),
        json.dumps({"records": PAGE["records"], "done": True, "totalSize": 2}),  # records first
        json.dumps({"totalSize": 0, "done": True, "records": []}),
        ' \n{ "records" : [ ] , "done" : true }\n',
    ],
)
def test_the_page_parser_gives_what_json_loads_gives(text: str) -> None:
    assert parse_query_page(text) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"records": [1,]}',
        '{"done": true,}',
        '{"records": [1 2]}',
        '{"done" true}',
        '{"done": true} trailing',
        '{"records": [{"Id": "001A"}',
        "",
    ],
)
def test_the_page_parser_rejects_what_is_not_json(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):  # json.loads's own error, with its position
        parse_query_page(text)
