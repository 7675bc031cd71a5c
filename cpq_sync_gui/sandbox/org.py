"""The simulated Salesforce org's records: flat field dicts per sObject, safe across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from cpq_sync_gui.sandbox.schema import Schema, SObjectDef

Record = dict[str, Any]  # API field name -> value; dates "YYYY-MM-DD", datetimes
#                          "YYYY-MM-DDTHH:MM:SS.000+0000", numbers, booleans, None


class OrgStore:
    """All records of the simulated org.

    Records are flat: reference fields hold ids (``ParentId``, ``AccountId``); relationships
    are resolved at query time through the schema. Ids are assigned by ``insert`` with the
    sObject's key prefix and a valid case-safe checksum (``id_factory``).
    """

    def __init__(self, schema: Schema, id_factory: Callable[[str], str]) -> None:
        self.schema = schema
        self._new_id = id_factory  # key prefix -> new 18-character id
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Record]] = {name: {} for name in schema}

    def sobject(self, name: str) -> SObjectDef | None:
        """Case-insensitive sObject look-up."""
        found = self.schema.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        return next((s for s in self.schema.values() if s.name.lower() == lowered), None)

    def insert(self, sobject: str, fields: Record) -> str:
        definition = self.schema[sobject]
        with self._lock:
            record_id = fields.get("Id") or self._new_id(definition.key_prefix)
            record = {**fields, "Id": record_id}
            self._records[sobject][record_id] = record
            return record_id

    def update(self, sobject: str, record_id: str, fields: Record) -> None:
        with self._lock:
            self._records[sobject][record_id].update(fields)

    def delete(self, sobject: str, record_id: str) -> None:
        with self._lock:
            self._records[sobject].pop(record_id, None)

    def get(self, sobject: str, record_id: str) -> Record | None:
        """A copy of one record, matching 15- or 18-character ids."""
        with self._lock:
            table = self._records[sobject]
            record = table.get(record_id)
            if record is None and len(record_id) == 15:
                record = next((r for i, r in table.items() if i[:15] == record_id), None)
            return dict(record) if record is not None else None

    def all(self, sobject: str) -> list[Record]:
        """Copies of every record of ``sobject`` in insertion order."""
        with self._lock:
            return [dict(r) for r in self._records[sobject].values()]

    def where(self, sobject: str, predicate: Callable[[Record], bool]) -> list[Record]:
        with self._lock:
            return [dict(r) for r in self._records[sobject].values() if predicate(r)]

    def count(self, sobject: str) -> int:
        with self._lock:
            return len(self._records[sobject])

    def bulk_insert(self, sobject: str, rows: Iterable[Record]) -> None:
        with self._lock:
            for row in rows:
                self.insert(sobject, row)
