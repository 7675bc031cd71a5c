"""Drive `cpq-sync sync …` / `runs …` as real subprocesses against a sandbox (tests of cli_sync.py).

A profile is created with `cpq-sync profiles add`. With a D-Bus session (the test runner's
gnome-keyring) its secrets go to the real password store and later commands get none in their
environment; without one, the password store is switched off and every command gets the
secrets in CPQ_SYNC_* environment variables, as an admin's script would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpq_sync_gui.cli_profiles import SECRET_ENV_VARS
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sync.journal import RunJournal, journal_path

REPO = Path(__file__).resolve().parents[2]
NO_KEYRING = "keyring.backends.fail.Keyring"
CREATE_PATHS = ("/v1/accounts", "/v1/orders", "/v1/async/orders")


@dataclass
class CliRig:
    sandbox: Sandbox
    profile: str
    env: dict[str, str]  # what every cpq-sync subprocess gets
    uses_keyring: bool
    work: Path
    removed: bool = False
    children: list[subprocess.Popen[str]] = field(default_factory=list, repr=False)
    _files: int = field(default=0, repr=False)

    # -- running cpq-sync --------------------------------------------------------------------

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cpq_sync_gui.cli", *args]

    def run(
        self, *args: str, timeout: float = 300, stdin: Any = subprocess.DEVNULL
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            stdin=stdin,
            check=False,
        )

    def popen(self, *args: str, stdout: Any, stderr: Any, **kwargs: Any) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            self.command(*args),
            env=self.env,
            cwd=REPO,
            stdout=stdout,
            stderr=stderr,
            stdin=kwargs.pop("stdin", subprocess.DEVNULL),
            text=True,
            encoding="utf-8",
            **kwargs,
        )
        self.children.append(child)
        return child

    def close(self) -> None:
        """Stop any cpq-sync this rig started that is still running (a failed test)."""
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=30)
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
        if self.uses_keyring:
            self.remove_profile()  # its secrets live in the test session's password store

    def sync(self, kind: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.run("sync", kind, "--profile", self.profile, *args, timeout=timeout)

    # -- inputs and outputs ------------------------------------------------------------------

    def ids(self, sobject: str) -> list[str]:
        return [str(r["Id"]) for r in self.sandbox.org.all(sobject)]

    def ids_file(self, ids: Iterable[str]) -> Path:
        self._files += 1
        path = self.work / f"ids-{self._files}.csv"
        path.write_text("Id\n" + "\n".join(ids) + "\n", encoding="utf-8")
        return path

    def journal(self) -> RunJournal:
        return RunJournal(journal_path())

    # -- what the sandbox saw ----------------------------------------------------------------

    def creates(self) -> int:
        """POSTs that create something in Zuora (accounts, orders)."""
        return sum(self.sandbox.log.count("zuora", "POST", path) for path in CREATE_PATHS)

    def salesforce_queries(self) -> int:
        return self.sandbox.log.count("salesforce", "GET", "/services/data/*/query*")

    def remove_profile(self) -> None:
        if not self.removed:
            self.removed = True
            self.run("profiles", "remove", self.profile, "--yes", timeout=60)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every stdout line parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def records_of(lines: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line["type"] == "record":
            assert line["record_id"] not in found, f"two outcomes for {line['record_id']}"
            found[line["record_id"]] = line
    return found


def summary_of(lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    summaries = [line for line in lines if line["type"] == "summary"]
    assert len(summaries) == 1, lines[-3:]
    assert lines[-1] is summaries[0], "the summary is the last line"
    return summaries[0]


def profile_options(sandbox: Sandbox, *, read_timeout: str | None = "10") -> list[str]:
    """`cpq-sync profiles add` options for a profile on the sandbox (no read timeout: default)."""
    creds = sandbox.credentials
    timeout = ["--read-timeout", read_timeout] if read_timeout is not None else []
    return [
        "--sf-auth", "password",
        "--sf-login-host", "custom",
        "--sf-login-url", sandbox.salesforce_url,
        "--sf-username", creds.sf_username,
        "--zuora-environment", "custom",
        "--zuora-base-url", sandbox.zuora_url,
        "--zuora-client-id", creds.zuora_client_id,
        "--connector-url", sandbox.connector_url,
        "--proxy", "none",
        "--ca-bundle", str(sandbox.ca_path),
        *timeout,
    ]  # fmt: skip


def secret_env(sandbox: Sandbox) -> dict[str, str]:
    creds = sandbox.credentials
    return {
        "CPQ_SYNC_SF_PASSWORD": creds.sf_password,
        "CPQ_SYNC_SF_SECURITY_TOKEN": creds.sf_security_token,
        "CPQ_SYNC_ZUORA_CLIENT_SECRET": creds.zuora_client_secret,
    }


def make_cli_rig(sandbox: Sandbox, work: Path, *extra_profile_options: str) -> CliRig:
    """A profile for ``sandbox`` (secrets in the keyring when there is one) and a runner."""
    base = {k: v for k, v in os.environ.items() if k not in SECRET_ENV_VARS.values()}
    base["PYTHONIOENCODING"] = "utf-8"
    assert base.get("CPQ_SYNC_HOME"), "the autouse fixture sets a private CPQ_SYNC_HOME"
    want_keyring = bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))
    if not want_keyring:
        base["PYTHON_KEYRING_BACKEND"] = NO_KEYRING
    name = f"cli-sync-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True, exist_ok=True)
    rig = CliRig(sandbox, name, dict(base), False, work)
    added = subprocess.run(
        rig.command("profiles", "add", name, *profile_options(sandbox), *extra_profile_options),
        env={**base, **secret_env(sandbox)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    if want_keyring and "NOT saved" not in added.stderr:
        rig.uses_keyring = True  # later commands find the secrets in the password store
    else:
        rig.env.update(secret_env(sandbox))
        rig.env["PYTHON_KEYRING_BACKEND"] = NO_KEYRING
    return rig


@contextmanager
def cli_rigs(
    make_sandbox: Callable[..., Sandbox], work: Path, zuora_latency_ms: float
) -> Iterator[Callable[..., CliRig]]:
    """Makes rigs on fresh sandboxes whose Zuora answers each take ``zuora_latency_ms``; closes
    them all at the end (the body of a ``cli_rig`` fixture)."""
    rigs: list[CliRig] = []

    def make(**config: Any) -> CliRig:
        rig = make_cli_rig(make_sandbox(**config), work / f"rig-{len(rigs)}")
        rig.sandbox.faults.latency_ms["zuora"] = zuora_latency_ms
        rigs.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in rigs:
            rig.close()
