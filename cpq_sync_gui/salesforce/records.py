"""Salesforce Accounts, Contacts, Orders and Order Products as plain models, read from REST query records."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountRecord",
    "Address",
    "ContactRecord",
    "OrderProductRecord",
    "OrderRecord",
    "parse_calendar_date",
]

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_calendar_date(value: Any) -> dt.date | None:
    """A Salesforce date (``YYYY-MM-DD``) as a calendar date, exactly as written.

    Never goes through a time zone: ``2024-03-31`` is 31 March wherever this runs. A
    date-time text keeps the date it was written with. Blank → None; anything else → ValueError.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise ValueError("a date-time is not a calendar date; pass its text as Salesforce sent it")
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    match = _DATE_RE.match(text)
    if match is None or (len(text) > 10 and text[10] != "T"):
        raise ValueError(f"{text[:40]!r} is not a date like 2024-03-31")
    return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


def _value(record: Mapping[str, Any] | None, path: str) -> Any:
    """``record["Owner"]["Name"]`` for ``"Owner.Name"``; None when any step is missing or null."""
    current: Any = record
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _text(record: Mapping[str, Any] | None, path: str) -> str | None:
    value = _value(record, path)
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _number(record: Mapping[str, Any] | None, path: str) -> Decimal | None:
    value = _value(record, path)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        # str() first: Decimal(0.1) would carry the float's binary noise into a price.
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{path} is not a number: {str(value)[:40]!r}") from None


def _whole_number(record: Mapping[str, Any] | None, path: str) -> int | None:
    number = _number(record, path)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValueError(f"{path} must be a whole number, not {number}")
    return int(number)


def _flag(record: Mapping[str, Any] | None, path: str) -> bool | None:
    value = _value(record, path)
    return value if isinstance(value, bool) else None


def _date(record: Mapping[str, Any] | None, path: str) -> dt.date | None:
    try:
        return parse_calendar_date(_value(record, path))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _children(record: Mapping[str, Any], relationship: str) -> list[Mapping[str, Any]]:
    """A child subquery's records: ``{"records": […]}``, a plain list, or null (none)."""
    value = record.get(relationship)
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = value.get("records") or []
    return [child for child in value if isinstance(child, Mapping)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(_Model):
    """One postal address (billing, shipping or mailing)."""

    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    state_code: str | None = None  # only in orgs with state and country picklists
    country_code: str | None = None

    @classmethod
    def from_api(cls, record: Mapping[str, Any], prefix: str) -> Address:
        """The ``{prefix}Street`` … ``{prefix}Country`` fields, e.g. prefix ``Billing``."""
        return cls(
            street=_text(record, f"{prefix}Street"),
            city=_text(record, f"{prefix}City"),
            state=_text(record, f"{prefix}State"),
            postal_code=_text(record, f"{prefix}PostalCode"),
            country=_text(record, f"{prefix}Country"),
            state_code=_text(record, f"{prefix}StateCode"),
            country_code=_text(record, f"{prefix}CountryCode"),
        )

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.street, self.city, self.state, self.postal_code, self.country, self.country_code)
        )


class AccountRecord(_Model):
    """A Salesforce Account as the sync needs it."""

    id: str
    name: str
    account_number: str | None = None
    currency: str | None = None  # CurrencyIsoCode; None in single-currency orgs
    description: str | None = None
    owner_id: str | None = None
    owner_name: str | None = None
    parent_id: str | None = None
    billing_address: Address = Field(default_factory=Address)
    shipping_address: Address = Field(default_factory=Address)

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> AccountRecord:
        return cls(
            id=str(record["Id"]),
            name=_text(record, "Name") or "",
            account_number=_text(record, "AccountNumber"),
            currency=_text(record, "CurrencyIsoCode"),
            description=_text(record, "Description"),
            owner_id=_text(record, "OwnerId"),
            owner_name=_text(record, "Owner.Name"),
            parent_id=_text(record, "ParentId"),
            billing_address=Address.from_api(record, "Billing"),
            shipping_address=Address.from_api(record, "Shipping"),
        )


class ContactRecord(_Model):
    """A Salesforce Contact (an order's bill-to or ship-to person)."""

    id: str
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile_phone: str | None = None
    mailing_address: Address = Field(default_factory=Address)

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> ContactRecord:
        return cls(
            id=str(record["Id"]),
            account_id=_text(record, "AccountId"),
            first_name=_text(record, "FirstName"),
            last_name=_text(record, "LastName"),
            email=_text(record, "Email"),
            phone=_text(record, "Phone"),
            mobile_phone=_text(record, "MobilePhone"),
            mailing_address=Address.from_api(record, "Mailing"),
        )


