"""`cpq-sync sync …` and `cpq-sync runs …` as real subprocesses against the sandbox over HTTPS."""

from __future__ import annotations

import csv
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sync.journal import journal_path
from tests.helpers.cli_sync_rig import (
    CliRig,
    json_lines,
    make_cli_rig,
    records_of,
    summary_of,
)

SUCCESS = {"synced", "accepted", "skipped"}


@pytest.fixture
def cli_rig(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> Iterator[Callable[..., CliRig]]:
    rigs: list[CliRig] = []

    def make(*profile_options: str, **config: object) -> CliRig:
        rig = make_cli_rig(make_sandbox(**config), tmp_path / f"rig-{len(rigs)}", *profile_options)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def _expected_exit(records: dict[str, dict]) -> int:
    return 0 if all(r["state"] in SUCCESS for r in records.values()) else 1


def _assert_truthful(rig: CliRig, records: dict[str, dict]) -> None:
    """Synced records are in Zuora exactly once, as reported; failed ones are not there."""
    zuora = rig.sandbox.zuora
    assert zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}
    for record in records.values():
        if record["record_kind"] == "account":
            found = [a["accountNumber"] for a in zuora.accounts_by_crm_id(record["record_id"])]
            if record["state"] in ("synced", "skipped"):
                assert found == [record["zuora_number"]], record
            else:
                assert found == [], record
        elif record["state"] in ("synced", "skipped"):
            assert len(zuora.orders_by_number(record["zuora_number"])) == 1, record
        else:
            assert record["error"], record


# --- the acceptance runs ----------------------------------------------------------------------


@pytest.mark.slow
def test_200_accounts_then_300_orders(cli_rig: Callable[..., CliRig]) -> None:
    rig = cli_rig(accounts=200, orders=300)
    account_ids = rig.ids("Account")
    began = time.monotonic()
    accounts = rig.sync("accounts", "--ids-file", str(rig.ids_file(account_ids)), "--json")
    account_seconds = time.monotonic() - began
    lines = json_lines(accounts.stdout)  # every stdout line is JSON
    assert lines[0]["type"] == "run"
    records = records_of(lines)
    summary = summary_of(lines)
    assert set(records) == set(account_ids)
    assert accounts.returncode == _expected_exit(records) == summary["exit_code"], accounts.stderr
    assert summary["total"] == 200
    assert sum(summary["counts"].values()) == 200
    synced = [r for r in records.values() if r["state"] == "synced"]
    assert len(synced) >= 170
    assert all(r["zuora_number"] and r["request_id"] for r in synced)
    failed = [r for r in records.values() if r["state"] == "failed"]
    assert failed
    assert all(r["error"].startswith("Not sent: ") for r in failed)
    assert rig.sandbox.zuora.account_count() == len(synced)
    _assert_truthful(rig, records)
    # The plan's problems were listed, per record, before the run started.
    before_run = accounts.stderr.split("Run ", 1)[0]
    for record in failed:
        assert record["label"] in before_run

    order_ids = rig.ids("Order")
    queries = rig.salesforce_queries()
    began = time.monotonic()
    orders = rig.sync("orders", "--ids", ",".join(order_ids), "--json", "--concurrency", "8")
    order_seconds = time.monotonic() - began
    order_queries = rig.salesforce_queries() - queries
    lines = json_lines(orders.stdout)
    records = records_of(lines)
    assert set(order_ids) <= set(records)
    assert orders.returncode == _expected_exit(records) == summary_of(lines)["exit_code"]
    synced_orders = [
        r for r in records.values() if r["record_kind"] == "order" and r["state"] == "synced"
    ]
    assert len(synced_orders) >= 230
    assert rig.sandbox.zuora.order_count() == len(synced_orders)
    _assert_truthful(rig, records)
    assert order_queries <= 10, order_queries  # a login, then IN lists of 200, not one per order
    print(
        f"\nCLI: 200 accounts in {account_seconds:.1f} s, 300 orders in {order_seconds:.1f} s "
        f"with {order_queries} Salesforce queries"
    )


