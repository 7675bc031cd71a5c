"""Run every benchmark, print one table, write bench/results/*.json and summary.json.

    .venv/bin/python bench/run.py                    # everything, full scale (~20 min on 2 cores)
    .venv/bin/python bench/run.py --quick            # ~1/10 scale, about 2 minutes
    .venv/bin/python bench/run.py --only sync        # one (or more: --only sync --only size)

--quick writes to bench/results/quick/ (the full-scale figures in bench/results/ stay).
Each benchmark runs in its own process (clean RSS and start-up, no state shared), in this
order: sync, connector, listing, ui_stall, size, startup (startup times size's builds).
bench_listing.py and bench_ui_stall.py are run when present. A benchmark that fails its own
correctness checks, crashes or times out is reported as such; the others still run.
Timings live here and in docs/performance.md, never in the pass/fail tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.common import PYTHON, load_average, machine_info  # noqa: E402

Row = tuple[str, str, str, str]  # figure, value, target, verdict
# Harmless Qt chatter under QT_QPA_PLATFORM=offscreen: kept in the logs, not echoed.
QUIET_LINES = {"This plugin does not support propagateSizeHints()"}


@dataclass
class Bench:
    name: str  # --only NAME, and bench/results/NAME.json
    script: str
    rows: Callable[[dict[str, Any]], list[Row]]
    timeout_s: float
    quick_args: list[str] = field(default_factory=lambda: ["--quick"])


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"


def sync_rows(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    settings = data.get("settings", {})
    for kind, h in data.get("headline", {}).items():
        label = f"{kind} ({settings.get('records', '?')} each)" if kind == "total" else kind
        rows.append((f"{label}: wall time", _s(h["wall_s"]), "", ""))
        if kind != "total":
            rows.append((f"{kind}: requests per record", f"{h['requests_per_record']:.2f}", "", ""))
        rows.append(
            (
                f"{kind}: floor / wall",
                f"{h['floor_ratio']:.3f} (floor {_s(h['floor_s'])})",
                ">= 0.7",
                _verdict(h["floor_ratio"] >= 0.7),
            )
        )
        rows.append(
            (
                f"{kind}: x naive baseline",
                f"{h['naive_speedup']:.1f}x",
                ">= 8x",
                _verdict(h["naive_speedup"] >= 8),
            )
        )
        rows.append(
            (
                f"{kind}: failed by 429",
                str(h["failed_by_429"]),
                "0",
                _verdict(h["failed_by_429"] == 0),
            )
        )
    over = data.get("scenarios", {}).get("over_limit_16", {}).get("total")
    if over:
        rows.append(("16 at a time (limit 10): floor / wall", f"{over['floor_ratio']:.3f}", "", ""))
    return rows


def connector_rows(data: dict[str, Any]) -> list[Row]:
    h = data.get("headline", {})
    if not h:
        return []
    n = data.get("settings", {}).get("records", "?")
    return [
        (f"{n} accounts: wall time", _s(h["wall_s"]), "", ""),
        ("requests per record", f"{h['requests_per_record']:.2f}", "", ""),
        (
            "floor / wall",
            f"{h['floor_ratio']:.3f} (floor {_s(h['floor_s'])})",
            ">= 0.7",
            _verdict(h["floor_ratio"] >= 0.7),
        ),
        (
            "x naive baseline",
            f"{h['naive_speedup']:.1f}x",
            ">= 8x",
            _verdict(h["naive_speedup"] >= 8),
        ),
        ("failed by 429", str(h["failed_by_429"]), "0", _verdict(h["failed_by_429"] == 0)),
    ]


def listing_rows(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    params = data.get("parameters", {})
    if "fully_loaded_s" in data:
        rows.append(
            (
                f"{params.get('accounts', '?'):,} accounts: fully loaded",
                f"{_s(data['fully_loaded_s'])} ({data.get('loaded_vs_floor')}x floor {_s(data.get('floor_s'))})",
                "",
                "",
            )
        )
    if "longest_stall_ms" in data:
        target = data.get("stall_target_ms", 50)
        rows.append(
            (
                "longest event-loop stall",
                f"{data['longest_stall_ms']} ms (p99 {data.get('stall_p99_ms')})",
                f"<= {target:g} ms",
                _verdict(data.get("stall_ok")),
            )
        )
    if "peak_rss_mb" in data:
        target = data.get("rss_target_mb")
        rows.append(
            (
                "peak RSS (whole app)",
                f"{data['peak_rss_mb']} MB",
                f"<= {target:g} MB" if target else "",
                _verdict(data.get("rss_ok")),
            )
        )
    return rows or _generic_rows(data)


def ui_stall_rows(data: dict[str, Any]) -> list[Row]:
    if "longest_gap_ms" not in data:
        return _generic_rows(data)
    target = data.get("target_ms", 50)
    return [
        (
            f"{data.get('records', '?')}-record run: longest heartbeat gap",
            f"{data['longest_gap_ms']} ms",
            f"<= {target:g} ms",
            _verdict(data.get("meets_target")),
        ),
        ("99th-percentile heartbeat gap", f"{data.get('worst_p99_gap_ms')} ms", "", ""),
    ]


def size_rows(data: dict[str, Any]) -> list[Row]:
    h = data.get("headline", {})
    if not h:
        return []
    return [
        (
            "onedir folder",
            f"{h['onedir_MB']} MB ({h['onedir_MiB']} MiB, {h['onedir_files']} files)",
            "<= 130 MB (packaging test budget)",
            _verdict(h["onedir_MB"] <= 130),
        ),
        ("onefile cpq-sync-gui", f"{h['onefile_gui_MB']} MB ({h['onefile_gui_MiB']} MiB)", "", ""),
    ]


def startup_rows(data: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for key, h in data.get("headline", {}).items():
        variant, platform_name = key.split("/")
        rows.append(
            (
                f"{variant.removeprefix('app_')} ({platform_name})",
                f"{_s(h['s'])} = {h['ratio']:.2f}x bare {_s(h['bare_s'])}"
                + (f"; ready {_s(h['ready_s'])}" if "ready_s" in h else ""),
                "<= 1.5x",
                _verdict(h["met"]),
            )
        )
    return rows


def _generic_rows(data: dict[str, Any]) -> list[Row]:
    numbers = [
        (k, v) for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return [(k, f"{v:g}", "", "") for k, v in numbers[:6]]


BENCHES = [
    Bench("sync", "bench_sync.py", sync_rows, 40 * 60),
    Bench("connector", "bench_connector.py", connector_rows, 40 * 60),
    Bench("listing", "bench_listing.py", listing_rows, 30 * 60, ["--accounts", "5000"]),
    Bench(
        "ui_stall", "bench_ui_stall.py", ui_stall_rows, 30 * 60, ["--records", "200", "--runs", "1"]
    ),
    Bench("size", "bench_size.py", size_rows, 30 * 60),
    Bench("startup", "bench_startup.py", startup_rows, 20 * 60),
]


def _supported(script: Path, flags: list[str]) -> list[str]:
    """The quick flags (with their values) that the script's --help mentions."""
    try:
        text = subprocess.run(
            [PYTHON, str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=REPO
        ).stdout
    except subprocess.SubprocessError:
        return []
    kept: list[str] = []
    for index, item in enumerate(flags):
        if item.startswith("--"):
            takes_value = index + 1 < len(flags) and not flags[index + 1].startswith("--")
            if item in text:
                kept += [item, flags[index + 1]] if takes_value else [item]
    return kept


def run_one(bench: Bench, quick: bool, results: Path) -> dict[str, Any]:
    script = REPO / "bench" / bench.script
    result_path = results / f"{bench.name}.json"
    log_dir = results / "logs"
    if not script.exists():
        return {"status": "not present", "seconds": 0.0, "rows": []}
    args = _supported(script, bench.quick_args) if quick else []
    if quick and _supported(script, ["--out", str(result_path)]):
        args += ["--out", str(result_path)]  # a script that writes its own file (ui_stall)
    command = [PYTHON, str(script), *args]
    print(f"\n== {bench.name}: {' '.join(command[1:])}", flush=True)
    began_wall = time.time()
    began = time.perf_counter()
    log_path = log_dir / f"{bench.name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ, CPQ_BENCH_RESULTS=str(results)),
        )
        assert process.stdout is not None
        tail: list[str] = []
        try:
            for line in process.stdout:
                log.write(line)
                tail = [*tail, line.rstrip()][-15:]
                if line.strip() not in QUIET_LINES:
                    print(f"   {line.rstrip()}", flush=True)
                if time.perf_counter() - began > bench.timeout_s:
                    process.kill()
                    break
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    seconds = time.perf_counter() - began
    fresh = result_path.exists() and result_path.stat().st_mtime >= began_wall - 1
    data: dict[str, Any] = json.loads(result_path.read_text()) if fresh else {}
    if seconds > bench.timeout_s:
        status = f"timed out after {bench.timeout_s:.0f} s"
    elif fresh and code == 0:
        status = "ok"
    elif fresh:
        status = f"ran (exit {code}: a target missed)"
    else:
        status = f"FAILED (exit {code}; see {log_path.relative_to(REPO)})"
    try:
        rows = bench.rows(data) if data else []
    except (KeyError, TypeError, ValueError) as exc:
        rows = [("(could not read the results)", repr(exc)[:60], "", "")]
    return {
        "status": status,
        "exit_code": code,
        "seconds": round(seconds, 1),
        "command": " ".join(command[1:]),
        "result_file": str(result_path.relative_to(REPO)) if fresh else None,
        "rows": rows,
        "log_tail": tail if not fresh else [],
    }


