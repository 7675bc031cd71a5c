"""The sync engine, without Qt: plan → run → journal, shared by the window and the CLI.

- :func:`build_plan` reads Salesforce and Zuora and returns a :class:`SyncPlan` (the dry run).
- :class:`SyncRunner` executes a plan with an engine (:class:`DirectEngine` or
  :class:`ConnectorEngine`), journaling every step in a :class:`RunJournal` and reporting
  events to one :class:`Subscriber`; it also resumes interrupted runs and retries failures.
- docs/mapping.md lists how each field is mapped (:data:`MAPPING_RULES` in code).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpq_sync_gui.sync.engine_api import (
        AttemptError,
        CallContext,
        Engine,
        Outcome,
        RecordResult,
        RunResult,
    )
    from cpq_sync_gui.sync.engines import ConnectorEngine, DirectEngine
    from cpq_sync_gui.sync.events import (
        FINAL_STATES,
        Event,
        LogLine,
        Progress,
        RecordState,
        RecordStateChanged,
        RunFinished,
        RunStarted,
        Subscriber,
    )
    from cpq_sync_gui.sync.journal import JournalError, RunJournal
    from cpq_sync_gui.sync.mapping import MAPPING_RULES, MappingOptions, Problem
    from cpq_sync_gui.sync.plan import PlannedRecord, PlanOptions, SyncPlan, build_plan
    from cpq_sync_gui.sync.runner import SyncRunner
    from cpq_sync_gui.sync.throttle import RetryPolicy

# Loaded on first use (PEP 562), so importing one submodule (e.g. sync.events for the run
# panel) does not load the engines and their network clients: the window paints sooner.
_SUBMODULE_OF = {
    "AttemptError": "engine_api",
    "CallContext": "engine_api",
    "ConnectorEngine": "engines",
    "DirectEngine": "engines",
    "Engine": "engine_api",
    "Event": "events",
    "FINAL_STATES": "events",
    "JournalError": "journal",
    "LogLine": "events",
    "MAPPING_RULES": "mapping",
    "MappingOptions": "mapping",
    "Outcome": "engine_api",
    "PlanOptions": "plan",
    "PlannedRecord": "plan",
    "Problem": "mapping",
    "Progress": "events",
    "RecordResult": "engine_api",
    "RecordState": "events",
    "RecordStateChanged": "events",
    "RetryPolicy": "throttle",
    "RunFinished": "events",
    "RunJournal": "journal",
    "RunResult": "engine_api",
    "RunStarted": "events",
    "Subscriber": "events",
    "SyncPlan": "plan",
    "SyncRunner": "runner",
    "build_plan": "plan",
}

__all__ = [
    "FINAL_STATES",
    "MAPPING_RULES",
    "AttemptError",
    "CallContext",
    "ConnectorEngine",
    "DirectEngine",
    "Engine",
    "Event",
    "JournalError",
    "LogLine",
    "MappingOptions",
    "Outcome",
    "PlanOptions",
    "PlannedRecord",
    "Problem",
    "Progress",
    "RecordResult",
    "RecordState",
    "RecordStateChanged",
    "RetryPolicy",
    "RunFinished",
    "RunJournal",
    "RunResult",
    "RunStarted",
    "Subscriber",
    "SyncPlan",
    "SyncRunner",
    "build_plan",
]


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULE_OF.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
