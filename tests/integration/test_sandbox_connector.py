"""The simulated CPQ connector endpoint over real HTTPS, and the sync it performs."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from cpq_sync_gui.sandbox.catalog import CatalogCharge, CatalogProduct, CatalogRatePlan
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.connector import ConnectorService
from cpq_sync_gui.sandbox.http import FaultPlan, RequestLog, ServiceServer
from cpq_sync_gui.sandbox.org import OrgStore
from cpq_sync_gui.sandbox.schema import SObjectDef
from cpq_sync_gui.sandbox.tls import SandboxTLS
from cpq_sync_gui.sandbox.zuora_tenant import ZuoraTenant

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DOMAIN = "acme-dev-ed.develop.lightning.force.com"
PREFIXES = {"Account": "001", "Order": "801", "OrderItem": "802", "Product2": "01t"}
SEAT_P2 = "01t000000000001AAA"
SETUP_P2 = "01t000000000002AAA"
GHOST_P2 = "01t000000000003AAA"  # in Salesforce, not in the Zuora catalog
CATALOG = [
    CatalogProduct(
        "SKU-SEAT",
        "Seat",
        SEAT_P2,
        (
            CatalogRatePlan(
                "Seat (Monthly)",
                SEAT_P2,
                (
                    CatalogCharge(
                        "Seat Fee", "Recurring", "Per Unit Pricing", "Month", {"USD": 20.0}
                    ),
                ),
            ),
        ),
    ),
    CatalogProduct(
        "SKU-SETUP",
        "Setup",
        SETUP_P2,
        (
            CatalogRatePlan(
                "Setup (One-Time)",
                SETUP_P2,
                (CatalogCharge("Setup Fee", "OneTime", "Per Unit Pricing", None, {"USD": 900.0}),),
            ),
        ),
    ),
]


def small_org() -> OrgStore:
    schema = {name: SObjectDef(name, name, name + "s", prefix) for name, prefix in PREFIXES.items()}
    counter = itertools.count(1)
    org = OrgStore(schema, lambda prefix: f"{prefix}{next(counter):012d}AAA")
    for product_id, name, code in (
        (SEAT_P2, "Seat", "SKU-SEAT"),
        (SETUP_P2, "Setup", "SKU-SETUP"),
        (GHOST_P2, "Ghost", "SKU-GHOST"),
    ):
        org.insert("Product2", {"Id": product_id, "Name": name, "ProductCode": code})
    return org


def add_account(org: OrgStore, name: str = "Acme Corp", **fields: Any) -> str:
    record = {
        "Name": name,
        "CurrencyIsoCode": "USD",
        "BillingStreet": "1 Main St",
        "BillingCity": "Springfield",
        "BillingState": "IL",
        "BillingPostalCode": "62701",
        "BillingCountry": "United States",
        "Description": "Key account",
        **fields,
    }
    return org.insert("Account", record)


def add_order(org: OrgStore, account_id: str, number: str, *items: dict[str, Any]) -> str:
    order_id = org.insert(
        "Order",
        {
            "OrderNumber": number,
            "AccountId": account_id,
            "EffectiveDate": "2025-03-01",
            "Description": "New deal",
        },
    )
    for item in items:
        org.insert("OrderItem", {"OrderId": order_id, **item})
    return order_id


RECURRING = {
    "Product2Id": SEAT_P2,
    "Quantity": 5.0,
    "UnitPrice": 18.0,
    "ServiceDate": "2025-03-15",
    "SBQQ__ChargeType__c": "Recurring",
    "SBQQ__SubscriptionPricing__c": "Fixed Price",
    "SBQQ__SubscriptionTerm__c": 24.0,
}
ONE_TIME = {
    "Product2Id": SETUP_P2,
    "Quantity": 1.0,
    "UnitPrice": 850.0,
    "ServiceDate": "2025-03-01",
    "SBQQ__ChargeType__c": "One-Time",
    "SBQQ__SubscriptionPricing__c": None,
    "SBQQ__SubscriptionTerm__c": None,
}


@dataclass
class Connector:
    url: str
    verify: str
    org: OrgStore
    tenant: ZuoraTenant
    config: SandboxConfig
    service: ConnectorService

    def press(self, **params: str) -> requests.Response:
        return requests.get(
            f"{self.url}/default/sfdccpq", params=params, verify=self.verify, timeout=10
        )

    def sync(self, **params: str) -> requests.Response:
        answer = self.press(sfdc=DOMAIN, **params)
        assert answer.status_code == 200, answer.text
        assert self.service.wait_idle(10)
        return answer


@pytest.fixture
def connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Connector]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    tls = SandboxTLS(tmp_path / "tls")
    config = SandboxConfig(
        connector_domains=[DOMAIN], connector_delay_s=0.1, async_order_delay_s=0.1
    )
    org = small_org()
    tenant = ZuoraTenant(CATALOG)
    service = ConnectorService(org, tenant, config)
    server = ServiceServer(service, tls.server_context(), FaultPlan(), RequestLog()).start()
    try:
        yield Connector(server.url, str(tls.ca_path), org, tenant, config, service)
    finally:
        service.stop()
        server.stop()
    assert server.errors == []
    assert tenant.schema_violations == []  # the connector only sends valid payloads


@pytest.mark.parametrize(
    "params",
    [
        {"accountId": "001000000000001AAA"},
        {"sfdc": DOMAIN},
        {"sfdc": DOMAIN, "accountId": "001000000000001AAA", "orderId": "801000000000001AAA"},
        {"sfdc": DOMAIN, "accountId": "001-not-an-id"},
        {"sfdc": DOMAIN, "orderId": "801000000000001A"},
    ],
)
def test_a_malformed_button_url_gets_400(connector: Connector, params: dict[str, str]) -> None:
    answer = connector.press(**params)
    assert answer.status_code == 400
    assert answer.text
    assert connector.service.sync_log == []


def test_an_unregistered_domain_gets_403_until_it_is_registered(connector: Connector) -> None:
    account_id = add_account(connector.org)
    other = "other-org.lightning.force.com"
    assert connector.press(sfdc=other, accountId=account_id).status_code == 403
    connector.config.connector_domains.append(other)
    assert connector.press(sfdc=other, accountId=account_id).status_code == 200
    assert connector.service.wait_idle(10)
    assert len(connector.tenant.accounts_by_crm_id(account_id)) == 1


def test_other_paths_and_methods_are_refused(connector: Connector) -> None:
    assert (
        requests.get(
            f"{connector.url}/default/other", verify=connector.verify, timeout=10
        ).status_code
        == 404
    )
    posted = requests.post(
        f"{connector.url}/default/sfdccpq?sfdc={DOMAIN}&accountId=001000000000001AAA",
        verify=connector.verify,
        timeout=10,
    )
    assert posted.status_code == 405


def test_an_account_syncs_after_the_answer(connector: Connector) -> None:
    account_id = add_account(
        connector.org,
        ShippingStreet="9 Dock Rd",
        ShippingCity="Hamburg",
        ShippingState="HH",
        ShippingCountry="Germany",
    )
    answer = connector.press(sfdc=DOMAIN, accountId=account_id)
    assert answer.status_code == 200
    assert connector.tenant.account_count() == 0  # the sync has not run yet
    assert connector.service.wait_idle(10)
    [account] = connector.tenant.accounts_by_crm_id(account_id)
    assert account["name"] == "Acme Corp"
    assert account["currency"] == "USD"
    assert account["billCycleDay"] == 1
    assert account["autoPay"] is False
    assert account["notes"] == "Key account"
    bill_to, sold_to = account["billToContact"], account["soldToContact"]
    assert (bill_to["firstName"], bill_to["lastName"]) == ("Acme Corp_billTo", "Acme Corp_billTo")
    assert (bill_to["country"], bill_to["state"], bill_to["city"]) == (
        "United States",
        "IL",
        "Springfield",
    )
    assert sold_to["firstName"] == "Acme Corp_soldTo"
    assert sold_to["city"] == "Hamburg"
    [entry] = connector.service.sync_log
    assert (entry.record_type, entry.record_id, entry.outcome) == ("Account", account_id, "Success")
    assert entry.zuora_key == account["accountNumber"]


def test_sold_to_reuses_bill_to_without_a_shipping_address(connector: Connector) -> None:
    account_id = add_account(connector.org)
    connector.sync(accountId=account_id)
    [account] = connector.tenant.accounts_by_crm_id(account_id)
    assert account["soldToContact"]["firstName"] == "Acme Corp_billTo"
    assert account["soldToContact"]["city"] == "Springfield"


def test_a_second_trigger_does_not_duplicate_and_15_char_ids_work(connector: Connector) -> None:
    account_id = add_account(connector.org)
    connector.sync(accountId=account_id)
    connector.sync(accountId=account_id[:15])
    assert connector.tenant.account_count() == 1
    assert [e.outcome for e in connector.service.sync_log] == ["Success", "Skipped"]
    assert connector.tenant.duplicates()["accounts_by_crm_id"] == {}


def test_the_parent_account_is_synced_first(connector: Connector) -> None:
    parent_id = add_account(connector.org, "Holding AG")
    child_id = add_account(connector.org, "Subsidiary GmbH", ParentId=parent_id)
    connector.sync(accountId=child_id)
    [parent] = connector.tenant.accounts_by_crm_id(parent_id)
    [child] = connector.tenant.accounts_by_crm_id(child_id)
    assert child["parentId"] == parent["id"]
    assert parent["accountNumber"] < child["accountNumber"]


@pytest.mark.parametrize("missing", ["BillingCountry", "BillingState"])
def test_a_missing_billing_country_or_state_fails_the_sync(
    connector: Connector, missing: str
) -> None:
    account_id = add_account(connector.org, **{missing: None})
    connector.sync(accountId=account_id)
    assert connector.tenant.account_count() == 0
    [entry] = connector.service.sync_log
    assert entry.outcome == "Failed"
    assert missing in entry.message
    assert account_id in entry.message


def test_an_unknown_record_fails_the_sync(connector: Connector) -> None:
    connector.sync(orderId="801999999999999AAA")
    [entry] = connector.service.sync_log
    assert entry.outcome == "Failed"
    assert "was not found in Salesforce" in entry.message


def test_an_order_syncs_with_its_account_subscription_and_line_item(connector: Connector) -> None:
    account_id = add_account(connector.org)
    order_id = add_order(connector.org, account_id, "00000107", RECURRING, ONE_TIME)
    connector.sync(orderId=order_id)
    [order] = connector.tenant.orders_by_number("00000107")
    [account] = connector.tenant.accounts_by_crm_id(account_id)
    assert order["existingAccountNumber"] == account["accountNumber"]
    assert order["orderDate"] == "2025-03-01"
    assert order["description"] == "New deal"
    [subscription] = connector.tenant.subscriptions_for("00000107")
    assert subscription["termType"] == "TERMED"
    assert subscription["initialTerm"] == 24
    assert subscription["termStartDate"] == "2025-03-15"
    [rate_plan] = subscription["ratePlans"]
    seat_item = connector.org.where("OrderItem", lambda r: r["Product2Id"] == SEAT_P2)[0]
    assert rate_plan["externallyManagedPlanId"] == seat_item["Id"]
    assert rate_plan["productSku"] == "SKU-SEAT"
    [charge] = rate_plan["ratePlanCharges"]
    assert (charge["price"], charge["quantity"]) == (18.0, 5.0)
    [line] = order["orderLineItems"]
    assert (line["itemName"], line["productCode"], line["listPricePerUnit"]) == (
        "Setup",
        "SKU-SETUP",
        850.0,
    )
    log = connector.service.sync_log
    assert [(e.record_type, e.outcome) for e in log] == [("Order", "Success")]
    assert log[0].zuora_key == "00000107"


def test_an_order_appears_only_after_the_async_job_ran(connector: Connector) -> None:
    connector.config.async_order_delay_s = 0.5
    account_id = add_account(connector.org)
    order_id = add_order(connector.org, account_id, "00000108", RECURRING)
    started = time.monotonic()
    connector.sync(orderId=order_id)
    assert time.monotonic() - started >= 0.5
    assert connector.tenant.order_count() == 1


def test_an_order_triggered_twice_is_created_once(connector: Connector) -> None:
    account_id = add_account(connector.org)
    order_id = add_order(connector.org, account_id, "00000109", RECURRING)
    connector.press(sfdc=DOMAIN, orderId=order_id)
    connector.press(sfdc=DOMAIN, orderId=order_id)
    assert connector.service.wait_idle(10)
    assert connector.tenant.order_count() == 1
    assert connector.tenant.account_count() == 1
    assert [e.outcome for e in connector.service.sync_log] == ["Success", "Skipped"]


def test_an_order_with_a_product_missing_from_zuora_fails(connector: Connector) -> None:
    account_id = add_account(connector.org)
    ghost = {**RECURRING, "Product2Id": GHOST_P2}
    order_id = add_order(connector.org, account_id, "00000110", RECURRING, ghost)
    connector.sync(orderId=order_id)
    assert connector.tenant.order_count() == 0
    [entry] = connector.service.sync_log
    assert entry.outcome == "Failed"
    assert "SKU-GHOST" in entry.message
    assert "not in the Zuora catalog" in entry.message


def test_a_product_is_found_by_sku_when_its_id_is_unknown(connector: Connector) -> None:
    other_seat = connector.org.insert(
        "Product2", {"Name": "Seat (old id)", "ProductCode": "SKU-SEAT"}
    )
    account_id = add_account(connector.org)
    order_id = add_order(
        connector.org, account_id, "00000111", {**RECURRING, "Product2Id": other_seat}
    )
    connector.sync(orderId=order_id)
    [subscription] = connector.tenant.subscriptions_for("00000111")
    assert subscription["ratePlans"][0]["productSku"] == "SKU-SEAT"


def test_an_order_whose_account_cannot_sync_fails(connector: Connector) -> None:
    account_id = add_account(connector.org, BillingCountry=None)
    order_id = add_order(connector.org, account_id, "00000112", RECURRING)
    connector.sync(orderId=order_id)
    assert connector.tenant.order_count() == 0
    [entry] = connector.service.sync_log
    assert entry.outcome == "Failed"
    assert "BillingCountry" in entry.message


def test_stop_ends_the_worker_and_drops_queued_syncs(connector: Connector) -> None:
    connector.config.connector_delay_s = 30.0
    account_id = add_account(connector.org)
    assert connector.press(sfdc=DOMAIN, accountId=account_id).status_code == 200
    started = time.monotonic()
    connector.service.stop()
    assert time.monotonic() - started < 2
    assert connector.service.wait_idle(1)
    assert connector.tenant.account_count() == 0
    assert connector.service.sync_log == []


def test_the_connector_syncs_a_generated_org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpq_sync_gui.sandbox.data import generate_org

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    config = SandboxConfig(
        accounts=12,
        orders=15,
        connector_domains=[DOMAIN],
        connector_delay_s=0.0,
        async_order_delay_s=0.0,
    )
    generated = generate_org(config)
    tenant = ZuoraTenant(generated.catalog)
    service = ConnectorService(generated.org, tenant, config)
    tls = SandboxTLS(tmp_path / "tls")
    server = ServiceServer(service, tls.server_context(), FaultPlan(), RequestLog()).start()
    try:
        orders = generated.org.all("Order")
        for order in orders:
            answer = requests.get(
                f"{server.url}/default/sfdccpq",
                params={"sfdc": DOMAIN, "orderId": order["Id"]},
                verify=str(tls.ca_path),
                timeout=10,
            )
            assert answer.status_code == 200
        assert service.wait_idle(30)
    finally:
        service.stop()
        server.stop()
    log = service.sync_log
    assert len(log) == len(orders)
    assert tenant.schema_violations == []
    assert not [e for e in log if "internal error" in e.message]
    succeeded = [e for e in log if e.outcome == "Success"]
    assert succeeded
    for entry in succeeded:
        assert len(tenant.orders_by_number(str(entry.zuora_key))) == 1
    assert tenant.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}
