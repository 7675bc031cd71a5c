"""Direct sync throughput: 1,000 Accounts, then 1,000 Orders, against a sandbox with 100 ms of
latency per request and a Zuora concurrency limit of 10.

Measured as an admin experiences it: wall time from "sync these ids" to every record final,
i.e. the plan (Salesforce reads, Zuora look-ups, catalog) plus the run, with the app's own
clients (cpq_sync_gui.connections), planner, runner, DirectEngine and an on-disk journal. The
sandbox runs in its own process (bench/sandbox_server.py) and spends Zuora's latency inside
the concurrency slot, so more than 10 requests at once get 429s, as in production.

Reported per phase: wall time, requests per record (from the sandbox's request log), the
ratio to the floor (fewest requests the work needs x latency / concurrency limit; derivation
in docs/performance.md and in the result's ``floor`` entry) and to the naive baseline
(bench/naive_baseline.py on a subset, extrapolated per record). Targets: >= 0.7 of the floor,
>= 8x the naive baseline, zero records failed by 429s.

Correctness is asserted: every record the plan can send ends Synced, every record the plan
blocks (data problems in the generated org) ends Failed without a request, no record fails
because of a 429, and Zuora holds no duplicate crmId or order number.

    .venv/bin/python bench/bench_sync.py            # 1,000 + 1,000, 3 repeats (~5 min)
    .venv/bin/python bench/bench_sync.py --quick    # 100 + 100, 1 repeat (~40 s)
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

# The runner's WARNING lines (429s, retries) go to the result's counts, not to the terminal.
logging.getLogger().addHandler(logging.NullHandler())

LATENCY_MS = 100.0
ZUORA_LIMIT = 10
IDS_PER_LOOKUP = 200  # ZOQL conditions / SOQL IN-list ids per query
TARGET_FLOOR_RATIO = 0.7
TARGET_NAIVE_SPEEDUP = 8.0


class Counter:
    """The run's subscriber: counts events, as cheap as a subscriber can be."""

    def __init__(self) -> None:
        self.events = 0

    def on_event(self, _event: Any) -> None:
        self.events += 1


def _batches(count: int) -> int:
    return math.ceil(count / IDS_PER_LOOKUP) if count else 0


def account_floor(ids: int, creates: int) -> dict[str, Any]:
    fewest = {
        "salesforce_reads (ceil(ids/200) SOQL IN-list queries)": _batches(ids),
        "zuora_lookups (ceil(ids/200) ZOQL crmId queries)": _batches(ids),
        "zuora_creates (one POST /v1/accounts per sendable account)": creates,
    }
    return _floor(fewest)


def order_floor(
    ids: int, accounts: int, products: int, creates: int, *, batched_order_lookup: bool
) -> dict[str, Any]:
    fewest = {
        "salesforce_reads (orders with items, then their accounts: ceil(n/200) each)": (
            _batches(ids) + _batches(accounts)
        ),
        "zuora_account_lookups (ceil(accounts/200) ZOQL crmId queries)": _batches(accounts),
        "zuora_catalog (one GET per Product2 id by external id, 3 ZOQL for SKUs/plans/charges)": (
            products + 3
        ),
        "zuora_creates (one POST /v1/orders per sendable order, plus its account if new)": creates,
    }
    if batched_order_lookup:
        fewest["zuora_order_lookups (if batched: ceil(ids/200))"] = _batches(ids)
    else:
        fewest["zuora_order_lookups (one GET /v1/orders/{number} each: no batched form)"] = ids
    return _floor(fewest)


def _floor(fewest: dict[str, int]) -> dict[str, Any]:
    total = sum(fewest.values())
    return {
        "fewest_requests": fewest,
        "fewest_total": total,
        "seconds": round(total * LATENCY_MS / 1000.0 / ZUORA_LIMIT, 3),
        "formula": f"fewest_total x {LATENCY_MS:g} ms / {ZUORA_LIMIT}",
    }