def print_table(outcomes: dict[str, dict[str, Any]]) -> None:
    lines: list[tuple[str, str, str, str, str]] = []
    for name, outcome in outcomes.items():
        if not outcome["rows"]:
            lines.append((name, f"({outcome['status']})", "", "", ""))
        for index, (figure, value, target, verdict) in enumerate(outcome["rows"]):
            lines.append((name if index == 0 else "", figure, value, target, verdict))
    headers = ("benchmark", "figure", "value", "target", "")
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks (bench/*.py) and summarise.")
    parser.add_argument("--quick", action="store_true", help="~1/10 scale, about 2 minutes")
    parser.add_argument(
        "--only",
        action="append",
        choices=[b.name for b in BENCHES],
        help="run only this benchmark (repeatable)",
    )
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    results = REPO / "bench" / "results" / ("quick" if args.quick else "")
    (results / "logs").mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    load_before = load_average()
    print(
        f"{machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}, "
        f"PySide6 {machine.get('pyside6')} (Qt {machine.get('qt')}), load {load_before}",
        flush=True,
    )
    began = time.perf_counter()
    outcomes = {b.name: run_one(b, args.quick, results) for b in chosen}
    total = time.perf_counter() - began
    print_table(outcomes)
    if args.quick:
        print(
            "\n--quick runs at about 1/10 scale: fixed costs (log-ins, the catalog, sequential "
            "plan reads) weigh ten times more, so the throughput ratios are smoke figures; the "
            "targets are judged on the full run (docs/performance.md)."
        )
    print(f"\n{len(chosen)} benchmarks in {total:.0f} s; load average now {load_average()}")
    summary = {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "bench/run.py"
        + (" --quick" if args.quick else "")
        + "".join(f" --only {n}" for n in args.only or []),
        "machine": machine,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "seconds": round(total, 1),
        "benchmarks": {
            name: {
                **o,
                "rows": [
                    dict(zip(("figure", "value", "target", "verdict"), r, strict=True))
                    for r in o["rows"]
                ],
            }
            for name, o in outcomes.items()
        },
    }
    path = results / "summary.json"
    if args.only and path.exists():  # keep the other benchmarks' last entries
        previous = json.loads(path.read_text())
        summary["benchmarks"] = {**previous.get("benchmarks", {}), **summary["benchmarks"]}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {path.relative_to(REPO)}")
    failed = [n for n, o in outcomes.items() if o["status"].startswith(("FAILED", "timed out"))]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
