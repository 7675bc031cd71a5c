"""Planning: every problem before anything is sent, dependencies first, deterministic, exportable.

The readers here are in-memory stand-ins for SalesforceClient and ZuoraClient (their HTTP is
tested against the sandbox); the plan's own logic is what is under test.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from cpq_sync_gui.salesforce.ids import to_18
from cpq_sync_gui.salesforce.records import AccountRecord, ContactRecord, OrderRecord
from cpq_sync_gui.sync.mapping import MappingOptions
from cpq_sync_gui.sync.plan import PlanOptions, build_plan
from cpq_sync_gui.zuora.client import (
    CatalogMatch,
    ZuoraAccountRef,
    ZuoraCharge,
    ZuoraError,
    ZuoraProduct,
    ZuoraRatePlan,
)

PARENT = to_18("001AA000000PaRN")
CHILD = to_18("001AA000000ChiL")
NO_COUNTRY = to_18("001AA000000NoCT")
IN_ZUORA = to_18("001AA000000InZU")
ORDER_NEW = to_18("801AA000000OrNE")
ORDER_DONE = to_18("801AA000000OrDN")
ORDER_BAD = to_18("801AA000000OrBD")
PRODUCT = to_18("01tAA000000PrOD")
MISSING_PRODUCT = to_18("01tAA000000MiSS")
CONTACT = to_18("003AA000000CoNT")


def _account(record_id: str, name: str, **changes: Any) -> AccountRecord:
    record = {
        "Id": record_id,
        "Name": name,
        "CurrencyIsoCode": "USD",
        "BillingStreet": "1 Market Street",
        "BillingCity": "San Francisco",
        "BillingState": "CA",
        "BillingPostalCode": "94105",
        "BillingCountry": "United States",
    }
    record.update(changes)
    return AccountRecord.from_api(record)


def _order(record_id: str, number: str, account_id: str, *, sku: str = "SKU-1") -> OrderRecord:
    return OrderRecord.from_api(
        {
            "Id": record_id,
            "OrderNumber": number,
            "AccountId": account_id,
            "EffectiveDate": "2024-05-01",
            "Status": "Activated",
            "CurrencyIsoCode": "USD",
            "BillToContactId": CONTACT,
            "OrderItems": {
                "records": [
                    {
                        "Id": to_18("802" + record_id[3:15]),
                        "Product2Id": PRODUCT if sku == "SKU-1" else MISSING_PRODUCT,
                        "Product2": {"ProductCode": sku, "Name": "Widget"},
                        "Quantity": 2,
                        "UnitPrice": 10,
                        "ServiceDate": "2024-05-01",
                        "SBQQ__ChargeType__c": "Recurring",
                        "SBQQ__SubscriptionTerm__c": 12,
                        "SBQQ__SubscriptionPricing__c": "Fixed Price",
                    }
                ]
            },
        }
    )


class FakeSalesforce:
    def __init__(self) -> None:
        self.accounts = {
            a.id: a
            for a in [
                _account(PARENT, "Parent Holdings"),
                _account(CHILD, "Child GmbH", ParentId=PARENT),
                _account(NO_COUNTRY, "Nowhere Ltd", BillingCountry=None),
                _account(IN_ZUORA, "Already There"),
            ]
        }
        self.orders = {
            o.id: o
            for o in [
                _order(ORDER_NEW, "00000101", CHILD),
                _order(ORDER_DONE, "00000102", IN_ZUORA),
                _order(ORDER_BAD, "00000103", NO_COUNTRY, sku="SKU-GONE"),
            ]
        }
        self.contacts = {
            CONTACT: ContactRecord.from_api({"Id": CONTACT, "Email": "ap@child.example.com"})
        }
        self.calls: list[tuple[str, int]] = []

    def accounts_by_ids(self, ids: list[str]) -> dict[str, AccountRecord]:
        self.calls.append(("accounts", len(ids)))
        return {i: self.accounts[i] for i in ids if i in self.accounts}

    def orders_with_items_by_ids(self, ids: list[str]) -> dict[str, OrderRecord]:
        self.calls.append(("orders", len(ids)))
        return {i: self.orders[i] for i in ids if i in self.orders}

    def contacts_by_ids(self, ids: list[str]) -> dict[str, ContactRecord]:
        self.calls.append(("contacts", len(ids)))
        return {i: self.contacts[i] for i in ids if i in self.contacts}


CHARGE = ZuoraCharge("c" * 32, "Widget fee", "Recurring", "Per Unit Pricing")
PLAN = ZuoraRatePlan("p" * 32, "Widget (Monthly)", external_ids=(PRODUCT,), charges=(CHARGE,))


class FakeZuora:
    def __init__(self) -> None:
        self.accounts: dict[str, list[ZuoraAccountRef]] = {
            IN_ZUORA: [ZuoraAccountRef("z" * 32, "A00000007", IN_ZUORA)]
        }
        self.orders = {"00000102": {"orderNumber": "00000102", "id": "o" * 32}}
        self.crm_lookups: list[list[str]] = []

    def find_accounts_by_crm_id(self, ids: list[str]) -> dict[str, list[ZuoraAccountRef]]:
        self.crm_lookups.append(list(ids))
        return {i: list(self.accounts.get(i, [])) for i in ids}

    def get_order(self, number: str) -> dict[str, Any] | None:
        return self.orders.get(number)

    def find_rate_plans(self, product2_ids: list[str], skus: list[str]) -> CatalogMatch:
        by_p2 = {p: (PLAN,) for p in product2_ids if p == PRODUCT}
        by_sku = {"SKU-1": ZuoraProduct("q" * 32, "SKU-1", "Widget", rate_plans=(PLAN,))}
        return CatalogMatch(
            by_p2,
            {s: by_sku[s] for s in skus if s in by_sku},
            frozenset(p for p in product2_ids if p != PRODUCT),
            frozenset(s for s in skus if s not in by_sku),
        )


def _plan(kind: str, ids: list[str], **options: Any) -> Any:
    return build_plan(kind, ids, FakeSalesforce(), FakeZuora(), PlanOptions(**options))


def test_a_child_account_plans_its_parent_first() -> None:
    plan = _plan("accounts", [CHILD])
    assert [r.record_id for r in plan.records] == [PARENT, CHILD]
    parent, child = plan.records
    assert (parent.action, parent.selected, child.selected) == ("create", False, True)
    assert parent.reason == "needed as the parent of Child GmbH"
    assert child.depends_on == (PARENT,)
    assert child.bindings == {"parentId": PARENT}
    assert child.payload is not None
    assert PARENT in child.payload["parentId"]
    assert not child.problems
    assert not parent.problems


def test_account_problems_and_existing_accounts() -> None:
    plan = _plan("accounts", [NO_COUNTRY, IN_ZUORA])
    nowhere, there = plan.records
    assert [p.code for p in nowhere.problems] == ["billing_country_missing"]
    assert nowhere.blocked
    assert "Nowhere Ltd" in nowhere.problem_text()
    assert (there.action, there.zuora_number, there.payload) == ("skip", "A00000007", None)
    assert there.reason == "already in Zuora as A00000007"
    assert plan.counts() == {"total": 2, "create": 0, "update": 0, "skip": 1, "blocked": 1}
    updated = _plan("accounts", [IN_ZUORA], update_existing=True).records[0]
    assert updated.action == "update"
    assert set(updated.payload) == {"name", "billToContact", "soldToContact"}
    assert "account.update" in updated.rules


def test_orders_plan_their_accounts_first_and_report_every_problem() -> None:
    plan = _plan("orders", [ORDER_BAD, ORDER_DONE, ORDER_NEW])
    ids = [r.record_id for r in plan.records]
    # accounts first (top level before children, else in the order needed), then orders
    assert ids == [NO_COUNTRY, PARENT, CHILD, ORDER_BAD, ORDER_DONE, ORDER_NEW]
    by_id = {r.record_id: r for r in plan.records}
    bad = by_id[ORDER_BAD]
    assert {p.code for p in bad.problems} == {"product_not_in_catalog", "account_blocked"}
    assert any("SKU-GONE" in p.message for p in bad.problems)
    done = by_id[ORDER_DONE]
    assert (done.action, done.reason) == ("skip", "already in Zuora as order 00000102")
    new = by_id[ORDER_NEW]
    assert new.depends_on == (CHILD,)
    assert new.bindings == {"existingAccountNumber": CHILD}
    assert new.payload["orderDate"] == "2024-05-01"
    # The Bill To contact of an order gives the new account its e-mail.
    assert by_id[CHILD].payload["billToContact"]["workEmail"] == "ap@child.example.com"
    assert by_id[PARENT].depends_on == ()


def test_an_order_whose_account_is_in_zuora_uses_its_number() -> None:
    sf, zuora = FakeSalesforce(), FakeZuora()
    zuora.orders.clear()
    plan = build_plan("orders", [ORDER_DONE], sf, zuora)
    assert [r.record_id for r in plan.records] == [ORDER_DONE]
    assert plan.records[0].payload["existingAccountNumber"] == "A00000007"
    assert plan.records[0].depends_on == ()
    assert ("contacts", 1) not in sf.calls  # the account exists: its contact is not needed


def test_duplicate_accounts_in_zuora_stop_the_order() -> None:
    sf, zuora = FakeSalesforce(), FakeZuora()
    zuora.orders.clear()
    zuora.accounts[IN_ZUORA].append(ZuoraAccountRef("y" * 32, "A00000009", IN_ZUORA))
    plan = build_plan("orders", [ORDER_DONE], sf, zuora)
    assert [p.code for p in plan.records[0].problems] == ["duplicate_in_zuora"]
    assert "A00000007, A00000009" in plan.records[0].problems[0].message
    account_plan = build_plan("accounts", [IN_ZUORA], sf, zuora)
    assert account_plan.records[0].action == "skip"
    assert [(p.code, p.severity) for p in account_plan.records[0].problems] == [
        ("duplicate_in_zuora", "warning")
    ]


def test_unknown_and_invalid_ids_are_planned_as_failures() -> None:
    unknown = to_18("001AA000000ZZZZ")
    plan = _plan("accounts", [unknown, "not-an-id", PARENT, PARENT[:15]])
    assert [r.record_id for r in plan.records] == [PARENT, unknown, "not-an-id"]
    assert [p.code for p in plan.records[1].problems] == ["not_found"]
    assert [p.code for p in plan.records[2].problems] == ["invalid_id"]


def test_the_plan_is_deterministic_and_exports_as_json() -> None:
    first = _plan("orders", [ORDER_NEW, ORDER_BAD, ORDER_DONE]).to_json()
    second = _plan("orders", [ORDER_NEW, ORDER_BAD, ORDER_DONE]).to_json()
    first.pop("created_at")
    second.pop("created_at")
    assert first == second
    text = json.dumps(first, ensure_ascii=False)
    assert "order.rate_plan" in first["rules"]
    assert first["rules"]["order.date"].startswith("Order.EffectiveDate → orderDate")
    assert "existingAccountNumber" in text


def test_reads_are_batched_not_per_record() -> None:
    sf, zuora = FakeSalesforce(), FakeZuora()
    extra = {}
    for n in range(1000):
        order_id = to_18(f"801AA{n:010d}")
        extra[order_id] = _order(order_id, f"1{n:07d}", CHILD)
    sf.orders.update(extra)
    plan = build_plan("orders", list(extra), sf, zuora)
    assert len(plan.records) == 1002
    # One call per 200 ids (one IN-list query each): orders, their account, its parent, a contact.
    assert sf.calls == [("orders", 200)] * 5 + [("accounts", 1), ("accounts", 1), ("contacts", 1)]
    assert plan.salesforce_queries == 8
    assert len(zuora.crm_lookups) == 1


def test_org_currency_fills_accounts_without_one() -> None:
    sf = FakeSalesforce()
    sf.accounts[PARENT] = _account(PARENT, "Parent Holdings", CurrencyIsoCode=None)

    plan = build_plan(
        "accounts",
        [PARENT],
        sf,
        FakeZuora(),
        PlanOptions(mapping=MappingOptions(org_currency="GBP")),
    )
    assert plan.records[0].payload["currency"] == "GBP"
    no_currency = build_plan("accounts", [PARENT], sf, FakeZuora())
    assert [p.code for p in no_currency.records[0].problems] == ["currency_missing"]


@pytest.mark.parametrize("kind", ["contacts", ""])
def test_kind_must_be_accounts_or_orders(kind: str) -> None:
    with pytest.raises(ValueError, match="kind must be"):
        build_plan(kind, [], FakeSalesforce(), FakeZuora())


def test_without_zuora_nothing_is_looked_up_and_the_catalog_is_not_checked() -> None:
    plan = build_plan("orders", [ORDER_BAD, ORDER_DONE], FakeSalesforce(), None)
    by_id = {r.record_id: r for r in plan.records}
    assert by_id[ORDER_DONE].action == "create"  # not known to be in Zuora
    assert by_id[IN_ZUORA].action == "create"
    codes = {p.code for p in by_id[ORDER_BAD].problems}
    assert "product_not_in_catalog" not in codes
    assert "account_blocked" in codes  # Salesforce data problems are still found


class CountingZuora(FakeZuora):
    """Counts the Zuora reads in flight at once; says the tenant's limit like ZuoraClient."""

    def __init__(self, stated: dict[str, int] | None = None) -> None:
        super().__init__()
        self.stated_concurrency_limits = dict(stated or {})
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.looked_up: list[str] = []
        self.refuse: str | None = None

    def get_order(self, number: str) -> dict[str, Any] | None:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.looked_up.append(number)
        try:
            time.sleep(0.002)  # long enough for the others to start
            if number == self.refuse:
                raise ZuoraError("rejected", f"Zuora refused GET /v1/orders/{number}", status=400)
            return super().get_order(number)
        finally:
            with self._lock:
                self.in_flight -= 1


