"""The background work behind the Accounts and Orders tabs (no widgets): list, count, look up ids, Zuora status.

Every function here runs inside a :class:`~cpq_sync_gui.ui.jobs.Job` and talks to the window
only through ``context.report(event)``. Queries are built from describe-checked field names
and from :mod:`cpq_sync_gui.salesforce.soql` (user text is always escaped, never pasted).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from cpq_sync_gui.salesforce.ids import KEY_PREFIXES, is_valid_id, parse_id, to_18
from cpq_sync_gui.salesforce.soql import date_literal, id_list, like_pattern, quote
from cpq_sync_gui.ui.record_rows import (
    ACCOUNTS,
    NO_ZUORA,
    AccountRow,
    OrderRow,
    RecordKind,
    Row,
    ZuoraState,
    ZuoraStatus,
)

if TYPE_CHECKING:
    from cpq_sync_gui.salesforce.client import SalesforceClient

DEFAULT_BATCH_SIZE = 2000  # records per Salesforce page (its maximum)
ZUORA_IDS_PER_QUERY = 200  # ZOQL allows 200 conditions per query
ZUORA_PARALLEL_QUERIES = 4  # status look-ups in flight at once

ACCOUNT_LIST_FIELDS = (
    "Id",
    "Name",
    "BillingCity",
    "BillingState",
    "BillingCountry",
    "CurrencyIsoCode",
    "Owner.Name",
    "Parent.Name",
)
ORDER_LIST_FIELDS = (
    "Id",
    "OrderNumber",
    "AccountId",
    "Account.Name",
    "EffectiveDate",
    "Status",
    "TotalAmount",
    "CurrencyIsoCode",
)


class Context(Protocol):
    def report(self, event: Any) -> None: ...

    def cancelled(self) -> bool: ...


class FilterError(ValueError):
    """A search or filter value that cannot be used; the message names what to fix."""


# --- filters and SOQL ----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFilters:
    search: str = ""  # accounts: name; orders: order number or name
    status: str = ""  # orders: Status, "" = any
    date_from: dt.date | None = None  # orders: EffectiveDate on or after
    date_to: dt.date | None = None  # orders: EffectiveDate on or before
    account: str = ""  # orders: an Account id, or text in the account's name
    only_not_in_zuora: bool = False  # applied as Zuora answers come in (see RecordFilterProxy)


def _account_condition(text: str) -> str:
    value = text.strip()
    if is_valid_id(value):
        prefix = to_18(value)[:3]
        if prefix == ACCOUNTS.key_prefix:
            return f"AccountId = {quote(parse_id(value, ACCOUNTS.key_prefix))}"
        if prefix in KEY_PREFIXES:
            raise FilterError(
                f"Account filter: '{value}' is a {KEY_PREFIXES[prefix]} id, not an Account id. "
                "Enter an Account id (001…) or part of the account's name."
            )
    return f"Account.Name LIKE {like_pattern(value)}"


def where_clause(kind: RecordKind, filters: RecordFilters, fields: set[str]) -> str:
    """The WHERE conditions (without the keyword) for these filters; '' for none.

    Raises FilterError for values that cannot be used (a date range that ends before it
    starts, an id of another object in the account filter).
    """
    conditions: list[str] = []
    search = filters.search.strip()
    if kind.sobject == "Account":
        if search:
            conditions.append(f"Name LIKE {like_pattern(search)}")
    else:
        if search:
            pattern = like_pattern(search)
            if "Name" in fields:
                conditions.append(f"(OrderNumber LIKE {pattern} OR Name LIKE {pattern})")
            else:
                conditions.append(f"OrderNumber LIKE {pattern}")
        if filters.status:
            conditions.append(f"Status = {quote(filters.status)}")
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise FilterError(
                f"Effective date: 'from' ({filters.date_from.isoformat()}) is after 'to' "
                f"({filters.date_to.isoformat()}). Swap them or change one."
            )
        if filters.date_from:
            conditions.append(f"EffectiveDate >= {date_literal(filters.date_from)}")
        if filters.date_to:
            conditions.append(f"EffectiveDate <= {date_literal(filters.date_to)}")
        if filters.account.strip():
            conditions.append(_account_condition(filters.account))
    return " AND ".join(conditions)


def list_fields(client: SalesforceClient, kind: RecordKind) -> list[str]:
    """The list columns' fields that exist in this org (describe first: no INVALID_FIELD)."""
    wanted = ACCOUNT_LIST_FIELDS if kind.sobject == "Account" else ORDER_LIST_FIELDS
    return client.available_fields(kind.sobject, wanted)


