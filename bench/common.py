"""Shared helpers for the benchmarks: sandboxes (in-process or in a child process), clients on
them, timers, medians, machine facts and JSON results.

Every benchmark writes ``bench/results/<name>.json`` through :func:`write_result`, which adds
the machine it ran on and the load average before and after, so a figure is never quoted
without the conditions it was measured under.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# A --quick run (through bench/run.py, or a benchmark script run by hand) writes under
# bench/results/quick/, so a smoke run never overwrites the full-scale figures that
# docs/performance.md quotes.
RESULTS = Path(
    os.environ.get("CPQ_BENCH_RESULTS")
    or REPO / "bench" / "results" / ("quick" if "--quick" in sys.argv[1:] else "")
)
PYTHON = sys.executable

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The same Zuora-Version the app's profiles default to is irrelevant to timing; the sandbox
# accepts any date-style version.
SANDBOX_SEED = 7


# --- machine and load ---------------------------------------------------------------------


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def qt_versions() -> dict[str, str]:
    """PySide6 and Qt versions, asked in a child process so this one stays Qt-free."""
    code = "import PySide6, PySide6.QtCore as c; print(PySide6.__version__, c.qVersion())"
    try:
        out = subprocess.run(
            [PYTHON, "-c", code], capture_output=True, text=True, timeout=60, check=True
        ).stdout.split()
        return {"pyside6": out[0], "qt": out[1]}
    except (subprocess.SubprocessError, IndexError, OSError):
        return {}


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_total_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        **qt_versions(),
        "load_average": load_average(),
    }


# --- numbers --------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summary(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, min, max and every run (rounded), for a JSON result."""
    if not values:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {
        "median": round(median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


class Stopwatch:
    """``with Stopwatch() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def write_result(
    name: str, data: Mapping[str, Any], *, load_before: list[float] | None = None
) -> Path:
    """Write ``bench/results/<name>.json`` with the machine and the load around the run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": name,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        **data,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path


class BenchFailure(AssertionError):
    """A benchmark's own correctness check failed (counts, duplicates): its figures are void."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise BenchFailure(message)


# --- sandboxes ------------------------------------------------------------------------------


def run_window_until(done: Callable[[], bool], timeout_s: float, *, every_ms: int = 20) -> bool:
    """Run the Qt event loop until ``done()`` (asked every ``every_ms``) or ``timeout_s``;
    returns ``done()``.

    The work goes on in the window's own event loop, as ``app.exec()`` runs it in the app: a
    Python loop around ``processEvents()`` would take the interpreter lock ~1,000 times a
    second more than the app does, and add its own waits to the stalls being measured.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    watcher = QTimer()
    watcher.setInterval(every_ms)
    watcher.timeout.connect(lambda: loop.quit() if done() else None)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    deadline.start(int(timeout_s * 1000))
    watcher.start()
    loop.exec()
    watcher.stop()
    deadline.stop()
    return done()


def apply_latency(sandbox: Any, latency_ms: float, *, zuora_in_slot: bool = True) -> None:
    """Give every request ``latency_ms``; Zuora's inside its concurrency slot.

    The sandbox's injected latency delays a request before the Zuora service counts it as in
    flight, so on its own it never fills Zuora's concurrency limit. A real tenant holds the
    slot while it works on the request; with ``zuora_in_slot`` the Zuora part of the latency
    is spent inside the slot (through the service's pause hook), so sending more requests at
    once than the limit allows gets 429s, as it would in production.
    """
    seconds = latency_ms / 1000.0
    sandbox.faults.latency_ms.clear()
    sandbox.faults.latency_ms["*"] = latency_ms
    if zuora_in_slot:
        sandbox.faults.latency_ms["zuora"] = 0.0
        sandbox.zuora_service.pause_hook = (
            (lambda _request: time.sleep(seconds)) if seconds else None
        )
    else:
        sandbox.zuora_service.pause_hook = None


def make_inprocess_sandbox(
    *,
    accounts: int,
    orders: int,
    latency_ms: float = 0.0,
    zuora_concurrency_limit: int = 40,
    zuora_in_slot: bool = True,
    **config: Any,
) -> Any:
    """A started in-process Sandbox with the benchmark's latency model applied."""
    from cpq_sync_gui.sandbox.config import SandboxConfig
    from cpq_sync_gui.sandbox.sandbox import Sandbox

    cfg = SandboxConfig(
        seed=config.pop("seed", SANDBOX_SEED),
        accounts=accounts,
        orders=orders,
        zuora_concurrency_limit=zuora_concurrency_limit,
        **config,
    )
    sandbox = Sandbox(cfg, directory=Path(tempfile.mkdtemp(prefix="cpq-sync-bench-sb-"))).start()
    apply_latency(sandbox, latency_ms, zuora_in_slot=zuora_in_slot)
    return sandbox


@dataclass
class Credentials:
    """The sandbox's throwaway credentials as read back from a child process."""

    values: dict[str, str]

    def __getattr__(self, name: str) -> str:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class ServedSandbox:
    """bench/sandbox_server.py in a child process, with the attributes the app's profile needs
    (``demo_profile`` reads them) and a small command channel for the request log and checks.

    A sandbox in its own process competes with the client only for CPU, not for the client's
    interpreter lock, as a real remote Salesforce org and Zuora tenant would.
    """

    process: subprocess.Popen[str]
    salesforce_url: str = ""
    zuora_url: str = ""
    connector_url: str = ""
    sfdc_domain: str = ""
    ca_path: Path = field(default_factory=Path)
    credentials: Any = None
    generated_in_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(
        cls,
        *,
        accounts: int,
        orders: int,
        latency_ms: float = 0.0,
        zuora_in_slot: bool = True,
        **config: Any,
    ) -> ServedSandbox:
        spec = {
            "config": {"seed": SANDBOX_SEED, "accounts": accounts, "orders": orders, **config},
            "latency_ms": latency_ms,
            "zuora_in_slot": zuora_in_slot,
        }
        process = subprocess.Popen(
            [PYTHON, str(REPO / "bench" / "sandbox_server.py"), json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            bufsize=1,
        )
        served = cls(process)
        ready = served._read()
        served.salesforce_url = ready["salesforce_url"]
        served.zuora_url = ready["zuora_url"]
        served.connector_url = ready["connector_url"]
        served.sfdc_domain = ready["sfdc_domain"]
        served.ca_path = Path(ready["ca_path"])
        served.credentials = Credentials(ready["credentials"])
        served.generated_in_s = ready["generated_in_s"]
        return served

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox process ended (exit {self.process.wait()})")
        return json.loads(line)

    def command(self, name: str, **args: Any) -> Any:
        with self._lock:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"cmd": name, **args}) + "\n")
            self.process.stdin.flush()
            answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"sandbox command {name} failed: {answer['error']}")
        return answer["result"]

    # What the benchmarks ask.
    def requests(self) -> list[dict[str, Any]]:
        """Every request since the last :meth:`clear_log` (service, method, path, status)."""
        return self.command("log")

    def clear_log(self) -> None:
        self.command("clear_log")

    def duplicates(self) -> dict[str, dict[str, int]]:
        return self.command("duplicates")

    def problems(self) -> list[str]:
        return self.command("problems")

    def ids(self, sobject: str) -> list[str]:
        return self.command("ids", sobject=sobject)

    def column(self, sobject: str, field_name: str) -> list[Any]:
        return self.command("column", sobject=sobject, field=field_name)

    def zuora_counts(self) -> dict[str, int]:
        return self.command("zuora_counts")

    def connector_log(self) -> list[dict[str, Any]]:
        return self.command("connector_log")

    def wait_connector_idle(self, timeout: float = 60.0) -> bool:
        return self.command("connector_idle", timeout=timeout)

    def cpu_seconds(self) -> float:
        return self.command("cpu")

    def set_latency(self, latency_ms: float, zuora_in_slot: bool = True) -> None:
        self.command("latency", latency_ms=latency_ms, zuora_in_slot=zuora_in_slot)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.command("stop")
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()

    def __enter__(self) -> ServedSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- request counting -------------------------------------------------------------------------

