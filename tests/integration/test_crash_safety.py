"""Crash safety: `cpq-sync sync` killed (-9) at random points — while planning, early, mid-run,
late, and again while resuming — for several seeds, then `cpq-sync runs resume` until done.

Nothing may be lost (every record the run was given ends in a final state in the journal) and
nothing may happen twice (the simulated Zuora tenant holds each account and order at most once,
and exactly the ones the journal says were synced). Some creates lose their answer on the way
back (reset after create), so a resume must look in Zuora before sending again.

The journal itself: a file from an older or newer CPQ Sync, one that is not a journal, random
bytes, or a truncated journal is reported in plain words by every `cpq-sync` command that needs
it, and its bytes are left exactly as they were.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sync.journal import RunJournal, journal_path
from cpq_sync_gui.sync.journal_format import JournalError, NewRecord
from tests.helpers.cli_sync_rig import REPO, CliRig, cli_rigs, json_lines, summary_of
from tests.integration.test_fault_matrix import assert_plain

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is a POSIX signal"),
]

FINAL = {"synced", "accepted", "skipped", "failed", "cancelled", "timed_out"}
ZUORA_LATENCY_MS = 40
FIGURES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def figures(artifacts_dir: Path) -> Iterator[None]:
    yield
    path = artifacts_dir / "crash-safety.json"
    path.write_text(json.dumps(dict(sorted(FIGURES.items())), indent=2) + "\n")


@pytest.fixture
def cli_rig(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> Iterator[Callable[..., CliRig]]:
    with cli_rigs(make_sandbox, tmp_path, ZUORA_LATENCY_MS) as make:
        yield make


# --- killing and resuming -------------------------------------------------------------------


class Child:
    """One cpq-sync process writing JSON lines to a file."""

    def __init__(self, rig: CliRig, work: Path, *args: str) -> None:
        FIGURES["cpq-sync processes started"] += 1
        number = FIGURES["cpq-sync processes started"]
        self.out = work / f"out-{number}.jsonl"
        self.err = work / f"err-{number}.txt"
        with self.out.open("w") as stdout, self.err.open("w") as stderr:
            self.process = rig.popen(*args, stdout=stdout, stderr=stderr)

    def run_id(self) -> str | None:
        text = self.out.read_text(encoding="utf-8")
        if "\n" not in text:
            return None
        first = json.loads(text.splitlines()[0])
        return str(first["run_id"]) if first.get("type") == "run" else None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # kill -9: no clean-up of any kind
            self.process.wait(timeout=30)
            FIGURES["kill -9"] += 1
        time.sleep(0.5)  # requests already on the wire still land in the sandbox

    def finish(self) -> subprocess.CompletedProcess[str]:
        self.process.wait(timeout=300)
        return subprocess.CompletedProcess(
            self.process.args,
            self.process.returncode,
            self.out.read_text(encoding="utf-8"),
            self.err.read_text(encoding="utf-8"),
        )


def _final_count(run_id: str) -> int:
    with RunJournal(journal_path()) as journal:
        return sum(1 for r in journal.records_of(run_id) if r.state in FINAL)


def _wait_for(what: str, check: Callable[[], Any], child: Child, limit_s: float = 120) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if child.process.poll() is not None:
            return check()  # it ended on its own before the kill point: that is fine too
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}: {child.err.read_text(encoding='utf-8')}")


def _kill_at_a_random_point(child: Child, rng: random.Random, mode: str, total: int) -> None:
    """Kill ``child`` while planning, or once ``k`` records are final (k chosen by ``mode``)."""
    if mode == "planning":
        time.sleep(rng.uniform(0.2, 1.0))  # the plan reads Salesforce and Zuora first
        child.kill()
        return
    run_id = _wait_for("the run to start", child.run_id, child)
    if run_id is None:
        child.kill()
        return
    fraction = {"early": (0.0, 0.1), "mid": (0.3, 0.7), "late": (0.8, 0.9)}[mode]
    target = int(total * rng.uniform(*fraction))
    _wait_for(f"{target} final records", lambda: _final_count(run_id) >= target, child)
    child.kill()


def _unfinished_runs() -> list[str]:
    with RunJournal(journal_path()) as journal:
        return [r.run_id for r in journal.unfinished_runs()]


def _assert_nothing_lost_nothing_twice(rig: CliRig, wanted: set[str]) -> dict[str, Any]:
    with RunJournal(journal_path()) as journal:
        runs = journal.list_runs(1000)
        assert [r.run_id for r in journal.unfinished_runs()] == []
        final: dict[str, Any] = {}
        for run in sorted(runs, key=lambda r: r.started_at):
            for row in journal.records_of(run.run_id):
                assert row.state in FINAL, (row.record_id, row.state)  # zero left in flight
                if row.record_id not in final or row.state in ("synced", "skipped"):
                    final[row.record_id] = row
    assert wanted <= set(final)  # zero lost: every record asked for has its outcome
    zuora = rig.sandbox.zuora
    assert zuora.duplicates() == {"accounts_by_crm_id": {}, "orders_by_number": {}}
    accounts = orders = 0
    for record_id, row in final.items():
        if row.record_kind == "account":
            found = [a["accountNumber"] for a in zuora.accounts_by_crm_id(record_id)]
            if row.state in ("synced", "skipped"):
                assert found == [row.zuora_number], (row.state, row.detail)
                accounts += 1
            else:
                assert found == [], (row.state, row.detail)
        elif row.state in ("synced", "skipped"):
            assert len(zuora.orders_by_number(row.zuora_number)) == 1, row
            orders += 1
        else:
            assert_plain(row.detail)
    assert zuora.account_count() == accounts  # nothing created that the journal does not know
    assert zuora.order_count() == orders
    return final


SEEDS = [
    # seed, what is synced, where the first kill lands, whether the first resume is killed too
    (101, "orders", "planning", False),
    (102, "orders", "early", True),
    (103, "accounts", "mid", True),
    (104, "orders", "late", False),
]


@pytest.mark.parametrize(("seed", "kind", "mode", "kill_resume"), SEEDS)
def test_killed_at_a_random_point_then_resumed_loses_nothing_and_duplicates_nothing(
    cli_rig: Callable[..., CliRig],
    tmp_path: Path,
    seed: int,
    kind: str,
    mode: str,
    kill_resume: bool,
) -> None:
    rng = random.Random(seed)
    rig = cli_rig(accounts=50, orders=60, seed=seed)
    # Some creates are done by Zuora but their answer is lost: only a look in Zuora can tell.
    rig.sandbox.faults.add("zuora", "POST", "/v1/accounts", "reset_after", 0.05)
    rig.sandbox.faults.add("zuora", "POST", "/v1/orders", "reset_after", 0.05)
    ids = rig.ids("Order" if kind == "orders" else "Account")
    concurrency = str(rng.choice([2, 4, 8]))
    child = Child(
        rig,
        tmp_path,
        "sync", kind, "--profile", rig.profile, "--ids-file", str(rig.ids_file(ids)),
        "--json", "--concurrency", concurrency,
    )  # fmt: skip
    _kill_at_a_random_point(child, rng, mode, len(ids))
    assert child.process.returncode == -signal.SIGKILL, child.err.read_text(encoding="utf-8")

    unfinished = _unfinished_runs()
    if not unfinished and child.run_id() is None:
        # Killed while planning: nothing was sent, nothing journaled. Run it again.
        assert rig.creates() == 0
        FIGURES["killed while planning"] += 1
        again = rig.sync(kind, "--ids-file", str(rig.ids_file(ids)), "--json")
        assert again.returncode in (0, 1), again.stderr
    resumes = 0
    while unfinished := _unfinished_runs():
        assert len(unfinished) == 1
        run_id = unfinished[0]
        resumes += 1
        assert resumes <= 4, "a run that resume cannot finish"
        resume = Child(rig, tmp_path, "runs", "resume", run_id, "--json")
        FIGURES["runs resume"] += 1
        if kill_resume and resumes == 1:
            left = len(ids) - _final_count(run_id)
            mark = _final_count(run_id) + int(left * rng.uniform(0.1, 0.6))
            _wait_for(
                "the resume to make progress",
                lambda run_id=run_id, mark=mark: _final_count(run_id) >= mark,
                resume,
            )
            resume.kill()
            assert resume.process.returncode == -signal.SIGKILL
            FIGURES["resumes killed"] += 1
            continue
        done = resume.finish()
        lines = json_lines(done.stdout)
        summary = summary_of(lines)
        assert summary["run_id"] == run_id
        assert summary["status"] == "finished"
        assert done.returncode == summary["exit_code"], done.stderr
        assert "Traceback" not in done.stderr

    final = _assert_nothing_lost_nothing_twice(rig, set(ids))
    FIGURES["records checked after kills"] += len(final)
    found_after_loss = sum(1 for row in final.values() if row.detail.startswith("Found in Zuora"))
    FIGURES["records found in Zuora after a lost answer or a kill"] += found_after_loss


# --- the journal file itself --------------------------------------------------------------------


def _journal_with_runs(path: Path, runs: int = 12) -> bytes:
    """A real journal holding some runs, closed cleanly (no -wal file), as bytes."""
    with RunJournal(path) as journal:
        for number in range(runs):
            run_id = journal.create_run(
                profile="p",
                kind="accounts",
                engine="direct",
                records=[
                    NewRecord(
                        record_id=f"001{number:03d}{n:012d}",
                        record_kind="account",
                        label=f"Account {n} of run {number}",
                        action="create",
                        payload={"name": "x" * 200},
                    )
                    for n in range(30)
                ],
            )
            journal.finish_run(run_id, "finished")
    return path.read_bytes()


def _cpq_sync(*args: str, schema_version: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run cpq-sync; with ``schema_version`` as a CPQ Sync whose journal format is that."""
    code = (
        "import sys\n"
        "import cpq_sync_gui.sync.journal_format as journal_format\n"
        f"journal_format.SCHEMA_VERSION = {schema_version!r} or journal_format.SCHEMA_VERSION\n"
        "from cpq_sync_gui.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _commands(export_to: Path) -> list[tuple[str, ...]]:
    added = _cpq_sync(
        "profiles", "add", "Journal check", "--sf-login-host", "custom",
        "--sf-login-url", "https://127.0.0.1:9", "--sf-username", "admin@example.com",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    return [
        ("runs", "list"),
        ("runs", "show", "last"),
        ("runs", "resume", "last"),
        ("runs", "retry-failed", "last"),
        ("runs", "export", "last", "--csv", str(export_to)),
        ("sync", "accounts", "--profile", "Journal check", "--ids", "0015g000Ab3xQaC"),
    ]


def _assert_refused_and_kept(
    path: Path, data: bytes, *words: str, schema_version: int | None = None
) -> None:
    folder = path.parent
    before = sorted(p.name for p in folder.iterdir())
    export_to = folder.parent / "export" / "out.csv"
    for command in _commands(export_to):
        answer = _cpq_sync(*command, schema_version=schema_version)
        assert answer.returncode == 2, (command, answer.stdout, answer.stderr)
        assert_plain(answer.stderr, str(path), *words)
        assert path.read_bytes() == data, command  # never rewritten, truncated or replaced
        FIGURES["damaged or foreign journals refused"] += 1
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing moved or added
    assert not export_to.parent.exists()


def test_a_journal_from_an_older_cpq_sync_is_reported_and_kept() -> None:
    path = journal_path()
    data = _journal_with_runs(path)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    # This CPQ Sync pretends to be the next version, so the file just written is "older".
    _assert_refused_and_kept(
        path,
        data,
        f"older CPQ Sync (journal format {version}",
        "left untouched",
        schema_version=version + 1,
    )


def test_a_journal_from_a_newer_cpq_sync_is_reported_and_kept() -> None:
    path = journal_path()
    _journal_with_runs(path)
    with sqlite3.connect(path) as connection:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        connection.execute(f"PRAGMA user_version = {version + 1}")
    connection.close()
    _assert_refused_and_kept(path, path.read_bytes(), "newer CPQ Sync", "left untouched")


def test_a_sqlite_file_that_is_not_a_journal_is_reported_and_kept() -> None:
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
        connection.execute("INSERT INTO invoices (amount) VALUES (12.5)")
    connection.close()
    _assert_refused_and_kept(path, path.read_bytes(), "not a CPQ Sync run journal", "invoices")


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_as_the_journal_are_reported_and_kept(seed: int) -> None:
    rng = random.Random(seed)
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    size = rng.choice([2, 17, 100, 4096, 65_536, rng.randrange(2, 200_000)])
    data = rng.randbytes(size)
    if seed % 2:  # random bytes behind a genuine SQLite header
        data = b"SQLite format 3\x00" + data
    path.write_bytes(data)
    _assert_refused_and_kept(path, data, "damaged", "left untouched")


@pytest.mark.parametrize("seed", range(4))
def test_a_truncated_journal_is_reported_and_kept(tmp_path: Path, seed: int) -> None:
    whole = _journal_with_runs(tmp_path / "whole.sqlite3")
    rng = random.Random(seed)
    # Anywhere from the second byte to a page before the end (a cut inside the last page
    # may only drop its unused tail, which loses nothing).
    cut = rng.randrange(2, len(whole) - 4096)
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(whole[:cut])
    _assert_refused_and_kept(path, whole[:cut], "damaged", "left untouched")


def test_a_journal_truncated_to_one_byte_is_reported_and_kept(tmp_path: Path) -> None:
    whole = _journal_with_runs(tmp_path / "whole.sqlite3")
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(whole[:1])
    with pytest.raises(JournalError, match="damaged"):
        RunJournal(path).close()
    assert path.read_bytes() == whole[:1]
