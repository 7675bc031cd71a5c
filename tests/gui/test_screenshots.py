"""Pictures of real windows under Xvfb (xcb), for the README and for people reviewing changes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

from tests.helpers.xvfb import xvfb


@pytest.mark.xvfb
@pytest.mark.slow
def test_main_window_screenshot_under_xvfb(artifacts_dir):
    target = artifacts_dir / "main-window.png"
    target.unlink(missing_ok=True)
    with xvfb() as env:
        result = subprocess.run(
            [sys.executable, "-m", "cpq_sync_gui", "--screenshot", str(target)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    image = QImage(str(target))
    assert not image.isNull()
    assert image.width() >= 800
    assert image.height() >= 500
    # A real window has content: many distinct colours, not a blank rectangle.
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 5
