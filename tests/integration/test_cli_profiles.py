"""`cpq-sync profiles …` as a subprocess: secrets only from the environment or a prompt, tests against the sandbox."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cpq_sync_gui.cli_profiles import SECRET_ENV_VARS
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import profiles_path
from tests.helpers.browser_login import play_browser
from tests.helpers.cli_sync_rig import profile_options
from tests.helpers.pty_cli import run_with_terminal

ORG_NAME = "CPQ Sync Demo Org"

NO_KEYRING = "keyring.backends.fail.Keyring"


def cli(
    *args: str, env: dict[str, str] | None = None, keyring: str | None = NO_KEYRING, timeout=60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m cpq_sync_gui.cli` with this test's CPQ_SYNC_HOME (and no keyring by default)."""
    environment = dict(os.environ)
    for variable in SECRET_ENV_VARS.values():
        environment.pop(variable, None)
    if keyring is not None:
        environment["PYTHON_KEYRING_BACKEND"] = keyring
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "cpq_sync_gui.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def sandbox_options(sandbox: Sandbox) -> list[str]:
    return profile_options(sandbox, read_timeout=None)


def secret_env(sandbox: Sandbox) -> dict[str, str]:
    creds = sandbox.credentials
    return {
        "CPQ_SYNC_SF_PASSWORD": creds.sf_password,
        "CPQ_SYNC_SF_SECURITY_TOKEN": creds.sf_security_token,
        "CPQ_SYNC_ZUORA_CLIENT_SECRET": creds.zuora_client_secret,
    }


# --- help and refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["add", "edit", "test"])
def test_help_names_every_secret_environment_variable(command: str) -> None:
    result = cli("profiles", command, "--help")
    assert result.returncode == 0, result.stderr
    for variable in SECRET_ENV_VARS.values():
        assert variable in result.stdout
    assert "never taken from the command line" in result.stdout


@pytest.mark.parametrize(
    ("arguments", "variable"),
    [
        (["--sf-password", "Hunter2-pass-9931"], "CPQ_SYNC_SF_PASSWORD"),
        (["--zuora-client-secret=Hunter2-zuora-9931"], "CPQ_SYNC_ZUORA_CLIENT_SECRET"),
        (["--proxy-password", "Hunter2-proxy-9931"], "CPQ_SYNC_PROXY_PASSWORD"),
        (["--security-token", "Hunter2-token-9931"], "CPQ_SYNC_SF_SECURITY_TOKEN"),
    ],
)
def test_a_secret_given_as_an_argument_is_refused(
    sandbox: Sandbox, arguments: list[str], variable: str
) -> None:
    result = cli("profiles", "add", "Prod", *sandbox_options(sandbox), *arguments)
    assert result.returncode == 2
    assert "secrets are never taken from the command line" in result.stderr
    assert variable in result.stderr
    assert "Hunter2" not in result.stdout + result.stderr
    assert not profiles_path().exists()


# --- add, test, list, show, edit, remove ---------------------------------------------------


def test_add_then_test_against_the_sandbox(sandbox: Sandbox) -> None:
    env = secret_env(sandbox)
    added = cli("profiles", "add", "Acme UAT", *sandbox_options(sandbox), env=env)
    assert added.returncode == 0, added.stderr
    assert "Added profile 'Acme UAT' [UAT]" in added.stdout
    # No keyring in this test: the CLI says the secrets were not saved and how to give them.
    assert "No secure password store is available" in added.stderr
    assert "were NOT saved" in added.stderr
    saved = profiles_path().read_text()
    for value in env.values():
        assert value not in saved

    tested = cli("profiles", "test", "Acme UAT", "--json", env=env)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    report = json.loads(tested.stdout)
    assert report["ok"] is True
    assert report["salesforce"]["organization_name"] == ORG_NAME
    assert report["salesforce"]["instance_url"] == sandbox.salesforce_url
    assert report["salesforce"]["api_limit"] == 15000
    assert report["zuora"]["token_ok"] is True
    assert report["zuora"]["base_url"] == sandbox.zuora_url

    plain = cli("profiles", "test", env=env)  # the first profile added became the active one
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert f"Organization: {ORG_NAME}" in plain.stdout
    assert "Zuora: OK" in plain.stdout
    for value in env.values():
        assert value not in tested.stdout + tested.stderr + plain.stdout + plain.stderr


def test_a_failing_test_exits_1_with_the_plain_message(sandbox: Sandbox) -> None:
    assert cli("profiles", "add", "UAT", *sandbox_options(sandbox)).returncode == 0
    env = {**secret_env(sandbox), "CPQ_SYNC_SF_PASSWORD": "wrong-password-4410"}
    result = cli("profiles", "test", "UAT", env=env)
    assert result.returncode == 1
    assert "Salesforce: FAILED" in result.stdout
    assert "the user name, password or security token is wrong" in result.stdout
    assert "Zuora: OK" in result.stdout
    assert "wrong-password-4410" not in result.stdout + result.stderr

    as_json = json.loads(cli("profiles", "test", "UAT", "--json", env=env).stdout)
    assert as_json["ok"] is False
    assert as_json["salesforce"]["code"] == "INVALID_LOGIN"


