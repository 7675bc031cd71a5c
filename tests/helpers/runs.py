"""The main window on the sandbox, driven like an admin drives it: for the run tests (GUI, bench)."""

from __future__ import annotations

from typing import Any

from keyring.backends import fail
from PySide6.QtCore import Qt

from cpq_sync_gui import secrets as names
from cpq_sync_gui.connections import SessionSecrets
from cpq_sync_gui.demo import demo_profile
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.secrets import SecretStore
from cpq_sync_gui.settings import ProfileStore
from cpq_sync_gui.sync import RetryPolicy
from cpq_sync_gui.ui.main_window import MainWindow
from cpq_sync_gui.ui.plan_dialog import PlanDialog
from cpq_sync_gui.ui.record_browser import RecordBrowser
from cpq_sync_gui.ui.record_rows import ACCOUNTS, ORDERS
from tests.helpers.records import sandbox_source

WAIT_MS = 90000
NO_DUPLICATES = {"accounts_by_crm_id": {}, "orders_by_number": {}}


def sandbox_secret_values(sandbox: Any) -> dict[str, str]:
    creds = sandbox.credentials
    return {
        names.SALESFORCE_PASSWORD: creds.sf_password,
        names.SALESFORCE_SECURITY_TOKEN: creds.sf_security_token,
        names.SALESFORCE_CONSUMER_SECRET: creds.sf_consumer_secret,
        names.ZUORA_CLIENT_SECRET: creds.zuora_client_secret,
    }


def open_window(qtbot, sandbox: Sandbox, *, name: str = "", production: bool = False) -> MainWindow:
    """The real main window with one profile on the sandbox (secrets in memory, as the demo)."""
    profile = demo_profile(sandbox)
    if name or production:
        profile = profile.model_copy(
            update={"name": name or profile.name, "treat_as_production": production}
        )
    secrets = SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True))
    secrets.keep_in_memory(profile.name, sandbox_secret_values(sandbox))
    store = ProfileStore()
    store.add(profile)
    store.set_active(profile.name)
    window = MainWindow(store=store, secrets=secrets)
    # Before pytest-qt closes it (a run still going, after a failed assertion, would otherwise
    # keep the window open and its thread alive): stop what runs.
    qtbot.addWidget(window, before_close_func=stop_window)
    window.show()
    qtbot.waitExposed(window)
    # Two quick attempts per record, so injected faults leave some records Failed.
    window.sync.controller.retry_policy = RetryPolicy(
        max_attempts=2, base_delay_s=0.01, max_delay_s=0.05
    )
    return window


def browser_for(qtbot, window: MainWindow, sandbox: Sandbox, kind: str) -> RecordBrowser:
    """The window's Accounts / Orders tab, listing the sandbox's records."""
    record_kind = ACCOUNTS if kind == "accounts" else ORDERS
    browser = next((b for b in window.findChildren(RecordBrowser) if b.kind is record_kind), None)
    if browser is None:  # a window whose tabs are still plain tables: put a real browser in
        index = 0 if kind == "accounts" else 1
        browser = RecordBrowser(record_kind)
        window.tabs.removeTab(index)
        window.tabs.insertTab(index, browser, kind.title())
        browser.set_source(sandbox_source(sandbox), load=True)
    window.tabs.setCurrentWidget(browser)
    # The window logs in with its active profile by itself and lists the records.
    qtbot.waitUntil(lambda: browser.source is not None and not browser.busy(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: browser.model.rowCount() > 0, timeout=WAIT_MS)
    return browser


def select_and_plan(
    qtbot, window: MainWindow, browser: RecordBrowser, ids: list[str]
) -> PlanDialog:
    browser.model.set_selected(ids, True)
    action = window.sync.sync_action
    assert action.text() == f"Sync selected ({len(ids):,})"
    assert action.isEnabled()
    action.trigger()
    qtbot.waitUntil(lambda: window.sync.controller.plan_dialog is not None, timeout=WAIT_MS)
    dialog = window.sync.controller.plan_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def wait_run_done(qtbot, window: MainWindow) -> None:
    controller = window.sync.controller
    qtbot.waitUntil(lambda: not controller.busy and window.sync.panel.summary.isVisible(),
                    timeout=WAIT_MS)  # fmt: skip


def click(qtbot, button) -> None:
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def ids_of(sandbox: Sandbox, sobject: str) -> list[str]:
    return [r["Id"] for r in sandbox.org.all(sobject)]


def stop_window(window: MainWindow) -> None:
    """After a test (passed or not): no run, no tab read left running."""
    window.sync.controller.shutdown()
    records = getattr(window, "records", None)
    if records is not None:
        records.shutdown()
    for browser in window.findChildren(RecordBrowser):
        browser.shutdown()
