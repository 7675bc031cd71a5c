"""The sandbox's HTTPS plumbing: requests, responses, a request log, injected faults, one server per service."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One HTTP request as a simulated service sees it."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    base_url: str  # "https://127.0.0.1:PORT" of the server that received it
    # Injected latency left for the service to spend (see Service.spends_latency).
    latency_s: float = 0.0

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError on a malformed body."""
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        """The body parsed as application/x-www-form-urlencoded (first value of each key)."""
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}


@dataclass
class Response:
    """One HTTP answer. Build JSON answers with :meth:`json`."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        all_headers = {"Content-Type": "application/json;charset=UTF-8"}
        all_headers.update(headers or {})
        return cls(status, json.dumps(payload).encode("utf-8"), all_headers)

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> Response:
        all_headers = {"Content-Type": content_type}
        all_headers.update(headers or {})
        return cls(status, text.encode("utf-8"), all_headers)


class Service(Protocol):
    """A simulated remote system. ``handle`` is called from many threads at once.

    A service with a true ``spends_latency`` attribute gets the injected latency in
    :attr:`Request.latency_s` and spends it itself (e.g. while it holds a concurrency slot);
    otherwise the server waits before calling ``handle``.
    """

    name: str

    def handle(self, request: Request) -> Response: ...


# --- request log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedRequest:
    service: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int  # 0 when no answer was sent (reset, timeout)
    fault: str | None
    at: float


class RequestLog:
    """Every request every sandbox server received, in arrival order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(
        self, service: str | None = None, method: str | None = None, path_glob: str | None = None
    ) -> list[LoggedRequest]:
        with self._lock:
            entries = list(self._entries)
        return [
            e
            for e in entries
            if (service is None or e.service == service)
            and (method is None or e.method == method)
            and (path_glob is None or fnmatch.fnmatchcase(e.path, path_glob))
        ]

    def count(
        self, service: str | None = None, method: str | None = None, path_glob: str | None = None
    ) -> int:
        return len(self.entries(service, method, path_glob))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.entries())


# --- faults --------------------------------------------------------------------------------

FAULT_KINDS = {
    "spike": "adds FaultPlan.spike_ms of latency",
    "http429": "429 with Concurrency-Limit headers, no Retry-After",
    "http429_retry_after": "429 with Retry-After: 1",
    "http500": "500 Internal Server Error",
    "http503": "503 Service Unavailable",
    "reset": "connection reset before the request is handled",
    "timeout": "no answer for FaultPlan.hang_s, then the connection is closed",
    "truncated": "the request is handled, the JSON answer is cut in half",
    "success_false": "HTTP 200 with a Zuora-style success:false body, the request is not handled",
    "reset_after": "the request is handled (objects created), then the connection is reset",
}


@dataclass(frozen=True)
class FaultRule:
    service: str  # "zuora", "salesforce", "connector" or "*"
    method: str  # "POST" or "*"
    path: str  # glob over the path, e.g. "/v1/accounts" or "/v1/*"
    kind: str
    rate: float  # 0..1

    def matches(self, service: str, method: str, path: str) -> bool:
        return (
            fnmatch.fnmatchcase(service, self.service)
            and fnmatch.fnmatchcase(method, self.method)
            and fnmatch.fnmatchcase(path, self.path)
        )


class FaultSpecError(ValueError):
    pass


@dataclass
class FaultPlan:
    """Which faults to inject, decided deterministically from ``seed``.

    The decision for a request depends only on the seed, the rule, the request's method, path,
    query and body, and how many identical requests came before it — so a retry of the same
    request gets a fresh (but reproducible) decision, whatever the thread interleaving.
    """

    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)  # per service name, or "*"
    spike_ms: float = 2000.0
    hang_s: float = 30.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[bytes, int] = {}

    @classmethod
    def parse(cls, spec: str, seed: int = 0) -> FaultPlan:
        """Parse ``service:METHOD:path:kind=rate[,kind=rate];...`` (rate as 0.05 or 5%).

        Example: ``zuora:POST:/v1/accounts:http500=5%,reset_after=5%;salesforce:*:*:spike=1%``.
        """
        rules: list[FaultRule] = []
        for raw in filter(None, (part.strip() for part in spec.split(";"))):
            pieces = raw.split(":", 3)
            if len(pieces) != 4:
                raise FaultSpecError(
                    f"fault rule {raw!r} must look like service:METHOD:path:kind=rate"
                )
            service, method, path, kinds = pieces
            for item in filter(None, (k.strip() for k in kinds.split(","))):
                kind, _, rate_text = item.partition("=")
                if kind not in FAULT_KINDS:
                    raise FaultSpecError(
                        f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}"
                    )
                rate_text = rate_text.strip()
                try:
                    rate = (
                        float(rate_text[:-1]) / 100 if rate_text.endswith("%") else float(rate_text)
                    )
                except ValueError:
                    raise FaultSpecError(f"fault rate {rate_text!r} is not a number") from None
                if not 0 <= rate <= 1:
                    raise FaultSpecError(f"fault rate {rate_text!r} must be between 0 and 100%")
                rules.append(FaultRule(service, method.upper(), path, kind, rate))
        return cls(rules=rules, seed=seed)

    def add(self, service: str, method: str, path: str, kind: str, rate: float) -> None:
        if kind not in FAULT_KINDS:
            raise FaultSpecError(f"unknown fault kind {kind!r}")
        self.rules.append(FaultRule(service, method, path, kind, rate))

    def clear(self) -> None:
        self.rules.clear()

    def decide(self, service: str, request: Request) -> str | None:
        """The fault kind to inject for this request, or None (``spike`` is reported separately)."""
        matching = [r for r in self.rules if r.matches(service, request.method, request.path)]
        if not matching:
            return None
        identity = hashlib.sha256(
            f"{service}\0{request.method}\0{request.path}\0{sorted(request.query.items())}\0".encode()
            + request.body
        ).digest()
        with self._lock:
            attempt = self._seen.get(identity, 0)
            self._seen[identity] = attempt + 1
        for index, rule in enumerate(matching):
            digest = hashlib.sha256(
                struct.pack(">qqq", self.seed, index, attempt) + identity + rule.kind.encode()
            ).digest()
            draw = int.from_bytes(digest[:8], "big") / 2**64
            if draw < rule.rate:
                return rule.kind
        return None

    def latency_for(self, service: str) -> float:
        return self.latency_ms.get(service, self.latency_ms.get("*", 0.0)) / 1000.0


