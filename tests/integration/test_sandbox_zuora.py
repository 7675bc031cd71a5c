"""The simulated Zuora tenant over real HTTPS: auth, ZOQL, accounts, orders, limits, idempotency."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from cpq_sync_gui.sandbox import zuora_tenant
from cpq_sync_gui.sandbox.catalog import CatalogCharge, CatalogProduct, CatalogRatePlan
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.http import FaultPlan, Request, RequestLog, ServiceServer
from cpq_sync_gui.sandbox.tls import SandboxTLS
from cpq_sync_gui.sandbox.zuora import WWW_AUTHENTICATE, ZuoraService
from cpq_sync_gui.sandbox.zuora_tenant import ZuoraTenant
from tests.helpers.sandbox_clients import account_payload, request_zuora_token
from tests.helpers.sandbox_clients import order_payload as sandbox_order_payload

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
WIDGET_P2 = "01t000000000001AAA"
SETUP_P2 = "01t000000000002AAA"
CATALOG = [
    CatalogProduct(
        sku="SKU-WIDGET",
        name="Widget",
        product2_id=WIDGET_P2,
        rate_plans=(
            CatalogRatePlan(
                "Widget (Monthly)",
                WIDGET_P2,
                (
                    CatalogCharge(
                        "Widget Fee",
                        "Recurring",
                        "Per Unit Pricing",
                        "Month",
                        {"USD": 10.0, "EUR": 9.0},
                    ),
                ),
            ),
        ),
    ),
    CatalogProduct(
        sku="SKU-SETUP",
        name="Setup",
        product2_id=SETUP_P2,
        rate_plans=(
            CatalogRatePlan(
                "Setup (One-Time)",
                SETUP_P2,
                (CatalogCharge("Setup Fee", "OneTime", "Flat Fee Pricing", None, {"USD": 500.0}),),
            ),
        ),
    ),
]


@dataclass
class Zuora:
    url: str
    verify: str
    tenant: ZuoraTenant
    service: ZuoraService
    config: SandboxConfig
    credentials: SandboxCredentials
    faults: FaultPlan
    token: str = ""

    def new_token(self) -> str:
        answer = request_zuora_token(self.url, self.credentials, self.verify)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def headers(self, **extra: str) -> dict[str, str]:
        if not self.token:
            self.token = self.new_token()
        return {"Authorization": f"Bearer {self.token}", "Zuora-Version": "2025-08-12", **extra}

    def post(self, path: str, body: Any, **headers: str) -> requests.Response:
        return requests.post(
            self.url + path,
            json=body,
            headers=self.headers(**headers),
            verify=self.verify,
            timeout=10,
        )

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(
            self.url + path, headers=self.headers(**headers), verify=self.verify, timeout=10
        )

    def query(self, zoql: str) -> requests.Response:
        return self.post("/v1/action/query", {"queryString": zoql})

    def create_account(self, crm_id: str, name: str = "Acme", **extra: Any) -> dict[str, Any]:
        answer = self.post("/v1/accounts", account_payload(crm_id, name, **extra))
        assert answer.status_code == 200, answer.text
        assert answer.json()["success"], answer.text
        return dict(answer.json())


def order_payload(
    account_number: str, number: str | None = "00000100", **plan: Any
) -> dict[str, Any]:
    spec = plan or {"externalCatalogPlanId": WIDGET_P2}
    return sandbox_order_payload(
        account_number, {**spec, "externallyManagedPlanId": "802000000000001AAA"}, number
    )


@pytest.fixture
def zuora(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Zuora]:
    # Clients must pass verify= themselves: the environment points at the system bundle.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    tls = SandboxTLS(tmp_path / "tls")
    config = SandboxConfig(async_order_delay_s=0.2)
    credentials = SandboxCredentials.generate()
    tenant = ZuoraTenant(CATALOG)
    service = ZuoraService(tenant, config, credentials)
    faults = FaultPlan()
    server = ServiceServer(service, tls.server_context(), faults, RequestLog()).start()
    try:
        yield Zuora(server.url, str(tls.ca_path), tenant, service, config, credentials, faults)
    finally:
        server.stop()
    assert server.errors == []


# --- OAuth ----------------------------------------------------------------------------------


def test_a_token_is_issued_and_opens_the_api(zuora: Zuora) -> None:
    answer = request_zuora_token(zuora.url, zuora.credentials, zuora.verify)
    body = answer.json()
    assert answer.status_code == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3599
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "jti"}
    zuora.token = body["access_token"]
    assert zuora.get("/v1/catalog/product/SKU-WIDGET").status_code == 200


def test_a_wrong_secret_gets_invalid_client(zuora: Zuora) -> None:
    answer = requests.post(
        f"{zuora.url}/oauth/token",
        data={
            "client_id": zuora.credentials.zuora_client_id,
            "client_secret": "not-the-secret",
            "grant_type": "client_credentials",
        },
        verify=zuora.verify,
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert zuora.service.tokens_issued == 0


def test_a_wrong_grant_type_is_refused(zuora: Zuora) -> None:
    answer = requests.post(
        f"{zuora.url}/oauth/token",
        data={"client_id": zuora.credentials.zuora_client_id, "grant_type": "password"},
        verify=zuora.verify,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_an_expired_token_gets_401_and_a_new_one_works(zuora: Zuora) -> None:
    assert zuora.get("/v1/catalog/products").status_code == 200
    zuora.tenant.advance_clock(3600)
    expired = zuora.get("/v1/catalog/products")
    assert expired.status_code == 401
    assert expired.json() == {"message": "Authentication error"}
    assert expired.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
    zuora.token = zuora.new_token()
    assert zuora.get("/v1/catalog/products").status_code == 200


def test_every_api_call_needs_a_bearer_token(zuora: Zuora) -> None:
    for headers in ({}, {"Authorization": "Bearer made-up"}, {"Authorization": "Basic abc"}):
        answer = requests.get(
            f"{zuora.url}/v1/accounts/A00000001", headers=headers, verify=zuora.verify, timeout=10
        )
        assert answer.status_code == 401
        assert "Zuora-Request-Id" in answer.headers


# --- ZOQL -----------------------------------------------------------------------------------


def test_zoql_finds_accounts_by_crm_id_with_or(zuora: Zuora) -> None:
    first = zuora.create_account("001000000000001AAA", "First")
    zuora.create_account("001000000000002AAA", "Second")
    third = zuora.create_account("001000000000003AAA", "Third")
    answer = zuora.query(
        "select Id, AccountNumber, CrmId from Account "
        "where CrmId = '001000000000001AAA' or CrmId = '001000000000003AAA' or CrmId = 'none'"
    )
    body = answer.json()
    assert answer.status_code == 200
    assert body["done"] is True
    assert body["size"] == 2
    assert sorted(r["AccountNumber"] for r in body["records"]) == sorted(
        [first["accountNumber"], third["accountNumber"]]
    )
    assert set(body["records"][0]) == {"Id", "AccountNumber", "CrmId"}


def test_zoql_by_account_number_and_id_and_and_binds_tighter(zuora: Zuora) -> None:
    made = zuora.create_account("001000000000001AAA", "First")
    zuora.create_account("001000000000002AAA", "Second")
    by_number = zuora.query(
        f"select Id, Name from Account where AccountNumber = '{made['accountNumber']}'"  # noqa: S608
    )
    assert by_number.json()["records"] == [{"Id": made["accountId"], "Name": "First"}]
    by_id = zuora.query(f"select AccountNumber from Account where Id = '{made['accountId']}'")  # noqa: S608
    assert by_id.json()["records"] == [{"AccountNumber": made["accountNumber"]}]
    mixed = zuora.query(
        "select Name from Account where Name = 'Second' and Currency = 'EUR' or Name = 'First'"
    )
    assert mixed.json()["records"] == [{"Name": "First"}]


def test_zoql_unescapes_quotes_and_omits_null_fields(zuora: Zuora) -> None:
    zuora.create_account("O'Brien-1", "O'Brien")
    answer = zuora.query(r"select Name, CrmId, ParentId from Account where CrmId = 'O\'Brien-1'")
    assert answer.json()["records"] == [{"Name": "O'Brien", "CrmId": "O'Brien-1"}]


def test_zoql_walks_the_catalog_from_sku_to_charges(zuora: Zuora) -> None:
    product = zuora.query("select Id, Name, SKU from Product where SKU = 'SKU-WIDGET'").json()[
        "records"
    ]
    assert [p["Name"] for p in product] == ["Widget"]
    plans = zuora.query(
        f"select Id, Name from ProductRatePlan where ProductId = '{product[0]['Id']}'"  # noqa: S608
    ).json()["records"]
    assert [p["Name"] for p in plans] == ["Widget (Monthly)"]
    charges = zuora.query(
        "select Id, Name, ChargeType, ChargeModel, BillingPeriod from ProductRatePlanCharge "  # noqa: S608
        f"where ProductRatePlanId = '{plans[0]['Id']}'"
    ).json()["records"]
    assert charges == [
        {
            "Id": charges[0]["Id"],
            "Name": "Widget Fee",
            "ChargeType": "Recurring",
            "ChargeModel": "Per Unit Pricing",
            "BillingPeriod": "Month",
        }
    ]
    one_time = zuora.query(
        "select Name from ProductRatePlanCharge where ChargeType = 'One-Time'"
    ).json()["records"]
    assert one_time == [{"Name": "Setup Fee"}]


@pytest.mark.parametrize(
    ("zoql", "fault"),
    [
        ("SELECT Id FROM Account", "MALFORMED_QUERY"),
        ("select Id from Account where (CrmId = 'a' or CrmId = 'b')", "MALFORMED_QUERY"),
        ("select Id from Account where CrmId = 'unterminated", "MALFORMED_QUERY"),
        ("select Id from Account where CrmId in ('a')", "MALFORMED_QUERY"),
        ("select Id, Nope from Account", "INVALID_FIELD"),
        ("select Id from Nothing", "INVALID_TYPE"),
    ],
)
def test_a_bad_zoql_query_gets_a_fault(zuora: Zuora, zoql: str, fault: str) -> None:
    answer = zuora.query(zoql)
    assert answer.status_code == 400
    assert answer.json()["FaultCode"] == fault
    assert answer.json()["FaultMessage"]


def test_zoql_allows_200_conditions_and_no_more(zuora: Zuora) -> None:
    zuora.create_account("001000000000199AAA")

    def query(n: int) -> requests.Response:
        ids = " or ".join(f"CrmId = '001000000000{i:03d}AAA'" for i in range(n))
        return zuora.query(f"select Id from Account where {ids}")  # noqa: S608

    assert query(200).json()["size"] == 1
    too_many = query(201)
    assert too_many.status_code == 400
    assert "200 conditions" in too_many.json()["FaultMessage"]


def test_zoql_pages_with_query_more(zuora: Zuora, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zuora_tenant, "QUERY_BATCH", 2)
    for i in range(3):
        zuora.create_account(f"00100000000000{i}AAA", f"Account {i}")
    first = zuora.query("select Name from Account").json()
    assert first["size"] == 2
    assert first["done"] is False
    rest = zuora.post("/v1/action/queryMore", {"queryLocator": first["queryLocator"]}).json()
    assert rest["size"] == 1
    assert rest["done"] is True
    names = [r["Name"] for r in first["records"] + rest["records"]]
    assert sorted(names) == ["Account 0", "Account 1", "Account 2"]


# --- accounts -------------------------------------------------------------------------------


def test_an_account_is_created_and_read_back(zuora: Zuora) -> None:
    made = zuora.create_account(
        "001000000000001AAA",
        "Acme Ltd",
        Region__c="EMEA",
        soldToContact={
            "firstName": "Sam",
            "lastName": "Sold",
            "country": "Germany",
            "state": "Berlin",
        },
    )
    assert made["accountNumber"] == "A00000001"
    assert len(made["accountId"]) == 32
    assert made["billToContactId"] != made["soldToContactId"]
    for key in (made["accountId"], made["accountNumber"]):
        body = zuora.get(f"/v1/accounts/{key}").json()
        assert body["success"] is True
        assert body["basicInfo"]["crmId"] == "001000000000001AAA"
        assert body["basicInfo"]["Region__c"] == "EMEA"
        assert body["billingAndPayment"]["currency"] == "USD"
        assert body["billToContact"]["lastName"] == "Lovelace"
        assert body["soldToContact"]["country"] == "Germany"
    assert zuora.tenant.accounts_by_crm_id("001000000000001AAA")[0]["status"] == "Active"
    summary = zuora.get(f"/v1/accounts/{made['accountNumber']}/summary").json()
    assert summary["basicInfo"]["accountNumber"] == made["accountNumber"]
    assert summary["subscriptions"] == []


def test_an_unknown_account_is_success_false(zuora: Zuora) -> None:
    body = zuora.get("/v1/accounts/A99999999").json()
    assert body["success"] is False
    assert body["reasons"][0]["code"] == 50000040


def test_a_missing_bill_cycle_day_is_success_false_category_22(zuora: Zuora) -> None:
    payload = account_payload("001000000000001AAA")
    del payload["billCycleDay"]
    answer = zuora.post("/v1/accounts", payload)
    assert answer.status_code == 200
    assert answer.json()["success"] is False
    assert answer.json()["reasons"][0]["code"] == 50000022
    assert zuora.tenant.account_count() == 0
    assert zuora.tenant.schema_violations == []  # a business rule, not a schema violation


def test_an_unknown_currency_is_success_false_category_20(zuora: Zuora) -> None:
    answer = zuora.post("/v1/accounts", account_payload("001000000000001AAA", currency="XYZ"))
    assert answer.json()["success"] is False
    assert answer.json()["reasons"][0]["code"] == 50000020


def test_a_schema_violation_is_refused_and_recorded(zuora: Zuora) -> None:
    payload = account_payload("001000000000001AAA")
    payload["billToContact"]["firstName"] = "F" * 101
    del payload["name"]
    answer = zuora.post("/v1/accounts", payload)
    assert answer.status_code == 400
    reasons = answer.json()["reasons"]
    assert {r["code"] for r in reasons} == {50000020, 50000022}
    assert any(r["message"].startswith("$.billToContact.firstName:") for r in reasons)
    assert zuora.tenant.schema_violations == [
        (
            "POST /v1/accounts",
            [
                "$.billToContact.firstName: 101 characters is longer than the maximum of 100",
                "$.name: required property is missing",
            ],
        )
    ]
    assert zuora.tenant.account_count() == 0


def test_a_malformed_json_body_is_category_90(zuora: Zuora) -> None:
    answer = requests.post(
        f"{zuora.url}/v1/accounts",
        data=b"{not json",
        headers={**zuora.headers(), "Content-Type": "application/json"},
        verify=zuora.verify,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["reasons"][0]["code"] == 50000090


def test_duplicates_reports_crm_ids_held_twice(zuora: Zuora) -> None:
    zuora.create_account("001000000000001AAA")
    zuora.create_account("001000000000001AAA")
    zuora.create_account("001000000000002AAA")
    assert zuora.tenant.duplicates() == {
        "accounts_by_crm_id": {"001000000000001AAA": 2},
        "orders_by_number": {},
    }


# --- orders ---------------------------------------------------------------------------------


def test_a_sync_order_creates_subscriptions_and_line_items(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    plan = zuora.tenant.rate_plans_by_external_id(WIDGET_P2)[0]
    charge_id = plan["productRatePlanChargeIds"][0]
    setup_charge = zuora.tenant.rate_plans_by_external_id(SETUP_P2)[0]["productRatePlanChargeIds"][
        0
    ]
    payload = order_payload(account["accountNumber"], productRatePlanId=plan["id"])
    payload["subscriptions"][0]["orderActions"][0]["createSubscription"]["subscribeToRatePlans"][0][
        "chargeOverrides"
    ] = [
        {
            "productRatePlanChargeId": charge_id,
            "pricing": {"recurringPerUnit": {"listPrice": 8.5, "quantity": 3}},
        }
    ]
    payload["orderLineItems"] = [
        {
            "itemName": "Setup",
            "itemType": "Product",
            "listPricePerUnit": 450,
            "quantity": 1,
            "productRatePlanChargeId": setup_charge,
        }
    ]
    body = zuora.post("/v1/orders", payload).json()
    assert body["success"] is True
    assert body["orderNumber"] == "00000100"
    assert body["status"] == "Completed"
    assert body["subscriptionNumbers"] == ["A-S00000001"]
    assert body["subscriptions"] == [{"subscriptionNumber": "A-S00000001", "status": "Active"}]
    assert len(body["orderLineItems"]) == 1
    [sub] = zuora.tenant.subscriptions_for("00000100")
    assert sub["termStartDate"] == "2025-02-01"
    assert sub["termEndDate"] == "2026-02-01"
    [rate_plan] = sub["ratePlans"]
    assert rate_plan["externallyManagedPlanId"] == "802000000000001AAA"
    assert rate_plan["ratePlanCharges"][0]["price"] == 8.5
    assert rate_plan["ratePlanCharges"][0]["quantity"] == 3
    read = zuora.get("/v1/orders/00000100").json()
    assert read["success"] is True
    assert read["order"]["existingAccountNumber"] == account["accountNumber"]
    assert read["order"]["subscriptions"][0]["subscriptionNumber"] == "A-S00000001"
    assert read["order"]["orderLineItems"][0]["itemName"] == "Setup"
    summary = zuora.get(f"/v1/accounts/{account['accountNumber']}/summary").json()
    assert [s["subscriptionNumber"] for s in summary["subscriptions"]] == ["A-S00000001"]


def test_an_order_without_order_number_gets_one(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    body = zuora.post("/v1/orders", order_payload(account["accountNumber"], number=None)).json()
    assert body["orderNumber"] == "O-00000001"


def test_old_minor_versions_get_no_subscriptions_list(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    body = zuora.post(
        "/v1/orders", order_payload(account["accountNumber"]), **{"Zuora-Version": "211.0"}
    ).json()
    assert body["success"] is True
    assert "subscriptions" not in body
    assert zuora.service.versions_seen["211.0"] == 1


@pytest.mark.parametrize(
    "key", ["productRatePlanId", "productRatePlanNumber", "externalCatalogPlanId"]
)
def test_a_rate_plan_is_found_by_any_of_its_keys(zuora: Zuora, key: str) -> None:
    account = zuora.create_account("001000000000001AAA")
    plan = zuora.tenant.rate_plans_by_external_id(WIDGET_P2)[0]
    value = {
        "productRatePlanId": plan["id"],
        "productRatePlanNumber": plan["productRatePlanNumber"],
        "externalCatalogPlanId": WIDGET_P2,
    }[key]
    body = zuora.post("/v1/orders", order_payload(account["accountNumber"], **{key: value})).json()
    assert body["success"] is True, body
    assert (
        zuora.tenant.subscriptions_for("00000100")[0]["ratePlans"][0]["productRatePlanId"]
        == plan["id"]
    )


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        (
            {"externalCatalogPlanId": "01t999999999999AAA"},
            "no product rate plan with external ID '01t999999999999AAA'",
        ),
        ({"productRatePlanId": "f" * 32}, "no product rate plan with id"),
        ({"productRatePlanNumber": "PRP-99"}, "no product rate plan with number 'PRP-99'"),
    ],
)
def test_an_unknown_rate_plan_is_success_false(
    zuora: Zuora, plan: dict[str, str], fragment: str
) -> None:
    account = zuora.create_account("001000000000001AAA")
    body = zuora.post("/v1/orders", order_payload(account["accountNumber"], **plan)).json()
    assert body["success"] is False
    assert body["reasons"][0]["code"] == 50000040
    assert fragment in body["reasons"][0]["message"]
    assert zuora.tenant.order_count() == 0


def test_a_charge_override_must_belong_to_the_plan(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    setup_charge = zuora.tenant.rate_plans_by_external_id(SETUP_P2)[0]["productRatePlanChargeIds"][
        0
    ]
    payload = order_payload(account["accountNumber"])
    payload["subscriptions"][0]["orderActions"][0]["createSubscription"]["subscribeToRatePlans"][0][
        "chargeOverrides"
    ] = [{"productRatePlanChargeId": setup_charge}]
    body = zuora.post("/v1/orders", payload).json()
    assert body["success"] is False
    assert "is not a charge of product rate plan" in body["reasons"][0]["message"]


def test_a_second_order_with_the_same_number_fails(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    assert zuora.post("/v1/orders", order_payload(account["accountNumber"])).json()["success"]
    again = zuora.post("/v1/orders", order_payload(account["accountNumber"])).json()
    assert again["success"] is False
    assert again["reasons"][0] == {
        "code": 50000030,
        "message": "The order number 00000100 already exists.",
    }
    assert zuora.tenant.order_count() == 1
    assert len(zuora.tenant.orders_by_number("00000100")) == 1


def test_an_order_for_an_unknown_account_fails(zuora: Zuora) -> None:
    body = zuora.post("/v1/orders", order_payload("A42424242")).json()
    assert body["success"] is False
    assert body["reasons"][0]["message"] == "Cannot find entity by key: 'A42424242'."


def test_an_order_schema_violation_is_recorded(zuora: Zuora) -> None:
    payload = order_payload("A00000001")
    payload["subscriptions"][0]["orderActions"][0]["createSubscription"]["terms"]["initialTerm"][
        "period"
    ] = "12"
    answer = zuora.post("/v1/orders", payload)
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    [(endpoint, messages)] = zuora.tenant.schema_violations
    assert endpoint == "POST /v1/orders"
    assert messages[0].startswith(
        "$.subscriptions[0].orderActions[0].createSubscription.terms.initialTerm.period:"
    )


def _many_subscriptions(account_number: str, count: int) -> dict[str, Any]:
    payload = order_payload(account_number)
    payload["subscriptions"] = [payload["subscriptions"][0]] * count
    return payload


def test_sync_orders_hold_at_most_50_subscriptions_async_ones_more(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    body = zuora.post("/v1/orders", _many_subscriptions(account["accountNumber"], 51)).json()
    assert body["success"] is False
    assert "at most 50 subscriptions" in body["reasons"][0]["message"]
    job = zuora.post("/v1/async/orders", _many_subscriptions(account["accountNumber"], 51)).json()
    result = _poll(zuora, job["jobId"])
    assert result["status"] == "Completed"
    assert len(result["result"]["subscriptionNumbers"]) == 51


def _poll(zuora: Zuora, job_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = zuora.get(f"/v1/async-jobs/{job_id}").json()
        if body["status"] != "Processing":
            return dict(body)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still processing after {timeout}s")


def test_an_async_order_is_processing_then_completed(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    submitted = zuora.post("/v1/async/orders", order_payload(account["accountNumber"])).json()
    assert submitted["success"] is True
    assert str(uuid.UUID(submitted["jobId"])) == submitted["jobId"]
    first = zuora.get(f"/v1/async-jobs/{submitted['jobId']}").json()
    assert first == {"success": True, "status": "Processing", "errors": None}
    assert zuora.tenant.order_count() == 0
    done = _poll(zuora, submitted["jobId"])
    assert done["status"] == "Completed"
    assert done["result"]["jobType"] == "AsyncCreateOrder"
    assert done["result"]["orderNumber"] == "00000100"
    assert zuora.get("/v1/orders/00000100").json()["order"]["status"] == "Completed"


def test_an_async_order_that_breaks_a_rule_fails(zuora: Zuora) -> None:
    account = zuora.create_account("001000000000001AAA")
    payload = order_payload(account["accountNumber"], externalCatalogPlanId="01t999999999999AAA")
    submitted = zuora.post("/v1/async/orders", payload).json()
    done = _poll(zuora, submitted["jobId"])
    assert done["status"] == "Failed"
    assert "01t999999999999AAA" in done["errors"]
    assert zuora.tenant.order_count() == 0


def test_an_unknown_job_is_success_false(zuora: Zuora) -> None:
    assert zuora.get(f"/v1/async-jobs/{uuid.uuid4()}").json()["success"] is False


# --- catalog --------------------------------------------------------------------------------


def test_a_product_is_found_by_sku_id_and_number(zuora: Zuora) -> None:
    by_sku = zuora.get("/v1/catalog/product/SKU-WIDGET").json()
    assert by_sku["success"] is True
    assert by_sku["sku"] == "SKU-WIDGET"
    assert by_sku["productNumber"].startswith("PC-")
    [plan] = by_sku["productRatePlans"]
    assert plan["externallyManagedPlanIds"] == [WIDGET_P2]
    assert plan["productRatePlanCharges"][0]["pricing"] == [
        {"currency": "EUR", "price": 9.0},
        {"currency": "USD", "price": 10.0},
    ]
    for key in (by_sku["id"], by_sku["productNumber"]):
        assert zuora.get(f"/v1/catalog/product/{key}").json()["id"] == by_sku["id"]
    assert zuora.get("/v1/catalog/product/NOPE").json()["success"] is False


def test_rate_plans_are_found_by_external_id(zuora: Zuora) -> None:
    body = zuora.get(f"/v1/product-rate-plans/external-id/{WIDGET_P2}").json()
    assert [p["name"] for p in body["productRatePlans"]] == ["Widget (Monthly)"]
    assert zuora.get("/v1/product-rate-plans/external-id/unknown").json()["productRatePlans"] == []


def test_the_catalog_is_paged(zuora: Zuora) -> None:
    first = zuora.get("/v1/catalog/products?pageSize=1").json()
    assert [p["sku"] for p in first["products"]] == ["SKU-WIDGET"]
    second = zuora.get(first["nextPage"]).json()
    assert [p["sku"] for p in second["products"]] == ["SKU-SETUP"]
    assert "nextPage" not in second


# --- headers, limits, idempotency -------------------------------------------------------------


def test_every_answer_carries_zuora_headers(zuora: Zuora) -> None:
    one = zuora.get("/v1/catalog/products", **{"Zuora-Track-Id": "run-42/record-7"})
    two = zuora.get("/v1/catalog/products")
    assert one.headers["Zuora-Track-Id"] == "run-42/record-7"
    assert "Zuora-Track-Id" not in two.headers
    assert uuid.UUID(one.headers["Zuora-Request-Id"]) != uuid.UUID(two.headers["Zuora-Request-Id"])
    assert one.headers["Concurrency-Limit-Type"] == "Default"
    assert one.headers["Concurrency-Limit-Limit"] == "40"
    assert one.headers["RateLimit-Limit"].startswith("50000")
    assert int(one.headers["RateLimit-Remaining"]) > int(two.headers["RateLimit-Remaining"])
    created = zuora.post("/v1/accounts", account_payload("001000000000001AAA"))
    assert created.headers["Concurrency-Limit-Type"] == "High-volume transactions"


def test_a_bad_track_id_is_refused(zuora: Zuora) -> None:
    assert zuora.get("/v1/catalog/products", **{"Zuora-Track-Id": "a:b"}).status_code == 400
    assert zuora.get("/v1/catalog/products", **{"Zuora-Track-Id": "x" * 65}).status_code == 400


def test_the_zuora_version_sent_is_recorded(zuora: Zuora) -> None:
    zuora.get("/v1/catalog/products")
    headers = zuora.headers()
    del headers["Zuora-Version"]
    requests.get(
        f"{zuora.url}/v1/catalog/products", headers=headers, verify=zuora.verify, timeout=10
    )
    assert zuora.service.versions_seen == {"2025-08-12": 1, "": 1}


def test_the_same_idempotency_key_and_body_replays_the_first_answer(zuora: Zuora) -> None:
    payload = account_payload("001000000000001AAA")
    first = zuora.post("/v1/accounts", payload, **{"Idempotency-Key": "acct-1"})
    second = zuora.post("/v1/accounts", payload, **{"Idempotency-Key": "acct-1"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.headers["Zuora-Request-Id"] == second.headers["Zuora-Request-Id"]
    assert zuora.tenant.account_count() == 1


def test_a_failed_answer_is_replayed_too(zuora: Zuora) -> None:
    payload = order_payload("A42424242")
    first = zuora.post("/v1/orders", payload, **{"Idempotency-Key": "order-1"}).json()
    zuora.create_account("001000000000001AAA")  # now A00000001 exists, but the key is spent
    second = zuora.post("/v1/orders", payload, **{"Idempotency-Key": "order-1"}).json()
    assert first == second
    assert first["success"] is False


def test_the_same_key_with_another_body_gets_422(zuora: Zuora) -> None:
    zuora.post("/v1/accounts", account_payload("001000000000001AAA"), **{"Idempotency-Key": "k"})
    other = zuora.post(
        "/v1/accounts", account_payload("001000000000002AAA"), **{"Idempotency-Key": "k"}
    )
    assert other.status_code == 422
    assert other.json()["success"] is False
    assert zuora.tenant.account_count() == 1


def test_keys_are_forgotten_after_24_hours(zuora: Zuora) -> None:
    zuora.post("/v1/accounts", account_payload("001000000000001AAA"), **{"Idempotency-Key": "k"})
    zuora.tenant.advance_clock(24 * 3600 + 1)
    zuora.token = zuora.new_token()
    later = zuora.post(
        "/v1/accounts", account_payload("001000000000002AAA"), **{"Idempotency-Key": "k"}
    )
    assert later.status_code == 200
    assert later.json()["success"] is True
    assert zuora.tenant.account_count() == 2


class _Gate:
    """A pause hook that holds matching requests until released, counting who waits."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)

    def __call__(self, request: Request) -> None:
        if request.path == self.path:
            self.arrived.release()
            assert self.release.wait(10)


