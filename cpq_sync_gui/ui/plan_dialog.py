"""The plan before a run: target (profile, Zuora environment — production unmistakable and
confirmed by typing the profile name), engine, the records with the problems found per record
(exclude them, or fix them in Salesforce and re-plan), payloads on demand, and the dry run
(export the plan as JSON) from the same place."""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.redact import redact
from cpq_sync_gui.sync.throttle import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, MIN_CONCURRENCY
from cpq_sync_gui.ui.jobs import Job

if TYPE_CHECKING:
    from cpq_sync_gui.sync import PlannedRecord, SyncPlan

__all__ = ["PlanDialog", "PlanRecordsModel", "RunRequest", "RunTarget", "detach_job"]

_Index = QModelIndex | QPersistentModelIndex
ENGINE_TEXT = {
    "direct": "Direct — Zuora REST API with the documented mapping",
    "connector": "Connector — the “Send to Zuora” endpoint, then checked in Zuora",
}


@dataclass(frozen=True)
class RunTarget:
    """Where a run would go, as the plan dialog shows it."""

    profile_name: str
    salesforce: str  # login URL / org
    zuora: str  # the Zuora environment's label
    production: bool
    production_why: str = ""  # e.g. "the Zuora environment is a production tenant"
    engines: tuple[str, ...] = ("direct",)  # engines this profile can use
    engine_notes: str = ""  # why an engine is missing


@dataclass(frozen=True)
class RunRequest:
    plan: SyncPlan  # only the records the admin kept
    engine: str
    concurrency: int
    excluded: int = 0


def _action_text(record: PlannedRecord) -> str:
    if record.blocked:
        return "Not sent"
    if record.action == "skip":
        return "Skip"
    return record.action.title()


def _notes(record: PlannedRecord) -> str:
    parts = [p.message for p in record.errors]
    parts += [f"Warning: {p.message}" for p in record.problems if p.severity != "error"]
    if record.reason:
        parts.append(record.reason)
    return " ".join(parts)


class PlanRecordsModel(QAbstractTableModel):
    """The plan's records with an "include" checkbox; dependencies stay consistent:
    leaving out a record leaves out what needs it, keeping one keeps what it needs."""

    COLUMNS = ("", "Record", "Salesforce id", "Action", "Problems and notes")

    def __init__(self, plan: SyncPlan, parent: Any = None) -> None:
        super().__init__(parent)
        self.plan = plan
        self._records = list(plan.records)
        self._included = {r.record_id for r in self._records}
        self._dependents: dict[str, list[str]] = {}
        for record in self._records:
            for dependency in record.depends_on:
                self._dependents.setdefault(dependency, []).append(record.record_id)
        self._by_id = {r.record_id: r for r in self._records}

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 — Qt's signature
        return 0 if parent.isValid() else len(self._records)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = index.column()
        if column == 0 and role == Qt.ItemDataRole.CheckStateRole:
            included = record.record_id in self._included
            return Qt.CheckState.Checked if included else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 1:
                return record.label if record.selected else f"{record.label} (needed)"
            if column == 2:
                return record.record_id
            if column == 3:
                return _action_text(record)
            if column == 4:
                return _notes(record)
        if role == Qt.ItemDataRole.ToolTipRole and column in (1, 4):
            return _notes(record) or record.label
        if role == Qt.ItemDataRole.ForegroundRole and column in (3, 4):
            if record.blocked:
                return QColor("#c62828")
            if any(p.severity != "error" for p in record.problems):
                return QColor("#a15c00")
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.isValid() and index.column() == 0:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != 0 or role != Qt.ItemDataRole.CheckStateRole:
            return False
        state = value if isinstance(value, Qt.CheckState) else Qt.CheckState(value)
        self.set_included([self._records[index.row()].record_id], state == Qt.CheckState.Checked)
        return True

    # --- inclusion -------------------------------------------------------------------------

    def set_included(self, ids: list[str], included: bool) -> None:
        closure: set[str] = set()
        stack = list(ids)
        while stack:
            record_id = stack.pop()
            if record_id in closure or record_id not in self._by_id:
                continue
            closure.add(record_id)
            if included:
                stack.extend(self._by_id[record_id].depends_on)
            else:
                stack.extend(self._dependents.get(record_id, ()))
        if included:
            self._included |= closure
        else:
            self._included -= closure
        if self._records:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._records) - 1, 0))

    def exclude_problems(self) -> int:
        """Leave out every record that cannot be sent (and what depends on it)."""
        blocked = [
            r.record_id for r in self._records if r.blocked and r.record_id in self._included
        ]
        before = len(self._included)
        self.set_included(blocked, False)
        return before - len(self._included)

    def included(self) -> list[PlannedRecord]:
        return [r for r in self._records if r.record_id in self._included]

    def record_at(self, row: int) -> PlannedRecord:
        return self._records[row]


