"""Filling in the Connections dialog the way an admin does (typing into the real widgets)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QComboBox, QLineEdit

from cpq_sync_gui import secrets as names
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.ui.connections_dialog import ConnectionsDialog
from cpq_sync_gui.ui.jobs import Job


def type_into(qtbot, dialog: ConnectionsDialog, key: str, text: str) -> None:
    widget = dialog.field(key)
    assert isinstance(widget, QLineEdit)
    widget.clear()
    qtbot.keyClicks(widget, text)


def choose(dialog: ConnectionsDialog, key: str, value: object) -> None:
    combo = dialog.field(key)
    assert isinstance(combo, QComboBox)
    index = combo.findData(value)
    assert index >= 0, f"{value!r} is not offered in {key}"
    combo.setCurrentIndex(index)


def fill_sandbox_profile(qtbot, dialog: ConnectionsDialog, sandbox: Sandbox, name: str) -> None:
    creds = sandbox.credentials
    dialog.name_edit.clear()
    qtbot.keyClicks(dialog.name_edit, name)
    choose(dialog, "salesforce.auth_method", "password")
    choose(dialog, "salesforce.login_host", "custom")
    type_into(qtbot, dialog, "salesforce.custom_login_url", sandbox.salesforce_url)
    type_into(qtbot, dialog, "salesforce.username", creds.sf_username)
    type_into(qtbot, dialog, names.SALESFORCE_PASSWORD, creds.sf_password)
    type_into(qtbot, dialog, names.SALESFORCE_SECURITY_TOKEN, creds.sf_security_token)
    choose(dialog, "zuora.environment", "custom")
    type_into(qtbot, dialog, "zuora.base_url", sandbox.zuora_url)
    type_into(qtbot, dialog, "zuora.client_id", creds.zuora_client_id)
    type_into(qtbot, dialog, names.ZUORA_CLIENT_SECRET, creds.zuora_client_secret)
    choose(dialog, "network.proxy_mode", "none")
    type_into(qtbot, dialog, "network.ca_bundle", str(sandbox.ca_path))


def wait_for_background_jobs(qtbot, timeout_ms: int = 30000) -> None:
    """Let every Job still running (e.g. handed to the application by a closed window) finish.

    A job's thread stops only after the GUI thread took its result, so this processes events;
    a QThread still running when the test process exits would abort it.
    """
    app = QCoreApplication.instance()
    if app is None:
        return
    qtbot.waitUntil(
        lambda: not any(job.running for job in app.findChildren(Job)), timeout=timeout_ms
    )
