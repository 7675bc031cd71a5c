"""The window paints before the network stack, the engine, the settings models and the password
store are loaded, then reads the profiles and chooses the password store right after.

Runs the real app (``cpq_sync_gui.app.main(["--smoke"])``) in a fresh interpreter, so what is in
``sys.modules`` at the first paint is what the start-up itself imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cpq_sync_gui.settings import Profile, ProfileStore, SalesforceSettings

# Loaded only when used: a connection, a run, the Connections dialog, the profiles, the keyring.
NOT_BEFORE_FIRST_PAINT = (
    "requests",
    "simple_salesforce",
    "zeep",
    "lxml",
    "jwt",
    "cryptography",
    "pydantic",
    "keyring",
    "cpq_sync_gui.connections",
    "cpq_sync_gui.settings",
    "cpq_sync_gui.secrets",
    "cpq_sync_gui.salesforce.client",
    "cpq_sync_gui.zuora.client",
    "cpq_sync_gui.sync.engines",
    "cpq_sync_gui.sync.runner",
    "cpq_sync_gui.sync.plan",
    "cpq_sync_gui.ui.connections_dialog",
)

PROBE = """
import json, sys
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QDockWidget, QTabWidget, QToolBar
import cpq_sync_gui.ui.application as application

WATCHED = json.loads(sys.argv[1])
seen = {}

def loaded():
    return sorted(name for name in WATCHED if name in sys.modules)

class FirstPaint(QObject):
    def eventFilter(self, window, event):
        if event.type() == QEvent.Type.Paint:
            window.removeEventFilter(self)
            tabs = window.findChild(QTabWidget, "recordTabs")
            toolbar = window.findChild(QToolBar, "mainToolbar")
            seen["first_paint"] = {
                "loaded": loaded(),
                "visible": window.isVisible(),
                "tabs": [tabs.tabText(i) for i in range(tabs.count())],
                "tab_widgets": [type(tabs.widget(i)).__name__ for i in range(tabs.count())],
                "toolbar": [a.objectName() for a in toolbar.actions() if a.objectName()],
                "docks": sorted(d.objectName() for d in window.findChildren(QDockWidget)),
                "badge": window.profile_badge.badge.text(),
                "chooser_enabled": window.profile_badge.chooser.isEnabled(),
            }
        return False

class Probed(application.MainWindow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.installEventFilter(FirstPaint(self))
        self.ready.connect(self.on_ready)

    def on_ready(self, ok):
        chooser = self.profile_badge.chooser
        seen["ready"] = {
            "ok": ok,
            "loaded": loaded(),
            "painted_before": "first_paint" in seen,
            "profiles": [p.name for p in self.profile_store.profiles],
            "chooser": [chooser.itemText(i) for i in range(chooser.count())],
            "chooser_enabled": chooser.isEnabled(),
            "badge": self.profile_badge.badge.text(),
            "secrets": self.secrets is not None,
            "log": [entry.line() for entry in self.log_pane.entries()],
        }

application.MainWindow = Probed
from cpq_sync_gui.app import main

code = main(["--smoke"])
print("PROBE " + json.dumps(seen))
sys.exit(code)
"""


def run_probe(home: Path) -> dict[str, dict]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(NOT_BEFORE_FIRST_PAINT)],
        env=dict(os.environ, CPQ_SYNC_HOME=str(home), QT_QPA_PLATFORM="offscreen"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-2:-1] == ["OK"], done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1].removeprefix("PROBE "))


def test_first_paint_shows_the_real_window_without_the_heavy_imports(
    cpq_sync_home: Path,
) -> None:
    store = ProfileStore()
    store.add(
        Profile(
            name="Acme UAT",
            salesforce=SalesforceSettings(
                auth_method="password",
                login_host="custom",
                custom_login_url="https://acme--uat.sandbox.my.salesforce.com",
                username="admin@acme.example",
            ),
        )
    )
    store.save()

    seen = run_probe(cpq_sync_home)

    painted = seen["first_paint"]
    assert painted["visible"]
    assert painted["loaded"] == [], f"imported before the first paint: {painted['loaded']}"
    # The real window, not a placeholder: the browsers in both tabs, the run's actions and dock.
    assert painted["tabs"] == ["Accounts", "Orders"]
    assert painted["tab_widgets"] == ["RecordBrowser", "RecordBrowser"]
    assert {"connectionsAction", "syncSelectedAction"} <= set(painted["toolbar"])
    assert "logDock" in painted["docks"]
    assert painted["badge"] == "Loading…"
    assert not painted["chooser_enabled"]

    ready = seen["ready"]
    assert ready["ok"]
    assert ready["painted_before"]
    assert ready["profiles"] == ["Acme UAT"]
    assert ready["chooser"] == ["Choose a profile…", "Acme UAT"]
    assert ready["chooser_enabled"]
    assert ready["badge"] == "No profile"
    assert ready["secrets"], ready["log"]
    assert {"cpq_sync_gui.settings", "cpq_sync_gui.secrets", "keyring"} <= set(ready["loaded"])
