"""A run's results as Data Loader-style CSV files: a success file and an error file (no Qt).

Data Loader users know the shape: every row of the run lands in exactly one of the two files;
the success file carries the ``ID`` and a ``STATUS``, the error file an ``ERROR`` column with
the exact reason. The error file can be fed back as an id list (its ``ID`` column) to sync
the failures again.

Choices where Data Loader has no equivalent (written down so the files stay predictable):

* Success file: Synced, Accepted (unverified) and Skipped records — a skipped record needs
  no action (it is already in Zuora, or there was nothing to send), and the MESSAGE says why.
* Error file: Failed, Timed out, Cancelled, and records a run did not finish (an interrupted
  run exported before it was resumed; STATUS "Not finished").
* Files are UTF-8 with a byte order mark, so Excel shows accents and CJK names correctly,
  and CRLF line ends as RFC 4180 says.
* Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return) gets a leading apostrophe; Salesforce and Zuora ids never start
  with those, so the ids stay exactly re-importable.
* Every text cell passes through :func:`cpq_sync_gui.redact.redact`: an error text that
  echoes a token or a session id never reaches the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpq_sync_gui.redact import redact
from cpq_sync_gui.sync.events import RecordState

__all__ = [
    "ERROR_HEADERS",
    "SUCCESS_HEADERS",
    "ExportFiles",
    "ExportRow",
    "export_rows",
    "is_success",
    "write_results",
]

SUCCESS_HEADERS = ("ID", "OBJECT", "NAME", "ZUORA ID", "ZUORA NUMBER", "STATUS", "MESSAGE")
ERROR_HEADERS = ("ID", "OBJECT", "NAME", "ZUORA ID", "ZUORA NUMBER", "STATUS", "ERROR")

_SUCCESS_STATES = frozenset({RecordState.SYNCED, RecordState.ACCEPTED, RecordState.SKIPPED})
_OBJECTS = {"account": "Account", "order": "Order"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportRow:
    """One record of a run, as the files show it."""

    record_id: str
    record_kind: str  # "account" or "order"
    label: str
    state: str  # a RecordState value; anything else (e.g. "sending") counts as not finished
    message: str = ""  # what happened, or the exact error
    zuora_id: str | None = None
    zuora_number: str | None = None

    @property
    def status(self) -> str:
        try:
            state = RecordState(self.state)
        except ValueError:
            return "Not finished"  # e.g. "sending": the journal's in-flight mark
        return state.label if state.is_final else "Not finished"


@dataclass(frozen=True)
class ExportFiles:
    success_path: Path
    error_path: Path
    successes: int
    errors: int


def is_success(row: ExportRow) -> bool:
    try:
        return RecordState(row.state) in _SUCCESS_STATES
    except ValueError:
        return False


def _value(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def export_rows(records: Iterable[Any]) -> list[ExportRow]:
    """Rows from journal records (``RunJournal.records_of`` or ``export_rows``), run results
    (``RunResult.records``) or mappings with the same names; planned order is kept."""
    rows: list[ExportRow] = []
    for record in records:
        state = _value(record, "state")
        state_text = state.value if isinstance(state, RecordState) else str(state or "")
        # The final reason is the detail; ``error`` may still hold an earlier attempt's error.
        message = _value(record, "detail") or _value(record, "error") or ""
        rows.append(
            ExportRow(
                record_id=str(_value(record, "record_id") or ""),
                record_kind=str(_value(record, "record_kind") or ""),
                label=str(_value(record, "label") or ""),
                state=state_text,
                message=str(message),
                zuora_id=_value(record, "zuora_id"),
                zuora_number=_value(record, "zuora_number"),
            )
        )
    return rows


def _cell(value: Any) -> str:
    text = redact("" if value is None else str(value))
    text = " ".join(part.strip() for part in text.splitlines()) if "\n" in text else text
    if text.startswith(_FORMULA_STARTS):
        text = "'" + text
    return text


def _line(row: ExportRow) -> list[str]:
    return [
        _cell(row.record_id),
        _cell(_OBJECTS.get(row.record_kind, row.record_kind.title())),
        _cell(row.label),
        _cell(row.zuora_id),
        _cell(row.zuora_number),
        _cell(row.status),
        _cell(row.message),
    ]


def _write_csv(path: Path, headers: tuple[str, ...], rows: list[ExportRow]) -> None:
    """Write atomically: a reader (Excel, a script) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8-sig", newline="") as stream:
            writer = csv.writer(stream, lineterminator="\r\n")
            writer.writerow(headers)
            writer.writerows(_line(row) for row in rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def default_base_name(run_id: str) -> str:
    return f"cpq-sync-{run_id}"


def write_results(
    rows: Iterable[ExportRow], folder: Path | str, base_name: str | None = None
) -> ExportFiles:
    """Write ``<base>-success.csv`` and ``<base>-error.csv`` into ``folder`` (both always, so
    an empty error file says "no errors" instead of leaving the admin to wonder)."""
    folder = Path(folder)
    base = base_name or f"cpq-sync-{dt.datetime.now():%Y%m%d-%H%M%S}"
    rows = list(rows)
    good = [r for r in rows if is_success(r)]
    bad = [r for r in rows if not is_success(r)]
    success_path = folder / f"{base}-success.csv"
    error_path = folder / f"{base}-error.csv"
    _write_csv(success_path, SUCCESS_HEADERS, good)
    _write_csv(error_path, ERROR_HEADERS, bad)
    return ExportFiles(success_path, error_path, len(good), len(bad))
