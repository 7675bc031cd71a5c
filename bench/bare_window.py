"""A bare PySide6 window: the start-up yardstick for bench_startup.py.

QApplication, one QMainWindow with a label, show. At the window's first paint it prints the
same line the app prints with CPQ_SYNC_REPORT_STARTUP=1 (cpq_sync_gui/ui/application.py):

    window-shown <seconds since process start> monotonic=<time.monotonic()>

then quits. Kept free of cpq_sync_gui imports: it measures only Python + Qt + one window.
"""

from __future__ import annotations

import os
import sys
import time


def seconds_since_process_start() -> float | None:
    """Linux: how long ago this process started (10 ms resolution, from /proc); else None."""
    try:
        with open("/proc/self/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def main() -> int:
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication(sys.argv)

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                since = seconds_since_process_start()
                shown = f"{since:.3f}" if since is not None else "unknown"
                print(f"window-shown {shown} monotonic={time.monotonic():.6f}", flush=True)
                QTimer.singleShot(0, app.quit)
            return False

    window = QMainWindow()
    window.setWindowTitle("bare")
    window.setCentralWidget(QLabel("bare PySide6 window"))
    window.resize(1100, 700)
    window.installEventFilter(FirstPaint(window))
    window.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
