"""Connections to the sandbox for the record tabs, made the way the app makes them (connections.py)."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from cpq_sync_gui import secrets as names
from cpq_sync_gui.connections import OverlaySecrets, open_salesforce, open_zuora
from cpq_sync_gui.demo import demo_profile
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.ui.record_browser import RecordBrowser
from cpq_sync_gui.ui.record_links import RecordSource
from cpq_sync_gui.ui.record_rows import ACCOUNTS, RecordKind

WAIT_MS = 60000
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def sandbox_secrets(sandbox: Sandbox) -> OverlaySecrets:
    creds = sandbox.credentials
    return OverlaySecrets(
        None,
        {
            names.SALESFORCE_PASSWORD: creds.sf_password,
            names.SALESFORCE_SECURITY_TOKEN: creds.sf_security_token,
            names.SALESFORCE_CONSUMER_SECRET: creds.sf_consumer_secret,
            names.ZUORA_CLIENT_SECRET: creds.zuora_client_secret,
        },
    )


def sandbox_source(sandbox: Sandbox, *, zuora: bool = True) -> RecordSource:
    """A logged-in RecordSource on the sandbox ("Demo sandbox" profile, secrets in memory)."""
    profile = demo_profile(sandbox)
    secrets = sandbox_secrets(sandbox)
    return RecordSource(
        open_salesforce(profile, secrets),
        open_zuora(profile, secrets) if zuora else None,
        label=profile.name,
    )


@pytest.fixture
def ca_bundle_points_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on admins' machines: the environment's CA bundle must not decide whom we trust."""
    bundle = SYSTEM_BUNDLE if os.path.exists(SYSTEM_BUNDLE) else ""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    monkeypatch.setenv("CURL_CA_BUNDLE", bundle)


class Logged:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, level: str, message: str) -> None:
        self.lines.append((level, message))

    def text(self) -> str:
        return "\n".join(f"{level} {message}" for level, message in self.lines)


def open_browser(
    qtbot, sandbox: Sandbox, kind: RecordKind = ACCOUNTS, *, batch_size: int = 2000,
    load: bool = True, zuora: bool = True,
) -> RecordBrowser:  # fmt: skip
    browser = RecordBrowser(kind)
    qtbot.addWidget(browser)
    browser.resize(1300, 760)
    browser.batch_size = batch_size
    browser.logged = Logged()  # type: ignore[attr-defined]
    browser.log.connect(browser.logged)  # type: ignore[attr-defined]
    browser.show()
    qtbot.waitExposed(browser)
    browser.set_source(sandbox_source(sandbox, zuora=zuora), load=load)
    if load:
        wait_idle(qtbot, browser)
    return browser


def wait_idle(qtbot, browser: RecordBrowser) -> None:
    qtbot.waitUntil(lambda: not browser.busy(), timeout=WAIT_MS)


def shown_column(browser: RecordBrowser, key: str) -> list[str]:
    column = browser.kind.column_index(key)
    proxy = browser.proxy
    return [proxy.index(row, column).data() for row in range(proxy.rowCount())]


def search(qtbot, browser: RecordBrowser, text: str) -> None:
    box = browser.filter_bar.search_box
    box.clear()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    wait_idle(qtbot, browser)


def click_checkbox(qtbot, browser: RecordBrowser, proxy_row: int, shift: bool = False) -> None:
    table = browser.table
    rect = table.visualRect(browser.proxy.index(proxy_row, 0))
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def soql_queries(sandbox: Sandbox) -> list[str]:
    """Every SOQL text the app sent to the org, in order."""
    return [
        q
        for entry in sandbox.log.entries("salesforce", "GET", "*/query*")
        for q in entry.query.get("q", [])
    ]


def next_page_requests(sandbox: Sandbox) -> int:
    """Follow-up page reads (nextRecordsUrl), which carry no SOQL."""
    return sum(
        1 for e in sandbox.log.entries("salesforce", "GET", "*/query/*") if not e.query.get("q")
    )
