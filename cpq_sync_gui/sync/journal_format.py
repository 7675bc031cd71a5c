"""The journal file's format: schema and version, row types, and opening a file safely.

Opening never repairs, recreates or discards anything: a file that is damaged, from another
journal format, or not a journal at all raises :class:`JournalError` and is left as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpq_sync_gui import paths
from cpq_sync_gui.sync.events import FINAL_STATES, RecordState

SCHEMA_VERSION = 1
JOURNAL_FILE_NAME = "journal.sqlite3"
SENDING = "sending"
"""Journal-only state: a request that creates something in Zuora may be on its way.

A record in this state after a crash must be looked up in Zuora before it is sent again.
"""

_KNOWN_STATES = frozenset({*(s.value for s in RecordState), SENDING})
_FINAL_VALUES = frozenset(s.value for s in FINAL_STATES)
FINAL_ARGS = tuple(sorted(_FINAL_VALUES))
_FINAL_MARKS = "(" + ",".join("?" * len(FINAL_ARGS)) + ")"

_SCHEMA = """
CREATE TABLE runs (
    run_id        TEXT PRIMARY KEY,
    profile       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('accounts', 'orders')),
    engine        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL,
    options       TEXT NOT NULL DEFAULT '{}',
    parent_run_id TEXT,
    message       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE records (
    run_id          TEXT NOT NULL REFERENCES runs (run_id),
    record_id       TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    record_kind     TEXT NOT NULL,
    label           TEXT NOT NULL DEFAULT '',
    action          TEXT NOT NULL DEFAULT 'create',
    state           TEXT NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT,
    payload_hash    TEXT,
    payload         TEXT,
    depends_on      TEXT NOT NULL DEFAULT '[]',
    zuora_id        TEXT,
    zuora_number    TEXT,
    request_id      TEXT,
    track_id        TEXT,
    error           TEXT,
    detail          TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (run_id, record_id)
);
CREATE INDEX records_by_state ON records (run_id, state);
CREATE TABLE history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    at         TEXT NOT NULL,
    old_state  TEXT,
    new_state  TEXT NOT NULL,
    attempt    INTEGER NOT NULL DEFAULT 0,
    detail     TEXT NOT NULL DEFAULT '',
    request_id TEXT,
    track_id   TEXT
);
CREATE INDEX history_by_record ON history (run_id, record_id, id);
CREATE INDEX runs_by_start ON runs (started_at);
"""

EXPORT_COLUMNS = (
    "run_id",
    "seq",
    "record_kind",
    "record_id",
    "label",
    "action",
    "state",
    "zuora_id",
    "zuora_number",
    "attempt",
    "error",
    "detail",
    "request_id",
    "track_id",
    "idempotency_key",
    "payload_hash",
    "updated_at",
)


# Only constant column names and "?" placeholders are formatted into these (hence the noqa).
UNFINISHED_SQL = f"SELECT * FROM runs WHERE status = 'running' OR run_id IN (SELECT DISTINCT run_id FROM records WHERE state NOT IN {_FINAL_MARKS}) ORDER BY started_at, run_id"  # noqa: S608
PRUNABLE_SQL = f"SELECT run_id FROM runs WHERE started_at < ? AND status != 'running' AND NOT EXISTS (SELECT 1 FROM records WHERE records.run_id = runs.run_id AND state NOT IN {_FINAL_MARKS})"  # noqa: S608
EXPORT_SQL = f"SELECT {', '.join(EXPORT_COLUMNS)} FROM records WHERE run_id = ? ORDER BY seq"  # noqa: S608


class JournalError(Exception):
    """The journal cannot be used; the message says why in plain words and what to do."""


def journal_path() -> Path:
    return paths.data_dir() / JOURNAL_FILE_NAME


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """Sortable by start time and short enough to type: ``20250314-093012-4f2a9c``."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class NewRecord:
    """One record as a new run starts with it (normally built from a PlannedRecord)."""

    record_id: str
    record_kind: str  # "account" or "order"
    label: str = ""
    action: str = "create"
    state: RecordState = RecordState.QUEUED
    depends_on: Sequence[str] = ()
    payload: Any = None
    detail: str = ""
    zuora_id: str | None = None
    zuora_number: str | None = None


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    profile: str
    kind: str
    engine: str
    started_at: str
    finished_at: str | None
    status: str  # "running", "finished", "cancelled", "failed"
    options: dict[str, Any]
    parent_run_id: str | None
    message: str = ""


@dataclass(frozen=True)
class JournalRecord:
    run_id: str
    record_id: str
    seq: int
    record_kind: str
    label: str
    action: str
    state: str  # a RecordState value, or SENDING
    attempt: int
    idempotency_key: str | None
    payload_hash: str | None
    payload: Any
    depends_on: tuple[str, ...]
    zuora_id: str | None
    zuora_number: str | None
    request_id: str | None
    track_id: str | None
    error: str | None
    detail: str
    updated_at: str

    @property
    def is_final(self) -> bool:
        return self.state in _FINAL_VALUES


@dataclass(frozen=True)
class HistoryEntry:
    run_id: str
    record_id: str
    at: str
    old_state: str | None
    new_state: str
    attempt: int
    detail: str
    request_id: str | None
    track_id: str | None


