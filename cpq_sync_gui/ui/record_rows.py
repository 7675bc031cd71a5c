"""The rows the Accounts and Orders tabs list, their columns and Zuora status (plain data, no Qt).

A row holds only what the table shows, in ``__slots__``, so 50,000 of them stay small; the
details panel reads the full record from Salesforce when it is opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

__all__ = [
    "ACCOUNTS",
    "ORDERS",
    "AccountRow",
    "Column",
    "OrderRow",
    "RecordKind",
    "ZuoraState",
    "ZuoraStatus",
    "zuora_summary",
]


class ZuoraState(Enum):
    UNKNOWN = "unknown"  # no Zuora connection, or not asked yet
    CHECKING = "checking"
    IN_ZUORA = "in_zuora"
    NOT_IN_ZUORA = "not_in_zuora"
    FAILED = "failed"  # the check itself failed (the message says why)


class _ZuoraStatusFields(NamedTuple):
    kind: str  # a ZuoraState value
    account_number: str | None
    zuora_id: str | None
    matches: int
    message: str


class ZuoraStatus(_ZuoraStatusFields):
    """A row's Zuora status; ``account_number``/``zuora_id``/``matches`` for accounts."""

    __slots__ = ()

    def __new__(
        cls,
        state: ZuoraState = ZuoraState.UNKNOWN,
        account_number: str | None = None,
        zuora_id: str | None = None,
        matches: int = 0,
        message: str = "",
    ) -> ZuoraStatus:
        return super().__new__(
            cls, ZuoraState(state).value, account_number, zuora_id, matches, message
        )

    @property
    def state(self) -> ZuoraState:
        return _STATES[self.kind]

    @property
    def text(self) -> str:
        state = self.state
        if state is ZuoraState.IN_ZUORA:
            if self.account_number:
                extra = f" +{self.matches - 1} more" if self.matches > 1 else ""
                return f"In Zuora ({self.account_number}{extra})"
            return "In Zuora"
        return {
            ZuoraState.UNKNOWN: "—",
            ZuoraState.CHECKING: "Checking…",
            ZuoraState.NOT_IN_ZUORA: "Not in Zuora",
            ZuoraState.FAILED: "Check failed",
        }[state]

    @property
    def tooltip(self) -> str:
        state = self.state
        if state is ZuoraState.UNKNOWN:
            return self.message or "Not checked: no Zuora connection"
        if state is ZuoraState.IN_ZUORA and self.matches > 1:
            return (
                f"{self.matches} Zuora accounts carry this Salesforce id as their CRM id "
                "(a duplicate to clean up in Zuora)"
            )
        return self.message or self.text


_STATES = {state.value: state for state in ZuoraState}
_SUMMARY = (
    (ZuoraState.IN_ZUORA, "in Zuora"),
    (ZuoraState.NOT_IN_ZUORA, "not in Zuora"),
    (ZuoraState.CHECKING, "being checked"),
    (ZuoraState.FAILED, "check failed"),
)


def zuora_summary(counts: Mapping[ZuoraState, int]) -> str:
    """``Zuora: 3 in Zuora, 57 not in Zuora`` for the loaded rows ('' before any check)."""
    parts = [f"{counts[state]:,} {words}" for state, words in _SUMMARY if counts.get(state)]
    return "Zuora: " + ", ".join(parts) if parts else ""


CHECKING = ZuoraStatus(ZuoraState.CHECKING)
NO_ZUORA = ZuoraStatus(ZuoraState.UNKNOWN)


# A row never changes: the model swaps in a new one (``_replace``) when its Zuora status does.


class AccountRow(NamedTuple):
    id: str
    name: str = ""
    billing_city: str = ""
    billing_state: str = ""
    billing_country: str = ""
    currency: str = ""
    owner: str = ""
    parent: str = ""
    zuora: ZuoraStatus = NO_ZUORA

    @property
    def zuora_key(self) -> str:
        """What Zuora knows this record by: its Salesforce id (the account's crmId)."""
        return self.id

    @property
    def label(self) -> str:
        return self.name or self.id


