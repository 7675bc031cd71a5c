"""The plan of a sync: what would be sent for each record, and every problem found before sending.

A dry run is the plan alone (:meth:`SyncPlan.to_json`). The runner executes a plan.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any, Protocol

from cpq_sync_gui.salesforce.ids import InvalidSalesforceId, to_18
from cpq_sync_gui.salesforce.records import AccountRecord, ContactRecord, OrderRecord
from cpq_sync_gui.sync.mapping import (
    Catalog,
    Problem,
    account_payload,
    account_update_payload,
    order_payload,
    placeholder,
)
from cpq_sync_gui.sync.plan_model import (
    Action,
    PlannedRecord,
    PlanOptions,
    RecordKind,
    SyncPlan,
    _attr,
    catalog_from_rate_plans,
)
from cpq_sync_gui.zuora.client import ZuoraError
from cpq_sync_gui.zuora.zoql import crm_id_batches

__all__ = [
    "Action",
    "PlanOptions",
    "PlannedRecord",
    "Problem",
    "SyncPlan",
    "build_plan",
    "catalog_from_rate_plans",
]

MAX_PARENT_DEPTH = 10  # Salesforce allows 10 levels of account hierarchy in reports; ample here
LOOKUP_THREADS = 8  # Zuora reads at once until an answer states the tenant's concurrency limit
MAX_LOOKUP_THREADS = 10  # ... and never more: requests keeps 10 connections per host
ZUORA_READ_THREADS = 3  # crmId batches and the catalog, beside the order look-ups
SALESFORCE_THREADS = 5  # Salesforce queries at once (1,000 ids: 5 IN-lists of 200)
ORDER_SOBJECTS = ("Order", "OrderItem", "Product2", "Account", "Contact")  # an orders plan reads
SALESFORCE_IDS_PER_QUERY = 200  # when the reader does not say (SalesforceClient.ids_per_query)
READ_ATTEMPTS = 5  # a plan's Zuora reads change nothing, so transient failures are retried


class _Slots:
    """How many Zuora requests the plan has in flight: at most the concurrency limit the tenant
    states in its answers (LOOKUP_THREADS until one has), never more than MAX_LOOKUP_THREADS.

    First come, first served: a thread that just finished a look-up queues behind those
    already waiting, so the 1,000 order look-ups cannot starve the crmId batches or the catalog.
    """

    def __init__(self, zuora_client: object) -> None:
        self._client = zuora_client
        self._cond = threading.Condition()
        self._busy = 0
        self._next_ticket = 0
        self._serving = 0
        self.closed = threading.Event()

    def size(self) -> int:
        stated = getattr(self._client, "stated_concurrency_limits", None)
        # tuple(): one step, while the client's threads may add a limit type to the dict
        limits = [v for v in tuple(stated.values()) if v > 0] if isinstance(stated, dict) else []
        return min(min(limits), MAX_LOOKUP_THREADS) if limits else LOOKUP_THREADS

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while not self.closed.is_set() and (
                ticket != self._serving or self._busy >= self.size()
            ):
                self._cond.wait(0.25)
            self._serving += 1
            self._cond.notify_all()  # the next ticket may go too if there is room
            if self.closed.is_set():
                raise CancelledError("the plan stopped")
            self._busy += 1

    def __exit__(self, *_exc: object) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def close(self) -> None:
        """Let no further request start (the plan failed or finished)."""
        with self._cond:
            self.closed.set()
            self._cond.notify_all()


def _patiently(slots: _Slots, call: Callable[..., Any], *args: Any) -> Any:
    """Call a Zuora read in one of ``slots``, retrying busy/internal/network failures with
    jittered backoff."""
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            with slots:
                return call(*args)
        except ZuoraError as error:
            if not (error.transient or error.kind == "ambiguous") or attempt == READ_ATTEMPTS:
                raise
            pause = min(8.0, 0.25 * 2**attempt) * random.random()  # noqa: S311 — jitter
            if slots.closed.wait(max(pause, error.retry_after or 0.0)):
                raise CancelledError("the plan stopped") from None
    raise AssertionError("unreachable")


# --- what build_plan needs from the clients ---------------------------------------------------


class SalesforceReader(Protocol):
    def accounts_by_ids(self, ids: Sequence[str]) -> Any: ...

    def orders_with_items_by_ids(self, ids: Sequence[str]) -> Any: ...


class ZuoraReader(Protocol):
    def find_accounts_by_crm_id(self, ids: Sequence[str]) -> Mapping[str, Sequence[Any]]: ...

    def get_order(self, number: str) -> Mapping[str, Any] | None: ...

    def find_rate_plans(self, product2_ids: Sequence[str], skus: Sequence[str]) -> Any: ...


def _values(result: Any) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, Mapping):
        return list(result.values())
    return list(result)


# --- building -------------------------------------------------------------------------------


def _normalise_ids(ids: Iterable[str]) -> tuple[list[str], list[str]]:
    good: list[str] = []
    bad: list[str] = []
    seen: set[str] = set()
    for raw in ids:
        text = str(raw).strip()
        if not text:
            continue
        try:
            value = to_18(text)
        except InvalidSalesforceId:
            bad.append(text)
            continue
        if value not in seen:
            seen.add(value)
            good.append(value)
    return good, bad


def _account_label(account: AccountRecord) -> str:
    return account.name or account.id


def _order_label(order: OrderRecord, accounts: Mapping[str, AccountRecord]) -> str:
    account = accounts.get(order.account_id or "")
    who = f" — {account.name}" if account and account.name else ""
    return f"Order {order.order_number or order.id}{who}"


class _Counter:
    """Counts calls to the Salesforce reader so a plan can say how many queries it took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
            return method(*args, **kwargs)

        return counted


