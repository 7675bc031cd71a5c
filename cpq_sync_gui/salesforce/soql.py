"""Safe pieces of SOQL: quoted text, LIKE patterns, id lists and date literals built from user input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from cpq_sync_gui.salesforce.ids import parse_id

__all__ = ["LikeMode", "date_literal", "id_list", "like_pattern", "quote"]

LikeMode = Literal["contains", "starts_with", "ends_with", "exact"]

# SOQL's own escapes (developer.salesforce.com "Quoted String Escape Sequences"); every other
# control character (C0, DEL and C1) and the Unicode line/paragraph separators go in as
# \uXXXX, so nothing invisible reaches the query text and a literal is always one line.
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_TABLE = {ord(char): escaped for char, escaped in _ESCAPES.items()}
_TABLE.update(
    {
        code: f"\\u{code:04x}"
        for code in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
        if code not in _TABLE
    }
)
_LIKE_TABLE = {ord("%"): "\\%", ord("_"): "\\_"}


def _escaped(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"SOQL text must be a str, not {type(value).__name__}")
    return value.translate(_TABLE)


def quote(value: str) -> str:
    """``value`` as a SOQL string literal in single quotes; no text can end the literal early."""
    return f"'{_escaped(value)}'"


def like_pattern(user_text: str, mode: LikeMode = "contains") -> str:
    """A quoted LIKE pattern in which ``%`` and ``_`` typed by the user match only themselves."""
    body = _escaped(user_text).translate(_LIKE_TABLE)
    if mode == "contains":
        body = f"%{body}%"
    elif mode == "starts_with":
        body = f"{body}%"
    elif mode == "ends_with":
        body = f"%{body}"
    elif mode != "exact":
        raise ValueError(
            f"unknown LIKE mode {mode!r}; use contains, starts_with, ends_with or exact"
        )
    return f"'{body}'"


def id_list(ids: Iterable[str], expected_prefix: str | None = None) -> str:
    """``('001…','001…')`` for ``IN``: every id validated, 18-character, duplicates dropped.

    Raises :class:`~cpq_sync_gui.salesforce.ids.InvalidSalesforceId` for anything that is not
    an id (of the ``expected_prefix`` object, when given) and ValueError for an empty list,
    which SOQL refuses.
    """
    if isinstance(ids, str):
        raise TypeError("id_list takes a list of ids, not one string")
    unique = dict.fromkeys(parse_id(record_id, expected_prefix) for record_id in ids)
    if not unique:
        raise ValueError("an IN list needs at least one id")
    return "(" + ",".join(f"'{record_id}'" for record_id in unique) + ")"


def date_literal(date: dt.date) -> str:
    """A SOQL date literal ``YYYY-MM-DD`` (unquoted): a calendar date, no time zone involved."""
    if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
        raise TypeError(
            "date_literal takes a calendar date (datetime.date); a date-time would need a "
            "time zone, and converting one can shift the day"
        )
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}"