# --- the server ----------------------------------------------------------------------------


def _success_false_body() -> bytes:
    return json.dumps(
        {
            "success": False,
            "processId": "SANDBOXFAULT",
            "reasons": [
                {
                    "code": 50000060,
                    "message": "An internal error occurred (injected by the sandbox).",
                }
            ],
        }
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as production servers set: headers and body go out in two sends, and with
    # Nagle's algorithm the body would wait for the client's delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the RequestLog is the record; stderr stays quiet

    def _dispatch(self) -> None:
        server = self.server
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=server.base_url,
        )
        plan = server.faults
        service = server.service
        fault = plan.decide(service.name, request)
        delay = plan.latency_for(service.name)
        if fault == "spike":
            delay += plan.spike_ms / 1000.0
            fault = None
        if fault in (None, "reset_after", "truncated") and getattr(
            service, "spends_latency", False
        ):
            request.latency_s, delay = delay, 0.0
        if delay and server.stopping.wait(delay):
            return
        logged = False

        def record(status: int) -> None:
            """Log the request (status 0: no answer) before the client can see what happens."""
            nonlocal logged
            if not logged:
                logged = True
                server.log.add(
                    LoggedRequest(
                        service=service.name,
                        method=request.method,
                        path=request.path,
                        query=request.query,
                        headers=request.headers,
                        body=request.body,
                        status=status,
                        fault=fault,
                        at=time.time(),
                    )
                )

        try:
            if fault == "reset":
                record(0)
                self._reset()
                return
            if fault == "timeout":
                record(0)
                server.stopping.wait(plan.hang_s)
                self.close_connection = True
                return
            if fault in ("http429", "http429_retry_after"):
                headers = {
                    "Concurrency-Limit-Type": "Default",
                    "Concurrency-Limit-Limit": "40",
                    "Concurrency-Limit-Remaining": "0",
                }
                if fault == "http429_retry_after":
                    headers["Retry-After"] = "1"
                response = Response.json(
                    {"message": "Too many requests (injected by the sandbox)"}, 429, headers
                )
            elif fault == "http500":
                response = Response.json({"message": "Internal Server Error (injected)"}, 500)
            elif fault == "http503":
                response = Response.text("Service Unavailable (injected)", 503)
            elif fault == "success_false":
                response = Response(
                    200, _success_false_body(), {"Content-Type": "application/json"}
                )
            else:
                try:
                    response = service.handle(request)
                except Exception as exc:  # a sandbox bug must show up as a 500, not a hang
                    server.errors.append(exc)
                    response = Response.json(
                        {"message": f"sandbox internal error: {type(exc).__name__}: {exc}"}, 500
                    )
                if fault == "reset_after":
                    record(0)
                    self._reset()
                    return
                if fault == "truncated":
                    response = Response(
                        response.status,
                        response.body[: max(1, len(response.body) // 2)],
                        dict(response.headers),
                    )
            record(response.status)
            self._send(response)
        finally:
            record(0)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        self.wfile.flush()

    def _reset(self) -> None:
        """Abort the TCP connection with RST, as a dropped load balancer connection does."""
        self.close_connection = True
        raw = self.connection
        try:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # Close the TCP socket underneath TLS without close_notify: a reset is abrupt.
            socket.socket.close(raw)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        service: Service,
        context: ssl.SSLContext,
        faults: FaultPlan,
        log: RequestLog,
        port: int = 0,
    ) -> None:
        self.service = service
        self.faults = faults
        self.log = log
        self.errors: list[Exception] = []
        self.stopping = threading.Event()
        self._context = context
        self._connections: set[socket.socket] = set()  # accepted and not yet closed
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)
        self.base_url = f"https://127.0.0.1:{self.server_address[1]}"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # The TLS handshake happens lazily in the handler thread, so one slow client
        # cannot hold up the accept loop.
        return self._context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that reset or time out are expected; the request log tells the story

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:  # the handler thread is done with it
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every kept-alive connection, as a server going away does: their handler
        threads (each waiting for a next request) end, and clients see the connection close."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the raw socket: leave the TLS state alone
                socket.socket.shutdown(connection, socket.SHUT_RDWR)


class ServiceServer:
    """Runs one simulated service on its own loopback port in a background thread."""

    def __init__(
        self,
        service: Service,
        context: ssl.SSLContext,
        faults: FaultPlan,
        log: RequestLog,
        port: int = 0,
    ) -> None:
        self.httpd = SandboxHTTPServer(service, context, faults, log, port)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-{service.name}",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return self.httpd.base_url

    @property
    def errors(self) -> list[Exception]:
        return self.httpd.errors

    def start(self) -> ServiceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.close_connections()
        self._thread.join(timeout=5)


Handler = Callable[[Request], Response]
