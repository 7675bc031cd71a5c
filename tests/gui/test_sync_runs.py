"""Runs from the window against the sandbox over HTTPS, driven through the real widgets:
plan → run with failures → Retry failed; cancel mid-run; production confirmation; closing
during a run; resuming a run whose process was killed."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget

from cpq_sync_gui.demo import demo_profile
from cpq_sync_gui.sync import FINAL_STATES, RecordState, RunJournal
from cpq_sync_gui.ui.run_bridge import NO_FULL_COLLECTIONS, hold_gc, release_gc
from tests.helpers.runs import (
    NO_DUPLICATES,
    WAIT_MS,
    browser_for,
    click,
    ids_of,
    open_window,
    sandbox_secret_values,
    select_and_plan,
    stop_window,
    wait_run_done,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def window_for(qtbot):
    """Opens main windows on a sandbox; afterwards no run or read of theirs is left running."""
    opened = []

    def make(sandbox, **options):
        window = open_window(qtbot, sandbox, **options)
        opened.append(window)
        return window

    yield make
    for window in opened:
        stop_window(window)


def table_cell(window, browser, record_id: str):
    """What the Accounts / Orders table shows in the record's Zuora status cell, now."""
    overlay = window.sync.controller.overlays[browser.kind.singular]
    number = browser.model.row_number(record_id)
    assert number is not None
    return lambda: overlay.text_for(
        browser.proxy.mapFromSource(browser.model.index(number, overlay.column))
    )


# --- failures, then Retry failed ------------------------------------------------------------


def test_injected_failures_then_retry_failed_until_all_synced_without_duplicates(
    qtbot, make_sandbox, window_for
):
    sandbox = make_sandbox(accounts=30, orders=0, seed=5)
    window = window_for(sandbox)
    browser = browser_for(qtbot, window, sandbox, "accounts")
    dialog = select_and_plan(qtbot, window, browser, ids_of(sandbox, "Account"))
    # The plan found problems per record; leave them out (they cannot be sent).
    blocked = [r for r in dialog.plan.records if r.blocked]
    assert blocked, "the generated org has accounts with missing billing data"
    assert "with problems" in dialog.counts.text()
    click(qtbot, dialog.exclude_button)
    kept = [r.record_id for r in dialog.request().plan.records]
    assert not {r.record_id for r in blocked} & set(kept)
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "http500", 0.3)
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "success_false", 0.3)
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "reset_after", 0.1)
    click(qtbot, dialog.run_button)
    wait_run_done(qtbot, window)

    panel = window.sync.panel
    first_run = panel.run_id
    rows = {row.record_id: row for row in panel.model.rows()}
    assert set(rows) == set(kept)
    assert all(row.state in FINAL_STATES for row in rows.values())
    failed = [r for r in rows.values() if r.state is RecordState.FAILED]
    synced = [r for r in rows.values() if r.state is RecordState.SYNCED]
    assert failed
    assert synced
    assert all(r.detail for r in failed)  # "Gave up after 2 attempts: …" — the exact error
    for row in synced:  # truthful: exactly this account is in Zuora
        zuora = sandbox.zuora.accounts_by_crm_id(row.record_id)
        assert [a["accountNumber"] for a in zuora] == [row.zuora_number]
    for row in failed:
        assert sandbox.zuora.accounts_by_crm_id(row.record_id) == []
    # Per-row status in the Accounts table (the overlay on its Zuora status column).
    assert table_cell(window, browser, failed[0].record_id)().startswith("Failed: ")
    assert table_cell(window, browser, synced[0].record_id)() == f"Synced {synced[0].zuora_number}"
    assert panel.summary.text().startswith(f"Run {first_run}: Finished")
    assert panel.retry_button.text() == f"Retry failed ({len(failed):,})"

    sandbox.faults.clear()
    click(qtbot, panel.retry_button)
    wait_run_done(qtbot, window)
    assert panel.run_id != first_run
    retried = {row.record_id: row for row in panel.model.rows()}
    assert set(retried) == {r.record_id for r in failed}  # only the failed ones went again
    assert {row.state for row in retried.values()} == {RecordState.SYNCED}
    assert not panel.retry_button.isEnabled()
    assert sandbox.zuora.duplicates() == NO_DUPLICATES
    assert sandbox.zuora.account_count() == len(kept)
    for record_id in kept:
        assert len(sandbox.zuora.accounts_by_crm_id(record_id)) == 1
    with RunJournal() as journal:
        assert journal.run(panel.run_id).parent_run_id == first_run


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_with_escape_turns_the_rest_cancelled_within_a_second(
    qtbot, make_sandbox, window_for
):
    sandbox = make_sandbox(accounts=60, orders=0, seed=3)
    window = window_for(sandbox)
    browser = browser_for(qtbot, window, sandbox, "accounts")
    dialog = select_and_plan(qtbot, window, browser, ids_of(sandbox, "Account"))
    click(qtbot, dialog.exclude_button)
    dialog.concurrency.setValue(2)
    sandbox.faults.latency_ms["zuora"] = 250  # a slow tenant: the run takes a while
    last = dialog.request().plan.records[-1].record_id
    click(qtbot, dialog.run_button)
    panel = window.sync.panel
    cell = table_cell(window, browser, last)
    assert cell() == "Queued"  # every record of the run shows its state in the table at once
    qtbot.waitUntil(lambda: panel.model.counts().get(RecordState.SYNCED, 0) >= 3, timeout=WAIT_MS)
    assert panel.cancel_button.isEnabled()
    with qtbot.waitActive(window):
        window.activateWindow()
    assert panel.cancel_button.hasFocus()  # so Esc reaches the run panel's shortcut
    began = time.monotonic()
    qtbot.keyClick(panel.cancel_button, "\x1b")  # Esc
    qtbot.waitUntil(panel.model.all_final, timeout=1000)
    assert time.monotonic() - began < 1.0
    wait_run_done(qtbot, window)
    counts = panel.model.counts()
    assert counts.get(RecordState.CANCELLED, 0) > 10
    assert set(counts) <= {RecordState.SYNCED, RecordState.CANCELLED}
    for row in panel.model.rows():
        in_zuora = sandbox.zuora.accounts_by_crm_id(row.record_id)
        assert len(in_zuora) == (1 if row.state is RecordState.SYNCED else 0)
    assert "Cancelled after" in panel.summary.text()
    assert cell() == "Cancelled"
    assert panel.retry_button.text().startswith("Retry failed and cancelled (")