def test_the_same_key_while_in_flight_gets_409(zuora: Zuora) -> None:
    gate = _Gate("/v1/accounts")
    zuora.service.pause_hook = gate
    payload = account_payload("001000000000001AAA")
    headers = zuora.headers(**{"Idempotency-Key": "slow"})
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(
            requests.post,
            f"{zuora.url}/v1/accounts",
            json=payload,
            headers=headers,
            verify=zuora.verify,
            timeout=10,
        )
        assert gate.arrived.acquire(timeout=5)
        second = zuora.post("/v1/accounts", payload, **{"Idempotency-Key": "slow"})
        gate.release.set()
        assert first.result().status_code == 200
    assert second.status_code == 409
    assert second.json()["success"] is False
    assert zuora.tenant.account_count() == 1


def test_too_many_requests_in_flight_get_429(zuora: Zuora) -> None:
    zuora.config.zuora_concurrency_limit = 2
    gate = _Gate("/v1/catalog/products")
    zuora.service.pause_hook = gate
    headers = zuora.headers()

    def call() -> requests.Response:
        return requests.get(
            f"{zuora.url}/v1/catalog/products", headers=headers, verify=zuora.verify, timeout=10
        )

    with ThreadPoolExecutor(6) as pool:
        held = [pool.submit(call) for _ in range(2)]
        assert gate.arrived.acquire(timeout=5)
        assert gate.arrived.acquire(timeout=5)
        refused = [f.result() for f in [pool.submit(call) for _ in range(4)]]
        gate.release.set()
        admitted = [f.result() for f in held]
    assert [r.status_code for r in admitted] == [200, 200]
    assert [r.status_code for r in refused] == [429] * 4
    assert refused[0].json()["code"] == "REQUEST_EXCEEDED_LIMIT"
    assert refused[0].headers["Concurrency-Limit-Remaining"] == "0"
    assert refused[0].headers["Concurrency-Limit-Limit"] == "2"
    assert zuora.get("/v1/catalog/products").status_code == 200  # slots are given back


