"""How a sync run shows its progress in a terminal: a redrawn bar on a TTY, plain lines otherwise."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import Protocol

from cpq_sync_gui.sync.events import Progress

__all__ = ["ProgressDisplay", "TextSink", "format_duration", "progress_text"]


class TextSink(Protocol):
    """What the display writes to: sys.stderr, or a wrapper around it."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


CLEAR_LINE = "\r\x1b[K"  # back to column 0 and erase to the end of the line (VT100; Windows 10+)
TTY_REDRAW_S = 0.1  # at most ten redraws a second: a 10,000-record run must not flood the tty
PLAIN_EVERY_S = 5.0  # plain lines (logs, CI): one progress line every few seconds at most


def format_duration(seconds: float | None) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(progress: Progress) -> str:
    """One line in words: done/total, how they ended, rate and time left."""
    parts = [
        f"{progress.done:,}/{progress.total:,} done",
        f"{progress.succeeded:,} synced",
        f"{progress.skipped:,} skipped",
        f"{progress.failed:,} not synced",
    ]
    if progress.verifying:
        parts.append(f"{progress.verifying:,} verifying in Zuora")
    if progress.rate_per_s > 0:
        parts.append(f"{progress.rate_per_s:.1f} records/s")
    if progress.done < progress.total:
        parts.append(f"about {format_duration(progress.eta_s)} left")
    return ", ".join(parts)


class ProgressDisplay:
    """Progress of one run on ``stream`` (normally stderr).

    On a terminal: one bar redrawn in place with a carriage return (done/total, percent, rate,
    time left, failures so far); anything else printed through :meth:`above` appears above it.
    Elsewhere (a pipe, a log file, CI): a plain progress line at most every few seconds and at
    the end, so a log shows how the run went without thousands of lines.
    """

    def __init__(
        self,
        stream: TextSink,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self._clock = clock
        self._width = width
        self._last: Progress | None = None
        self._drawn = False  # a bar is on screen (the cursor is at its end)
        self._last_draw = -1e9
        self._pending = False  # plain mode: the latest progress was not printed yet

    # -- what the run reports ----------------------------------------------------------------

    def update(self, progress: Progress) -> None:
        self._last = progress
        now = self._clock()
        finished = progress.done >= progress.total
        if self.tty:
            if finished or now - self._last_draw >= TTY_REDRAW_S:
                self._draw(now)
        elif finished or now - self._last_draw >= PLAIN_EVERY_S:
            self._write("progress: " + progress_text(progress) + "\n")
            self._last_draw = now
            self._pending = False
        else:
            self._pending = True

    def above(self, text: str, stream: TextSink | None = None) -> None:
        """Print ``text`` (a finished line) without tearing the bar; the bar is redrawn below."""
        target = stream or self.stream
        if self.tty and self._drawn:
            self._write(CLEAR_LINE)
            self._drawn = False
        target.write(text if text.endswith("\n") else text + "\n")
        target.flush()
        if self.tty and self._last is not None:
            self._draw(self._clock())

    def close(self) -> None:
        """Leave the last state on screen and end its line."""
        if self.tty and self._last is not None:
            self._draw(self._clock())
            self._write("\n")
            self._drawn = False
        elif not self.tty and self._last is not None and self._pending:
            self._write("progress: " + progress_text(self._last) + "\n")
            self._pending = False

    # -- drawing -----------------------------------------------------------------------------

    def bar_text(self, progress: Progress, width: int) -> str:
        total = max(progress.total, 1)
        fraction = min(1.0, progress.done / total)
        tail = f" {progress.done:,}/{progress.total:,} {fraction:4.0%}"
        if progress.rate_per_s > 0:
            tail += f"  {progress.rate_per_s:.1f}/s"
        if progress.done < progress.total:
            tail += f"  ETA {format_duration(progress.eta_s)}"
        if progress.failed:
            tail += f"  {progress.failed:,} not synced"
        cells = max(10, min(40, width - len(tail) - 3))
        filled = int(cells * fraction)
        bar = "#" * filled + "-" * (cells - filled)
        return f"[{bar}]{tail}"[: max(width - 1, 20)]

    def _draw(self, now: float) -> None:
        if self._last is None:
            return
        width = self._width or shutil.get_terminal_size((80, 24)).columns
        self._write(CLEAR_LINE + self.bar_text(self._last, width))
        self._drawn = True
        self._last_draw = now

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