def test_the_connector_engine_triggers_and_verifies_from_the_window(
    qtbot, make_sandbox, window_for
):
    sandbox = make_sandbox(accounts=10, orders=0, seed=6)
    window = window_for(sandbox)
    browser = browser_for(qtbot, window, sandbox, "accounts")
    dialog = select_and_plan(qtbot, window, browser, ids_of(sandbox, "Account")[:6])
    if dialog.exclude_button.isEnabled():
        click(qtbot, dialog.exclude_button)
    dialog.engine.setCurrentIndex(dialog.engine.findData("connector"))
    assert dialog.selected_engine() == "connector"
    kept = [r.record_id for r in dialog.request().plan.records]
    click(qtbot, dialog.run_button)
    wait_run_done(qtbot, window)
    rows = window.sync.panel.model.rows()
    assert {r.record_id for r in rows} == set(kept)
    assert {r.state for r in rows} == {RecordState.SYNCED}
    for row in rows:  # verified in Zuora: the number shown is the account the connector made
        (account,) = sandbox.zuora.accounts_by_crm_id(row.record_id)
        assert account["accountNumber"] == row.zuora_number
        assert "connector" in row.detail
    assert sandbox.log.count("zuora", "POST", "/v1/accounts") == 0  # the connector did it
    assert "(connector)" in window.sync.panel.title.text()


def test_full_garbage_collections_wait_while_a_run_is_on_and_resume_after():
    before = gc.get_threshold()
    hold_gc()
    hold_gc()  # two runs' worth (e.g. a retry started as a run ends)
    assert gc.get_threshold() == (before[0], before[1], NO_FULL_COLLECTIONS)
    release_gc()
    assert gc.get_threshold()[2] == NO_FULL_COLLECTIONS
    release_gc()
    assert gc.get_threshold() == before
    release_gc()  # one too many changes nothing
    assert gc.get_threshold() == before


# --- production -----------------------------------------------------------------------------