def verify_outcomes(plan: Any, result: Any, sandbox: ServedSandbox) -> dict[str, Any]:
    """Every sendable record synced, every blocked one failed unsent, no duplicate in Zuora.

    A record that failed because Zuora kept answering 429 is not a correctness failure (Zuora
    did nothing, the record can be retried) but it misses the "zero records failed by 429s"
    target: it is counted in ``failed_by_429``, with examples, instead of stopping the run.
    """
    from cpq_sync_gui.sync import RecordState

    states = {r.record_id: r for r in result.records}
    check(result.all_final, "some records are not final")
    wrong: list[str] = []
    by_429: list[str] = []
    counts: dict[str, Any] = {"sendable": 0, "blocked": 0, "skipped": 0, "synced": 0}
    for record in plan.records:
        got = states[record.record_id]
        detail = got.detail or ""
        if got.state is not RecordState.SYNCED and ("429" in detail or "slow down" in detail):
            by_429.append(f"{record.label}: {detail}"[:300])
            counts["sendable"] += 1
            continue
        if record.blocked:
            counts["blocked"] += 1
            ok = got.state is RecordState.FAILED and detail.startswith("Not sent")
        elif record.action == "skip":
            counts["skipped"] += 1
            ok = got.state is RecordState.SKIPPED
        else:
            counts["sendable"] += 1
            ok = got.state is RecordState.SYNCED
        counts["synced"] += got.state is RecordState.SYNCED
        if not ok:
            wrong.append(
                f"{record.label}: planned {record.action}, ended {got.state.value}: {detail}"
            )
    check(not wrong, f"{len(wrong)} records ended wrongly, e.g. {wrong[:3]}")
    duplicates = sandbox.duplicates()
    check(
        duplicates == {"accounts_by_crm_id": {}, "orders_by_number": {}},
        f"Zuora holds duplicates: {duplicates}",
    )
    counts["failed_by_429"] = len(by_429)
    counts["failed_by_429_examples"] = by_429[:3]
    return counts


def run_once(records: int, concurrency: int) -> dict[str, Any]:
    """One fresh sandbox: accounts, then orders. Returns the figures of both phases."""
    from cpq_sync_gui.sync import DirectEngine, PlanOptions, RunJournal, SyncRunner, build_plan

    phases: dict[str, Any] = {}
    with ServedSandbox.start(
        accounts=records,
        orders=records,
        latency_ms=LATENCY_MS,
        zuora_concurrency_limit=ZUORA_LIMIT,
    ) as sandbox:
        clients = app_clients(sandbox)
        journal = RunJournal(Path(tempfile.mkdtemp(prefix="cpq-sync-bench-j-")) / "journal.sqlite3")
        try:
            for kind, sobject in (("accounts", "Account"), ("orders", "Order")):
                ids = sandbox.ids(sobject)
                before = sandbox.zuora_counts()
                sandbox.clear_log()
                client_cpu, server_cpu = time.process_time(), sandbox.cpu_seconds()
                began = time.perf_counter()
                plan = build_plan(kind, ids, clients.salesforce, clients.zuora, PlanOptions())
                planned = time.perf_counter()
                runner = SyncRunner(
                    DirectEngine(clients.zuora),
                    journal,
                    profile="bench",
                    subscriber=Counter(),
                    concurrency=concurrency,
                )
                result = runner.execute(plan)
                ended = time.perf_counter()
                client_cpu = time.process_time() - client_cpu
                server_cpu = sandbox.cpu_seconds() - server_cpu
                requests = request_counts(sandbox.requests())
                counts = verify_outcomes(plan, result, sandbox)
                after = sandbox.zuora_counts()
                created = sum(after[k] - before[k] for k in after)
                check(
                    created == counts["synced"],
                    f"Zuora gained {created} records but {counts['synced']} were synced",
                )
                wall = ended - began
                if kind == "accounts":
                    floor = account_floor(len(ids), created)
                    alt = None
                else:
                    accounts = len(set(sandbox.column("Order", "AccountId")))
                    order_ids = set(ids)
                    products = len(
                        {
                            p
                            for p, o in zip(
                                sandbox.column("OrderItem", "Product2Id"),
                                sandbox.column("OrderItem", "OrderId"),
                                strict=True,
                            )
                            if o in order_ids
                        }
                    )
                    floor = order_floor(
                        len(ids), accounts, products, created, batched_order_lookup=False
                    )
                    alt = order_floor(
                        len(ids), accounts, products, created, batched_order_lookup=True
                    )
                phases[kind] = {
                    "ids": len(ids),
                    "records_in_plan": len(plan.records),
                    "outcome": counts,
                    "wall_s": round(wall, 3),
                    "plan_s": round(planned - began, 3),
                    "run_s": round(ended - planned, 3),
                    "requests": requests,
                    "requests_per_record": round(requests["total"] / len(ids), 3),
                    "floor": floor,
                    "floor_if_orders_could_be_looked_up_in_batches": alt,
                    "floor_ratio": round(floor["seconds"] / wall, 3),
                    "peak_in_flight": runner.limit.peak_in_flight,
                    "client_cpu_s": round(client_cpu, 2),
                    "sandbox_cpu_s": round(server_cpu, 2),
                }
            problems = sandbox.problems()
            check(not problems, f"the sandbox saw problems: {problems[:3]}")
        finally:
            journal.close()
            clients.close()
    return phases