def payload_text(record: PlannedRecord, engine: str) -> str:
    """The payload of one record as pretty JSON (built only when asked for)."""
    if engine == "connector":
        what = "accountId" if record.record_kind == "account" else "orderId"
        return (
            f"The connector is triggered with GET …?sfdc=<org domain>&{what}={record.record_id}; "
            "it reads Salesforce and builds the Zuora records itself.\n\nWhat the direct "
            "engine would send:\n" + payload_text(record, "direct")
        )
    if record.payload is None:
        return f"Nothing is sent for this record. {_notes(record)}".strip()
    return redact(json.dumps(record.payload, indent=2, ensure_ascii=False, default=str))


def _plan_json(plan: SyncPlan, engine: str, path: Path) -> Path:
    document = plan.to_json()
    document["engine"] = engine
    text = redact(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    path.write_text(text + "\n", encoding="utf-8")
    return path


class PlanDialog(QDialog):
    """Review a plan, then run it (or only export it: the dry run)."""

    run_requested = Signal(object)  # RunRequest
    replan_requested = Signal(object)  # PlanOptions
    exported = Signal(Path)

    def __init__(
        self,
        plan: SyncPlan,
        target: RunTarget,
        *,
        dry_run: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("planDialog")
        self.target = target
        self.dry_run = dry_run
        self.replanning = False
        self._jobs: set[Job] = set()
        self.resize(1100, 680)

        self.banner = QLabel(self)
        self.banner.setObjectName("productionBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel#productionBanner { background: #c62828; color: white; font-weight: bold;"
            " padding: 10px; border-radius: 4px; }"
        )
        self.banner.setVisible(target.production)
        if target.production:
            self.banner.setText(
                f"PRODUCTION — profile “{target.profile_name}”, Zuora {target.zuora}. "
                f"This run changes live billing data ({target.production_why})."
            )
        self.engine = QComboBox(self)
        self.engine.setObjectName("engineChoice")
        self.engine.setAccessibleName("Engine")
        for name in ("direct", "connector"):
            self.engine.addItem(ENGINE_TEXT[name], name)
            if name not in target.engines:
                item = self.engine.model().item(self.engine.count() - 1)  # type: ignore[attr-defined]
                item.setEnabled(False)
                item.setToolTip(target.engine_notes)
        self.engine.setCurrentIndex(
            self.engine.findData(target.engines[0]) if target.engines else 0
        )
        self.update_existing = QCheckBox("Update accounts already in Zuora (re-plans)", self)
        self.update_existing.setObjectName("planUpdateExisting")
        self.update_existing.setChecked(plan.options.update_existing)
        self.update_existing.setVisible(plan.kind == "accounts")
        self.concurrency = QSpinBox(self)
        self.concurrency.setObjectName("planConcurrency")
        self.concurrency.setAccessibleName("Requests at a time")
        self.concurrency.setRange(MIN_CONCURRENCY, MAX_CONCURRENCY)
        self.concurrency.setValue(DEFAULT_CONCURRENCY)
        self.concurrency.setToolTip(
            f"How many records are sent at a time ({MIN_CONCURRENCY}–{MAX_CONCURRENCY}); "
            "the run slows down by itself when Zuora asks it to."
        )
        self.counts = QLabel(self)
        self.counts.setObjectName("planCounts")
        self.counts.setWordWrap(True)

        self.table = QTableView(self)
        self.table.setObjectName("planRecords")
        self.table.setAccessibleName("Planned records")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.payload = QPlainTextEdit(self)
        self.payload.setObjectName("planPayload")
        self.payload.setAccessibleName("Payload of the chosen record")
        self.payload.setReadOnly(True)
        self.payload.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.payload.setPlaceholderText("Choose a record to see what would be sent.")
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(self.payload)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)

        self.exclude_button = QPushButton("Leave out records with problems", self)
        self.exclude_button.setObjectName("planExcludeProblems")
        self.replan_button = QPushButton("Re-plan", self)
        self.replan_button.setObjectName("planReplan")
        self.replan_button.setToolTip("Read Salesforce and Zuora again (after fixing records)")
        self.export_button = QPushButton("Export JSON…", self)
        self.export_button.setObjectName("planExportJson")
        self.export_button.setToolTip("The dry run: every payload and problem, as JSON")
        self.confirm = QLineEdit(self)
        self.confirm.setObjectName("confirmProfileName")
        self.confirm.setAccessibleName("Type the profile name to confirm a production run")
        self.confirm.setPlaceholderText(f"Type “{target.profile_name}” to confirm")
        self.confirm.setVisible(target.production and not dry_run)
        self.confirm.setMinimumWidth(
            self.fontMetrics().horizontalAdvance(self.confirm.placeholderText()) + 24
        )
        self.run_button = QPushButton("Run", self)
        self.run_button.setObjectName("planRun")
        self.run_button.setDefault(not target.production)
        self.run_button.setAutoDefault(False)
        self.run_button.setVisible(not dry_run)
        close = QPushButton("Close", self)
        close.setObjectName("planClose")
        close.setAutoDefault(False)

        form = QFormLayout()
        form.addRow("Profile:", QLabel(target.profile_name, self))
        form.addRow("Salesforce:", QLabel(target.salesforce, self))
        zuora = QLabel(target.zuora + ("  (PRODUCTION)" if target.production else ""), self)
        zuora.setObjectName("planZuoraEnvironment")
        if target.production:
            zuora.setStyleSheet("color: #c62828; font-weight: bold;")
        form.addRow("Zuora:", zuora)
        form.addRow("Engine:", self.engine)
        options = QHBoxLayout()
        options.addWidget(QLabel("Requests at a time:", self))
        options.addWidget(self.concurrency)
        options.addSpacing(16)
        options.addWidget(self.update_existing)
        options.addStretch(1)
        form.addRow("Options:", options)
        buttons = QHBoxLayout()
        buttons.addWidget(self.exclude_button)
        buttons.addWidget(self.replan_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(self.confirm)
        buttons.addWidget(self.run_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(self.counts)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)

        self.exclude_button.clicked.connect(self.exclude_problems)
        self.replan_button.clicked.connect(self.replan)
        self.update_existing.toggled.connect(lambda _on: self.replan())
        self.export_button.clicked.connect(self._ask_export)
        self.confirm.textChanged.connect(self._update)
        self.engine.currentIndexChanged.connect(lambda _i: self._show_payload())
        self.run_button.clicked.connect(self._run)
        close.clicked.connect(self.reject)
        self.model: PlanRecordsModel | None = None
        self.set_plan(plan)

    # --- the plan --------------------------------------------------------------------------

    @property
    def plan(self) -> SyncPlan:
        assert self.model is not None
        return self.model.plan

    def set_plan(self, plan: SyncPlan) -> None:
        """Show a (new) plan; a re-plan starts again with every record included."""
        self.model = PlanRecordsModel(plan, self)
        self.model.dataChanged.connect(lambda *_: self._update())
        self.table.setModel(self.model)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_payload())
        header = self.table.horizontalHeader()
        em = self.fontMetrics().horizontalAdvance("M")
        for column, width in enumerate((2.5, 16, 11, 10)):
            header.resizeSection(column, int(width * em))
        self.replanning = False
        what = "Dry run" if self.dry_run else "Plan"
        prod = "PRODUCTION — " if self.target.production else ""
        self.setWindowTitle(f"{prod}{what}: {len(plan.records):,} {plan.kind}")
        self.payload.clear()
        if plan.records:
            self.table.selectRow(0)
        self._update()

    def replan(self) -> None:
        if self.replanning:
            return
        self.replanning = True
        self.counts.setText("Re-planning: reading Salesforce and Zuora again…")
        self._update()
        from cpq_sync_gui.sync import PlanOptions

        self.replan_requested.emit(
            PlanOptions(
                update_existing=self.update_existing.isChecked(), mapping=self.plan.options.mapping
            )
        )

    def replan_failed(self, message: str) -> None:
        self.replanning = False
        self._update()
        self.counts.setText(f"Re-planning failed: {message}")

    def exclude_problems(self) -> int:
        assert self.model is not None
        return self.model.exclude_problems()

    def selected_engine(self) -> str:
        return str(self.engine.currentData())

    def request(self) -> RunRequest:
        assert self.model is not None
        included = self.model.included()
        plan = replace(self.plan, records=tuple(included))
        return RunRequest(
            plan,
            self.selected_engine(),
            self.concurrency.value(),
            excluded=len(self.plan.records) - len(included),
        )

    # --- state ------------------------------------------------------------------------------

    def confirmed(self) -> bool:
        return not self.target.production or self.confirm.text().strip() == self.target.profile_name

    def _update(self) -> None:
        if self.model is None:
            return
        included = self.model.included()
        counts = {"create": 0, "update": 0, "skip": 0, "blocked": 0}
        for record in included:
            counts["blocked" if record.blocked else record.action] += 1
        total = len(self.plan.records)
        if not self.replanning:
            parts = [f"{len(included):,} of {total:,} records in the run"]
            parts += [f"{counts[k]:,} to {k}" for k in ("create", "update") if counts[k]]
            if counts["skip"]:
                parts.append(f"{counts['skip']:,} already in Zuora (skipped)")
            if counts["blocked"]:
                parts.append(f"{counts['blocked']:,} with problems (they will fail unsent)")
            if self.plan.salesforce_queries is not None:
                queries = self.plan.salesforce_queries
                parts.append(f"read with {queries} Salesforce quer{'y' if queries == 1 else 'ies'}")
            self.counts.setText(" · ".join(parts) + ".")
        blocked = sum(1 for r in self.plan.records if r.blocked)
        self.exclude_button.setEnabled(blocked > 0 and not self.replanning)
        self.replan_button.setEnabled(not self.replanning)
        self.export_button.setEnabled(not self.replanning)
        self.run_button.setText(f"Run {len(included):,} records")
        self.run_button.setEnabled(
            bool(included)
            and not self.replanning
            and self.confirmed()
            and self.selected_engine() in self.target.engines
        )

    def _show_payload(self) -> None:
        index = self.table.currentIndex()
        if self.model is None or not index.isValid():
            return
        self.payload.setPlainText(
            payload_text(self.model.record_at(index.row()), self.selected_engine())
        )

    def _run(self) -> None:
        if not self.run_button.isEnabled():
            return
        self.run_requested.emit(self.request())
        self.accept()

    # --- the dry run: export ----------------------------------------------------------------

    def _ask_export(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export the plan as JSON", f"cpq-sync-plan-{self.plan.kind}.json", "JSON (*.json)"
        )
        if name:
            self.export_json(Path(name))

    def export_json(self, path: Path) -> Job:
        """Write the plan (the records kept in the run) as JSON, off the GUI thread."""
        plan, engine = self.request().plan, self.selected_engine()
        job = Job("plan-json", lambda _ctx: _plan_json(plan, engine, path), self)
        self._jobs.add(job)
        job.succeeded.connect(lambda written: self._exported(written))
        job.failed.connect(
            lambda message, _details: self.counts.setText(f"Export failed: {message}")
        )
        job.finished.connect(lambda: self._jobs.discard(job))
        return job.start()

    def _exported(self, path: Path) -> None:
        self.counts.setText(f"Plan exported to {path}.")
        self.exported.emit(path)

    def done(self, result: int) -> None:
        for job in list(self._jobs):
            detach_job(job)
        self._jobs.clear()
        super().done(result)


def detach_job(job: Job) -> None:
    """A job still running when its dialog goes: it finishes on its own, shows nothing, and is
    deleted afterwards (a QThread destroyed while running would abort the app)."""
    if not job.running:
        return
    for signal in (job.events, job.succeeded, job.failed, job.finished):
        with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
            warnings.simplefilter("ignore")  # "nothing was connected" is fine
            signal.disconnect()
    job.setParent(QCoreApplication.instance())
    job.finished.connect(job.deleteLater)
