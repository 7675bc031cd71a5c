"""No secret reaches the log pane, the saved log, the exports or the log files — also when a run
fails with a traceback whose text carries every secret of the connection, raw and URL-encoded."""

from __future__ import annotations

import threading
from urllib.parse import quote

import pytest

from cpq_sync_gui import paths
from cpq_sync_gui.sync import RecordState
from cpq_sync_gui.zuora.client import ZuoraClient
from tests.helpers.runs import (
    browser_for,
    click,
    ids_of,
    open_window,
    select_and_plan,
    stop_window,
    wait_run_done,
)

pytestmark = pytest.mark.slow


def test_a_failing_run_with_a_traceback_leaks_no_secret_anywhere(
    qtbot, make_sandbox, monkeypatch, tmp_path
):
    sandbox = make_sandbox(accounts=12, orders=0, seed=9)
    window = open_window(qtbot, sandbox)
    controller = window.sync.controller
    browser = browser_for(qtbot, window, sandbox, "accounts")
    ids = ids_of(sandbox, "Account")
    creds = sandbox.credentials
    secrets = {
        "Salesforce password": creds.sf_password,
        "Salesforce security token": creds.sf_security_token,
        "Salesforce consumer secret": creds.sf_consumer_secret,
        "Zuora client secret": creds.zuora_client_secret,
    }
    assert len(set(secrets.values())) == len(secrets)  # distinct values, each checked alone

    calls = {"n": 0}
    lock = threading.Lock()
    original = ZuoraClient.create_account

    def create_account(self, payload, **kwargs):
        """Every other create fails the way a buggy client would: secrets in the message."""
        with lock:
            calls["n"] += 1
            fail = calls["n"] % 2 == 0
        if not fail:
            return original(self, payload, **kwargs)
        token = self._access_token()
        session_id = controller._connections["Demo sandbox"].salesforce.connection.sf.session_id
        secrets["Zuora access token"] = token
        secrets["Salesforce session id"] = session_id
        raise RuntimeError(
            f"POST {self.base_url}/v1/accounts?access_token={token}&sid={quote(session_id)} "
            f"refused: client_secret={creds.zuora_client_secret}, password "
            f"{creds.sf_password}{creds.sf_security_token}, consumer secret "
            f"{quote(creds.sf_consumer_secret)}, Authorization: Bearer {token}, "
            f"session {session_id}"
        )

    monkeypatch.setattr(ZuoraClient, "create_account", create_account)
    dialog = select_and_plan(qtbot, window, browser, ids)
    # The dry run's JSON export is an export too.
    plan_json = tmp_path / "plan.json"
    with qtbot.waitSignal(dialog.exported, timeout=30000):
        dialog.export_json(plan_json)
    if dialog.exclude_button.isEnabled():
        click(qtbot, dialog.exclude_button)
    click(qtbot, dialog.run_button)
    wait_run_done(qtbot, window)

    panel = window.sync.panel
    failed = [r for r in panel.model.rows() if r.state is RecordState.FAILED]
    assert failed
    assert all("RuntimeError" in r.detail for r in failed)
    assert "Zuora access token" in secrets  # the failure really carried the live token

    # A plan that fails with a traceback (a Job failure) goes to the log too.
    def broken_plan(*_args, **_kwargs):
        raise ValueError(f"cannot plan with password={creds.sf_password} sid={session_id}")

    session_id = secrets["Salesforce session id"]
    monkeypatch.setattr("cpq_sync_gui.sync.build_plan", broken_plan)  # imported when used
    controller.sync_selected("accounts", ids[:2])
    qtbot.waitUntil(lambda: not controller.busy, timeout=30000)
    assert "The plan could not be made" in panel.message.text()

    exports = tmp_path / "exports"
    job = controller.export_results(exports)
    assert job is not None
    qtbot.waitUntil(lambda: len(list(exports.glob("*.csv"))) == 2, timeout=30000)
    saved_log = tmp_path / "saved-log.txt"
    window.log_pane.save_to(saved_log)
    stop_window(window)

    log_files = sorted(p for p in paths.log_dir().glob("*") if p.is_file())
    assert log_files, "runs write a log file in the log folder"
    places: dict[str, str] = {
        "the log pane": "\n".join(e.line() for e in window.log_pane.entries()),
        "the log pane (as shown)": window.log_pane.visible_text(),
        "the saved log": saved_log.read_text("utf-8"),
        "the run's records table": "\n".join(
            f"{r.label} {r.detail} {r.zuora_number}" for r in panel.model.rows()
        ),
        "the plan JSON": plan_json.read_text("utf-8"),
        **{f"the export {p.name}": p.read_text("utf-8-sig") for p in exports.glob("*.csv")},
        **{f"the log file {p.name}": p.read_text("utf-8") for p in log_files},
    }
    # The failures are really there (so this test can fail), only without the secrets.
    assert "RuntimeError" in places["the saved log"]
    assert "Traceback" in "".join(places[k] for k in places if k.startswith("the log file"))
    assert "cannot plan with password=" in places["the saved log"]
    assert any("RuntimeError" in text for key, text in places.items() if "error.csv" in key)
    for where, text in places.items():
        for what, value in secrets.items():
            for form in {value, quote(value, safe=""), quote(value)}:
                assert form not in text, f"{what} appears in {where}"