def naive(records: int) -> dict[str, Any]:
    """The naive script on ``records`` accounts then ``records`` orders (fresh sandbox)."""
    with ServedSandbox.start(
        accounts=records,
        orders=records,
        latency_ms=LATENCY_MS,
        zuora_concurrency_limit=ZUORA_LIMIT,
    ) as sandbox:
        return {
            "accounts": run_naive(sandbox, "accounts", sandbox.ids("Account")),
            "orders": run_naive(sandbox, "orders", sandbox.ids("Order")),
        }


def scenario(
    name: str, records: int, concurrency: int, repeats: int, naive_per_record: dict[str, float]
) -> dict[str, Any]:
    runs = []
    for index in range(repeats):
        load = load_average()
        phases = run_once(records, concurrency)
        print(
            f"  {name} run {index + 1}/{repeats} (load {load[0] if load else '?'}): "
            + ", ".join(
                f"{k} {v['wall_s']:.1f} s (plan {v['plan_s']:.1f}, floor ratio {v['floor_ratio']:.2f}, "
                f"429s {v['requests']['http_429']})"
                for k, v in phases.items()
            ),
            flush=True,
        )
        runs.append({"load_average": load, "phases": phases})
    out: dict[str, Any] = {"records": records, "concurrency": concurrency, "repeats": repeats}
    total_walls = []
    total_floors = []
    for kind in ("accounts", "orders"):
        walls = [r["phases"][kind]["wall_s"] for r in runs]
        floor_s = runs[0]["phases"][kind]["floor"]["seconds"]
        naive_s = naive_per_record[kind] * records
        wall = median(walls)
        out[kind] = {
            "wall_s": summary(walls),
            "plan_s": summary([r["phases"][kind]["plan_s"] for r in runs]),
            "run_s": summary([r["phases"][kind]["run_s"] for r in runs]),
            "requests_per_record": median([r["phases"][kind]["requests_per_record"] for r in runs]),
            "http_429": max(r["phases"][kind]["requests"]["http_429"] for r in runs),
            "failed_by_429": max(r["phases"][kind]["outcome"]["failed_by_429"] for r in runs),
            "floor_s": floor_s,
            "floor_ratio": round(floor_s / wall, 3),
            "naive_extrapolated_s": round(naive_s, 1),
            "naive_speedup": round(naive_s / wall, 1),
        }
        alt = runs[0]["phases"][kind]["floor_if_orders_could_be_looked_up_in_batches"]
        if alt:
            out[kind]["floor_ratio_if_batched_order_lookups"] = round(alt["seconds"] / wall, 3)
        total_walls.append([r["phases"][kind]["wall_s"] for r in runs])
        total_floors.append(floor_s)
    totals = [sum(x) for x in zip(*total_walls, strict=True)]
    wall = median(totals)
    naive_total = sum(naive_per_record[k] * records for k in ("accounts", "orders"))
    out["total"] = {
        "wall_s": summary(totals),
        "floor_s": round(sum(total_floors), 3),
        "floor_ratio": round(sum(total_floors) / wall, 3),
        "naive_extrapolated_s": round(naive_total, 1),
        "naive_speedup": round(naive_total / wall, 1),
        "failed_by_429": max(out[k]["failed_by_429"] for k in ("accounts", "orders")),
    }
    out["runs"] = runs
    return out


WHAT_IFS = {
    "no-pressure-cut": "a low Concurrency-Limit-Remaining no longer halves the runner's limit "
    "(only a 429 does)",
    "no-growth-in-cooldown": "after a cut, the runner's limit does not grow back until the "
    "cooldown (1 s) has passed",
}
# ("ceiling-at-tenant-limit", measured in bench/results/exp-c16-*.json, is now the product's
# behaviour: AdaptiveLimit.cap.)


