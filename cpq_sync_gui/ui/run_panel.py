"""The run panel: progress with done / total, rate and ETA, counts, Cancel (Esc), Retry failed,
Export results, the run's records with their live state, a summary, and a notification when a
long run ends while the window is in the background."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.sync.events import Progress, RecordState
from cpq_sync_gui.ui.record_table import OnScreenTable
from cpq_sync_gui.ui.run_rows import SHOW_CHOICES, RunRecordsFilter, RunRecordsModel, RunRow

__all__ = ["RETRY_STATES", "RunNotifier", "RunPanel", "duration_text"]

RETRY_STATES = (RecordState.FAILED, RecordState.TIMED_OUT, RecordState.CANCELLED)
"""What "Retry failed" sends again: everything that did not get to Zuora in that run."""
_ORDER = (
    RecordState.SYNCED,
    RecordState.ACCEPTED,
    RecordState.SKIPPED,
    RecordState.FAILED,
    RecordState.TIMED_OUT,
    RecordState.CANCELLED,
    RecordState.VERIFYING,
    RecordState.RUNNING,
    RecordState.QUEUED,
)


def duration_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def counts_text(counts: Mapping[RecordState, int]) -> str:
    parts = [f"{state.label} {counts[state]:,}" for state in _ORDER if counts.get(state)]
    return " · ".join(parts)


class RunNotifier:
    """Tells the admin a long run ended: a tray message, or the taskbar alert without a tray."""

    def __init__(self, window: QWidget) -> None:
        self.window = window
        self.sent: list[tuple[str, str, str]] = []  # (how, title, text), for tests and support
        self._tray: QSystemTrayIcon | None = None

    def notify(self, title: str, text: str) -> str:
        if QSystemTrayIcon.isSystemTrayAvailable() and QSystemTrayIcon.supportsMessages():
            if self._tray is None:
                icon = self.window.windowIcon()
                if icon.isNull():
                    icon = QApplication.style().standardIcon(
                        QStyle.StandardPixmap.SP_DialogApplyButton
                    )
                self._tray = QSystemTrayIcon(QIcon(icon), self.window)
                self._tray.setToolTip("CPQ Sync")
                self._tray.messageClicked.connect(self._raise_window)
            self._tray.show()
            self._tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 15000)
            how = "tray"
        else:  # no tray (some Linux desktops, Xvfb): flash the taskbar entry instead
            QApplication.alert(self.window, 0)
            how = "alert"
        self.sent.append((how, title, text))
        return how

    def _raise_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()


class RunTable(OnScreenTable):
    """The run's records; a batch of state changes repaints only the changed rows it shows."""


def _button(text: str, name: str, tip: str, parent: QWidget) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.setToolTip(tip)
    button.setAccessibleName(text.replace("…", ""))
    return button


