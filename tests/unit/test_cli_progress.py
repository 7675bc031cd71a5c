"""The CLI's progress display: a bar redrawn in place on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from cpq_sync_gui.cli_progress import ProgressDisplay, format_duration, progress_text
from cpq_sync_gui.sync.events import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress(done: int, total: int = 200, failed: int = 0, rate: float = 0.0) -> Progress:
    eta = (total - done) / rate if rate else None
    return Progress(done, total, done - failed, failed, 0, rate, eta)


def test_durations_read_as_people_say_them() -> None:
    assert format_duration(None) == "?"
    assert format_duration(9.6) == "10 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(7620) == "2 h 07 min"


def test_plain_text_says_done_left_rate_and_time_left() -> None:
    text = progress_text(_progress(50, failed=2, rate=12.5))
    assert text == (
        "50/200 done, 48 synced, 0 skipped, 2 not synced, 12.5 records/s, about 12 s left"
    )
    assert "left" not in progress_text(_progress(200, rate=10))


def test_terminal_bar_is_redrawn_in_place_at_most_ten_times_a_second() -> None:
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=True, clock=clock, width=80)
    display.update(_progress(1, rate=4))
    for done in range(2, 50):  # within the same 0.1 s: no redraw
        display.update(_progress(done, rate=4))
    clock.now += 0.2
    display.update(_progress(50, failed=3, rate=4))
    frames = stream.getvalue().split("\r\x1b[K")[1:]
    assert len(frames) == 2
    assert frames[-1].startswith("[########--")  # a quarter of the bar filled
    assert " 50/200  25%" in frames[-1]
    assert "4.0/s" in frames[-1]
    assert "ETA 38 s" in frames[-1]
    assert "3 not synced" in frames[-1]
    assert all(len(frame) < 80 for frame in frames)
    assert "\n" not in stream.getvalue()


def test_lines_printed_during_a_run_go_above_the_bar() -> None:
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=True, clock=clock, width=60)
    display.update(_progress(10, rate=5))
    display.above("[10/200] Failed  account Acme: Not sent: no country")
    display.close()
    text = stream.getvalue()
    bar_then_line = text.split("[10/200] Failed")
    assert bar_then_line[0].endswith("\r\x1b[K")  # the bar was erased first
    assert bar_then_line[1].startswith("  account Acme: Not sent: no country\n\r\x1b[K[")
    assert text.endswith("\n")  # the last state stays on screen


def test_elsewhere_plain_lines_every_few_seconds_and_the_last_state() -> None:
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, tty=False, clock=clock)
    for done in range(1, 100):
        display.update(_progress(done, rate=20))
        clock.now += 0.06
    display.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 3  # at the start, after 5 s, and the last state at close
    assert lines[0].startswith("progress: 1/200 done")
    assert lines[-1].startswith("progress: 99/200 done")
    display.update(_progress(200, rate=20))  # the end is always printed
    assert stream.getvalue().splitlines()[-1].startswith("progress: 200/200 done")