def list_select(client: SalesforceClient, kind: RecordKind) -> str:
    """``SELECT … FROM …`` for the list, with the order-products subquery for orders."""
    fields = list_fields(client, kind)
    if kind.sobject == "Order":
        fields.append("(SELECT Id FROM OrderItems)")
    return f"SELECT {', '.join(fields)} FROM {kind.sobject}"  # noqa: S608 — described names


def _order_by(kind: RecordKind) -> str:
    return " ORDER BY Name, Id" if kind.sobject == "Account" else " ORDER BY OrderNumber, Id"


def list_soql(client: SalesforceClient, kind: RecordKind, filters: RecordFilters) -> str:
    where = where_clause(kind, filters, client.describe_fields(kind.sobject))
    return list_select(client, kind) + (f" WHERE {where}" if where else "") + _order_by(kind)


# --- rows from records ---------------------------------------------------------------------


def _str(record: dict[str, Any], field_name: str) -> str:
    value = record.get(field_name)
    return "" if value is None else str(value)


def _related_str(record: dict[str, Any], relation: str, field_name: str) -> str:
    """A field of a related record (``Owner.Name``); "" when the relation is empty or absent."""
    related = record.get(relation)
    value = related.get(field_name) if isinstance(related, dict) else None
    return "" if value is None else str(value)


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])  # a calendar date: no time zone involved
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def row_from_record(kind: RecordKind, record: dict[str, Any], zuora: ZuoraStatus = NO_ZUORA) -> Row:
    """The list row of a record; ``zuora`` is its Zuora status to start with."""
    if kind.sobject == "Account":
        return AccountRow(
            id=to_18(str(record["Id"])),
            name=_str(record, "Name"),
            billing_city=_str(record, "BillingCity"),
            billing_state=_str(record, "BillingState"),
            billing_country=_str(record, "BillingCountry"),
            currency=_str(record, "CurrencyIsoCode"),
            owner=_related_str(record, "Owner", "Name"),
            parent=_related_str(record, "Parent", "Name"),
            zuora=zuora,
        )
    items = record.get("OrderItems")
    count = int(items.get("totalSize") or 0) if isinstance(items, dict) else 0
    return OrderRow(
        id=to_18(str(record["Id"])),
        order_number=_str(record, "OrderNumber"),
        account_id=_str(record, "AccountId"),
        account_name=_related_str(record, "Account", "Name"),
        effective_date=_date(record.get("EffectiveDate")),
        status=_str(record, "Status"),
        amount=_decimal(record.get("TotalAmount")),
        currency=_str(record, "CurrencyIsoCode"),
        product_count=count,
        zuora=zuora,
    )


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counted:
    total: int


@dataclass(frozen=True)
class PageLoaded:
    rows: list[Row]
    loaded: int  # rows so far in this load, this page included
    total: int | None


@dataclass(frozen=True)
class IdsMatched:
    ids: list[str]  # 18-character ids of matching records (after the Zuora filter)
    seen: int  # matching records read so far
    total: int
    excluded_in_zuora: int = 0  # so far: matching records left out as already in Zuora


@dataclass(frozen=True)
class StatusesChecked:
    statuses: dict[str, ZuoraStatus]  # zuora key (account id / order number) → status


@dataclass(frozen=True)
class LoadOutcome:
    loaded: int
    total: int | None
    cancelled: bool


@dataclass(frozen=True)
class LookupOutcome:
    found: list[str]
    not_found: list[str]
    cancelled: bool = False


