"""The QApplication: look and feel, the main window, and the --smoke / --screenshot / --demo runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cpq_sync_gui import __version__
from cpq_sync_gui.ui.main_window import MainWindow


def resources_dir() -> Path:
    """The top-level resources/ folder: beside the package in a checkout, in _MEIPASS when frozen."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def app_icon() -> QIcon:
    icon = QIcon()
    for size in (16, 32, 48, 64, 128, 256):
        path = resources_dir() / "icons" / f"app-{size}.png"
        if path.exists():
            icon.addFile(str(path))
    return icon


def make_application(argv: list[str]) -> QApplication:
    app = QApplication.instance() or QApplication(argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("CPQ Sync")
    app.setOrganizationName("CPQ Sync")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("cpq-sync-gui")
    app.setWindowIcon(app_icon())
    # Fusion follows the OS light/dark scheme on every platform and renders the same
    # everywhere, so screenshots in the docs match what admins see.
    app.setStyle("Fusion")
    return app


def run_app(args: argparse.Namespace, argv: list[str]) -> int:
    app = make_application(argv)
    window = MainWindow()
    window.show()

    if args.smoke:

        def finish() -> None:
            ok = window.isVisible()
            print("OK" if ok else "FAILED: the main window is not visible", flush=True)
            window.close()
            app.exit(0 if ok else 1)

        QTimer.singleShot(1000, finish)
    elif args.screenshot:
        target: Path = args.screenshot

        def shoot() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            screen = window.screen()
            picture = screen.grabWindow(window.winId()) if screen else window.grab()
            if picture.isNull():
                picture = window.grab()
            ok = picture.save(str(target), "PNG")
            print(f"saved {target}" if ok else f"FAILED to save {target}", flush=True)
            window.close()
            app.exit(0 if ok else 1)

        QTimer.singleShot(800, shoot)
    return app.exec()


if __name__ == "__main__":  # pragma: no cover - convenience
    from cpq_sync_gui.app import main

    sys.exit(main())
