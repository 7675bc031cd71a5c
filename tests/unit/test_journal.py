"""The run journal: durable before each send, thread-safe, and never discards a file it cannot read."""

from __future__ import annotations

import csv
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from cpq_sync_gui import paths
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal import (
    SCHEMA_VERSION,
    SENDING,
    JournalError,
    NewRecord,
    RunJournal,
    journal_path,
)

REPO = Path(__file__).resolve().parents[2]


def _records(n: int, kind: str = "account") -> list[NewRecord]:
    return [NewRecord(f"001R{i:014d}", kind, f"Account {i}") for i in range(n)]


@pytest.fixture
def journal() -> RunJournal:
    with RunJournal() as opened:
        yield opened


def test_lives_in_the_data_dir_with_wal_and_full_sync(journal: RunJournal) -> None:
    assert journal.path == paths.data_dir() / "journal.sqlite3" == journal_path()
    conn = sqlite3.connect(journal.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
    assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_run_keeps_its_records_in_order_and_their_history(journal: RunJournal) -> None:
    run_id = journal.create_run(
        profile="uat",
        kind="accounts",
        engine="direct",
        records=_records(3),
        options={"concurrency": 4},
    )
    assert [r.record_id for r in journal.records_of(run_id)] == [
        "001R00000000000000",
        "001R00000000000001",
        "001R00000000000002",
    ]
    first = "001R00000000000000"
    journal.record_transition(run_id, first, RecordState.RUNNING)
    journal.mark_sending(
        run_id,
        first,
        attempt=1,
        idempotency_key="cpqsync-abc",
        payload_hash="f00d",
        payload={"name": "Acme"},
        track_id="cpqs-t1",
    )
    row = journal.record(run_id, first)
    assert row is not None
    assert (row.state, row.attempt, row.idempotency_key) == (SENDING, 1, "cpqsync-abc")
    assert row.payload == {"name": "Acme"}
    journal.mark_result(
        run_id,
        first,
        RecordState.SYNCED,
        zuora_id="z1",
        zuora_number="A00000001",
        request_id="req-1",
        detail="created",
    )
    row = journal.record(run_id, first)
    assert row is not None
    assert row.is_final
    assert (row.zuora_number, row.request_id, row.track_id) == ("A00000001", "req-1", "cpqs-t1")
    states = [h.new_state for h in journal.history(run_id, first)]
    assert states == ["queued", "running", "sending", "synced"]
    summary = journal.run_summary(run_id)
    assert summary.total == 3
    assert summary.count(RecordState.SYNCED) == 1
    assert summary.count(RecordState.QUEUED) == 2
    assert summary.unfinished == 2
    assert summary.run.options == {"concurrency": 4}
    assert [r.record_id for r in journal.records_of(run_id, [RecordState.QUEUED])] == [
        "001R00000000000001",
        "001R00000000000002",
    ]


def test_unfinished_runs_are_found_and_finished_ones_are_not(journal: RunJournal) -> None:
    done = journal.create_run(profile="p", kind="orders", engine="direct", records=_records(1))
    journal.record_transition(done, "001R00000000000000", RecordState.SKIPPED)
    journal.finish_run(done, "finished")
    open_run = journal.create_run(profile="p", kind="orders", engine="direct", records=_records(2))
    assert [r.run_id for r in journal.unfinished_runs()] == [open_run]
    assert journal.run(done).status == "finished"
    assert {r.run_id for r in journal.list_runs()} == {done, open_run}


def test_prune_removes_only_old_finished_runs(journal: RunJournal) -> None:
    old = journal.create_run(profile="p", kind="accounts", engine="direct", records=_records(1))
    journal.record_transition(old, "001R00000000000000", RecordState.SYNCED)
    journal.finish_run(old, "finished")
    unfinished = journal.create_run(
        profile="p", kind="accounts", engine="direct", records=_records(1)
    )
    journal._conn.execute(
        "UPDATE runs SET started_at = '2001-01-01T00:00:00.000+00:00'"
    )  # both are "old"
    assert journal.prune(dt.timedelta(days=30)) == 1
    assert [r.run_id for r in journal.list_runs()] == [unfinished]
    assert journal.history(old) == []
    with pytest.raises(ValueError, match="timezone"):
        journal.prune(dt.datetime(2030, 1, 1))


def test_export_rows_and_csv(journal: RunJournal, tmp_path: Path) -> None:
    run_id = journal.create_run(profile="p", kind="accounts", engine="direct", records=_records(2))
    journal.record_transition(
        run_id, "001R00000000000001", RecordState.FAILED, error="Zuora said no: 'x'"
    )
    rows = journal.export_rows(run_id)
    assert [r["state"] for r in rows] == ["queued", "failed"]
    target = tmp_path / "out.csv"
    assert journal.export_csv(run_id, target) == 2
    with open(target, encoding="utf-8-sig", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert read[1]["error"] == "Zuora said no: 'x'"
    with pytest.raises(JournalError, match="no run"):
        journal.export_rows("nope")


def test_bulk_transitions_and_requeue(journal: RunJournal) -> None:
    run_id = journal.create_run(profile="p", kind="accounts", engine="direct", records=_records(3))
    ids = [r.record_id for r in journal.records_of(run_id)]
    journal.record_transitions(run_id, ids[1:], RecordState.CANCELLED, "Cancelled before sending.")
    assert [r.state for r in journal.records_of(run_id)] == ["queued", "cancelled", "cancelled"]
    journal.mark_sending(run_id, ids[0], attempt=2, idempotency_key="k", payload_hash="h")
    extra = NewRecord("001R00000000000099", "account", "Parent")
    journal.requeue(run_id, [NewRecord(ids[0], "account", "Account 0 again"), extra])
    rows = {r.record_id: r for r in journal.records_of(run_id)}
    assert rows[ids[0]].state == "queued"
    assert rows[ids[0]].attempt == 2  # kept: the record may have been sent
    assert rows[ids[0]].idempotency_key == "k"
    assert rows[extra.record_id].seq == 3


def test_many_threads_write_without_losing_anything(journal: RunJournal) -> None:
    run_id = journal.create_run(
        profile="p", kind="accounts", engine="direct", records=_records(200)
    )
    ids = [r.record_id for r in journal.records_of(run_id)]
    errors: list[BaseException] = []

    def work(chunk: list[str]) -> None:
        try:
            for record_id in chunk:
                journal.record_transition(run_id, record_id, RecordState.RUNNING)
                journal.mark_sending(
                    run_id, record_id, attempt=1, idempotency_key=record_id, payload_hash="h"
                )
                journal.mark_result(run_id, record_id, RecordState.SYNCED, zuora_number=record_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert journal.run_summary(run_id).counts == {"synced": 200}
    assert len(journal.history(run_id)) == 200 * 4


def test_unknown_states_are_refused(journal: RunJournal) -> None:
    run_id = journal.create_run(profile="p", kind="accounts", engine="direct", records=_records(1))
    with pytest.raises(ValueError, match="unknown record state"):
        journal.record_transition(run_id, "001R00000000000000", "done-ish")


# --- crash safety ---------------------------------------------------------------------------

_CRASHER = textwrap.dedent(
    """
    import os, sys
    from cpq_sync_gui.sync.journal import NewRecord, RunJournal
    from cpq_sync_gui.sync.events import RecordState

    journal = RunJournal(sys.argv[1])
    run_id = journal.create_run(
        profile="p", kind="accounts", engine="direct",
        records=[NewRecord(f"001C{i:014d}", "account") for i in range(5)],
    )
    journal.mark_sending(run_id, "001C00000000000000", attempt=1, idempotency_key="key-0",
                         payload_hash="h0")
    print(run_id, flush=True)
    # Die in the middle of a transaction: these changes were never committed.
    with journal._transaction() as conn:
        conn.execute("UPDATE records SET state = 'synced' WHERE run_id = ?", (run_id,))
        conn.execute("DELETE FROM history")
        os._exit(9)
    """
)


def test_a_process_killed_mid_transaction_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _CRASHER, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    run_id = done.stdout.strip()
    with RunJournal(path) as journal:
        states = {r.record_id: r.state for r in journal.records_of(run_id)}
        assert states["001C00000000000000"] == SENDING  # committed before the crash
        assert set(list(states.values())[1:]) == {"queued"}  # the uncommitted update is gone
        assert len(journal.history(run_id)) == 6
        assert [r.run_id for r in journal.unfinished_runs()] == [run_id]
        assert journal.record(run_id, "001C00000000000000").idempotency_key == "key-0"


# --- files it must not use --------------------------------------------------------------------


def test_a_sqlite_file_that_is_not_a_journal_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE runs (run_id TEXT)")
    conn.execute("INSERT INTO runs VALUES ('old-run')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="not a CPQ Sync run journal"):
        RunJournal(path)
    assert path.read_bytes() == before


def test_an_older_schema_is_reported_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite3"
    RunJournal(path).close()
    before = path.read_bytes()
    # This version pretends to be the next one, so the file just written is "older".
    monkeypatch.setattr("cpq_sync_gui.sync.journal_format.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(JournalError, match=r"older CPQ Sync \(journal format 1;") as caught:
        RunJournal(path)
    assert "left untouched" in str(caught.value)
    assert path.read_bytes() == before


def test_a_newer_schema_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    RunJournal(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="newer CPQ Sync"):
        RunJournal(path)


def test_a_corrupted_file_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database at all, just some text " * 200)
    before = path.read_bytes()
    with pytest.raises(JournalError, match="damaged") as caught:
        RunJournal(path)
    assert str(path) in str(caught.value)
    assert "move that file aside" in str(caught.value)
    assert path.read_bytes() == before


def test_damaged_pages_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with RunJournal(path) as journal:
        journal.create_run(profile="p", kind="accounts", engine="direct", records=_records(300))
        journal._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for offset in range(2 * page_size, min(len(data), 6 * page_size)):
        data[offset] = 0x5A  # scribble over table pages, keep the header
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(JournalError, match=r"is damaged \(database disk image is malformed"):
        RunJournal(path)
    assert path.read_bytes() == before


def test_error_texts_are_redacted_before_they_reach_the_journal_file(tmp_path):
    from cpq_sync_gui.redact import register_secret
    from cpq_sync_gui.sync.events import RecordState
    from cpq_sync_gui.sync.journal import NewRecord, RunJournal

    secret = "journal-secret-Zx81-value"
    register_secret(secret)
    path = tmp_path / "journal.sqlite3"
    journal = RunJournal(path)
    run_id = journal.create_run(
        profile="profile",
        kind="accounts",
        engine="direct",
        records=[NewRecord("0015g000000AAAAAAA", "account", "Acme")],
    )
    journal.record_transition(
        run_id, "0015g000000AAAAAAA", RecordState.FAILED,
        error=f"HTTP 401 for https://x/services?access_token={secret} (client_secret={secret})",
    )  # fmt: skip
    journal.close()
    written = [file for file in tmp_path.glob("journal.sqlite3*") if file.is_file()]
    assert written
    for file in written:
        assert secret.encode() not in file.read_bytes(), file.name
