"""Pictures of a run in the real window under Xvfb: idle, the plan, running, and finished with
failures (build/test-artifacts/run-*.png, copied to docs/images/ for the README)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.screenshots import check_picture, publish
from tests.helpers.xvfb import xvfb

REPO = Path(__file__).resolve().parents[2]
PICTURES = (
    "run-idle.png",
    "run-plan.png",
    "run-running.png",
    "run-finished-failures.png",
    "run-plan-production.png",
)

_CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from tests.gui.test_screenshots_runs import child_main
    raise SystemExit(child_main(sys.argv[1]))
    """
)


def _wait(app, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.01)


def child_main(folder: str) -> int:
    """Runs under Xvfb: a sandbox, the real window, a run with failures; saves four pictures."""
    import os

    os.environ.setdefault("CPQ_SYNC_HOME", tempfile.mkdtemp(prefix="cpq-sync-shots-"))
    from cpq_sync_gui.sandbox.config import SandboxConfig
    from cpq_sync_gui.sandbox.sandbox import Sandbox
    from cpq_sync_gui.ui.application import make_application
    from cpq_sync_gui.ui.theme import apply_theme

    target = Path(folder)
    app = make_application([sys.argv[0]])
    apply_theme(app, "light")
    sandbox = Sandbox(SandboxConfig(accounts=80, orders=0, seed=21)).start()
    try:
        return _shoot(app, sandbox, target)
    finally:
        sandbox.stop()


def _shoot(app, sandbox, target: Path) -> int:
    from dataclasses import replace

    from cpq_sync_gui.ui.plan_dialog import PlanDialog
    from tests.helpers.runs import browser_for, open_window, stop_window

    class Bot:  # the few qtbot calls the helpers make, for a plain process
        def addWidget(self, _widget, **_options) -> None:
            pass

        def waitExposed(self, widget) -> None:
            _wait(app, widget.isVisible)

        def waitUntil(self, condition, timeout: int = 60000) -> None:
            _wait(app, lambda: bool(condition()) is not False, timeout / 1000)

    bot = Bot()
    window = open_window(bot, sandbox)
    window.resize(1280, 800)
    window.move(0, 0)
    sync = window.sync
    browser = browser_for(bot, window, sandbox, "accounts")
    _wait(app, lambda: browser.model.rowCount() > 0)
    for key in ("billing_city", "billing_state", "owner", "parent"):  # room for "Zuora status"
        browser.table.set_column_hidden(key, True)
    ids = [row.id for row in browser.model.rows()]
    browser.model.set_selected(ids, True)
    _settle(app)
    window.grab().save(str(target / PICTURES[0]))

    sandbox.faults.add("zuora", "POST", "/v1/accounts", "http500", 0.35)
    sandbox.faults.latency_ms["zuora"] = 120
    sync.sync_action.trigger()
    _wait(app, lambda: sync.controller.plan_dialog is not None)
    dialog = sync.controller.plan_dialog
    _settle(app)
    dialog.grab().save(str(target / PICTURES[1]))
    production = PlanDialog(dialog.plan, replace(dialog.target, profile_name="Acme Production",
                            production=True, production_why="the Zuora environment is "
                            "production"), parent=window)  # fmt: skip
    production.show()
    qtbot_type(app, production.confirm, "Acme Prod")
    _settle(app)
    production.grab().save(str(target / PICTURES[4]))
    production.close()
    dialog.exclude_problems()
    dialog.concurrency.setValue(3)
    dialog.run_button.click()
    panel = sync.panel
    _wait(app, lambda: panel.model.total() and panel._done >= panel.model.total() * 0.35)
    _settle(app)
    window.grab().save(str(target / PICTURES[2]))
    _wait(app, lambda: not sync.controller.busy and panel.summary.isVisible(), 120)
    panel.show_choice.setCurrentIndex(1)  # show what failed
    _wait(app, lambda: browser.busy(), 5)  # the tab reads the Zuora status again…
    _wait(app, lambda: not browser.busy())  # …and shows it
    _settle(app)
    window.grab().save(str(target / PICTURES[3]))
    stop_window(window)
    window.close()
    return 0


def qtbot_type(app, field, text: str) -> None:
    from PySide6.QtTest import QTest

    QTest.keyClicks(field, text)
    app.processEvents()


def _settle(app) -> None:
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


@pytest.mark.xvfb
@pytest.mark.slow
def test_run_screenshots_under_xvfb(artifacts_dir):
    for name in PICTURES:
        (artifacts_dir / name).unlink(missing_ok=True)
    with xvfb() as env:
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(artifacts_dir), str(REPO)],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in PICTURES:
        check_picture(artifacts_dir / name)
        publish(artifacts_dir / name)  # what the README shows
