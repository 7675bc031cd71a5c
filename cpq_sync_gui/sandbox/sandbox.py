"""The whole sandbox in one object: generated org, Zuora tenant, connector, three HTTPS servers."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.connector import ConnectorService
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.data import GeneratedOrg, generate_org
from cpq_sync_gui.sandbox.http import FaultPlan, RequestLog, ServiceServer
from cpq_sync_gui.sandbox.salesforce import SalesforceService
from cpq_sync_gui.sandbox.tls import SandboxTLS
from cpq_sync_gui.sandbox.zuora import ZuoraService
from cpq_sync_gui.sandbox.zuora_payloads import build_validators
from cpq_sync_gui.sandbox.zuora_tenant import ZuoraTenant

CONNECTOR_PATH = "/default/sfdccpq"


@dataclass(frozen=True)
class SandboxProblem:
    """Something in the sandbox that should fail the test that caused it."""

    what: str
    detail: str


class Sandbox:
    """A simulated Salesforce CPQ org, Zuora tenant and connector endpoint on 127.0.0.1.

    ``start()`` makes (or reuses) a throwaway CA, generates the org from the seed, loads the
    Zuora catalog, and serves each system on its own HTTPS port. Clients must trust
    :attr:`ca_path` explicitly. The connector accepts :attr:`sfdc_domain` (the org's own
    host) plus whatever is in ``config.connector_domains``.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        directory: Path | None = None,
        tls: SandboxTLS | None = None,
        credentials: SandboxCredentials | None = None,
        generated: GeneratedOrg | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self._own_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="cpq-sync-sandbox-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.tls = tls or SandboxTLS(self.directory)
        self.credentials = credentials or SandboxCredentials.generate()
        self.generated = generated or generate_org(self.config)
        self.org = self.generated.org
        self.zuora = ZuoraTenant(
            self.generated.catalog, currencies=self.generated.currencies, seed=self.config.seed
        )
        self.log = RequestLog()
        self.faults = FaultPlan.parse(self.config.faults, seed=self.config.seed)
        if self.config.latency_ms:
            self.faults.latency_ms["*"] = self.config.latency_ms
        self.salesforce_service = SalesforceService(self.org, self.config, self.credentials)
        self.zuora_service = ZuoraService(self.zuora, self.config, self.credentials)
        self.connector_service = ConnectorService(self.org, self.zuora, self.config)
        self._servers: list[ServiceServer] = []
        self.started_in_s = 0.0

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        began = time.perf_counter()
        build_validators()  # before the first creates, which would otherwise each build one
        context = self.tls.server_context()
        for service in (self.salesforce_service, self.zuora_service, self.connector_service):
            self._servers.append(ServiceServer(service, context, self.faults, self.log).start())
        if self.sfdc_domain not in self.config.connector_domains:
            self.config.connector_domains.append(self.sfdc_domain)
        self.started_in_s = time.perf_counter() - began
        return self

    def stop(self) -> None:
        stop_connector = getattr(self.connector_service, "stop", None)
        if stop_connector:
            stop_connector()
        for server in self._servers:
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Sandbox:
        return self.start() if not self._servers else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where things are ---------------------------------------------------------------------

    @property
    def salesforce_url(self) -> str:
        return self._servers[0].url

    @property
    def zuora_url(self) -> str:
        return self._servers[1].url

    @property
    def connector_url(self) -> str:
        return self._servers[2].url + CONNECTOR_PATH

    @property
    def ca_path(self) -> Path:
        return self.tls.ca_path

    @property
    def sfdc_domain(self) -> str:
        """The `sfdc` value the connector knows this org by: its host, as for a real org."""
        return self.salesforce_url.removeprefix("https://")

    def write_credentials(self) -> Path:
        path = self.directory / "sandbox-credentials.json"
        self.credentials.write(path)
        return path

    # --- what tests check after a run -----------------------------------------------------------

    def problems(self) -> list[SandboxProblem]:
        """Schema violations and sandbox bugs seen so far (each should fail the test)."""
        found = [
            SandboxProblem(f"Zuora schema violation at {endpoint}", "; ".join(messages))
            for endpoint, messages in self.zuora.schema_violations
        ]
        for server in self._servers:
            found += [
                SandboxProblem(f"sandbox error in {server.httpd.service.name}", repr(error))
                for error in server.errors
            ]
        return found