def test_a_second_run_creates_nothing_and_reports_already_in_zuora(
    cli_rig: Callable[..., CliRig],
) -> None:
    rig = cli_rig(accounts=30, orders=40)
    ids_file = str(rig.ids_file(rig.ids("Order")))
    first = records_of(json_lines(rig.sync("orders", "--ids-file", ids_file, "--json").stdout))
    creates = rig.creates()
    assert creates > 0
    second_run = rig.sync("orders", "--ids-file", ids_file, "--json")
    second = records_of(json_lines(second_run.stdout))
    assert rig.creates() == creates
    for record_id, record in first.items():
        if record["record_kind"] == "order" and record["state"] == "synced":
            again = second[record_id]
            assert again["state"] == "skipped", again
            assert "already in Zuora" in again["detail"]
            assert again["zuora_number"] == record["zuora_number"]
    synced_accounts = [
        r["record_id"]
        for r in first.values()
        if r["record_kind"] == "account" and r["state"] == "synced"
    ]
    assert synced_accounts
    accounts = rig.sync("accounts", "--ids", ",".join(synced_accounts), "--json")
    assert accounts.returncode == 0, accounts.stderr  # all skipped is success
    outcome = records_of(json_lines(accounts.stdout))
    assert {r["state"] for r in outcome.values()} == {"skipped"}
    assert all("already in Zuora" in r["detail"] for r in outcome.values())
    assert rig.creates() == creates
    text = rig.sync("accounts", "--ids", ",".join(synced_accounts[:3]))
    assert text.returncode == 0
    assert text.stdout.count("Skipped") >= 3


def test_update_existing_updates_accounts_in_place(cli_rig: Callable[..., CliRig]) -> None:
    rig = cli_rig(accounts=20, orders=5)
    ids = _sendable_accounts(rig)[:3]
    first = rig.sync("accounts", "--ids", ",".join(ids))
    assert first.returncode == 0, first.stdout + first.stderr
    creates = rig.creates()
    updated = rig.sync("accounts", "--ids", ",".join(ids), "--update-existing", "--json")
    records = records_of(json_lines(updated.stdout))
    assert rig.creates() == creates  # nothing new in Zuora
    assert rig.sandbox.log.count("zuora", "PUT", "/v1/accounts/*") == 3
    assert {r["state"] for r in records.values()} == {"synced"}, records
    assert all(r["detail"].startswith("Updated account") for r in records.values())
    assert updated.returncode == 0


def test_dry_run_prints_the_plan_and_payloads_and_sends_nothing(
    cli_rig: Callable[..., CliRig],
) -> None:
    rig = cli_rig(accounts=30, orders=40)
    dry = rig.sync("orders", "--where", "Id != null", "--dry-run", "--json")
    lines = json_lines(dry.stdout)
    planned = [line for line in lines if line["type"] == "planned"]
    plan = lines[-1]
    assert plan["type"] == "plan"
    assert len(planned) == plan["counts"]["total"]
    assert {p["record_id"] for p in planned} >= set(rig.ids("Order"))
    creates = [p for p in planned if p["action"] == "create" and not p["blocked"]]
    assert creates
    assert all(p["payload"] for p in creates)
    orders = [p for p in creates if p["record_kind"] == "order"]
    assert orders
    assert all(p["payload"]["orderNumber"] for p in orders)
    assert dry.returncode == (1 if plan["counts"]["blocked"] else 0)
    text = rig.sync("orders", "--where", "Id != null", "--dry-run")
    assert "Dry run: nothing was sent." in text.stdout
    assert "[cannot be sent]" in text.stdout  # each problem, under its record
    # Zuora was read (token, look-ups) but nothing was written, and nothing was journaled.
    writes = [
        e
        for e in rig.sandbox.log.entries("zuora")
        if e.method in ("POST", "PUT", "PATCH", "DELETE")
        and e.path not in ("/oauth/token", "/v1/action/query", "/v1/action/queryMore")
    ]
    assert writes == []
    assert rig.sandbox.zuora.account_count() == 0
    assert rig.sandbox.zuora.order_count() == 0
    listed = rig.run("runs", "list", "--json")
    assert json.loads(listed.stdout) == {"runs": []}