class _Reads:
    """The plan's reads, a few at a time: Salesforce IN-list chunks on SALESFORCE_THREADS
    threads; in Zuora the order look-ups on threads of their own and the crmId batches and the
    catalog beside them, all within the tenant's concurrency limit (:class:`_Slots`).

    Leaving it (normally or by a failed read) drops the reads still queued and waits for none
    but those already sent."""

    def __init__(self, salesforce: _Counter, zuora: ZuoraReader | None) -> None:
        self.sf = salesforce
        self.slots = _Slots(zuora)
        size = getattr(salesforce.inner, "ids_per_query", None)
        self._chunk = size if isinstance(size, int) and size > 0 else SALESFORCE_IDS_PER_QUERY
        self._salesforce = ThreadPoolExecutor(SALESFORCE_THREADS, "plan-salesforce")
        self._zuora = ThreadPoolExecutor(ZUORA_READ_THREADS, "plan-zuora")
        self._orders = ThreadPoolExecutor(MAX_LOOKUP_THREADS, "plan-orders")

    def __enter__(self) -> _Reads:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.slots.close()
        for pool in (self._salesforce, self._zuora, self._orders):
            pool.shutdown(wait=True, cancel_futures=True)

    def describe(self, sobjects: Sequence[str], ids: Sequence[str]) -> None:
        """Before reading ``ids`` in several chunks at once, read the sObjects' descriptions
        (the client caches them) together, once each: not once per chunk, nor one after another
        inside each chunk's query. A failure shows again in the query that needs it."""
        describe = getattr(self.sf.inner, "describe", None)
        if callable(describe) and len(ids) > self._chunk:
            wait([self._salesforce.submit(describe, name) for name in sobjects])

    def salesforce(self, method: str, ids: Sequence[str]) -> list[Future[Any]]:
        """The reader's ``method`` for ``ids``, one call (one IN-list query) per chunk."""
        call = getattr(self.sf, method)
        return [
            self._salesforce.submit(call, list(ids[start : start + self._chunk]))
            for start in range(0, len(ids), self._chunk)
        ]

    def crm_ids(self, zuora: ZuoraReader, ids: Sequence[str]) -> list[Future[Any]]:
        """Zuora accounts by crmId, one ZOQL query per batch."""
        return [
            self._zuora.submit(_patiently, self.slots, zuora.find_accounts_by_crm_id, batch)
            for batch in crm_id_batches(ids)
        ]

    def catalog(self, zuora: ZuoraReader, product2_ids: list[str], skus: list[str]) -> Future[Any]:
        return self._zuora.submit(_patiently, self.slots, zuora.find_rate_plans, product2_ids, skus)

    def orders(self, zuora: ZuoraReader, numbers: Sequence[str]) -> list[Future[Any]]:
        """Whether each order is in Zuora: one GET per order number (no batched form)."""
        return [self._orders.submit(_patiently, self.slots, zuora.get_order, n) for n in numbers]


