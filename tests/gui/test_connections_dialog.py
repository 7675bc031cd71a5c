"""The Connections dialog with real widgets against the sandbox: create, test, fail plainly, delete, badge."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from keyring.backends import fail
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox, QPushButton

from cpq_sync_gui import connections
from cpq_sync_gui import secrets as names
from cpq_sync_gui.connections import DEMO_PROFILE_NAME, SessionSecrets
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.secrets import SecretStore
from cpq_sync_gui.settings import Profile, ProfileStore, profiles_path
from cpq_sync_gui.ui.connections_dialog import ConnectionsDialog
from cpq_sync_gui.ui.main_window import MainWindow
from tests.helpers.browser_login import play_browser
from tests.helpers.connections_form import (
    choose,
    fill_sandbox_profile,
    type_into,
    wait_for_background_jobs,
)

ORG_NAME = "CPQ Sync Demo Org"
WAIT_MS = 30000
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support raise\(\)")


def memory_secrets() -> SessionSecrets:
    return SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True))


OPEN_DIALOGS: list[ConnectionsDialog] = []


@pytest.fixture(autouse=True)
def close_dialogs_without_the_unsaved_changes_question(qtbot):
    """Tests leave forms half-edited; closing them must not wait for an "Unsaved changes" answer."""
    yield
    for dialog in OPEN_DIALOGS:
        dialog.dirty = False
        dialog.close()
        dialog.deleteLater()
    OPEN_DIALOGS.clear()
    wait_for_background_jobs(qtbot)


def make_dialog(qtbot, store: ProfileStore | None = None, secrets: SessionSecrets | None = None):
    dialog = ConnectionsDialog(store or ProfileStore(), secrets or memory_secrets())
    OPEN_DIALOGS.append(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def click(qtbot, dialog: ConnectionsDialog, name: str) -> None:
    button = dialog.findChild(QPushButton, name)
    assert button is not None, name
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def sandbox_profile(sandbox: Sandbox, name: str = "Acme UAT", **salesforce: object) -> Profile:
    creds = sandbox.credentials
    return Profile.model_validate(
        {
            "name": name,
            "salesforce": {
                "auth_method": "password",
                "login_host": "custom",
                "custom_login_url": sandbox.salesforce_url,
                "username": creds.sf_username,
                **salesforce,
            },
            "zuora": {
                "environment": "custom",
                "base_url": sandbox.zuora_url,
                "client_id": creds.zuora_client_id,
            },
            "network": {"proxy_mode": "none", "ca_bundle": str(sandbox.ca_path)},
        }
    )


def saved_sandbox_profile(sandbox: Sandbox, name: str = "Acme UAT"):
    store, secrets = ProfileStore(), memory_secrets()
    store.add(sandbox_profile(sandbox, name))
    store.save()
    creds = sandbox.credentials
    secrets.set(name, names.SALESFORCE_PASSWORD, creds.sf_password)
    secrets.set(name, names.SALESFORCE_SECURITY_TOKEN, creds.sf_security_token)
    secrets.set(name, names.ZUORA_CLIENT_SECRET, creds.zuora_client_secret)
    return store, secrets


class Heartbeat:
    """A GUI-thread timer; big gaps between its ticks mean the event loop was blocked."""

    def __init__(self, interval_ms: int = 20) -> None:
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.ticks, self.ticks[1:], strict=False)), default=0.0)


def answer_next_message_box(button: QMessageBox.StandardButton) -> list[str]:
    """Click ``button`` in the next modal message box, like the admin would; returns its text."""
    seen: list[str] = []

    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen.append(box.text())
        box.button(button).click()

    QTimer.singleShot(0, press)
    return seen


# --- create, save, test --------------------------------------------------------------------


def test_create_a_profile_and_test_it_without_blocking_the_window(qtbot, make_sandbox) -> None:
    sandbox = make_sandbox(latency_ms=120)  # every answer takes a while, like a real org
    store, secrets = ProfileStore(), memory_secrets()
    dialog = make_dialog(qtbot, store, secrets)
    assert dialog.current_name is None  # no profiles yet: a new one is ready to fill in

    fill_sandbox_profile(qtbot, dialog, sandbox, "Acme UAT")
    # The login method decides what shows.
    assert dialog.is_field_shown(names.SALESFORCE_PASSWORD)
    assert dialog.is_field_shown("salesforce.custom_login_url")
    assert not dialog.is_field_shown("salesforce.consumer_key")
    assert not dialog.is_field_shown("salesforce.my_domain")
    assert not dialog.is_field_shown("network.proxy_url")
    choose(dialog, "salesforce.auth_method", "jwt")
    assert dialog.is_field_shown("salesforce.private_key_file")
    assert not dialog.is_field_shown(names.SALESFORCE_PASSWORD)
    choose(dialog, "salesforce.auth_method", "password")
    assert dialog.field(names.SALESFORCE_PASSWORD).echoMode() == QLineEdit.EchoMode.Password

    click(qtbot, dialog, "saveButton")
    assert store.names() == ["Acme UAT"]
    assert "Saved 'Acme UAT'" in dialog.form_message.text()
    assert secrets.get("Acme UAT", names.SALESFORCE_PASSWORD) == sandbox.credentials.sf_password
    written = profiles_path().read_text()
    assert sandbox.credentials.sf_password not in written
    assert sandbox.credentials.zuora_client_secret not in written
    assert dialog.field(names.SALESFORCE_PASSWORD).text() == ""  # cleared after saving
    assert "saved" in dialog.field(names.SALESFORCE_PASSWORD).placeholderText()

    heartbeat = Heartbeat()
    began = time.perf_counter()
    click(qtbot, dialog, "testConnectionButton")
    assert not dialog.test_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=WAIT_MS)
    took = time.perf_counter() - began
    heartbeat.stop()

    assert dialog.last_result.ok, dialog.test_result.toPlainText()
    # The sandbox org says it is production; a profile badged "UAT" gets a warning.
    assert dialog.test_status.text().startswith("Both connections work — but the Salesforce org")
    assert "Tick 'Treat as production'" in dialog.test_status.text()
    shown = dialog.test_result.toPlainText()
    assert f"Organization: {ORG_NAME}" in shown
    assert "API usage:" in shown
    assert "Zuora: OK" in shown
    assert took > 0.5  # the test really took a while…
    assert len(heartbeat.ticks) >= 10  # …and the window kept ticking all along
    assert heartbeat.longest_gap() < 0.25
    assert dialog.test_button.isEnabled()


def test_wrong_password_shows_the_plain_message(qtbot, sandbox) -> None:
    store, secrets = saved_sandbox_profile(sandbox)
    dialog = make_dialog(qtbot, store, secrets)
    assert dialog.current_name == "Acme UAT"
    type_into(qtbot, dialog, names.SALESFORCE_PASSWORD, "Wrong-Password-55")  # typed, not saved

    click(qtbot, dialog, "testConnectionButton")
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=WAIT_MS)

    text = dialog.test_result.toPlainText()
    assert "Salesforce: FAILED" in text
    assert "the user name, password or security token is wrong" in text
    assert "Zuora: OK" in text
    assert "Salesforce could not connect" in dialog.test_status.text()
    assert "Wrong-Password-55" not in text
    # Testing does not save: the stored password is unchanged.
    assert secrets.get("Acme UAT", names.SALESFORCE_PASSWORD) == sandbox.credentials.sf_password


def test_bad_input_is_marked_inline_naming_the_field(qtbot, sandbox) -> None:
    store = ProfileStore()
    dialog = make_dialog(qtbot, store)
    fill_sandbox_profile(qtbot, dialog, sandbox, "Acme UAT")
    type_into(qtbot, dialog, "salesforce.custom_login_url", "http://login.acme.example")
    dialog.tabs.setCurrentIndex(3)

    click(qtbot, dialog, "saveButton")

    error = dialog.field_error("salesforce.custom_login_url")
    assert error.startswith("Custom login address: ")
    assert "must use https://, not http://" in error
    assert dialog.tabs.currentIndex() == 0  # the tab with the problem is shown
    assert "Fix the fields marked in red" in dialog.form_message.text()
    assert store.names() == []

    # A missing setting for the chosen login method is named too, before any network call.
    type_into(qtbot, dialog, "salesforce.custom_login_url", sandbox.salesforce_url)
    dialog.field("salesforce.username").clear()
    click(qtbot, dialog, "testConnectionButton")
    assert dialog.field_error("salesforce.username") == "User name: needed for this login method"
    assert dialog.test_job is None


# --- duplicate, rename, delete -------------------------------------------------------------


def test_duplicate_and_rename_carry_the_secrets(qtbot, sandbox) -> None:
    store, secrets = saved_sandbox_profile(sandbox)
    dialog = make_dialog(qtbot, store, secrets)
    click(qtbot, dialog, "duplicateProfileButton")
    assert store.names() == ["Acme UAT", "Acme UAT (copy)"]
    assert dialog.current_name == "Acme UAT (copy)"
    copy_password = secrets.get("Acme UAT (copy)", names.SALESFORCE_PASSWORD)
    assert copy_password == sandbox.credentials.sf_password

    dialog.name_edit.clear()
    qtbot.keyClicks(dialog.name_edit, "Acme Dev")
    click(qtbot, dialog, "saveButton")
    assert store.names() == ["Acme UAT", "Acme Dev"]
    assert (
        secrets.get("Acme Dev", names.ZUORA_CLIENT_SECRET)
        == sandbox.credentials.zuora_client_secret
    )
    assert secrets.get("Acme UAT (copy)", names.ZUORA_CLIENT_SECRET) is None


def test_delete_asks_and_removes_the_profile_and_its_secrets(qtbot, sandbox) -> None:
    store, secrets = saved_sandbox_profile(sandbox)
    store.add(sandbox_profile(sandbox, "Keep me"))
    store.save()
    secrets.set("Keep me", names.ZUORA_CLIENT_SECRET, "keep-this-secret")
    dialog = make_dialog(qtbot, store, secrets)
    dialog.select_profile("Acme UAT")

    # "No" keeps everything.
    asked = answer_next_message_box(QMessageBox.StandardButton.No)
    click(qtbot, dialog, "deleteProfileButton")
    assert "Delete the profile 'Acme UAT'?" in asked[0]
    assert "Acme UAT" in store

    answer_next_message_box(QMessageBox.StandardButton.Yes)
    click(qtbot, dialog, "deleteProfileButton")
    assert store.names() == ["Keep me"]
    assert "Acme UAT" not in profiles_path().read_text()
    for secret_name in names.SECRET_NAMES:
        assert secrets.get("Acme UAT", secret_name) is None
    assert secrets.get("Keep me", names.ZUORA_CLIENT_SECRET) == "keep-this-secret"
    assert dialog.current_name == "Keep me"


# --- browser login from the dialog ---------------------------------------------------------


class BrowserForTests(QObject):
    """Stands in for the system browser: QDesktopServices hands it the https URL."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.urls: list[str] = []
        self.threads: list[threading.Thread] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        text = url.toString(QUrl.ComponentFormattingOption.FullyEncoded)
        self.urls.append(text)
        creds = self.sandbox.credentials
        thread = threading.Thread(
            target=play_browser, args=(self.sandbox, text, creds.sf_username, creds.sf_password)
        )
        thread.start()
        self.threads.append(thread)