def _wait_for_in_flight(service: ZuoraService, count: int) -> None:
    """Until ``count`` requests hold a slot (fails after 10 s; a wait, not a timing check)."""
    deadline = time.monotonic() + 10
    while service.in_flight() < count:
        assert time.monotonic() < deadline, f"{service.in_flight()} of {count} in flight"
        time.sleep(0.01)


def _a_third_while_two_work(
    zuora: Zuora, limit: int
) -> tuple[list[requests.Response], requests.Response]:
    """With this limit and 2 s of work a request: two requests, then a third while they work."""
    zuora.config.zuora_concurrency_limit = limit
    headers = zuora.headers()
    zuora.faults.latency_ms["zuora"] = 2000

    def call() -> requests.Response:
        return requests.get(
            f"{zuora.url}/v1/catalog/products", headers=headers, verify=zuora.verify, timeout=30
        )

    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(call) for _ in range(2)]
        _wait_for_in_flight(zuora.service, 2)
        third = call()
        return [f.result() for f in held], third


def test_injected_latency_holds_the_concurrency_slot(zuora: Zuora) -> None:
    assert zuora.config.zuora_latency_in_slot  # the default
    admitted, refused = _a_third_while_two_work(zuora, limit=2)
    assert [r.status_code for r in admitted] == [200, 200]
    assert refused.status_code == 429  # no slot left while the two work
    assert refused.json()["code"] == "REQUEST_EXCEEDED_LIMIT"
    assert refused.headers["Concurrency-Limit-Remaining"] == "0"
    assert zuora.service.in_flight() == 0  # the slots are given back after the latency