def _many_orders(sf: FakeSalesforce, count: int) -> list[str]:
    extra = {}
    for n in range(count):
        order_id = to_18(f"801AA{n:010d}")
        extra[order_id] = _order(order_id, f"1{n:07d}", CHILD)
    sf.orders.update(extra)
    return list(extra)


@pytest.mark.parametrize(("stated", "most"), [({}, 8), ({"Default": 3}, 3), ({"Default": 40}, 10)])
def test_zuora_reads_stay_within_the_tenants_stated_limit(
    stated: dict[str, int], most: int
) -> None:
    sf, zuora = FakeSalesforce(), CountingZuora(stated)
    ids = _many_orders(sf, 120)
    plan = build_plan("orders", [*ids, ORDER_DONE], sf, zuora)
    assert len(zuora.looked_up) == 121  # every order looked up once
    assert 1 < zuora.peak <= most
    done = next(r for r in plan.records if r.record_id == ORDER_DONE)
    assert done.action == "skip"  # what the look-ups found is used as before


def test_a_failed_order_look_up_fails_the_plan() -> None:
    sf, zuora = FakeSalesforce(), CountingZuora({"Default": 2})
    ids = _many_orders(sf, 200)
    zuora.refuse = "10000003"
    with pytest.raises(ZuoraError, match="refused GET /v1/orders/10000003"):
        build_plan("orders", ids, sf, zuora)
    assert zuora.in_flight == 0  # nothing is left running once the plan has failed
