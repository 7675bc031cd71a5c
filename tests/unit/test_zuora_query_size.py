"""Every ZOQL query the Zuora client sends fits Zuora's limits: ≤200 conditions, <10,000 chars."""

from __future__ import annotations

import re
import secrets

import pytest
import requests

from cpq_sync_gui.salesforce.ids import IdFactory
from cpq_sync_gui.sandbox import zuora_zoql
from cpq_sync_gui.zuora import zoql
from cpq_sync_gui.zuora.client import MAX_ZOQL_LENGTH, ZuoraClient, ZuoraRatePlan, or_queries

IDS = IdFactory(11)


class RecordingClient(ZuoraClient):
    """A client whose ZOQL queries are kept instead of sent (no network)."""

    def __init__(self) -> None:
        super().__init__(
            "https://rest.example.com",
            "client",
            "secret",
            session=requests.Session(),
            zuora_version="2025-08-12",
        )
        self.sent: list[str] = []

    def query(self, zoql_text: str) -> list[dict[str, object]]:
        self.sent.append(zoql_text)
        return []


def _conditions(text: str) -> int:
    return text.count(" = ")


def _check_fits(text: str) -> None:
    assert len(text) < MAX_ZOQL_LENGTH, len(text)
    assert _conditions(text) <= zoql.MAX_CONDITIONS
    zuora_zoql.parse(text)  # the sandbox's parser enforces both limits as Zuora does


def _zuora_id() -> str:
    return secrets.token_hex(16)  # Zuora ids are 32 hex characters


@pytest.mark.parametrize("count", [1, 171, 172, 200, 201, 450, 1000])
def test_rate_plan_charge_queries_stay_under_10000_characters(count: int) -> None:
    client = RecordingClient()
    plans = [ZuoraRatePlan(id=_zuora_id(), name=f"Plan {n}") for n in range(count)]
    client._with_charges(plans)
    assert client.sent
    for text in client.sent:
        _check_fits(text)
    asked = [value for text in client.sent for value in re.findall(r"'([0-9a-f]{32})'", text)]
    assert asked == [plan.id for plan in plans]  # every plan once, in order
    # The old batches of 200 would not fit: 200 such conditions are ~11,600 characters.
    one_query = (
        "select Id, Name, ChargeType, ChargeModel, BillingPeriod, ProductRatePlanId "
        "from ProductRatePlanCharge where "
        + " or ".join(f"ProductRatePlanId = {zoql.quote(_zuora_id())}" for _ in range(200))
    )
    assert len(one_query) > MAX_ZOQL_LENGTH
    with pytest.raises(zuora_zoql.ZoqlError):
        zuora_zoql.parse(one_query)


@pytest.mark.parametrize("include_15", [True, False])
@pytest.mark.parametrize("count", [1, 100, 101, 200, 201, 650])
def test_account_queries_by_crm_id_stay_under_10000_characters(
    include_15: bool, count: int
) -> None:
    client = RecordingClient()
    ids = [IDS("001") for _ in range(count)]
    client.find_accounts_by_crm_id(ids, include_15=include_15)
    for text in client.sent:
        _check_fits(text)
    forms = [
        form for record_id in ids for form in zoql.crm_id_forms(record_id, include_15=include_15)
    ]
    asked = [value for text in client.sent for value in re.findall(r"'([0-9A-Za-z]+)'", text)]
    assert asked == forms


def test_or_queries_split_on_length_and_on_condition_count() -> None:
    head = "select Id from X where "
    long = [f"Name = {zoql.quote('x' * 1000)}" for _ in range(25)]
    texts = list(or_queries(head, long))
    assert len(texts) > 1
    assert all(len(t) < MAX_ZOQL_LENGTH for t in texts)
    assert sum(_conditions(t) for t in texts) == 25
    short = [f"Id = {zoql.quote(str(n))}" for n in range(401)]
    assert [_conditions(t) for t in or_queries(head, short)] == [200, 200, 1]
    assert list(or_queries(head, [])) == []