def test_remaining_counts_the_slots_held_during_latency(zuora: Zuora) -> None:
    admitted, third = _a_third_while_two_work(zuora, limit=4)
    assert [r.status_code for r in admitted] == [200, 200]
    assert third.status_code == 200
    assert third.headers["Concurrency-Limit-Limit"] == "4"
    assert third.headers["Concurrency-Limit-Remaining"] == "1"  # 2 held + itself, of 4


def test_the_per_minute_rate_limit_gets_429_until_the_window_moves(zuora: Zuora) -> None:
    zuora.config.zuora_rate_per_minute = 3
    codes = [zuora.get("/v1/catalog/products").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = zuora.get("/v1/catalog/products")
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(limited.headers["RateLimit-Reset"]) <= 60
    zuora.tenant.advance_clock(61)
    zuora.token = zuora.new_token()
    assert zuora.get("/v1/catalog/products").status_code == 200


def test_parallel_account_creation_is_consistent(zuora: Zuora) -> None:
    headers = zuora.headers()

    def create(i: int) -> requests.Response:
        return requests.post(
            f"{zuora.url}/v1/accounts",
            json=account_payload(f"001000000000{i:03d}AAA"),
            headers=headers,
            verify=zuora.verify,
            timeout=10,
        )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(24)))
    assert all(a.json()["success"] for a in answers)
    assert len({a.json()["accountNumber"] for a in answers}) == 24
    assert zuora.tenant.account_count() == 24


def test_unknown_paths_and_methods(zuora: Zuora) -> None:
    assert zuora.get("/v1/nothing-here").status_code == 404
    wrong = requests.delete(
        f"{zuora.url}/v1/orders", headers=zuora.headers(), verify=zuora.verify, timeout=10
    )
    assert wrong.status_code == 405
