"""Start-up: process start to the main window's first paint, from source and from the frozen
builds, as a ratio to a bare PySide6 window (bench/bare_window.py) measured in the same run,
offscreen and on a real X server (Xvfb). Target: <= 1.5x. A second figure, "ready": the
profiles read and the password store chosen (the app does both right after the first paint,
off the GUI thread), i.e. the window fully usable.

The app reports both itself when CPQ_SYNC_REPORT_STARTUP=1 (cpq_sync_gui/ui/application.py):
it prints ``window-shown <s since process start> monotonic=<t>`` at the first paint, then
``window-ready …``. The time used here is the monotonic clock (shared by all processes on
Linux) at that line minus the parent's clock just before it started the process, so a onefile
build's unpacking counts too. Each variant runs once to warm the file cache (not counted), then
the variants take turns, ``--runs`` times each, so they share the same load; medians reported.

The frozen builds are bench_size.py's (build/bench-dist/, built from the current tree with the
hook); without them (or with --rebuild) this benchmark builds onedir first (and onefile unless
--quick). The bare window is also frozen (onedir, build/bench-dist/bare/): the frozen app's
ratio is given against both bare windows, from source and frozen.

    .venv/bin/python bench/bench_startup.py            # 7 runs per variant and platform
    .venv/bin/python bench/bench_startup.py --quick    # 3 runs, builds only what is missing
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_size  # noqa: E402
from bench.common import PYTHON, load_average, median, summary, write_result  # noqa: E402

TARGET_RATIO = 1.5
TIMEOUT_S = 60.0
BARE_DIST = bench_size.DIST / "bare"
BARE_WORK = bench_size.WORK / "bare"


def bare_frozen() -> Path:
    return BARE_DIST / "bare_window" / f"bare_window{bench_size.EXE}"


def build_bare_frozen() -> None:
    """bench/bare_window.py frozen by PyInstaller (onedir, default options)."""
    if BARE_DIST.exists():
        shutil.rmtree(BARE_DIST)
    command = [PYTHON, "-m", "PyInstaller", str(REPO / "bench" / "bare_window.py"), "--onedir"]
    command += ["--noconfirm", "--log-level", "WARN", "--distpath", str(BARE_DIST)]
    command += ["--workpath", str(BARE_WORK), "--specpath", str(BARE_WORK)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(
            "PyInstaller (bare window) failed:\n" + (done.stdout + done.stderr)[-3000:]
        )


def variants(with_onefile: bool) -> dict[str, list[str]]:
    found = {
        "bare_window": [PYTHON, str(REPO / "bench" / "bare_window.py")],
        "app_source": [PYTHON, "-m", "cpq_sync_gui.app", "--smoke"],
    }
    if bare_frozen().exists():
        found["bare_window_frozen"] = [str(bare_frozen())]
    if bench_size.onedir_gui().exists():
        found["app_frozen_onedir"] = [str(bench_size.onedir_gui()), "--smoke"]
    if with_onefile and bench_size.onefile_gui().exists():
        found["app_frozen_onefile"] = [str(bench_size.onefile_gui()), "--smoke"]
    return found


def launch(command: list[str], env: dict[str, str]) -> dict[str, float | None]:
    """Start ``command``, read its window-shown (and the app's window-ready) line, stop it;
    seconds to the first paint and to ready."""
    run_env = dict(env, CPQ_SYNC_HOME=tempfile.mkdtemp(prefix="cpq-sync-bench-start-"))
    began = time.monotonic()
    process = subprocess.Popen(
        command,
        env=run_env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line, seen = "", {}
    wanted = {"window-shown"} if "bare_window" in command[-1] else {"window-shown", "window-ready"}
    deadline = began + TIMEOUT_S
    try:
        while time.monotonic() < deadline and not wanted <= set(seen):
            line = process.stdout.readline()
            if not line:
                break
            if line.split(" ", 1)[0] in wanted:
                seen[line.split(" ", 1)[0]] = line
        if not wanted <= set(seen):
            raise RuntimeError(f"{command[0]} did not print {sorted(wanted)} (last {line!r})")
        shown = float(seen["window-shown"].split("monotonic=")[1]) - began
        since_start = seen["window-shown"].split()[1]
        ready = seen.get("window-ready")
        to_ready = float(ready.split("monotonic=")[1]) - began if ready else None
    finally:
        # The app would close itself after --smoke's second; nothing is left to measure, and a
        # onefile build must clean its unpacked folder, so end it politely either way.
        if "onefile" in command[0]:
            process.wait(timeout=TIMEOUT_S)
        else:
            process.terminate()
            process.wait(timeout=TIMEOUT_S)
        process.stdout.close()
    return {
        "to_first_paint_s": shown,
        "to_ready_s": to_ready,
        "reported_since_process_start_s": float(since_start) if since_start != "unknown" else None,
    }


def measure(env: dict[str, str], runs: int, with_onefile: bool) -> dict[str, Any]:
    chosen = variants(with_onefile)
    for command in chosen.values():  # warm-up: file cache, .pyc, fontconfig cache
        launch(command, env)
    samples: dict[str, list[dict[str, float | None]]] = {name: [] for name in chosen}
    loads = []
    for _ in range(runs):
        loads.append(load_average())
        for name, command in chosen.items():
            samples[name].append(launch(command, env))
    bare = median([s["to_first_paint_s"] or 0.0 for s in samples["bare_window"]])
    frozen = samples.get("bare_window_frozen")
    bare_frozen_s = median([s["to_first_paint_s"] or 0.0 for s in frozen]) if frozen else None
    out: dict[str, Any] = {"load_averages": loads}
    for name, taken in samples.items():
        times = [s["to_first_paint_s"] or 0.0 for s in taken]
        out[name] = {
            "to_first_paint_s": summary(times),
            "reported_since_process_start_s": summary(
                [s["reported_since_process_start_s"] or 0.0 for s in taken]
            ),
            "ratio_to_bare": round(median(times) / bare, 2),
        }
        ready = [s["to_ready_s"] for s in taken if s["to_ready_s"] is not None]
        if ready:
            out[name]["to_ready_s"] = summary(ready)
            out[name]["ready_ratio_to_bare"] = round(median(ready) / bare, 2)
        if "frozen" in name and bare_frozen_s:
            out[name]["ratio_to_bare_frozen"] = round(median(times) / bare_frozen_s, 2)
            if ready:
                out[name]["ready_ratio_to_bare_frozen"] = round(median(ready) / bare_frozen_s, 2)
    return out


def breakdown(env: dict[str, str], runs: int) -> dict[str, Any]:
    """Median time of each start-up phase of the app from source (bench/startup_probe.py)."""
    marks: dict[str, list[float]] = {}
    for _ in range(runs):
        run_env = dict(env, CPQ_SYNC_HOME=tempfile.mkdtemp(prefix="cpq-sync-bench-start-"))
        done = subprocess.run(
            [PYTHON, str(REPO / "bench" / "startup_probe.py")],
            env=run_env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=True,
        )
        for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
            marks.setdefault(name, []).append(value)
    at = {name: median(values) for name, values in marks.items()}
    phases, previous = {}, 0.0
    for name, value in at.items():
        phases[name] = round(value - previous, 3)
        previous = value
    return {"at_s": {k: round(v, 3) for k, v in at.items()}, "phase_s": phases}


def main() -> int:
    from tests.helpers.xvfb import xvfb

    parser = argparse.ArgumentParser(
        description="Start-up time to the first paint vs a bare window."
    )
    parser.add_argument("--quick", action="store_true", help="3 runs; no onefile build")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--no-xvfb", action="store_true", help="offscreen only")
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the frozen app and bare window first"
    )
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    load_before = load_average()
    if (
        args.rebuild
        or not bench_size.onedir_gui().exists()
        or (not args.quick and not bench_size.onefile_gui().exists())
    ):
        print("building the frozen app first (bench_size) ...", flush=True)
        bench_size.ensure_builds(reuse=not args.rebuild)
    if args.rebuild or not bare_frozen().exists():
        print("freezing the bare window (onedir) ...", flush=True)
        build_bare_frozen()
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QT_", "DISPLAY", "WAYLAND"))
    }
    base_env["CPQ_SYNC_REPORT_STARTUP"] = "1"
    platforms: dict[str, Any] = {}
    print(f"offscreen: {runs} runs per variant ...", flush=True)
    platforms["offscreen"] = measure(
        dict(base_env, QT_QPA_PLATFORM="offscreen"), runs, not args.quick
    )
    if not args.no_xvfb:
        print(f"Xvfb: {runs} runs per variant ...", flush=True)
        with xvfb() as env:
            xenv = dict(base_env, DISPLAY=env["DISPLAY"], QT_QPA_PLATFORM="xcb")
            platforms["xvfb"] = measure(xenv, runs, not args.quick)
    print("where the source start-up goes (bench/startup_probe.py) ...", flush=True)
    phases = breakdown(dict(base_env, QT_QPA_PLATFORM="offscreen"), runs)
    headline: dict[str, Any] = {}
    for platform_name, figures in platforms.items():
        for name, value in figures.items():
            if name in ("load_averages", "bare_window", "bare_window_frozen"):
                continue
            entry = {
                "s": value["to_first_paint_s"]["median"],
                "bare_s": figures["bare_window"]["to_first_paint_s"]["median"],
                "ratio": value["ratio_to_bare"],
                "met": value["ratio_to_bare"] <= TARGET_RATIO,
            }
            if "to_ready_s" in value:
                entry["ready_s"] = value["to_ready_s"]["median"]
                entry["ready_ratio"] = value["ready_ratio_to_bare"]
            if "ratio_to_bare_frozen" in value:
                entry["bare_frozen_s"] = figures["bare_window_frozen"]["to_first_paint_s"]["median"]
                entry["ratio_to_bare_frozen"] = value["ratio_to_bare_frozen"]
                entry["ready_ratio_to_bare_frozen"] = value.get("ready_ratio_to_bare_frozen")
            headline[f"{name}/{platform_name}"] = entry
    result = {
        "settings": {
            "runs": runs,
            "quick": args.quick,
            "target_ratio": TARGET_RATIO,
            "app_args": "--smoke (no keyring prompt), fresh CPQ_SYNC_HOME per start",
            "ready": "window-ready: profiles read, password store chosen (after the paint)",
        },
        "headline": headline,
        "source_phases_offscreen": phases,
        "platforms": platforms,
    }
    path = write_result("startup", result, load_before=load_before)
    for key, h in headline.items():
        extra = (
            f"  ready {h['ready_s'] * 1000:4.0f} ms x{h['ready_ratio']:.2f}"
            if "ready_s" in h
            else ""
        )
        if "ratio_to_bare_frozen" in h:
            extra += f"  (vs frozen bare {h['bare_frozen_s'] * 1000:.0f} ms: x{h['ratio_to_bare_frozen']:.2f})"
        print(
            f"{key:32} {h['s'] * 1000:6.0f} ms  bare {h['bare_s'] * 1000:4.0f} ms  "
            f"x{h['ratio']:.2f}  {'MET' if h['met'] else 'MISSED'}{extra}"
        )
    print(
        "source start-up phases (s): " + ", ".join(f"{k} {v}" for k, v in phases["phase_s"].items())
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
