"""Ending a helper process a test started (Xvfb, tinyproxy): politely, then firmly."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process``, kill it if it has not ended within 5 s, close its stderr pipe."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr:
        process.stderr.close()
