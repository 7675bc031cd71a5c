"""The record tabs' SOQL conditions and web links, without a network."""

from __future__ import annotations

import datetime as dt

import pytest

from cpq_sync_gui.salesforce.ids import IdFactory
from cpq_sync_gui.ui.record_links import (
    salesforce_record_url,
    zuora_account_url,
    zuora_order_url,
    zuora_ui_base,
)
from cpq_sync_gui.ui.record_loading import FilterError, RecordFilters, where_clause
from cpq_sync_gui.ui.record_rows import ACCOUNTS, ORDERS

FACTORY = IdFactory(seed=3)
ORDER_FIELDS = {"Id", "OrderNumber", "Name", "Status", "EffectiveDate", "AccountId"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("O'Brien", r"Name LIKE '%O\'Brien%'"),
        ("100%", r"Name LIKE '%100\%%'"),
        ("a_b\\c", r"Name LIKE '%a\_b\\c%'"),
        ("x' OR Name != '", r"Name LIKE '%x\' OR Name != \'%'"),
    ],
)
def test_account_search_is_escaped_never_pasted(text, expected):
    assert where_clause(ACCOUNTS, RecordFilters(search=text), {"Name"}) == expected


def test_no_filters_no_conditions():
    assert where_clause(ACCOUNTS, RecordFilters(search="  "), set()) == ""
    assert where_clause(ORDERS, RecordFilters(), ORDER_FIELDS) == ""


def test_order_filters_combine_with_and():
    account = FACTORY("001")
    clause = where_clause(
        ORDERS,
        RecordFilters(
            search="0001",
            status="Draft",
            date_from=dt.date(2024, 1, 1),
            date_to=dt.date(2024, 12, 31),
            account=account[:15],
        ),
        ORDER_FIELDS,
    )
    assert clause == (
        "(OrderNumber LIKE '%0001%' OR Name LIKE '%0001%') AND Status = 'Draft' AND "
        "EffectiveDate >= 2024-01-01 AND EffectiveDate <= 2024-12-31 AND "
        f"AccountId = '{account}'"
    )


def test_order_search_without_a_name_field():
    assert where_clause(ORDERS, RecordFilters(search="7"), {"OrderNumber"}) == (
        "OrderNumber LIKE '%7%'"
    )


def test_account_filter_by_name_text_is_escaped():
    clause = where_clause(ORDERS, RecordFilters(account="O'Brien"), ORDER_FIELDS)
    assert clause == r"Account.Name LIKE '%O\'Brien%'"


def test_account_filter_with_another_objects_id_names_what_to_fix():
    with pytest.raises(FilterError, match="is a Contact id, not an Account id"):
        where_clause(ORDERS, RecordFilters(account=FACTORY("003")), ORDER_FIELDS)


def test_a_date_range_that_ends_before_it_starts_is_refused():
    with pytest.raises(FilterError, match="Swap them"):
        where_clause(
            ORDERS,
            RecordFilters(date_from=dt.date(2024, 2, 1), date_to=dt.date(2024, 1, 1)),
            ORDER_FIELDS,
        )


@pytest.mark.parametrize(
    ("instance", "host"),
    [
        ("https://acme.my.salesforce.com", "acme.lightning.force.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "acme--uat.sandbox.lightning.force.com"),
        ("https://127.0.0.1:8443", "127.0.0.1:8443"),
    ],
)
def test_salesforce_lightning_links(instance, host):
    record_id = FACTORY("001")
    assert salesforce_record_url(instance, "Account", record_id) == (
        f"https://{host}/lightning/r/Account/{record_id}/view"
    )


@pytest.mark.parametrize(
    ("rest", "ui"),
    [
        ("https://rest.zuora.com", "https://www.zuora.com"),
        ("https://rest.apisandbox.zuora.com", "https://apisandbox.zuora.com"),
        ("https://rest.na.zuora.com", "https://na.zuora.com"),
        ("https://rest.sandbox.eu.zuora.com", "https://sandbox.eu.zuora.com"),
        ("https://127.0.0.1:9443", "https://127.0.0.1:9443"),
    ],
)
def test_zuora_ui_host_from_the_rest_host(rest, ui):
    assert zuora_ui_base(rest) == ui


def test_zuora_links_quote_what_they_carry():
    assert zuora_account_url("https://www.zuora.com", "8a8/x") == (
        "https://www.zuora.com/apps/CustomerAccount.do?method=view&id=8a8%2Fx"
    )
    assert zuora_order_url("https://www.zuora.com", "O-1 2") == (
        "https://www.zuora.com/platform/apps/orders/O-1%202"
    )
