"""Child process for the record-tab screenshots: a demo sandbox, the real main window, both tabs.

Run as ``python -m tests.helpers.browser_screenshots --color-scheme dark --out DIR`` under Xvfb.
It starts a small sandbox, puts two of its accounts into Zuora (so the status column shows both
states), makes the "Demo sandbox" profile active the way ``--demo`` does, waits for both tabs
to load and their Zuora checks to finish, selects a few rows, opens an order's details, and
saves ``records-accounts-<scheme>.png`` and ``records-orders-<scheme>.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from tests.helpers.sandbox_clients import account_payload


def _wait(app: QApplication, done, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def _zuora_account(sandbox, crm_id: str, name: str) -> None:
    sandbox.zuora.create_account(account_payload(crm_id, name))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--color-scheme", choices=("light", "dark"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from cpq_sync_gui.connections import SessionSecrets
    from cpq_sync_gui.demo import install_demo_profile, start_demo_sandbox
    from cpq_sync_gui.sandbox.config import SandboxConfig
    from cpq_sync_gui.secrets import SecretStore
    from cpq_sync_gui.settings import ProfileStore
    from cpq_sync_gui.ui.application import make_application
    from cpq_sync_gui.ui.main_window import MainWindow
    from cpq_sync_gui.ui.theme import apply_theme

    app = make_application(sys.argv[:1])
    apply_theme(app, args.color_scheme)
    sandbox = start_demo_sandbox(SandboxConfig(accounts=60, orders=80))
    by_name = sorted(sandbox.org.all("Account"), key=lambda a: a["Name"].casefold())
    for account in by_name[1:8:3]:
        _zuora_account(sandbox, account["Id"], account["Name"][:50])
    from keyring.backends import fail

    secrets = SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True))
    store = ProfileStore()
    window = MainWindow(store=store, secrets=secrets)
    window.resize(1280, 800)
    window.show()
    demo = install_demo_profile(store, secrets, sandbox)
    window.demo = demo
    window.refresh_profiles()
    window.active_profile_changed.emit(store.active)
    tabs = window.records
    ok = _wait(
        app,
        lambda: all(b.source is not None and not b.busy() for b in tabs.browsers),
    )
    if not ok:
        print("FAILED: the tabs did not finish loading", flush=True)
        return 1
    for browser in tabs.browsers:
        browser._update_summaries()
        ids = [row.id for row in browser.model.rows()[2:9:2]]
        browser.model.set_selected(ids)
        browser.table.setCurrentIndex(browser.proxy.index(2, 1))
    tabs.orders.open_details()
    _wait(app, lambda: tabs.orders.details.record is not None, 30)
    window.log_pane.add("INFO", "Screenshot of the record tabs (demo sandbox)")
    args.out.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, name in ((0, "accounts"), (1, "orders")):
        window.tabs.setCurrentIndex(index)
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.02)
        target = args.out / f"records-{name}-{args.color_scheme}.png"
        screen = window.screen()
        picture = screen.grabWindow(window.winId()) if screen else window.grab()
        if picture.isNull():
            picture = window.grab()
        if not picture.save(str(target), "PNG"):
            print(f"FAILED to save {target}", flush=True)
            return 1
        saved.append(str(target))
    print("saved " + " ".join(saved), flush=True)
    tabs.shutdown()
    QTimer.singleShot(0, window.close)
    app.processEvents()
    demo.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
