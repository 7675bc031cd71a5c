"""A sandbox for the benchmarks in its own process, driven over stdin/stdout (one JSON per line).

    python bench/sandbox_server.py '{"config": {...SandboxConfig...}, "latency_ms": 100,
                                     "zuora_in_slot": true}'

Prints one line with its addresses and throwaway credentials, then answers commands
(``{"cmd": "log"}``, ``duplicates``, ``problems``, ``ids``, ``column``, ``zuora_counts``,
``connector_log``, ``connector_idle``, ``clear_log``, ``cpu``, ``latency``, ``stop``) with
``{"result": ...}`` or ``{"error": "..."}``. Used through ``bench.common.ServedSandbox``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import apply_latency  # noqa: E402
from cpq_sync_gui.sandbox.config import SandboxConfig  # noqa: E402
from cpq_sync_gui.sandbox.sandbox import Sandbox  # noqa: E402


def main() -> int:
    spec = json.loads(sys.argv[1])
    began = time.perf_counter()
    sandbox = Sandbox(
        SandboxConfig(**spec["config"]),
        directory=Path(tempfile.mkdtemp(prefix="cpq-sync-bench-sb-")),
    ).start()  # with TCP_NODELAY and its payload validators built (sandbox/http.py, sandbox.py)
    apply_latency(
        sandbox, float(spec.get("latency_ms", 0)), zuora_in_slot=spec.get("zuora_in_slot", True)
    )
    out = sys.stdout
    out.write(
        json.dumps(
            {
                "salesforce_url": sandbox.salesforce_url,
                "zuora_url": sandbox.zuora_url,
                "connector_url": sandbox.connector_url,
                "sfdc_domain": sandbox.sfdc_domain,
                "ca_path": str(sandbox.ca_path),
                "credentials": dataclasses.asdict(sandbox.credentials),
                "generated_in_s": round(time.perf_counter() - began, 3),
            }
        )
        + "\n"
    )
    out.flush()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            name = command.pop("cmd")
            try:
                result = _answer(sandbox, name, command)
            except Exception as exc:  # tell the benchmark, keep serving
                out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
            else:
                out.write(json.dumps({"result": result}, default=str) + "\n")
            out.flush()
            if name == "stop":
                break
    finally:
        sandbox.stop()
    return 0


def _answer(sandbox: Sandbox, name: str, args: dict) -> object:
    if name == "log":
        return [
            {
                "service": e.service,
                "method": e.method,
                "path": e.path,
                "status": e.status,
                "at": e.at,
            }
            for e in sandbox.log.entries()
        ]
    if name == "clear_log":
        sandbox.log.clear()
        return True
    if name == "duplicates":
        return sandbox.zuora.duplicates()
    if name == "problems":
        return [f"{p.what}: {p.detail}" for p in sandbox.problems()]
    if name == "ids":
        return [r["Id"] for r in sandbox.org.all(args["sobject"])]
    if name == "column":
        return [r.get(args["field"]) for r in sandbox.org.all(args["sobject"])]
    if name == "zuora_counts":
        tenant = sandbox.zuora
        tenant.duplicates()  # settles async jobs
        return {"accounts": len(tenant.accounts), "orders": len(tenant.orders)}
    if name == "connector_log":
        return [dataclasses.asdict(e) for e in sandbox.connector_service.sync_log]
    if name == "connector_idle":
        return sandbox.connector_service.wait_idle(float(args.get("timeout", 60)))
    if name == "cpu":
        times = os.times()
        return times.user + times.system
    if name == "latency":
        apply_latency(
            sandbox, float(args["latency_ms"]), zuora_in_slot=args.get("zuora_in_slot", True)
        )
        return True
    if name == "stop":
        return True
    raise ValueError(f"unknown command {name!r}")


if __name__ == "__main__":
    raise SystemExit(main())
