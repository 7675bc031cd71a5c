"""Data Loader-style result files: every row in the right file, Excel-readable, no secrets."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cpq_sync_gui.redact import register_secret
from cpq_sync_gui.sync.engine_api import RecordResult
from cpq_sync_gui.sync.events import RecordState
from cpq_sync_gui.sync.journal import NewRecord, RunJournal
from cpq_sync_gui.sync_export import (
    ERROR_HEADERS,
    SUCCESS_HEADERS,
    ExportRow,
    export_rows,
    write_results,
)


def _read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, so Excel reads accents"
    with open(path, encoding="utf-8-sig", newline="") as stream:
        return list(csv.reader(stream))


def _ids(rows: list[list[str]]) -> list[str]:
    return [row[0] for row in rows[1:]]


ALL_STATES = [
    ("001000000000001AAA", RecordState.SYNCED, "Created account A00000001.", "A00000001"),
    ("001000000000002AAA", RecordState.ACCEPTED, "The connector accepted it.", None),
    ("001000000000003AAA", RecordState.SKIPPED, "already in Zuora as A00000007", "A00000007"),
    ("001000000000004AAA", RecordState.FAILED, "Not sent: the billing country is missing.", None),
    ("001000000000005AAA", RecordState.TIMED_OUT, "Did not appear in Zuora within 120 s.", None),
    ("001000000000006AAA", RecordState.CANCELLED, "Cancelled before sending.", None),
]


def test_every_state_lands_in_exactly_one_file_with_data_loader_headers(tmp_path):
    results = [
        RecordResult(rid, "account", f"Account {n}", state, detail, None, number)
        for n, (rid, state, detail, number) in enumerate(ALL_STATES)
    ]
    files = write_results(export_rows(results), tmp_path, "run")
    success, error = _read(files.success_path), _read(files.error_path)
    assert tuple(success[0]) == SUCCESS_HEADERS
    assert tuple(error[0]) == ERROR_HEADERS
    assert success[0][0] == error[0][0] == "ID"
    assert error[0][-1] == "ERROR"
    assert _ids(success) == [ALL_STATES[0][0], ALL_STATES[1][0], ALL_STATES[2][0]]
    assert _ids(error) == [ALL_STATES[3][0], ALL_STATES[4][0], ALL_STATES[5][0]]
    assert set(_ids(success)).isdisjoint(_ids(error))
    assert (files.successes, files.errors) == (3, 3)
    by_id = {row[0]: row for row in success[1:] + error[1:]}
    assert by_id[ALL_STATES[0][0]][4:6] == ["A00000001", "Synced"]
    assert by_id[ALL_STATES[2][0]][5:] == ["Skipped", "already in Zuora as A00000007"]
    assert by_id[ALL_STATES[3][0]][5:] == ["Failed", "Not sent: the billing country is missing."]
    assert by_id[ALL_STATES[4][0]][5] == "Timed out"
    assert by_id[ALL_STATES[5][0]][5] == "Cancelled"
    assert by_id[ALL_STATES[0][0]][1] == "Account"


def test_unfinished_journal_rows_go_to_the_error_file_and_the_final_reason_wins(tmp_path):
    with RunJournal() as journal:
        ids = [f"801000000000{n:03d}AAA" for n in range(4)]
        run_id = journal.create_run(
            profile="p",
            kind="orders",
            engine="direct",
            records=[NewRecord(i, "order", f"Order 0000{n}") for n, i in enumerate(ids)],
        )
        journal.mark_sending(run_id, ids[0], attempt=1, idempotency_key="k", payload_hash="h")
        journal.record_transition(run_id, ids[0], RecordState.RUNNING, error="HTTP 500 first")
        journal.record_transition(
            run_id, ids[0], RecordState.SYNCED, detail="Created order O-1.", zuora_number="O-1"
        )
        journal.record_transition(
            run_id,
            ids[1],
            RecordState.FAILED,
            detail="Gave up after 2 attempts: HTTP 500",
            error="Gave up after 2 attempts: HTTP 500",
        )
        journal.mark_sending(run_id, ids[2], attempt=1, idempotency_key="k2", payload_hash="h")
        rows = export_rows(journal.records_of(run_id))
    files = write_results(rows, tmp_path / "out", "orders")
    success, error = _read(files.success_path), _read(files.error_path)
    assert _ids(success) == [ids[0]]
    assert success[1][5:] == ["Synced", "Created order O-1."]  # not the earlier 500
    assert _ids(error) == ids[1:]
    statuses = {row[0]: row[5] for row in error[1:]}
    assert statuses == {ids[1]: "Failed", ids[2]: "Not finished", ids[3]: "Not finished"}
    assert error[1][6] == "Gave up after 2 attempts: HTTP 500"


def test_unicode_formulas_newlines_and_secrets_are_safe_for_excel(tmp_path):
    secret = "s3cr3t-Client-Secret-Value-42"
    register_secret(secret)
    rows = [
        ExportRow("001000000000001AAA", "account", "Société Générale — 東京", "synced", "ok"),
        ExportRow("001000000000002AAA", "account", '=HYPERLINK("http://x")', "synced", "ok"),
        ExportRow(
            "001000000000003AAA",
            "account",
            "Acme",
            "failed",
            f"Internal error: RuntimeError: POST https://rest.x/v1/accounts?client_secret={secret}"
            "\nTraceback line two\nAuthorization: Bearer abcdefghijklmnop1234",
        ),
    ]
    files = write_results(rows, tmp_path, "run")
    text = files.success_path.read_text("utf-8-sig") + files.error_path.read_text("utf-8-sig")
    assert "Société Générale — 東京" in text
    assert secret not in text
    assert "abcdefghijklmnop1234" not in text
    success, error = _read(files.success_path), _read(files.error_path)
    assert success[2][2] == '\'=HYPERLINK("http://x")'
    assert success[2][0] == "001000000000002AAA"  # ids are never touched
    assert "\n" not in error[1][6]
    assert "Traceback line two" in error[1][6]
    assert files.error_path.read_bytes().count(b"\r\n") == 2  # header + one row, CRLF


def test_both_files_are_written_even_when_one_is_empty_and_replace_old_ones(tmp_path):
    (tmp_path / "run-error.csv").write_text("stale", encoding="utf-8")
    files = write_results(
        [ExportRow("001000000000001AAA", "account", "A", "synced", "Created account A1.")],
        tmp_path,
        "run",
    )
    assert _read(files.error_path) == [list(ERROR_HEADERS)]
    assert files.errors == 0
    assert sorted(p.name for p in tmp_path.glob("run-*")) == ["run-error.csv", "run-success.csv"]
    assert not list(tmp_path.glob(".run-*"))  # no temporary file left behind


@pytest.mark.parametrize("state", ["queued", "running", "sending", "bogus"])
def test_states_that_are_not_final_are_never_reported_as_success(tmp_path, state):
    files = write_results([ExportRow("001000000000001AAA", "account", "A", state)], tmp_path)
    assert files.successes == 0
    assert _ids(_read(files.error_path)) == ["001000000000001AAA"]
