"""Simulates Zuora's "Billing Connector for Salesforce CPQ" button endpoint and its sync."""

from __future__ import annotations

import heapq
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.http import Request, Response
from cpq_sync_gui.sandbox.org import OrgStore, Record
from cpq_sync_gui.sandbox.zuora_tenant import ZuoraError, ZuoraTenant

PATH = "/default/sfdccpq"
RELATED_OBJECT_LIMIT = 50  # "at most 50 related objects per sync"
DEFAULT_TERM_MONTHS = 12
_SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_NAME_LIMIT = 100  # Zuora contact first/last name length


@dataclass(frozen=True)
class SyncLogEntry:
    """One line of what Zuora's Integration Hub would show for a connector sync."""

    record_type: str  # "Account" or "Order"
    record_id: str  # as the button sent it
    outcome: str  # "Success", "Skipped" (already in Zuora) or "Failed"
    message: str
    zuora_key: str | None = None  # account or order number in Zuora
    at: float = field(default_factory=time.time)


class SyncFailed(Exception):
    """The connector gives up on a record; the message goes to the sync log."""


class ConnectorService:
    """``Service`` for the connector's ``GET /default/sfdccpq`` button URL.

    The button answers at once; the sync itself runs ``config.connector_delay_s`` later on a
    background thread (started on first use; :meth:`stop` ends it), through the same tenant
    functions and schema checks as the REST API. Results go to :attr:`sync_log`.
    """

    name = "connector"

    def __init__(self, org: OrgStore, tenant: ZuoraTenant, config: SandboxConfig) -> None:
        self.org = org
        self.tenant = tenant
        self.config = config
        # Custom field mapping as configured in Integration Hub: Salesforce Account field ->
        # Zuora account custom field (accountCustomFields / zuoraAccountCustomFields).
        self.account_custom_fields: dict[str, str] = {}
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, str, str]] = []  # (due, seq, kind, record id)
        self._seq = itertools.count()
        self._busy = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._log: list[SyncLogEntry] = []

    # --- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path != PATH:
            return Response.text("Not Found", 404)
        if request.method != "GET":
            return Response.text("Method Not Allowed", 405)
        domain = (request.arg("sfdc") or "").strip()
        account_id, order_id = request.arg("accountId"), request.arg("orderId")
        if not domain:
            return Response.text("Missing parameter: sfdc", 400)
        if (account_id is None) == (order_id is None):
            return Response.text("Exactly one of accountId and orderId is required", 400)
        record_id = (account_id if account_id is not None else order_id) or ""
        if not _SF_ID.match(record_id):
            return Response.text(f"Malformed Salesforce id: {record_id!r}", 400)
        registered = {d.strip().lower() for d in self.config.connector_domains}
        if domain.lower() not in registered:
            return Response.text(f"Forbidden: {domain} is not registered with this connector", 403)
        kind = "Account" if account_id is not None else "Order"
        self._enqueue(kind, record_id)
        # What the real endpoint answers is not documented; this is a plausible short page.
        return Response.text(
            f"Sync of {kind} {record_id} to Zuora has started. "
            "See System Health > Integration Hub in Zuora for the result.",
            200,
        )

    # --- worker ---------------------------------------------------------------------------------

    def _enqueue(self, kind: str, record_id: str) -> None:
        with self._cond:
            if self._stopping:
                return
            due = time.monotonic() + self.config.connector_delay_s
            heapq.heappush(self._queue, (due, next(self._seq), kind, record_id))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="sandbox-connector-sync", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                _, _, kind, record_id = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._sync(kind, record_id)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def stop(self) -> None:
        """Stop the background sync thread; queued syncs are dropped."""
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every requested sync has finished; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and self._busy == 0, timeout)

    @property
    def sync_log(self) -> list[SyncLogEntry]:
        with self._cond:
            return list(self._log)

    def _record(self, entry: SyncLogEntry) -> None:
        with self._cond:
            self._log.append(entry)

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; True when stopped."""
        with self._cond:
            return self._cond.wait_for(lambda: self._stopping, max(0.0, seconds))

    # --- sync -----------------------------------------------------------------------------------

    def _sync(self, kind: str, record_id: str) -> None:
        try:
            if kind == "Account":
                created: list[str] = []
                account = self._sync_account(record_id, created)
                outcome = "Success" if created else "Skipped"
                message = (
                    f"Created Zuora account(s) {', '.join(created)}"
                    if created
                    else f"Account already in Zuora as {account['accountNumber']}"
                )
                self._record(
                    SyncLogEntry(kind, record_id, outcome, message, account["accountNumber"])
                )
            else:
                self._sync_order(record_id)
        except SyncFailed as failure:
            self._record(SyncLogEntry(kind, record_id, "Failed", str(failure)))
        except Exception as exc:  # a sandbox bug must show in the log, not kill the thread
            self._record(
                SyncLogEntry(
                    kind, record_id, "Failed", f"internal error: {type(exc).__name__}: {exc}"
                )
            )

    def _org_currency(self) -> str:
        if self.org.sobject("Organization") is not None:
            for org in self.org.all("Organization"):
                if org.get("DefaultCurrencyIsoCode"):
                    return str(org["DefaultCurrencyIsoCode"])
        return "USD"

    @staticmethod
    def _contact_name(name: str, suffix: str) -> str:
        return name[: _NAME_LIMIT - len(suffix)] + suffix

    def _contact(self, rec: Record, prefix: str, name: str) -> dict[str, Any]:
        contact: dict[str, Any] = {"firstName": name, "lastName": name}
        for sf, zuora in (
            ("Street", "address1"),
            ("City", "city"),
            ("State", "state"),
            ("PostalCode", "zipCode"),
            ("Country", "country"),
        ):
            value = rec.get(prefix + sf)
            if value:
                contact[zuora] = str(value)[:255]
        if rec.get("Email"):
            contact["workEmail"] = str(rec["Email"])[:80]
        if rec.get("Mobile") or rec.get("MobilePhone"):
            contact["mobilePhone"] = str(rec.get("Mobile") or rec.get("MobilePhone"))[:40]
        return contact

    def _owner_name(self, rec: Record) -> str | None:
        if rec.get("OwnerId") and self.org.sobject("User") is not None:
            user = self.org.get("User", str(rec["OwnerId"]))
            if user and user.get("Name"):
                return str(user["Name"])
        return None

    def _sync_account(self, record_id: str, created: list[str], depth: int = 0) -> dict[str, Any]:
        rec = self.org.get("Account", record_id)
        if rec is None:
            raise SyncFailed(f"Account {record_id} was not found in Salesforce")
        existing = self.tenant.accounts_by_crm_id(rec["Id"])
        if existing:
            return existing[0]
        if depth >= 10:
            raise SyncFailed(f"Account {rec['Id']}: the parent hierarchy is too deep")
        parent = None
        if rec.get("ParentId"):
            parent = self._sync_account(rec["ParentId"], created, depth + 1)
        missing = [f for f in ("BillingCountry", "BillingState") if not rec.get(f)]
        if missing:
            raise SyncFailed(
                f"Account {rec['Id']} ({rec.get('Name')}): the billing address is mandatory "
                f"and Zuora needs country and state on the Bill To contact; missing "
                f"{', '.join(missing)}"
            )
        if len(created) >= RELATED_OBJECT_LIMIT:
            raise SyncFailed(f"more than {RELATED_OBJECT_LIMIT} related objects in one sync")
        name = str(rec.get("Name") or rec["Id"])
        bill_to = self._contact(rec, "Billing", self._contact_name(name, "_billTo"))
        has_shipping = any(rec.get("Shipping" + f) for f in ("Street", "City", "Country"))
        sold_to = (
            self._contact(rec, "Shipping", self._contact_name(name, "_soldTo"))
            if has_shipping
            else dict(bill_to)
        )
        payload: dict[str, Any] = {
            "name": name[:255],
            "crmId": rec["Id"],
            "currency": rec.get("CurrencyIsoCode") or self._org_currency(),
            "billCycleDay": 1,
            "autoPay": False,
            "billToContact": bill_to,
            "soldToContact": sold_to,
        }
        if rec.get("Description"):
            payload["notes"] = str(rec["Description"])[:65535]
        owner = self._owner_name(rec)
        if owner:
            payload["salesRep"] = owner[:50]
        if parent is not None:
            payload["parentId"] = parent["id"]
        for sf_field, zuora_field in self.account_custom_fields.items():
            if rec.get(sf_field) is not None:
                payload[zuora_field] = rec[sf_field]
        try:
            result = self.tenant.create_account(payload, endpoint="connector: POST /v1/accounts")
        except ZuoraError as error:
            raise SyncFailed(self._reasons(f"Account {rec['Id']}", error)) from None
        created.append(result["accountNumber"])
        account = self.tenant.account_by_key(result["accountId"])
        assert account is not None
        return account

    @staticmethod
    def _reasons(what: str, error: ZuoraError) -> str:
        return f"{what}: Zuora refused it: " + "; ".join(
            f"[{code}] {message}" for code, message in error.reasons
        )

    def _find_plan(self, product: Record) -> dict[str, Any] | None:
        plans = self.tenant.rate_plans_by_external_id(product["Id"])
        if plans:
            return plans[0]
        if product.get("ProductCode"):
            found = self.tenant.product_by_key(str(product["ProductCode"]))
            if found and found["productRatePlanIds"]:
                return self.tenant.rate_plans[found["productRatePlanIds"][0]]
        return None

    def _is_recurring(self, item: Record, plan: dict[str, Any]) -> bool:
        if "SBQQ__SubscriptionPricing__c" in item or "SBQQ__ChargeType__c" in item:
            return bool(str(item.get("SBQQ__SubscriptionPricing__c") or "").strip()) or (
                item.get("SBQQ__ChargeType__c") == "Recurring"
            )
        # An org without CPQ fields: the catalog says what kind of charge it is.
        return any(
            self.tenant.charges[c]["type"] == "Recurring" for c in plan["productRatePlanChargeIds"]
        )

    def _override(self, item: Record, plan: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        """Net price -> list price override (and Quantity) on the plan's first charge of ``kind``."""
        price, quantity = item.get("UnitPrice"), item.get("Quantity") or 1
        charge = next(
            (
                self.tenant.charges[c]
                for c in plan["productRatePlanChargeIds"]
                if self.tenant.charges[c]["type"] == kind
            ),
            None,
        )
        if charge is None or price is None:
            return []
        per_unit = "Per Unit" in charge["model"]
        prefix = "recurring" if kind == "Recurring" else "oneTime"
        pricing = (
            {f"{prefix}PerUnit": {"listPrice": float(price), "quantity": float(quantity)}}
            if per_unit
            else {f"{prefix}FlatFee": {"listPrice": float(price) * float(quantity)}}
        )
        return [{"productRatePlanChargeId": charge["id"], "pricing": pricing}]

    def _sync_order(self, record_id: str) -> None:
        order = self.org.get("Order", record_id)
        if order is None:
            raise SyncFailed(f"Order {record_id} was not found in Salesforce")
        number = str(order.get("OrderNumber") or "")
        if number and self.tenant.orders_by_number(number):
            self._record(
                SyncLogEntry(
                    "Order", record_id, "Skipped", f"Order {number} is already in Zuora", number
                )
            )
            return
        created: list[str] = []
        account = self._sync_account(str(order.get("AccountId")), created)
        items = self.org.where("OrderItem", lambda r: r.get("OrderId") == order["Id"])
        if not items:
            raise SyncFailed(f"Order {number} has no order products")
        order_date = str(order.get("EffectiveDate"))
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        line_items: list[dict[str, Any]] = []
        for item in items:
            product = self.org.get("Product2", str(item.get("Product2Id")))
            if product is None:
                raise SyncFailed(f"Order {number}: product {item.get('Product2Id')} not found")
            plan = self._find_plan(product)
            if plan is None:
                raise SyncFailed(
                    f"Order {number}: product {product.get('Name')} "
                    f"({product.get('ProductCode')}, {product['Id']}) is not in the Zuora catalog"
                )
            start = str(item.get("ServiceDate") or order_date)
            if self._is_recurring(item, plan):
                term = int(
                    item.get("SBQQ__SubscriptionTerm__c")
                    or item.get("SBQQ__DefaultSubscriptionTerm__c")
                    or DEFAULT_TERM_MONTHS
                )
                spec: dict[str, Any] = {
                    "productRatePlanId": plan["id"],
                    "externallyManagedPlanId": item["Id"],
                }
                overrides = self._override(item, plan, "Recurring")
                if overrides:
                    spec["chargeOverrides"] = overrides
                groups.setdefault((start, term), []).append(spec)
            else:
                line: dict[str, Any] = {
                    "itemName": str(product.get("Name") or product["Id"])[:255],
                    "itemType": "Product",
                    "quantity": float(item.get("Quantity") or 1),
                    "transactionStartDate": start,
                }
                if product.get("ProductCode"):
                    line["productCode"] = str(product["ProductCode"])[:100]
                if item.get("UnitPrice") is not None:
                    line["listPricePerUnit"] = float(item["UnitPrice"])
                one_time = self._override(item, plan, "OneTime")
                if one_time:
                    line["productRatePlanChargeId"] = one_time[0]["productRatePlanChargeId"]
                line_items.append(line)
        related = len(created) + len(groups) + len(line_items)
        if related > RELATED_OBJECT_LIMIT:
            raise SyncFailed(
                f"Order {number}: {related} related objects; the connector syncs at most "
                f"{RELATED_OBJECT_LIMIT} per sync"
            )
        subscriptions = [
            {
                "orderActions": [
                    {
                        "type": "CreateSubscription",
                        # By default only the contract-effective trigger date is set.
                        "triggerDates": [{"name": "ContractEffective", "triggerDate": start}],
                        "createSubscription": {
                            "terms": {
                                "initialTerm": {
                                    "termType": "TERMED",
                                    "period": term,
                                    "periodType": "Month",
                                    "startDate": start,
                                },
                                "renewalSetting": "RENEW_WITH_SPECIFIC_TERM",
                                "renewalTerms": [{"period": term, "periodType": "Month"}],
                            },
                            "subscribeToRatePlans": specs,
                        },
                    }
                ]
            }
            for (start, term), specs in groups.items()
        ]
        payload: dict[str, Any] = {
            "orderDate": order_date,
            "existingAccountNumber": account["accountNumber"],
            "processingOptions": {"runBilling": False, "collectPayment": False},
            "subscriptions": subscriptions,
        }
        if number:
            payload["orderNumber"] = number
        if order.get("Description"):
            payload["description"] = str(order["Description"])[:500]
        if line_items:
            payload["orderLineItems"] = line_items
        self._submit(record_id, number, payload)

    def _submit(self, record_id: str, number: str, payload: dict[str, Any]) -> None:
        """Create the order through the asynchronous Orders API, as the real connector does."""
        try:
            job_id = self.tenant.submit_async_order(
                payload,
                self.config.async_order_delay_s,
                endpoint="connector: POST /v1/async/orders",
            )
        except ZuoraError as error:
            raise SyncFailed(self._reasons(f"Order {number}", error)) from None
        job = self.tenant.job(job_id)
        while job is not None and job["status"] == "Processing":
            if self._sleep(min(0.05, max(0.0, job["due"] - self.tenant.now()) + 0.001)):
                return
            job = self.tenant.job(job_id)
        assert job is not None
        if job["status"] == "Failed":
            raise SyncFailed(self._reasons(f"Order {number}", job["error"]))
        result = job["result"]
        self._record(
            SyncLogEntry(
                "Order",
                record_id,
                "Success",
                f"Created Zuora order {result['orderNumber']} for account "
                f"{result['accountNumber']} with subscriptions "
                f"{', '.join(result['subscriptionNumbers']) or 'none'}",
                result["orderNumber"],
            )
        )
