"""Check that a screenshot shows a real window, and publish it to docs/images for the docs."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtGui import QImage

REPO = Path(__file__).resolve().parents[2]
DOCS_IMAGES = REPO / "docs" / "images"


def distinct_colours(image: QImage, step: int = 7) -> int:
    return len(
        {
            image.pixel(x, y)
            for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)
        }
    )


def check_picture(path: Path, *, min_width: int = 800, min_colours: int = 5) -> QImage:
    """Load ``path`` and assert it is a real, populated window picture (not blank, not tiny)."""
    image = QImage(str(path))
    assert not image.isNull(), f"{path.name} is not a readable PNG"
    assert image.width() >= min_width, f"{path.name} is only {image.width()} px wide"
    colours = distinct_colours(image)
    assert colours > min_colours, f"{path.name} looks blank ({colours} colours)"
    return image


def publish(path: Path) -> Path:
    """Copy a checked picture to docs/images/, where the README and docs show it."""
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    target = DOCS_IMAGES / path.name
    shutil.copyfile(path, target)
    return target
