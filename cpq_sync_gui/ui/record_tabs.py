"""Puts the Accounts and Orders browsers into the main window's tabs and feeds them the active profile."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QMainWindow, QTabWidget

from cpq_sync_gui.ui.jobs import Job
from cpq_sync_gui.ui.record_browser import RecordBrowser
from cpq_sync_gui.ui.record_links import RecordSource, open_record_source
from cpq_sync_gui.ui.record_rows import ACCOUNTS, ORDERS

__all__ = ["RecordTabs", "install_record_tabs"]


class RecordTabs(QObject):
    """The two browsers of a main window, and the login that gives them their connections."""

    def __init__(self, window: QMainWindow, tabs: QTabWidget) -> None:
        super().__init__(window)
        self.window = window
        self.accounts = RecordBrowser(ACCOUNTS, tabs)
        self.orders = RecordBrowser(ORDERS, tabs)
        self._job: Job | None = None
        self._source: RecordSource | None = None
        self._generation = 0
        log_pane = getattr(window, "log_pane", None)
        for index, browser in enumerate((self.accounts, self.orders)):
            old = tabs.widget(index)
            title = tabs.tabText(index) or browser.kind.plural.title()
            tabs.removeTab(index)
            tabs.insertTab(index, browser, title)
            if old is not None:
                old.deleteLater()
            if log_pane is not None:
                browser.log.connect(log_pane.add)
        # The window's own names for the tables (tests and other panels find them by these).
        window.accounts_view = self.accounts.table  # type: ignore[attr-defined]
        window.orders_view = self.orders.table  # type: ignore[attr-defined]
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        changed = getattr(window, "active_profile_changed", None)
        if changed is not None:
            changed.connect(self.use_profile)
        active = getattr(window, "active_profile", None)
        if active is not None:  # list the remembered profile's records once the window shows
            QTimer.singleShot(0, lambda: self.use_profile(active) if self._job is None else None)

    @property
    def browsers(self) -> tuple[RecordBrowser, RecordBrowser]:
        return self.accounts, self.orders

    def set_source(self, source: RecordSource | None) -> None:
        """Point both browsers at ``source``, closing the connections they used before."""
        old, self._source = self._source, source
        for browser in self.browsers:
            browser.set_source(source)
        if old is not None and old is not source:
            old.close()

    def use_profile(self, profile: Any) -> Job | None:
        """Log in with ``profile`` off the GUI thread, then list its Accounts and Orders."""
        self._generation += 1
        generation = self._generation
        if profile is None:
            self.set_source(None)
            return None
        secrets = getattr(self.window, "secrets", None)
        if secrets is None:
            for browser in self.browsers:
                browser.show_message("The password store is not open yet: connect again.")
            return None
        for browser in self.browsers:
            browser.show_message("")
            browser.progress_label.setText(f"Logging in to {profile.name}…")
        job = Job("records-login", lambda _ctx: open_record_source(profile, secrets), self)

        def connected(source: RecordSource) -> None:
            if generation != self._generation:  # another profile was chosen meanwhile
                source.close()
                return
            self.set_source(source)
            if source.zuora is None:
                self.accounts.log.emit(
                    "WARNING",
                    "No usable Zuora tenant in this profile: the Zuora status column stays empty.",
                )

        def failed(message: str, _details: str) -> None:
            if generation == self._generation:
                for browser in self.browsers:
                    browser.progress_label.setText("Not connected")
                    browser.show_message(f"Could not list records: {message}")

        job.succeeded.connect(connected)
        job.failed.connect(failed)
        self._job = job
        return job.start()

    def shutdown(self) -> None:
        self._generation += 1  # a login still running is not applied any more
        job = self._job
        if job is not None and job.running:
            deadline = time.monotonic() + 30
            while job.running and time.monotonic() < deadline:
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
                time.sleep(0.002)
        for browser in self.browsers:
            browser.shutdown()
        if self._source is not None:
            self._source.close()
            self._source = None


def install_record_tabs(window: QMainWindow) -> RecordTabs:
    """Swap the window's placeholder tables for the browsers (tab 0 Accounts, tab 1 Orders)."""
    tabs = getattr(window, "tabs", None) or window.findChild(QTabWidget, "recordTabs")
    if tabs is None:
        raise RuntimeError("the main window has no record tabs to fill")
    return RecordTabs(window, tabs)
