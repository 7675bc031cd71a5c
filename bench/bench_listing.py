"""Listing 50,000 accounts in the real window: time to fully loaded, event-loop stalls, peak RSS.

The main window (with its Accounts browser, the log pane and the other panels) lists every
account of a sandbox served over HTTPS by a separate process, 2,000 records per page, with
100 ms latency on every request. Recorded:

* time from pressing Search until every row is in the table, against the floor
  (pages x latency; the COUNT() query before the first page is one more round trip);
* time until the Zuora status column is filled (batched ZOQL, 200 ids a query, running
  alongside the listing);
* the longest gap between beats of a 10 ms heartbeat QTimer on the GUI thread (target
  <= 50 ms) and the 99th percentile;
* peak RSS of this process, which is the whole app (target <= 250 MB).

    .venv/bin/python bench/bench_listing.py                 # writes bench/results/listing.json
    .venv/bin/python bench/bench_listing.py --accounts 5000 --no-zuora

The sandbox runs in bench/sandbox_server.py (bench.common.ServedSandbox), the same Sandbox as
``cpq-sync sandbox serve``, with TCP_NODELAY so the latency is what was asked for. Timings
live here, never in the test suite.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["CPQ_SYNC_HOME"] = tempfile.mkdtemp(prefix="cpq-sync-bench-")


from bench.common import (  # noqa: E402
    ServedSandbox,
    app_clients,
    check,
    fmt_seconds,
    load_average,
    run_window_until,
    write_result,
)

STALL_TARGET_MS = 50.0
RSS_TARGET_MB = 250.0
HEARTBEAT_MS = 10


def rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def run(args: argparse.Namespace) -> dict:
    from keyring.backends import fail
    from PySide6.QtCore import QElapsedTimer, Qt, QTimer

    from cpq_sync_gui.connections import SessionSecrets
    from cpq_sync_gui.secrets import SecretStore
    from cpq_sync_gui.settings import ProfileStore
    from cpq_sync_gui.ui.application import make_application
    from cpq_sync_gui.ui.heap import freeze_startup_objects
    from cpq_sync_gui.ui.main_window import MainWindow
    from cpq_sync_gui.ui.record_links import RecordSource
    from cpq_sync_gui.ui.record_rows import ZuoraState
    from cpq_sync_gui.ui.theme import apply_theme

    began = time.perf_counter()
    sandbox = ServedSandbox.start(accounts=args.accounts, orders=0, latency_ms=args.latency_ms)
    print(f"sandbox with {args.accounts:,} accounts ready in {time.perf_counter() - began:.1f} s")
    clients = app_clients(sandbox)
    try:
        app = make_application([sys.argv[0]])
        apply_theme(app, "light")
        window = MainWindow(
            store=ProfileStore(),
            secrets=SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True)),
        )
        window.resize(1280, 800)
        window.show()
        freeze_startup_objects()  # as run_app does
        browser = window.records.accounts
        browser.batch_size = args.batch
        browser.set_source(
            RecordSource(clients.salesforce, clients.zuora if args.zuora else None), load=False
        )
        app.processEvents()
        rss_before = current_rss_mb()

        clock = QElapsedTimer()
        beats: list[int] = []
        heartbeat = QTimer()
        heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
        heartbeat.setInterval(HEARTBEAT_MS)
        heartbeat.timeout.connect(lambda: beats.append(clock.nsecsElapsed()))
        marks: dict[str, float] = {}

        def seconds() -> float:
            return clock.nsecsElapsed() / 1e9

        def watch() -> None:
            rows = browser.model.rowCount()
            if rows and "first_rows" not in marks:
                marks["first_rows"] = seconds()
            if "loaded" not in marks and rows >= args.accounts and not browser._load_job:
                marks["loaded"] = seconds()
            if args.zuora and "zuora" not in marks and "loaded" in marks:
                counts = browser.model.count_by_state()
                if not counts.get(ZuoraState.CHECKING) and not counts.get(ZuoraState.UNKNOWN):
                    marks["zuora"] = seconds()

        def finished() -> bool:
            watch()
            return "loaded" in marks and (not args.zuora or "zuora" in marks)

        clock.start()
        heartbeat.start()
        browser.search()
        run_window_until(finished, args.timeout)
        heartbeat.stop()
        check("loaded" in marks, f"not loaded within {args.timeout} s")
        check(browser.model.rowCount() == args.accounts, "row count differs from the org")
        check(len({row.id for row in browser.model.rows()}) == args.accounts, "duplicate rows")
        if args.zuora:
            check("zuora" in marks, "Zuora status not filled in time")
            zuora_queries = sum(
                1 for r in sandbox.requests() if r.get("path", "").startswith("/v1/action/query")
            )
        else:
            zuora_queries = 0
        gaps_ms = [(b - a) / 1e6 for a, b in itertools.pairwise(beats)]
        # When the long gaps happened (seconds since the search), to tell them apart.
        long_gaps = [
            (round(a / 1e9, 2), round((b - a) / 1e6, 1))
            for a, b in itertools.pairwise(beats)
            if (b - a) / 1e6 > 30
        ]
        browser.shutdown()
        window.records.shutdown()
        window.close()
        app.processEvents()
    finally:
        clients.close()
        sandbox.stop()

    pages = math.ceil(args.accounts / args.batch)
    floor_s = pages * args.latency_ms / 1000
    loaded_s = marks["loaded"]
    stall = max(gaps_ms) if gaps_ms else 0.0
    return {
        "parameters": {
            "accounts": args.accounts,
            "batch_size": args.batch,
            "latency_ms": args.latency_ms,
            "zuora_status": args.zuora,
            "heartbeat_ms": HEARTBEAT_MS,
        },
        "pages": pages,
        "floor_s": round(floor_s, 3),
        "first_rows_s": round(marks.get("first_rows", 0.0), 3),
        "fully_loaded_s": round(loaded_s, 3),
        "loaded_vs_floor": round(loaded_s / floor_s, 2) if floor_s else None,
        "zuora_status_filled_s": round(marks["zuora"], 3) if "zuora" in marks else None,
        "zuora_queries": zuora_queries,
        "longest_stall_ms": round(stall, 1),
        "stall_p99_ms": round(statistics.quantiles(gaps_ms, n=100)[98], 1)
        if len(gaps_ms) > 100
        else None,
        "heartbeats": len(gaps_ms),
        "gaps_over_30_ms": [{"at_s": at, "ms": ms} for at, ms in long_gaps],
        "stall_target_ms": STALL_TARGET_MS,
        "stall_ok": stall <= STALL_TARGET_MS,
        "rss_before_load_mb": round(rss_before, 1) if rss_before else None,
        "peak_rss_mb": round(rss_mb(), 1),
        "rss_target_mb": RSS_TARGET_MB,
        "rss_ok": rss_mb() <= RSS_TARGET_MB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--no-zuora", dest="zuora", action="store_false")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load_before = load_average()
    result = run(args)
    rows = [
        ("accounts / page size / latency", f"{args.accounts:,} / {args.batch:,} / {args.latency_ms:g} ms"),
        ("floor (pages x latency)", f"{result['pages']} x {args.latency_ms:g} ms = {fmt_seconds(result['floor_s'])}"),
        ("first rows shown", fmt_seconds(result["first_rows_s"])),
        ("fully loaded", f"{fmt_seconds(result['fully_loaded_s'])} ({result['loaded_vs_floor']}x floor)"),
        ("Zuora status filled", fmt_seconds(result["zuora_status_filled_s"]) + f" ({result['zuora_queries']} ZOQL queries)"),
        ("longest event-loop stall", f"{result['longest_stall_ms']} ms (p99 {result['stall_p99_ms']} ms; target <= {STALL_TARGET_MS:g})"),
        ("peak RSS (whole app)", f"{result['peak_rss_mb']} MB (before loading {result['rss_before_load_mb']} MB; target <= {RSS_TARGET_MB:g})"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if not args.no_write:
        path = write_result("listing", result, load_before=load_before)
        print(f"wrote {path.relative_to(REPO)}")
    return 0 if result["stall_ok"] and result["rss_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
