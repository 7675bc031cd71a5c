"""The run journal: every run and every record's state, written before each send and after each answer.

One SQLite file, ``paths.data_dir()/journal.sqlite3``, in WAL mode with ``synchronous=FULL``.
FULL, not NORMAL: in WAL mode NORMAL survives an application crash but may lose the last
commits on a power cut or an OS crash. The commit that matters most is the ``sending`` row
written just before a POST leaves: if it were lost, a resumed run would not know that the
record may already exist in Zuora. FULL costs one fsync per commit, which is small next to an
HTTPS round trip (a run commits a few times per record, at most a few dozen times a second).

The file is never recreated or discarded behind the user's back: a damaged file, a file from
an older or newer CPQ Sync, or a file that is not a journal raises :class:`JournalError` with
a plain message, and the file is left exactly where it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cpq_sync_gui.redact import redact
from cpq_sync_gui.sync import journal_format
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal_format import (
    EXPORT_COLUMNS,
    EXPORT_SQL,
    FINAL_ARGS,
    JOURNAL_FILE_NAME,
    PRUNABLE_SQL,
    SCHEMA_VERSION,
    SENDING,
    UNFINISHED_SQL,
    HistoryEntry,
    JournalError,
    JournalRecord,
    NewRecord,
    RunInfo,
    RunSummary,
    add_history,
    dumps,
    journal_error,
    journal_path,
    new_run_id,
    now_text,
    record_from_row,
    run_from_row,
    state_value,
)

__all__ = [
    "EXPORT_COLUMNS",
    "JOURNAL_FILE_NAME",
    "SCHEMA_VERSION",
    "SENDING",
    "JournalError",
    "JournalRecord",
    "NewRecord",
    "RunInfo",
    "RunJournal",
    "RunSummary",
    "journal_path",
]


class RunJournal:
    """The journal file, safe to use from several threads (one connection behind a lock).

    Every method is one transaction. Open it once per process and :meth:`close` it at the end.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else journal_path()
        self._lock = threading.RLock()
        self._conn = journal_format.open_connection(self.path)

    # --- plumbing -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise journal_error(self.path, exc) from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise journal_error(self.path, exc) from exc

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise journal_error(self.path, exc) from exc

    # --- runs ---------------------------------------------------------------------------

    def create_run(
        self,
        *,
        profile: str,
        kind: str,
        engine: str,
        records: Iterable[NewRecord],
        options: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Start a run with all its records (in their planned order) in one transaction."""
        run_id = run_id or new_run_id()
        now = now_text()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, profile, kind, engine, started_at, status, options,"
                " parent_run_id) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (run_id, profile, kind, engine, now, dumps(options or {}), parent_run_id),
            )
            for seq, rec in enumerate(records):
                state = RecordState(rec.state).value
                conn.execute(
                    "INSERT INTO records (run_id, record_id, seq, record_kind, label, action,"
                    " state, depends_on, payload, detail, zuora_id, zuora_number, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        rec.record_id,
                        seq,
                        rec.record_kind,
                        rec.label,
                        rec.action,
                        state,
                        dumps(list(rec.depends_on)),
                        None if rec.payload is None else dumps(rec.payload),
                        rec.detail,
                        rec.zuora_id,
                        rec.zuora_number,
                        now,
                    ),
                )
                add_history(
                    conn, run_id, rec.record_id, None, state, 0, rec.detail, None, None, now
                )
        return run_id

    def finish_run(self, run_id: str, status: str, message: str = "") -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, message = ? WHERE run_id = ?",
                (status, now_text(), message, run_id),
            )

    def reopen_run(self, run_id: str) -> None:
        """Mark a run as running again (resume)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = 'running', finished_at = NULL, message = ''"
                " WHERE run_id = ?",
                (run_id,),
            )

    def run(self, run_id: str) -> RunInfo:
        rows = self._read("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise JournalError(f"There is no run {run_id!r} in the journal at {self.path}.")
        return run_from_row(rows[0])

    def list_runs(self, limit: int = 50) -> list[RunInfo]:
        """Newest first."""
        rows = self._read(
            "SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?", (limit,)
        )
        return [run_from_row(r) for r in rows]

    def unfinished_runs(self) -> list[RunInfo]:
        """Runs still marked running, or with a record not in a final state (oldest first)."""
        rows = self._read(UNFINISHED_SQL, FINAL_ARGS)
        return [run_from_row(r) for r in rows]

    def run_summary(self, run_id: str) -> RunSummary:
        info = self.run(run_id)
        rows = self._read(
            "SELECT state, COUNT(*) AS n FROM records WHERE run_id = ? GROUP BY state", (run_id,)
        )
        counts = {r["state"]: r["n"] for r in rows}
        return RunSummary(info, sum(counts.values()), counts)

    # --- records ------------------------------------------------------------------------

    def record_transition(
        self,
        run_id: str,
        record_id: str,
        new_state: RecordState | str,
        *,
        detail: str | None = None,
        error: str | None = None,
        zuora_id: str | None = None,
        zuora_number: str | None = None,
        request_id: str | None = None,
        track_id: str | None = None,
    ) -> str | None:
        """Move a record to ``new_state``; returns the state it had. None values keep the old.

        Texts are redacted before they are stored: an exception text can carry a token.
        """
        state = state_value(new_state)
        now = now_text()
        detail = redact(detail) if detail else detail
        error = redact(error) if error else error
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT state, attempt FROM records WHERE run_id = ? AND record_id = ?",
                (run_id, record_id),
            ).fetchone()
            if row is None:
                raise JournalError(f"Record {record_id} is not part of run {run_id}.")
            conn.execute(
                "UPDATE records SET state = ?, detail = COALESCE(?, detail),"
                " error = COALESCE(?, error), zuora_id = COALESCE(?, zuora_id),"
                " zuora_number = COALESCE(?, zuora_number),"
                " request_id = COALESCE(?, request_id), track_id = COALESCE(?, track_id),"
                " updated_at = ? WHERE run_id = ? AND record_id = ?",
                (
                    state,
                    detail,
                    error,
                    zuora_id,
                    zuora_number,
                    request_id,
                    track_id,
                    now,
                    run_id,
                    record_id,
                ),
            )
            add_history(
                conn,
                run_id,
                record_id,
                row["state"],
                state,
                row["attempt"],
                detail or error or "",
                request_id,
                track_id,
                now,
            )
        return row["state"]

    def record_transitions(
        self, run_id: str, record_ids: Sequence[str], new_state: RecordState | str, detail: str
    ) -> None:
        """Move many records at once (one transaction: cancelling 10,000 records is one fsync)."""
        state = state_value(new_state)
        now = now_text()
        detail = redact(detail)
        with self._transaction() as conn:
            for record_id in record_ids:
                row = conn.execute(
                    "SELECT state, attempt FROM records WHERE run_id = ? AND record_id = ?",
                    (run_id, record_id),
                ).fetchone()
                if row is None:
                    continue
                conn.execute(
                    "UPDATE records SET state = ?, detail = ?, updated_at = ?"
                    " WHERE run_id = ? AND record_id = ?",
                    (state, detail, now, run_id, record_id),
                )
                add_history(
                    conn, run_id, record_id, row["state"], state, row["attempt"], detail, None,
                    None, now,
                )  # fmt: skip

    def requeue(self, run_id: str, records: Iterable[NewRecord]) -> None:
        """Queue records of an existing run again (resume), adding those it did not have yet.

        The attempt count, idempotency key and Zuora ids already journaled are kept.
        """
        now = now_text()
        with self._transaction() as conn:
            next_seq = conn.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM records WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            for rec in records:
                row = conn.execute(
                    "SELECT state, attempt FROM records WHERE run_id = ? AND record_id = ?",
                    (run_id, rec.record_id),
                ).fetchone()
                state = RecordState.QUEUED.value
                if row is None:
                    conn.execute(
                        "INSERT INTO records (run_id, record_id, seq, record_kind, label, action,"
                        " state, depends_on, payload, detail, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            run_id,
                            rec.record_id,
                            next_seq,
                            rec.record_kind,
                            rec.label,
                            rec.action,
                            state,
                            dumps(list(rec.depends_on)),
                            None if rec.payload is None else dumps(rec.payload),
                            rec.detail,
                            now,
                        ),
                    )
                    next_seq += 1
                    old, attempt = None, 0
                else:
                    conn.execute(
                        "UPDATE records SET state = ?, label = ?, action = ?, depends_on = ?,"
                        " payload = COALESCE(?, payload), detail = ?, updated_at = ?"
                        " WHERE run_id = ? AND record_id = ?",
                        (
                            state,
                            rec.label,
                            rec.action,
                            dumps(list(rec.depends_on)),
                            None if rec.payload is None else dumps(rec.payload),
                            rec.detail,
                            now,
                            run_id,
                            rec.record_id,
                        ),
                    )
                    old, attempt = row["state"], row["attempt"]
                add_history(
                    conn, run_id, rec.record_id, old, state, attempt, "resumed", None, None, now
                )

    def mark_sending(
        self,
        run_id: str,
        record_id: str,
        *,
        attempt: int,
        idempotency_key: str,
        payload_hash: str,
        payload: Any = None,
        track_id: str | None = None,
    ) -> None:
        """Durably note that a create request is about to leave (call before every send)."""
        now = now_text()
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT state FROM records WHERE run_id = ? AND record_id = ?",
                (run_id, record_id),
            ).fetchone()
            if row is None:
                raise JournalError(f"Record {record_id} is not part of run {run_id}.")
            conn.execute(
                "UPDATE records SET state = ?, attempt = ?, idempotency_key = ?,"
                " payload_hash = ?, payload = COALESCE(?, payload), track_id = ?,"
                " error = NULL, updated_at = ? WHERE run_id = ? AND record_id = ?",
                (
                    SENDING,
                    attempt,
                    idempotency_key,
                    payload_hash,
                    None if payload is None else dumps(payload),
                    track_id,
                    now,
                    run_id,
                    record_id,
                ),
            )
            add_history(
                conn,
                run_id,
                record_id,
                row["state"],
                SENDING,
                attempt,
                f"attempt {attempt}",
                None,
                track_id,
                now,
            )

    def mark_result(
        self,
        run_id: str,
        record_id: str,
        state: RecordState | str,
        *,
        detail: str = "",
        error: str | None = None,
        zuora_id: str | None = None,
        zuora_number: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """Note what came back from a send (a final state, or back to running for a retry)."""
        self.record_transition(
            run_id,
            record_id,
            state,
            detail=detail,
            error=error,
            zuora_id=zuora_id,
            zuora_number=zuora_number,
            request_id=request_id,
        )

    def records_of(
        self, run_id: str, states: Iterable[RecordState | str] | None = None
    ) -> list[JournalRecord]:
        """The run's records in planned order, optionally only those in ``states``."""
        if states is None:
            rows = self._read("SELECT * FROM records WHERE run_id = ? ORDER BY seq", (run_id,))
        else:
            wanted = sorted({state_value(s) for s in states})
            if not wanted:
                return []
            marks = ",".join("?" * len(wanted))
            sql = f"SELECT * FROM records WHERE run_id = ? AND state IN ({marks}) ORDER BY seq"  # noqa: S608
            rows = self._read(sql, (run_id, *wanted))
        return [record_from_row(r) for r in rows]

    def record(self, run_id: str, record_id: str) -> JournalRecord | None:
        rows = self._read(
            "SELECT * FROM records WHERE run_id = ? AND record_id = ?", (run_id, record_id)
        )
        return record_from_row(rows[0]) if rows else None

    def history(self, run_id: str, record_id: str | None = None) -> list[HistoryEntry]:
        if record_id is None:
            rows = self._read("SELECT * FROM history WHERE run_id = ? ORDER BY id", (run_id,))
        else:
            rows = self._read(
                "SELECT * FROM history WHERE run_id = ? AND record_id = ? ORDER BY id",
                (run_id, record_id),
            )
        return [
            HistoryEntry(
                r["run_id"],
                r["record_id"],
                r["at"],
                r["old_state"],
                r["new_state"],
                r["attempt"],
                r["detail"],
                r["request_id"],
                r["track_id"],
            )
            for r in rows
        ]

    # --- housekeeping -------------------------------------------------------------------

    def prune(self, older_than: dt.datetime | dt.timedelta) -> int:
        """Delete finished runs that started before ``older_than``; returns how many.

        Unfinished runs are kept whatever their age: they can still be resumed.
        """
        if isinstance(older_than, dt.timedelta):
            cutoff = dt.datetime.now(dt.UTC) - older_than
        else:
            cutoff = older_than
            if cutoff.tzinfo is None:
                raise ValueError("older_than must be timezone-aware (for example in UTC)")
        cutoff_text = cutoff.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        with self._transaction() as conn:
            ids = [r["run_id"] for r in conn.execute(PRUNABLE_SQL, (cutoff_text, *FINAL_ARGS))]
            for run_id in ids:
                conn.execute("DELETE FROM history WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM records WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        return len(ids)

    def export_rows(self, run_id: str) -> list[dict[str, Any]]:
        """One dict per record with :data:`EXPORT_COLUMNS`, in planned order."""
        self.run(run_id)  # a plain error for an unknown run
        rows = self._read(EXPORT_SQL, (run_id,))
        return [{c: r[c] for c in EXPORT_COLUMNS} for r in rows]

    def export_csv(self, run_id: str, path: Path | str) -> int:
        """Write :meth:`export_rows` as a UTF-8 CSV (with BOM, so Excel reads it); returns rows."""
        rows = self.export_rows(run_id)
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        return len(rows)