@pytest.mark.slow
def test_1000_orders_are_read_with_about_10_salesforce_queries(
    cli_rig: Callable[..., CliRig],
) -> None:
    rig = cli_rig(accounts=200, orders=1000)
    before = rig.salesforce_queries()
    dry = rig.sync("orders", "--where", "Id != null", "--dry-run", "--json", timeout=600)
    queries = rig.salesforce_queries() - before
    plan = json_lines(dry.stdout)[-1]
    assert len([1 for line in json_lines(dry.stdout) if line.get("record_kind") == "order"]) == 1000
    assert queries <= 11, queries  # the --where selection + the plan's ~10
    assert plan["salesforce_queries"] <= 10
    print(f"\nCLI: 1,000 orders selected and planned with {queries} Salesforce queries")


# --- usage and configuration errors: exit 2, the problem named, nothing sent ------------------


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ["accounts", "--ids", "0015g000Hl89dJk,not-an-id"],
            ["'not-an-id' is not a Salesforce id"],
        ),
        (
            ["accounts", "--ids", "0015g000Hl89dJk,0015g000Hl89dJkAIX"],
            ["'0015g000Hl89dJkAIX' is not a valid Salesforce id", "should be AII"],
        ),
        (["accounts", "--ids", "8015g000mNUZjpq"], ["is an Order id, not an Account id"]),
        (["orders", "--where", "Name ="], ["--where", "MALFORMED_QUERY"]),
        (["orders", "--where", "Nope__c = 1"], ["--where", "INVALID_FIELD", "Nope__c"]),
        (["accounts", "--ids", "0015g000Hl89dJk", "--concurrency", "17"], ["between 1 and 16"]),
        (["accounts", "--ids-file", "no-such-file.csv"], ["--ids-file", "Could not read"]),
    ],
)
def test_usage_errors_exit_2_and_name_the_problem(
    cli_rig: Callable[..., CliRig], arguments: list[str], expected: list[str]
) -> None:
    rig = cli_rig()
    kind, *rest = arguments
    result = rig.sync(kind, *rest)
    assert result.returncode == 2, result.stdout + result.stderr
    for text in expected:
        assert text in result.stderr
    assert rig.creates() == 0
    assert "Traceback" not in result.stderr


def test_unknown_profile_and_unknown_run_exit_2(cli_rig: Callable[..., CliRig]) -> None:
    rig = cli_rig()
    unknown = rig.run(
        "sync", "accounts", "--profile", "No Such Profile", "--ids", "0015g000Hl89dJk"
    )
    assert unknown.returncode == 2
    assert "There is no profile named 'No Such Profile'" in unknown.stderr
    for command in (["show"], ["resume"], ["retry-failed"], ["export", "--csv", "x.csv"]):
        result = rig.run("runs", command[0], "20990101-000000-abcdef", *command[1:])
        assert result.returncode == 2, command
        assert "There is no run '20990101-000000-abcdef'" in result.stderr
    assert rig.creates() == 0


def test_a_damaged_journal_exits_2_with_the_journal_message_and_is_left_alone(
    cli_rig: Callable[..., CliRig],
) -> None:
    rig = cli_rig()
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    damaged = b"SQLite format 3\x00" + os.urandom(3000)
    path.write_bytes(damaged)
    for args in (["runs", "list"], ["runs", "show", "last"]):
        result = rig.run(*args)
        assert result.returncode == 2, result.stderr
        assert str(path) in result.stderr
        assert "left untouched" in result.stderr or "damaged" in result.stderr
    result = rig.sync("accounts", "--ids", ",".join(rig.ids("Account")[:3]))
    assert result.returncode == 2
    assert "journal" in result.stderr
    assert rig.creates() == 0  # no journal, nothing sent
    assert path.read_bytes() == damaged