_KEYED_PREFIXES = (
    "/v1/orders/",
    "/v1/accounts/",
    "/v1/catalog/product/",
    "/v1/product-rate-plans/external-id/",
    "/v1/async-jobs/",
    "/services/data/vNN/query/",
)


def route(path: str) -> str:
    """``/v1/orders/00000101`` → ``/v1/orders/{key}``: paths grouped by endpoint."""
    path = re.sub(r"/services/data/v[\d.]+", "/services/data/vNN", path)
    for prefix in _KEYED_PREFIXES:
        if path.startswith(prefix) and len(path) > len(prefix):
            _, sep, tail = path[len(prefix) :].partition("/")
            return prefix + "{key}" + (sep + tail if sep else "")
    return path


def request_counts(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Requests by service, and by ``service METHOD route``, plus 429s and other errors."""
    by_service: Counter[str] = Counter()
    by_route: Counter[str] = Counter()
    throttled = errors = 0
    for entry in entries:
        by_service[entry["service"]] += 1
        by_route[f"{entry['service']} {entry['method']} {route(entry['path'])}"] += 1
        if entry["status"] == 429:
            throttled += 1
        elif entry["status"] >= 400 or entry["status"] == 0:
            errors += 1
    return {
        "total": len(entries),
        "by_service": dict(by_service),
        "by_route": dict(by_route.most_common()),
        "http_429": throttled,
        "other_errors": errors,
    }


# --- clients on a sandbox (the app's own, as the CLI builds them) ------------------------------


class _Secrets:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    def get(self, secret_name: str) -> str | None:
        return self.values.get(secret_name)


@dataclass
class AppClients:
    salesforce: Any
    zuora: Any
    connector: Any
    profile: Any

    def close(self) -> None:
        for session in (
            getattr(self.zuora, "session", None),
            getattr(getattr(self.salesforce, "connection", None), "session", None),
            getattr(self.connector, "session", None),
        ):
            if session is not None:
                with contextlib.suppress(Exception):
                    session.close()


def app_clients(sandbox: Any, *, read_timeout_s: float = 30.0) -> AppClients:
    """The app's Salesforce, Zuora and connector clients for the demo profile on ``sandbox``,
    built by the same functions the window and the CLI use (cpq_sync_gui.connections)."""
    from cpq_sync_gui import secrets as names
    from cpq_sync_gui.connections import open_connector, open_salesforce, open_zuora
    from cpq_sync_gui.demo import demo_profile

    profile = demo_profile(sandbox)
    profile = profile.model_copy(
        update={"network": profile.network.model_copy(update={"read_timeout_s": read_timeout_s})}
    )
    creds = sandbox.credentials
    secrets = _Secrets(
        {
            names.SALESFORCE_PASSWORD: creds.sf_password,
            names.SALESFORCE_SECURITY_TOKEN: creds.sf_security_token,
            names.SALESFORCE_CONSUMER_SECRET: creds.sf_consumer_secret,
            names.ZUORA_CLIENT_SECRET: creds.zuora_client_secret,
        }
    )
    salesforce = open_salesforce(profile, secrets)
    zuora = open_zuora(profile, secrets)
    connector = open_connector(profile, secrets, salesforce=salesforce)
    return AppClients(salesforce, zuora, connector, profile)


# --- child benchmarks ------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_env(**extra: str) -> Iterator[dict[str, str]]:
    """An environment for a child benchmark: headless Qt, a throwaway app home."""
    home = tempfile.mkdtemp(prefix="cpq-sync-bench-home-")
    env = dict(os.environ, CPQ_SYNC_HOME=home, QT_QPA_PLATFORM="offscreen", **extra)
    yield env


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value >= 1 else f"{value * 1000:.0f} ms"
