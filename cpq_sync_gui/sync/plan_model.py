"""What a plan is made of: options, one PlannedRecord per record, the SyncPlan and its JSON form."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cpq_sync_gui.sync.mapping import (
    MAPPING_RULES,
    Catalog,
    CatalogCharge,
    CatalogPlan,
    MappingOptions,
    Problem,
    rule_text,
)

__all__ = [
    "Action",
    "PlanOptions",
    "PlannedRecord",
    "Problem",
    "RecordKind",
    "SyncPlan",
    "catalog_from_rate_plans",
]

Action = Literal["create", "update", "skip"]
RecordKind = Literal["account", "order"]


@dataclass(frozen=True)
class PlanOptions:
    update_existing: bool = False  # accounts already in Zuora: update them instead of skipping
    mapping: MappingOptions = field(default_factory=MappingOptions)

    def to_json(self) -> dict[str, Any]:
        return {
            "update_existing": self.update_existing,
            "org_currency": self.mapping.org_currency,
            "bill_cycle_day": self.mapping.bill_cycle_day,
            "default_term_months": self.mapping.default_term_months,
            "auto_renew": self.mapping.auto_renew,
        }


@dataclass(frozen=True)
class PlannedRecord:
    """One record of the plan: what will be sent (payload), or why not (problems, skip)."""

    record_id: str
    record_kind: RecordKind
    label: str
    action: Action
    payload: dict[str, Any] | None = None
    problems: tuple[Problem, ...] = ()
    depends_on: tuple[str, ...] = ()  # record ids that must be in Zuora first
    bindings: Mapping[str, str] = field(default_factory=dict)
    """Payload field → record id whose Zuora value fills it at send time
    (``existingAccountNumber`` ← an account's number, ``parentId`` ← a parent's id)."""
    reason: str = ""  # why this action, e.g. "already in Zuora as A00000012"
    zuora_id: str | None = None  # the existing Zuora record, for skip and update
    zuora_number: str | None = None
    lookup_key: str = ""  # what finds it in Zuora: the crmId or the order number
    rules: tuple[str, ...] = ()  # MappingRule ids behind the payload
    selected: bool = True  # False: not chosen by the user, planned because a record needs it

    @property
    def blocked(self) -> bool:
        """An error-level problem stops this record from being sent."""
        return any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def problem_text(self) -> str:
        return " ".join(p.message for p in self.errors)

    def to_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "record_kind": self.record_kind,
            "label": self.label,
            "action": self.action,
            "blocked": self.blocked,
            "reason": self.reason,
            "selected": self.selected,
            "zuora_id": self.zuora_id,
            "zuora_number": self.zuora_number,
            "lookup_key": self.lookup_key,
            "depends_on": list(self.depends_on),
            "bindings": dict(self.bindings),
            "problems": [p.to_json() for p in self.problems],
            "rules": list(self.rules),
            "payload": self.payload,
        }


@dataclass(frozen=True)
class SyncPlan:
    kind: str  # "accounts" or "orders"
    records: tuple[PlannedRecord, ...]  # in send order: parents, accounts, then orders
    options: PlanOptions = field(default_factory=PlanOptions)
    created_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    salesforce_queries: int | None = None  # how many reads the plan took, when known

    def record(self, record_id: str) -> PlannedRecord | None:
        return next((r for r in self.records if r.record_id == record_id), None)

    @property
    def to_send(self) -> list[PlannedRecord]:
        return [r for r in self.records if r.action != "skip" and not r.blocked]

    def counts(self) -> dict[str, int]:
        counts = {"total": len(self.records), "create": 0, "update": 0, "skip": 0, "blocked": 0}
        for record in self.records:
            if record.blocked:
                counts["blocked"] += 1
            else:
                counts[record.action] += 1
        return counts

    def rules(self) -> dict[str, str]:
        """Every mapping rule used by a payload of this plan, id → text."""
        used = {rule for record in self.records for rule in record.rules}
        return {rule.id: rule_text(rule.id) for rule in MAPPING_RULES if rule.id in used}

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "created_at": self.created_at,
            "options": self.options.to_json(),
            "counts": self.counts(),
            "salesforce_queries": self.salesforce_queries,
            "rules": self.rules(),
            "records": [r.to_json() for r in self.records],
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, sort_keys=False)


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


def _catalog_plan(raw: Any, product: Any = None) -> CatalogPlan:
    if isinstance(raw, CatalogPlan):
        return raw
    charges = tuple(
        CatalogCharge(
            id=str(_attr(c, "id")),
            name=str(_attr(c, "name", default="") or ""),
            charge_type=str(_attr(c, "charge_type", "type", default=None) or "Recurring"),
            charge_model=str(_attr(c, "charge_model", "model", default=None) or "Per Unit Pricing"),
        )
        for c in _attr(raw, "charges", default=()) or ()
    )
    externals = _attr(raw, "external_ids", "externallyManagedPlanIds", default=()) or ()
    return CatalogPlan(
        id=str(_attr(raw, "id")),
        name=str(_attr(raw, "name", default="") or ""),
        product_sku=_attr(product, "sku") if product is not None else None,
        product_name=_attr(product, "name") if product is not None else None,
        external_ids=tuple(str(e) for e in externals),
        charges=charges,
    )


def catalog_from_rate_plans(found: Any) -> Catalog:
    """A :class:`Catalog` from ``ZuoraClient.find_rate_plans`` (a ``CatalogMatch``), or from
    an iterable of :class:`CatalogPlan` (tests, other sources)."""
    if found is None:
        return Catalog()
    by_product2 = _attr(found, "by_product2_id")
    by_sku = _attr(found, "by_sku")
    if by_product2 is None and by_sku is None:
        return Catalog.of(_catalog_plan(p) for p in found)
    catalog = Catalog()
    for product2_id, plans in (by_product2 or {}).items():
        for raw in plans:
            catalog.add_for_product2(product2_id, _catalog_plan(raw))
    for sku, product in (by_sku or {}).items():
        for raw in _attr(product, "rate_plans", default=()) or ():
            catalog.add_for_sku(sku, _catalog_plan(raw, product))
    return catalog