class OrderProductRecord(_Model):
    """One Order Product (OrderItem) line, with its product and CPQ billing settings."""

    id: str
    order_id: str | None = None
    order_item_number: str | None = None
    product2_id: str | None = None
    product_code: str | None = None  # Product2.ProductCode: the Zuora product SKU
    product_name: str | None = None
    pricebook_entry_id: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None  # the net (sales) price
    list_price: Decimal | None = None
    service_date: dt.date | None = None  # the start date
    end_date: dt.date | None = None
    # CPQ (SBQQ__…); None in orgs without the CPQ package or when blank
    charge_type: str | None = None  # One-Time / Recurring / Usage
    billing_frequency: str | None = None  # Monthly / Quarterly / Semiannual / Annual / …
    billing_type: str | None = None  # Advance / Arrears
    subscription_term: int | None = None  # months
    default_subscription_term: int | None = None
    subscription_pricing: str | None = None  # blank = not a subscription product
    subscription_type: str | None = None  # Renewable / One-time / Evergreen
    quote_line_id: str | None = None

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> OrderProductRecord:
        return cls(
            id=str(record["Id"]),
            order_id=_text(record, "OrderId"),
            order_item_number=_text(record, "OrderItemNumber"),
            product2_id=_text(record, "Product2Id") or _text(record, "Product2.Id"),
            product_code=_text(record, "Product2.ProductCode"),
            product_name=_text(record, "Product2.Name"),
            pricebook_entry_id=_text(record, "PricebookEntryId"),
            quantity=_number(record, "Quantity"),
            unit_price=_number(record, "UnitPrice"),
            list_price=_number(record, "ListPrice"),
            service_date=_date(record, "ServiceDate"),
            end_date=_date(record, "EndDate"),
            charge_type=_text(record, "SBQQ__ChargeType__c"),
            billing_frequency=_text(record, "SBQQ__BillingFrequency__c"),
            billing_type=_text(record, "SBQQ__BillingType__c"),
            subscription_term=_whole_number(record, "SBQQ__SubscriptionTerm__c"),
            default_subscription_term=_whole_number(record, "SBQQ__DefaultSubscriptionTerm__c"),
            subscription_pricing=_text(record, "SBQQ__SubscriptionPricing__c"),
            subscription_type=_text(record, "SBQQ__SubscriptionType__c"),
            quote_line_id=_text(record, "SBQQ__QuoteLine__c"),
        )

    @property
    def is_subscription(self) -> bool:
        """CPQ's rule: subscription pricing set, or a recurring charge."""
        return bool(self.subscription_pricing) or (self.charge_type or "").lower() == "recurring"


class OrderRecord(_Model):
    """A Salesforce Order with its Order Products."""

    id: str
    order_number: str | None = None
    account_id: str | None = None
    effective_date: dt.date | None = None  # the order date, a calendar date
    end_date: dt.date | None = None
    status: str | None = None
    description: str | None = None
    currency: str | None = None
    bill_to_contact_id: str | None = None
    ship_to_contact_id: str | None = None
    billing_address: Address = Field(default_factory=Address)
    shipping_address: Address = Field(default_factory=Address)
    total_amount: Decimal | None = None
    # CPQ
    quote_id: str | None = None
    payment_term: str | None = None
    renewal_term: int | None = None
    contracted: bool | None = None
    contracting_method: str | None = None
    price_calc_status: str | None = None
    items: list[OrderProductRecord] = Field(default_factory=list)

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> OrderRecord:
        return cls(
            id=str(record["Id"]),
            order_number=_text(record, "OrderNumber"),
            account_id=_text(record, "AccountId"),
            effective_date=_date(record, "EffectiveDate"),
            end_date=_date(record, "EndDate"),
            status=_text(record, "Status"),
            description=_text(record, "Description"),
            currency=_text(record, "CurrencyIsoCode"),
            bill_to_contact_id=_text(record, "BillToContactId"),
            ship_to_contact_id=_text(record, "ShipToContactId"),
            billing_address=Address.from_api(record, "Billing"),
            shipping_address=Address.from_api(record, "Shipping"),
            total_amount=_number(record, "TotalAmount"),
            quote_id=_text(record, "SBQQ__Quote__c"),
            payment_term=_text(record, "SBQQ__PaymentTerm__c"),
            renewal_term=_whole_number(record, "SBQQ__RenewalTerm__c"),
            contracted=_flag(record, "SBQQ__Contracted__c"),
            contracting_method=_text(record, "SBQQ__ContractingMethod__c"),
            price_calc_status=_text(record, "SBQQ__PriceCalcStatus__c"),
            items=[OrderProductRecord.from_api(child) for child in _children(record, "OrderItems")],
        )