@pytest.fixture
def system_browser(sandbox: Sandbox):
    browser = BrowserForTests(sandbox)
    QDesktopServices.setUrlHandler("https", browser, "open")
    yield browser
    QDesktopServices.unsetUrlHandler("https")
    for thread in browser.threads:
        thread.join(timeout=10)


def test_browser_login_button_opens_the_browser_and_waits_without_freezing(
    qtbot, sandbox, system_browser: BrowserForTests
) -> None:
    store, secrets = ProfileStore(), memory_secrets()
    profile = sandbox_profile(
        sandbox, "Browser", auth_method="browser", consumer_key=sandbox.credentials.sf_consumer_key
    )
    store.add(profile)
    store.save()
    secrets.set("Browser", names.ZUORA_CLIENT_SECRET, sandbox.credentials.zuora_client_secret)
    dialog = make_dialog(qtbot, store, secrets)
    assert dialog.is_field_shown("browser_login")
    assert not dialog.is_field_shown(names.SALESFORCE_PASSWORD)
    assert "http://localhost:1717/OauthRedirect" in dialog.callback_label.text()
    dialog.field("salesforce.browser_callback_port").setValue(free_port())
    click(qtbot, dialog, "saveButton")

    heartbeat = Heartbeat()
    click(qtbot, dialog, "browserLoginButton")
    assert dialog.cancel_browser_button.isVisible()
    qtbot.waitUntil(
        lambda: "Logged in with the browser" in dialog.test_status.text(), timeout=WAIT_MS
    )
    heartbeat.stop()

    assert len(system_browser.urls) == 1
    assert "/services/oauth2/authorize?" in system_browser.urls[0]
    assert heartbeat.longest_gap() < 0.25
    assert "saved for this profile" in dialog.test_status.text()
    assert secrets.get("Browser", names.SALESFORCE_REFRESH_TOKEN)
    qtbot.waitUntil(lambda: not dialog.cancel_browser_button.isVisible(), timeout=WAIT_MS)

    click(qtbot, dialog, "testConnectionButton")  # the saved login needs no browser now
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=WAIT_MS)
    assert dialog.last_result.ok, dialog.test_result.toPlainText()
    assert len(system_browser.urls) == 1