class OrderRow(NamedTuple):
    id: str
    order_number: str = ""
    account_id: str = ""
    account_name: str = ""
    effective_date: dt.date | None = None
    status: str = ""
    amount: Decimal | None = None
    currency: str = ""
    product_count: int = 0
    zuora: ZuoraStatus = NO_ZUORA

    @property
    def zuora_key(self) -> str:
        """What Zuora knows this record by: the order number (Zuora's orderNumber)."""
        return self.order_number

    @property
    def label(self) -> str:
        return f"Order {self.order_number}" if self.order_number else self.id


Row = AccountRow | OrderRow


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _amount(row: OrderRow) -> str:
    if row.amount is None:
        return ""
    text = f"{row.amount:,.2f}"
    return f"{text} {row.currency}" if row.currency else text


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    text: Callable[[Any], str]
    sort_key: Callable[[Any], Any]
    align_right: bool = False
    width: int = 140  # default width in pixels at 96 dpi (scaled by the font height)


def _by_text(attribute: str) -> Callable[[Any], Any]:
    def key(row: Any) -> Any:
        value = getattr(row, attribute)
        return (value is None or value == "", _text(value).casefold())

    return key


def _plain(attribute: str) -> Callable[[Any], str]:
    return lambda row: _text(getattr(row, attribute))


def _zuora_sort(row: Any) -> Any:
    status: ZuoraStatus = row.zuora
    return (status.kind, status.account_number or "")


ZUORA_COLUMN = Column("zuora", "Zuora status", lambda row: row.zuora.text, _zuora_sort, width=160)

ACCOUNT_COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", _plain("name"), _by_text("name"), width=220),
    Column("id", "Id", _plain("id"), lambda r: r.id, width=150),
    Column(
        "billing_city", "Billing city", _plain("billing_city"), _by_text("billing_city"), width=110
    ),
    Column(
        "billing_state",
        "Billing state",
        _plain("billing_state"),
        _by_text("billing_state"),
        width=100,
    ),
    Column(
        "billing_country",
        "Billing country",
        _plain("billing_country"),
        _by_text("billing_country"),
        width=120,
    ),
    Column("currency", "Currency", _plain("currency"), _by_text("currency"), width=70),
    Column("owner", "Owner", _plain("owner"), _by_text("owner"), width=120),
    Column("parent", "Parent", _plain("parent"), _by_text("parent"), width=150),
    ZUORA_COLUMN,
)

ORDER_COLUMNS: tuple[Column, ...] = (
    Column(
        "order_number", "Order number", _plain("order_number"), _by_text("order_number"), width=110
    ),
    Column("account", "Account", _plain("account_name"), _by_text("account_name"), width=210),
    Column(
        "effective_date",
        "Effective date",
        lambda r: r.effective_date.isoformat() if r.effective_date else "",
        lambda r: (r.effective_date is None, r.effective_date or dt.date.min),
        width=110,
    ),
    Column("status", "Status", _plain("status"), _by_text("status"), width=100),
    Column(
        "amount",
        "Amount",
        _amount,
        lambda r: (r.amount is None, r.amount or Decimal(0)),
        align_right=True,
        width=140,
    ),
    Column(
        "products",
        "Products",
        lambda r: str(r.product_count),
        lambda r: r.product_count,
        align_right=True,
        width=70,
    ),
    Column("id", "Id", _plain("id"), lambda r: r.id, width=150),
    ZUORA_COLUMN,
)


@dataclass(frozen=True)
class RecordKind:
    """Accounts or Orders: the sObject, its id prefix and how the tab shows it."""

    sobject: str
    key_prefix: str
    singular: str
    plural: str
    columns: tuple[Column, ...]
    search_hint: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def column_index(self, key: str) -> int:
        """The model column of ``key`` (column 0 is the checkbox)."""
        for index, column in enumerate(self.columns, 1):
            if column.key == key:
                return index
        raise KeyError(key)


ACCOUNTS = RecordKind(
    "Account",
    "001",
    "account",
    "accounts",
    ACCOUNT_COLUMNS,
    "Search account names (Enter)",
)
ORDERS = RecordKind(
    "Order",
    "801",
    "order",
    "orders",
    ORDER_COLUMNS,
    "Search order numbers and order names (Enter)",
)