@dataclass(frozen=True)
class MatchOutcome:
    selected: int
    total: int
    excluded_in_zuora: int
    cancelled: bool


# --- jobs ----------------------------------------------------------------------------------


def _pages(records: Iterator[dict[str, Any]], size: int, context: Context) -> Iterator[list]:
    """Group a lazily paged read into pages; stop between pages once cancel is asked."""
    page: list[dict[str, Any]] = []
    for record in records:
        page.append(record)
        if len(page) >= size:
            yield page
            page = []
            if context.cancelled():
                return
    if page and not context.cancelled():
        yield page


def load_rows(
    context: Context,
    client: SalesforceClient,
    kind: RecordKind,
    filters: RecordFilters,
    batch_size: int = DEFAULT_BATCH_SIZE,
    zuora: ZuoraStatus = NO_ZUORA,
) -> LoadOutcome:
    """COUNT() for the total, then every matching record page by page as PageLoaded events.

    Rows start with the Zuora status ``zuora`` (CHECKING when the window checks them), so the
    window does not have to touch each new row again to show it.
    """
    soql = list_soql(client, kind, filters)  # FilterError before any network call for rows
    where = where_clause(kind, filters, client.describe_fields(kind.sobject))
    total = client.count(kind.sobject, where or None)
    context.report(Counted(total))
    loaded = 0
    for page in _pages(client.list_iter(soql, batch_size), batch_size, context):
        rows = [row_from_record(kind, record, zuora) for record in page]
        loaded += len(rows)
        context.report(PageLoaded(rows, loaded, total))
    return LoadOutcome(loaded, total, context.cancelled())


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def lookup_rows(
    context: Context, client: SalesforceClient, kind: RecordKind, ids: Iterable[str]
) -> LookupOutcome:
    """The rows of these (valid, 18-character) ids: ``Id IN (…)`` with at most 200 ids a query."""
    from cpq_sync_gui.salesforce.client import IDS_PER_QUERY

    wanted = list(dict.fromkeys(parse_id(record_id, kind.key_prefix) for record_id in ids))
    select = list_select(client, kind)
    found: list[str] = []
    for chunk in _chunks(wanted, IDS_PER_QUERY):
        if context.cancelled():
            missing = [i for i in wanted if i not in set(found)]
            return LookupOutcome(found, missing, cancelled=True)
        soql = f"{select} WHERE Id IN {id_list(chunk)}"
        rows = [row_from_record(kind, record) for record in client.query_iter(soql)]
        found += [row.id for row in rows]
        context.report(PageLoaded(rows, len(found), len(wanted)))
    found_set = set(found)
    return LookupOutcome(found, [i for i in wanted if i not in found_set])


