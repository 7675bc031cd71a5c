"""Leak scan: the CLI and the window, run with distinct random secrets, then every file the app
wrote and everything it printed are searched for those secrets.

Secrets are fresh for every run and distinct from each other (so a hit names the culprit), with
characters that URL- and HTML-encode differently, and are searched raw, URL-encoded (both ways),
HTML-escaped, JSON-escaped and, for the proxy, as the Basic credentials a proxy sees. The
session ids and access tokens the simulated Salesforce and Zuora issued during the run are
searched too. Places: everything under CPQ_SYNC_HOME (profiles, journal and its WAL, logs,
exports, saved logs, Qt settings, crash reports), build/test-home when present, files changed
during the test under the home folder's .config/.local/.cache and the temp folder, and every
captured stdout/stderr and log record. The scanner is checked to find a planted secret first,
so the test can fail.
"""

from __future__ import annotations

import base64
import dataclasses
import gc
import html
import json
import os
import secrets as random_secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from keyring.backends import fail
from PySide6.QtWidgets import QPushButton

from cpq_sync_gui import paths
from cpq_sync_gui import secrets as names
from cpq_sync_gui.connections import SessionSecrets
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sandbox.tls import SandboxTLS
from cpq_sync_gui.secrets import SecretStore
from cpq_sync_gui.settings import ProfileStore
from tests.helpers.cli_sync_rig import REPO, json_lines, summary_of
from tests.helpers.tinyproxy import run_tinyproxy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.qt_log_ignore(r"This plugin does not support raise\(\)"),
]

PROFILE = "Leak check"
PROXY_USER = "leakuser"
MAX_SCANNED_BYTES = 200 * 1024 * 1024


def _secret(label: str) -> str:
    # Random per run; '+', '/', '=', '&', '%', '<' and '~' so every encoding differs.
    return f"{label}-{random_secrets.token_urlsafe(12)}+/=&%<~{random_secrets.token_hex(4)}"


# --- the scanner ---------------------------------------------------------------------------------


def forms(value: str) -> set[str]:
    """How a secret may appear in text: raw, URL-encoded, HTML-escaped, JSON-escaped."""
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        html.escape(value),
        json.dumps(value)[1:-1],
    } - {""}


@dataclass(frozen=True)
class Hit:
    what: str
    where: str
    form: str


def scan_text(text: str, where: str, secrets: dict[str, set[str]]) -> list[Hit]:
    return [
        Hit(what, where, form)
        for what, variants in secrets.items()
        for form in variants
        if form in text
    ]


def scan_bytes(data: bytes, where: str, secrets: dict[str, set[str]]) -> list[Hit]:
    hits = []
    for what, variants in secrets.items():
        for form in variants:
            if form.encode("utf-8") in data or form.encode("utf-16-le") in data:
                hits.append(Hit(what, where, form))
    return hits


def files_under(
    root: Path, *, since: float | None = None, skip: Iterable[Path] = ()
) -> Iterator[Path]:
    skipped = [s.resolve() for s in skip]
    if not root.exists():
        return
    for folder, subfolders, files in os.walk(root, onerror=lambda _error: None):
        here = Path(folder).resolve()
        subfolders[:] = [
            s
            for s in subfolders
            if (here / s).resolve() not in skipped and not os.path.islink(here / s)
        ]
        for name in files:
            path = here / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if not path.is_file() or path.is_symlink() or info.st_size > MAX_SCANNED_BYTES:
                continue
            if since is not None and info.st_mtime < since:
                continue
            yield path


def scan_files(paths_: Iterable[Path], secrets: dict[str, set[str]]) -> tuple[list[Hit], int]:
    hits: list[Hit] = []
    count = 0
    for path in paths_:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        count += 1
        hits += scan_bytes(data, str(path), secrets)
    return hits, count


def test_the_scanner_finds_a_planted_secret(tmp_path: Path) -> None:
    # Guards the scan below: a secret in any of its forms, in any file, is found.
    value = _secret("planted")
    secrets = {"planted": forms(value)}
    (tmp_path / "a.log").write_text(f"url=https://x/?p={quote(value, safe='')}", "utf-8")
    (tmp_path / "b.ini").write_bytes(f"v={value}".encode("utf-16-le"))
    (tmp_path / "c.txt").write_text("nothing here", "utf-8")
    hits, count = scan_files(files_under(tmp_path), secrets)
    assert count == 3
    assert sorted(Path(h.where).name for h in hits) == ["a.log", "b.ini"]