@dataclass(frozen=True)
class RunSummary:
    run: RunInfo
    total: int
    counts: dict[str, int] = field(default_factory=dict)  # state value -> records

    @property
    def unfinished(self) -> int:
        return sum(n for state, n in self.counts.items() if state not in _FINAL_VALUES)

    def count(self, state: RecordState | str) -> int:
        return self.counts.get(str(state), 0)


# --- helpers -------------------------------------------------------------------------------


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def state_value(state: RecordState | str) -> str:
    value = state.value if isinstance(state, RecordState) else str(state)
    if value not in _KNOWN_STATES:
        raise ValueError(f"unknown record state {state!r}")
    return value


def add_history(
    conn: sqlite3.Connection,
    run_id: str,
    record_id: str,
    old: str | None,
    new: str,
    attempt: int,
    detail: str,
    request_id: str | None,
    track_id: str | None,
    at: str,
) -> None:
    conn.execute(
        "INSERT INTO history (run_id, record_id, at, old_state, new_state, attempt, detail,"
        " request_id, track_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, record_id, at, old, new, attempt, detail, request_id, track_id),
    )


def run_from_row(row: sqlite3.Row) -> RunInfo:
    try:
        options = json.loads(row["options"] or "{}")
    except ValueError:
        options = {}
    return RunInfo(
        run_id=row["run_id"],
        profile=row["profile"],
        kind=row["kind"],
        engine=row["engine"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        status=row["status"],
        options=options,
        parent_run_id=row["parent_run_id"],
        message=row["message"],
    )


def record_from_row(row: sqlite3.Row) -> JournalRecord:
    payload = json.loads(row["payload"]) if row["payload"] is not None else None
    return JournalRecord(
        run_id=row["run_id"],
        record_id=row["record_id"],
        seq=row["seq"],
        record_kind=row["record_kind"],
        label=row["label"],
        action=row["action"],
        state=row["state"],
        attempt=row["attempt"],
        idempotency_key=row["idempotency_key"],
        payload_hash=row["payload_hash"],
        payload=payload,
        depends_on=tuple(json.loads(row["depends_on"] or "[]")),
        zuora_id=row["zuora_id"],
        zuora_number=row["zuora_number"],
        request_id=row["request_id"],
        track_id=row["track_id"],
        error=row["error"],
        detail=row["detail"],
        updated_at=row["updated_at"],
    )


def journal_error(path: Path, exc: sqlite3.Error) -> JournalError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in text or "malformed" in text or "corrupt" in text
    ):
        return JournalError(
            f"The run journal {path} is damaged ({text}). It was left untouched so nothing in "
            "it is lost. To start a fresh journal, close CPQ Sync and move that file aside "
            "(for example rename it to journal.sqlite3.damaged); to keep the history, restore "
            "the file from a backup."
        )
    if "locked" in text or "busy" in text:
        return JournalError(
            f"The run journal {path} is in use by another program and did not become free "
            f"({text}). Close other CPQ Sync windows or commands and try again."
        )
    return JournalError(f"The run journal {path} could not be used: {text}.")


_SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_HEADER_SIZE = 100  # every SQLite database file starts with this many header bytes


def _check_header(path: Path) -> bool:
    """True when ``path`` holds data; JournalError unless that data starts as SQLite's does.

    Only a missing or empty (0-byte) file may become a new journal. SQLite itself treats a
    file shorter than its header (a journal cut to its first byte) as an empty database and
    would write a new, empty journal over it.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(_SQLITE_HEADER_SIZE)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise JournalError(
            f"The run journal {path} could not be read: {exc.strerror or exc}."
        ) from exc
    if not head:
        return False
    if len(head) < _SQLITE_HEADER_SIZE:
        plural = "s" if len(head) != 1 else ""
        why = f"only {len(head)} byte{plural}, shorter than a SQLite file's header"
    elif not head.startswith(_SQLITE_HEADER):
        why = "it does not start with a SQLite file's header"
    else:
        return True
    raise journal_error(path, sqlite3.DatabaseError(f"file is not a database: {why}"))


def open_connection(path: Path) -> sqlite3.Connection:
    """Open (or create) the journal at ``path``; JournalError when it must not be used."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(
            f"The folder for the run journal, {path.parent}, could not be created: {exc}."
        ) from exc
    existed = _check_header(path)
    try:
        conn = sqlite3.connect(path, timeout=15.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise journal_error(path, exc) from exc
    conn.row_factory = sqlite3.Row
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        }
        if existed:
            problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("database disk image is malformed: " + problems[0])
        if version == 0 and tables:
            raise JournalError(
                f"{path} is a SQLite file but not a CPQ Sync run journal (it holds tables "
                f"{', '.join(sorted(tables))}). It was left untouched; move it aside so CPQ "
                "Sync can start a new journal there."
            )
        if 0 < version < SCHEMA_VERSION:
            raise JournalError(
                f"The run journal {path} was written by an older CPQ Sync (journal format "
                f"{version}; this version uses format {SCHEMA_VERSION}). It was left untouched. "
                "Finish or export its runs with the older version, then move the file aside."
            )
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"The run journal {path} was written by a newer CPQ Sync (journal format "
                f"{version}; this version reads format {SCHEMA_VERSION}). It was left "
                "untouched. Use the newer version, or move the file aside to start a new one."
            )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
    except JournalError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise journal_error(path, exc) from exc
    return conn