def load_matching_ids(
    context: Context,
    client: SalesforceClient,
    kind: RecordKind,
    filters: RecordFilters,
    zuora: Any | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> MatchOutcome:
    """The ids of every record matching the filters (server-side), page by page.

    With "only records not yet in Zuora" (and a Zuora connection) each page is checked in
    Zuora and the records already there are left out (and counted).
    """
    fields = client.describe_fields(kind.sobject)
    where = where_clause(kind, filters, fields)
    key_field = "Id" if kind.sobject == "Account" else "Id, OrderNumber"
    soql = f"SELECT {key_field} FROM {kind.sobject}"  # noqa: S608 — constant names
    soql += (f" WHERE {where}" if where else "") + _order_by(kind)
    total = client.count(kind.sobject, where or None)
    context.report(Counted(total))
    seen = excluded = selected = 0
    check = filters.only_not_in_zuora and zuora is not None
    for page in _pages(client.list_iter(soql, batch_size), batch_size, context):
        keys = {
            to_18(str(r["Id"])): (
                to_18(str(r["Id"])) if kind.sobject == "Account" else str(r.get("OrderNumber"))
            )
            for r in page
        }
        seen += len(keys)
        ids = list(keys)
        if check:
            statuses = zuora_statuses(zuora, kind, list(keys.values()))
            context.report(StatusesChecked(statuses))
            ids = [i for i in ids if statuses[keys[i]].state is not ZuoraState.IN_ZUORA]
            excluded += len(keys) - len(ids)
        selected += len(ids)
        context.report(IdsMatched(ids, seen, total, excluded))
    return MatchOutcome(selected, total, excluded, context.cancelled())


# --- Zuora status --------------------------------------------------------------------------


def zuora_statuses(zuora: Any, kind: RecordKind, keys: Sequence[str]) -> dict[str, ZuoraStatus]:
    """Status per key: accounts by crmId (one ZOQL query per 200 ids), orders by number."""
    keys = [k for k in dict.fromkeys(keys) if k]
    if not keys:
        return {}
    if kind.sobject == "Account":
        found = zuora.find_accounts_by_crm_id(keys)
        statuses: dict[str, ZuoraStatus] = {}
        for key in keys:
            refs = found.get(to_18(key)) or []
            if refs:
                statuses[key] = ZuoraStatus(
                    ZuoraState.IN_ZUORA,
                    account_number=refs[0].account_number,
                    zuora_id=refs[0].id,
                    matches=len(refs),
                )
            else:
                statuses[key] = ZuoraStatus(ZuoraState.NOT_IN_ZUORA)
        return statuses
    exists = zuora.order_exists_many(keys)
    return {
        key: ZuoraStatus(ZuoraState.IN_ZUORA if exists.get(key) else ZuoraState.NOT_IN_ZUORA)
        for key in keys
    }


@dataclass
class ZuoraStatusFeed:
    """Keys to check in Zuora, fed by the window as pages arrive; checked in batches of 200.

    ``run`` is a job function: it ends when the feed is closed and drained, or on cancel.
    Up to ``parallel`` batches are asked at once (Zuora allows far more concurrent reads).
    After one failed check the rest are marked failed with the same message (no retry storm).
    """

    zuora: Any
    kind: RecordKind
    batch: int = ZUORA_IDS_PER_QUERY
    parallel: int = ZUORA_PARALLEL_QUERIES
    _queue: queue.Queue[str] = field(default_factory=queue.Queue)
    _closed: threading.Event = field(default_factory=threading.Event)
    checked: int = 0

    def put(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key:
                self._queue.put(key)

    def close(self) -> None:
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _take(self, limit: int) -> list[str]:
        keys: list[str] = []
        try:
            keys.append(self._queue.get(timeout=0.05))
            while len(keys) < limit:
                keys.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return keys

    def run(self, context: Context) -> int:
        failure: list[str] = []

        def check(keys: Sequence[str]) -> dict[str, ZuoraStatus]:
            if not failure:
                try:
                    return zuora_statuses(self.zuora, self.kind, keys)
                except Exception as error:  # reported on the rows, then in the log
                    words = str(error).strip() or type(error).__name__
                    failure.append(f"Zuora check failed: {words}")
            return {k: ZuoraStatus(ZuoraState.FAILED, message=failure[0]) for k in keys}

        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="zuora") as pool:
            while not context.cancelled():
                keys = self._take(self.batch * self.parallel)
                if not keys:
                    if self._closed.is_set() and self._queue.empty():
                        break
                    continue
                for statuses in pool.map(check, list(_chunks(keys, self.batch))):
                    self.checked += len(statuses)
                    context.report(StatusesChecked(statuses))
        return self.checked


# --- small reads -----------------------------------------------------------------------------


def order_statuses(client: SalesforceClient) -> list[str]:
    """The org's active Order Status values (describe), for the status filter."""
    for field_info in client.describe("Order").get("fields") or []:
        if isinstance(field_info, dict) and field_info.get("name") == "Status":
            return [
                str(value.get("value"))
                for value in field_info.get("picklistValues") or []
                if isinstance(value, dict) and value.get("active", True) and value.get("value")
            ]
    return []


def fetch_details(client: SalesforceClient, kind: RecordKind, record_id: str) -> Any | None:
    """The full record for the details panel (an order with its products); None when gone."""
    if kind.sobject == "Account":
        return client.accounts_by_ids([record_id]).get(record_id)
    return client.orders_with_items_by_ids([record_id]).get(record_id)