def apply_what_if(name: str) -> None:
    """Experiments for the engine's author, never part of the headline figures."""
    from cpq_sync_gui.sync import throttle

    limit_class = throttle.AdaptiveLimit
    if name == "no-pressure-cut":
        limit_class.pressure = lambda _self, _remaining, _limit: None  # type: ignore[method-assign]
    elif name == "no-growth-in-cooldown":
        grow = limit_class.succeeded

        def succeeded(self: Any) -> int | None:
            with self._cond:
                if time.monotonic() - self._last_cut < self._cooldown_s:
                    return None
            return grow(self)

        limit_class.succeeded = succeeded  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Direct sync throughput vs the floor and a naive script."
    )
    parser.add_argument("--quick", action="store_true", help="1/10 scale: 100 + 100 records")
    parser.add_argument("--records", type=int, help="accounts (and orders) per run")
    parser.add_argument("--repeats", type=int, help="fresh runs per scenario (median reported)")
    parser.add_argument("--naive-records", type=int, help="records the naive script runs")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=ZUORA_LIMIT,
        help="requests at a time (default: the tenant's limit, 10)",
    )
    parser.add_argument(
        "--no-extra",
        action="store_true",
        help="skip the extra scenarios (4 at a time, the app's former default; 16, over the limit)",
    )
    parser.add_argument(
        "--name",
        help="write bench/results/NAME.json instead (for experiments)",
    )
    parser.add_argument(
        "--what-if",
        action="append",
        choices=sorted(WHAT_IFS),
        help="run an experiment on the engine (results go to sync-what-if-*.json)",
    )
    args = parser.parse_args()
    parser_name = args.name
    for what_if in args.what_if or []:
        apply_what_if(what_if)
    records = args.records or (100 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 3)
    naive_records = args.naive_records or (10 if args.quick else 100)
    load_before = load_average()

    print(f"naive baseline on {naive_records} accounts + {naive_records} orders ...", flush=True)
    baseline = naive(naive_records)
    per_record = {k: v["seconds_per_record"] for k, v in baseline.items()}
    print(
        f"  naive: {per_record['accounts']:.3f} s per account, {per_record['orders']:.3f} s per order"
    )

    scenarios = {"main": scenario("main", records, args.concurrency, repeats, per_record)}
    if not args.no_extra:
        # Over the limit: 16 at a time against a limit of 10 (the 429 path is exercised).
        scenarios["over_limit_16"] = scenario("over_limit_16", records, 16, 1, per_record)
        if not args.quick:
            # The app's default until it became 10 (sync/throttle.py DEFAULT_CONCURRENCY).
            scenarios["four_at_a_time"] = scenario("four_at_a_time", records, 4, 1, per_record)

    main_ = scenarios["main"]
    result = {
        "settings": {
            "records": records,
            "latency_ms": LATENCY_MS,
            "zuora_concurrency_limit": ZUORA_LIMIT,
            "concurrency": args.concurrency,
            "repeats": repeats,
            "quick": args.quick,
            "latency_model": "Salesforce and connector: before handling; Zuora: inside the "
            "concurrency slot (see bench/common.apply_latency)",
        },
        "targets": {
            "floor_ratio": TARGET_FLOOR_RATIO,
            "naive_speedup": TARGET_NAIVE_SPEEDUP,
            "failed_by_429": 0,
        },
        "naive_baseline": {
            **baseline,
            "note": f"run on {naive_records} records per kind and extrapolated per record to {records}",
        },
        "headline": {
            kind: {
                "wall_s": main_[kind]["wall_s"]["median"],
                "requests_per_record": main_[kind].get("requests_per_record"),
                "floor_s": main_[kind]["floor_s"],
                "floor_ratio": main_[kind]["floor_ratio"],
                "naive_speedup": main_[kind]["naive_speedup"],
                "failed_by_429": main_[kind]["failed_by_429"],
                "met": main_[kind]["floor_ratio"] >= TARGET_FLOOR_RATIO
                and main_[kind]["naive_speedup"] >= TARGET_NAIVE_SPEEDUP
                and main_[kind]["failed_by_429"] == 0,
            }
            for kind in ("accounts", "orders", "total")
        },
        "scenarios": scenarios,
    }
    if args.what_if:
        result["what_if"] = {w: WHAT_IFS[w] for w in args.what_if}
    name = "sync-what-if-" + "+".join(args.what_if) if args.what_if else "sync"
    name = parser_name or name
    path = write_result(name, result, load_before=load_before)
    for kind, h in result["headline"].items():
        print(
            f"{kind:9} wall {h['wall_s']:.2f} s  floor {h['floor_s']:.2f} s  ratio {h['floor_ratio']:.3f}  "
            f"x naive {h['naive_speedup']:.1f}  failed by 429 {h['failed_by_429']}  "
            f"{'MET' if h['met'] else 'MISSED'}"
        )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