def _all(futures: Iterable[Future[Any]]) -> list[Any]:
    """The records of every chunk, in order (the first failed chunk's error is raised)."""
    return [item for future in futures for item in _values(future.result())]


def build_plan(
    kind: str,
    ids: Iterable[str],
    salesforce_client: SalesforceReader,
    zuora_client: ZuoraReader | None,
    options: PlanOptions | None = None,
) -> SyncPlan:
    """Read what the records need from Salesforce and Zuora and plan every record.

    Salesforce is read in IN-list queries of 200 ids, a few at a time; Zuora accounts are
    looked up by crmId in batches, orders by number (as soon as the orders are read), and the
    catalog by Product2 id and SKU, all within the tenant's concurrency limit. Nothing is
    written anywhere.

    Without a Zuora client (a connector profile with no Zuora credentials) nothing is looked
    up in Zuora: no record is known to exist there and the catalog is not checked (the
    connector looks the products up itself).
    """
    if kind not in ("accounts", "orders"):
        raise ValueError(f"kind must be 'accounts' or 'orders', not {kind!r}")
    options = options or PlanOptions()
    wanted, invalid = _normalise_ids(ids)
    sf = _Counter(salesforce_client)
    with _Reads(sf, zuora_client) as reads:
        orders: list[OrderRecord] = []
        accounts: dict[str, AccountRecord] = {}
        crm_lookups: list[Future[Any]] = []
        asked: set[str] = set()

        def look_up(account_ids: Iterable[str]) -> None:
            """Start the crmId look-ups of accounts not asked about yet."""
            fresh = [a for a in account_ids if a not in asked]
            asked.update(fresh)
            if fresh and zuora_client is not None:
                crm_lookups.extend(reads.crm_ids(zuora_client, fresh))

        order_lookups: list[Future[Any]] = []
        numbers: list[str] = []
        rate_plans: Future[Any] | None = None
        if kind == "orders":
            reads.describe(ORDER_SOBJECTS, wanted)
            read = _all(reads.salesforce("orders_with_items_by_ids", wanted))
            orders = [o for o in read if o is not None]
            if zuora_client is not None:
                # Order look-ups need only the numbers: they start now, beside the account
                # reads, the crmId look-ups and the catalog (bench/bench_sync.py).
                numbers = sorted({o.order_number for o in orders if o.order_number})
                order_lookups = reads.orders(zuora_client, numbers)
                product2_ids = sorted(
                    {i.product2_id for o in orders for i in o.items if i.product2_id}
                )
                skus = sorted({i.product_code for o in orders for i in o.items if i.product_code})
                if product2_ids or skus:
                    rate_plans = reads.catalog(zuora_client, product2_ids, skus)
            need = sorted({o.account_id for o in orders if o.account_id})
        else:
            need = wanted
            look_up(wanted)  # the ids are known: ask Zuora while Salesforce reads them
            reads.describe(("Account",), wanted)
        for account in _all(reads.salesforce("accounts_by_ids", need)):
            accounts[account.id] = account
        # Parents, level by level (one query per level and 200 ids, not per account).
        for _ in range(MAX_PARENT_DEPTH):
            missing = sorted(
                {
                    a.parent_id
                    for a in accounts.values()
                    if a.parent_id and a.parent_id not in accounts
                }
            )
            missing = [m for m in missing if _find(accounts, m) is None]
            if not missing:
                break
            for account in _all(reads.salesforce("accounts_by_ids", missing)):
                accounts[account.id] = account
        look_up(sorted(accounts))

        existing_accounts: dict[str, list[Any]] = {}
        for batch in crm_lookups:
            existing_accounts.update({k: list(v) for k, v in batch.result().items()})
        # A new account takes its e-mail and mobile from the Bill To contact of its first order
        # in this plan: one contact per account is read, none for accounts already in Zuora.
        contacts: dict[str, ContactRecord] = {}
        first_bill_to: dict[str, str] = {}
        for o in orders:
            if o.bill_to_contact_id and o.account_id and not existing_accounts.get(o.account_id):
                first_bill_to.setdefault(o.account_id, o.bill_to_contact_id)
        bill_to_ids = sorted(set(first_bill_to.values()))
        if bill_to_ids and callable(getattr(salesforce_client, "contacts_by_ids", None)):
            for contact in _all(reads.salesforce("contacts_by_ids", bill_to_ids)):
                contacts[contact.id] = contact
        if options.mapping.org_currency is None and any(not a.currency for a in accounts.values()):
            currency = _org_currency(sf)
            if currency:
                options = replace(options, mapping=replace(options.mapping, org_currency=currency))
        found = [future.result() for future in order_lookups]
        existing_orders = {n: o for n, o in zip(numbers, found, strict=True) if o}
        catalog: Catalog | None = Catalog() if zuora_client is not None else None
        if rate_plans is not None:
            catalog = catalog_from_rate_plans(rate_plans.result())

    planner = _Planner(
        options=options,
        accounts=accounts,
        existing_accounts=existing_accounts,
        contacts=contacts,
    )
    if kind == "accounts":
        for account_id in wanted:
            account = _find(accounts, account_id)
            if account is None:
                planner.not_found(account_id, "account")
            else:
                planner.plan_account(account.id, selected=True)
    else:
        by_id = {o.id: o for o in orders}
        for order_id in wanted:
            order = by_id.get(order_id) or next(
                (o for o in orders if o.id[:15] == order_id[:15]), None
            )
            if order is None:
                planner.not_found(order_id, "order")
                continue
            planner.plan_order(order, existing_orders.get(order.order_number or ""), catalog)
    for text in invalid:
        planner.invalid(text)
    return SyncPlan(
        kind=kind,
        records=tuple(planner.ordered()),
        options=options,
        salesforce_queries=sf.calls,
    )


