"""Salesforce → Zuora payload mapping: golden cases, limits, dates that never shift, Zuora's schemas."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from cpq_sync_gui.salesforce.records import AccountRecord, ContactRecord, OrderRecord
from cpq_sync_gui.sandbox.zuora_payloads import validate_create_account, validate_create_order
from cpq_sync_gui.sync.mapping import (
    MAPPING_RULES,
    MAX_ORDER_PRODUCTS,
    Catalog,
    CatalogCharge,
    CatalogPlan,
    MappingOptions,
    account_payload,
    fit,
    order_payload,
    rule_text,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"

ACCOUNT_ID = "001AA000001AbCdEAA"
PARENT_ZUORA_ID = "8a8aa0b1c2d3e4f5a6b7c8d9e0f1a2b3"


def _account(**changes: Any) -> AccountRecord:
    record = {
        "Id": ACCOUNT_ID,
        "Name": "O'Brien & Sons",
        "CurrencyIsoCode": "EUR",
        "Description": "Key account.\nInvoices by e-mail.",
        "Owner": {"attributes": {"type": "User"}, "Name": "Alex Morgan"},
        "ParentId": None,
        "BillingStreet": "12 Main Street\nSuite 400",
        "BillingCity": "Boston",
        "BillingState": "MA",
        "BillingPostalCode": "02110",
        "BillingCountry": "United States",
        "ShippingStreet": "Hauptstraße 5",
        "ShippingCity": "Berlin",
        "ShippingState": "Berlin",
        "ShippingPostalCode": "10115",
        "ShippingCountry": "Germany",
    }
    record.update(changes)
    return AccountRecord.from_api(record)


def test_account_golden_payload() -> None:
    contact = ContactRecord.from_api(
        {"Id": "003AA000001AbCdEAA", "Email": "ap@obrien.example.com", "MobilePhone": "+1 555"}
    )
    mapped = account_payload(
        _account(), contact=contact, parent_zuora_id=PARENT_ZUORA_ID, options=MappingOptions()
    )
    assert mapped.problems == []
    assert mapped.payload == {
        "name": "O'Brien & Sons",
        "crmId": ACCOUNT_ID,
        "currency": "EUR",
        "billCycleDay": 1,
        "autoPay": False,
        "notes": "Key account.\nInvoices by e-mail.",
        "salesRep": "Alex Morgan",
        "parentId": PARENT_ZUORA_ID,
        "billToContact": {
            "firstName": "O'Brien & Sons_billTo",
            "lastName": "O'Brien & Sons_billTo",
            "address1": "12 Main Street",
            "address2": "Suite 400",
            "city": "Boston",
            "state": "MA",
            "zipCode": "02110",
            "country": "United States",
            "workEmail": "ap@obrien.example.com",
            "mobilePhone": "+1 555",
        },
        "soldToContact": {
            "firstName": "O'Brien & Sons_soldTo",
            "lastName": "O'Brien & Sons_soldTo",
            "address1": "Hauptstraße 5",
            "city": "Berlin",
            "state": "Berlin",
            "zipCode": "10115",
            "country": "Germany",
            "workEmail": "ap@obrien.example.com",
            "mobilePhone": "+1 555",
        },
    }
    assert validate_create_account(mapped.payload) == []
    assert {"account.bill_to", "account.parent", "account.description"} <= set(mapped.rules)


def test_no_shipping_address_reuses_bill_to_and_org_currency_fills_in() -> None:
    account = _account(
        CurrencyIsoCode=None,
        ShippingStreet=None,
        ShippingCity=None,
        ShippingState=None,
        ShippingPostalCode=None,
        ShippingCountry=None,
        Description=None,
        Owner=None,
    )
    mapped = account_payload(account, options=MappingOptions(org_currency="USD"))
    assert mapped.payload["currency"] == "USD"
    assert mapped.payload["soldToContact"] == mapped.payload["billToContact"]
    assert mapped.payload["soldToContact"] is not mapped.payload["billToContact"]
    assert "notes" not in mapped.payload
    assert "salesRep" not in mapped.payload
    assert "parentId" not in mapped.payload
    assert validate_create_account(mapped.payload) == []


def test_long_and_wide_names_are_cut_deterministically_keeping_the_suffix() -> None:
    long_name = "The Extremely Long Named " + "Consolidated International Holdings " * 7
    long_name = long_name[:255]
    mapped = account_payload(_account(Name=long_name, Owner={"Name": "N" * 80}))
    bill_to = mapped.payload["billToContact"]
    assert bill_to["firstName"].endswith("_billTo")
    assert len(bill_to["firstName"]) <= 100
    assert bill_to["firstName"] == bill_to["lastName"]
    assert (
        bill_to["firstName"]
        == account_payload(_account(Name=long_name)).payload["billToContact"]["firstName"]
    )
    assert not bill_to["firstName"][:-7].endswith(" ")
    assert len(mapped.payload["salesRep"]) == 50
    assert mapped.payload["name"] == long_name.strip()
    assert validate_create_account(mapped.payload) == []
    # An emoji is one character in Python but two in Java: both counts must fit.
    emoji_name = "🚀" * 60
    cut = fit(emoji_name, 100, "_billTo")
    assert cut is not None
    assert cut.endswith("_billTo")
    assert len(cut.encode("utf-16-le")) // 2 <= 100
    assert cut == "🚀" * 46 + "_billTo"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"BillingCountry": None}, "billing_country_missing"),
        ({"BillingState": None}, "billing_state_missing"),
        (
            {
                "BillingStreet": None,
                "BillingCity": None,
                "BillingState": None,
                "BillingPostalCode": None,
                "BillingCountry": None,
            },
            "billing_address_missing",
        ),
        ({"CurrencyIsoCode": None}, "currency_missing"),
    ],
)
def test_account_problems_in_plain_words(changes: dict[str, Any], code: str) -> None:
    mapped = account_payload(_account(**changes))
    assert [p.code for p in mapped.problems] == [code]
    assert mapped.blocked
    message = mapped.problems[0].message
    assert "O'Brien & Sons" in message
    assert "Zuora" in message or "currency" in message


def test_state_and_country_codes_win_when_the_org_has_picklists() -> None:
    mapped = account_payload(
        _account(BillingStateCode="MA", BillingCountryCode="US", BillingState="Massachusetts")
    )
    assert mapped.payload["billToContact"]["state"] == "MA"
    assert mapped.payload["billToContact"]["country"] == "US"


# --- orders ---------------------------------------------------------------------------------

PRODUCT_SUB = "01tAA000001AbCdEAA"
PRODUCT_ONCE = "01tAA000002AbCdEAA"
PRODUCT_BY_SKU = "01tAA000003AbCdEAA"
PLAN_SUB = "a" * 32
PLAN_ONCE = "b" * 32
PLAN_SKU = "c" * 32
CHARGE_SUB = "1" * 32
CHARGE_ONCE = "2" * 32
CHARGE_SKU = "3" * 32


def _catalog() -> Catalog:
    return Catalog.of(
        [
            CatalogPlan(
                PLAN_SUB,
                "Platform (Monthly)",
                "SKU-PLAT-001",
                "Platform",
                (PRODUCT_SUB,),
                (CatalogCharge(CHARGE_SUB, "Platform", "Recurring", "Per Unit Pricing"),),
            ),
            CatalogPlan(
                PLAN_ONCE,
                "Implementation",
                "SKU-SVC-001",
                "Implementation",
                (PRODUCT_ONCE,),
                (CatalogCharge(CHARGE_ONCE, "Fee", "OneTime", "Per Unit Pricing"),),
            ),
            CatalogPlan(
                PLAN_SKU,
                "Support (Annual)",
                "SKU-SUP-001",
                "Support",
                (),  # no externallyManagedPlanId: found by SKU only
                (CatalogCharge(CHARGE_SKU, "Support", "Recurring", "Flat Fee Pricing"),),
            ),
        ]
    )


def _item(n: int, product: str, code: str, **changes: Any) -> dict[str, Any]:
    item = {
        "Id": f"802AA00000{n}AbCdEAA",
        "OrderItemNumber": f"000000000{n}",
        "Product2Id": product,
        "Product2": {"ProductCode": code, "Name": f"Product {code}"},
        "Quantity": 3.0,
        "UnitPrice": 44.1,
        "ListPrice": 49.0,
        "ServiceDate": "2024-03-10",
        "SBQQ__ChargeType__c": "Recurring",
        "SBQQ__SubscriptionTerm__c": 24.0,
        "SBQQ__SubscriptionPricing__c": "Fixed Price",
        "SBQQ__SubscriptionType__c": "Renewable",
    }
    item.update(changes)
    return item


def _order(items: list[dict[str, Any]] | None = None, **changes: Any) -> OrderRecord:
    record = {
        "Id": "801AA000001AbCdEAA",
        "OrderNumber": "00000101",
        "AccountId": ACCOUNT_ID,
        "EffectiveDate": "2024-03-10",
        "Status": "Activated",
        "Description": "Expansion after pilot.",
        "CurrencyIsoCode": "EUR",
        "SBQQ__RenewalTerm__c": 12.0,
        "OrderItems": {
            "totalSize": 3,
            "done": True,
            "records": items
            if items is not None
            else [
                _item(1, PRODUCT_SUB, "SKU-PLAT-001"),
                _item(
                    2,
                    PRODUCT_ONCE,
                    "SKU-SVC-001",
                    Quantity=1.0,
                    UnitPrice=4500.0,
                    ListPrice=5000.0,
                    SBQQ__ChargeType__c="One-Time",
                    SBQQ__SubscriptionTerm__c=None,
                    SBQQ__SubscriptionPricing__c=None,
                    SBQQ__SubscriptionType__c=None,
                ),
                _item(3, "01tZZ000009AbCdEAA", "SKU-SUP-001", ServiceDate="2024-04-01"),
            ],
        },
    }
    record.update(changes)
    return OrderRecord.from_api(record)


def test_order_golden_payload() -> None:
    mapped = order_payload(
        _order(), account_number="A00000042", catalog=_catalog(), account_currency="EUR"
    )
    assert mapped.problems == []
    assert mapped.payload == {
        "orderNumber": "00000101",
        "orderDate": "2024-03-10",
        "existingAccountNumber": "A00000042",
        "description": "Expansion after pilot.",
        "subscriptions": [
            {
                "orderActions": [
                    {
                        "type": "CreateSubscription",
                        "triggerDates": [
                            {"name": "ContractEffective", "triggerDate": "2024-03-10"}
                        ],
                        "createSubscription": {
                            "terms": {
                                "initialTerm": {
                                    "termType": "TERMED",
                                    "period": 24,
                                    "periodType": "Month",
                                    "startDate": "2024-03-10",
                                },
                                "autoRenew": False,
                                "renewalSetting": "RENEW_WITH_SPECIFIC_TERM",
                                "renewalTerms": [{"period": 12, "periodType": "Month"}],
                            },
                            "subscribeToRatePlans": [
                                {
                                    "productRatePlanId": PLAN_SUB,
                                    "externallyManagedPlanId": "802AA000001AbCdEAA",
                                    "chargeOverrides": [
                                        {
                                            "productRatePlanChargeId": CHARGE_SUB,
                                            "pricing": {
                                                "recurringPerUnit": {
                                                    "listPrice": 44.1,
                                                    "quantity": 3,
                                                }
                                            },
                                        }
                                    ],
                                },
                                {
                                    "productRatePlanId": PLAN_SKU,
                                    "externallyManagedPlanId": "802AA000003AbCdEAA",
                                    "chargeOverrides": [
                                        {
                                            "productRatePlanChargeId": CHARGE_SKU,
                                            "pricing": {"recurringFlatFee": {"listPrice": 44.1}},
                                            "startDate": {
                                                "triggerEvent": "SpecificDate",
                                                "specificTriggerDate": "2024-04-01",
                                            },
                                        }
                                    ],
                                },
                            ],
                        },
                    }
                ]
            }
        ],
        "orderLineItems": [
            {
                "itemName": "Product SKU-SVC-001",
                "itemType": "Product",
                "productCode": "SKU-SVC-001",
                "productRatePlanChargeId": CHARGE_ONCE,
                "quantity": 1,
                "amountPerUnit": 4500,
                "listPricePerUnit": 5000,
                "transactionStartDate": "2024-03-10",
            }
        ],
        "processingOptions": {"runBilling": False, "collectPayment": False},
    }
    assert validate_create_order(mapped.payload) == []


def test_a_product_missing_from_the_catalog_is_named_by_its_sku() -> None:
    order = _order([_item(1, "01tZZ000008AbCdEAA", "SKU-BETA-001")])
    mapped = order_payload(order, account_number="A1", catalog=_catalog())
    assert [p.code for p in mapped.problems] == ["product_not_in_catalog"]
    assert "SKU-BETA-001" in mapped.problems[0].message
    assert mapped.blocked


def test_more_order_products_than_the_limit_fail_clearly() -> None:
    items = [
        _item(1, PRODUCT_SUB, "SKU-PLAT-001", Id=f"802AA{n:010d}AAA")
        for n in range(MAX_ORDER_PRODUCTS + 1)
    ]
    mapped = order_payload(_order(items), account_number="A1", catalog=_catalog())
    codes = [p.code for p in mapped.problems]
    assert codes == ["order_too_large"]
    assert f"{MAX_ORDER_PRODUCTS + 1} order products" in mapped.problems[0].message
    at_limit = order_payload(
        _order(items[:MAX_ORDER_PRODUCTS]), account_number="A1", catalog=_catalog()
    )
    assert at_limit.problems == []


def test_blank_and_mixed_terms() -> None:
    items = [
        _item(1, PRODUCT_SUB, "SKU-PLAT-001", SBQQ__SubscriptionTerm__c=None),
        _item(2, PRODUCT_SUB, "SKU-PLAT-001", SBQQ__SubscriptionTerm__c=36.0),
    ]
    mapped = order_payload(_order(items), account_number="A1", catalog=_catalog())
    initial = mapped.payload["subscriptions"][0]["orderActions"][0]["createSubscription"]["terms"][
        "initialTerm"
    ]
    assert initial["period"] == 36
    assert [(p.code, p.severity) for p in mapped.problems] == [("mixed_terms", "warning")]
    assert "12 months, 36 months" in mapped.problems[0].message
    blank = order_payload(
        _order([_item(1, PRODUCT_SUB, "SKU-PLAT-001", SBQQ__SubscriptionTerm__c=None)]),
        account_number="A1",
        catalog=_catalog(),
        options=MappingOptions(default_term_months=6),
    )
    terms = blank.payload["subscriptions"][0]["orderActions"][0]["createSubscription"]["terms"]
    assert terms["initialTerm"]["period"] == 6


def test_evergreen_products_make_an_evergreen_subscription() -> None:
    items = [_item(1, PRODUCT_SUB, "SKU-PLAT-001", SBQQ__SubscriptionType__c="Evergreen")]
    mapped = order_payload(_order(items), account_number="A1", catalog=_catalog())
    terms = mapped.payload["subscriptions"][0]["orderActions"][0]["createSubscription"]["terms"]
    assert terms["initialTerm"] == {"termType": "EVERGREEN", "startDate": "2024-03-10"}
    assert "renewalTerms" not in terms
    assert validate_create_order(mapped.payload) == []


def test_an_order_in_another_currency_than_its_account_is_stopped() -> None:
    mapped = order_payload(
        _order(), account_number="A1", catalog=_catalog(), account_currency="USD"
    )
    assert [p.code for p in mapped.problems] == ["currency_mismatch"]


def test_only_one_time_products_make_no_subscription() -> None:
    items = [
        _item(
            1,
            PRODUCT_ONCE,
            "SKU-SVC-001",
            SBQQ__ChargeType__c="One-Time",
            SBQQ__SubscriptionPricing__c=None,
            ServiceDate=None,
        )
    ]
    mapped = order_payload(_order(items), account_number="A1", catalog=_catalog())
    assert "subscriptions" not in mapped.payload
    assert mapped.payload["orderLineItems"][0]["transactionStartDate"] == "2024-03-10"
    assert validate_create_order(mapped.payload) == []


# --- dates never shift ----------------------------------------------------------------------


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch):
    """Switch the process time zone (and switch it back)."""

    def switch(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield switch
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "America/Adak", "UTC"])
@pytest.mark.parametrize(
    "day", ["2024-03-10", "2024-11-03", "2024-12-31", "2025-01-01", "2024-02-29"]
)
def test_dates_are_calendar_dates_in_every_time_zone(zone, tz: str, day: str) -> None:
    zone(tz)
    assert time.tzname[0] != ""
    assert os.environ["TZ"] == tz
    order = _order([_item(1, PRODUCT_SUB, "SKU-PLAT-001", ServiceDate=day)], EffectiveDate=day)
    payload = order_payload(order, account_number="A1", catalog=_catalog()).payload
    action = payload["subscriptions"][0]["orderActions"][0]
    assert payload["orderDate"] == day
    assert action["createSubscription"]["terms"]["initialTerm"]["startDate"] == day
    assert action["triggerDates"][0]["triggerDate"] == day
    assert dt.date.fromisoformat(day) == order.effective_date


def test_the_time_zone_switch_really_happens(zone) -> None:
    """Guards the test above: in these zones 'now' really differs from UTC by many hours."""
    midnight_utc = 1717200000  # 2024-06-01 00:00 UTC
    zone("Pacific/Kiritimati")  # UTC+14
    assert time.localtime(midnight_utc)[1:4] == (6, 1, 14)
    zone("America/Adak")  # UTC-9 in summer
    assert time.localtime(midnight_utc)[1:4] == (5, 31, 15)


# --- the rules are written down -------------------------------------------------------------


def test_every_rule_is_in_docs_mapping_md() -> None:
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    for rule in MAPPING_RULES:
        assert f"`{rule.id}`" in text, rule.id
        assert " ".join(rule.rule.split()) in text, rule.id
    assert rule_text("order.date").startswith("Order.EffectiveDate → orderDate: ")
    assert re.search(r"\| *Salesforce *\| *Zuora *\|", text)