def _sendable_accounts(rig: CliRig) -> list[str]:
    """Accounts the plan would create without problems and without a parent to create first."""
    dry = rig.sync("accounts", "--where", "Id != null", "--dry-run", "--json")
    return [
        line["record_id"]
        for line in json_lines(dry.stdout)
        if line["type"] == "planned"
        and line["action"] == "create"
        and not line["problems"]
        and not line["depends_on"]
    ]


def test_a_production_profile_needs_yes_or_the_typed_name(cli_rig: Callable[..., CliRig]) -> None:
    rig = cli_rig("--treat-as-production")
    ids = _sendable_accounts(rig)[:4]  # a dry run needs no confirmation: it sends nothing
    assert len(ids) == 4
    assert rig.creates() == 0
    refused = rig.sync("accounts", "--ids", ",".join(ids))
    assert refused.returncode == 2
    assert "PRODUCTION" in refused.stderr
    assert "--yes" in refused.stderr
    assert rig.creates() == 0

    if sys.platform != "win32":
        import pty

        for answer, sent in (("not the name", False), (rig.profile, True)):
            leader, follower = pty.openpty()
            with rig.popen(
                "sync", "accounts", "--profile", rig.profile, "--ids", ids[0],
                stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            ) as child:  # fmt: skip
                os.close(follower)
                prompt = _read_until(child.stderr, "Type the profile name to go on:")
                assert "PRODUCTION" in prompt
                os.write(leader, (answer + "\n").encode())
                out, err = child.communicate(timeout=120)
            os.close(leader)
            assert (child.returncode == 0) is sent, out + err
            assert (rig.creates() == 1) is sent
    allowed = rig.sync("accounts", "--ids", ",".join(ids), "--yes", "--json")
    records = records_of(json_lines(allowed.stdout))
    assert allowed.returncode == 0, allowed.stderr
    assert set(records) == set(ids)
    assert rig.creates() == 4  # the one sent after typing the name was skipped this time


