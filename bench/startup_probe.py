"""Where the app's start-up goes: runs the real ``cpq_sync_gui.app.main(["--smoke"])`` with
timestamps at each phase, and quits once the window is ready.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/startup_probe.py    # prints JSON

Phases (seconds since the process started, from /proc): ``python_ready`` (this script runs),
``qt_imported`` (PySide6.QtWidgets), ``app_imported`` (cpq_sync_gui.ui.application and all it
imports), ``application`` (QApplication made), ``window_built`` (MainWindow constructed),
``shown`` (show() returned), ``first_paint``, then ``ready``: the profiles read and the password
store chosen (off the GUI thread, started after the first paint), the window usable.
bench_startup.py runs it to say what bounds the start-up.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bare_window import seconds_since_process_start  # noqa: E402

marks: dict[str, float] = {}


def mark(name: str) -> None:
    since = seconds_since_process_start()
    marks[name] = round(since if since is not None else time.perf_counter(), 3)


def main() -> int:
    mark("python_ready")
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    mark("qt_imported")
    import cpq_sync_gui.ui.application as application

    mark("app_imported")
    real_make, real_window = application.make_application, application.MainWindow

    def make_application(argv: list[str]) -> QApplication:
        app = real_make(argv)
        mark("application")
        return app

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                mark("first_paint")
            return False

    def ready(_ok: bool) -> None:
        mark("ready")
        QApplication.instance().exit(0)

    class ProbedWindow(real_window):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            mark("window_built")
            self.installEventFilter(FirstPaint(self))
            self.ready.connect(ready)

        def show(self) -> None:
            super().show()
            mark("shown")

    application.make_application = make_application
    application.MainWindow = ProbedWindow
    from cpq_sync_gui.app import main as app_main

    app_main(["--smoke"])
    print(json.dumps(marks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
