"""Reading Accounts, Contacts and Orders from Salesforce in few queries, with plain-words errors."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from pydantic import ValidationError
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.util import exception_handler

from cpq_sync_gui.redact import redact
from cpq_sync_gui.salesforce.ids import parse_id
from cpq_sync_gui.salesforce.records import AccountRecord, ContactRecord, OrderRecord
from cpq_sync_gui.salesforce.session import SalesforceConnection
from cpq_sync_gui.salesforce.soql import id_list

__all__ = [
    "ACCOUNT_FIELDS",
    "CONTACT_FIELDS",
    "IDS_PER_QUERY",
    "ORDER_FIELDS",
    "ORDER_ITEM_FIELDS",
    "ApiUsage",
    "OrganizationInfo",
    "SalesforceClient",
    "SalesforceQueryError",
]

T = TypeVar("T")

IDS_PER_QUERY = 200  # keeps the query URL far below Salesforce's 16,384-character limit
MIN_BATCH, MAX_BATCH = 200, 2000


def _address(prefix: str) -> tuple[str, ...]:
    return tuple(
        f"{prefix}{part}"
        for part in ("Street", "City", "State", "PostalCode", "Country", "StateCode", "CountryCode")
    )


# Queries below are built only from these constant field names (filtered by describe) and
# from ids validated by salesforce.ids, so S608 (SQL injection) does not apply to them.
# What the sync reads; fields missing from an org (CPQ, multi-currency, state/country
# picklists) are left out after describe, so the query never fails with INVALID_FIELD.
ACCOUNT_FIELDS: tuple[str, ...] = (
    "Id",
    "Name",
    "AccountNumber",
    "CurrencyIsoCode",
    "Description",
    "OwnerId",
    "Owner.Name",
    "ParentId",
    *_address("Billing"),
    *_address("Shipping"),
)
CONTACT_FIELDS: tuple[str, ...] = (
    "Id",
    "AccountId",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    *_address("Mailing"),
)
ORDER_FIELDS: tuple[str, ...] = (
    "Id",
    "OrderNumber",
    "AccountId",
    "EffectiveDate",
    "EndDate",
    "Status",
    "Description",
    "CurrencyIsoCode",
    "BillToContactId",
    "ShipToContactId",
    *_address("Billing"),
    *_address("Shipping"),
    "TotalAmount",
    "SBQQ__Quote__c",
    "SBQQ__PaymentTerm__c",
    "SBQQ__RenewalTerm__c",
    "SBQQ__Contracted__c",
    "SBQQ__ContractingMethod__c",
    "SBQQ__PriceCalcStatus__c",
)
ORDER_ITEM_FIELDS: tuple[str, ...] = (
    "Id",
    "OrderId",
    "OrderItemNumber",
    "Product2Id",
    "Product2.Id",
    "Product2.ProductCode",
    "Product2.Name",
    "PricebookEntryId",
    "Quantity",
    "UnitPrice",
    "ListPrice",
    "ServiceDate",
    "EndDate",
    "SBQQ__ChargeType__c",
    "SBQQ__BillingFrequency__c",
    "SBQQ__BillingType__c",
    "SBQQ__SubscriptionTerm__c",
    "SBQQ__DefaultSubscriptionTerm__c",
    "SBQQ__SubscriptionPricing__c",
    "SBQQ__SubscriptionType__c",
    "SBQQ__QuoteLine__c",
)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class SalesforceQueryError(Exception):
    """A Salesforce read that failed; ``code`` is Salesforce's error code (or NETWORK, …)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = redact(message)
        super().__init__(self.message)


