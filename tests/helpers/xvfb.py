"""Start a real X server (Xvfb) for tests that need an actual window, and stop it after."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.processes import stop


def _free_display() -> int:
    for number in range(99, 300):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return number
    raise RuntimeError("no free X display number between :99 and :299")


@contextmanager
def xvfb(width: int = 1280, height: int = 800) -> Iterator[dict[str, str]]:
    """Yield an environment (DISPLAY, QT_QPA_PLATFORM=xcb) for child processes."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is missing: install it with `apt-get install xvfb` (see README)")
    number = _free_display()
    process = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    socket_path = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            error = process.stderr.read().decode() if process.stderr else ""
            if process.stderr:
                process.stderr.close()
            raise RuntimeError(f"Xvfb :{number} did not start: {error[-500:]}")
        time.sleep(0.05)
    env = dict(os.environ, DISPLAY=f":{number}", QT_QPA_PLATFORM="xcb")
    try:
        yield env
    finally:
        stop(process)
