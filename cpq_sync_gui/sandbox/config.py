"""Knobs of the sandbox: data size, seed, lifetimes, limits, latency and faults."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SandboxConfig:
    seed: int = 7
    accounts: int = 200
    orders: int = 300
    cpq_fields: bool = True  # False simulates an org without the SBQQ__ fields
    multi_currency: bool = True  # False: no CurrencyIsoCode fields, org currency only
    api_version: str = "62.0"  # newest version the simulated org offers
    # Salesforce
    session_lifetime_s: float = 7200.0  # then INVALID_SESSION_ID
    daily_api_limit: int = 15000  # then REQUEST_LIMIT_EXCEEDED
    # Zuora
    token_lifetime_s: float = 3599.0
    zuora_concurrency_limit: int = 40  # in-flight requests per tenant, then 429
    zuora_rate_per_minute: int = 50000  # requests per rolling minute, then 429
    async_order_delay_s: float = 0.2  # how long an async order job stays "Processing"
    # True: Zuora's injected latency (latency_ms, spikes) is spent while the request holds its
    # concurrency slot, as a real tenant holds it while it works, so more requests at once than
    # zuora_concurrency_limit get 429s; answers without a slot (token, 401, 429) wait as long.
    # False: the latency passes before the request reaches the tenant and never fills a slot.
    zuora_latency_in_slot: bool = True
    # Connector
    connector_domains: list[str] = field(default_factory=list)  # registered sfdc domains
    connector_delay_s: float = 0.3  # the connector syncs this long after it answered
    # Network behaviour (see sandbox.http.FaultPlan)
    latency_ms: float = 0.0
    faults: str = ""
