"""The plain data the mapping works with: problems, options, and the catalog index."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from cpq_sync_gui.salesforce.records import OrderProductRecord

__all__ = [
    "Catalog",
    "CatalogCharge",
    "CatalogPlan",
    "Mapped",
    "MappingOptions",
    "Problem",
    "Severity",
    "placeholder",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """Something the admin must know before sending. ``error`` problems stop the record."""

    code: str
    message: str  # in the admin's words
    field: str | None = None  # the Salesforce field concerned, e.g. "Account.BillingCountry"
    severity: Severity = "error"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class MappingOptions:
    org_currency: str | None = None  # the Salesforce org's (corporate) currency
    bill_cycle_day: int = 1
    default_term_months: int = 12
    auto_renew: bool = False


@dataclass(frozen=True)
class CatalogCharge:
    id: str
    name: str = ""
    charge_type: str = "Recurring"  # Recurring, OneTime (or One-Time), Usage
    charge_model: str = "Per Unit Pricing"  # Flat Fee Pricing, Per Unit Pricing, …

    @property
    def kind(self) -> str:
        """``recurring``, ``onetime`` or ``usage``."""
        text = self.charge_type.lower().replace("-", "").replace(" ", "")
        return {"recurring": "recurring", "onetime": "onetime", "usage": "usage"}.get(
            text, "recurring"
        )

    @property
    def per_unit(self) -> bool:
        return "per unit" in self.charge_model.lower()


@dataclass(frozen=True)
class CatalogPlan:
    """One product rate plan of the Zuora catalog, with the product it belongs to."""

    id: str
    name: str = ""
    product_sku: str | None = None
    product_name: str | None = None
    external_ids: tuple[str, ...] = ()  # externallyManagedPlanId values (Product2 ids)
    charges: tuple[CatalogCharge, ...] = ()


@dataclass
class Catalog:
    """Catalog rate plans found for an order's products, by Product2 id and by SKU."""

    by_product2_id: dict[str, list[CatalogPlan]] = field(default_factory=dict)
    by_sku: dict[str, list[CatalogPlan]] = field(default_factory=dict)

    @classmethod
    def of(cls, plans: Iterable[CatalogPlan]) -> Catalog:
        catalog = cls()
        for plan in plans:
            for external in dict.fromkeys(plan.external_ids):
                catalog.add_for_product2(external, plan)
            if plan.product_sku:
                catalog.add_for_sku(plan.product_sku, plan)
        return catalog

    def add_for_product2(self, product2_id: str, plan: CatalogPlan) -> None:
        key = product2_id[:15]  # 15 and 18-character forms match each other
        plans = self.by_product2_id.setdefault(key, [])
        if all(p.id != plan.id for p in plans):
            plans.append(plan)

    def add_for_sku(self, sku: str, plan: CatalogPlan) -> None:
        plans = self.by_sku.setdefault(sku, [])
        if all(p.id != plan.id for p in plans):
            plans.append(plan)

    def candidates(self, item: OrderProductRecord) -> list[CatalogPlan]:
        """The rate plans for an order product: its Product2 Id's, else its SKU product's."""
        if item.product2_id:
            found = self.by_product2_id.get(item.product2_id[:15])
            if found:
                return list(found)
        if item.product_code:
            return list(self.by_sku.get(item.product_code) or [])
        return []


@dataclass
class Mapped:
    """A payload and what the mapping found on the way."""

    payload: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # MappingRule ids that shaped the payload

    @property
    def blocked(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def placeholder(what: str, record_id: str) -> str:
    """The text a plan shows for a value known only once another record is in Zuora."""
    return f"<{what} of {record_id}, known once it is in Zuora>"
