"""What the simulated Zuora product catalog should hold, as produced by the data generator."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CatalogCharge:
    name: str
    charge_type: str  # "Recurring" or "OneTime"
    charge_model: str  # "Flat Fee Pricing" or "Per Unit Pricing"
    billing_period: str | None  # "Month", "Quarter", "Semi-Annual", "Annual"; None for OneTime
    prices: dict[str, float] = field(default_factory=dict)  # currency -> list price


@dataclass(frozen=True)
class CatalogRatePlan:
    name: str
    external_id: str  # the Salesforce Product2.Id (ProductRatePlan externallyManagedPlanId)
    charges: tuple[CatalogCharge, ...] = ()


@dataclass(frozen=True)
class CatalogProduct:
    sku: str  # the Salesforce Product2.ProductCode
    name: str
    product2_id: str
    rate_plans: tuple[CatalogRatePlan, ...] = ()
