"""The search and filter bar above a records table (server-side search, filters, quick filter)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.ui.record_loading import RecordFilters
from cpq_sync_gui.ui.record_rows import RecordKind

__all__ = ["ORDER_STATUSES", "FilterBar"]

ORDER_STATUSES = ("Draft", "Activated")  # Salesforce's standard Order statuses


def _to_date(edit: QDateEdit) -> dt.date:
    value = edit.date()
    return dt.date(value.year(), value.month(), value.day())


class FilterBar(QWidget):
    """Search box and filters; ``search_requested`` when the admin presses Enter or Search."""

    search_requested = Signal()
    quick_filter_changed = Signal(str)
    only_not_in_zuora_changed = Signal(bool)

    def __init__(self, kind: RecordKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        name = kind.plural
        self.search_box = QLineEdit(self)
        self.search_box.setObjectName(f"{name}Search")
        self.search_box.setAccessibleName(f"Search {name}")
        self.search_box.setPlaceholderText(kind.search_hint)
        self.search_box.setClearButtonEnabled(True)
        self.search_box.returnPressed.connect(self.search_requested)
        self.search_button = QPushButton("Search", self)
        self.search_button.setObjectName(f"{name}SearchButton")
        self.search_button.setToolTip("Ask Salesforce for the records that match (Enter)")
        self.search_button.clicked.connect(self.search_requested)

        self.only_not_in_zuora = QCheckBox("Only not yet in Zuora", self)
        self.only_not_in_zuora.setObjectName(f"{name}OnlyNotInZuora")
        self.only_not_in_zuora.setToolTip(
            "Show only records that Zuora does not have yet (rows appear once Zuora answered)"
        )
        self.only_not_in_zuora.toggled.connect(self.only_not_in_zuora_changed)

        self.quick_filter = QLineEdit(self)
        self.quick_filter.setObjectName(f"{name}QuickFilter")
        self.quick_filter.setAccessibleName(f"Filter loaded {name}")
        self.quick_filter.setPlaceholderText("Filter loaded rows…")
        self.quick_filter.setClearButtonEnabled(True)
        self.quick_filter.setToolTip("Narrow the rows already loaded; no new query is made")
        self.quick_filter.textChanged.connect(self.quick_filter_changed)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search_box, 3)
        top.addWidget(self.search_button)
        top.addSpacing(self.fontMetrics().horizontalAdvance("MM"))
        top.addWidget(self.quick_filter, 2)
        top.addWidget(self.only_not_in_zuora)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)

        self.status_box: QComboBox | None = None
        self.date_from_on: QCheckBox | None = None
        self.date_to_on: QCheckBox | None = None
        self.account_box: QLineEdit | None = None
        if kind.sobject == "Order":
            layout.addLayout(self._order_filters())

    def _order_filters(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.status_box = QComboBox(self)
        self.status_box.setObjectName("ordersStatusFilter")
        self.status_box.setAccessibleName("Order status")
        self.status_box.addItem("Any status", "")
        for status in ORDER_STATUSES:
            self.status_box.addItem(status, status)
        today = QDate.currentDate()
        self.date_from_on = QCheckBox("Effective from", self)
        self.date_from_on.setObjectName("ordersDateFromOn")
        self.date_from = QDateEdit(today.addMonths(-12), self)
        self.date_from.setObjectName("ordersDateFrom")
        self.date_to_on = QCheckBox("to", self)
        self.date_to_on.setObjectName("ordersDateToOn")
        self.date_to = QDateEdit(today, self)
        self.date_to.setObjectName("ordersDateTo")
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.date_from_on.toggled.connect(self.date_from.setEnabled)
        self.date_to_on.toggled.connect(self.date_to.setEnabled)
        self.account_box = QLineEdit(self)
        self.account_box.setObjectName("ordersAccountFilter")
        self.account_box.setAccessibleName("Account")
        self.account_box.setPlaceholderText("Account id or name")
        self.account_box.setClearButtonEnabled(True)
        self.account_box.returnPressed.connect(self.search_requested)
        label = QLabel("Status", self)
        label.setBuddy(self.status_box)
        row.addWidget(label)
        row.addWidget(self.status_box)
        row.addSpacing(self.fontMetrics().horizontalAdvance("M"))
        row.addWidget(self.date_from_on)
        row.addWidget(self.date_from)
        row.addWidget(self.date_to_on)
        row.addWidget(self.date_to)
        row.addSpacing(self.fontMetrics().horizontalAdvance("M"))
        account_label = QLabel("Account", self)
        account_label.setBuddy(self.account_box)
        row.addWidget(account_label)
        row.addWidget(self.account_box, 1)
        return row

    def set_order_statuses(self, statuses: list[str]) -> None:
        """The org's own Order status values (from describe), keeping the current choice."""
        if self.status_box is None or not statuses:
            return
        current = self.status_box.currentData()
        self.status_box.clear()
        self.status_box.addItem("Any status", "")
        for status in statuses:
            self.status_box.addItem(status, status)
        found = self.status_box.findData(current)
        self.status_box.setCurrentIndex(max(found, 0))

    def filters(self) -> RecordFilters:
        """The server-side filters as typed (checked by where_clause when the search runs)."""
        if self.kind.sobject != "Order":
            return RecordFilters(
                search=self.search_box.text(),
                only_not_in_zuora=self.only_not_in_zuora.isChecked(),
            )
        assert self.status_box is not None
        assert self.date_from_on is not None
        assert self.date_to_on is not None
        assert self.account_box is not None
        return RecordFilters(
            search=self.search_box.text(),
            status=self.status_box.currentData() or "",
            date_from=_to_date(self.date_from) if self.date_from_on.isChecked() else None,
            date_to=_to_date(self.date_to) if self.date_to_on.isChecked() else None,
            account=self.account_box.text(),
            only_not_in_zuora=self.only_not_in_zuora.isChecked(),
        )
