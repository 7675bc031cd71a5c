"""Run history from the journal (outcomes, open one, resume one) and, at start-up, the offer to
resume a run that was interrupted (the app was killed, the laptop closed, the power went)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.sync import RecordState, RunJournal
from cpq_sync_gui.sync.journal import RunSummary
from cpq_sync_gui.ui.jobs import Job
from cpq_sync_gui.ui.plan_dialog import detach_job

__all__ = [
    "ResumeOffer",
    "RunHistoryDialog",
    "RunHistoryModel",
    "find_interrupted",
    "load_history",
    "open_past_run",
    "outcome_text",
]

_Index = QModelIndex | QPersistentModelIndex
HISTORY_LIMIT = 200


def load_history(journal_path: Path | None, limit: int = HISTORY_LIMIT) -> list[RunSummary]:
    """Newest first, with the count of records per state (blocking: call it in a Job)."""
    with RunJournal(journal_path) as journal:
        return [journal.run_summary(run.run_id) for run in journal.list_runs(limit)]


def find_interrupted(journal_path: Path | None) -> list[RunSummary]:
    """Runs the journal says are unfinished (blocking: call it in a Job)."""
    with RunJournal(journal_path) as journal:
        return [journal.run_summary(run.run_id) for run in journal.unfinished_runs()]


def open_past_run(controller: Any, run_id: str) -> Job:
    """Read a run from the journal (in a Job) and show it on the controller's run panel."""
    from cpq_sync_gui.ui.run_bridge import ShownRun, rows_of

    def read(_context: Any) -> tuple[RunSummary, list[Any]]:
        with RunJournal(controller.journal_path) as journal:
            return journal.run_summary(run_id), journal.records_of(run_id)

    def show(found: tuple[RunSummary, list[Any]]) -> None:
        summary, records = found
        run = summary.run
        controller.shown = ShownRun(run.run_id, run.profile, run.kind, run.engine, run.options)
        status = "Interrupted" if summary.unfinished else run.status.title()
        controller.panel.show_run(
            f"Run {run.run_id}: {run.kind} ({run.engine}) · profile {run.profile}",
            rows_of(records),
            f"{status} run, started {_when(run.started_at)} UTC: {outcome_text(summary)}.",
            run.run_id,
        )

    job = controller.job("sync-open-run", read)
    job.succeeded.connect(show)
    job.failed.connect(lambda message, _d: controller.panel.show_message(message, "ERROR"))
    return job.start()


def outcome_text(summary: RunSummary) -> str:
    parts = []
    for state in RecordState:
        count = summary.count(state)
        if count:
            parts.append(f"{count:,} {state.label.lower()}")
    if summary.unfinished:
        parts.append(f"{summary.unfinished:,} not finished")
    return ", ".join(parts) or "no records"


def _when(text: str | None) -> str:
    return (text or "")[:19].replace("T", " ")


