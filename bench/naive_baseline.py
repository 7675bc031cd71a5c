"""The naive baseline: what a quick script would do to push Accounts/Orders into Zuora.

Per record, one after another: one Salesforce query (simple-salesforce), one Zuora look-up
(ZOQL by crmId) and one create (plain ``requests``). No batching, no concurrency, no
journal, no retries. The benchmarks run it on a subset (100 records; 20 with --quick) against a
sandbox with the same latency and limits, and extrapolate its time per record to the full run
(bench_sync.py says so in its results).

Log-ins and the one-time catalog read (a script has to map products to rate plans somehow)
happen before the clock starts; only the per-record loop is timed.

    .venv/bin/python bench/naive_baseline.py --records 50     # prints seconds per record
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

API_VERSION = "62.0"
ZUORA_VERSION = "2025-08-12"

ACCOUNT_SOQL = (
    "SELECT Id, Name, CurrencyIsoCode, BillingStreet, BillingCity, BillingState, "
    "BillingPostalCode, BillingCountry FROM Account WHERE Id = '{id}'"
)
ORDER_SOQL = (
    "SELECT Id, OrderNumber, EffectiveDate, AccountId, "
    "(SELECT Id, Product2.ProductCode FROM OrderItems) FROM Order WHERE Id = '{id}'"
)


class NaiveScript:
    """Plain clients, logged in once; :meth:`sync_account` / :meth:`sync_order` per record."""

    def __init__(self, sandbox: Any) -> None:
        creds = sandbox.credentials
        http = requests.Session()
        http.trust_env = False  # REQUESTS_CA_BUNDLE would beat .verify; loopback needs no proxy
        http.verify = str(sandbox.ca_path)
        token = http.post(
            f"{sandbox.salesforce_url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": creds.sf_consumer_key,
                "client_secret": creds.sf_consumer_secret,
                "username": creds.sf_username,
                "password": creds.sf_password + creds.sf_security_token,
            },
            timeout=30,
        )
        token.raise_for_status()
        login = token.json()
        self.sf = Salesforce(
            instance_url=login["instance_url"],
            session_id=login["access_token"],
            version=API_VERSION,
            session=http,
        )
        self.zuora_url = sandbox.zuora_url
        self.zuora = requests.Session()
        self.zuora.trust_env = False
        self.zuora.verify = str(sandbox.ca_path)
        answer = self.zuora.post(
            f"{self.zuora_url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.zuora_client_id,
                "client_secret": creds.zuora_client_secret,
            },
            timeout=30,
        )
        answer.raise_for_status()
        self.zuora.headers.update(
            {
                "Authorization": f"Bearer {answer.json()['access_token']}",
                "Zuora-Version": ZUORA_VERSION,
            }
        )
        self.rate_plan_by_sku: dict[str, str] = {}

    def _zoql(self, text: str) -> list[dict[str, Any]]:
        answer = self.zuora.post(
            f"{self.zuora_url}/v1/action/query", json={"queryString": text}, timeout=30
        )
        answer.raise_for_status()
        return answer.json().get("records") or []

    def load_catalog(self) -> None:
        """Once, before the loop: SKU -> first rate plan id."""
        products = {p["Id"]: p.get("SKU") for p in self._zoql("select Id, SKU from Product")}
        for plan in self._zoql("select Id, ProductId from ProductRatePlan"):
            sku = products.get(plan.get("ProductId"))
            if sku:
                self.rate_plan_by_sku.setdefault(sku, plan["Id"])

    def _find_account(self, crm_id: str) -> dict[str, Any] | None:
        records = self._zoql(
            f"select Id, AccountNumber from Account where CrmId = '{crm_id}'"  # noqa: S608
        )
        return records[0] if records else None

    def sync_account(self, account_id: str) -> str:
        account = self.sf.query(ACCOUNT_SOQL.format(id=account_id))["records"][0]
        if self._find_account(account_id):
            return "skipped"
        name = (account.get("Name") or account_id)[:90]
        contact = {
            "firstName": name,
            "lastName": name,
            "address1": account.get("BillingStreet"),
            "city": account.get("BillingCity"),
            "state": account.get("BillingState"),
            "zipCode": account.get("BillingPostalCode"),
            "country": account.get("BillingCountry"),
        }
        payload = {
            "name": name,
            "currency": account.get("CurrencyIsoCode") or "USD",
            "crmId": account_id,
            "billCycleDay": 1,
            "autoPay": False,
            "billToContact": {k: v for k, v in contact.items() if v},
        }
        answer = self.zuora.post(f"{self.zuora_url}/v1/accounts", json=payload, timeout=30)
        return "created" if answer.ok and answer.json().get("success") else "failed"

    def sync_order(self, order_id: str) -> str:
        order = self.sf.query(ORDER_SOQL.format(id=order_id))["records"][0]
        account = self._find_account(order["AccountId"])
        if account is None:
            return "failed"
        items = (order.get("OrderItems") or {}).get("records") or []
        plans = [
            self.rate_plan_by_sku.get((item.get("Product2") or {}).get("ProductCode") or "")
            for item in items
        ]
        plans = [p for p in plans if p]
        if not plans:
            return "failed"
        date = order.get("EffectiveDate") or dt.date.today().isoformat()
        payload = {
            "orderDate": date,
            "orderNumber": order["OrderNumber"],
            "existingAccountNumber": account["AccountNumber"],
            "subscriptions": [
                {
                    "orderActions": [
                        {
                            "type": "CreateSubscription",
                            "triggerDates": [{"name": "ContractEffective", "triggerDate": date}],
                            "createSubscription": {
                                "terms": {
                                    "initialTerm": {
                                        "termType": "TERMED",
                                        "period": 12,
                                        "periodType": "Month",
                                        "startDate": date,
                                    },
                                    "renewalSetting": "RENEW_WITH_SPECIFIC_TERM",
                                    "renewalTerms": [{"period": 12, "periodType": "Month"}],
                                },
                                "subscribeToRatePlans": [{"productRatePlanId": p} for p in plans],
                            },
                        }
                    ]
                }
            ],
            "processingOptions": {"runBilling": False, "collectPayment": False},
        }
        answer = self.zuora.post(f"{self.zuora_url}/v1/orders", json=payload, timeout=30)
        return "created" if answer.ok and answer.json().get("success") else "failed"


class NaiveConnectorScript(NaiveScript):
    """The same script driving Zuora's connector: per record, read it from Salesforce, open
    the button URL, then look in Zuora once a second until the account shows up."""

    POLL_S = 1.0
    GIVE_UP_S = 10.0  # a record the connector cannot sync never shows up

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.connector_url = sandbox.connector_url
        self.sfdc = sandbox.sfdc_domain
        self.button = requests.Session()
        self.button.trust_env = False
        self.button.verify = str(sandbox.ca_path)

    def sync_account(self, account_id: str) -> str:
        self.sf.query(ACCOUNT_SOQL.format(id=account_id))
        answer = self.button.get(
            self.connector_url, params={"sfdc": self.sfdc, "accountId": account_id}, timeout=30
        )
        if not answer.ok:
            return "failed"
        deadline = time.monotonic() + self.GIVE_UP_S
        while time.monotonic() < deadline:
            if self._find_account(account_id):
                return "created"
            time.sleep(self.POLL_S)
        return "timed_out"


def run_naive(
    sandbox: Any, kind: str, ids: list[str], *, connector: bool = False
) -> dict[str, Any]:
    """Time the per-record loop over ``ids``.

    ``seconds_per_record`` is the mean over the records that reached Zuora ("created"): a
    record the script cannot sync (bad data in the generated org) costs it either almost
    nothing (refused at once) or, through the connector, a wait until it gives up, neither of
    which says how fast it syncs; both are listed in ``outcomes``.
    """
    script = NaiveConnectorScript(sandbox) if connector else NaiveScript(sandbox)
    if kind == "orders":
        script.load_catalog()
    outcomes: dict[str, int] = {}
    created_seconds: list[float] = []
    began = time.perf_counter()
    for record_id in ids:
        step = script.sync_account if kind == "accounts" else script.sync_order
        started = time.perf_counter()
        outcome = step(record_id)
        if outcome == "created":
            created_seconds.append(time.perf_counter() - started)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    seconds = time.perf_counter() - began
    script.zuora.close()
    script.sf.session.close()
    per_record = sum(created_seconds) / len(created_seconds) if created_seconds else float("nan")
    return {
        "kind": kind,
        "engine": "connector" if connector else "direct",
        "records": len(ids),
        "seconds": round(seconds, 3),
        "seconds_per_record": round(per_record, 4),
        "per_record_is": "mean over the records created in Zuora",
        "outcomes": outcomes,
    }


def main() -> int:
    from bench.common import ServedSandbox

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=100)
    args = parser.parse_args()
    with ServedSandbox.start(
        accounts=args.records,
        orders=args.records,
        latency_ms=args.latency_ms,
        zuora_concurrency_limit=10,
    ) as sandbox:
        accounts = run_naive(sandbox, "accounts", sandbox.ids("Account"))
        orders = run_naive(sandbox, "orders", sandbox.ids("Order"))
        print(json.dumps({"accounts": accounts, "orders": orders}, indent=2))
        problems = sandbox.problems()
        if problems:
            print("sandbox problems:", *problems, sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
