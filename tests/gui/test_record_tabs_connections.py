"""The record tabs close the connections they stop using: no socket is left for the collector."""

from __future__ import annotations

import pytest
import requests
from PySide6.QtWidgets import QMainWindow, QTabWidget, QWidget

from cpq_sync_gui.ui.record_links import RecordSource
from cpq_sync_gui.ui.record_tabs import RecordTabs
from tests.helpers.records import WAIT_MS, sandbox_source

pytestmark = pytest.mark.usefixtures("ca_bundle_points_elsewhere")


def _open_pools(source: RecordSource) -> int:
    sessions: list[requests.Session] = [source.salesforce.connection.session]
    if source.zuora is not None:
        sessions.append(source.zuora.session)
    return sum(len(s.get_adapter("https://x").poolmanager.pools) for s in sessions)


def _tabs(qtbot) -> RecordTabs:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.tabs = QTabWidget(window)  # type: ignore[attr-defined]
    window.tabs.addTab(QWidget(), "Accounts")  # type: ignore[attr-defined]
    window.tabs.addTab(QWidget(), "Orders")  # type: ignore[attr-defined]
    window.setCentralWidget(window.tabs)  # type: ignore[attr-defined]
    window.show()
    return RecordTabs(window, window.tabs)  # type: ignore[attr-defined]


def _loaded(qtbot, tabs: RecordTabs) -> None:
    qtbot.waitUntil(
        lambda: all(b.model.rowCount() > 0 and not b.busy() for b in tabs.browsers),
        timeout=WAIT_MS,
    )


def test_switching_connections_closes_the_old_ones_and_shutdown_closes_the_last(qtbot, sandbox):
    tabs = _tabs(qtbot)
    first = sandbox_source(sandbox)
    tabs.set_source(first)
    _loaded(qtbot, tabs)
    assert _open_pools(first) > 0

    second = sandbox_source(sandbox)
    tabs.set_source(second)
    _loaded(qtbot, tabs)
    assert _open_pools(first) == 0
    assert _open_pools(second) > 0
    assert all(b.source is second for b in tabs.browsers)

    tabs.shutdown()
    assert _open_pools(second) == 0
