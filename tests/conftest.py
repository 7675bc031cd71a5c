"""Test-wide set-up: Qt without a display, and a private CPQ_SYNC_HOME for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpq_sync_gui.redact import default_redactor

# Without a display Qt aborts with SIGABRT unless it is told to render offscreen. This must
# happen before anything imports Qt; tests that need a real window start Xvfb themselves.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "build" / "test-artifacts"


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
