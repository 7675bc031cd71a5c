"""Connector trigger throughput with verification: 1,000 Accounts sent through Zuora's CPQ
connector endpoint (the "Send to Zuora" button URL), each then verified in Zuora.

Same conditions as bench_sync.py: 100 ms latency per request, Zuora concurrency limit 10
(latency spent inside the slot), the app's clients, planner, runner and ConnectorEngine with
the settings the window and the CLI use, an on-disk journal, a sandbox in its own process whose
connector syncs each record ``connector_delay_s`` (0.3 s) after it answered the trigger.

Floor: (fewest requests) x latency / concurrency + the connector's processing delay, where the
fewest requests are one trigger per sendable account plus batched reads (Salesforce, the plan's
Zuora look-up, and verification at <= 200 crmIds per ZOQL query). The naive baseline reads
each record, triggers it and looks in Zuora once a second until it appears, one at a time.

Correctness is asserted as in bench_sync.py: every sendable account ends Synced (found in
Zuora), every blocked one Failed unsent, none failed by a 429, no duplicate in Zuora.

    .venv/bin/python bench/bench_connector.py            # 1,000 accounts, 3 repeats
    .venv/bin/python bench/bench_connector.py --quick    # 50 accounts, 1 repeat
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("CPQ_SYNC_HOME", tempfile.mkdtemp(prefix="cpq-sync-bench-home-"))

from bench.bench_sync import (  # noqa: E402
    IDS_PER_LOOKUP,
    LATENCY_MS,
    TARGET_FLOOR_RATIO,
    TARGET_NAIVE_SPEEDUP,
    ZUORA_LIMIT,
    Counter,
    verify_outcomes,
)
from bench.common import (  # noqa: E402
    ServedSandbox,
    app_clients,
    check,
    load_average,
    median,
    request_counts,
    summary,
    write_result,
)
from bench.naive_baseline import run_naive  # noqa: E402

logging.getLogger().addHandler(logging.NullHandler())

CONNECTOR_DELAY_S = 0.3  # SandboxConfig's default: the connector syncs this long after a trigger


def connector_floor(ids: int, triggers: int) -> dict[str, Any]:
    batches = math.ceil(ids / IDS_PER_LOOKUP)
    fewest = {
        "salesforce_reads (ceil(ids/200) SOQL IN-list queries)": batches,
        "zuora_plan_lookups (ceil(ids/200) ZOQL crmId queries)": batches,
        "connector_triggers (one GET of the button URL per sendable account)": triggers,
        "zuora_verification (ceil(triggers/200) ZOQL crmId queries, once synced)": math.ceil(
            triggers / IDS_PER_LOOKUP
        ),
    }
    total = sum(fewest.values())
    seconds = total * LATENCY_MS / 1000.0 / ZUORA_LIMIT + CONNECTOR_DELAY_S
    return {
        "fewest_requests": fewest,
        "fewest_total": total,
        "connector_delay_s": CONNECTOR_DELAY_S,
        "seconds": round(seconds, 3),
        "formula": f"fewest_total x {LATENCY_MS:g} ms / {ZUORA_LIMIT} + {CONNECTOR_DELAY_S} s",
    }


def _zoql_queries(entries: list[dict[str, Any]]) -> int:
    return sum(1 for e in entries if e["service"] == "zuora" and e["path"] == "/v1/action/query")


def run_once(records: int, concurrency: int, **engine_options: Any) -> dict[str, Any]:
    from cpq_sync_gui.sync import ConnectorEngine, PlanOptions, RunJournal, SyncRunner, build_plan

    with ServedSandbox.start(
        accounts=records,
        orders=0,
        latency_ms=LATENCY_MS,
        zuora_concurrency_limit=ZUORA_LIMIT,
        connector_delay_s=CONNECTOR_DELAY_S,
    ) as sandbox:
        clients = app_clients(sandbox)
        journal = RunJournal(Path(tempfile.mkdtemp(prefix="cpq-sync-bench-j-")) / "journal.sqlite3")
        try:
            ids = sandbox.ids("Account")
            sandbox.clear_log()
            client_cpu, server_cpu = time.process_time(), sandbox.cpu_seconds()
            began = time.perf_counter()
            plan = build_plan("accounts", ids, clients.salesforce, clients.zuora, PlanOptions())
            planned = time.perf_counter()
            plan_queries = _zoql_queries(sandbox.requests())
            # As the window and the CLI build it (cli_sync.make_engine): default poll settings,
            # unless an experiment (--poll-interval) asks otherwise.
            engine = ConnectorEngine(clients.connector, clients.zuora, **engine_options)
            runner = SyncRunner(
                engine, journal, profile="bench", subscriber=Counter(), concurrency=concurrency
            )
            result = runner.execute(plan)
            ended = time.perf_counter()
            entries = sandbox.requests()
            requests = request_counts(entries)
            verification_queries = _zoql_queries(entries) - plan_queries
            counts = verify_outcomes(plan, result, sandbox)
            log = sandbox.connector_log()
            succeeded = sum(1 for e in log if e["outcome"] == "Success")
            check(
                succeeded == counts["synced"],
                f"the connector created {succeeded} accounts but {counts['synced']} were synced",
            )
            check(not sandbox.problems(), f"the sandbox saw problems: {sandbox.problems()[:3]}")
            wall = ended - began
            floor = connector_floor(len(ids), counts["sendable"])
            return {
                "ids": len(ids),
                "outcome": counts,
                "wall_s": round(wall, 3),
                "plan_s": round(planned - began, 3),
                "run_s": round(ended - planned, 3),
                "requests": requests,
                "requests_per_record": round(requests["total"] / len(ids), 3),
                "verification_queries": verification_queries,
                "floor": floor,
                "floor_ratio": round(floor["seconds"] / wall, 3),
                "engine_settings": {
                    "poll_interval_s": engine.poll_interval_s,
                    "max_poll_interval_s": engine.max_poll_interval_s,
                    "verify_timeout_s": engine.verify_timeout_s,
                },
                "client_cpu_s": round(time.process_time() - client_cpu, 2),
                "sandbox_cpu_s": round(sandbox.cpu_seconds() - server_cpu, 2),
            }
        finally:
            journal.close()
            clients.close()


def naive(records: int) -> dict[str, Any]:
    with ServedSandbox.start(
        accounts=records,
        orders=0,
        latency_ms=LATENCY_MS,
        zuora_concurrency_limit=ZUORA_LIMIT,
        connector_delay_s=CONNECTOR_DELAY_S,
    ) as sandbox:
        return run_naive(sandbox, "accounts", sandbox.ids("Account"), connector=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Connector trigger throughput with verification.")
    parser.add_argument("--quick", action="store_true", help="1/20 scale: 50 accounts")
    parser.add_argument("--records", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--naive-records", type=int)
    parser.add_argument("--concurrency", type=int, default=ZUORA_LIMIT)
    parser.add_argument(
        "--poll-interval",
        type=float,
        help="experiment: the runner's verification poll interval (ConnectorEngine's default is "
        "0.5 s); results go to connector-poll-<s>.json",
    )
    args = parser.parse_args()
    engine_options = {"poll_interval_s": args.poll_interval} if args.poll_interval else {}
    records = args.records or (50 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    naive_records = args.naive_records or (5 if args.quick else 30)
    load_before = load_average()

    print(f"naive connector script on {naive_records} accounts ...", flush=True)
    baseline = naive(naive_records)
    per_record = baseline["seconds_per_record"]
    print(f"  naive: {per_record:.3f} s per account")
    runs = []
    for index in range(repeats):
        load = load_average()
        figures = run_once(records, args.concurrency, **engine_options)
        print(
            f"  run {index + 1}/{repeats} (load {load[0] if load else '?'}): {figures['wall_s']:.1f} s "
            f"(plan {figures['plan_s']:.1f}), floor ratio {figures['floor_ratio']:.2f}, "
            f"429s {figures['requests']['http_429']}, "
            f"verification queries {figures['verification_queries']}",
            flush=True,
        )
        runs.append({"load_average": load, **figures})
    walls = [r["wall_s"] for r in runs]
    wall = median(walls)
    floor_s = runs[0]["floor"]["seconds"]
    naive_s = per_record * records
    headline = {
        "wall_s": round(wall, 3),
        "requests_per_record": median([r["requests_per_record"] for r in runs]),
        "verification_queries": median([r["verification_queries"] for r in runs]),
        "floor_s": floor_s,
        "floor_ratio": round(floor_s / wall, 3),
        "naive_extrapolated_s": round(naive_s, 1),
        "naive_speedup": round(naive_s / wall, 1),
        "failed_by_429": max(r["outcome"]["failed_by_429"] for r in runs),
        "http_429": max(r["requests"]["http_429"] for r in runs),
    }
    headline["met"] = (
        headline["floor_ratio"] >= TARGET_FLOOR_RATIO
        and headline["naive_speedup"] >= TARGET_NAIVE_SPEEDUP
        and headline["failed_by_429"] == 0
    )
    result = {
        "settings": {
            "records": records,
            "latency_ms": LATENCY_MS,
            "zuora_concurrency_limit": ZUORA_LIMIT,
            "connector_delay_s": CONNECTOR_DELAY_S,
            "concurrency": args.concurrency,
            "repeats": repeats,
            "quick": args.quick,
        },
        "targets": {"floor_ratio": TARGET_FLOOR_RATIO, "naive_speedup": TARGET_NAIVE_SPEEDUP},
        "naive_baseline": {
            **baseline,
            "note": f"run on {naive_records} accounts and extrapolated per record to {records}",
        },
        "headline": headline,
        "wall_s": summary(walls),
        "runs": runs,
    }
    name = f"connector-poll-{args.poll_interval:g}" if args.poll_interval else "connector"
    path = write_result(name, result, load_before=load_before)
    print(
        f"connector wall {wall:.2f} s  floor {floor_s:.2f} s  ratio {headline['floor_ratio']:.3f}  "
        f"x naive {headline['naive_speedup']:.1f}  {'MET' if headline['met'] else 'MISSED'}"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
