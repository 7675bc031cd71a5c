"""The Buttons panel against the sandbox org over HTTPS: status, deploy with confirmation, ticket copy."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QLineEdit, QPushButton, QTableWidget

from cpq_sync_gui import secrets as names
from cpq_sync_gui.sandbox.salesforce_metadata import NO_METADATA_PERMISSION
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.ui.buttons_panel import ButtonsPanel
from tests.helpers.buttons import (
    DictSecrets,
    sandbox_profile,
    sandbox_secret_values,
    sandbox_secrets,
    weblink_record,
)

WAIT_MS = 30000


def open_panel(qtbot, sandbox: Sandbox, **profile) -> ButtonsPanel:
    panel = ButtonsPanel(sandbox_profile(sandbox, **profile), sandbox_secrets(sandbox))
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.statuses_changed, timeout=WAIT_MS):
        panel.show()  # the first check starts by itself, in a Job
        assert panel.busy
        assert not panel.deploy_button.isEnabled()
    return panel


def table_rows(panel: ButtonsPanel) -> list[tuple[str, ...]]:
    table = panel.findChild(QTableWidget, "buttonsStatusTable")
    return [
        tuple(table.item(row, column).text() for column in range(table.columnCount()))
        for row in range(table.rowCount())
    ]


def click_and_wait(qtbot, button: QPushButton, signal) -> list:
    with qtbot.waitSignal(signal, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    return blocker.args


def test_status_then_deploy_from_the_panel(qtbot, sandbox: Sandbox) -> None:
    weblink_record(
        sandbox,
        "Account",
        "send_to_zuora_account",
        Url=f"{sandbox.connector_url}?sfdc=acme.lightning.force.com&accountId={{!Account.Id}}",
    )
    panel = open_panel(qtbot, sandbox)
    rows = table_rows(panel)
    assert [row[:3] for row in rows] == [
        ("send_to_zuora_account", "Account", "Misconfigured"),
        ("send_to_zuora_order", "Order", "Missing"),
    ]
    assert (
        f"wrong domain: is sfdc=acme.lightning.force.com, should be sfdc={sandbox.sfdc_domain}"
        in (rows[0][3])
    )

    qtbot.mouseClick(panel.plan_button, Qt.MouseButton.LeftButton)
    plan = panel.plan_view.toPlainText()
    assert "Update the Account button Account.send_to_zuora_account:" in plan
    assert "Create the Order button Order.send_to_zuora_order:" in plan
    assert panel.tabs.currentWidget() is panel.plan_view

    qtbot.mouseClick(panel.deploy_button, Qt.MouseButton.LeftButton)
    confirmation = panel.confirmation
    assert confirmation is not None
    assert confirmation.findChild(QLineEdit, "confirmProfileName") is None  # not production
    assert sandbox.org.count("WebLink") == 1  # nothing deployed before the answer
    (results,) = click_and_wait(qtbot, confirmation.ok_button, panel.deployed)
    assert [r.ok for r in results] == [True, True]
    qtbot.waitUntil(lambda: panel.check_button.isEnabled(), timeout=WAIT_MS)
    assert [row[2] for row in table_rows(panel)] == ["OK", "OK"]
    assert not panel.deploy_button.isEnabled()  # nothing left to deploy
    assert "Next: add the buttons to the page layouts" in panel.message.text()
    urls = {r["Name"]: r["Url"] for r in sandbox.org.where("WebLink", lambda r: True)}
    assert urls["send_to_zuora_account"].startswith(
        f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&"
    )


def test_production_profile_needs_its_name_typed(qtbot, sandbox: Sandbox) -> None:
    panel = open_panel(qtbot, sandbox, treat_as_production=True, name="Acme Production")
    qtbot.mouseClick(panel.deploy_button, Qt.MouseButton.LeftButton)
    confirmation = panel.confirmation
    assert confirmation is not None
    name = confirmation.findChild(QLineEdit, "confirmProfileName")
    assert not confirmation.ok_button.isEnabled()
    qtbot.keyClicks(name, "acme production")
    assert not confirmation.ok_button.isEnabled()
    name.clear()
    qtbot.keyClicks(name, "Acme Production")
    assert confirmation.ok_button.isEnabled()
    click_and_wait(qtbot, confirmation.ok_button, panel.deployed)
    assert sandbox.org.count("WebLink") == 2


def test_cancelled_confirmation_deploys_nothing(qtbot, sandbox: Sandbox) -> None:
    panel = open_panel(qtbot, sandbox)
    qtbot.mouseClick(panel.deploy_button, Qt.MouseButton.LeftButton)
    assert panel.confirmation is not None
    panel.confirmation.reject()
    qtbot.wait(200)
    assert not panel.busy
    assert sandbox.org.count("WebLink") == 0


def test_permission_error_is_shown_as_salesforce_words_it(qtbot, sandbox: Sandbox) -> None:
    sandbox.salesforce_service.deny_metadata_for(sandbox.credentials.sf_username)
    panel = open_panel(qtbot, sandbox)
    qtbot.mouseClick(panel.deploy_button, Qt.MouseButton.LeftButton)
    click_and_wait(qtbot, panel.confirmation.ok_button, panel.deployed)
    assert NO_METADATA_PERMISSION in panel.message.text()
    assert [row[2] for row in table_rows(panel)] == ["Missing", "Missing"]


def test_ticket_text_is_copied(qtbot, sandbox: Sandbox) -> None:
    panel = open_panel(qtbot, sandbox)
    ticket = panel.ticket_view.toPlainText()
    assert f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&accountId={{!Account.Id}}" in ticket
    assert f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&orderId={{!Order.Id}}" in ticket
    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == ticket
    assert "clipboard" in panel.message.text()
    layouts = panel.findChild(type(panel.plan_view), "layoutInstructions").toPlainText()
    assert "Setup > Object Manager > Account > Page Layouts" in layouts


def test_a_login_failure_is_shown_in_plain_words(qtbot, sandbox: Sandbox) -> None:
    secrets = DictSecrets(
        {names.SALESFORCE_PASSWORD: "wrong", names.SALESFORCE_SECURITY_TOKEN: "wrong"}
    )
    panel = ButtonsPanel(sandbox_profile(sandbox), secrets)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.job is not None
    with qtbot.waitSignal(panel.job.failed, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    assert "INVALID_LOGIN" in panel.message.text()
    assert not panel.deploy_button.isEnabled()


@pytest.mark.qt_log_ignore(r"This plugin does not support raise\(\)")  # offscreen platform
def test_the_main_window_menu_opens_the_panel_for_the_active_profile(qtbot, sandbox) -> None:
    from keyring.backends import fail

    from cpq_sync_gui.connections import SessionSecrets
    from cpq_sync_gui.secrets import SecretStore
    from cpq_sync_gui.settings import ProfileStore
    from cpq_sync_gui.ui.main_window import MainWindow

    store = ProfileStore()
    store.add(sandbox_profile(sandbox))
    store.set_active("Sandbox org")
    secrets = SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True))
    secrets.keep_in_memory("Sandbox org", sandbox_secret_values(sandbox))
    window = MainWindow(store, secrets)
    qtbot.addWidget(window)
    window.findChild(QAction, "buttonsAction").trigger()
    panel = window.findChild(ButtonsPanel)
    assert panel is not None
    assert panel.windowTitle() == "Buttons — Sandbox org"
    qtbot.waitUntil(lambda: len(table_rows(panel)) == 2, timeout=WAIT_MS)
    assert [row[2] for row in table_rows(panel)] == ["Missing", "Missing"]
    qtbot.waitUntil(lambda: not panel.busy, timeout=WAIT_MS)
    window.findChild(QAction, "buttonsAction").trigger()  # the same panel again, not a second
    assert window.findChildren(ButtonsPanel) == [panel]