# --- the run -------------------------------------------------------------------------------------


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An authenticating proxy (Basic) with a random password: (proxy URL, password)."""
    password = "Px" + random_secrets.token_urlsafe(16)  # tinyproxy takes [A-Za-z0-9_-] only
    with run_tinyproxy(tmp_path / "tinyproxy", PROXY_USER, password) as proxy:
        yield proxy.url, password


@pytest.fixture
def leaky_sandbox(tmp_path: Path, sandbox_tls: SandboxTLS) -> Iterator[Sandbox]:
    """A sandbox whose logins are fresh random secrets, distinct from every other test's."""
    credentials = dataclasses.replace(
        SandboxCredentials.generate(),
        sf_password=_secret("sfpw"),
        sf_security_token=_secret("sftok"),
        sf_consumer_secret=_secret("sfcs"),
        zuora_client_secret=_secret("zcs"),
    )
    sandbox = Sandbox(
        SandboxConfig(accounts=24, orders=24, seed=61),
        directory=tmp_path / "sandbox",
        tls=sandbox_tls,
        credentials=credentials,
    ).start()
    yield sandbox
    sandbox.stop()
    assert sandbox.problems() == []


class Cli:
    """`python -m cpq_sync_gui.cli …` with the secrets in CPQ_SYNC_* variables; keeps every output."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.outputs: list[tuple[str, str]] = []

    def __call__(
        self, *args: str, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        answer = subprocess.run(
            [sys.executable, "-m", "cpq_sync_gui.cli", *args],
            env={**self.env, **(extra or {})},
            cwd=REPO,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=300,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        self.outputs.append((" ".join(args), answer.stdout + "\n" + answer.stderr))
        return answer


def test_no_secret_leaks_into_any_file_or_output(
    qtbot,
    leaky_sandbox: Sandbox,
    tinyproxy: tuple[str, str],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    started = time.time() - 1
    sandbox = leaky_sandbox
    creds = sandbox.credentials
    proxy_url, proxy_password = tinyproxy
    home = paths.app_home()
    assert home is not None
    wrong_password = _secret("wrongpw")
    wrong_proxy = "Wx" + random_secrets.token_urlsafe(16)
    secret_values = {
        "Salesforce password": creds.sf_password,
        "Salesforce security token": creds.sf_security_token,
        "Salesforce password+token (as the SOAP login sends it)": creds.sf_password
        + creds.sf_security_token,
        "Salesforce consumer secret": creds.sf_consumer_secret,
        "Zuora client secret": creds.zuora_client_secret,
        "proxy password": proxy_password,
        "a mistyped Salesforce password": wrong_password,
        "a mistyped proxy password": wrong_proxy,
    }
    assert len(set(secret_values.values())) == len(secret_values)
    caplog.set_level("DEBUG")
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "http500", 0.2)
    sandbox.faults.add("zuora", "POST", "/v1/accounts", "reset_after", 0.1)

    # --- the command line -----------------------------------------------------------------
    keyring = bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))  # gnome-keyring in the test run
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CPQ_SYNC_") or k == "CPQ_SYNC_HOME"
    }
    env["PYTHONIOENCODING"] = "utf-8"
    if not keyring:
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    secrets_env = {
        "CPQ_SYNC_SF_PASSWORD": creds.sf_password,
        "CPQ_SYNC_SF_SECURITY_TOKEN": creds.sf_security_token,
        "CPQ_SYNC_SF_CONSUMER_SECRET": creds.sf_consumer_secret,
        "CPQ_SYNC_ZUORA_CLIENT_SECRET": creds.zuora_client_secret,
        "CPQ_SYNC_PROXY_PASSWORD": proxy_password,
    }
    cli = Cli({**env, **secrets_env})
    added = cli(
        "profiles", "add", PROFILE, "--no-prompt",
        "--sf-auth", "password", "--sf-login-host", "custom",
        "--sf-login-url", sandbox.salesforce_url, "--sf-username", creds.sf_username,
        "--sf-consumer-key", creds.sf_consumer_key,
        "--zuora-environment", "custom", "--zuora-base-url", sandbox.zuora_url,
        "--zuora-client-id", creds.zuora_client_id,
        "--connector-url", sandbox.connector_url,
        "--proxy", "manual", "--proxy-url", proxy_url, "--proxy-username", PROXY_USER,
        "--ca-bundle", str(sandbox.ca_path), "--read-timeout", "5", "--activate",
    )  # fmt: skip
    try:
        assert added.returncode == 0, added.stderr
        tested = cli("profiles", "test", PROFILE, "--json")
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert json.loads(tested.stdout)["ok"] is True  # through the proxy, with every secret
        assert cli("profiles", "test").returncode == 0
        wrong = cli("profiles", "test", PROFILE, extra={"CPQ_SYNC_SF_PASSWORD": wrong_password})
        assert wrong.returncode == 1
        assert "password" in wrong.stdout
        proxy_refused = cli(
            "profiles", "test", PROFILE, extra={"CPQ_SYNC_PROXY_PASSWORD": wrong_proxy}
        )
        assert proxy_refused.returncode == 1
        assert "proxy" in proxy_refused.stdout.lower()
        assert cli("profiles", "show", PROFILE, "--json").returncode == 0
        assert cli("profiles", "list").returncode == 0
        accounts = [str(a["Id"]) for a in sandbox.org.all("Account")]
        ids_file = home / "imports" / "accounts.csv"
        ids_file.parent.mkdir(parents=True, exist_ok=True)
        ids_file.write_text("Id\n" + "\n".join(accounts) + "\n", "utf-8")
        planned = cli(
            "sync",
            "accounts",
            "--profile",
            PROFILE,
            "--ids-file",
            str(ids_file),
            "--dry-run",
            "--json",
        )
        assert planned.returncode in (0, 1), planned.stderr
        synced = cli(
            "sync",
            "accounts",
            "--profile",
            PROFILE,
            "--ids-file",
            str(ids_file),
            "--json",
            "--verbose",
        )
        summary = summary_of(json_lines(synced.stdout))
        assert summary["total"] == len(accounts)
        assert "attempt 1 failed" in synced.stderr  # the injected faults were logged
        orders = cli(
            "sync", "orders", "--profile", PROFILE, "--where", "Status != null", "--verbose"
        )
        assert orders.returncode in (0, 1), orders.stderr
        assert cli("runs", "list").returncode == 0
        assert cli("runs", "show", "last", "--json").returncode == 0
        exported = cli("runs", "export", "last", "--csv", str(home / "exports" / "cli.csv"))
        assert exported.returncode == 0, exported.stderr
        assert cli("runs", "retry-failed", "last", "--json").returncode in (0, 1)
    finally:
        if keyring:
            cli("profiles", "remove", PROFILE, "--yes")

    # --- the window ------------------------------------------------------------------------
    from cpq_sync_gui.ui.connections_dialog import ConnectionsDialog
    from tests.helpers.connections_form import (
        choose,
        fill_sandbox_profile,
        type_into,
        wait_for_background_jobs,
    )
    from tests.helpers.runs import (
        browser_for,
        click,
        ids_of,
        open_window,
        select_and_plan,
        stop_window,
        wait_run_done,
    )

    # Python's garbage collector may run in any thread (here: the sandbox's server threads),
    # and PySide's wrappers must not be destroyed off the GUI thread: collect only here.
    gc.collect()
    gc.disable()
    request.addfinalizer(gc.enable)
    session = SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True))
    store = ProfileStore()
    store.load()
    dialog = ConnectionsDialog(store, session)
    dialog.show()
    qtbot.waitExposed(dialog)
    try:
        fill_sandbox_profile(qtbot, dialog, sandbox, "Window leak check")
        choose(dialog, "network.proxy_mode", "manual")
        type_into(qtbot, dialog, "network.proxy_url", proxy_url)
        type_into(qtbot, dialog, "network.proxy_username", PROXY_USER)
        type_into(qtbot, dialog, names.PROXY_PASSWORD, proxy_password)
        dialog.findChild(QPushButton, "saveButton").click()
        assert "Window leak check" in store.names()
        dialog.test_button.click()
        qtbot.waitUntil(lambda: dialog.last_result is not None, timeout=60000)
        assert dialog.last_result.ok, dialog.test_result.toPlainText()
        window_texts = [dialog.test_result.toPlainText(), dialog.test_status.text()]
    finally:
        dialog.dirty = False
        dialog.close()
        dialog.deleteLater()
        wait_for_background_jobs(qtbot)

    window = open_window(qtbot, sandbox)
    try:
        browser = browser_for(qtbot, window, sandbox, "accounts")
        plan_dialog = select_and_plan(qtbot, window, browser, ids_of(sandbox, "Account"))
        plan_json = home / "exports" / "plan.json"
        with qtbot.waitSignal(plan_dialog.exported, timeout=30000):
            plan_dialog.export_json(plan_json)
        if plan_dialog.exclude_button.isEnabled():
            click(qtbot, plan_dialog.exclude_button)
        click(qtbot, plan_dialog.run_button)
        wait_run_done(qtbot, window)
        exports = home / "exports" / "window"
        job = window.sync.controller.export_results(exports)
        assert job is not None
        qtbot.waitUntil(lambda: len(list(exports.glob("*.csv"))) == 2, timeout=30000)
        window.log_pane.save_to(home / "exports" / "saved-log.txt")
        window_texts.append(window.log_pane.visible_text())
        window_texts += [f"{r.label} {r.detail}" for r in window.sync.panel.model.rows()]
    finally:
        stop_window(window)
        wait_for_background_jobs(qtbot)
        gc.collect()

    # --- the search ------------------------------------------------------------------------
    issued = set()
    for entry in sandbox.log.entries():
        auth = entry.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() in ("bearer", "oauth") and len(token) >= 16:
            issued.add(token)
    assert len(issued) >= 3  # Salesforce sessions and Zuora tokens were really issued
    targets: dict[str, set[str]] = {what: forms(value) for what, value in secret_values.items()}
    basic = base64.b64encode(f"{PROXY_USER}:{proxy_password}".encode()).decode()
    targets["proxy password"].add(basic)  # Proxy-Authorization: Basic …
    for number, token in enumerate(sorted(issued)):
        targets[f"issued session/access token #{number}"] = forms(token)

    written = list(files_under(home))
    assert any(p.name == "profiles.json" for p in written)
    assert any(p.name.startswith("journal.sqlite3") for p in written)
    assert any(p.suffix == ".log" for p in written)
    assert len([p for p in written if p.suffix == ".csv"]) >= 4
    places = list(written)
    test_home = REPO / "build" / "test-home"
    places += list(files_under(test_home))
    user_home = Path.home()
    for folder in (".config", ".local", ".cache"):
        places += list(files_under(user_home / folder, since=started, skip=[REPO]))
    basetemp = tmp_path.parents[1]  # this session's pytest folder: fixtures' own files
    temp = Path(tempfile.gettempdir())
    # The session runner's own files (command output), not the app's:
    harness = [*temp.glob("bash_jobs*"), *temp.glob("bash_tool*")]
    places += list(files_under(temp, since=started, skip=[basetemp, REPO, *harness]))
    hits, scanned = scan_files(dict.fromkeys(places), targets)

    captured = capfd.readouterr()
    outputs = [*cli.outputs, ("pytest-captured stdout/stderr", captured.out + captured.err)]
    outputs.append(("log records", "\n".join(r.getMessage() for r in caplog.records)))
    outputs += [(f"window text #{n}", text) for n, text in enumerate(window_texts)]
    for where, text in outputs:
        hits += scan_text(text, where, targets)
    if os.environ.get("LEAK_SCAN_LIST"):  # to see what was searched
        print("\n".join(str(p) for p in dict.fromkeys(places)))
    report = "\n".join(f"{h.what} in {h.where} (as {h.form!r})" for h in hits)
    print(
        f"\nleak scan: {scanned} files and {len(outputs)} outputs searched for {len(targets)} secrets"
    )
    assert not hits, "secrets leaked:\n" + report
