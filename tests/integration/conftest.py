"""Integration tests run against the real sandbox over HTTPS, with REQUESTS_CA_BUNDLE set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.sandbox.tls import SandboxTLS

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@pytest.fixture(autouse=True)
def requests_ca_bundle_points_elsewhere(monkeypatch: pytest.MonkeyPatch) -> str:
    """Admins' machines often set REQUESTS_CA_BUNDLE; it must never decide whom we trust."""
    bundle = SYSTEM_BUNDLE if os.path.exists(SYSTEM_BUNDLE) else ""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
    monkeypatch.setenv("CURL_CA_BUNDLE", bundle)
    return bundle


@pytest.fixture(scope="session")
def sandbox_tls(tmp_path_factory: pytest.TempPathFactory) -> SandboxTLS:
    return SandboxTLS(tmp_path_factory.mktemp("sandbox-tls"))


@pytest.fixture(scope="session")
def sandbox_credentials() -> SandboxCredentials:
    return SandboxCredentials.generate()


@pytest.fixture
def make_sandbox(
    tmp_path: Path, sandbox_tls: SandboxTLS, sandbox_credentials: SandboxCredentials
) -> Iterator[Callable[..., Sandbox]]:
    """Start sandboxes with config overrides; each is stopped and checked after the test.

    A Zuora payload that Zuora's schema rejects, or an exception inside a simulated service,
    fails the test that caused it.
    """
    started: list[Sandbox] = []

    def start(**overrides: object) -> Sandbox:
        config = SandboxConfig(**{"accounts": 40, "orders": 60, **overrides})  # type: ignore[arg-type]
        sandbox = Sandbox(
            config,
            directory=tmp_path / f"sandbox-{len(started)}",
            tls=sandbox_tls,
            credentials=sandbox_credentials,
        ).start()
        started.append(sandbox)
        return sandbox

    yield start
    problems = []
    for sandbox in started:
        sandbox.stop()
        problems += sandbox.problems()
    if problems:
        pytest.fail(
            "the sandbox saw problems:\n" + "\n".join(f"{p.what}: {p.detail}" for p in problems)
        )


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A small sandbox (40 accounts, 60 orders) started for this test."""
    return make_sandbox()
