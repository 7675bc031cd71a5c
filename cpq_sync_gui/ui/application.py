"""The QApplication: look and feel, the main window, and the --smoke / --screenshot / --demo runs."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cpq_sync_gui import __version__
from cpq_sync_gui.ui.connections_dialog import open_app_secrets
from cpq_sync_gui.ui.heap import freeze_startup_objects
from cpq_sync_gui.ui.jobs import Job
from cpq_sync_gui.ui.main_window import MainWindow
from cpq_sync_gui.ui.theme import apply_theme


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


STARTUP_REPORT_ENV = "CPQ_SYNC_REPORT_STARTUP"


def seconds_since_process_start() -> float | None:
    """Linux: how long ago this process started (10 ms resolution, from /proc); else None."""
    try:
        with open("/proc/self/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class StartupReporter(QObject):
    """With CPQ_SYNC_REPORT_STARTUP=1: prints ``window-shown <seconds since process start>
    monotonic=<time.monotonic()>`` once, at the main window's first paint, for
    bench/bench_startup.py (the monotonic clock lets it also time a onefile build's unpacking)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            since = seconds_since_process_start()
            shown = f"{since:.3f}" if since is not None else "unknown"
            print(f"window-shown {shown} monotonic={time.monotonic():.6f}", flush=True)
        return False


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
    apply_theme(app, getattr(args, "color_scheme", "auto"))  # follows the OS unless forced
    demo = bool(getattr(args, "demo", False))
    unattended = bool(args.smoke or args.screenshot)
    # Asked once, before the window opens: without a secure keyring, secrets stay in memory.
    # Not asked for the demo (its throwaway logins live in memory anyway) or unattended runs.
    secrets = open_app_secrets(None, ask=not (unattended or demo))
    if secrets is None:
        return 1
    window = MainWindow(secrets=secrets)
    app.aboutToQuit.connect(window.shutdown)
    if os.environ.get(STARTUP_REPORT_ENV) == "1":
        window.installEventFilter(StartupReporter(window))
    window.show()
    freeze_startup_objects()  # shorter garbage-collector pauses once records load (ui/heap.py)
    if not unattended:
        window.sync.offer_interrupted_runs()  # a run a crash interrupted: offer to resume it
    if secrets.memory_only:
        note = (
            "Secrets are kept in memory for this session only: no secure password store is "
            f"available — {secrets.unavailable_reason}."
        )
        window.log_pane.add("WARNING", note)
        print(f"CPQ Sync: {note}", file=sys.stderr, flush=True)
    if demo:
        window.start_demo()

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
    code = app.exec()
    finish_jobs(app)
    return code


def finish_jobs(app: QApplication, timeout_s: float = 5.0) -> None:
    """Give jobs still running at exit (cancelled by the window) a moment to end cleanly.

    A job hands its result to the GUI thread before its thread stops, so events are processed
    while waiting; a QThread still running when Python exits would abort the process.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = [job for job in app.findChildren(Job) if job.running]
        if not running:
            return
        for job in running:
            job.cancel()
        app.processEvents()
        time.sleep(0.02)


if __name__ == "__main__":  # pragma: no cover - convenience
    from cpq_sync_gui.app import main

    sys.exit(main())
