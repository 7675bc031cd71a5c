"""The sync engine, without Qt: plan → run → journal, shared by the window and the CLI.

- :func:`build_plan` reads Salesforce and Zuora and returns a :class:`SyncPlan` (the dry run).
- :class:`SyncRunner` executes a plan with an engine (:class:`DirectEngine` or
  :class:`ConnectorEngine`), journaling every step in a :class:`RunJournal` and reporting
  events to one :class:`Subscriber`; it also resumes interrupted runs and retries failures.
- docs/mapping.md lists how each field is mapped (:data:`MAPPING_RULES` in code).
"""

from __future__ import annotations

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