class RunHistoryModel(QAbstractTableModel):
    COLUMNS = ("Started (UTC)", "Run", "Profile", "What", "Engine", "Status", "Outcome")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.summaries: list[RunSummary] = []
        self.active_run: str | None = None  # running in this window now

    def set_summaries(self, summaries: list[RunSummary], active_run: str | None) -> None:
        self.beginResetModel()
        self.summaries = summaries
        self.active_run = active_run
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 — Qt's signature
        return 0 if parent.isValid() else len(self.summaries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def status(self, summary: RunSummary) -> str:
        run = summary.run
        if run.run_id == self.active_run:
            return "Running now"
        if run.status == "running" or summary.unfinished:
            return "Interrupted"
        return run.status.title()

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        summary = self.summaries[index.row()]
        run = summary.run
        values = (
            _when(run.started_at),
            run.run_id,
            run.profile,
            f"{summary.total:,} {run.kind}"
            + (f" (retry of {run.parent_run_id})" if run.parent_run_id else ""),
            run.engine,
            self.status(summary),
            outcome_text(summary) + (f" — {run.message}" if run.message else ""),
        )
        return values[index.column()]

    def resumable(self, row: int) -> bool:
        summary = self.summaries[row]
        return self.status(summary) == "Interrupted"


class RunHistoryDialog(QDialog):
    """Past runs, newest first; open one on the run panel, or resume an interrupted one."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runHistory")
        self.setWindowTitle("Run history")
        self.resize(1000, 480)
        self.controller = controller
        self.model = RunHistoryModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("runHistoryTable")
        self.table.setAccessibleName("Past runs")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.status = QLabel("Reading the journal…", self)
        self.status.setObjectName("runHistoryStatus")
        self.open_button = QPushButton("Open", self)
        self.open_button.setObjectName("runHistoryOpen")
        self.open_button.setToolTip("Show the run's records (then Retry failed or Export)")
        self.resume_button = QPushButton("Resume", self)
        self.resume_button.setObjectName("runHistoryResume")
        self.resume_button.setToolTip("Finish what the run did not finish; Zuora is checked "
                                      "first for records that may have been sent")  # fmt: skip
        refresh = QPushButton("Refresh", self)
        close = QPushButton("Close", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for button in (self.open_button, self.resume_button, refresh, close):
            button.setAutoDefault(False)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.open_button.clicked.connect(self.open_selected)
        self.resume_button.clicked.connect(self.resume_selected)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        refresh.clicked.connect(self.load)
        close.clicked.connect(self.reject)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self._job: Job | None = None
        self._update_buttons()
        self.load()

    def load(self) -> Job | None:
        if self._job is not None:
            return None
        path = self.controller.journal_path
        job = Job("run-history", lambda _ctx: load_history(path), self)
        job.succeeded.connect(self._loaded)
        job.failed.connect(lambda message, _d: self.status.setText(message))
        job.finished.connect(self._job_done)
        self._job = job
        return job.start()

    def _job_done(self) -> None:
        self._job = None

    def _loaded(self, summaries: list[RunSummary]) -> None:
        active = (
            self.controller.shown.run_id
            if self.controller.running and self.controller.shown
            else None
        )
        self.model.set_summaries(summaries, active)
        self.status.setText(f"{len(summaries):,} runs" if summaries else "No runs yet.")
        if summaries:
            self.table.selectRow(0)
        self._update_buttons()

    def _selected(self) -> int | None:
        index = self.table.currentIndex()
        return index.row() if index.isValid() else None

    def _update_buttons(self) -> None:
        row = self._selected()
        busy = self.controller.busy
        self.open_button.setEnabled(row is not None and not busy)
        self.resume_button.setEnabled(row is not None and not busy and self.model.resumable(row))

    def open_selected(self) -> None:
        row = self._selected()
        if row is None or self.controller.busy:
            return
        self.controller.open_run(self.model.summaries[row].run.run_id)
        self.accept()

    def resume_selected(self) -> None:
        row = self._selected()
        if row is None or not self.model.resumable(row):
            return
        self.controller.resume(self.model.summaries[row].run)
        self.accept()

    def done(self, result: int) -> None:
        if self._job is not None:
            detach_job(self._job)
            self._job = None
        super().done(result)


class ResumeOffer(QMessageBox):
    """ "A run was interrupted: resume it?" — shown once at start-up (non-blocking)."""

    def __init__(self, summaries: list[RunSummary], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resumeOffer")
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Resume an interrupted run?")
        self.summaries = summaries
        newest = summaries[-1]
        run = newest.run
        more = f" ({len(summaries) - 1} more in Runs → History)" if len(summaries) > 1 else ""
        self.setText(
            f"Run {run.run_id} ({newest.total:,} {run.kind}, profile “{run.profile}”) was "
            f"interrupted{more}."
        )
        self.setInformativeText(
            f"Started {_when(run.started_at)} UTC: {outcome_text(newest)}.\n\nResume finishes "
            "the records that did not finish; those that may have reached Zuora are looked up "
            "there first, so nothing is created twice. Resume only if the run is not still "
            "going on in another CPQ Sync window or command."
        )
        self.resume_button = self.addButton("Resume", QMessageBox.ButtonRole.AcceptRole)
        self.resume_button.setObjectName("resumeOfferResume")
        self.later_button = self.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        self.later_button.setObjectName("resumeOfferLater")
        self.setDefaultButton(self.resume_button)

    @property
    def run(self) -> Any:
        return self.summaries[-1].run
