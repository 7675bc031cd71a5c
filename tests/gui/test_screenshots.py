"""Pictures of real windows under Xvfb (xcb), for the README and for people reviewing changes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.screenshots import check_picture
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
    image = check_picture(target)
    assert image.height() >= 500
