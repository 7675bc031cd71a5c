"""Profile secrets through the real Secret Service (dialog and CLI), and the app without any keyring.

Run inside a D-Bus session with an unlocked gnome-keyring (``python3 dev.py test`` does), e.g.::

    dbus-run-session -- sh -c 'echo -n test | gnome-keyring-daemon --unlock \
        --components=secrets >/dev/null; .venv/bin/pytest tests/integration/test_keyring_profiles.py'
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import keyring
import pytest
from keyring.backends import fail
from keyring.backends.SecretService import Keyring as SecretServiceKeyring
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from cpq_sync_gui import secrets as names
from cpq_sync_gui.cli_profiles import SECRET_ENV_VARS
from cpq_sync_gui.connections import SessionSecrets
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.secrets import SERVICE_NAME, SecretStore
from cpq_sync_gui.settings import ProfileStore, profiles_path
from cpq_sync_gui.ui.connections_dialog import ConnectionsDialog, open_app_secrets
from cpq_sync_gui.ui.main_window import MainWindow
from tests.helpers.connections_form import fill_sandbox_profile, wait_for_background_jobs
from tests.helpers.pty_cli import run_with_terminal

pytestmark = [
    pytest.mark.keyring,
    pytest.mark.qt_log_ignore(r"This plugin does not support raise\(\)"),
]

ORG_NAME = "CPQ Sync Demo Org"
HOW_TO_RUN = (
    "These tests need a D-Bus session with an unlocked gnome-keyring (Secret Service). Run "
    "`python3 dev.py test`, or: dbus-run-session -- sh -c 'echo -n test | gnome-keyring-daemon "
    "--unlock --components=secrets >/dev/null; .venv/bin/pytest "
    "tests/integration/test_keyring_profiles.py' (apt-get install dbus gnome-keyring "
    "libsecret-tools)."
)


@pytest.fixture(autouse=True)
def _restore_keyring_backend(qtbot) -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)
    wait_for_background_jobs(qtbot)


@pytest.fixture
def secret_service() -> None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail(HOW_TO_RUN)
    backend = keyring.get_keyring()
    if not isinstance(backend, SecretServiceKeyring):
        pytest.fail(f"keyring chose {backend!r}, not the Secret Service. {HOW_TO_RUN}")


@pytest.fixture
def profile_name(secret_service: None) -> Iterator[str]:
    name = f"Keyring UAT {uuid.uuid4().hex[:8]}"
    yield name
    SecretStore().delete_profile(name)


def secret_tool_lookup(profile: str, secret_name: str) -> str | None:
    tool = shutil.which("secret-tool")
    if tool is None:
        pytest.fail("secret-tool is missing: run `apt-get install libsecret-tools`")
    result = subprocess.run(
        [tool, "lookup", "service", SERVICE_NAME, "username", f"{profile}/{secret_name}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def press_in_next_message_box(button_text: str | QMessageBox.StandardButton) -> list[str]:
    seen: list[str] = []

    def press() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press)
            return
        seen.append(box.text() + "\n" + box.informativeText())
        if isinstance(button_text, str):
            button = next(b for b in box.findChildren(QPushButton) if b.text() == button_text)
        else:
            button = box.button(button_text)
        button.click()

    QTimer.singleShot(0, press)
    return seen


def sandbox_cli_options(sandbox: Sandbox) -> list[str]:
    creds = sandbox.credentials
    return [
        "--sf-auth", "password", "--sf-login-host", "custom",
        "--sf-login-url", sandbox.salesforce_url, "--sf-username", creds.sf_username,
        "--zuora-environment", "custom", "--zuora-base-url", sandbox.zuora_url,
        "--zuora-client-id", creds.zuora_client_id,
        "--proxy", "none", "--ca-bundle", str(sandbox.ca_path),
    ]  # fmt: skip


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in SECRET_ENV_VARS.values()}
    environment.pop("PYTHON_KEYRING_BACKEND", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "cpq_sync_gui.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


# --- the dialog ----------------------------------------------------------------------------


def test_dialog_secrets_round_trip_through_the_secret_service(
    qtbot, sandbox: Sandbox, profile_name: str
) -> None:
    secrets = open_app_secrets(None, ask=False)
    assert secrets is not None
    assert not secrets.memory_only
    assert secrets.backend_name == "SecretService Keyring"
    store = ProfileStore()
    dialog = ConnectionsDialog(store, secrets)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.banner.isVisible()

    fill_sandbox_profile(qtbot, dialog, sandbox, profile_name)
    dialog.findChild(QPushButton, "saveButton").click()
    creds = sandbox.credentials
    assert secret_tool_lookup(profile_name, names.SALESFORCE_PASSWORD) == creds.sf_password
    assert (
        secret_tool_lookup(profile_name, names.SALESFORCE_SECURITY_TOKEN) == creds.sf_security_token
    )
    assert secret_tool_lookup(profile_name, names.ZUORA_CLIENT_SECRET) == creds.zuora_client_secret
    assert creds.sf_password not in profiles_path().read_text()

    # A new start of the app (a fresh store) reads them back and the test connection works.
    dialog.dirty = False
    dialog.close()
    again = ConnectionsDialog(store, SessionSecrets(SecretStore()))
    qtbot.addWidget(again)
    again.show()
    again.select_profile(profile_name)
    assert "saved" in again.field(names.SALESFORCE_PASSWORD).placeholderText()
    again.findChild(QPushButton, "testConnectionButton").click()
    qtbot.waitUntil(lambda: again.last_result is not None, timeout=30000)
    assert again.last_result.ok, again.test_result.toPlainText()
    assert ORG_NAME in again.test_result.toPlainText()

    press_in_next_message_box(QMessageBox.StandardButton.Yes)
    again.findChild(QPushButton, "deleteProfileButton").click()
    assert profile_name not in store
    for secret_name in names.SECRET_NAMES:
        assert secret_tool_lookup(profile_name, secret_name) is None


# --- the command line ----------------------------------------------------------------------


def test_cli_secrets_round_trip_through_the_secret_service(
    sandbox: Sandbox, profile_name: str
) -> None:
    creds = sandbox.credentials
    env = {
        "CPQ_SYNC_SF_PASSWORD": creds.sf_password,
        "CPQ_SYNC_SF_SECURITY_TOKEN": creds.sf_security_token,
        "CPQ_SYNC_ZUORA_CLIENT_SECRET": creds.zuora_client_secret,
    }
    added = cli("profiles", "add", profile_name, *sandbox_cli_options(sandbox), env=env)
    assert added.returncode == 0, added.stderr
    assert "NOT saved" not in added.stderr
    assert secret_tool_lookup(profile_name, names.SALESFORCE_PASSWORD) == creds.sf_password
    assert secret_tool_lookup(profile_name, names.ZUORA_CLIENT_SECRET) == creds.zuora_client_secret

    shown = json.loads(cli("profiles", "show", profile_name, "--json").stdout)
    assert shown["secrets"]["Salesforce password"] == "saved"
    assert "password_store" not in shown

    tested = cli("profiles", "test", profile_name, "--json")  # no environment: the keyring only
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert json.loads(tested.stdout)["salesforce"]["organization_name"] == ORG_NAME

    removed = cli("profiles", "remove", profile_name, "--yes")
    assert removed.returncode == 0, removed.stderr
    for secret_name in names.SECRET_NAMES:
        assert secret_tool_lookup(profile_name, secret_name) is None


# --- no keyring at all ---------------------------------------------------------------------


def test_without_a_keyring_the_app_asks_once_then_runs_with_session_only_secrets(
    qtbot, sandbox: Sandbox
) -> None:
    keyring.set_keyring(fail.Keyring())

    asked = press_in_next_message_box("Quit")
    assert open_app_secrets(None) is None
    assert "none is available" in asked[0]

    asked = press_in_next_message_box("Continue with session-only secrets")
    secrets = open_app_secrets(None)
    assert secrets is not None
    assert secrets.memory_only
    assert "for this session only" in asked[0]

    window = MainWindow(ProfileStore(), secrets)
    qtbot.addWidget(window)
    window.show()
    assert window.secrets_status.text() == "Secrets: this session only (no password store)"
    window.connections_action.trigger()
    dialog = window.connections_dialog
    assert dialog is not None
    assert dialog.banner.isVisible()
    assert "kept in memory for this session only" in dialog.banner.text()

    # Secrets typed in still work for this session, and nothing is written anywhere.
    fill_sandbox_profile(qtbot, dialog, sandbox, "Session only")
    dialog.findChild(QPushButton, "saveButton").click()
    assert secrets.get("Session only", names.SALESFORCE_PASSWORD) == sandbox.credentials.sf_password
    dialog.findChild(QPushButton, "testConnectionButton").click()
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=30000)
    assert dialog.last_result.ok, dialog.test_result.toPlainText()
    assert sandbox.credentials.sf_password not in profiles_path().read_text()
    dialog.dirty = False


def test_without_a_keyring_the_app_still_starts_and_says_so() -> None:
    environment = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    result = subprocess.run(
        [sys.executable, "-m", "cpq_sync_gui", "--smoke"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    assert "Secrets are kept in memory for this session only" in result.stderr


def test_secrets_typed_at_the_terminal_go_to_the_secret_service(
    sandbox: Sandbox, profile_name: str
) -> None:
    creds = sandbox.credentials
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV_VARS.values()}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    typed = {
        "Salesforce password": creds.sf_password,
        "Salesforce security token": creds.sf_security_token,
        "Zuora client secret": creds.zuora_client_secret,
    }
    status, terminal, stdout = run_with_terminal(
        ["profiles", "add", profile_name, *sandbox_cli_options(sandbox)], typed, env
    )
    assert status == 0, terminal + stdout
    for value in typed.values():
        assert value not in terminal + stdout
    assert secret_tool_lookup(profile_name, names.SALESFORCE_PASSWORD) == creds.sf_password
    assert (
        secret_tool_lookup(profile_name, names.SALESFORCE_SECURITY_TOKEN) == creds.sf_security_token
    )
    tested = cli("profiles", "test", profile_name)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert cli("profiles", "remove", profile_name, "--yes").returncode == 0
