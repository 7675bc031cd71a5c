"""The simulated Zuora tenant's state: catalog, accounts, contacts, orders, subscriptions, jobs."""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import random
import re
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

from cpq_sync_gui.sandbox import zuora_zoql
from cpq_sync_gui.sandbox.catalog import CatalogProduct
from cpq_sync_gui.sandbox.zuora_payloads import (
    is_missing_field,
    validate_create_account,
    validate_create_order,
)

# Zuora error codes are a 6-digit resource code plus a 2-digit category
# (https://developer.zuora.com/docs/guides/error-codes). The per-field resource codes are not
# published in a usable form; 500000 ("unknown object and field") is used throughout, except for
# the documented 531003 (subscription termType).
RESOURCE_UNKNOWN = 500000
RESOURCE_TERM_TYPE = 531003
INVALID_VALUE, UNKNOWN_FIELD, MISSING_FIELD, BUSINESS_RULE, NOT_FOUND = 20, 21, 22, 30, 40
MALFORMED = 90

SYNC_ORDER_LIMIT = 50  # subscriptions, and order actions, per POST /v1/orders
ASYNC_ORDER_LIMIT = 300  # per POST /v1/async/orders
ORDER_LINE_ITEM_LIMIT = 100  # per order
QUERY_BATCH = 2000  # records per /v1/action/query answer
DEFAULT_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF")
IDEMPOTENCY_TTL_S = 24 * 3600.0
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ZuoraError(Exception):
    """A request Zuora refuses with ``success: false`` and one or more reasons."""

    def __init__(
        self,
        category: int,
        message: str,
        resource: int = RESOURCE_UNKNOWN,
        http_status: int = 200,
        more: list[tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.reasons = [(resource * 100 + category, message)]
        self.reasons += more or []

    def body(self, process_id: str) -> dict[str, Any]:
        return {
            "success": False,
            "processId": process_id,
            "reasons": [{"code": code, "message": text} for code, text in self.reasons],
        }


# Schema violations are answered with HTTP 400 (the SDK maps 400 to CommonResponse, the same
# success/reasons shape). Change it here if a real tenant turns out to answer 200.
SCHEMA_ERROR_STATUS = 400


def schema_error(messages: list[str]) -> ZuoraError:
    reasons = [
        (RESOURCE_UNKNOWN * 100 + (MISSING_FIELD if is_missing_field(m) else INVALID_VALUE), m)
        for m in messages
    ]
    error = ZuoraError(INVALID_VALUE, messages[0], http_status=SCHEMA_ERROR_STATUS)
    error.reasons = reasons
    return error


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _term_end(start: dt.date, period: int, period_type: str) -> dt.date:
    unit = period_type.lower()
    if unit == "month":
        return add_months(start, period)
    if unit == "year":
        return add_months(start, 12 * period)
    if unit == "week":
        return start + dt.timedelta(weeks=period)
    return start + dt.timedelta(days=period)


def _date(value: Any, path: str) -> dt.date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise ZuoraError(INVALID_VALUE, f"{path}: '{value}' is not a date in yyyy-MM-dd format")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ZuoraError(INVALID_VALUE, f"{path}: '{value}' is not a valid date") from None


def _custom_fields(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k.endswith("__c")}


_CONTACT_FIELDS = (
    "firstName", "lastName", "nickname", "address1", "address2", "city", "county", "state",
    "zipCode", "country", "workEmail", "personalEmail", "workPhone", "mobilePhone", "homePhone",
    "fax", "taxRegion", "contactDescription",
)  # fmt: skip


class ZuoraTenant:
    """One simulated Zuora tenant, safe to use from many threads.

    The REST service (``ZuoraService``) and the connector (``ConnectorService``) both change it
    only through :meth:`create_account` and :meth:`create_order`, which validate the payload
    against Zuora's schema first and record every violation in :attr:`schema_violations`.
    """

    def __init__(
        self,
        catalog: Iterable[CatalogProduct] = (),
        *,
        currencies: Iterable[str] = DEFAULT_CURRENCIES,
        seed: int = 0,
    ) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._clock_offset = 0.0
        self._counters: dict[str, int] = {}
        self.currencies = set(currencies)
        self.schema_violations: list[tuple[str, list[str]]] = []
        self.accounts: dict[str, dict[str, Any]] = {}  # by id
        self.contacts: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.rate_plans: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.orders: list[dict[str, Any]] = []
        self.subscriptions: dict[str, dict[str, Any]] = {}  # by subscription number
        self.jobs: dict[str, dict[str, Any]] = {}
        self._query_more: dict[str, list[dict[str, Any]]] = {}
        self.load_catalog(catalog)

    # --- ids, numbers, clock ------------------------------------------------------------------

    def new_id(self) -> str:
        with self._lock:
            return f"{self._rng.getrandbits(128):032x}"

    def _next(self, kind: str, pattern: str) -> str:
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            return pattern % self._counters[kind]

    def now(self) -> float:
        """The tenant's clock (monotonic seconds); :meth:`advance_clock` moves it forward."""
        return time.monotonic() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        with self._lock:
            self._clock_offset += seconds

    @staticmethod
    def _timestamp() -> str:
        return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")

    # --- catalog --------------------------------------------------------------------------------

    def load_catalog(self, catalog: Iterable[CatalogProduct]) -> None:
        with self._lock:
            for product in catalog:
                product_id = self.new_id()
                plan_ids: list[str] = []
                self.products[product_id] = {
                    "id": product_id,
                    "name": product.name,
                    "sku": product.sku,
                    "productNumber": self._next("product", "PC-%08d"),
                    "description": "",
                    "category": "Base Products",
                    "effectiveStartDate": "2000-01-01",
                    "effectiveEndDate": "2099-12-31",
                    "productRatePlanIds": plan_ids,
                }
                for plan in product.rate_plans:
                    plan_id = self.new_id()
                    plan_ids.append(plan_id)
                    charge_ids: list[str] = []
                    self.rate_plans[plan_id] = {
                        "id": plan_id,
                        "productId": product_id,
                        "name": plan.name,
                        "productRatePlanNumber": self._next("plan", "PRP-%08d"),
                        "externallyManagedPlanIds": [plan.external_id],
                        "externalIdSourceSystem": "Salesforce",
                        "status": "Active",
                        "description": "",
                        "effectiveStartDate": "2000-01-01",
                        "effectiveEndDate": "2099-12-31",
                        "productRatePlanChargeIds": charge_ids,
                    }
                    for charge in plan.charges:
                        charge_id = self.new_id()
                        charge_ids.append(charge_id)
                        self.currencies.update(charge.prices)
                        self.charges[charge_id] = {
                            "id": charge_id,
                            "productRatePlanId": plan_id,
                            "name": charge.name,
                            "number": self._next("charge", "PRPC-%08d"),
                            "type": charge.charge_type,
                            "model": charge.charge_model,
                            "billingPeriod": charge.billing_period,
                            "prices": dict(charge.prices),
                        }

    def product_by_key(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return next(
                (
                    p
                    for p in self.products.values()
                    if key in (p["id"], p["sku"], p["productNumber"])
                ),
                None,
            )

    def rate_plans_by_external_id(self, external_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(p)
                for p in self.rate_plans.values()
                if external_id in p["externallyManagedPlanIds"]
            ]

    # --- accounts -------------------------------------------------------------------------------

    def _record_violations(self, endpoint: str, messages: list[str]) -> None:
        if messages:
            self.schema_violations.append((endpoint, messages))

    def account_by_key(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.accounts.get(key) or next(
                (a for a in self.accounts.values() if a["accountNumber"] == key), None
            )
            return self.account_view(found) if found else None

    def account_view(self, account: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(account)
        view["billToContact"] = copy.deepcopy(self.contacts.get(account["billToContactId"]))
        view["soldToContact"] = copy.deepcopy(self.contacts.get(account["soldToContactId"]))
        return view

    def _new_contact(self, account_id: str, data: dict[str, Any]) -> dict[str, Any]:
        contact = {"id": self.new_id(), "accountId": account_id}
        contact.update({k: data.get(k) for k in _CONTACT_FIELDS})
        contact.update(_custom_fields(data))
        return contact

    def _check_account(
        self, payload: dict[str, Any], path: str = "$", with_subscription: bool = False
    ) -> None:
        bcd = payload.get("billCycleDay")
        if bcd is None and not with_subscription:
            raise ZuoraError(
                MISSING_FIELD,
                f"{path}.billCycleDay: billCycleDay is required when no subscription is created",
            )
        if bcd is not None and not 0 <= bcd <= 31:
            raise ZuoraError(INVALID_VALUE, f"{path}.billCycleDay: must be between 0 and 31")
        if payload["currency"] not in self.currencies:
            raise ZuoraError(
                INVALID_VALUE, f"{path}.currency: '{payload['currency']}' is not an active currency"
            )
        parent = payload.get("parentId")
        if parent and parent not in self.accounts:
            raise ZuoraError(INVALID_VALUE, f"{path}.parentId: no account with id '{parent}'")
        parent_number = payload.get("parentAccountNumber")
        if parent_number and self._account_by_number(parent_number) is None:
            raise ZuoraError(
                INVALID_VALUE, f"{path}.parentAccountNumber: no account numbered '{parent_number}'"
            )

    def _account_by_number(self, number: str) -> dict[str, Any] | None:
        return next((a for a in self.accounts.values() if a["accountNumber"] == number), None)

    def _insert_account(self, payload: dict[str, Any], default_bcd: int = 1) -> dict[str, Any]:
        account_id = self.new_id()
        parent_id = payload.get("parentId")
        if not parent_id and payload.get("parentAccountNumber"):
            parent_id = self._account_by_number(payload["parentAccountNumber"])["id"]  # type: ignore[index]
        bill_to = self._new_contact(account_id, payload["billToContact"])
        # Zuora makes a separate sold-to contact from the bill-to one when none is given.
        sold_to = self._new_contact(
            account_id, payload.get("soldToContact") or payload["billToContact"]
        )
        self.contacts[bill_to["id"]] = bill_to
        self.contacts[sold_to["id"]] = sold_to
        number = payload.get("accountNumber") or self._next("account", "A%08d")
        account = {
            "id": account_id,
            "accountNumber": number,
            "name": payload["name"],
            "crmId": payload.get("crmId"),
            "currency": payload["currency"],
            "billCycleDay": payload.get("billCycleDay") or default_bcd,
            "autoPay": bool(payload.get("autoPay")),
            "paymentTerm": payload.get("paymentTerm") or "Due Upon Receipt",
            "parentId": parent_id,
            "salesRep": payload.get("salesRep"),
            "notes": payload.get("notes"),
            "batch": payload.get("batch") or "Batch1",
            "status": "Active",
            "billToContactId": bill_to["id"],
            "soldToContactId": sold_to["id"],
            "customFields": _custom_fields(payload),
            "createdDate": self._timestamp(),
        }
        self.accounts[account_id] = account
        return account

    def create_account(self, payload: Any, endpoint: str = "POST /v1/accounts") -> dict[str, Any]:
        """Create an account as ``POST /v1/accounts`` does; raises :class:`ZuoraError`."""
        problems = validate_create_account(payload)
        with self._lock:
            if problems:
                self._record_violations(endpoint, problems)
                raise schema_error(problems)
            self._check_account(payload)
            number = payload.get("accountNumber")
            if number and self._account_by_number(number):
                raise ZuoraError(BUSINESS_RULE, f"The account number {number} already exists.")
            account = self._insert_account(payload)
            return {
                "success": True,
                "accountId": account["id"],
                "accountNumber": account["accountNumber"],
                "billToContactId": account["billToContactId"],
                "soldToContactId": account["soldToContactId"],
            }

    def update_account(self, key: str, payload: Any) -> dict[str, Any]:
        """Change an account as ``PUT /v1/accounts/{key}`` does (name, notes, salesRep,
        contacts); raises :class:`ZuoraError`. Currency and bill cycle stay as they were."""
        if not isinstance(payload, dict):
            raise ZuoraError(MALFORMED, "The request body must be a JSON object.")
        with self._lock:
            account = self.accounts.get(key) or self._account_by_number(key)
            if account is None:
                raise ZuoraError(NOT_FOUND, f"Cannot find entity by key: '{key}'.")
            for fixed in ("currency", "crmId", "accountNumber"):
                if fixed in payload and payload[fixed] != account.get(fixed):
                    raise ZuoraError(
                        BUSINESS_RULE, f"{fixed} cannot be changed once the account exists."
                    )
            for field in ("name", "notes", "salesRep"):
                if field in payload:
                    account[field] = payload[field]
            for field, contact_key in (
                ("billToContact", "billToContactId"),
                ("soldToContact", "soldToContactId"),
            ):
                if isinstance(payload.get(field), dict):
                    contact = self.contacts[account[contact_key]]
                    contact.update(
                        {k: v for k, v in payload[field].items() if k in _CONTACT_FIELDS}
                    )
            account["updatedDate"] = self._timestamp()
            return {"success": True}

    # --- orders ---------------------------------------------------------------------------------

    def _resolve_rate_plan(self, spec: dict[str, Any], path: str) -> dict[str, Any]:
        candidates: list[dict[str, Any]] = []
        if spec.get("productRatePlanId"):
            plan = self.rate_plans.get(spec["productRatePlanId"])
            if plan is None:
                raise ZuoraError(
                    NOT_FOUND, f"{path}: no product rate plan with id '{spec['productRatePlanId']}'"
                )
            candidates.append(plan)
        if spec.get("productRatePlanNumber"):
            number = spec["productRatePlanNumber"]
            plan = next(
                (p for p in self.rate_plans.values() if p["productRatePlanNumber"] == number), None
            )
            if plan is None:
                raise ZuoraError(NOT_FOUND, f"{path}: no product rate plan with number '{number}'")
            candidates.append(plan)
        if spec.get("externalCatalogPlanId"):
            external = spec["externalCatalogPlanId"]
            plan = next(
                (p for p in self.rate_plans.values() if external in p["externallyManagedPlanIds"]),
                None,
            )
            if plan is None:
                raise ZuoraError(
                    NOT_FOUND, f"{path}: no product rate plan with external ID '{external}'"
                )
            candidates.append(plan)
        if not candidates:
            raise ZuoraError(
                MISSING_FIELD,
                f"{path}: one of productRatePlanId, productRatePlanNumber or "
                "externalCatalogPlanId is required",
            )
        if any(c["id"] != candidates[0]["id"] for c in candidates):
            raise ZuoraError(
                INVALID_VALUE, f"{path}: the rate plan keys point to different product rate plans"
            )
        return candidates[0]

    def _build_rate_plan(self, spec: dict[str, Any], currency: str, path: str) -> dict[str, Any]:
        plan = self._resolve_rate_plan(spec, path)
        overrides: dict[str, dict[str, Any]] = {}
        for i, override in enumerate(spec.get("chargeOverrides") or []):
            charge_id = override["productRatePlanChargeId"]
            if charge_id not in plan["productRatePlanChargeIds"]:
                raise ZuoraError(
                    INVALID_VALUE,
                    f"{path}.chargeOverrides[{i}].productRatePlanChargeId: '{charge_id}' is not "
                    f"a charge of product rate plan '{plan['id']}'",
                )
            overrides[charge_id] = override
        charges = []
        for charge_id in plan["productRatePlanChargeIds"]:
            charge = self.charges[charge_id]
            pricing = (overrides.get(charge_id) or {}).get("pricing") or {}
            price_spec = next((v for v in pricing.values() if isinstance(v, dict)), {})
            price = price_spec.get("listPrice")
            if price is None:
                price = charge["prices"].get(currency)
            if price is None:
                raise ZuoraError(
                    BUSINESS_RULE,
                    f"{path}: product rate plan charge '{charge['name']}' has no price "
                    f"in {currency}",
                )
            charges.append(
                {
                    "id": self.new_id(),
                    "productRatePlanChargeId": charge_id,
                    "name": charge["name"],
                    "type": charge["type"],
                    "model": charge["model"],
                    "billingPeriod": charge["billingPeriod"],
                    "price": price,
                    "quantity": price_spec.get("quantity", 1),
                    "currency": currency,
                }
            )
        product = self.products[plan["productId"]]
        return {
            "id": self.new_id(),
            "productId": product["id"],
            "productName": product["name"],
            "productSku": product["sku"],
            "productRatePlanId": plan["id"],
            "ratePlanName": plan["name"],
            "externallyManagedPlanId": spec.get("externallyManagedPlanId"),
            "customFields": spec.get("customFields") or {},
            "ratePlanCharges": charges,
        }

    def _build_subscription(
        self,
        action: dict[str, Any],
        account: dict[str, Any],
        order_date: dt.date,
        taken: set[str],
        path: str,
    ) -> dict[str, Any]:
        if action["type"] != "CreateSubscription":
            raise ZuoraError(
                BUSINESS_RULE,
                f"{path}.type: the sandbox supports only CreateSubscription order actions, "
                f"not '{action['type']}'",
            )
        create = action.get("createSubscription")
        if not create:
            raise ZuoraError(MISSING_FIELD, f"{path}.createSubscription is required")
        terms = create.get("terms")
        if not terms:
            raise ZuoraError(MISSING_FIELD, f"{path}.createSubscription.terms is required")
        initial = terms["initialTerm"]
        term_type = initial.get("termType")
        if term_type not in ("TERMED", "EVERGREEN"):
            raise ZuoraError(
                INVALID_VALUE,
                "'termType' value should be one of: TERMED, EVERGREEN",
                resource=RESOURCE_TERM_TYPE,
            )
        start = (
            _date(initial["startDate"], f"{path}.createSubscription.terms.initialTerm.startDate")
            if initial.get("startDate")
            else order_date
        )
        end = None
        if term_type == "TERMED":
            period, period_type = initial.get("period"), initial.get("periodType")
            if not period or period_type not in ("Month", "Year", "Day", "Week"):
                raise ZuoraError(
                    MISSING_FIELD,
                    f"{path}.createSubscription.terms.initialTerm: a TERMED subscription needs "
                    "period > 0 and periodType Month, Year, Day or Week",
                )
            end = _term_end(start, period, period_type)
        specs = create.get("subscribeToRatePlans") or []
        plans = [
            self._build_rate_plan(
                spec, account["currency"], f"{path}.createSubscription.subscribeToRatePlans[{i}]"
            )
            for i, spec in enumerate(specs)
        ]
        number = create.get("subscriptionNumber") or None
        if number and (number in self.subscriptions or number in taken):
            raise ZuoraError(BUSINESS_RULE, f"Subscription number {number} already exists.")
        return {
            "id": self.new_id(),
            "subscriptionNumber": number,
            "accountId": account["id"],
            "accountNumber": account["accountNumber"],
            "status": "Active",
            "termType": term_type,
            "initialTerm": initial.get("period"),
            "initialTermPeriodType": initial.get("periodType"),
            "termStartDate": start.isoformat(),
            "termEndDate": end.isoformat() if end else None,
            "renewalSetting": terms.get("renewalSetting"),
            "autoRenew": bool(terms.get("autoRenew")),
            "notes": create.get("notes"),
            "ratePlans": plans,
            "request": copy.deepcopy(action),
        }

    def create_order(
        self,
        payload: Any,
        endpoint: str = "POST /v1/orders",
        limit: int = SYNC_ORDER_LIMIT,
    ) -> dict[str, Any]:
        """Create an order as ``POST /v1/orders`` does; raises :class:`ZuoraError`."""
        problems = validate_create_order(payload)
        with self._lock:
            if problems:
                self._record_violations(endpoint, problems)
                raise schema_error(problems)
            return self._create_order(payload, limit)

    def _create_order(self, payload: dict[str, Any], limit: int) -> dict[str, Any]:
        order_date = _date(payload["orderDate"], "$.orderDate")
        existing, new = payload.get("existingAccountNumber"), payload.get("newAccount")
        if bool(existing) == bool(new):
            raise ZuoraError(
                INVALID_VALUE if existing else MISSING_FIELD,
                "Exactly one of existingAccountNumber and newAccount must be specified.",
            )
        number = payload.get("orderNumber")
        if number and any(o["orderNumber"] == number for o in self.orders):
            raise ZuoraError(BUSINESS_RULE, f"The order number {number} already exists.")
        subscriptions_in = payload.get("subscriptions") or []
        actions = sum(len(s["orderActions"]) for s in subscriptions_in)
        if len(subscriptions_in) > limit or actions > limit:
            raise ZuoraError(
                BUSINESS_RULE,
                f"An order may hold at most {limit} subscriptions and {limit} order actions "
                f"in this call (got {len(subscriptions_in)} and {actions}).",
            )
        line_items_in = payload.get("orderLineItems") or []
        if len(line_items_in) > ORDER_LINE_ITEM_LIMIT:
            raise ZuoraError(
                BUSINESS_RULE,
                f"An order may hold at most {ORDER_LINE_ITEM_LIMIT} order line items.",
            )
        if existing:
            account = self._account_by_number(existing)
            if account is None:
                raise ZuoraError(NOT_FOUND, f"Cannot find entity by key: '{existing}'.")
        else:
            self._check_account(new, "$.newAccount", with_subscription=bool(subscriptions_in))
            account = None
        currency = account["currency"] if account else new["currency"]
        stub = account or {"id": "", "accountNumber": "", "currency": currency}
        built: list[dict[str, Any]] = []
        taken: set[str] = set()
        for i, sub in enumerate(subscriptions_in):
            for j, action in enumerate(sub["orderActions"]):
                subscription = self._build_subscription(
                    action, stub, order_date, taken, f"$.subscriptions[{i}].orderActions[{j}]"
                )
                subscription["subscriptionNumber"] = subscription["subscriptionNumber"] or sub.get(
                    "subscriptionNumber"
                )
                subscription["customFields"] = sub.get("customFields") or {}
                if subscription["subscriptionNumber"]:
                    taken.add(subscription["subscriptionNumber"])
                built.append(subscription)
        for i, item in enumerate(line_items_in):
            charge_id = item.get("productRatePlanChargeId")
            if charge_id and charge_id not in self.charges:
                raise ZuoraError(
                    NOT_FOUND,
                    f"$.orderLineItems[{i}].productRatePlanChargeId: no product rate plan "
                    f"charge with id '{charge_id}'",
                )
        # Everything is checked: commit.
        if account is None:
            account = self._insert_account(new, default_bcd=order_date.day)
        order_number = number or self._next("order", "O-%08d")
        for subscription in built:
            subscription["subscriptionNumber"] = subscription["subscriptionNumber"] or self._next(
                "subscription", "A-S%08d"
            )
            subscription["accountId"] = account["id"]
            subscription["accountNumber"] = account["accountNumber"]
            subscription["orderNumber"] = order_number
            self.subscriptions[subscription["subscriptionNumber"]] = subscription
        line_items = [
            {
                "id": self.new_id(),
                "itemNumber": item.get("itemNumber") or self._next("line", "%d"),
                "itemName": item.get("itemName"),
                "itemType": item.get("itemType") or "Product",
                "productCode": item.get("productCode"),
                "productRatePlanChargeId": item.get("productRatePlanChargeId"),
                "listPricePerUnit": item.get("listPricePerUnit"),
                "amountPerUnit": item.get("amountPerUnit", item.get("listPricePerUnit")),
                "quantity": item.get("quantity", 1),
                "transactionStartDate": item.get("transactionStartDate") or order_date.isoformat(),
                "description": item.get("description"),
                "itemState": "Executing",
                "customFields": item.get("customFields") or {},
            }
            for item in line_items_in
        ]
        order = {
            "id": self.new_id(),
            "orderNumber": order_number,
            "orderDate": order_date.isoformat(),
            "description": payload.get("description"),
            "existingAccountNumber": account["accountNumber"],
            "accountId": account["id"],
            "currency": account["currency"],
            "category": payload.get("category") or "NewSales",
            "status": "Completed",
            "customFields": payload.get("customFields") or {},
            "createdDate": self._timestamp(),
            "subscriptionNumbers": [s["subscriptionNumber"] for s in built],
            "orderLineItems": line_items,
        }
        self.orders.append(order)
        return {
            "success": True,
            "orderNumber": order_number,
            "accountNumber": account["accountNumber"],
            "status": "Completed",
            "subscriptionNumbers": list(order["subscriptionNumbers"]),
            "subscriptions": [
                {"subscriptionNumber": s["subscriptionNumber"], "status": s["status"]}
                for s in built
            ],
            **(
                {
                    "orderLineItems": [
                        {"id": li["id"], "itemNumber": li["itemNumber"]} for li in line_items
                    ]
                }
                if line_items
                else {}
            ),
        }

    def order_by_number(self, number: str) -> dict[str, Any] | None:
        with self._lock:
            found = next((o for o in self.orders if o["orderNumber"] == number), None)
            return copy.deepcopy(found) if found else None

    # --- async jobs -----------------------------------------------------------------------------

    def submit_async_order(
        self, payload: Any, delay_s: float, endpoint: str = "POST /v1/async/orders"
    ) -> str:
        """Queue an order job; it runs (lazily) once ``delay_s`` has passed on the tenant clock.

        The payload's shape is checked at once (raising :class:`ZuoraError`); business rules
        are checked when the job runs and show up as a failed job.
        """
        problems = validate_create_order(payload)
        with self._lock:
            if problems:
                self._record_violations(endpoint, problems)
                raise schema_error(problems)
            job_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            self.jobs[job_id] = {
                "id": job_id,
                "payload": copy.deepcopy(payload),
                "due": self.now() + delay_s,
                "status": "Processing",
                "result": None,
                "error": None,
            }
            return job_id

    def settle_jobs(self) -> None:
        """Run every async job whose time has come (called before anything reads the tenant)."""
        with self._lock:
            now = self.now()
            for job in self.jobs.values():
                if job["status"] != "Processing" or job["due"] > now:
                    continue
                try:
                    job["result"] = self._create_order(job["payload"], ASYNC_ORDER_LIMIT)
                    job["status"] = "Completed"
                except ZuoraError as error:
                    job["status"] = "Failed"
                    job["error"] = error

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            self.settle_jobs()
            found = self.jobs.get(job_id)
            return dict(found) if found else None

    # --- ZOQL -----------------------------------------------------------------------------------

    def query(self, text: str) -> dict[str, Any]:
        """Answer a ZOQL query like ``POST /v1/action/query``; raises ``ZoqlError``."""
        parsed = zuora_zoql.parse(text)
        with self._lock:
            self.settle_jobs()
            rows = zuora_zoql.run(parsed, zuora_zoql.tenant_objects(self))
            return self._batch(rows)

    def query_more(self, locator: str) -> dict[str, Any]:
        with self._lock:
            rows = self._query_more.pop(locator, None)
            if rows is None:
                raise zuora_zoql.ZoqlError("INVALID_VALUE", f"invalid query locator: {locator}")
            return self._batch(rows)

    def _batch(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        head, rest = rows[:QUERY_BATCH], rows[QUERY_BATCH:]
        answer: dict[str, Any] = {"records": head, "size": len(head), "done": not rest}
        if rest:
            locator = self.new_id()
            self._query_more[locator] = rest
            answer["queryLocator"] = locator
        return answer

    # --- inspection for tests -------------------------------------------------------------------

    def accounts_by_crm_id(self, crm_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self.settle_jobs()
            return [self.account_view(a) for a in self.accounts.values() if a["crmId"] == crm_id]

    def orders_by_number(self, number: str) -> list[dict[str, Any]]:
        with self._lock:
            self.settle_jobs()
            return [copy.deepcopy(o) for o in self.orders if o["orderNumber"] == number]

    def account_count(self) -> int:
        with self._lock:
            self.settle_jobs()
            return len(self.accounts)

    def order_count(self) -> int:
        with self._lock:
            self.settle_jobs()
            return len(self.orders)

    def subscriptions_for(self, order_number: str) -> list[dict[str, Any]]:
        with self._lock:
            self.settle_jobs()
            return [
                copy.deepcopy(s)
                for s in self.subscriptions.values()
                if s.get("orderNumber") == order_number
            ]

    def subscriptions_of_account(self, account_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self.settle_jobs()
            return [
                copy.deepcopy(s)
                for s in self.subscriptions.values()
                if s["accountId"] == account_id
            ]

    def subscription_by_number(self, number: str) -> dict[str, Any] | None:
        with self._lock:
            self.settle_jobs()
            found = self.subscriptions.get(number)
            return copy.deepcopy(found) if found else None

    def duplicates(self) -> dict[str, dict[str, int]]:
        """crmIds held by more than one account and order numbers held by more than one order."""
        with self._lock:
            self.settle_jobs()
            crm: dict[str, int] = {}
            for account in self.accounts.values():
                if account["crmId"]:
                    crm[account["crmId"]] = crm.get(account["crmId"], 0) + 1
            numbers: dict[str, int] = {}
            for order in self.orders:
                numbers[order["orderNumber"]] = numbers.get(order["orderNumber"], 0) + 1
            return {
                "accounts_by_crm_id": {k: n for k, n in crm.items() if n > 1},
                "orders_by_number": {k: n for k, n in numbers.items() if n > 1},
            }