def test_a_production_target_is_red_and_runs_only_after_typing_the_profile_name(
    qtbot, make_sandbox, window_for
):
    sandbox = make_sandbox(accounts=12, orders=0)
    window = window_for(sandbox, name="Acme PROD", production=True)
    browser = browser_for(qtbot, window, sandbox, "accounts")
    ids = ids_of(sandbox, "Account")[:4]
    dialog = select_and_plan(qtbot, window, browser, ids)
    assert dialog.banner.isVisible()
    assert "PRODUCTION" in dialog.banner.text()
    assert "Acme PROD" in dialog.banner.text()
    assert dialog.windowTitle().startswith("PRODUCTION")
    assert dialog.confirm.isVisible()
    if dialog.exclude_button.isEnabled():
        click(qtbot, dialog.exclude_button)
    assert not dialog.run_button.isEnabled()
    qtbot.keyClicks(dialog.confirm, "acme prod")  # close is not enough
    assert not dialog.run_button.isEnabled()
    dialog.confirm.clear()
    qtbot.keyClicks(dialog.confirm, "Acme PROD")
    assert dialog.run_button.isEnabled()
    sent = [r.record_id for r in dialog.request().plan.records if r.action == "create"]
    click(qtbot, dialog.run_button)
    wait_run_done(qtbot, window)
    assert sandbox.zuora.account_count() == len(sent) > 0


def test_dry_run_shows_every_payload_and_exports_the_plan_without_sending(
    qtbot, make_sandbox, window_for, tmp_path
):
    sandbox = make_sandbox(accounts=8, orders=0)
    window = window_for(sandbox)
    browser = browser_for(qtbot, window, sandbox, "accounts")
    browser.model.set_selected(ids_of(sandbox, "Account")[:5], True)
    window.sync.dry_run_action.trigger()
    controller = window.sync.controller
    qtbot.waitUntil(lambda: controller.plan_dialog is not None, timeout=WAIT_MS)
    dialog = controller.plan_dialog
    qtbot.waitExposed(dialog)
    assert dialog.windowTitle().startswith("Dry run")
    assert not dialog.run_button.isVisible()
    assert not dialog.banner.isVisible()  # a sandbox: no red banner, nothing to type
    assert not dialog.confirm.isVisible()
    model = dialog.model
    for row in range(model.rowCount()):  # payloads on demand: click a record, see its JSON
        rect = dialog.table.visualRect(model.index(row, 1))
        qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        record = model.record_at(row)
        shown = dialog.payload.toPlainText()
        if record.payload is None:
            assert shown.startswith("Nothing is sent")
        else:
            assert json.loads(shown) == record.payload
    dialog.engine.setCurrentIndex(dialog.engine.findData("connector"))
    assert "accountId=" in dialog.payload.toPlainText()
    path = tmp_path / "plan.json"
    with qtbot.waitSignal(dialog.exported, timeout=30000):
        dialog.export_json(path)
    exported = json.loads(path.read_text("utf-8"))
    assert exported["engine"] == "connector"
    assert [r["record_id"] for r in exported["records"]] == [
        r.record_id for r in dialog.plan.records
    ]
    assert sandbox.log.count("zuora", "POST", "/v1/accounts") == 0  # a dry run sends nothing
    dialog.close()


def test_a_record_fixed_in_salesforce_is_sendable_after_re_plan(qtbot, make_sandbox, window_for):
    sandbox = make_sandbox(accounts=30, orders=0, seed=5)
    window = window_for(sandbox)
    browser = browser_for(qtbot, window, sandbox, "accounts")
    dialog = select_and_plan(qtbot, window, browser, ids_of(sandbox, "Account"))
    blocked = next(r for r in dialog.plan.records if r.blocked and r.selected)
    row = next(n for n in range(dialog.model.rowCount()) if dialog.model.record_at(n) is blocked)
    assert dialog.model.index(row, 3).data() == "Not sent"
    assert blocked.errors[0].message in dialog.model.index(row, 4).data()
    sandbox.org.update(
        "Account",
        blocked.record_id,
        {"BillingStreet": "1 Main St", "BillingCity": "Austin", "BillingState": "TX",
         "BillingPostalCode": "78701", "BillingCountry": "United States",
         "CurrencyIsoCode": "USD", "Name": blocked.label or "Fixed Ltd"},
    )  # fmt: skip
    click(qtbot, dialog.replan_button)
    qtbot.waitUntil(lambda: not dialog.replanning, timeout=WAIT_MS)
    again = dialog.plan.record(blocked.record_id)
    assert again is not None
    assert not again.blocked
    assert again.action == "create"
    assert dialog.run_button.isEnabled()
    dialog.close()


