"""Draw the CPQ Sync app icon with Qt and write resources/icons/ (PNGs, Windows .ico, macOS .icns).

Run it from the repo root after changing the drawing; the written files are committed, so a build
never needs to run this:

    .venv/bin/python tools/make_icons.py            # writes resources/icons/
    .venv/bin/python tools/make_icons.py --check    # exit 1 if the committed files are stale

Every size is drawn from the vector shapes (not scaled down from a big bitmap), with the stroke
widened at small sizes so the sync mark stays readable at 16 px. The output is byte-for-byte
reproducible: PNG carries no timestamp, and the ICO/ICNS containers are written here, not by a
library that might add one.
"""

from __future__ import annotations

import argparse
import math
import os
import struct
import sys
from pathlib import Path

# Painting into a QImage needs no window system; say so before Qt is imported anywhere.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
)

ICONS_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"

PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
# Windows picks 24 px for small icons at 150 % scaling, so the .ico carries it as well.
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS element types that hold PNG data, and their pixel sizes (ic11..ic14 are the @2x ones).
ICNS_TYPES = (
    (b"ic11", 32),
    (b"ic12", 64),
    (b"ic07", 128),
    (b"ic13", 256),
    (b"ic08", 256),
    (b"ic14", 512),
    (b"ic09", 512),
    (b"ic10", 1024),
)

TEAL = QColor("#14b8a6")
BLUE = QColor("#2563eb")
MARK = QColor("#ffffff")


def draw_icon(size: int) -> QImage:
    """The icon at `size` x `size` pixels: a rounded square in a teal-to-blue gradient, with a
    white sync mark (two arcs chasing each other, each ending in an arrowhead)."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)

    # Small sizes use the whole square; big ones keep the margin macOS and Windows tiles expect.
    margin = 0.0 if size <= 32 else size * 0.0625
    tile = QRectF(margin, margin, size - 2 * margin, size - 2 * margin)
    gradient = QLinearGradient(tile.topLeft(), tile.bottomRight())
    gradient.setColorAt(0.0, TEAL)
    gradient.setColorAt(1.0, BLUE)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(gradient))
    corner = tile.width() * 0.22
    painter.drawRoundedRect(tile, corner, corner)

    # A faint top highlight gives the tile depth without looking glossy.
    highlight = QLinearGradient(tile.topLeft(), QPointF(tile.left(), tile.center().y()))
    highlight.setColorAt(0.0, QColor(255, 255, 255, 46))
    highlight.setColorAt(1.0, QColor(255, 255, 255, 0))
    painter.setBrush(QBrush(highlight))
    painter.drawRoundedRect(tile, corner, corner)

    side = tile.width()
    center = tile.center()
    radius = side * 0.27
    # A 1 px line vanishes at 16 px, so the stroke never gets thinner than 1.9 px.
    stroke = max(side * 0.085, 1.9)
    head = stroke * 1.35  # half the width of an arrowhead's base

    painter.setBrush(Qt.BrushStyle.NoBrush)
    pen = QPen(MARK, stroke, Qt.PenStyle.SolidLine, Qt.PenCapStyle.FlatCap)
    painter.setPen(pen)
    arc_rect = QRectF(center.x() - radius, center.y() - radius, 2 * radius, 2 * radius)
    # Qt angles: degrees, counter-clockwise from 3 o'clock. Each arc stops short of its arrowhead.
    span = 118.0
    for start in (28.0, 208.0):
        path = QPainterPath()
        path.arcMoveTo(arc_rect, start)
        path.arcTo(arc_rect, start, span)
        painter.drawPath(path)

        end = math.radians(start + span)
        # Point on the circle, its outward normal and its tangent (direction of travel).
        px, py = center.x() + radius * math.cos(end), center.y() - radius * math.sin(end)
        nx, ny = math.cos(end), -math.sin(end)
        tx, ty = -math.sin(end), -math.cos(end)
        length = head * 1.45
        arrow = QPainterPath()
        arrow.moveTo(px + nx * head, py + ny * head)
        arrow.lineTo(px + tx * length, py + ty * length)
        arrow.lineTo(px - nx * head, py - ny * head)
        arrow.closeSubpath()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(MARK)
        painter.drawPath(arrow)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)

    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG")
    buffer.close()
    return bytes(data.data())


def dib_bytes(image: QImage) -> bytes:
    """A 32-bit BMP entry for an .ico: header, bottom-up BGRA rows, then the 1-bit AND mask.

    Sizes under 256 are stored like this rather than as PNG because older Windows tools (and
    some resource editors) only understand BMP entries; 256 is PNG, as Windows expects.
    """
    argb = image.convertToFormat(QImage.Format.Format_ARGB32)  # straight alpha, BGRA in memory
    width, height = argb.width(), argb.height()
    header = struct.pack(
        "<IiiHHIIiiII", 40, width, height * 2, 1, 32, 0, width * height * 4, 0, 0, 0, 0
    )
    rows = []
    for y in range(height - 1, -1, -1):
        line = argb.constScanLine(y)
        rows.append(bytes(line)[: width * 4])
    # Alpha carries the transparency; an all-zero AND mask keeps every pixel drawn.
    mask_row = ((width + 31) // 32) * 4
    return header + b"".join(rows) + b"\0" * (mask_row * height)


def ico_bytes(images: dict[int, QImage]) -> bytes:
    """The ICO container: ICONDIR, one ICONDIRENTRY per size, then the entries' data."""
    entries = [
        (size, png_bytes(img) if size >= 256 else dib_bytes(img)) for size, img in images.items()
    ]
    out = struct.pack("<HHH", 0, 1, len(entries))
    offset = 6 + 16 * len(entries)
    for size, data in entries:
        dim = 0 if size >= 256 else size  # 0 means 256 in the one-byte width/height fields
        out += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return out + b"".join(data for _, data in entries)


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """The ICNS container: 'icns' + total length, then (type, length, PNG data) elements."""
    body = b""
    for kind, size in ICNS_TYPES:
        data = pngs[size]
        body += kind + struct.pack(">I", 8 + len(data)) + data
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def render_all() -> dict[str, bytes]:
    """Every file this tool writes, by file name."""
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES})
    images = {size: draw_icon(size) for size in sizes}
    pngs = {size: png_bytes(img) for size, img in images.items()}
    files = {f"app-{size}.png": pngs[size] for size in PNG_SIZES}
    files["app.ico"] = ico_bytes({size: images[size] for size in ICO_SIZES})
    files["app.icns"] = icns_bytes(pngs)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=ICONS_DIR, help="folder to write (default: %(default)s)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file in --out differs"
    )
    args = parser.parse_args(argv)

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    files = render_all()
    del app

    if args.check:
        stale = [
            name
            for name, data in files.items()
            if not (args.out / name).is_file() or (args.out / name).read_bytes() != data
        ]
        for name in stale:
            print(f"stale: {args.out / name}")
        return 1 if stale else 0

    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        print(f"wrote {args.out / name} ({len(data):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