@dataclass(frozen=True)
class ApiUsage:
    """The org's daily API allowance (a rolling 24 hours)."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class OrganizationInfo:
    id: str
    name: str
    instance: str | None
    is_sandbox: bool | None
    organization_type: str | None
    currency: str | None = None  # DefaultCurrencyIsoCode


def _first_error(exc: SalesforceError) -> tuple[str | None, str]:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return first.get("errorCode"), str(first.get("message") or "")
    if isinstance(content, dict):
        return content.get("errorCode"), str(content.get("message") or "")
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return None, " ".join(str(content or "").split())[:300]


_QUERY_MESSAGES = {
    "INVALID_FIELD": (
        "A field in the query does not exist in this org, or the integration user cannot see "
        "it (INVALID_FIELD). Check the user's field-level security. Salesforce said: {detail}"
    ),
    "MALFORMED_QUERY": "Salesforce could not read the query (MALFORMED_QUERY): {detail}",
    "INVALID_TYPE": (
        "An object in the query does not exist in this org, or the integration user cannot "
        "see it (INVALID_TYPE). Salesforce said: {detail}"
    ),
    "INVALID_QUERY_LOCATOR": (
        "Salesforce closed the query before all pages were read (INVALID_QUERY_LOCATOR): "
        "query pages expire after 15 minutes without reading, and each user may keep only 10 "
        "open. Start the read again."
    ),
    "QUERY_TIMEOUT": (
        "The query took too long for Salesforce (QUERY_TIMEOUT). Select fewer records at a time."
    ),
    "REQUEST_LIMIT_EXCEEDED": (
        "This org has used up its daily API allowance (REQUEST_LIMIT_EXCEEDED). It frees up "
        "over a rolling 24 hours; try again later or ask Salesforce for a higher limit."
    ),
    "API_DISABLED_FOR_ORG": (
        "API access is not enabled for this org or user (API_DISABLED_FOR_ORG): the user "
        "needs the 'API Enabled' permission."
    ),
    "INSUFFICIENT_ACCESS": (
        "The Salesforce user may not read this (INSUFFICIENT_ACCESS). Check its profile and "
        "permission sets. Salesforce said: {detail}"
    ),
    "INVALID_SESSION_ID": (
        "Salesforce ended the session again right after logging in again (INVALID_SESSION_ID). "
        "Check the session settings of the org and the connected app, then try again."
    ),
    "INVALID_BATCH_SIZE": "Salesforce refused the page size (INVALID_BATCH_SIZE): {detail}",
}


def _query_error(exc: BaseException) -> SalesforceQueryError:
    if isinstance(exc, ValueError):  # a cut-off or non-JSON answer (requests' JSONDecodeError too)
        return SalesforceQueryError(
            "BAD_ANSWER",
            "Salesforce's answer was incomplete or not readable (the connection may have been "
            "cut). Try again.",
        )
    if isinstance(exc, requests.RequestException):
        from cpq_sync_gui.net import describe_network_error

        return SalesforceQueryError("NETWORK", describe_network_error(exc))
    if isinstance(exc, SalesforceExpiredSession):
        return SalesforceQueryError("INVALID_SESSION_ID", _QUERY_MESSAGES["INVALID_SESSION_ID"])
    if isinstance(exc, SalesforceError):
        code, detail = _first_error(exc)
        if code is None:
            code = {
                400: "MALFORMED_REQUEST",
                403: "FORBIDDEN",
                404: "NOT_FOUND",
            }.get(exc.status, f"HTTP_{exc.status}")
        template = _QUERY_MESSAGES.get(code)
        if template is not None:
            return SalesforceQueryError(code, template.format(detail=detail.strip()))
        if isinstance(exc, SalesforceResourceNotFound):
            return SalesforceQueryError(
                code, f"Salesforce does not have what was asked for ({code}): {detail}"
            )
        if isinstance(exc, (SalesforceMalformedRequest, SalesforceRefusedRequest)):
            return SalesforceQueryError(code, f"Salesforce refused the request ({code}): {detail}")
        return SalesforceQueryError(
            code,
            f"Salesforce answered with an error (HTTP {exc.status}, {code}): {detail}. "
            "Try again later.",
        )
    raise TypeError(f"not a Salesforce error: {type(exc).__name__}")  # pragma: no cover


def _batch_headers(batch_size: int) -> dict[str, str]:
    if not MIN_BATCH <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be between {MIN_BATCH} and {MAX_BATCH}")
    return {"Sforce-Query-Options": f"batchSize={batch_size}"}


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def _query_page(
    sf: Salesforce, url: str, headers: dict[str, str], soql: str | None = None
) -> dict[str, Any]:
    """One page of a query (the first with ``soql``, then a ``nextRecordsUrl``), parsed by
    :func:`parse_query_page`.

    simple-salesforce's ``query``/``query_more`` do the same GET with the same session and
    headers, then parse with one ``json.loads`` into OrderedDicts, which holds the interpreter
    lock for the whole 2,000-record page (15-45 ms measured) and so stalls the window while
    it lists records. Errors go through simple-salesforce's own ``exception_handler``.
    """
    params = {"q": soql} if soql is not None else None
    result = sf.session.get(url, headers={**sf.headers, **headers}, params=params)
    if result.status_code >= 300:
        exception_handler(result, name="query")
    limit_info = result.headers.get("Sforce-Limit-Info")
    if limit_info:
        sf.api_usage = sf.parse_api_usage(limit_info)
    return parse_query_page(result.content.decode("utf-8"))


def parse_query_page(text: str) -> dict[str, Any]:
    """A query answer (``{"totalSize": …, "records": [...], …}``) parsed one record at a time.

    Each record is a separate ``raw_decode`` call, so other threads (the window) get the
    interpreter lock between records instead of waiting for the whole page. The result is
    what ``json.loads`` gives; anything that is not such an object is handed to
    ``json.loads``, which raises its usual error for text that is not JSON.
    """
    try:
        return _parse_query_object(text)
    except (ValueError, IndexError, TypeError):
        return json.loads(text)


def _parse_query_object(text: str) -> dict[str, Any]:
    decode, space = _DECODER.raw_decode, _SPACE.match
    page: dict[str, Any] = {}
    position = space(text, 0).end()
    if text[position] != "{":
        raise ValueError("not an object")
    position = space(text, position + 1).end()
    while text[position] != "}":
        key, position = decode(text, position)
        position = space(text, position).end()
        if text[position] != ":":
            raise ValueError("':' expected")
        position = space(text, position + 1).end()
        if key == "records" and text[position] == "[":
            records: list[Any] = []
            position = space(text, position + 1).end()
            while text[position] != "]":
                record, position = decode(text, position)
                records.append(record)
                position = space(text, position).end()
                if text[position] == ",":
                    position = space(text, position + 1).end()
                    if text[position] == "]":
                        raise ValueError("a value expected")
                elif text[position] != "]":
                    raise ValueError("',' expected")
            page[key] = records
            position += 1
        else:
            page[key], position = decode(text, position)
        position = space(text, position).end()
        if text[position] == ",":
            position = space(text, position + 1).end()
            if text[position] == "}":
                raise ValueError("a key expected")
        elif text[position] != "}":
            raise ValueError("',' expected")
    if text[position + 1 :].strip():
        raise ValueError("text after the object")
    return page


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SalesforceClient:
    """Reads for the sync through one :class:`SalesforceConnection` (safe to share between threads)."""

    def __init__(self, connection: SalesforceConnection, *, ids_per_query: int = IDS_PER_QUERY):
        if not 1 <= ids_per_query <= IDS_PER_QUERY:
            raise ValueError(f"ids_per_query must be between 1 and {IDS_PER_QUERY}")
        self.connection = connection
        self.ids_per_query = ids_per_query
        self._describes: dict[str, dict[str, Any]] = {}
        self._org_currency: str | None = None  # "" = looked up, none found
        self._lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------------------

    def _call(self, fn: Callable[[Salesforce], T]) -> T:
        try:
            return self.connection.call_with_relogin(fn)
        except (SalesforceError, requests.RequestException, ValueError) as exc:
            raise _query_error(exc) from None

    # -- describe --------------------------------------------------------------------------

    def describe(self, sobject: str) -> dict[str, Any]:
        """The sObject's describe (cached for the life of this client)."""
        if not _NAME.match(sobject):
            raise ValueError(f"{sobject!r} is not an sObject name")
        key = sobject.lower()
        with self._lock:
            cached = self._describes.get(key)
        if cached is not None:
            return cached
        found = self._call(lambda sf: sf.restful(f"sobjects/{sobject}/describe"))
        if not isinstance(found, dict) or not isinstance(found.get("fields"), list):
            raise SalesforceQueryError(
                "BAD_ANSWER", f"Salesforce's description of {sobject} was not readable."
            )
        with self._lock:
            self._describes[key] = found
        return found

    def describe_fields(self, sobject: str) -> set[str]:
        """The API names of the sObject's fields the user can see (cached)."""
        return {f["name"] for f in self.describe(sobject)["fields"] if isinstance(f, dict)}

    def _relationships(self, sobject: str) -> dict[str, str]:
        """Lower-cased relationship name → the reference field's name (Owner → OwnerId)."""
        return {
            f["relationshipName"].lower(): f["name"]
            for f in self.describe(sobject)["fields"]
            if isinstance(f, dict) and f.get("relationshipName")
        }

    def available_fields(
        self, sobject: str, wanted: Iterable[str], *, parents: dict[str, str] | None = None
    ) -> list[str]:
        """``wanted`` minus the fields this org lacks; ``Rel.Field`` needs Rel and Field to exist.

        ``parents`` maps a relationship name to its target sObject (``{"Product2": "Product2"}``).
        """
        own = {name.lower() for name in self.describe_fields(sobject)}
        relationships = self._relationships(sobject)
        kept: list[str] = []
        for name in wanted:
            if "." not in name:
                if name.lower() in own:
                    kept.append(name)
                continue
            relation, _, field = name.partition(".")
            if relation.lower() not in relationships:
                continue
            target = (parents or {}).get(relation)
            if target is not None:
                if field.lower() in {f.lower() for f in self.describe_fields(target)}:
                    kept.append(name)
            elif field in ("Id", "Name"):  # every parent object has these
                kept.append(name)
        return kept

    # -- queries ---------------------------------------------------------------------------

    def query_iter(self, soql: str, batch_size: int = MAX_BATCH) -> Iterator[dict[str, Any]]:
        """Every record of ``soql``, page by page (``batch_size`` 200–2000 records per page).

        An expired session is renewed once per failing page and the read resumes at the page
        that failed (its ``nextRecordsUrl``), never from the start.
        """
        headers = _batch_headers(batch_size)
        yield from self._records(
            lambda sf: sf.query(soql, headers=headers),
            lambda sf, url: sf.query_more(url, identifier_is_url=True, headers=headers),
        )

    def list_iter(self, soql: str, batch_size: int = MAX_BATCH) -> Iterator[dict[str, Any]]:
        """:meth:`query_iter` for long listings (the record browser's 50,000 rows): the same
        requests, each page parsed one record at a time (:func:`parse_query_page`) so the
        reading thread never holds the interpreter lock for a whole page."""
        headers = _batch_headers(batch_size)
        yield from self._records(
            lambda sf: _query_page(sf, f"{sf.base_url}query/", headers, soql),
            lambda sf, url: _query_page(sf, f"https://{sf.sf_instance}{url}", headers),
        )

    def _records(
        self,
        first: Callable[[Salesforce], dict[str, Any]],
        more: Callable[[Salesforce, str], dict[str, Any]],
    ) -> Iterator[dict[str, Any]]:
        page = self._call(first)
        while True:
            yield from page.get("records") or []
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call(lambda sf, url=next_url: more(sf, url))

    def _next_page(self, next_url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call(
            lambda sf: sf.query_more(next_url, identifier_is_url=True, headers=headers or {})
        )

    def query_all(self, soql: str, batch_size: int = MAX_BATCH) -> list[dict[str, Any]]:
        return list(self.query_iter(soql, batch_size))

    def count(self, sobject: str, where: str | None = None) -> int:
        """``SELECT COUNT() FROM sobject [WHERE where]``; build ``where`` with salesforce.soql."""
        if not _NAME.match(sobject):
            raise ValueError(f"{sobject!r} is not an sObject name")
        soql = f"SELECT COUNT() FROM {sobject}"  # noqa: S608 — name checked above
        if where:
            soql += f" WHERE {where}"
        answer = self._call(lambda sf: sf.query(soql))
        return int(answer.get("totalSize") or 0)

    def _complete_children(self, record: dict[str, Any], relationship: str) -> None:
        """Follow a paged child set (``done: false``) so the record holds all its children."""
        children = record.get(relationship)
        if not isinstance(children, dict):
            return
        rows = list(children.get("records") or [])
        page = children
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self._next_page(page["nextRecordsUrl"])
            rows.extend(page.get("records") or [])
        record[relationship] = {"totalSize": len(rows), "done": True, "records": rows}

    def _by_ids(
        self,
        ids: Iterable[str],
        prefix: str,
        build_query: Callable[[str], str],
    ) -> Iterator[dict[str, Any]]:
        unique = list(dict.fromkeys(parse_id(record_id, prefix) for record_id in ids))
        for chunk in _chunks(unique, self.ids_per_query):
            yield from self.query_iter(build_query(id_list(chunk)))

    @staticmethod
    def _model(build: Callable[[dict[str, Any]], T], record: dict[str, Any]) -> T:
        try:
            return build(record)
        except (ValidationError, ValueError, KeyError) as exc:
            record_id = record.get("Id", "?")
            raise SalesforceQueryError(
                "UNREADABLE_RECORD", f"Record {record_id} could not be read: {exc}"
            ) from None

    def accounts_by_ids(self, ids: Iterable[str]) -> dict[str, AccountRecord]:
        """The Accounts with these ids (18-character id → record, in the order asked; missing ones left out)."""
        fields = ", ".join(self.available_fields("Account", ACCOUNT_FIELDS))
        found: dict[str, AccountRecord] = {}
        for record in self._by_ids(
            ids,
            "001",
            lambda ids_in: f"SELECT {fields} FROM Account WHERE Id IN {ids_in}",  # noqa: S608
        ):
            account = self._model(AccountRecord.from_api, record)
            found[account.id] = account
        return found

    def contacts_by_ids(self, ids: Iterable[str]) -> dict[str, ContactRecord]:
        """The Contacts with these ids (an order's bill-to / ship-to people)."""
        fields = ", ".join(self.available_fields("Contact", CONTACT_FIELDS))
        found: dict[str, ContactRecord] = {}
        for record in self._by_ids(
            ids,
            "003",
            lambda ids_in: f"SELECT {fields} FROM Contact WHERE Id IN {ids_in}",  # noqa: S608
        ):
            contact = self._model(ContactRecord.from_api, record)
            found[contact.id] = contact
        return found

    def order_query(self, ids_in: str) -> str:
        """The Order SELECT with its OrderItems subquery, using only fields this org has."""
        order_fields = ", ".join(self.available_fields("Order", ORDER_FIELDS))
        item_fields = self.available_fields(
            "OrderItem", ORDER_ITEM_FIELDS, parents={"Product2": "Product2"}
        )
        order_by = " ORDER BY OrderItemNumber" if "OrderItemNumber" in item_fields else ""
        subquery = f"(SELECT {', '.join(item_fields)} FROM OrderItems{order_by})"  # noqa: S608
        return f"SELECT {order_fields}, {subquery} FROM Order WHERE Id IN {ids_in}"  # noqa: S608

    def orders_with_items_by_ids(self, ids: Iterable[str]) -> dict[str, OrderRecord]:
        """The Orders with these ids and all their Order Products (paged child sets followed)."""
        found: dict[str, OrderRecord] = {}
        for record in self._by_ids(ids, "801", self.order_query):
            self._complete_children(record, "OrderItems")
            order = self._model(OrderRecord.from_api, record)
            found[order.id] = order
        return found

    # -- the org ---------------------------------------------------------------------------

    def api_usage(self, *, refresh: bool = False) -> ApiUsage | None:
        """Daily API calls used / allowed, from the last ``Sforce-Limit-Info`` header.

        With ``refresh`` (or when no call was made yet) one cheap call (``/limits/``) is made.
        """
        usage = self.connection.sf.api_usage.get("api-usage")
        if usage is None or refresh:
            limits = self._call(lambda sf: sf.limits())
            usage = self.connection.sf.api_usage.get("api-usage")
            if usage is None and isinstance(limits, dict):
                daily = limits.get("DailyApiRequests") or {}
                if "Max" in daily and "Remaining" in daily:
                    return ApiUsage(int(daily["Max"]) - int(daily["Remaining"]), int(daily["Max"]))
        if usage is None:
            return None
        return ApiUsage(int(usage.used), int(usage.total))

    def organization(self) -> OrganizationInfo:
        """The org's id, name, instance and whether it is a sandbox."""
        wanted = (
            "Id",
            "Name",
            "InstanceName",
            "IsSandbox",
            "OrganizationType",
            "DefaultCurrencyIsoCode",
        )
        fields = ", ".join(self.available_fields("Organization", wanted))
        answer = self._call(lambda sf: sf.query(f"SELECT {fields} FROM Organization LIMIT 1"))  # noqa: S608
        records = answer.get("records") or []
        if not records:
            raise SalesforceQueryError(
                "NOT_FOUND",
                "Salesforce did not describe the organization (no Organization record).",
            )
        org = records[0]
        sandbox = org.get("IsSandbox")
        return OrganizationInfo(
            id=str(org.get("Id")),
            name=str(org.get("Name") or ""),
            instance=org.get("InstanceName"),
            is_sandbox=sandbox if isinstance(sandbox, bool) else None,
            organization_type=org.get("OrganizationType"),
            currency=org.get("DefaultCurrencyIsoCode"),
        )

    def org_currency(self) -> str | None:
        """The org's corporate currency (CurrencyType.IsCorporate, else the org's currency)."""
        with self._lock:
            if self._org_currency is not None:
                return self._org_currency or None
        currency: str | None = None
        try:
            self.describe("CurrencyType")
        except SalesforceQueryError as error:
            if error.code not in ("NOT_FOUND", "INVALID_TYPE"):
                raise
        else:
            answer = self._call(
                lambda sf: sf.query("SELECT IsoCode FROM CurrencyType WHERE IsCorporate = true")
            )
            records = answer.get("records") or []
            currency = records[0].get("IsoCode") if records else None
        if not currency:
            currency = self.organization().currency
        with self._lock:
            self._org_currency = currency or ""
        return currency