def free_port() -> int:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# --- banner, badge, demo -------------------------------------------------------------------


def test_memory_only_banner(qtbot) -> None:
    dialog = make_dialog(qtbot, ProfileStore(), memory_secrets())
    assert dialog.banner.isVisible()
    assert "kept in memory for this session only" in dialog.banner.text()
    assert "no password store was found" in dialog.banner.text()


def test_production_badge_is_always_visible_in_the_main_window(qtbot, sandbox) -> None:
    store, secrets = saved_sandbox_profile(sandbox, "Acme UAT")
    store.add(
        Profile.model_validate(
            {"name": "Acme Production", "salesforce": {"login_host": "production"}}
        )
    )
    store.add(Profile.model_validate({"name": "Dev org", "salesforce": {"login_host": "sandbox"}}))
    store.set_active("Acme Production")
    window = MainWindow(store, secrets)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)

    badge = window.profile_badge.badge
    assert badge.isVisible()
    assert badge.text() == "PRODUCTION"
    assert "#c62828" in badge.styleSheet()
    assert window.profile_badge.chooser.currentText() == "Acme Production"
    assert "Acme Production" in window.windowTitle()

    chooser = window.profile_badge.chooser
    chooser.setCurrentIndex(chooser.findData("Acme UAT"))
    assert badge.text() == "UAT"
    assert "#f9a825" in badge.styleSheet()
    assert store.active.name == "Acme UAT"
    assert ProfileStore.__name__  # the choice is remembered on disk:
    reloaded = ProfileStore()
    reloaded.load()
    assert reloaded.active.name == "Acme UAT"
    assert any("Active profile: Acme UAT (UAT)" in e.message for e in window.log_pane.entries())

    chooser.setCurrentIndex(chooser.findData("Dev org"))
    assert badge.text() == "Sandbox"


