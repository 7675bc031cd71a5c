"""No secret value ever lands in a file: run the CLI, dialog and demo flows, then scan every file.

Scanned: this test's CPQ_SYNC_HOME (config, data, logs, cache), pytest's whole temporary base
(the homes of every test that ran before this one), build/test-home (the runner's HOME, XDG
dirs and keyring folder: gnome-keyring's file is encrypted) and build/test-artifacts. The
values are the sandbox's session-wide credentials (used by most tests) plus distinct values
only this test uses, including wrong passwords typed into failing tests.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from keyring.backends import fail
from PySide6.QtWidgets import QPushButton

from cpq_sync_gui import paths
from cpq_sync_gui import secrets as names
from cpq_sync_gui.cli_profiles import SECRET_ENV_VARS
from cpq_sync_gui.connections import SessionSecrets
from cpq_sync_gui.demo import start_demo
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.secrets import SecretStore
from cpq_sync_gui.settings import ProfileStore
from cpq_sync_gui.ui.connections_dialog import ConnectionsDialog
from tests.conftest import ARTIFACTS, REPO
from tests.helpers.connections_form import (
    fill_sandbox_profile,
    type_into,
    wait_for_background_jobs,
)

MAX_SCANNED_BYTES = 64 * 1024 * 1024


def forms(value: str) -> set[bytes]:
    """How a secret could show up in a file."""
    texts = {value, quote(value, safe=""), quote_plus(value, safe=""), html.escape(value)}
    return {text.encode() for text in texts}


def scan(roots: list[Path], secrets: dict[str, str]) -> list[str]:
    found = []
    patterns = {label: forms(value) for label, value in secrets.items() if len(value) >= 6}
    for root in roots:
        if not root.exists():
            continue
        for path in [root] if root.is_file() else root.rglob("*"):
            try:
                if not path.is_file() or path.is_symlink():
                    continue
                if path.stat().st_size > MAX_SCANNED_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            for label, needles in patterns.items():
                if any(needle in data for needle in needles):
                    found.append(f"{label} in {path}")
    return found


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in SECRET_ENV_VARS.values()}
    environment["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "cpq_sync_gui.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_no_secret_value_is_written_to_any_file(
    qtbot,
    sandbox: Sandbox,
    cpq_sync_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    creds = sandbox.credentials
    tag = uuid.uuid4().hex[:10]
    distinct = {
        "wrong Salesforce password (CLI)": f"Cli-Wrong-Pw-{tag}",
        "wrong Salesforce password (dialog)": f"Dialog-Wrong-Pw-{tag}",
        "proxy password": f"Proxy-Pw-{tag}",
        "consumer secret": f"Consumer-Secret-{tag}",
        "key passphrase": f"Key-Passphrase-{tag}",
    }
    sandbox_values = {
        "sandbox Salesforce password": creds.sf_password,
        "sandbox security token": creds.sf_security_token,
        "sandbox consumer secret": creds.sf_consumer_secret,
        "sandbox Zuora client secret": creds.zuora_client_secret,
    }
    options = [
        "--sf-login-host", "custom", "--sf-login-url", sandbox.salesforce_url,
        "--sf-username", creds.sf_username, "--zuora-environment", "custom",
        "--zuora-base-url", sandbox.zuora_url, "--zuora-client-id", creds.zuora_client_id,
        "--proxy", "none", "--ca-bundle", str(sandbox.ca_path),
    ]  # fmt: skip
    env = {
        "CPQ_SYNC_SF_PASSWORD": creds.sf_password,
        "CPQ_SYNC_SF_SECURITY_TOKEN": creds.sf_security_token,
        "CPQ_SYNC_ZUORA_CLIENT_SECRET": creds.zuora_client_secret,
        "CPQ_SYNC_SF_CONSUMER_SECRET": distinct["consumer secret"],
        "CPQ_SYNC_SF_KEY_PASSPHRASE": distinct["key passphrase"],
        "CPQ_SYNC_PROXY_PASSWORD": distinct["proxy password"],
    }

    # --- the command line: add, test (good and bad), a proxy profile, show, edit ---------
    assert cli("profiles", "add", "Leak UAT", *options, env=env).returncode == 0
    assert cli("profiles", "test", "Leak UAT", "--json", env=env).returncode == 0
    bad = {**env, "CPQ_SYNC_SF_PASSWORD": distinct["wrong Salesforce password (CLI)"]}
    assert cli("profiles", "test", "Leak UAT", env=bad).returncode == 1
    proxied = [*options[:-4], "--proxy", "manual", "--proxy-url", "http://127.0.0.1:9",
               "--proxy-username", "someone", "--ca-bundle", str(sandbox.ca_path)]  # fmt: skip
    assert cli("profiles", "add", "Leak proxy", *proxied, env=env).returncode == 0
    assert cli("profiles", "test", "Leak proxy", env=env).returncode == 1
    assert cli("profiles", "show", "Leak proxy", "--json", env=env).returncode == 0
    assert cli("profiles", "edit", "Leak UAT", "--sf-api-version", "61.0", env=env).returncode == 0

    # --- the dialog: create, save, test, fail, delete -------------------------------------
    secrets = SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True))
    store = ProfileStore()
    store.load()
    dialog = ConnectionsDialog(store, secrets)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.new_profile()
    fill_sandbox_profile(qtbot, dialog, sandbox, "Leak dialog")
    dialog.findChild(QPushButton, "saveButton").click()
    dialog.findChild(QPushButton, "testConnectionButton").click()
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=30000)
    assert dialog.last_result.ok, dialog.test_result.toPlainText()
    dialog.last_result = None
    type_into(
        qtbot, dialog, names.SALESFORCE_PASSWORD, distinct["wrong Salesforce password (dialog)"]
    )
    dialog.findChild(QPushButton, "testConnectionButton").click()
    qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=30000)
    assert not dialog.last_result.ok
    dialog.dirty = False

    # --- the demo: its throwaway logins too ----------------------------------------------
    demo = start_demo(store, secrets, SandboxConfig(accounts=5, orders=5))
    demo_values = {
        "demo Salesforce password": demo.sandbox.credentials.sf_password,
        "demo Zuora client secret": demo.sandbox.credentials.zuora_client_secret,
    }
    demo.stop()
    wait_for_background_jobs(qtbot)

    roots = [
        cpq_sync_home,
        paths.config_dir(),
        paths.data_dir(),
        paths.log_dir(),
        paths.cache_dir(),
        tmp_path_factory.getbasetemp(),
        Path(os.environ.get("CPQ_SYNC_TEST_HOME") or REPO / "build" / "test-home"),
        ARTIFACTS,
    ]
    assert (paths.config_dir() / "profiles.json").exists()  # something was written and scanned
    canary = tmp_path_factory.mktemp("canary") / "log.txt"  # the scan finds what is there
    canary.write_text(f"password={quote_plus('Canary pw/' + tag)}\n")
    assert scan([canary.parent], {"canary": "Canary pw/" + tag}) == [f"canary in {canary}"]
    canary.unlink()
    leaks = scan(roots, {**distinct, **sandbox_values, **demo_values})
    assert leaks == [], "secret values found in files:\n" + "\n".join(leaks)
