"""One records tab (Accounts or Orders): search, filters, table, bulk selection, progress, details.

All reads run as :class:`~cpq_sync_gui.ui.jobs.Job` s (see ``record_loading``); the widget
only applies their events. The selection is the model's set of ids, so it survives sorting,
filtering and new searches.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.ui.heap import freeze_long_lived
from cpq_sync_gui.ui.jobs import Job
from cpq_sync_gui.ui.record_actions import RowActions
from cpq_sync_gui.ui.record_details import RecordDetails
from cpq_sync_gui.ui.record_filters import FilterBar
from cpq_sync_gui.ui.record_ids import IdsImport
from cpq_sync_gui.ui.record_links import (
    RecordSource,
)
from cpq_sync_gui.ui.record_loading import (
    DEFAULT_BATCH_SIZE,
    Counted,
    FilterError,
    LoadOutcome,
    PageLoaded,
    StatusesChecked,
    ZuoraStatusFeed,
    load_rows,
    order_statuses,
    where_clause,
)
from cpq_sync_gui.ui.record_models import RecordFilterProxy, RecordTableModel
from cpq_sync_gui.ui.record_rows import (
    CHECKING,
    NO_ZUORA,
    RecordKind,
    Row,
    ZuoraStatus,
    zuora_summary,
)
from cpq_sync_gui.ui.record_table import RecordTable
from cpq_sync_gui.ui.status_label import StatusLabel

__all__ = ["RecordBrowser"]

INSERT_SLICE = 500  # rows inserted per event-loop turn (a 2,000-row page in four short steps)
FREEZE_INTERVAL_MS = 250  # at most this often, new rows are frozen for the collector


def _button(text: str, name: str, tip: str, parent: QWidget) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


def _loaded_text(loaded: int, total: int | None) -> str:
    """The progress of a load: "1,400 of 52,000 loaded"."""
    if total is None:
        return f"{loaded:,} loaded"
    return f"{loaded:,} of {max(total, loaded):,} loaded"


def _all_loaded_text(loaded: int, plural: str) -> str:
    return f"All {loaded:,} {plural} loaded"


class RecordBrowser(QWidget):
    """The content of the Accounts or Orders tab."""

    log = Signal(str, str)  # level, message — for the window's log pane

    def __init__(self, kind: RecordKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.batch_size = DEFAULT_BATCH_SIZE
        self.source: RecordSource | None = None
        self.setObjectName(f"{kind.plural}Browser")
        name = kind.plural
        self.model = RecordTableModel(kind, self)
        self.proxy = RecordFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter_bar = FilterBar(kind, self)
        self.table = RecordTable(kind, self.proxy, self)
        self.details = RecordDetails(self)
        self.details.hide()
        self.message = QLabel(self)
        self.message.setObjectName(f"{name}Message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        self.selected_label = StatusLabel("0 selected", self)
        self.selected_label.setObjectName(f"{name}SelectedCount")
        self.selected_label.setAccessibleName(f"Selected {name}")
        self.select_shown_button = _button(
            "Select shown", f"{name}SelectShown", "Select every loaded row shown (Ctrl+A)", self
        )
        self.select_matching_button = _button(
            "Select all matching",
            f"{name}SelectMatching",
            "Select every record that matches the search and filters, loaded or not",
            self,
        )
        self.invert_button = _button("Invert", f"{name}Invert", "Invert the shown rows", self)
        self.clear_button = _button("Clear", f"{name}ClearSelection", "Select nothing", self)
        self.ids = IdsImport(self)
        self.columns_button = _button("Columns", f"{name}Columns", "Show or hide columns", self)
        self.shown_label = StatusLabel(parent=self)
        self.shown_label.setObjectName(f"{name}ShownCount")

        self.progress_label = StatusLabel("Not loaded", self)
        self.progress_label.setObjectName(f"{name}Progress")
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setObjectName(f"{name}ProgressBar")
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumWidth(self.fontMetrics().horizontalAdvance("M" * 16))
        self.cancel_button = _button("Cancel", f"{name}Cancel", "Stop reading (Esc)", self)
        for widget in (self.progress_bar, self.cancel_button):
            # Shown and hidden without moving anything: no new layout (and repaint of the
            # table) when a load starts or ends.
            policy = widget.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            widget.setSizePolicy(policy)
            widget.hide()
        self.zuora_label = StatusLabel(parent=self)
        self.zuora_label.setObjectName(f"{name}ZuoraSummary")

        self._jobs: set[Job] = set()
        self._load_job: Job | None = None
        self._feed: ZuoraStatusFeed | None = None
        self._loaded = 0
        self._total: int | None = None
        self._started = 0.0
        self._pending: deque[Row] = deque()  # loaded rows not yet in the table
        self._insert_timer = QTimer(self)
        self._insert_timer.setSingleShot(True)
        self._insert_timer.setInterval(0)
        self._insert_timer.timeout.connect(self._insert_some)
        # Loaded rows live as long as the list: out of the garbage collector's full passes
        # with them (ui/heap.py), a few times a second while rows and statuses arrive.
        self._freeze_timer = QTimer(self)
        self._freeze_timer.setSingleShot(True)
        self._freeze_timer.setInterval(FREEZE_INTERVAL_MS)
        self._freeze_timer.timeout.connect(freeze_long_lived)
        self._summary_timer = QTimer(self)
        self._summary_timer.setSingleShot(True)
        self._summary_timer.setInterval(250)
        self._summary_timer.timeout.connect(self._update_summaries)
        self.actions = RowActions(self)
        self._layout()
        self._connect()
        self._update_selected(0)

    # --- layout and wiring -----------------------------------------------------------------

    def _layout(self) -> None:
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setObjectName(f"{self.kind.plural}Split")
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setCollapsible(0, False)
        selection = QHBoxLayout()
        selection.addWidget(self.selected_label)
        for widget in (
            self.select_shown_button,
            self.select_matching_button,
            self.invert_button,
            self.clear_button,
            self.ids.paste_button,
            self.ids.file_button,
        ):
            selection.addWidget(widget)
        selection.addStretch(1)
        selection.addWidget(self.shown_label)
        selection.addWidget(self.columns_button)
        progress = QHBoxLayout()
        progress.addWidget(self.progress_label)
        progress.addWidget(self.progress_bar)
        progress.addWidget(self.cancel_button)
        progress.addStretch(1)
        progress.addWidget(self.zuora_label)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.message)
        layout.addLayout(selection)
        layout.addWidget(split, 1)
        layout.addWidget(self.ids.report)
        layout.addLayout(progress)

    def _connect(self) -> None:
        self.filter_bar.search_requested.connect(self.search)
        self.filter_bar.quick_filter_changed.connect(self._quick_filter)
        self.filter_bar.only_not_in_zuora_changed.connect(self._only_not_in_zuora)
        self.model.selection_changed.connect(self._update_selected)
        for signal in (
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.modelReset,
            self.proxy.layoutChanged,
        ):
            signal.connect(self._summary_timer.start)
        self.select_shown_button.clicked.connect(self.select_shown)
        self.select_matching_button.clicked.connect(self.select_all_matching)
        self.invert_button.clicked.connect(self.invert_shown)
        self.clear_button.clicked.connect(self.model.clear_selection)
        self.columns_button.clicked.connect(self._columns_menu)
        self.cancel_button.clicked.connect(self.cancel)
        self.table.select_all_requested.connect(self.select_shown)
        self.table.details_requested.connect(self.open_details)
        self.table.row_menu_requested.connect(self._row_menu)
        self._shortcut(QKeySequence.StandardKey.Find, self.focus_search)
        self._shortcut(QKeySequence.StandardKey.SelectAll, self.select_shown)
        self._shortcut(QKeySequence(Qt.Key.Key_Escape), self.cancel)

    def _shortcut(self, keys: Any, slot: Callable[[], None]) -> QAction:
        action = QAction(self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def focus_search(self) -> None:
        self.filter_bar.search_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_bar.search_box.selectAll()

    def show_message(self, text: str, level: str = "ERROR") -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if text:
            self.log.emit(level, f"{self.kind.plural.title()}: {text}")

    # --- jobs ------------------------------------------------------------------------------

    def start_job(self, name: str, function: Callable[[Any], Any]) -> Job:
        job = Job(f"{self.kind.plural}-{name}", function, self)
        self._jobs.add(job)

        def done() -> None:
            self._jobs.discard(job)
            job.deleteLater()

        job.finished.connect(done)
        return job

    def busy(self) -> bool:
        return bool(self._pending) or any(job.running for job in self._jobs)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel every job of this tab and let them end (window closing, tests).

        The GUI thread keeps processing events meanwhile: a job's thread only stops after
        its "done" reaches the window, so a plain blocking wait would sit out its timeout.
        """
        if self._feed is not None:
            self._feed.close()
        for job in list(self._jobs):
            job.cancel()
        deadline = time.monotonic() + timeout_s
        while any(job.running for job in self._jobs) and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.002)
        self.table.save_layout()

    def cancel(self) -> None:
        """Stop reading: the list, select-all-matching, id look-ups and Zuora checks."""
        if not self.busy():
            return
        if self._feed is not None:
            self._feed.close()
        for job in list(self._jobs):
            job.cancel()
        self.progress_label.setText(self._progress_text() + " — cancelling…")

    # --- source and loading ----------------------------------------------------------------

    def set_source(self, source: RecordSource | None, *, load: bool = True) -> None:
        """Read from these connections (None: nothing connected); loads the list by default."""
        self.cancel()
        self.source = source
        self._pending.clear()
        self.model.clear()
        self._loaded, self._total = 0, None
        self.progress_label.setText("Not loaded" if source else "No connection")
        if source is not None and self.kind.sobject == "Order":
            job = self.start_job("statuses", lambda _ctx: order_statuses(source.salesforce))
            job.succeeded.connect(self.filter_bar.set_order_statuses)
            job.start()
        if source is not None and load:
            self.search()

    def search(self) -> None:
        """Ask Salesforce for the records matching the search box and filters."""
        filters = self.filter_bar.filters()
        try:
            where_clause(self.kind, filters, set())  # plain checks before any network call
        except FilterError as error:
            self.show_message(str(error))
            return
        if self.source is None:
            self.show_message("Choose a connection first: there is no Salesforce org to read.")
            return
        self.show_message("")
        # PySide wraps the table's viewport the first time it is asked for (~10 ms, once, to
        # find its Python type): here, while the first page is on its way, not at the first
        # rows, where the table's first insert and paint already take the window's time.
        self.table.viewport()
        for label in (self.progress_label, self.zuora_label):
            label.fit()  # room for this load's texts only (it grows as they need)
        self._stop_loading()
        self._pending.clear()
        self.model.clear()
        self._update_selected(self.model.selected_count())
        self._loaded, self._total = 0, None
        self._started = time.perf_counter()
        client = self.source.salesforce
        job = self.start_job(
            "load",
            partial(
                load_rows,
                client=client,
                kind=self.kind,
                filters=filters,
                batch_size=self.batch_size,
                zuora=NO_ZUORA if self.source.zuora is None else CHECKING,
            ),
        )
        job.events.connect(self._on_events)
        job.succeeded.connect(self._on_loaded)
        job.failed.connect(self._on_load_failed)
        self._load_job = job
        self._start_feed()
        self.show_progress(True)
        self.progress_label.setText(f"Counting {self.kind.plural}…")
        job.start()

    def _stop_loading(self) -> None:
        for job in (self._load_job,):
            if job is not None and job.running:
                job.cancel()
                job.events.disconnect(self._on_events)
                job.succeeded.disconnect(self._on_loaded)
                job.failed.disconnect(self._on_load_failed)
        if self._feed is not None:
            self._feed.close()
        self._feed = None

    def _start_feed(self) -> ZuoraStatusFeed | None:
        if self.source is None or self.source.zuora is None:
            return None
        feed = ZuoraStatusFeed(self.source.zuora, self.kind)
        job = self.start_job("zuora", feed.run)
        job.events.connect(self._on_events)
        job.failed.connect(lambda message, _details: self.log.emit("ERROR", message))
        self._feed = feed
        job.start()
        return feed

    def check_in_zuora(self, rows: list[Row]) -> None:
        """Queue rows for the Zuora status column (no Zuora connection: marked unknown)."""
        if self.source is None or self.source.zuora is None:
            self.model.set_statuses({row.zuora_key: NO_ZUORA for row in rows})
            return
        self.model.set_statuses({row.zuora_key: CHECKING for row in rows})
        feed = self._feed
        if feed is None or feed.closed:
            feed = self._start_feed()
            assert feed is not None
            feed.put(row.zuora_key for row in rows)
            if self._load_job is None or not self._load_job.running:
                feed.close()  # only these rows: the job ends once they are checked
            return
        feed.put(row.zuora_key for row in rows)

    def _on_events(self, events: list[Any]) -> None:
        statuses: dict[str, ZuoraStatus] = {}
        for event in events:
            if isinstance(event, PageLoaded):
                self._pending.extend(event.rows)
                self._loaded = event.loaded
                if not self._insert_timer.isActive():
                    self._insert_timer.start()
            elif isinstance(event, Counted):
                self._total = event.total
                # Sized now, while the table is empty: not when the first rows are drawn.
                self.progress_label.reserve(
                    _loaded_text(event.total, event.total),
                    _all_loaded_text(event.total, self.kind.plural),
                )
            elif isinstance(event, StatusesChecked):
                statuses.update(event.statuses)
        if statuses:
            self.model.set_statuses(statuses)
            self._summary_timer.start()
            self._freeze_soon()
        self._update_progress()

    def _insert_some(self) -> None:
        """Insert waiting rows a slice at a time, so one page never holds the window long."""
        count = min(INSERT_SLICE, len(self._pending))
        self._add_rows([self._pending.popleft() for _ in range(count)])
        if self._pending:
            self._insert_timer.start()

    def _add_rows(self, rows: list[Row]) -> list[Row]:
        added = self.model.add_rows(rows)
        if added:
            self._freeze_soon()
            self.check_in_zuora(added)
            if self.model.selected_count():
                self._update_selected(self.model.selected_count())
        return added

    def _freeze_soon(self) -> None:
        if not self._freeze_timer.isActive():
            self._freeze_timer.start()

    def _progress_text(self) -> str:
        return _loaded_text(self._loaded, self._total)

    def _update_progress(self) -> None:
        if self._load_job is None or not self._load_job.running:
            return
        self.progress_label.setText(self._progress_text())
        if self._total:
            self.progress_bar.setRange(0, max(self._total, self._loaded))
            self.progress_bar.setValue(self._loaded)

    def show_progress(self, running: bool) -> None:
        self.progress_bar.setVisible(running)
        self.cancel_button.setVisible(running)
        if running:
            self.progress_bar.setRange(0, 0)

    def loading_ended(self) -> None:
        """A reading job ended: hide the progress bar unless another one still runs."""
        loading = self._load_job is not None and self._load_job.running
        self.show_progress(loading or self.busy_matching())

    def _on_loaded(self, outcome: LoadOutcome) -> None:
        self._load_job = None
        if self._feed is not None:
            self._feed.close()
        self.loading_ended()
        seconds = time.perf_counter() - self._started
        plural = self.kind.plural
        if outcome.cancelled:
            text = f"Cancelled: {outcome.loaded:,} of {outcome.total or 0:,} loaded"
            self.log.emit("WARNING", f"{plural.title()}: loading cancelled ({text[11:]}).")
        else:
            text = _all_loaded_text(outcome.loaded, plural)
            self.log.emit("INFO", f"Loaded {outcome.loaded:,} {plural} in {seconds:.1f} s.")
        self.progress_label.setText(text)
        self._update_summaries()

    def _on_load_failed(self, message: str, details: str) -> None:
        self._load_job = None
        if self._feed is not None:
            self._feed.close()
        self.loading_ended()
        self.progress_label.setText(f"Stopped: {self._loaded:,} loaded")
        self.show_message(message)
        self.log.emit("DEBUG", details)

    # --- selection -------------------------------------------------------------------------

    def _update_selected(self, count: int) -> None:
        text = f"{count:,} selected"
        missing = self.model.selected_not_loaded() if count else 0
        if missing:
            text += f" ({missing:,} not loaded)"
        self.selected_label.setText(text)

    def selected_ids(self) -> set[str]:
        return self.model.selected_ids()

    def select_shown(self) -> None:
        self.model.set_selected(self.proxy.visible_ids(), True)

    def invert_shown(self) -> None:
        self.model.invert(self.proxy.visible_ids())

    def busy_matching(self) -> bool:
        return self.actions.busy_matching()

    def select_all_matching(self) -> None:
        """Select every record matching the search and filters (ids read page by page)."""
        self.actions.select_all_matching()

    # --- filters, summaries ----------------------------------------------------------------

    def _quick_filter(self, text: str) -> None:
        self.proxy.set_quick_filter(text)
        self._summary_timer.start()

    def _only_not_in_zuora(self, on: bool) -> None:
        if on and (self.source is None or self.source.zuora is None):
            self.show_message(
                "'Only not yet in Zuora' needs a Zuora connection: add the Zuora tenant to the "
                "connection profile.",
                "WARNING",
            )
            self.filter_bar.only_not_in_zuora.setChecked(False)
            return
        self.proxy.set_only_not_in_zuora(on)
        self._summary_timer.start()

    def _update_summaries(self) -> None:
        shown, loaded = self.proxy.rowCount(), self.model.rowCount()
        self.shown_label.setText(
            f"Showing {shown:,} of {loaded:,} loaded" if self.proxy.active else ""
        )
        self.zuora_label.setText(zuora_summary(self.model.count_by_state()))

    def _columns_menu(self) -> None:
        menu = self.table.column_menu()
        menu.exec(self.columns_button.mapToGlobal(QPoint(0, self.columns_button.height())))

    # --- details, links, context menu (see record_actions) ------------------------------

    def open_details(self, row: Row | None = None) -> None:
        self.actions.open_details(row)

    def row_menu(self, row: Row) -> QMenu:
        return self.actions.row_menu(row)

    def _row_menu(self, row: Row, position: QPoint) -> None:
        self.row_menu(row).exec(position)

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)
