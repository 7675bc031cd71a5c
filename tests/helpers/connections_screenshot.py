"""Pictures of the Connections dialog and the profile badge for the docs (run under Xvfb).

    python -m tests.helpers.connections_screenshot OUTPUT_DIR

Starts a small sandbox, shows three profiles (production, UAT on the sandbox, a dev org),
runs Test connection on the UAT one and saves connections-dialog.png and
main-window-profile-badge.png. Throwaway secrets stay in memory; CPQ_SYNC_HOME should point
to a scratch folder.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from cpq_sync_gui import secrets as names
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import Profile, ProfileStore
from cpq_sync_gui.ui.application import finish_jobs, make_application
from cpq_sync_gui.ui.connections_dialog import ConnectionsDialog, open_app_secrets
from cpq_sync_gui.ui.main_window import MainWindow


def wait_until(condition, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        QCoreApplication.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def save(widget: QWidget, target: Path) -> bool:
    for _ in range(20):  # let the window manager-less X server paint it
        QCoreApplication.processEvents()
        time.sleep(0.02)
    picture = widget.grab()
    return not picture.isNull() and picture.save(str(target), "PNG")


def main(output: Path) -> int:
    output.mkdir(parents=True, exist_ok=True)
    app = make_application(sys.argv[:1])
    sandbox = Sandbox(
        SandboxConfig(accounts=10, orders=10), directory=Path(tempfile.mkdtemp())
    ).start()
    try:
        creds = sandbox.credentials
        store = ProfileStore()
        store.add(
            Profile.model_validate(
                {
                    "name": "Acme Production",
                    "salesforce": {
                        "auth_method": "browser",
                        "login_host": "my_domain",
                        "my_domain": "acme.my.salesforce.com",
                        "consumer_key": "3MVG9AcmeProductionConnectedApp",
                    },
                    "zuora": {"environment": "us_production_cloud2", "client_id": "acme-prod"},
                }
            )
        )
        store.add(
            Profile.model_validate(
                {
                    "name": "Acme UAT",
                    "salesforce": {
                        "auth_method": "password",
                        "login_host": "custom",
                        "custom_login_url": sandbox.salesforce_url,
                        "username": creds.sf_username,
                    },
                    "zuora": {
                        "environment": "custom",
                        "base_url": sandbox.zuora_url,
                        "client_id": creds.zuora_client_id,
                    },
                    "network": {"proxy_mode": "none", "ca_bundle": str(sandbox.ca_path)},
                }
            )
        )
        store.add(
            Profile.model_validate(
                {
                    "name": "Dev org",
                    "salesforce": {"auth_method": "jwt", "login_host": "sandbox"},
                }
            )
        )
        store.set_active("Acme Production")
        secrets = open_app_secrets(None, ask=False)
        assert secrets is not None
        secrets.keep_in_memory(
            "Acme UAT",
            {
                names.SALESFORCE_PASSWORD: creds.sf_password,
                names.SALESFORCE_SECURITY_TOKEN: creds.sf_security_token,
                names.ZUORA_CLIENT_SECRET: creds.zuora_client_secret,
            },
        )

        dialog = ConnectionsDialog(store, secrets, select="Acme UAT")
        dialog.show()
        dialog.test_connection()
        if not wait_until(lambda: dialog.last_result is not None):
            print("FAILED: the connection test did not finish", flush=True)
            return 1
        ok = save(dialog, output / "connections-dialog.png")
        dialog.dirty = False
        dialog.close()

        window = MainWindow(store, secrets)
        window.show()
        ok = save(window, output / "main-window-profile-badge.png") and ok
        window.close()
        QTimer.singleShot(0, app.quit)
        app.exec()
        finish_jobs(app)
        print("saved" if ok else "FAILED to save the pictures", flush=True)
        return 0 if ok else 1
    finally:
        sandbox.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    QApplication.setApplicationName("CPQ Sync")
    sys.exit(main(Path(sys.argv[1])))