def test_a_long_run_notifies_then_its_results_export_and_reopen_from_history(
    qtbot, make_sandbox, window_for, tmp_path, monkeypatch
):
    sandbox = make_sandbox(accounts=14, orders=0, seed=8)
    window = window_for(sandbox)
    sync = window.sync
    sync.controller.notify_after_s = 0.0  # every run counts as long here
    browser = browser_for(qtbot, window, sandbox, "accounts")
    dialog = select_and_plan(qtbot, window, browser, ids_of(sandbox, "Account"))
    blocked = {r.record_id for r in dialog.plan.records if r.blocked}
    assert blocked  # kept in the run: they end Failed, "Not sent: …"
    click(qtbot, dialog.run_button)
    elsewhere = QWidget()  # the admin switched to another window meanwhile
    qtbot.addWidget(elsewhere)
    elsewhere.show()
    with qtbot.waitActive(elsewhere):
        elsewhere.activateWindow()
    wait_run_done(qtbot, window)
    (how, _title, text), *_ = sync.controller.notifier.sent
    assert how in ("tray", "alert")  # no system tray under Xvfb/offscreen: the taskbar alert
    assert "Finished" in text
    panel = sync.panel
    run_id = panel.run_id
    rows = {r.record_id: r for r in panel.model.rows()}
    assert {i for i, r in rows.items() if r.state is RecordState.FAILED} == blocked

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(tmp_path))
    click(qtbot, panel.export_button)
    error_file = tmp_path / f"cpq-sync-{run_id}-error.csv"
    qtbot.waitUntil(error_file.exists, timeout=30000)
    qtbot.waitUntil(lambda: "Exported" in panel.message.text(), timeout=30000)
    success = (tmp_path / f"cpq-sync-{run_id}-success.csv").read_text("utf-8-sig").splitlines()
    errors = error_file.read_text("utf-8-sig").splitlines()
    assert success[0].startswith("ID,")
    assert errors[0].endswith(",ERROR")
    assert {line.split(",")[0] for line in errors[1:]} == blocked
    assert {line.split(",")[0] for line in success[1:]} == set(rows) - blocked

    panel.model.reset([])  # later: the run is only in the journal
    history = sync.open_history()
    qtbot.waitUntil(lambda: history.model.rowCount() == 1, timeout=30000)
    assert history.model.status(history.model.summaries[0]) == "Finished"
    history.table.selectRow(0)
    click(qtbot, history.open_button)
    qtbot.waitUntil(lambda: panel.model.total() == len(rows), timeout=30000)
    assert panel.run_id == run_id
    assert {r.record_id: r.state for r in panel.model.rows()} == {
        i: r.state for i, r in rows.items()
    }
    assert panel.retry_button.text() == f"Retry failed ({len(blocked)})"


# --- closing during a run -------------------------------------------------------------------


def test_closing_during_a_run_asks_then_cancels_and_leaves_no_thread(
    qtbot, make_sandbox, window_for
):
    sandbox = make_sandbox(accounts=40, orders=0, seed=4)
    window = window_for(sandbox)
    browser = browser_for(qtbot, window, sandbox, "accounts")
    dialog = select_and_plan(qtbot, window, browser, ids_of(sandbox, "Account"))
    click(qtbot, dialog.exclude_button)
    dialog.concurrency.setValue(1)
    sandbox.faults.latency_ms["zuora"] = 200
    click(qtbot, dialog.run_button)
    sync, panel = window.sync, window.sync.panel
    qtbot.waitUntil(lambda: panel.model.counts().get(RecordState.SYNCED, 0) >= 1, timeout=WAIT_MS)
    job = sync.controller.run_job
    assert job is not None
    ended: list[str] = []
    job._thread.finished.connect(lambda: ended.append("thread finished"))  # the run's QThread
    browser.shutdown()  # the tab's own reads are not what this test is about

    assert window.close() is False  # asked first: the window stays
    qtbot.waitUntil(lambda: sync.close_question is not None and sync.close_question.isVisible())
    assert window.isVisible()
    box = sync.close_question
    keep = box.findChild(type(box.buttons()[0]), "closeDuringRunKeep")
    click(qtbot, keep)
    qtbot.waitUntil(lambda: sync.close_question is None)
    assert sync.controller.running
    assert window.isVisible()

    window.close()
    qtbot.waitUntil(lambda: sync.close_question is not None and sync.close_question.isVisible())
    box = sync.close_question
    click(qtbot, box.findChild(type(box.buttons()[0]), "closeDuringRunStop"))
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert ended == ["thread finished"]  # ended before the window went; no Qt warning either
    assert not sync.controller.running
    qtbot.waitUntil(lambda: not sync.controller._jobs)  # every job of ours ended and went
    rows = panel.model.rows()
    assert all(row.state in FINAL_STATES for row in rows)
    assert any(row.state is RecordState.CANCELLED for row in rows)
    with RunJournal() as journal:
        assert journal.unfinished_runs() == []  # every record ended in a final state
    QApplication.processEvents()


