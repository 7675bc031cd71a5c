"""What a records tab does with rows beyond listing them: select all matching, details, links, row menu."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMenu

from cpq_sync_gui.ui.jobs import Job
from cpq_sync_gui.ui.record_links import salesforce_record_url, zuora_account_url, zuora_order_url
from cpq_sync_gui.ui.record_loading import (
    FilterError,
    IdsMatched,
    MatchOutcome,
    StatusesChecked,
    fetch_details,
    load_matching_ids,
    where_clause,
)
from cpq_sync_gui.ui.record_rows import Row, ZuoraState, ZuoraStatus

if TYPE_CHECKING:
    from cpq_sync_gui.ui.record_browser import RecordBrowser

__all__ = ["RowActions"]


class RowActions(QObject):
    """Select all matching (a Job reading ids page by page), the details panel, links and menu."""

    def __init__(self, browser: RecordBrowser) -> None:
        super().__init__(browser)
        self.browser = browser
        self._match_job: Job | None = None
        self._details_job: Job | None = None
        self._follow = QTimer(self)
        self._follow.setSingleShot(True)
        self._follow.setInterval(250)
        self._follow.timeout.connect(self._follow_current)
        browser.table.selectionModel().currentRowChanged.connect(
            lambda *_: self._follow.start() if browser.details.isVisible() else None
        )

    # --- select all matching ---------------------------------------------------------------

    def busy_matching(self) -> bool:
        return self._match_job is not None and self._match_job.running

    def select_all_matching(self) -> None:
        browser = self.browser
        if browser.source is None:
            browser.show_message("Choose a connection first: there is no Salesforce org to read.")
            return
        filters = browser.filter_bar.filters()
        try:
            where_clause(browser.kind, filters, set())
        except FilterError as error:
            browser.show_message(str(error))
            return
        if self.busy_matching():
            return
        source, kind, model = browser.source, browser.kind, browser.model
        zuora = source.zuora if filters.only_not_in_zuora else None
        job = browser.start_job(
            "match",
            partial(
                load_matching_ids,
                client=source.salesforce,
                kind=kind,
                filters=filters,
                zuora=zuora,
                batch_size=browser.batch_size,
            ),
        )

        def events(items: list[Any]) -> None:
            statuses: dict[str, ZuoraStatus] = {}
            for event in items:
                if isinstance(event, IdsMatched):
                    model.set_selected(event.ids, True)
                    browser.progress_label.setText(
                        f"Selecting all matching: {event.seen:,} of {event.total:,} read"
                    )
                elif isinstance(event, StatusesChecked):
                    statuses.update(event.statuses)
            model.set_statuses(statuses)

        def ended() -> None:
            self._match_job = None
            browser.loading_ended()

        def done(outcome: MatchOutcome) -> None:
            ended()
            words = "Cancelled: selected" if outcome.cancelled else "Selected"
            text = f"{words} {outcome.selected:,} matching {kind.plural}"
            if outcome.excluded_in_zuora:
                text += f"; {outcome.excluded_in_zuora:,} left out as already in Zuora"
            browser.progress_label.setText(text)
            browser.log.emit("WARNING" if outcome.cancelled else "INFO", f"{text}.")

        def failed(message: str, details: str) -> None:
            ended()
            browser.show_message(f"Select all matching stopped: {message}")
            browser.log.emit("DEBUG", details)

        job.events.connect(events)
        job.succeeded.connect(done)
        job.failed.connect(failed)
        self._match_job = job
        browser.show_progress(True)
        browser.progress_label.setText("Selecting all matching…")
        job.start()

    # --- details ---------------------------------------------------------------------------

    def open_details(self, row: Row | None = None) -> None:
        browser = self.browser
        row = row or browser.table.current_row()
        if row is None or browser.source is None:
            return
        details = browser.details
        details.show()
        details.loading(row)
        if self._details_job is not None:
            self._details_job.cancel()
        client, kind, record_id = browser.source.salesforce, browser.kind, row.id
        job = browser.start_job("details", lambda _ctx: fetch_details(client, kind, record_id))

        def shown(record: Any) -> None:
            if details.row is None or details.row.id != record_id:
                return  # the admin moved on
            if record is None:
                details.not_found(record_id)
            elif kind.sobject == "Account":
                details.show_account(record)
            else:
                details.show_order(record)

        job.succeeded.connect(shown)
        job.failed.connect(lambda message, _details: details.failed(message))
        self._details_job = job
        job.start()

    def _follow_current(self) -> None:
        row = self.browser.table.current_row()
        shown = self.browser.details.row
        if row is not None and (shown is None or shown.id != row.id):
            self.open_details(row)

    # --- links and the row menu ------------------------------------------------------------

    def salesforce_url(self, row: Row) -> str | None:
        source = self.browser.source
        if source is None:
            return None
        return salesforce_record_url(source.instance_url, self.browser.kind.sobject, row.id)

    def zuora_url(self, row: Row) -> str | None:
        source = self.browser.source
        base = source.zuora_ui if source else None
        if base is None or row.zuora.state is not ZuoraState.IN_ZUORA:
            return None
        if self.browser.kind.sobject == "Account":
            return zuora_account_url(base, row.zuora.zuora_id) if row.zuora.zuora_id else None
        return zuora_order_url(base, row.zuora_key)

    def row_menu(self, row: Row) -> QMenu:
        menu = QMenu(self.browser)
        menu.setObjectName(f"{self.browser.kind.plural}RowMenu")
        sf_url, zuora_url = self.salesforce_url(row), self.zuora_url(row)
        open_sf = menu.addAction("Open in Salesforce")
        open_sf.setEnabled(sf_url is not None)
        open_sf.triggered.connect(lambda: QDesktopServices.openUrl(QUrl(sf_url)))
        open_zuora = menu.addAction("Open in Zuora")
        open_zuora.setEnabled(zuora_url is not None)
        if zuora_url is None:
            open_zuora.setToolTip("Zuora does not have this record (or no Zuora connection)")
        open_zuora.triggered.connect(lambda: QDesktopServices.openUrl(QUrl(zuora_url)))
        menu.addAction("Copy id").triggered.connect(
            lambda: QGuiApplication.clipboard().setText(row.id)
        )
        menu.addAction("Details").triggered.connect(lambda: self.open_details(row))
        return menu
