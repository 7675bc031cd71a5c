"""The details panel: the current record's fields that the sync maps to Zuora, and an order's products."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cpq_sync_gui.ui.record_rows import Row

if TYPE_CHECKING:
    from cpq_sync_gui.salesforce.records import AccountRecord, Address, OrderRecord

__all__ = ["ACCOUNT_MAPPED_FIELDS", "ORDER_MAPPED_FIELDS", "RecordDetails"]

# (Salesforce field, Zuora field, how to read it from the record) — as docs/mapping.md says.
ACCOUNT_MAPPED_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("Name", "name", "name"),
    ("Id", "crmId", "id"),
    ("CurrencyIsoCode", "currency", "currency"),
    ("Description", "notes", "description"),
    ("Owner.Name", "salesRep", "owner_name"),
    ("ParentId", "parentId (the parent's Zuora account)", "parent_id"),
)
ORDER_MAPPED_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("OrderNumber", "orderNumber", "order_number"),
    ("EffectiveDate", "orderDate", "effective_date"),
    ("Description", "description", "description"),
    ("AccountId", "existingAccountNumber (the account's Zuora account)", "account_id"),
    ("CurrencyIsoCode", "(checked against the account's currency)", "currency"),
    ("SBQQ__RenewalTerm__c", "terms.renewalTerms", "renewal_term"),
    ("Status", "(not sent)", "status"),
)
_ADDRESS_PARTS = (
    ("Street", "address1 / address2", "street"),
    ("City", "city", "city"),
    ("State", "state", "state"),
    ("PostalCode", "zipCode", "postal_code"),
    ("Country", "country", "country"),
)
PRODUCT_COLUMNS = (
    "#",
    "Product",
    "Code",
    "Quantity",
    "Unit price",
    "Start",
    "End",
    "Charge type",
    "Billing frequency",
    "Term (months)",
)


def _show(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, Decimal):
        return f"{value:,}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class RecordDetails(QWidget):
    """Fields of one record (loaded on demand) and, for an order, its order products."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recordDetails")
        self.title = QLabel("No record chosen", self)
        self.title.setObjectName("recordDetailsTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.status = QLabel("Choose a row and press Enter to see what will be sent.", self)
        self.status.setObjectName("recordDetailsStatus")
        self.status.setWordWrap(True)
        self.fields = QTreeWidget(self)
        self.fields.setObjectName("recordDetailsFields")
        self.fields.setAccessibleName("Mapped fields")
        self.fields.setHeaderLabels(["Salesforce field", "Value", "Zuora field"])
        self.fields.setRootIsDecorated(True)
        self.fields.setAlternatingRowColors(True)
        self.fields.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.products = QTreeWidget(self)
        self.products.setObjectName("recordDetailsProducts")
        self.products.setAccessibleName("Order products")
        self.products.setHeaderLabels(list(PRODUCT_COLUMNS))
        self.products.setRootIsDecorated(False)
        self.products.setAlternatingRowColors(True)
        self.products.hide()
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.fields)
        split.addWidget(self.products)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self.record: AccountRecord | OrderRecord | None = None
        self.row: Row | None = None

    def loading(self, row: Row) -> None:
        self.row = row
        self.record = None
        self.title.setText(row.label)
        self.status.setText("Reading the record from Salesforce…")
        self.status.show()
        self.fields.clear()
        self.products.clear()

    def failed(self, message: str) -> None:
        self.status.setText(f"Could not read the record: {message}")
        self.status.show()

    def not_found(self, record_id: str) -> None:
        self.status.setText(f"Salesforce has no record {record_id} any more (deleted?).")
        self.status.show()

    def field_rows(self) -> list[tuple[str, str, str]]:
        """(Salesforce field, value, Zuora field) as shown, children flattened (for tests)."""
        rows: list[tuple[str, str, str]] = []

        def walk(item: QTreeWidgetItem) -> None:
            rows.append((item.text(0), item.text(1), item.text(2)))
            for number in range(item.childCount()):
                walk(item.child(number))

        for number in range(self.fields.topLevelItemCount()):
            walk(self.fields.topLevelItem(number))
        return rows

    def _add(self, parent: Any, sf: str, value: Any, zuora: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [sf, _show(value), zuora])
        item.setToolTip(1, _show(value))
        return item

    def _address(self, prefix: str, address: Address, zuora: str) -> None:
        group = self._add(self.fields, f"{prefix} address", "", zuora)
        group.setText(1, "" if not address.is_empty else "— (none)")
        for part, zuora_field, attribute in _ADDRESS_PARTS:
            code = (
                getattr(address, f"{attribute}_code", None)
                if attribute in ("state", "country")
                else None
            )
            value = code or getattr(address, attribute)
            self._add(group, f"{prefix}{part}", value, zuora_field)
        group.setExpanded(True)

    def show_account(self, record: AccountRecord) -> None:
        self.record = record
        self.status.hide()
        self.fields.clear()
        for sf, zuora, attribute in ACCOUNT_MAPPED_FIELDS:
            self._add(self.fields, sf, getattr(record, attribute), zuora)
        self._address("Billing", record.billing_address, "billToContact")
        self._address("Shipping", record.shipping_address, "soldToContact")
        self.products.hide()
        self.fields.resizeColumnToContents(0)

    def show_order(self, record: OrderRecord) -> None:
        self.record = record
        self.status.hide()
        self.fields.clear()
        for sf, zuora, attribute in ORDER_MAPPED_FIELDS:
            self._add(self.fields, sf, getattr(record, attribute), zuora)
        self.fields.resizeColumnToContents(0)
        self.products.clear()
        for number, item in enumerate(record.items, 1):
            QTreeWidgetItem(
                self.products,
                [
                    str(number),
                    _show(item.product_name),
                    _show(item.product_code),
                    _show(item.quantity),
                    _show(item.unit_price),
                    _show(item.service_date),
                    _show(item.end_date),
                    _show(item.charge_type),
                    _show(item.billing_frequency),
                    _show(item.subscription_term),
                ],
            )
        self.products.setHeaderLabels(
            [f"# ({len(record.items)} order products)", *PRODUCT_COLUMNS[1:]]
        )
        self.products.show()
        for column in range(len(PRODUCT_COLUMNS)):
            self.products.resizeColumnToContents(column)
