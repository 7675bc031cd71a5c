"""The simulated org's sObject definitions (what `describe` answers and what SOQL may select)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldDef:
    """One sObject field, as describe reports it. ``name`` is the API name (canonical case)."""

    name: str
    type: str  # id, string, textarea, reference, date, datetime, double, currency, int,
    #            boolean, picklist, phone, email, url, percent
    label: str
    reference_to: str | None = None  # e.g. "Account" for ParentId
    relationship_name: str | None = None  # e.g. "Parent" for ParentId
    nillable: bool = True
    length: int = 0
    picklist_values: tuple[str, ...] = ()
    custom: bool = False  # True for SBQQ__… and …__c fields


@dataclass(frozen=True)
class ChildRelationship:
    """A parent-to-child relationship usable in a subquery, e.g. Order.OrderItems."""

    name: str  # "OrderItems"
    child_sobject: str  # "OrderItem"
    field: str  # "OrderId" on the child


@dataclass(frozen=True)
class SObjectDef:
    name: str
    label: str
    label_plural: str
    key_prefix: str  # "001"
    fields: dict[str, FieldDef] = field(default_factory=dict)  # by API name
    child_relationships: dict[str, ChildRelationship] = field(default_factory=dict)
    queryable: bool = True

    def field_named(self, name: str) -> FieldDef | None:
        """Case-insensitive field look-up, as SOQL does it."""
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((f for f in self.fields.values() if f.name.lower() == lowered), None)

    def relationship_named(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name`` (case-insensitive)."""
        lowered = name.lower()
        return next(
            (
                f
                for f in self.fields.values()
                if f.relationship_name and f.relationship_name.lower() == lowered
            ),
            None,
        )

    def child_relationship_named(self, name: str) -> ChildRelationship | None:
        lowered = name.lower()
        return next(
            (c for c in self.child_relationships.values() if c.name.lower() == lowered), None
        )


Schema = dict[str, SObjectDef]  # by sObject API name