def test_usage_and_settings_errors_exit_2_and_name_what_to_fix(sandbox: Sandbox) -> None:
    unknown = cli("profiles", "test", "Nope")
    assert unknown.returncode == 2
    assert "There is no profile named 'Nope'" in unknown.stderr

    bad = cli(
        "profiles", "add", "X", "--sf-login-host", "custom", "--sf-login-url", "http://x.example"
    )
    assert bad.returncode == 2
    assert "--sf-login-url: the custom login address must use https://" in bad.stderr

    incomplete = cli("profiles", "add", "Y", "--sf-auth", "jwt")
    assert incomplete.returncode == 0, incomplete.stderr
    result = cli("profiles", "test", "Y", "--salesforce-only")
    assert result.returncode == 2
    assert "The profile is missing: Salesforce user name" in result.stdout


def test_list_show_edit_use_and_remove(sandbox: Sandbox) -> None:
    assert cli("profiles", "add", "Dev", *sandbox_options(sandbox)).returncode == 0
    production = cli(
        "profiles", "add", "Acme Production",
        "--sf-login-host", "production", "--sf-username", "admin@acme.example",
        "--zuora-environment", "us_production_cloud1", "--zuora-client-id", "abc",
    )  # fmt: skip
    assert production.returncode == 0, production.stderr
    assert "[PRODUCTION]" in production.stdout

    listed = json.loads(cli("profiles", "list", "--json").stdout)
    assert listed["active"] == "Dev"
    rows = {row["name"]: row for row in listed["profiles"]}
    assert rows["Acme Production"]["kind"] == "production"
    assert rows["Dev"]["kind"] == "sandbox"
    assert "* Dev  [Sandbox]" in cli("profiles", "list").stdout

    shown = json.loads(cli("profiles", "show", "Dev", "--json").stdout)
    assert shown["salesforce"]["custom_login_url"] == sandbox.salesforce_url
    assert shown["secrets"]["Salesforce password"] == "not saved"
    assert shown["password_store"].startswith("none:")

    edited = cli("profiles", "edit", "Dev", "--sf-api-version", "61.0", "--rename", "Dev 2")
    assert edited.returncode == 0, edited.stderr
    shown = json.loads(cli("profiles", "show", "Dev 2", "--json").stdout)
    assert shown["salesforce"]["api_version"] == "61.0"
    assert shown["salesforce"]["username"] == sandbox.credentials.sf_username  # kept
    assert shown["active"] is True

    assert cli("profiles", "use", "Acme Production").returncode == 0
    assert json.loads(cli("profiles", "list", "--json").stdout)["active"] == "Acme Production"

    refused = cli("profiles", "remove", "Dev 2")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    removed = cli("profiles", "remove", "Dev 2", "--yes")
    assert removed.returncode == 0, removed.stderr
    names = [
        row["name"] for row in json.loads(cli("profiles", "list", "--json").stdout)["profiles"]
    ]
    assert names == ["Acme Production"]


# --- browser login from the command line ---------------------------------------------------


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_browser_login_prints_the_url_and_opens_the_browser(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    creds = sandbox.credentials
    options = sandbox_options(sandbox)
    options[options.index("password")] = "browser"
    port = _free_port()
    added = cli(
        "profiles", "add", "Browser", *options,
        "--sf-consumer-key", creds.sf_consumer_key, "--sf-callback-port", str(port),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    opened = tmp_path / "opened-url.txt"
    browser = tmp_path / "fake-browser"  # what the system's browser command receives
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    environment = dict(os.environ, PYTHON_KEYRING_BACKEND=NO_KEYRING, BROWSER=str(browser))
    environment["CPQ_SYNC_ZUORA_CLIENT_SECRET"] = creds.zuora_client_secret
    process = subprocess.Popen(
        [sys.executable, "-m", "cpq_sync_gui.cli", "profiles", "test", "Browser", "--json"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(process.stderr or []))
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not (opened.exists() and opened.read_text()):
            assert process.poll() is None, "the CLI ended before opening the browser"
            assert time.monotonic() < deadline, "the browser was never opened"
            time.sleep(0.05)
        url = opened.read_text()
        page = play_browser(sandbox, url, creds.sf_username, creds.sf_password)
        assert page.status_code == 200
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        reader.join(timeout=5)
    assert process.returncode == 0, stdout + "".join(printed)
    assert any(url in line for line in printed), printed  # printed for the user as well
    assert json.loads(stdout)["salesforce"]["organization_name"] == ORG_NAME


# --- the no-echo prompt --------------------------------------------------------------------


def test_add_asks_for_secrets_at_the_terminal_without_echoing_them(sandbox: Sandbox) -> None:
    creds = sandbox.credentials
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV_VARS.values()}
    env["PYTHON_KEYRING_BACKEND"] = NO_KEYRING
    typed = {
        "Salesforce password": "Typed-Pw-7312",
        "Salesforce security token": "Typed-Token-7312",
        "Zuora client secret": creds.zuora_client_secret,
    }
    status, terminal, stdout = run_with_terminal(
        ["profiles", "add", "Typed", *sandbox_options(sandbox)], typed, env
    )
    assert status == 0, terminal + stdout
    for prompt in typed:
        assert f"{prompt} (not shown; blank to skip):" in terminal
    for value in typed.values():
        assert value not in terminal  # the terminal never showed what was typed
        assert value not in stdout
    assert "Added profile 'Typed'" in stdout
    # Without a password store the typed secrets are not kept, and the CLI says how to give them.
    assert "were NOT saved" in terminal
    assert (
        "CPQ_SYNC_SF_PASSWORD, CPQ_SYNC_SF_SECURITY_TOKEN, CPQ_SYNC_ZUORA_CLIENT_SECRET" in terminal
    )