def _read_until(stream: object, marker: str, timeout: float = 60) -> str:
    """Read a child's pipe until ``marker`` (a prompt without a newline) appears."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, seen.decode(errors="replace")
            seen += chunk
    return seen.decode(errors="replace")


# --- runs: show, export, list, prune ------------------------------------------------------------


def test_runs_export_puts_every_row_in_the_right_file(
    cli_rig: Callable[..., CliRig], tmp_path: Path
) -> None:
    rig = cli_rig(accounts=60, orders=10)
    synced = rig.sync("accounts", "--where", "Id != null", "--json")
    lines = json_lines(synced.stdout)
    run_id = lines[0]["run_id"]
    records = records_of(lines)
    assert {r["state"] for r in records.values()} == {"synced", "failed"}

    target = tmp_path / "out" / "acme.csv"
    exported = rig.run("runs", "export", run_id, "--csv", str(target))
    assert exported.returncode == 0, exported.stderr
    success, error = tmp_path / "out" / "acme-success.csv", tmp_path / "out" / "acme-error.csv"
    assert not target.exists()
    rows = {}
    for path, wanted in ((success, SUCCESS), (error, None)):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                assert row["run_id"] == run_id
                assert row["record_id"] not in rows, "a record in both files"
                rows[row["record_id"]] = row
                if wanted is None:
                    assert row["state"] not in SUCCESS, row
                    assert row["error"], row
                else:
                    assert row["state"] in wanted, row
                    assert row["zuora_number"], row
    assert set(rows) == set(records)
    for record_id, record in records.items():
        assert rows[record_id]["state"] == record["state"]
        assert (rows[record_id]["zuora_number"] or None) == record["zuora_number"]

    shown = json.loads(rig.run("runs", "show", run_id, "--json").stdout)
    assert shown["total"] == len(records)
    assert {r["record_id"]: r["state"] for r in shown["records"]} == {
        k: v["state"] for k, v in records.items()
    }
    text = rig.run("runs", "show", "last")
    assert text.returncode == 0
    assert run_id in text.stdout
    assert "Not sent: " in text.stdout  # each failure's reason, under its record
    listed = json.loads(rig.run("runs", "list", "--json", "--limit", "5").stdout)
    assert [r["run_id"] for r in listed["runs"]] == [run_id]
    assert listed["runs"][0]["status"] == "finished"
    assert listed["runs"][0]["counts"] == {
        state: sum(1 for r in records.values() if r["state"] == state)
        for state in ("failed", "synced")
    }

    # A second run over the same records: the skipped ones are successes, in the success file.
    again = json_lines(rig.sync("accounts", "--where", "Id != null", "--json").stdout)
    assert rig.run("runs", "export", "last", "--csv", str(target)).returncode == 0
    with open(success, encoding="utf-8-sig", newline="") as handle:
        skipped = list(csv.DictReader(handle))
    with open(error, encoding="utf-8-sig", newline="") as handle:
        still_failed = list(csv.DictReader(handle))
    assert {r["run_id"] for r in skipped + still_failed} == {again[0]["run_id"]}
    assert {r["state"] for r in skipped} == {"skipped"}
    assert {r["record_id"] for r in skipped} == {
        i for i, r in records.items() if r["state"] == "synced"
    }
    assert {r["state"] for r in still_failed} == {"failed"}

    kept = rig.run("runs", "prune", "--older-than", "1")
    assert kept.returncode == 0
    assert "Deleted 0" in kept.stdout
    pruned = rig.run("runs", "prune", "--older-than", "0")
    assert pruned.returncode == 0
    assert "Deleted 2" in pruned.stdout
    assert json.loads(rig.run("runs", "list", "--json").stdout) == {"runs": []}


def test_plain_output_has_one_line_per_record_and_progress_lines(
    cli_rig: Callable[..., CliRig],
) -> None:
    rig = cli_rig(accounts=25, orders=5)
    ids = rig.ids("Account")
    result = rig.sync("accounts", "--ids", " ".join(ids))
    outcome_lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert len(outcome_lines) == 25
    assert outcome_lines[-1].startswith("[25/25]")
    assert any("-> Zuora A" in line for line in outcome_lines)
    failed = [line for line in outcome_lines if "] Failed " in line]
    assert failed  # a few sandbox accounts lack a country or state
    assert all("Not sent: " in line for line in failed)
    assert result.returncode == 1
    assert "progress: 25/25 done" in result.stderr
    assert "\r" not in result.stderr  # no bar when stderr is not a terminal
    assert "retry-failed" in result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_a_terminal_gets_a_live_progress_bar(cli_rig: Callable[..., CliRig]) -> None:
    import pty

    rig = cli_rig(accounts=40, orders=5, latency_ms=20)
    leader, follower = pty.openpty()
    with rig.popen(
        "sync", "accounts", "--profile", rig.profile, "--where", "Id != null",
        stdout=subprocess.DEVNULL, stderr=follower,
    ) as child:  # fmt: skip
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        child.wait(timeout=120)
    os.close(leader)
    text = seen.decode(errors="replace")
    assert child.returncode == 1
    assert "\r\x1b[K[" in text  # redrawn in place
    assert "40/40 100%" in text
    assert "ETA" in text
    assert "/s" in text


def test_the_connector_engine_through_the_cli(cli_rig: Callable[..., CliRig]) -> None:
    rig = cli_rig(accounts=20, orders=5)
    ids = rig.ids("Account")[:6]
    result = rig.sync("accounts", "--ids", ",".join(ids), "--engine", "connector", "--json")
    lines = json_lines(result.stdout)
    records = records_of(lines)
    assert lines[0]["engine"] == "connector"
    assert result.returncode == _expected_exit(records)
    sent = [r for r in records.values() if not (r["error"] or "").startswith("Not sent")]
    assert rig.sandbox.log.count("connector", "GET") == len(sent)  # one trigger per record
    for record in records.values():
        if record["state"] == "synced":
            assert "Synced by the connector" in record["detail"]
    assert any(r["state"] == "synced" for r in records.values())
    _assert_truthful(rig, records)
