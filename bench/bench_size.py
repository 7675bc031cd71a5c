"""Package size of the onedir and onefile builds (build.spec), built from the current tree.

Builds into build/bench-dist/onedir/cpq-sync/ and build/bench-dist/onefile/ (work folders in
build/bench-work/), so the packaging tests' build/pyinstaller/ is never touched; bench_startup.py
runs these same builds. Sizes are file bytes (symlinks not counted twice), in MB (10^6) and
MiB (2^20), with file counts and the largest files.

    .venv/bin/python bench/bench_size.py            # builds both (a few minutes on 2 cores)
    .venv/bin/python bench/bench_size.py --quick    # reuses builds that are already there
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import PYTHON, load_average, write_result  # noqa: E402

DIST = REPO / "build" / "bench-dist"
WORK = REPO / "build" / "bench-work"
ONEDIR = DIST / "onedir" / "cpq-sync"
ONEFILE = DIST / "onefile"
EXE = ".exe" if sys.platform == "win32" else ""
MB, MiB = 10**6, 2**20


def onedir_gui() -> Path:
    return ONEDIR / f"cpq-sync-gui{EXE}"


def onefile_gui() -> Path:
    return ONEFILE / f"cpq-sync-gui{EXE}"


def build(kind: str) -> dict[str, Any]:
    """Run PyInstaller for ``kind`` (onedir or onefile); returns seconds and the tail of its log."""
    distpath = DIST / kind
    workpath = WORK / kind
    if kind == "onedir" and ONEDIR.exists():
        shutil.rmtree(ONEDIR)
    if kind == "onefile" and ONEFILE.exists():
        shutil.rmtree(ONEFILE)
    command = [
        PYTHON,
        "-m",
        "PyInstaller",
        "build.spec",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(distpath),
        "--workpath",
        str(workpath),
    ]
    if kind == "onefile":
        command += ["--", "--onefile"]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).splitlines()[-40:]
        raise SystemExit(f"PyInstaller ({kind}) failed:\n" + "\n".join(tail))
    return {"seconds": round(seconds, 1), "command": " ".join(command[1:])}


def ensure_builds(*, reuse: bool) -> dict[str, Any]:
    """Both builds, rebuilt unless ``reuse`` and present. Returns build times (None: reused)."""
    built: dict[str, Any] = {}
    for kind, marker in (("onedir", onedir_gui()), ("onefile", onefile_gui())):
        if reuse and marker.exists():
            built[kind] = None
            print(f"  {kind}: reusing {marker.relative_to(REPO)}", flush=True)
        else:
            print(f"  {kind}: building with PyInstaller ...", flush=True)
            built[kind] = build(kind)
            print(f"  {kind}: built in {built[kind]['seconds']:.0f} s", flush=True)
    return built


def _size(total: int) -> dict[str, float | int]:
    return {"bytes": total, "MB": round(total / MB, 1), "MiB": round(total / MiB, 1)}


def measure_onedir(folder: Path) -> dict[str, Any]:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    links = [p for p in folder.rglob("*") if p.is_symlink()]
    total = sum(p.stat().st_size for p in files)
    largest = sorted(files, key=lambda p: p.stat().st_size, reverse=True)[:10]
    return {
        "path": str(folder.relative_to(REPO)),
        "total": _size(total),
        "files": len(files),
        "symlinks": len(links),
        "executable_MiB": round((folder / f"cpq-sync-gui{EXE}").stat().st_size / MiB, 1),
        "largest": [
            {"file": str(p.relative_to(folder)), "MiB": round(p.stat().st_size / MiB, 1)}
            for p in largest
        ],
    }


def measure_onefile(folder: Path) -> dict[str, Any]:
    executables = {
        name: _size((folder / f"{name}{EXE}").stat().st_size)
        for name in ("cpq-sync-gui", "cpq-sync")
        if (folder / f"{name}{EXE}").exists()
    }
    return {"path": str(folder.relative_to(REPO)), "executables": executables}


def main() -> int:
    parser = argparse.ArgumentParser(description="Onedir and onefile package sizes.")
    parser.add_argument("--quick", action="store_true", help="reuse existing builds")
    parser.add_argument("--reuse", action="store_true", help="same as --quick for this benchmark")
    args = parser.parse_args()
    load_before = load_average()
    builds = ensure_builds(reuse=args.quick or args.reuse)
    onedir = measure_onedir(ONEDIR)
    onefile = measure_onefile(ONEFILE)
    gui = onefile["executables"].get("cpq-sync-gui", {})
    result = {
        "builds": builds,
        "onedir": onedir,
        "onefile": onefile,
        "headline": {
            "onedir_MB": onedir["total"]["MB"],
            "onedir_MiB": onedir["total"]["MiB"],
            "onedir_files": onedir["files"],
            "onefile_gui_MB": gui.get("MB"),
            "onefile_gui_MiB": gui.get("MiB"),
        },
    }
    path = write_result("size", result, load_before=load_before)
    print(
        f"onedir {onedir['total']['MB']} MB ({onedir['total']['MiB']} MiB, {onedir['files']} files); "
        f"onefile cpq-sync-gui {gui.get('MB')} MB ({gui.get('MiB')} MiB)"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
