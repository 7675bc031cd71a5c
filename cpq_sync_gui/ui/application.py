"""The QApplication: look and feel, the main window, and the --smoke / --screenshot / --demo runs."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from cpq_sync_gui import __version__
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


def report_startup(what: str) -> None:
    """Print ``<what> <seconds since process start> monotonic=<time.monotonic()>``."""
    since = seconds_since_process_start()
    shown = f"{since:.3f}" if since is not None else "unknown"
    print(f"{what} {shown} monotonic={time.monotonic():.6f}", flush=True)


class StartupReporter(QObject):
    """With CPQ_SYNC_REPORT_STARTUP=1: prints ``window-shown <seconds since process start>
    monotonic=<time.monotonic()>`` once, at the main window's first paint, then ``window-ready
    …`` once the profiles are loaded and the password store chosen, for bench/bench_startup.py
    (the monotonic clock lets it also time a onefile build's unpacking)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            report_startup("window-shown")
        return False


class AfterFirstPaint(QObject):
    """Calls ``then`` once, right after the watched widget's first paint has been handled (or
    after ``fallback_ms`` if it is never painted, e.g. started minimised)."""

    def __init__(self, widget: QObject, then: Callable[[], object], fallback_ms: int = 500) -> None:
        super().__init__(widget)
        self._then: Callable[[], object] | None = then
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self._run)  # runs once this paint is on screen
        return False

    def _run(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()


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
    # A thread that wants the interpreter lock waits up to the switch interval (5 ms by default)
    # for each hand-over while a worker runs Python; the GUI thread makes many short calls into
    # Python per frame, so a shorter interval keeps the window's frames short (docs/performance.md).
    sys.setswitchinterval(0.001)
    return app


def run_app(args: argparse.Namespace, argv: list[str]) -> int:
    app = make_application(argv)
    apply_theme(app, getattr(args, "color_scheme", "auto"))  # follows the OS unless forced
    demo = bool(getattr(args, "demo", False))
    unattended = bool(args.smoke or args.screenshot)
    report = os.environ.get(STARTUP_REPORT_ENV) == "1"
    # The window paints first; the profiles and the password store are read right after, off
    # the GUI thread (MainWindow.load_in_background). Without a secure keyring, secrets stay
    # in memory after asking once; not asked for the demo (its throwaway logins live in
    # memory anyway) or unattended runs.
    window = MainWindow(load_later=True)
    app.aboutToQuit.connect(window.shutdown)
    if report:
        window.installEventFilter(StartupReporter(window))

    def ready(ok: bool) -> None:
        if not ok:  # the admin chose to quit rather than keep secrets for this session only
            window.close()
            app.exit(1)
            return
        if report:
            report_startup("window-ready")
        freeze_startup_objects()  # shorter garbage-collector pauses once records load (heap.py)
        secrets = window.secrets
        if not unattended:
            window.sync.offer_interrupted_runs()  # a run a crash interrupted: offer to resume it
        if secrets is not None and secrets.memory_only:
            note = (
                "Secrets are kept in memory for this session only: no secure password store is "
                f"available — {secrets.unavailable_reason}."
            )
            window.log_pane.add("WARNING", note)
            print(f"CPQ Sync: {note}", file=sys.stderr, flush=True)
        if demo:
            window.start_demo()

    window.ready.connect(ready)
    AfterFirstPaint(window, lambda: window.load_in_background(ask=not (unattended or demo)))
    window.show()

    if args.smoke:

        def finish() -> None:
            if not window.is_ready:  # a smoke run checks the whole start-up, not the paint only
                window.ready.connect(lambda _ok: finish())
                return
            if window.demo_job is not None and window.demo_job.running:  # and the demo's
                window.demo_job.finished.connect(finish)
                return
            ok = window.isVisible()
            print("OK" if ok else "FAILED: the main window is not visible", flush=True)
            window.close()
            app.exit(0 if ok else 1)

        QTimer.singleShot(1000, finish)
    elif args.screenshot:
        target: Path = args.screenshot

        def shoot() -> None:
            if not window.is_ready:  # picture the window with its profiles
                window.ready.connect(lambda _ok: shoot())
                return
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