def test_connections_action_opens_the_dialog_and_changes_reach_the_toolbar(qtbot, sandbox) -> None:
    store, secrets = saved_sandbox_profile(sandbox, "Acme UAT")
    window = MainWindow(store, secrets)
    qtbot.addWidget(window)
    window.connections_action.trigger()
    dialog = window.connections_dialog
    assert isinstance(dialog, ConnectionsDialog)
    click(qtbot, dialog, "newProfileButton")
    dialog.name_edit.clear()
    qtbot.keyClicks(dialog.name_edit, "Acme Production")
    choose(dialog, "salesforce.login_host", "production")
    click(qtbot, dialog, "saveButton")
    chooser = window.profile_badge.chooser
    assert chooser.findData("Acme Production") >= 0
    click(qtbot, dialog, "closeButton")
    qtbot.waitUntil(lambda: window.connections_dialog is None)


def test_demo_starts_in_the_background_and_becomes_the_active_profile(qtbot) -> None:
    secrets = memory_secrets()
    window = MainWindow(ProfileStore(), secrets)
    qtbot.addWidget(window)
    heartbeat = Heartbeat()
    job = window.start_demo()
    assert job is not None
    try:
        qtbot.waitUntil(lambda: window.demo is not None, timeout=WAIT_MS)
        heartbeat.stop()
        assert heartbeat.longest_gap() < 0.25
        demo = window.demo
        assert window.active_profile.name == DEMO_PROFILE_NAME
        assert window.profile_badge.badge.text() == "Demo"
        lines = [e.message for e in window.log_pane.entries()]
        assert any(
            demo.sandbox.salesforce_url in line and demo.sandbox.zuora_url in line for line in lines
        )
        # The throwaway logins are in memory only, never in the profiles file.
        written = profiles_path().read_text()
        assert demo.sandbox.credentials.sf_password not in written
        assert secrets.is_memory_only(DEMO_PROFILE_NAME)
        report = connections.test_salesforce(window.active_profile, secrets)
        assert report.organization_name == ORG_NAME
        assert connections.test_zuora(window.active_profile, secrets).token_ok
    finally:
        window.shutdown()
    assert window.demo is None
    assert secrets.get(DEMO_PROFILE_NAME, names.SALESFORCE_PASSWORD) is None  # forgotten


def run_later(callback: Callable[[], None]) -> None:
    QTimer.singleShot(0, callback)
