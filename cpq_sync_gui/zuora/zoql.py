"""Safe pieces of ZOQL (Zuora's query language): quoted values, CRM-id conditions and batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from cpq_sync_gui.salesforce.ids import to_18

__all__ = [
    "MAX_CONDITIONS",
    "batched",
    "crm_id_batches",
    "crm_id_conditions",
    "crm_id_forms",
    "quote",
]

T = TypeVar("T")

MAX_CONDITIONS = 200  # Zuora: "A maximum of 200 conditions are allowed in a WHERE clause"


def quote(value: str) -> str:
    """``value`` as a ZOQL string literal: single quotes, with ``\\`` and ``'`` backslash-escaped."""
    if not isinstance(value, str):
        raise TypeError(f"ZOQL text must be a str, not {type(value).__name__}")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def crm_id_forms(record_id: str, *, include_15: bool = True) -> tuple[str, ...]:
    """The spellings a Salesforce Account id may have in Zuora's CRM Account ID: 18, then 15 chars.

    Anything that is not a valid 15/18-character id raises InvalidSalesforceId: only ids ever
    reach a query, so no text can change it.
    """
    id18 = to_18(record_id)
    return (id18, id18[:15]) if include_15 else (id18,)


def crm_id_conditions(ids: Iterable[str], *, field: str = "CrmId", include_15: bool = True) -> str:
    """``CrmId = '001…' or CrmId = '001…'`` for validated ids (both id lengths by default)."""
    if isinstance(ids, str):
        raise TypeError("crm_id_conditions takes a list of ids, not one string")
    if not field.isidentifier():
        raise ValueError(f"{field!r} is not a ZOQL field name")
    forms = dict.fromkeys(
        form for record_id in ids for form in crm_id_forms(record_id, include_15=include_15)
    )
    if not forms:
        raise ValueError("at least one id is needed")
    if len(forms) > MAX_CONDITIONS:
        raise ValueError(
            f"{len(forms)} conditions are more than the {MAX_CONDITIONS} Zuora allows in one "
            "query; use crm_id_batches()"
        )
    return " or ".join(f"{field} = {quote(form)}" for form in forms)


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    if size < 1:
        raise ValueError("a batch holds at least one item")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def crm_id_batches(
    ids: Iterable[str], *, include_15: bool = True, max_ids: int = MAX_CONDITIONS
) -> Iterator[list[str]]:
    """Validated, de-duplicated 18-character ids in batches whose conditions fit one query."""
    unique = list(dict.fromkeys(to_18(record_id) for record_id in ids))
    per_query = min(max_ids, MAX_CONDITIONS // (2 if include_15 else 1))
    for batch in batched(unique, per_query):
        yield list(batch)
