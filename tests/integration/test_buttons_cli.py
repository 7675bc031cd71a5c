"""`cpq-sync buttons status|deploy|ticket` against the sandbox org, with a real profiles file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from cpq_sync_gui import cli
from cpq_sync_gui.sandbox.salesforce_metadata import NO_METADATA_PERMISSION
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import ProfileStore
from tests.helpers.buttons import sandbox_profile

NAME = "Sandbox org"


@pytest.fixture
def saved_profile(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sandbox profile in profiles.json; its secrets in the CPQ_SYNC_* variables."""
    store = ProfileStore()
    store.add(sandbox_profile(sandbox, name=NAME))
    store.add(sandbox_profile(sandbox, name="Acme Production", treat_as_production=True))
    store.save()
    monkeypatch.setenv("CPQ_SYNC_SF_PASSWORD", sandbox.credentials.sf_password)
    monkeypatch.setenv("CPQ_SYNC_SF_SECURITY_TOKEN", sandbox.credentials.sf_security_token)
    return NAME


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None):
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    code = cli.main(["buttons", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def keep_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", sys.stdin)


def test_status_reports_missing_buttons_with_exit_1(capsys, saved_profile: str) -> None:
    code, out, _ = run(capsys, "status", "--profile", saved_profile)
    assert code == 1
    assert "Account button send_to_zuora_account: Missing" in out
    assert "Order button send_to_zuora_order: Missing" in out
    assert "cpq-sync buttons deploy" in out

    code, out, _ = run(capsys, "status", "--profile", saved_profile, "--json")
    document = json.loads(out)
    assert (code, document["ok"]) == (1, False)
    assert [b["state"] for b in document["buttons"]] == ["Missing", "Missing"]


def test_deploy_shows_the_plan_asks_and_deploys(
    capsys, saved_profile: str, sandbox: Sandbox
) -> None:
    code, out, _ = run(capsys, "deploy", "--profile", saved_profile, stdin="n\n")
    assert code == 1
    assert "Create the Account button Account.send_to_zuora_account:" in out
    assert "  openType: newWindow" in out
    assert "Nothing was deployed." in out
    assert sandbox.org.count("WebLink") == 0

    code, out, _ = run(capsys, "deploy", "--profile", saved_profile, stdin="yes\n")
    assert code == 0, out
    assert "Account.send_to_zuora_account (create): done" in out
    assert "Setup > Object Manager > Account > Page Layouts" in out
    assert sandbox.org.count("WebLink") == 2

    code, out, _ = run(capsys, "status", "--profile", saved_profile)
    assert code == 0
    assert out.count(": OK") == 2
    code, out, _ = run(capsys, "deploy", "--profile", saved_profile)
    assert (code, "Nothing to deploy" in out) == (0, True)


def test_deploy_without_an_answer_is_a_usage_error(capsys, saved_profile: str) -> None:
    code, _, err = run(capsys, "deploy", "--profile", saved_profile, stdin="")
    assert code == 2
    assert "--yes" in err


def test_production_needs_the_name_typed_or_yes(capsys, saved_profile: str, sandbox) -> None:
    code, out, _ = run(capsys, "deploy", "--profile", "Acme Production", stdin="yes\n")
    assert code == 1
    assert "PRODUCTION profile. Type the profile name" in out
    assert sandbox.org.count("WebLink") == 0
    code, _, _ = run(capsys, "deploy", "--profile", "Acme Production", stdin="Acme Production\n")
    assert code == 0
    assert sandbox.org.count("WebLink") == 2


def test_deploy_permission_error_in_salesforce_words(capsys, saved_profile, sandbox) -> None:
    sandbox.salesforce_service.deny_metadata_for(sandbox.credentials.sf_username)
    code, out, _ = run(capsys, "deploy", "--profile", saved_profile, "--yes")
    assert code == 1
    assert NO_METADATA_PERMISSION in out
    assert "FAILED" in out


def test_ticket(capsys, saved_profile: str, sandbox: Sandbox) -> None:
    code, out, err = run(capsys, "ticket", "--profile", saved_profile)
    assert code == 1  # printed, but the buttons are not there yet
    assert f"{sandbox.connector_url}?sfdc={sandbox.sfdc_domain}&accountId={{!Account.Id}}" in out
    assert "Before sending: the Account button is Missing" in err
    run(capsys, "deploy", "--profile", saved_profile, "--yes")
    code, out, err = run(capsys, "ticket", "--profile", saved_profile)
    assert (code, err) == (0, "")
    assert out.startswith("Subject: ")


def test_unknown_profile_and_bad_login(capsys, saved_profile, monkeypatch) -> None:
    code, _, err = run(capsys, "status", "--profile", "nope")
    assert code == 2
    assert "There is no profile named 'nope'" in err
    monkeypatch.setenv("CPQ_SYNC_SF_PASSWORD", "wrong")
    code, _, err = run(capsys, "status", "--profile", saved_profile)
    assert code == 1
    assert "INVALID_LOGIN" in err


def test_the_installed_command_line(saved_profile: str, cpq_sync_home) -> None:
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "cpq_sync_gui.cli",
            "buttons",
            "status",
            "--json",
            "--profile",
            saved_profile,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CPQ_SYNC_HOME": str(cpq_sync_home)},
        check=False,
    )
    assert answer.returncode == 1, answer.stderr
    assert json.loads(answer.stdout)["profile"] == saved_profile
