"""A `cpq-sync sync` killed with -9, stopped with Ctrl+C (once, twice), then resumed or retried:
every record ends final and truthful, nothing is lost, nothing is created twice in Zuora."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sync.journal import RunJournal
from cpq_sync_gui.sync.throttle import DEFAULT_CONCURRENCY
from tests.helpers.cli_sync_rig import (
    CliRig,
    cli_rigs,
    json_lines,
    records_of,
    summary_of,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="kill -9 and SIGINT are POSIX signals"),
]

FINAL = {"synced", "accepted", "skipped", "failed", "cancelled", "timed_out"}
ZUORA_LATENCY_MS = 50  # every Zuora answer takes this long: a run lasts a few seconds


@pytest.fixture
def cli_rig(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> Iterator[Callable[..., CliRig]]:
    with cli_rigs(make_sandbox, tmp_path, ZUORA_LATENCY_MS) as make:
        yield make


def _start(
    rig: CliRig, ids: list[str], work: Path, *, synced_first: int = 0
) -> tuple[subprocess.Popen[str], Path, Path, str]:
    """Start `cpq-sync sync` in the background; return once its run has started (and, with
    ``synced_first``, once that many records are synced): the child, its outputs, the run id."""
    out, err = work / "sync.out", work / "sync.err"
    with out.open("w", encoding="utf-8") as stdout, err.open("w", encoding="utf-8") as stderr:
        child = rig.popen(
            "sync", "accounts", "--profile", rig.profile, "--ids-file", str(rig.ids_file(ids)),
            "--json", stdout=stdout, stderr=stderr,
        )  # fmt: skip
    run_id = _wait("the run to start", lambda: _run_id(out), child, err)
    if synced_first:

        def synced() -> bool:
            return out.read_text(encoding="utf-8").count('"state": "synced"') >= synced_first

        _wait(f"{synced_first} synced records", synced, child, err)
    return child, out, err, run_id


def _wait(what: str, check: Callable[[], Any], child: subprocess.Popen[str], err: Path) -> Any:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if child.poll() is not None:
            pytest.fail(f"cpq-sync ended before {what}: {err.read_text(encoding='utf-8')}")
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def _run_id(out: Path) -> str | None:
    text = out.read_text(encoding="utf-8")
    if "\n" not in text:
        return None
    first = json.loads(text.splitlines()[0])
    assert first["type"] == "run"
    return str(first["run_id"])


def _states(journal: RunJournal, run_id: str) -> dict[str, str]:
    return {r.record_id: r.state for r in journal.records_of(run_id)}


def _assert_zuora_matches_the_journal(rig: CliRig, journal: RunJournal, run_ids: list[str]) -> None:
    """Synced means in Zuora exactly once (with the journaled number); anything else, not there."""
    zuora = rig.sandbox.zuora
    assert zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}
    final: dict[str, Any] = {}
    for run_id in run_ids:  # later runs (retries) override earlier outcomes
        for row in journal.records_of(run_id):
            if row.record_id not in final or row.state in ("synced", "skipped"):
                final[row.record_id] = row
    synced = 0
    for record_id, row in final.items():
        found = [a["accountNumber"] for a in zuora.accounts_by_crm_id(record_id)]
        if row.state in ("synced", "skipped"):
            assert found == [row.zuora_number], (row.state, row.detail)
            synced += 1
        else:
            assert found == [], (row.state, row.detail)
    assert zuora.account_count() == synced


def test_kill_9_mid_run_then_resume_loses_nothing_and_duplicates_nothing(
    cli_rig: Callable[..., CliRig], tmp_path: Path
) -> None:
    rig = cli_rig(accounts=500, orders=10)
    ids = rig.ids("Account")
    assert len(ids) == 500
    began = time.monotonic()
    child, _out, err, run_id = _start(rig, ids, tmp_path)
    with rig.journal() as journal:

        def mid_run() -> bool:
            states = list(_states(journal, run_id).values())
            done = sum(1 for s in states if s in FINAL)
            return done >= 60 and "sending" in states  # some done, some on their way

        _wait("records to be done and in flight", mid_run, child, err)
        child.send_signal(signal.SIGKILL)  # kill -9: no clean-up of any kind
        child.wait(timeout=10)
        killed_after = time.monotonic() - began
        assert child.returncode == -signal.SIGKILL
        time.sleep(1.0)  # requests already on the wire still land in the sandbox
        at_kill = _states(journal, run_id)
        assert journal.run(run_id).status == "running"
    unfinished = {i for i, s in at_kill.items() if s not in FINAL}
    in_flight = {i for i, s in at_kill.items() if s == "sending"}
    created_unknown = {i for i in in_flight if rig.sandbox.zuora.accounts_by_crm_id(i)}
    assert set(at_kill) == set(ids)
    assert in_flight
    assert unfinished
    log_mark = len(rig.sandbox.log.entries())

    listed = json.loads(rig.run("runs", "list", "--json").stdout)["runs"]
    assert [(r["run_id"], r["status"], r["unfinished"]) for r in listed] == [
        (run_id, "running", len(unfinished))
    ]

    began = time.monotonic()
    resumed = rig.run("runs", "resume", run_id, "--json")
    resume_seconds = time.monotonic() - began
    lines = json_lines(resumed.stdout)
    records = records_of(lines)
    summary = summary_of(lines)
    assert set(records) == unfinished  # exactly what had not finished, nothing redone
    assert summary["run_id"] == run_id
    assert summary["total"] == 500
    assert summary["status"] == "finished"

    with rig.journal() as journal:
        after = _states(journal, run_id)
        assert set(after) == set(ids)  # zero lost
        assert set(after.values()) <= FINAL
        for record_id in set(ids) - unfinished:
            assert after[record_id] == at_kill[record_id]  # what was done stays done
        expected = 0 if set(after.values()) <= {"synced", "skipped"} else 1
        assert resumed.returncode == summary["exit_code"] == expected, resumed.stderr
        _assert_zuora_matches_the_journal(rig, journal, [run_id])
        for record_id in created_unknown:  # created, but the answer died with the process
            row = journal.record(run_id, record_id)
            assert row is not None
            assert row.state == "synced"
            assert row.detail.startswith("Found in Zuora"), row.detail
    # Records that may have been sent were looked up first: none of them was POSTed again.
    posted_again = [
        json.loads(e.body)["crmId"]
        for e in rig.sandbox.log.entries()[log_mark:]
        if e.service == "zuora" and e.method == "POST" and e.path == "/v1/accounts"
    ]
    assert not set(posted_again) & created_unknown
    assert len(posted_again) == len(set(posted_again))
    print(
        f"\nkill -9 after {killed_after:.1f} s: {500 - len(unfinished)} done, {len(in_flight)} in "
        f"flight ({len(created_unknown)} already created in Zuora); resume finished "
        f"{len(unfinished)} in {resume_seconds:.1f} s"
    )


def test_ctrl_c_cancels_at_once_and_retry_failed_sends_the_rest(
    cli_rig: Callable[..., CliRig], tmp_path: Path
) -> None:
    rig = cli_rig(accounts=150, orders=10)
    ids = rig.ids("Account")
    child, out, err, run_id = _start(rig, ids, tmp_path, synced_first=10)
    log_mark = len(rig.sandbox.log.entries())
    child.send_signal(signal.SIGINT)
    child.wait(timeout=30)
    assert child.returncode == 1
    # Nothing new is sent: only calls already in flight (or started before the signal was
    # handled) reach Zuora: at most two per worker, of the 100 or so accounts left.
    created_after = [
        e
        for e in rig.sandbox.log.entries()[log_mark:]
        if e.service == "zuora" and e.method == "POST" and e.path == "/v1/accounts"
    ]
    assert len(created_after) <= 2 * DEFAULT_CONCURRENCY, len(created_after)
    assert "Cancelling: nothing new is sent" in err.read_text(encoding="utf-8")
    lines = json_lines(out.read_text(encoding="utf-8"))
    records = records_of(lines)
    summary = summary_of(lines)
    assert set(records) == set(ids)  # every record got an outcome line
    assert summary["status"] == "cancelled"
    cancelled = {i for i, r in records.items() if r["state"] == "cancelled"}
    assert len(cancelled) > 50
    for record_id in cancelled:  # never sent: cancelled, or its parent account was
        error = records[record_id]["error"]
        assert error == "Cancelled before sending." or error.endswith(" was cancelled."), error
    with rig.journal() as journal:
        states = _states(journal, run_id)
        assert set(states.values()) <= FINAL  # no record left queued or in flight
        assert {i for i, s in states.items() if s == "cancelled"} == cancelled
        _assert_zuora_matches_the_journal(rig, journal, [run_id])

    retried = rig.run("runs", "retry-failed", run_id, "--json")
    lines = json_lines(retried.stdout)
    retry_id = lines[0]["run_id"]
    assert retry_id != run_id
    again = records_of(lines)
    assert cancelled <= set(again)
    assert {i for i, r in records.items() if r["state"] == "synced"}.isdisjoint(again)
    assert retried.returncode == summary_of(lines)["exit_code"]
    shown = json.loads(rig.run("runs", "show", retry_id, "--json").stdout)
    assert shown["parent_run_id"] == run_id
    with rig.journal() as journal:
        _assert_zuora_matches_the_journal(rig, journal, [run_id, retry_id])
    still_failed = [r for r in again.values() if r["state"] != "synced"]
    assert all(r["error"].startswith("Not sent: ") for r in still_failed)  # data problems only


def test_a_second_ctrl_c_quits_at_once_and_resume_finishes_the_run(
    cli_rig: Callable[..., CliRig], tmp_path: Path
) -> None:
    rig = cli_rig(accounts=150, orders=10)
    ids = rig.ids("Account")
    child, out, err, run_id = _start(rig, ids, tmp_path, synced_first=10)
    child.send_signal(signal.SIGINT)
    time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    child.wait(timeout=10)
    assert child.returncode == 130
    assert f"cpq-sync runs resume {run_id}" in err.read_text(encoding="utf-8")
    assert '"type": "summary"' not in out.read_text(encoding="utf-8")  # it quit at once
    time.sleep(0.5)
    with rig.journal() as journal:
        at_exit = _states(journal, run_id)
    unfinished = {i for i, s in at_exit.items() if s not in FINAL}
    assert unfinished  # it did not wait for the run to settle

    resumed = rig.run("runs", "resume", run_id, "--json")
    lines = json_lines(resumed.stdout)
    assert set(records_of(lines)) == unfinished
    assert resumed.returncode == summary_of(lines)["exit_code"]
    with rig.journal() as journal:
        assert set(_states(journal, run_id).values()) <= FINAL
        assert set(_states(journal, run_id)) == set(ids)
        _assert_zuora_matches_the_journal(rig, journal, [run_id])


def test_a_run_that_is_running_cannot_be_resumed_or_retried_at_the_same_time(
    cli_rig: Callable[..., CliRig], tmp_path: Path
) -> None:
    rig = cli_rig(accounts=120, orders=10)
    ids = rig.ids("Account")
    child, _out, err, run_id = _start(rig, ids, tmp_path)
    for command in ("resume", "retry-failed"):
        refused = rig.run("runs", command, run_id)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "is being run right now by another cpq-sync command" in refused.stderr
        assert f"process {child.pid}" in refused.stderr
    child.wait(timeout=120)
    assert child.returncode == 1, err.read_text(encoding="utf-8")  # a few accounts lack data
    creates = rig.creates()
    after = rig.run("runs", "resume", run_id)
    assert after.returncode == 1  # nothing unfinished; the run's outcome stays what it was
    assert "has nothing unfinished" in after.stdout
    assert rig.creates() == creates
    with rig.journal() as journal:
        _assert_zuora_matches_the_journal(rig, journal, [run_id])
