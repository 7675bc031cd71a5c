"""Pictures of both record tabs in light and dark, from a demo sandbox, in a real window under Xvfb."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtGui import QColor, QImage

from tests.helpers.screenshots import check_picture, publish
from tests.helpers.xvfb import xvfb


def _mean_lightness(image: QImage) -> float:
    samples = [
        QColor(image.pixel(x, y)).lightness()
        for x in range(0, image.width(), 11)
        for y in range(0, image.height(), 11)
    ]
    return sum(samples) / len(samples)


@pytest.mark.xvfb
@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_record_tabs_screenshots(artifacts_dir, scheme):
    targets = [artifacts_dir / f"records-{name}-{scheme}.png" for name in ("accounts", "orders")]
    for target in targets:
        target.unlink(missing_ok=True)
    with xvfb(1280, 800) as env:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.helpers.browser_screenshots",
                "--color-scheme",
                scheme,
                "--out",
                str(artifacts_dir),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    for target in targets:
        image = check_picture(target, min_width=1000, min_colours=20)  # a populated table
        assert image.height() >= 600
        publish(target)
        lightness = _mean_lightness(image)
        if scheme == "dark":
            assert lightness < 110, f"{target.name} is not dark ({lightness:.0f})"
        else:
            assert lightness > 160, f"{target.name} is not light ({lightness:.0f})"
