"""ZOQL for the simulated Zuora tenant: parser, evaluator and the queryable objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpq_sync_gui.sandbox.zuora_tenant import ZuoraTenant

# https://docs.zuora.com/zuora-platform/data/legacy-query-methods/zoql : "A maximum of 200
# conditions are allowed in a WHERE clause", keywords in lower case, no parentheses, no IN,
# `and` binds tighter than `or`. The SOAP faults page gives 10,000 characters per query.
MAX_CONDITIONS = 200
MAX_QUERY_LENGTH = 10_000
KEYWORDS = {"select", "from", "where", "and", "or", "like", "null", "true", "false"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op>!=|>=|<=|=|>|<)
  | (?P<comma>,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<paren>[()])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class ZoqlError(Exception):
    """A query Zuora would refuse; ``fault_code`` is the SOAP-style fault code."""

    def __init__(self, fault_code: str, message: str) -> None:
        super().__init__(message)
        self.fault_code = fault_code
        self.message = message


@dataclass(frozen=True)
class Condition:
    field: str
    op: str  # "=", "!=", ">", ">=", "<", "<=", "like"
    value: Any  # str, int, float, bool or None


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: tuple[tuple[Condition, ...], ...]  # an OR of ANDs; () means no filter


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1], flags=re.DOTALL)


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        value = match.group()
        if kind == "space":
            continue
        if kind == "string" and not value.endswith("'"):
            raise ZoqlError("MALFORMED_QUERY", "unterminated string literal")
        if kind == "paren":
            raise ZoqlError(
                "MALFORMED_QUERY", "parentheses are not supported in ZOQL filter statements"
            )
        if kind == "other":
            raise ZoqlError("MALFORMED_QUERY", f"unexpected character {value!r}")
        found.append((kind, value))
    return found


def parse(text: str) -> Query:
    """Parse ``select f1, f2 from Object [where a = 'x' and b != 1 or ...]``."""
    if len(text) > MAX_QUERY_LENGTH:
        raise ZoqlError(
            "MALFORMED_QUERY", f"the query is longer than {MAX_QUERY_LENGTH} characters"
        )
    tokens = _tokens(text)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(kind: str, value: str | None = None, what: str = "") -> str:
        nonlocal pos
        token = peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            got = token[1] if token else "end of query"
            raise ZoqlError("MALFORMED_QUERY", f"expected {what or value or kind}, got {got!r}")
        pos += 1
        return token[1]

    def keyword(word: str) -> None:
        token = peek()
        if token and token[0] == "name" and token[1].lower() == word and token[1] != word:
            raise ZoqlError("MALFORMED_QUERY", f"ZOQL keywords must be lower case: {token[1]!r}")
        take("name", word)

    def is_keyword(word: str) -> bool:
        token = peek()
        return bool(token and token[0] == "name" and token[1].lower() == word)

    keyword("select")
    fields = [take("name", what="a field name")]
    while peek() == ("comma", ","):
        pos += 1
        fields.append(take("name", what="a field name"))
    for name in fields:
        if name.lower() in KEYWORDS:
            raise ZoqlError("MALFORMED_QUERY", f"{name!r} is not a field name")
    keyword("from")
    sobject = take("name", what="an object name")
    groups: list[tuple[Condition, ...]] = []
    count = 0
    if peek() is not None:
        keyword("where")
        current: list[Condition] = []
        while True:
            field = take("name", what="a field name")
            if is_keyword("like"):
                keyword("like")
                op = "like"
            else:
                op = take("op", what="a comparison operator")
            token = peek()
            if token is None:
                raise ZoqlError("MALFORMED_QUERY", "expected a value, got end of query")
            current.append(Condition(field, op, _value(token)))
            pos += 1
            count += 1
            if count > MAX_CONDITIONS:
                raise ZoqlError(
                    "MALFORMED_QUERY",
                    f"a WHERE clause allows at most {MAX_CONDITIONS} conditions",
                )
            if is_keyword("and"):
                keyword("and")
            elif is_keyword("or"):
                keyword("or")
                groups.append(tuple(current))
                current = []
            elif peek() is None:
                groups.append(tuple(current))
                break
            else:
                raise ZoqlError(
                    "MALFORMED_QUERY", f"unexpected {tokens[pos][1]!r} after a condition"
                )
    return Query(tuple(fields), sobject, tuple(groups))


def _value(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "string":
        return _unescape(text)
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "name" and text in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[text]
    raise ZoqlError("MALFORMED_QUERY", f"expected a value, got {text!r}")


def _like(value: Any, pattern: str) -> bool:
    if not isinstance(value, str):
        return False
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op == "like":
        return isinstance(expected, str) and _like(actual, expected)
    if isinstance(actual, bool) or isinstance(expected, bool):
        actual, expected = str(actual).lower(), str(expected).lower()
    elif isinstance(actual, int | float) and isinstance(expected, str):
        try:
            expected = float(expected)
        except ValueError:
            return op == "!="
    if op == "=":
        return actual == expected
    if op == "!=":
        return actual != expected
    if actual is None or expected is None:
        return False
    try:
        return {
            ">": actual > expected,
            ">=": actual >= expected,
            "<": actual < expected,
            "<=": actual <= expected,
        }[op]
    except TypeError:
        return False


# One queryable object: its canonical field names and how to read each from a stored record.
FieldReader = Callable[[Mapping[str, Any]], Any]


def run(
    query: Query,
    objects: Mapping[str, tuple[dict[str, FieldReader], Iterable[Mapping[str, Any]]]],
) -> list[dict[str, Any]]:
    """Evaluate ``query`` over ``objects`` (canonical name -> (fields, records))."""
    by_lower = {name.lower(): name for name in objects}
    canonical = by_lower.get(query.sobject.lower())
    if canonical is None:
        raise ZoqlError("INVALID_TYPE", f"invalid object type for query: {query.sobject}")
    readers, records = objects[canonical]
    field_names = {name.lower(): name for name in readers}

    def resolve(name: str) -> str:
        found = field_names.get(name.lower())
        if found is None:
            raise ZoqlError("INVALID_FIELD", f"invalid field for query: {canonical}.{name}")
        return found

    selected = [resolve(name) for name in query.fields]
    groups = [[(resolve(c.field), c) for c in group] for group in query.where]
    results: list[dict[str, Any]] = []
    for record in records:
        if groups and not any(
            all(_compare(readers[f](record), c.op, c.value) for f, c in group) for group in groups
        ):
            continue
        row: dict[str, Any] = {}
        for name in selected:
            value = readers[name](record)
            if value is not None:  # "Fields with NULL values are not returned in the response."
                row[name] = value
        results.append(row)
    return results


def tenant_objects(tenant: ZuoraTenant) -> dict[str, tuple[dict[str, FieldReader], list[Any]]]:
    """The tenant's queryable objects: canonical ZOQL field names and their records."""

    def key(name: str) -> Any:
        return lambda r: r.get(name)

    def custom(records: Iterable[dict[str, Any]], base: dict[str, Any]) -> dict[str, Any]:
        readers = dict(base)
        for record in records:
            for field in record.get("customFields", {}):
                readers.setdefault(field, lambda r, f=field: r.get("customFields", {}).get(f))
        return readers

    accounts = list(tenant.accounts.values())
    account_fields = {
        "Id": key("id"), "AccountNumber": key("accountNumber"), "Name": key("name"),
        "CrmId": key("crmId"), "Currency": key("currency"), "BillCycleDay": key("billCycleDay"),
        "Status": key("status"), "ParentId": key("parentId"), "AutoPay": key("autoPay"),
        "SalesRep": key("salesRep"), "PaymentTerm": key("paymentTerm"), "Batch": key("batch"),
        "Notes": key("notes"), "BillToId": key("billToContactId"),
        "SoldToId": key("soldToContactId"), "CreatedDate": key("createdDate"),
    }  # fmt: skip
    contact_fields = {
        "Id": key("id"), "AccountId": key("accountId"), "FirstName": key("firstName"),
        "LastName": key("lastName"), "Address1": key("address1"), "City": key("city"),
        "State": key("state"), "PostalCode": key("zipCode"), "Country": key("country"),
        "WorkEmail": key("workEmail"), "MobilePhone": key("mobilePhone"),
    }  # fmt: skip
    contact_fields.update(
        {
            f: (lambda r, f=f: r.get(f))
            for c in tenant.contacts.values()
            for f in c
            if f.endswith("__c")
        }
    )
    product_fields = {
        "Id": key("id"), "Name": key("name"), "SKU": key("sku"),
        "ProductNumber": key("productNumber"), "Description": key("description"),
        "Category": key("category"), "EffectiveStartDate": key("effectiveStartDate"),
        "EffectiveEndDate": key("effectiveEndDate"),
    }  # fmt: skip
    plan_fields = {
        "Id": key("id"), "Name": key("name"), "ProductId": key("productId"),
        "Description": key("description"), "EffectiveStartDate": key("effectiveStartDate"),
        "EffectiveEndDate": key("effectiveEndDate"),
    }  # fmt: skip
    charge_fields = {
        "Id": key("id"), "Name": key("name"), "ProductRatePlanId": key("productRatePlanId"),
        # ZOQL spells one-time charges "One-Time" (see ProxyActionqueryRequest in the SDK).
        "ChargeType": lambda r: "One-Time" if r["type"] == "OneTime" else r["type"],
        "ChargeModel": key("model"), "BillingPeriod": key("billingPeriod"),
    }  # fmt: skip
    subscription_fields = {
        "Id": key("id"), "Name": key("subscriptionNumber"), "AccountId": key("accountId"),
        "Status": key("status"), "TermType": key("termType"),
        "InitialTerm": key("initialTerm"), "TermStartDate": key("termStartDate"),
        "TermEndDate": key("termEndDate"), "AutoRenew": key("autoRenew"),
    }  # fmt: skip
    rate_plans = [
        {**rp, "subscriptionId": s["id"]}
        for s in tenant.subscriptions.values()
        for rp in s["ratePlans"]
    ]
    rate_plan_fields = {
        "Id": key("id"), "Name": key("ratePlanName"), "SubscriptionId": key("subscriptionId"),
        "ProductRatePlanId": key("productRatePlanId"),
        "ExternallyManagedPlanId": key("externallyManagedPlanId"),
    }  # fmt: skip
    return {
        "Account": (custom(accounts, account_fields), accounts),
        "Contact": (contact_fields, list(tenant.contacts.values())),
        "Product": (product_fields, list(tenant.products.values())),
        "ProductRatePlan": (plan_fields, list(tenant.rate_plans.values())),
        "ProductRatePlanCharge": (charge_fields, list(tenant.charges.values())),
        "Subscription": (subscription_fields, list(tenant.subscriptions.values())),
        "RatePlan": (rate_plan_fields, rate_plans),
    }
