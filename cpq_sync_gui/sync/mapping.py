"""Salesforce CPQ records → Zuora create-account and create-order payloads (pure functions, no I/O).

Follows the mapping documented for Zuora's "Billing Connector for Salesforce CPQ"
(shared/reference/zuora.md §1). Where that documentation is silent this module makes a choice;
every rule, documented or chosen, is listed once in :data:`MAPPING_RULES` and in
docs/mapping.md, so a plan can show the rule behind each field.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from cpq_sync_gui.salesforce.records import (
    AccountRecord,
    Address,
    ContactRecord,
    OrderProductRecord,
    OrderRecord,
)
from cpq_sync_gui.sync.mapping_rules import (
    MAPPING_RULES,
    MAX_ORDER_PRODUCTS,
    MappingRule,
    rule_text,
)
from cpq_sync_gui.sync.mapping_types import (
    Catalog,
    CatalogCharge,
    CatalogPlan,
    Mapped,
    MappingOptions,
    Problem,
    placeholder,
)

__all__ = [
    "MAPPING_RULES",
    "MAX_ORDER_PRODUCTS",
    "Catalog",
    "CatalogCharge",
    "CatalogPlan",
    "Mapped",
    "MappingOptions",
    "MappingRule",
    "Problem",
    "account_payload",
    "account_update_payload",
    "fit",
    "order_payload",
    "placeholder",
    "rule_text",
]

# --- limits ---------------------------------------------------------------------------------

# Zuora's field lengths (zuora-sdk CreateAccountRequest / CreateOrderRequest).
_NAME, _CONTACT_NAME, _SALES_REP, _NOTES = 255, 100, 50, 65535
_ADDRESS, _CITY, _STATE, _ZIP, _COUNTRY = 255, 100, 100, 20, 64
_EMAIL, _PHONE, _ORDER_DESCRIPTION, _ITEM_NAME, _PRODUCT_CODE = 80, 40, 500, 255, 100
_ORDER_NUMBER = 100


# --- helpers --------------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit(text: str | None, limit: int, suffix: str = "") -> str | None:
    """``text`` cut so that ``text + suffix`` fits ``limit`` characters, suffix kept whole.

    Lengths are counted in UTF-16 code units as well as code points (Zuora runs on Java, where
    an emoji counts twice), so the result fits either way. Cuts never split a character, and
    spaces left at the cut are removed. Deterministic: the same input gives the same output.
    """
    if text is None:
        return None
    budget = limit - _utf16_len(suffix)
    if _utf16_len(text) <= budget:
        return text + suffix
    out: list[str] = []
    used = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > budget:
            break
        out.append(char)
        used += width
    return "".join(out).rstrip() + suffix


def _number(value: Decimal | None) -> int | float | None:
    """A JSON number for a Decimal: an int when whole, else the shortest exact float text."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _street_lines(street: str | None) -> tuple[str | None, str | None]:
    if not street:
        return None, None
    lines = [line.strip() for line in street.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines:
        return None, None
    rest = ", ".join(lines[1:]) or None
    return fit(lines[0], _ADDRESS), fit(rest, _ADDRESS)


def _address_fields(address: Address) -> dict[str, Any]:
    address1, address2 = _street_lines(address.street)
    values = {
        "address1": address1,
        "address2": address2,
        "city": fit(address.city, _CITY),
        "state": fit(address.state_code or address.state, _STATE),
        "zipCode": fit(address.postal_code, _ZIP),
        "country": fit(address.country_code or address.country, _COUNTRY),
    }
    return {key: value for key, value in values.items() if value}


def _contact(name: str, suffix: str, address: Address, person: ContactRecord | None) -> dict:
    contact_name = fit(name, _CONTACT_NAME, suffix)
    contact: dict[str, Any] = {"firstName": contact_name, "lastName": contact_name}
    contact.update(_address_fields(address))
    if person is not None:
        if person.email:
            contact["workEmail"] = fit(person.email, _EMAIL)
        if person.mobile_phone:
            contact["mobilePhone"] = fit(person.mobile_phone, _PHONE)
    return contact


def _date(value: dt.date) -> str:
    # date.isoformat() of a calendar date: no clock, no time zone anywhere on the way.
    return value.isoformat()


# --- accounts -------------------------------------------------------------------------------


def account_payload(
    account: AccountRecord,
    *,
    options: MappingOptions | None = None,
    contact: ContactRecord | None = None,
    parent_zuora_id: str | None = None,
) -> Mapped:
    """The ``POST /v1/accounts`` body for a Salesforce account (see :data:`MAPPING_RULES`).

    ``parent_zuora_id`` is the Zuora id of the parent's account (or a :func:`placeholder`
    while the parent is still to be created); None when the account has no parent.
    """
    options = options or MappingOptions()
    problems: list[Problem] = []
    rules = ["account.name", "account.crm_id", "account.currency", "account.bill_cycle_day"]
    label = f"Account {account.name!r}" if account.name else f"Account {account.id}"
    name = fit(account.name.strip() if account.name else "", _NAME) or ""
    if not name:
        problems.append(Problem("account_name_missing", f"{label} has no name.", "Account.Name"))
    currency = account.currency or options.org_currency
    if not currency:
        problems.append(
            Problem(
                "currency_missing",
                f"{label} has no currency and the org's currency is not known, so Zuora "
                "cannot be told which currency to bill in.",
                "Account.CurrencyIsoCode",
            )
        )
    billing = account.billing_address
    if billing.is_empty:
        problems.append(
            Problem(
                "billing_address_missing",
                f"{label} has no billing address; Zuora's Bill To contact is made from it and "
                "the connector refuses an account without one.",
                "Account.BillingAddress",
            )
        )
    else:
        if not (billing.country or billing.country_code):
            problems.append(
                Problem(
                    "billing_country_missing",
                    f"{label} has no billing country; Zuora needs a country on the Bill To "
                    "contact.",
                    "Account.BillingCountry",
                )
            )
        if not (billing.state or billing.state_code):
            problems.append(
                Problem(
                    "billing_state_missing",
                    f"{label} has no billing state or province; Zuora needs a state on the "
                    "Bill To contact.",
                    "Account.BillingState",
                )
            )
    payload: dict[str, Any] = {
        "name": name,
        "crmId": account.id,
        "currency": currency or "",
        "billCycleDay": options.bill_cycle_day,
        "autoPay": False,
    }
    rules.append("account.auto_pay")
    if account.description:
        payload["notes"] = fit(account.description, _NOTES)
        rules.append("account.description")
    if account.owner_name:
        payload["salesRep"] = fit(account.owner_name, _SALES_REP)
        rules.append("account.sales_rep")
    bill_to = _contact(name or account.id, "_billTo", billing, contact)
    payload["billToContact"] = bill_to
    rules += ["account.bill_to", "address.street", "address.city", "address.state"]
    rules += ["address.zip", "address.country"]
    if contact is not None:
        rules.append("account.contact")
    if account.shipping_address.is_empty:
        payload["soldToContact"] = copy.deepcopy(bill_to)
    else:
        payload["soldToContact"] = _contact(
            name or account.id, "_soldTo", account.shipping_address, contact
        )
    rules.append("account.sold_to")
    if parent_zuora_id:
        payload["parentId"] = parent_zuora_id
        rules.append("account.parent")
    return Mapped(payload, problems, rules)


_UPDATABLE = ("name", "notes", "salesRep", "billToContact", "soldToContact")


def account_update_payload(create_payload: Mapping[str, Any]) -> dict[str, Any]:
    """The ``PUT /v1/accounts/{id}`` body for an account already in Zuora (rule
    ``account.update``): only what the mapping owns and Zuora lets change later."""
    return {k: copy.deepcopy(create_payload[k]) for k in _UPDATABLE if k in create_payload}


# --- orders ---------------------------------------------------------------------------------


def _main_charge(plan: CatalogPlan) -> CatalogCharge | None:
    recurring = [c for c in plan.charges if c.kind == "recurring"]
    if recurring:
        return recurring[0]
    return plan.charges[0] if plan.charges else None


def _pricing(charge: CatalogCharge, item: OrderProductRecord) -> dict[str, Any]:
    price = _number(item.unit_price)
    quantity = _number(item.quantity)
    prefix = {"recurring": "recurring", "onetime": "oneTime", "usage": "usage"}[charge.kind]
    body: dict[str, Any] = {}
    if price is not None:
        body["listPrice"] = price
    if charge.per_unit and quantity is not None and charge.kind != "usage":
        body["quantity"] = quantity
    model = "PerUnit" if charge.per_unit else "FlatFee"
    return {f"{prefix}{model}": body}


def _item_label(item: OrderProductRecord) -> str:
    product = item.product_name or item.product_code or item.product2_id or "(no product)"
    sku = f" (SKU {item.product_code})" if item.product_code else ""
    number = f" {item.order_item_number}" if item.order_item_number else ""
    return f"order product{number}: {product}{sku}"


def _missing_product(item: OrderProductRecord) -> Problem:
    if item.product_code:
        what = f"SKU {item.product_code}"
        name = f" ({item.product_name})" if item.product_name else ""
    else:
        what = f"Product2 {item.product2_id or '(none)'}"
        name = ""
    return Problem(
        "product_not_in_catalog",
        f"The Zuora catalog has no rate plan for {what}{name}: no rate plan carries its "
        "Product2 Id as externallyManagedPlanId and no single product has that SKU. Add it to "
        "the Zuora catalog, then sync the order again.",
        "OrderItem.Product2Id",
    )


def order_payload(
    order: OrderRecord,
    *,
    account_number: str,
    catalog: Catalog | None,
    account_currency: str | None = None,
    options: MappingOptions | None = None,
) -> Mapped:
    """The ``POST /v1/orders`` body for a Salesforce order (see :data:`MAPPING_RULES`).

    ``account_number`` is the Zuora account number of the order's account (or a
    :func:`placeholder` while that account is still to be created). With ``catalog`` None
    the catalog is not checked and rate plan ids stay empty (the connector finds them).
    """
    options = options or MappingOptions()
    problems: list[Problem] = []
    rules = ["order.number", "order.date", "order.account", "order.processing"]
    label = f"Order {order.order_number or order.id}"
    if not order.order_number:
        problems.append(
            Problem("order_number_missing", f"{label} has no order number.", "Order.OrderNumber")
        )
    if order.effective_date is None:
        problems.append(
            Problem(
                "order_date_missing",
                f"{label} has no start date (EffectiveDate); Zuora needs an order date.",
                "Order.EffectiveDate",
            )
        )
    items = list(order.items)
    if not items:
        problems.append(
            Problem(
                "order_products_missing",
                f"{label} has no order products, so there is nothing to bill.",
                "Order.OrderItems",
            )
        )
    if len(items) > MAX_ORDER_PRODUCTS:
        problems.append(
            Problem(
                "order_too_large",
                f"{label} has {len(items)} order products; at most {MAX_ORDER_PRODUCTS} can be "
                "sent in one order (the connector's limit). Split the order in Salesforce.",
                "Order.OrderItems",
            )
        )
        rules.append("order.limit")
    currency = order.currency
    if currency and account_currency and currency != account_currency:
        problems.append(
            Problem(
                "currency_mismatch",
                f"{label} is in {currency} but its account bills in {account_currency}; Zuora "
                "bills a subscription in its account's currency.",
                "Order.CurrencyIsoCode",
            )
        )
        rules.append("order.currency")
    if order.status and order.status.lower() != "activated":
        problems.append(
            Problem(
                "order_not_activated",
                f"{label} is {order.status}, not Activated.",
                "Order.Status",
                "warning",
            )
        )
    order_date = order.effective_date
    payload: dict[str, Any] = {
        "orderNumber": fit(order.order_number or "", _ORDER_NUMBER),
        "orderDate": _date(order_date) if order_date else "",
        "existingAccountNumber": account_number,
    }
    if order.description:
        payload["description"] = fit(order.description, _ORDER_DESCRIPTION)
        rules.append("order.description")

    subscription_items = [i for i in items if i.is_subscription]
    one_time_items = [i for i in items if not i.is_subscription]
    matched: dict[str, CatalogPlan] = {}
    for item in items if catalog is not None else ():
        candidates = catalog.candidates(item)
        if not candidates:
            problems.append(_missing_product(item))
            continue
        if len(candidates) > 1:
            names = ", ".join(sorted(p.name or p.id for p in candidates))
            problems.append(
                Problem(
                    "rate_plan_ambiguous",
                    f"The Zuora catalog has {len(candidates)} rate plans for "
                    f"{_item_label(item)} ({names}); CPQ Sync cannot tell which one to use. "
                    "Give the intended rate plan the Product2 Id as its externallyManagedPlanId.",
                    "OrderItem.Product2Id",
                )
            )
            continue
        plan = candidates[0]
        if not plan.charges:
            problems.append(
                Problem(
                    "rate_plan_without_charges",
                    f"The Zuora rate plan {plan.name or plan.id} for {_item_label(item)} has "
                    "no charges.",
                    "OrderItem.Product2Id",
                )
            )
            continue
        matched[item.id] = plan
        if item.quantity is None or item.unit_price is None:
            problems.append(
                Problem(
                    "price_or_quantity_missing",
                    f"{_item_label(item).capitalize()} has no quantity or unit price.",
                    "OrderItem.UnitPrice",
                )
            )

    if subscription_items:
        payload["subscriptions"] = [
            _subscription(order, subscription_items, matched, options, problems, rules)
        ]
    if one_time_items:
        line_items = []
        for item in one_time_items:
            plan = matched.get(item.id)
            line_items.append(_line_item(order, item, plan))
        payload["orderLineItems"] = line_items
        rules.append("order.line_items")
    payload["processingOptions"] = {"runBilling": False, "collectPayment": False}
    return Mapped(payload, problems, rules)


def _subscription(
    order: OrderRecord,
    items: Sequence[OrderProductRecord],
    matched: Mapping[str, CatalogPlan],
    options: MappingOptions,
    problems: list[Problem],
    rules: list[str],
) -> dict[str, Any]:
    rules += [
        "order.subscription",
        "order.rate_plan",
        "order.rate_plan_link",
        "order.price",
        "order.term",
        "order.term_start",
        "order.renewal",
        "order.trigger_dates",
    ]
    starts = [i.service_date or order.effective_date for i in items]
    known_starts = [s for s in starts if s is not None]
    term_start = min(known_starts) if known_starts else None
    terms_months = []
    for item in items:
        term = item.subscription_term or item.default_subscription_term
        terms_months.append(term or options.default_term_months)
    period = max(terms_months)
    distinct = sorted(set(terms_months))
    if len(distinct) > 1:
        problems.append(
            Problem(
                "mixed_terms",
                f"Order {order.order_number or order.id} has subscription products with "
                f"different terms ({', '.join(f'{t} months' for t in distinct)}); they share "
                f"one Zuora subscription with a {period}-month term.",
                "OrderItem.SBQQ__SubscriptionTerm__c",
                "warning",
            )
        )
    evergreen = all((i.subscription_type or "").lower() == "evergreen" for i in items)
    initial: dict[str, Any] = {"termType": "EVERGREEN" if evergreen else "TERMED"}
    if not evergreen:
        initial["period"] = period
        initial["periodType"] = "Month"
    if term_start is not None:
        initial["startDate"] = _date(term_start)
    terms: dict[str, Any] = {"initialTerm": initial, "autoRenew": options.auto_renew}
    if not evergreen:
        terms["renewalSetting"] = "RENEW_WITH_SPECIFIC_TERM"
        terms["renewalTerms"] = [{"period": order.renewal_term or period, "periodType": "Month"}]
    rate_plans = []
    for item, start in zip(items, starts, strict=True):
        plan = matched.get(item.id)
        entry: dict[str, Any] = {
            "productRatePlanId": plan.id if plan else "",
            "externallyManagedPlanId": item.id,
        }
        if plan is not None:
            overrides = []
            main = _main_charge(plan)
            later = start is not None and term_start is not None and start > term_start
            for charge in plan.charges:
                override: dict[str, Any] = {"productRatePlanChargeId": charge.id}
                if charge is main:
                    override["pricing"] = _pricing(charge, item)
                if later:
                    override["startDate"] = {
                        "triggerEvent": "SpecificDate",
                        "specificTriggerDate": _date(start),
                    }
                if len(override) > 1:
                    overrides.append(override)
            if overrides:
                entry["chargeOverrides"] = overrides
        rate_plans.append(entry)
    create: dict[str, Any] = {"terms": terms, "subscribeToRatePlans": rate_plans}
    action: dict[str, Any] = {"type": "CreateSubscription", "createSubscription": create}
    if term_start is not None:
        action["triggerDates"] = [{"name": "ContractEffective", "triggerDate": _date(term_start)}]
    return {"orderActions": [action]}


def _line_item(
    order: OrderRecord, item: OrderProductRecord, plan: CatalogPlan | None
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "itemName": fit(item.product_name or item.product_code or "Order product", _ITEM_NAME),
        "itemType": "Product",
    }
    if item.product_code:
        line["productCode"] = fit(item.product_code, _PRODUCT_CODE)
    if plan is not None:
        one_time = [c for c in plan.charges if c.kind == "onetime"]
        charge = (one_time or list(plan.charges))[0]
        line["productRatePlanChargeId"] = charge.id
    quantity = _number(item.quantity)
    if quantity is not None:
        line["quantity"] = quantity
    price = _number(item.unit_price)
    if price is not None:
        line["amountPerUnit"] = price
    list_price = _number(item.list_price)
    if list_price is None:
        list_price = price
    if list_price is not None:
        line["listPricePerUnit"] = list_price
    start = item.service_date or order.effective_date
    if start is not None:
        line["transactionStartDate"] = _date(start)
    return line