# --- resume after a killed process ---------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[2])
    from tests.gui.test_sync_runs import child_main
    child_main(json.loads(os.environ['CPQ_SYNC_TEST_CHILD']))
    """
)


def child_main(info: dict[str, Any]) -> None:
    """In a subprocess: sync orders with the engine the window uses, printing each Synced."""
    from cpq_sync_gui.connections import OverlaySecrets, open_salesforce, open_zuora
    from cpq_sync_gui.settings import Profile
    from cpq_sync_gui.sync import DirectEngine, SyncRunner, build_plan

    profile = Profile.model_validate_json(info["profile"])
    secrets = OverlaySecrets(None, info["secrets"])
    salesforce, zuora = open_salesforce(profile, secrets), open_zuora(profile, secrets)

    class Printer:
        def on_event(self, event: Any) -> None:
            if getattr(event, "new", None) is RecordState.SYNCED:
                print("synced", event.record_id, flush=True)

    with RunJournal() as journal:
        plan = build_plan("orders", info["ids"], salesforce, zuora)
        runner = SyncRunner(DirectEngine(zuora), journal, profile=profile.name,
                            subscriber=Printer(), concurrency=4)  # fmt: skip
        runner.execute(plan)


def test_a_killed_run_is_offered_for_resume_at_start_up_and_finishes(
    qtbot, make_sandbox, window_for, tmp_path
):
    sandbox = make_sandbox(accounts=30, orders=50, latency_ms=20)
    order_ids = ids_of(sandbox, "Order")
    profile = demo_profile(sandbox)
    info = {
        "profile": profile.model_dump_json(),
        "secrets": sandbox_secret_values(sandbox),
        "ids": order_ids,
    }
    synced = 0
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, "-", str(REPO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CPQ_SYNC_TEST_CHILD": json.dumps(info)},  # secrets: never a file
    ) as child:
        assert child.stdout is not None
        assert child.stderr is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and synced < 12:
            line = child.stdout.readline()
            if not line:
                break
            synced += line.startswith("synced")
        child.send_signal(signal.SIGKILL)  # kill -9: no clean-up of any kind
        child.wait(timeout=10)
        errors = child.stderr.read()
    assert synced == 12, errors

    window = window_for(sandbox)
    sync = window.sync
    sync.offer_interrupted_runs()
    qtbot.waitUntil(lambda: sync.resume_offer is not None, timeout=WAIT_MS)
    offer = sync.resume_offer
    with RunJournal() as journal:
        (interrupted,) = journal.unfinished_runs()
    assert interrupted.run_id in offer.text()
    assert "interrupted" in offer.text()
    click(qtbot, offer.resume_button)
    wait_run_done(qtbot, window)
    panel = sync.panel
    assert panel.run_id == interrupted.run_id
    rows = panel.model.rows()
    assert {r.record_id for r in rows} >= set(order_ids)
    assert all(r.state in FINAL_STATES for r in rows)
    with RunJournal() as journal:
        assert journal.unfinished_runs() == []
        journal_rows = journal.records_of(interrupted.run_id)
    assert sandbox.zuora.duplicates() == NO_DUPLICATES
    synced_orders = [r for r in journal_rows if r.record_kind == "order" and r.state == "synced"]
    assert len(synced_orders) == sandbox.zuora.order_count() >= 12
    # The run is in the history, finished.
    history = sync.open_history()
    qtbot.waitUntil(lambda: history.model.rowCount() == 1, timeout=WAIT_MS)
    assert history.model.status(history.model.summaries[0]) == "Finished"
    history.close()
