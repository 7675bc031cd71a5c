"""Start-up: process start to the main window's first paint, from source and from the frozen
builds, as a ratio to a bare PySide6 window (bench/bare_window.py) measured in the same run,
offscreen and on a real X server (Xvfb). Target: <= 1.5x.

The app reports its first paint itself when CPQ_SYNC_REPORT_STARTUP=1 (a small hook in
cpq_sync_gui/ui/application.py): it prints ``window-shown <s since process start>
monotonic=<t>``. The time used here is the monotonic clock (shared by all processes on Linux)
at that line minus the parent's clock just before it started the process, so a onefile build's
unpacking counts too. Each variant runs once to warm the file cache (not counted), then the
variants take turns, ``--runs`` times each, so they share the same load; medians reported.

The frozen builds are bench_size.py's (build/bench-dist/, built from the current tree with the
hook); without them this benchmark builds onedir first (and onefile unless --quick).

    .venv/bin/python bench/bench_startup.py            # 7 runs per variant and platform
    .venv/bin/python bench/bench_startup.py --quick    # 3 runs, builds only what is missing
"""

from __future__ import annotations

import argparse
import json
import os
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


def variants(with_onefile: bool) -> dict[str, list[str]]:
    found = {
        "bare_window": [PYTHON, str(REPO / "bench" / "bare_window.py")],
        "app_source": [PYTHON, "-m", "cpq_sync_gui.app", "--smoke"],
    }
    if bench_size.onedir_gui().exists():
        found["app_frozen_onedir"] = [str(bench_size.onedir_gui()), "--smoke"]
    if with_onefile and bench_size.onefile_gui().exists():
        found["app_frozen_onefile"] = [str(bench_size.onefile_gui()), "--smoke"]
    return found


def launch(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Start ``command``, read its window-shown line, stop it; seconds to first paint."""
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
    line = ""
    deadline = began + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line or line.startswith("window-shown"):
                break
        if not line.startswith("window-shown"):
            raise RuntimeError(f"{command[0]} printed no window-shown line (got {line!r})")
        shown = float(line.split("monotonic=")[1]) - began
        since_start = line.split()[1]
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
        "reported_since_process_start_s": float(since_start) if since_start != "unknown" else None,
    }


def measure(env: dict[str, str], runs: int, with_onefile: bool) -> dict[str, Any]:
    chosen = variants(with_onefile)
    for command in chosen.values():  # warm-up: file cache, .pyc, fontconfig cache
        launch(command, env)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in chosen}
    loads = []
    for _ in range(runs):
        loads.append(load_average())
        for name, command in chosen.items():
            samples[name].append(launch(command, env))
    bare = median([s["to_first_paint_s"] for s in samples["bare_window"]])
    out: dict[str, Any] = {"load_averages": loads}
    for name, taken in samples.items():
        times = [s["to_first_paint_s"] for s in taken]
        out[name] = {
            "to_first_paint_s": summary(times),
            "reported_since_process_start_s": summary(
                [s["reported_since_process_start_s"] or 0.0 for s in taken]
            ),
            "ratio_to_bare": round(median(times) / bare, 2),
        }
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
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    load_before = load_average()
    if not bench_size.onedir_gui().exists() or (
        not args.quick and not bench_size.onefile_gui().exists()
    ):
        print("building the frozen app first (bench_size) ...", flush=True)
        bench_size.ensure_builds(reuse=True)
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
            if name in ("load_averages", "bare_window"):
                continue
            headline[f"{name}/{platform_name}"] = {
                "s": value["to_first_paint_s"]["median"],
                "bare_s": figures["bare_window"]["to_first_paint_s"]["median"],
                "ratio": value["ratio_to_bare"],
                "met": value["ratio_to_bare"] <= TARGET_RATIO,
            }
    result = {
        "settings": {
            "runs": runs,
            "quick": args.quick,
            "target_ratio": TARGET_RATIO,
            "app_args": "--smoke (no keyring prompt), fresh CPQ_SYNC_HOME per start",
        },
        "headline": headline,
        "source_phases_offscreen": phases,
        "platforms": platforms,
    }
    path = write_result("startup", result, load_before=load_before)
    for key, h in headline.items():
        print(
            f"{key:32} {h['s'] * 1000:6.0f} ms  bare {h['bare_s'] * 1000:4.0f} ms  "
            f"x{h['ratio']:.2f}  {'MET' if h['met'] else 'MISSED'}"
        )
    print(
        "source start-up phases (s): " + ", ".join(f"{k} {v}" for k, v in phases["phase_s"].items())
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
