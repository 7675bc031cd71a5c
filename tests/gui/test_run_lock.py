"""One run per profile at a time: a `cpq-sync sync` of the same profile blocks the window's run
(with a message that names the profile and says what to do), and the window runs once it ended."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from cpq_sync_gui.sandbox.http import Request
from cpq_sync_gui.sync import FINAL_STATES, RecordState
from tests.helpers.cli_sync_rig import make_cli_rig
from tests.helpers.runs import (
    NO_DUPLICATES,
    WAIT_MS,
    browser_for,
    click,
    ids_of,
    open_window,
    select_and_plan,
    wait_run_done,
)

pytestmark = pytest.mark.slow


class _HoldCreates:
    """A pause hook: creates of these accounts wait (their sender keeps its lock) until released."""

    def __init__(self, crm_ids: list[str]) -> None:
        self.crm_ids = set(crm_ids)
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: Request) -> None:
        if (
            request.method == "POST"
            and request.path == "/v1/accounts"
            and request.json().get("crmId") in self.crm_ids
        ):
            self.arrived.set()
            assert self.release.wait(60)


def _plan_and_run(qtbot, window, browser, ids: list[str]) -> list[str]:
    dialog = select_and_plan(qtbot, window, browser, ids)
    if dialog.exclude_button.isEnabled():
        click(qtbot, dialog.exclude_button)  # accounts whose data cannot be sent
    kept = [r.record_id for r in dialog.request().plan.records]
    click(qtbot, dialog.run_button)
    wait_run_done(qtbot, window)
    browser.model.set_selected(ids, False)
    return kept


def test_a_cli_run_of_the_same_profile_blocks_the_windows_run_until_it_ends(
    qtbot, make_sandbox, tmp_path: Path
):
    sandbox = make_sandbox(accounts=30, orders=0, seed=5)
    accounts = ids_of(sandbox, "Account")
    cli_ids, window_ids = accounts[:10], accounts[10:]
    rig = make_cli_rig(sandbox, tmp_path / "cli")
    try:
        window = open_window(qtbot, sandbox, name=rig.profile)  # the same profile name
        browser = browser_for(qtbot, window, sandbox, "accounts")

        hold = _HoldCreates(cli_ids)
        sandbox.zuora_service.pause_hook = hold
        out, err = tmp_path / "cli.out", tmp_path / "cli.err"
        with out.open("w", encoding="utf-8") as stdout, err.open("w", encoding="utf-8") as stderr:
            child = rig.popen(
                "sync", "accounts", "--profile", rig.profile,
                "--ids-file", str(rig.ids_file(cli_ids)), "--json",
                stdout=stdout, stderr=stderr,
            )  # fmt: skip
        # The command is sending (its first create waits in the tenant): it holds the lock.
        qtbot.waitUntil(lambda: hold.arrived.is_set() or child.poll() is not None, timeout=WAIT_MS)
        assert hold.arrived.is_set(), err.read_text(encoding="utf-8")

        creates_before = sandbox.log.count("zuora", "POST", "/v1/accounts")
        kept = _plan_and_run(qtbot, window, browser, window_ids)
        panel = window.sync.panel
        expected = (
            f'Profile "{rig.profile}" is being synced right now by another CPQ Sync window or '
            f"command (process {child.pid}). Wait for that run to finish, or stop it there, "
            "then start this one again."
        )
        assert panel.summary.text() == f"The run could not start: {expected}"
        rows = panel.model.rows()
        assert {r.record_id for r in rows} == set(kept)
        assert {r.state for r in rows} == {RecordState.FAILED}
        assert {r.detail for r in rows} == {f"Not sent: the run could not start ({expected})."}
        assert sandbox.log.count("zuora", "POST", "/v1/accounts") == creates_before  # nothing
        for record_id in kept:
            assert sandbox.zuora.accounts_by_crm_id(record_id) == []

        hold.release.set()
        assert child.wait(timeout=120) in (0, 1), err.read_text(encoding="utf-8")
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert lines[-1]["type"] == "summary"  # the command's run was not disturbed

        # The command ended, its lock went with it: the same run from the window goes ahead.
        kept = _plan_and_run(qtbot, window, browser, window_ids)
        rows = panel.model.rows()
        assert panel.summary.text().startswith(f"Run {panel.run_id}: Finished")
        assert {r.record_id for r in rows} == set(kept)
        assert {r.state for r in rows} <= FINAL_STATES
        for row in rows:  # truthful: Synced means exactly this account is in Zuora
            found = sandbox.zuora.accounts_by_crm_id(row.record_id)
            assert len(found) == (1 if row.state is RecordState.SYNCED else 0)
        assert RecordState.SYNCED in {r.state for r in rows}
        assert sandbox.zuora.duplicates() == NO_DUPLICATES
    finally:
        sandbox.zuora_service.pause_hook = None
        rig.close()