class RunPanel(QWidget):
    """Shows one run (live, or a past one opened from the history)."""

    cancel_requested = Signal()
    retry_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runPanel")
        self.running = False
        self.run_id: str | None = None
        self._total = 0
        self._done = 0
        self._progress: Progress | None = None
        self._started = 0.0

        self.title = QLabel("No run yet", self)
        self.title.setObjectName("runTitle")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.message = QLabel(self)
        self.message.setObjectName("runMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.progress = QProgressBar(self)
        self.progress.setObjectName("runProgress")
        self.progress.setAccessibleName("Run progress")
        self.progress.setFormat("No run yet")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.stats = QLabel("Select records, then Sync selected.", self)
        self.stats.setObjectName("runStats")
        self.counts = QLabel(self)
        self.counts.setObjectName("runCounts")
        self.counts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QLabel(self)
        self.summary.setObjectName("runSummary")
        self.summary.setWordWrap(True)
        self.summary.setFont(font)
        self.summary.hide()
        self.cancel_button = _button(
            "Cancel", "runCancel", "Stop the run: nothing new is sent (Esc)", self
        )
        self.retry_button = _button(
            "Retry failed", "runRetryFailed", "Send only this run's failed records again", self
        )
        self.export_button = _button(
            "Export results…",
            "runExport",
            "Write a success file and an error file (CSV, as Data Loader does)",
            self,
        )
        self.show_choice = QComboBox(self)
        self.show_choice.setObjectName("runShow")
        self.show_choice.setAccessibleName("Show records")
        for text, _states in SHOW_CHOICES:
            self.show_choice.addItem(text)

        self.model = RunRecordsModel(self)
        self.filter = RunRecordsFilter(self)
        self.filter.setSourceModel(self.model)
        self.table = RunTable(self)
        self.table.setObjectName("runRecords")
        self.table.setAccessibleName("Records of the run")
        self.table.setModel(self.filter)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        em = self.fontMetrics().horizontalAdvance("M")
        for column, width in enumerate((16, 7, 9, 12)):
            header.resizeSection(column, width * em)

        self._layout()
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.retry_button.clicked.connect(self.retry_requested)
        self.export_button.clicked.connect(self.export_requested)
        self.show_choice.currentIndexChanged.connect(
            lambda i: self.filter.set_states(SHOW_CHOICES[i][1])
        )
        cancel_key = QAction(self)
        cancel_key.setObjectName("runCancelShortcut")
        cancel_key.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        # Only inside the panel: the record tabs use Esc to stop reading, and two Esc
        # shortcuts in one window would cancel each other out.
        cancel_key.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        cancel_key.triggered.connect(self._escape)
        self.addAction(cancel_key)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._show_stats)
        self._set_buttons()

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.progress, 1)
        top.addWidget(self.cancel_button)
        top.addWidget(self.retry_button)
        top.addWidget(self.export_button)
        line = QHBoxLayout()
        line.addWidget(self.stats, 1)
        line.addWidget(self.show_choice)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addLayout(top)
        layout.addLayout(line)
        layout.addWidget(self.counts)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)

    # --- a live run --------------------------------------------------------------------

    def begin(self, title: str, rows: Iterable[RunRow], run_id: str | None = None) -> None:
        """Show a new run starting with these records (all Queued unless said otherwise)."""
        self.model.reset(rows)
        self.run_id = run_id
        self.running = True
        self._started = time.monotonic()
        self._progress = None
        self._total = self.model.total()
        self._done = sum(n for s, n in self.model.counts().items() if s.is_final)
        self.title.setText(title)
        self.summary.hide()
        self.show_message("")
        self.progress.setRange(0, max(1, self._total))
        self.progress.setValue(self._done)
        self.progress.setFormat("%v / %m")
        self._show_stats()
        self._show_counts()
        self._set_buttons()
        self._clock.start()
        # After the plan dialog has closed (it gives the focus back to where it was), so Esc
        # reaches this panel's shortcut.
        QTimer.singleShot(0, self._focus_cancel)

    def set_title(self, title: str, run_id: str | None = None) -> None:
        self.title.setText(title)
        if run_id is not None:
            self.run_id = run_id

    def apply(self, changes: Mapping[str, RunRow], progress: Progress | None) -> None:
        """One batch of the run's events (the latest state per record, the latest progress)."""
        self.model.apply(changes)
        if changes:
            self.filter.refilter()
        if progress is not None:
            self._progress = progress
        counts = self.model.counts()
        self._total = self.model.total()
        self._done = sum(n for s, n in counts.items() if s.is_final)
        if self.progress.maximum() != max(1, self._total):
            self.progress.setRange(0, max(1, self._total))
        self.progress.setValue(self._done)
        self._show_stats()
        self.counts.setText(counts_text(counts))

    def finish(self, summary: str, *, error: bool = False) -> None:
        self.running = False
        self._clock.stop()
        self._show_stats()
        self._show_counts()
        self.summary.setText(summary)
        self.summary.setStyleSheet("color: #c62828;" if error else "")
        self.summary.show()
        self._set_buttons()

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.stats.setText(self.stats.text() + " — cancelling…")

    # --- a past run ----------------------------------------------------------------------

    def show_run(self, title: str, rows: Iterable[RunRow], summary: str, run_id: str) -> None:
        self.model.reset(rows)
        self.run_id = run_id
        self.running = False
        self._progress = None
        self._clock.stop()
        self._total = self.model.total()
        self._done = sum(n for s, n in self.model.counts().items() if s.is_final)
        self.progress.setRange(0, max(1, self._total))
        self.progress.setValue(self._done)
        self.progress.setFormat("%v / %m")
        self.title.setText(title)
        self.stats.setText(f"{self._done:,} of {self._total:,} finished")
        self._show_counts()
        self.summary.setText(summary)
        self.summary.setStyleSheet("")
        self.summary.show()
        self._set_buttons()

    # --- helpers -------------------------------------------------------------------------

    def show_message(self, text: str, level: str = "INFO") -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #c62828;" if level == "ERROR" else "")
        self.message.setVisible(bool(text))

    def retry_count(self) -> int:
        counts = self.model.counts()
        return sum(counts.get(state, 0) for state in RETRY_STATES)

    def _set_buttons(self) -> None:
        has_run = self.run_id is not None or self.model.total() > 0
        self.cancel_button.setEnabled(self.running)
        retry = 0 if self.running else self.retry_count()
        counts = self.model.counts()
        cancelled = counts.get(RecordState.CANCELLED, 0)
        words = "Retry failed and cancelled" if cancelled else "Retry failed"
        self.retry_button.setText(f"{words} ({retry:,})" if retry else "Retry failed")
        self.retry_button.setEnabled(bool(retry) and self.run_id is not None)
        self.export_button.setEnabled(has_run and not self.running and self.run_id is not None)

    def _show_counts(self) -> None:
        self.counts.setText(counts_text(self.model.counts()))

    def _show_stats(self) -> None:
        if not self.running:
            if self._total:
                self.stats.setText(f"{self._done:,} of {self._total:,} finished")
            return
        elapsed = time.monotonic() - self._started
        parts = [f"{self._done:,} of {self._total:,} done", f"{duration_text(elapsed)} elapsed"]
        progress = self._progress
        if progress is not None and progress.rate_per_s > 0:
            parts.append(f"{progress.rate_per_s:.1f} records/s")
        if progress is not None and progress.eta_s is not None and self._done < self._total:
            parts.append(f"about {duration_text(progress.eta_s)} left")
        elif self._done < self._total:
            parts.append("estimating time left…")
        self.stats.setText(" · ".join(parts))

    def _focus_cancel(self) -> None:
        if self.running and self.cancel_button.isEnabled():
            self.cancel_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def _escape(self) -> None:
        if self.running and self.cancel_button.isEnabled():
            self.cancel_requested.emit()
