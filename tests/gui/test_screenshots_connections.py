"""Pictures of the Connections dialog and the profile badge under Xvfb (xcb), for the docs.

Written to build/test-artifacts/ and copied to docs/images/ for docs/connections.md.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

from tests.helpers.screenshots import publish
from tests.helpers.xvfb import xvfb


def distinct_colours(image: QImage) -> int:
    return len(
        {image.pixel(x, y) for x in range(0, image.width(), 5) for y in range(0, image.height(), 5)}
    )


@pytest.mark.xvfb
@pytest.mark.slow
def test_connections_dialog_screenshot_under_xvfb(artifacts_dir, tmp_path):
    dialog_png = artifacts_dir / "connections-dialog.png"
    badge_png = artifacts_dir / "main-window-profile-badge.png"
    for target in (dialog_png, badge_png):
        target.unlink(missing_ok=True)
    with xvfb() as env:
        env = dict(env, CPQ_SYNC_HOME=str(tmp_path / "home"))
        env.pop("REQUESTS_CA_BUNDLE", None)
        result = subprocess.run(
            [sys.executable, "-m", "tests.helpers.connections_screenshot", str(artifacts_dir)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=os.getcwd(),
        )
    assert result.returncode == 0, result.stdout + result.stderr
    dialog = QImage(str(dialog_png))
    assert not dialog.isNull()
    assert dialog.width() >= 800
    assert dialog.height() >= 500
    assert distinct_colours(dialog) > 10
    badge = QImage(str(badge_png))
    assert not badge.isNull()
    # The red PRODUCTION badge is in the toolbar (the top of the window).
    reds = [
        (x, y)
        for x in range(0, min(badge.width(), 900))
        for y in range(0, 80)
        if badge.pixelColor(x, y).name() == "#c62828"
    ]
    assert len(reds) > 50
    for picture in (dialog_png, badge_png):
        publish(picture)
