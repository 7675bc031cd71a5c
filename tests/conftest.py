"""Test-wide set-up: Qt without a display, and a private CPQ_SYNC_HOME for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpq_sync_gui.redact import Redactor, default_redactor

# Without a display Qt aborts with SIGABRT unless it is told to render offscreen. This must
# happen before anything imports Qt; tests that need a real window start Xvfb themselves.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "build" / "test-artifacts"

# --- the whole-suite secret scan ---------------------------------------------------------------
# Every secret the app handles passes through Redactor.register (that is how it is kept out of
# logs). The suite remembers each one, and when the session ends it searches every file the
# tests and the app wrote — pytest's temporary folders (each test's CPQ_SYNC_HOME: settings,
# journal, logs, exports, Qt settings), build/test-home and build/test-artifacts — for them.
SEEN_SECRETS: set[str] = set()
DELIBERATE_SECRET_FILES = {
    "sandbox-credentials.json",  # the sandbox's own throwaway logins, written on purpose
    "tinyproxy.conf",  # the test proxy's own configuration holds the proxy password it expects
}
_register = Redactor.register


def _remember_and_register(self: Redactor, value: str | None) -> None:
    if value and len(value) >= 8:
        SEEN_SECRETS.add(value)
    _register(self, value)


Redactor.register = _remember_and_register  # type: ignore[method-assign]


def _files_holding_secrets(roots: list[Path]) -> list[str]:
    needles = [(value, value.encode()) for value in SEEN_SECRETS]
    found = []
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            if not path.is_file() or path.is_symlink() or path.name in DELIBERATE_SECRET_FILES:
                continue
            if path.suffix == ".pem" or path.stat().st_size > 50_000_000:
                continue  # test keys and certificates; huge generated inputs hold no secrets
            data = path.read_bytes()
            hits = [value for value, raw in needles if raw in data]
            if hits:
                found.append(f"{path}: {len(hits)} secret value(s), e.g. {hits[0][:3]}…")
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not SEEN_SECRETS or hasattr(session.config, "workerinput"):
        return
    roots = [session.config._tmp_path_factory.getbasetemp(), REPO / "build" / "test-artifacts"]
    if os.environ.get("CPQ_SYNC_TEST_HOME"):
        roots.append(Path(os.environ["CPQ_SYNC_TEST_HOME"]))
    found = _files_holding_secrets(roots)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"secret scan: {len(SEEN_SECRETS)} secret values the app handled, searched in "
            f"{', '.join(str(r) for r in roots)}: {len(found)} file(s) hold one"
        )
        for line in found:
            reporter.write_line(f"  SECRET FOUND IN {line}", red=True)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def cpq_sync_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own settings, journal and log folders."""
    home = tmp_path / "cpq-sync-home"
    home.mkdir()
    monkeypatch.setenv("CPQ_SYNC_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def fresh_redactor() -> Iterator[None]:
    """Secrets one test registers must not blank words in the next test's messages."""
    yield
    default_redactor.clear()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """build/test-artifacts: screenshots and other files the suite produces for people to read."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