def _org_currency(sf: _Counter) -> str | None:
    """The org's corporate currency (one query), for accounts without a currency of their own."""
    reader = sf.inner
    if callable(getattr(reader, "org_currency", None)):
        return sf.org_currency()
    if not callable(getattr(reader, "query_all", None)):
        return None
    fields = ["DefaultCurrencyIsoCode"]
    if callable(getattr(reader, "available_fields", None)):
        fields = reader.available_fields("Organization", fields)
    if not fields:
        return None
    rows = sf.query_all("SELECT DefaultCurrencyIsoCode FROM Organization LIMIT 1")
    value = rows[0].get("DefaultCurrencyIsoCode") if rows else None
    return str(value) if value else None


def _find(accounts: Mapping[str, AccountRecord], account_id: str) -> AccountRecord | None:
    found = accounts.get(account_id)
    if found is None and account_id:
        found = next((a for i, a in accounts.items() if i[:15] == account_id[:15]), None)
    return found


def _ref_id(ref: Any) -> str | None:
    return _attr(ref, "id", "accountId")


def _ref_number(ref: Any) -> str | None:
    return _attr(ref, "account_number", "accountNumber", "number")


class _Planner:
    def __init__(
        self,
        *,
        options: PlanOptions,
        accounts: dict[str, AccountRecord],
        existing_accounts: dict[str, list[Any]],
        contacts: dict[str, ContactRecord],
    ) -> None:
        self.options = options
        self.accounts = accounts
        self.existing = existing_accounts
        self.contacts = contacts
        self.account_records: dict[str, PlannedRecord] = {}
        self.account_order: list[str] = []  # planning order (parents are planned first)
        self.depth: dict[str, int] = {}
        self.order_records: list[PlannedRecord] = []
        self.other: list[PlannedRecord] = []
        self.in_progress: set[str] = set()
        self.account_contact: dict[str, ContactRecord] = {}

    # -- accounts --------------------------------------------------------------------------

    def _existing(self, account_id: str) -> list[Any]:
        refs = self.existing.get(account_id) or self.existing.get(account_id[:15]) or []
        return sorted(refs, key=lambda r: str(_ref_number(r) or ""))

    def plan_account(self, account_id: str, *, selected: bool, needed_by: str = "") -> None:
        if account_id in self.account_records:
            if selected and not self.account_records[account_id].selected:
                self.account_records[account_id] = replace(
                    self.account_records[account_id], selected=True
                )
            return
        account = _find(self.accounts, account_id)
        if account is None:
            return
        if account.id in self.in_progress:  # a parent loop: Salesforce forbids it, be safe
            return
        self.in_progress.add(account.id)
        label = _account_label(account)
        refs = self._existing(account.id)
        depth = 0
        parent_value: str | None = None
        depends: list[str] = []
        bindings: dict[str, str] = {}
        problems: list[Problem] = []
        if account.parent_id:
            parent = _find(self.accounts, account.parent_id)
            parent_refs = self._existing(parent.id) if parent else []
            if parent is None:
                problems.append(
                    Problem(
                        "parent_not_readable",
                        f"The parent account {account.parent_id} could not be read from "
                        "Salesforce, so its Zuora account is unknown.",
                        "Account.ParentId",
                    )
                )
            elif parent_refs:
                parent_value = _ref_id(parent_refs[0])
            else:
                self.plan_account(parent.id, selected=False, needed_by=f"the parent of {label}")
                parent_record = self.account_records.get(parent.id)
                parent_value = placeholder("the Zuora account id", parent.id)
                depends.append(parent.id)
                bindings["parentId"] = parent.id
                depth = self.depth.get(parent.id, 0) + 1
                if parent_record is not None and parent_record.blocked:
                    problems.append(
                        Problem(
                            "parent_blocked",
                            f"Its parent account {parent_record.label} cannot be sent: "
                            f"{parent_record.problem_text()}",
                            "Account.ParentId",
                        )
                    )
        mapped = account_payload(
            account,
            options=self.options.mapping,
            contact=self.account_contact.get(account.id),
            parent_zuora_id=parent_value,
        )
        problems = [*mapped.problems, *problems]
        action: Action = "create"
        reason = f"needed as {needed_by}" if needed_by else ""
        zuora_id = zuora_number = None
        if refs:
            zuora_id, zuora_number = _ref_id(refs[0]), _ref_number(refs[0])
            numbers = ", ".join(str(_ref_number(r)) for r in refs)
            if self.options.update_existing and selected:
                action = "update"
                reason = f"already in Zuora as {zuora_number}: will be updated"
            else:
                action = "skip"
                reason = f"already in Zuora as {numbers}"
            if action == "skip":
                problems = []  # nothing will be sent, so data gaps do not matter here
            if len(refs) > 1:
                problems.append(
                    Problem(
                        "duplicate_in_zuora",
                        f"Zuora already holds {len(refs)} accounts with crmId {account.id} "
                        f"({numbers}); clean them up in Zuora.",
                        "Account.Id",
                        "warning",
                    )
                )
        payload: dict[str, Any] | None = mapped.payload
        rules = list(mapped.rules)
        if action == "update":
            payload = account_update_payload(mapped.payload)
            rules.append("account.update")
        elif action == "skip":
            payload, rules = None, []
        self.account_records[account.id] = PlannedRecord(
            record_id=account.id,
            record_kind="account",
            label=label,
            action=action,
            payload=payload,
            problems=tuple(problems),
            depends_on=tuple(depends) if action == "create" else (),
            bindings=bindings if action == "create" else {},
            reason=reason,
            zuora_id=zuora_id,
            zuora_number=zuora_number,
            lookup_key=account.id,
            rules=tuple(rules),
            selected=selected,
        )
        self.account_order.append(account.id)
        self.depth[account.id] = depth
        self.in_progress.discard(account.id)

    # -- orders ----------------------------------------------------------------------------

    def plan_order(
        self, order: OrderRecord, existing: Mapping[str, Any] | None, catalog: Catalog | None
    ) -> None:
        label = _order_label(order, self.accounts)
        number = order.order_number or ""
        if existing:
            self.order_records.append(
                PlannedRecord(
                    record_id=order.id,
                    record_kind="order",
                    label=label,
                    action="skip",
                    reason=f"already in Zuora as order {number}",
                    zuora_id=_attr(existing, "id", "orderId"),
                    zuora_number=number,
                    lookup_key=number,
                )
            )
            return
        problems: list[Problem] = []
        depends: list[str] = []
        bindings: dict[str, str] = {}
        account_number = ""
        account = _find(self.accounts, order.account_id or "")
        if order.bill_to_contact_id and account is not None:
            contact = self.contacts.get(order.bill_to_contact_id)
            if contact is not None:
                self.account_contact.setdefault(account.id, contact)
        account_currency = None
        if account is None:
            problems.append(
                Problem(
                    "account_missing",
                    f"{label} has no account that could be read from Salesforce.",
                    "Order.AccountId",
                )
            )
        else:
            account_currency = account.currency or self.options.mapping.org_currency
            refs = self._existing(account.id)
            if len(refs) > 1:
                numbers = ", ".join(str(_ref_number(r)) for r in refs)
                problems.append(
                    Problem(
                        "duplicate_in_zuora",
                        f"Zuora holds {len(refs)} accounts with crmId {account.id} ({numbers}), "
                        "so it is unclear which one the order belongs to. Merge or clean them up "
                        "in Zuora first.",
                        "Order.AccountId",
                    )
                )
            if refs:
                account_number = str(_ref_number(refs[0]) or "")
            else:
                self.plan_account(account.id, selected=False, needed_by=f"the account of {label}")
                account_record = self.account_records.get(account.id)
                account_number = placeholder("the Zuora account number", account.id)
                depends.append(account.id)
                bindings["existingAccountNumber"] = account.id
                if account_record is not None and account_record.blocked:
                    problems.append(
                        Problem(
                            "account_blocked",
                            f"Its account {account_record.label} cannot be sent: "
                            f"{account_record.problem_text()}",
                            "Order.AccountId",
                        )
                    )
        mapped = order_payload(
            order,
            account_number=account_number,
            catalog=catalog,
            account_currency=account_currency,
            options=self.options.mapping,
        )
        self.order_records.append(
            PlannedRecord(
                record_id=order.id,
                record_kind="order",
                label=label,
                action="create",
                payload=mapped.payload,
                problems=tuple([*mapped.problems, *problems]),
                depends_on=tuple(depends),
                bindings=bindings,
                lookup_key=number,
                rules=tuple(mapped.rules),
            )
        )

    # -- ids that lead nowhere ---------------------------------------------------------------

    def not_found(self, record_id: str, kind: RecordKind) -> None:
        what = "account" if kind == "account" else "order"
        self.other.append(
            PlannedRecord(
                record_id=record_id,
                record_kind=kind,
                label=record_id,
                action="create",
                problems=(
                    Problem(
                        "not_found",
                        f"No {what} with id {record_id} was found in Salesforce (deleted, or "
                        "not visible to the integration user).",
                        "Id",
                    ),
                ),
            )
        )

    def invalid(self, text: str) -> None:
        self.other.append(
            PlannedRecord(
                record_id=text,
                record_kind="account",
                label=text,
                action="create",
                problems=(Problem("invalid_id", f"{text!r} is not a Salesforce id.", "Id"),),
            )
        )

    def ordered(self) -> list[PlannedRecord]:
        """Accounts by hierarchy level (parents first), then orders, then unusable ids."""
        position = {account_id: i for i, account_id in enumerate(self.account_order)}
        account_ids = sorted(self.account_order, key=lambda a: (self.depth[a], position[a]))
        return [
            *(self.account_records[a] for a in account_ids),
            *self.order_records,
            *self.other,
        ]
