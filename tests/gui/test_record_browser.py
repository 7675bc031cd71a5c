"""The Accounts and Orders tabs against the sandbox org over HTTPS, driven through real widgets: search, filters, ids, selection, keyboard, cancel."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLineEdit

from cpq_sync_gui.salesforce.ids import IdFactory
from cpq_sync_gui.ui.record_rows import ACCOUNTS, ORDERS
from tests.helpers.records import (
    WAIT_MS,
    click_checkbox,
    next_page_requests,
    open_browser,
    search,
    shown_column,
    soql_queries,
    wait_idle,
)

pytestmark = pytest.mark.usefixtures("ca_bundle_points_elsewhere")


# --- search -----------------------------------------------------------------------------------

DECOYS = [
    "OBrien Decoy Ltd",  # O'Brien without the quote
    "1000 Natural Decoy",  # would match `100%` if % were a wildcard
    "axb\\c Decoy",  # would match `a_b\c` if _ were a wildcard
    "a_bc Decoy",  # would match if the backslash were dropped
    "Mary O'Brien-Smith Ltd",  # a second, real match for O'Brien
]


@pytest.mark.parametrize("text", ["O'Brien", "100%", "a_b\\c"])
def test_search_takes_quotes_percent_underscore_and_backslash_literally(qtbot, sandbox, text):
    for name in DECOYS:
        sandbox.org.insert(
            "Account", {"Name": name, "OwnerId": sandbox.generated.integration_user["Id"]}
        )
    browser = open_browser(qtbot, sandbox, load=False)
    search(qtbot, browser, text)

    expected = sorted(
        r["Name"] for r in sandbox.org.all("Account") if text.casefold() in r["Name"].casefold()
    )
    assert expected  # the generator always includes O'Brien & Sons, 100% Natural Foods, a_b\c Labs
    assert sorted(shown_column(browser, "name")) == expected
    assert browser.progress_label.text() == f"All {len(expected)} accounts loaded"
    assert browser.message.isHidden()
    # What went over the wire: one LIKE with the user's characters escaped, never pasted.
    like = [q for q in soql_queries(sandbox) if " LIKE " in q and "COUNT()" not in q]
    assert like, soql_queries(sandbox)
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("%", "\\%").replace("_", "\\_")
    assert f"Name LIKE '%{escaped}%'" in like[-1]


def test_an_id_of_another_object_in_the_account_filter_is_named(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox, ORDERS)
    contact = sandbox.org.all("Contact")[0]["Id"]
    browser.filter_bar.account_box.setText(contact)
    qtbot.mouseClick(browser.filter_bar.search_button, Qt.MouseButton.LeftButton)
    assert browser.message.isVisible()
    assert "is a Contact id, not an Account id" in browser.message.text()
    assert browser.model.rowCount() == 60  # the last good list stays


def test_an_effective_date_range_that_ends_before_it_starts_is_refused(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox, ORDERS)
    bar = browser.filter_bar
    bar.date_from_on.setChecked(True)
    bar.date_to_on.setChecked(True)
    bar.date_from.setDate(bar.date_to.date().addDays(3))
    qtbot.mouseClick(bar.search_button, Qt.MouseButton.LeftButton)
    assert "Effective date: 'from'" in browser.message.text()
    assert "Swap them" in browser.message.text()


def test_order_filters_status_dates_and_account(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox, ORDERS)
    orders = sandbox.org.all("Order")
    assert browser.model.rowCount() == len(orders)
    bar = browser.filter_bar
    qtbot.waitUntil(lambda: bar.status_box.count() > 1, timeout=WAIT_MS)
    bar.status_box.setCurrentIndex(bar.status_box.findData("Activated"))
    account = orders[0]["AccountId"]
    bar.account_box.setText(account[:15])  # a 15-character id works too
    search(qtbot, browser, "")
    expected = sorted(
        o["OrderNumber"] for o in orders if o["Status"] == "Activated" and o["AccountId"] == account
    )
    assert sorted(shown_column(browser, "order_number")) == expected

    bar.account_box.clear()
    dates = sorted(o["EffectiveDate"] for o in orders)
    low, high = dates[10], dates[30]
    bar.date_from_on.setChecked(True)
    bar.date_to_on.setChecked(True)
    from PySide6.QtCore import QDate

    bar.date_from.setDate(QDate.fromString(low, "yyyy-MM-dd"))
    bar.date_to.setDate(QDate.fromString(high, "yyyy-MM-dd"))
    search(qtbot, browser, "")
    expected = sorted(
        o["OrderNumber"]
        for o in orders
        if o["Status"] == "Activated" and low <= o["EffectiveDate"] <= high
    )
    assert sorted(shown_column(browser, "order_number")) == expected
    # the products column counts each order's OrderItems
    items: dict[str, int] = {}
    for item in sandbox.org.all("OrderItem"):
        items[item["OrderId"]] = items.get(item["OrderId"], 0) + 1
    for row in browser.model.rows():
        assert row.product_count == items.get(row.id, 0)


def test_an_org_without_cpq_and_currency_fields_still_lists(qtbot, make_sandbox):
    sandbox = make_sandbox(cpq_fields=False, multi_currency=False)
    accounts = open_browser(qtbot, sandbox, ACCOUNTS)
    orders = open_browser(qtbot, sandbox, ORDERS)
    assert accounts.model.rowCount() == 40
    assert orders.model.rowCount() == 60
    assert set(shown_column(accounts, "currency")) == {""}
    assert accounts.message.isHidden()
    assert orders.message.isHidden()
    assert not any("CurrencyIsoCode" in q for q in soql_queries(sandbox))


# --- ids ---------------------------------------------------------------------------------------


def test_pasting_valid_malformed_foreign_and_unknown_ids(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox, load=False)
    search(qtbot, browser, "O'Brien")  # only one row loaded
    loaded = browser.model.row_at(0).id
    others = [r["Id"] for r in sandbox.org.all("Account") if r["Id"] != loaded][:3]
    unknown = IdFactory(seed=999, pod="9z")("001")  # valid checksum, no such record
    contact = sandbox.org.all("Contact")[0]["Id"]
    text = (
        "Account ID\n"
        f"{loaded}\n"
        f"{others[0][:15]}, {others[1]};\t'{others[2].lower()}'\n"
        f"\n not-an-id {contact}\n{unknown}\n"
    )
    QGuiApplication.clipboard().setText(text)
    qtbot.mouseClick(browser.ids.paste_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: browser.ids.last is not None and browser.ids.last.finished, timeout=WAIT_MS
    )

    assert browser.selected_ids() == {loaded, *others}
    assert browser.selected_label.text() == "4 selected"
    assert {row.id for row in browser.model.rows()} == {loaded, *others}  # looked up and shown
    report = browser.ids.report
    assert report.isVisible()
    assert "1 not a Salesforce id" in report.title.text()
    assert "1 of another object" in report.title.text()
    assert "1 not found in Salesforce" in report.title.text()
    details = report.text()
    assert "line 5: 'not-an-id' is not a Salesforce id" in details
    assert f"'{contact}' is a Contact id, not an Account id" in details
    assert f"Not found in Salesforce — {unknown}" in details
    # the look-up asked with Id IN (…), not one query per id
    lookups = [q for q in soql_queries(sandbox) if "WHERE Id IN (" in q]
    assert len(lookups) == 1
    assert unknown in lookups[0]
    assert "not-an-id" not in lookups[0]
    assert "WARNING" in browser.logged.text()  # type: ignore[attr-defined]


def test_importing_a_csv_file_with_a_header_and_other_columns(qtbot, sandbox, tmp_path: Path):
    browser = open_browser(qtbot, sandbox)
    accounts = sandbox.org.all("Account")
    lines = ["Name,Id,City"] + [f'"{a["Name"]}",{a["Id"][:15]},x' for a in accounts[:5]]
    path = tmp_path / "ids.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    browser.ids.import_file(path)
    qtbot.waitUntil(lambda: browser.ids.last.finished, timeout=WAIT_MS)
    assert browser.selected_ids() == {a["Id"] for a in accounts[:5]}
    assert "ids taken from column 'Id'" in browser.ids.report.title.text()
    assert browser.ids.report.text() == ""


def test_many_unloaded_ids_are_looked_up_200_at_a_time(qtbot, make_sandbox):
    sandbox = make_sandbox(accounts=450, orders=0)
    browser = open_browser(qtbot, sandbox, load=False)
    ids = [r["Id"] for r in sandbox.org.all("Account")]
    browser.ids.import_text(" ".join(ids))
    qtbot.waitUntil(lambda: browser.ids.last.finished, timeout=WAIT_MS)
    assert browser.model.selected_count() == 450
    lookups = [q for q in soql_queries(sandbox) if "WHERE Id IN (" in q]
    assert len(lookups) == math.ceil(450 / 200)


# --- selection ---------------------------------------------------------------------------------


def test_selection_count_stays_right_through_sort_and_filter(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox)
    assert browser.model.rowCount() == 40
    click_checkbox(qtbot, browser, 2)
    click_checkbox(qtbot, browser, 5)
    click_checkbox(qtbot, browser, 9, shift=True)  # 5..9 take row 9's new state: selected
    first = {browser.proxy.row_at(r).id for r in (2, 5, 6, 7, 8, 9)}
    assert browser.selected_ids() == first
    assert browser.selected_label.text() == "6 selected"

    # sort by name, descending: same ids, same count, checkboxes follow their rows
    name_section = browser.kind.column_index("name")
    header = browser.table.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(name_section) + 5, 5))  # fmt: skip
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(name_section) + 5, 5))  # fmt: skip
    names = shown_column(browser, "name")
    assert names == sorted(names, key=str.casefold, reverse=True)
    assert all(browser.model.row_by_id(row.id) is row for row in browser.model.rows())
    assert browser.selected_ids() == first
    assert browser.selected_label.text() == "6 selected"
    checked = {
        browser.proxy.row_at(r).id
        for r in range(browser.proxy.rowCount())
        if browser.proxy.index(r, 0).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    }
    assert checked == first

    # a quick filter hides rows but not their selection
    qtbot.keyClicks(browser.filter_bar.quick_filter, "zzzz-no-such-row")
    assert browser.proxy.rowCount() == 0
    assert browser.selected_label.text() == "6 selected"
    browser.filter_bar.quick_filter.clear()
    one = browser.proxy.row_at(0)
    browser.filter_bar.quick_filter.setText(one.name)  # names hold non-ASCII letters
    shown = browser.proxy.rowCount()
    assert 1 <= shown < 40
    qtbot.mouseClick(browser.select_shown_button, Qt.MouseButton.LeftButton)
    visible = set(browser.proxy.visible_ids())
    assert browser.selected_ids() == first | visible
    qtbot.mouseClick(browser.invert_button, Qt.MouseButton.LeftButton)
    assert browser.selected_ids() == first - visible
    browser.filter_bar.quick_filter.clear()
    assert browser.model.selected_count() == len(first - visible)
    qtbot.mouseClick(browser.clear_button, Qt.MouseButton.LeftButton)
    assert browser.selected_label.text() == "0 selected"

    # a new search keeps the selection (it is what the admin chose), counting rows not loaded
    browser.model.set_selected([browser.model.row_at(0).id])
    search(qtbot, browser, "zzzz-no-such-account")
    assert browser.model.rowCount() == 0
    assert browser.selected_label.text() == "1 selected (1 not loaded)"


def test_keyboard_ctrl_a_space_ctrl_f_and_enter(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox, ORDERS)
    table = browser.table
    table.setFocus()
    table.setCurrentIndex(browser.proxy.index(0, 1))
    qtbot.keyClick(table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert browser.model.selected_count() == 60
    qtbot.keyClick(table, Qt.Key.Key_Space)  # the current row flips off
    assert browser.model.selected_count() == 59
    assert not browser.model.is_selected(browser.proxy.row_at(0).id)
    qtbot.keyClick(table, Qt.Key.Key_Space)
    assert browser.model.selected_count() == 60

    qtbot.keyClick(table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.focusWidget() is browser.filter_bar.search_box
    assert isinstance(QApplication.focusWidget(), QLineEdit)

    # Enter opens the details: the order's mapped fields and its products
    table.setFocus()
    row = browser.proxy.row_at(0)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    details = browser.details
    qtbot.waitUntil(lambda: details.record is not None, timeout=WAIT_MS)
    assert details.isVisible()
    fields = {sf: (value, zuora) for sf, value, zuora in details.field_rows()}
    assert fields["OrderNumber"] == (row.order_number, "orderNumber")
    assert fields["EffectiveDate"][0] == row.effective_date.isoformat()
    assert details.products.topLevelItemCount() == row.product_count > 0
    item = next(i for i in sandbox.org.all("OrderItem") if i["OrderId"] == row.id)
    product = sandbox.org.get("Product2", item["Product2Id"])
    names = {details.products.topLevelItem(n).text(1) for n in range(row.product_count)}
    assert product["Name"] in names


def test_account_details_show_the_fields_sent_to_zuora(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox)
    row = browser.model.row_at(3)
    browser.open_details(row)
    qtbot.waitUntil(lambda: browser.details.record is not None, timeout=WAIT_MS)
    fields = {sf: (value, zuora) for sf, value, zuora in browser.details.field_rows()}
    assert fields["Name"] == (row.name, "name")
    assert fields["Id"] == (row.id, "crmId")
    assert fields["BillingCity"][1] == "city"
    assert fields["Billing address"][1] == "billToContact"


def test_select_all_matching_reads_ids_page_by_page_beyond_what_is_loaded(qtbot, make_sandbox):
    sandbox = make_sandbox(accounts=700, orders=0)
    browser = open_browser(qtbot, sandbox, batch_size=200, load=False)
    qtbot.mouseClick(browser.select_matching_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, browser)
    assert browser.model.selected_count() == 700
    assert browser.model.rowCount() == 0
    assert browser.selected_label.text() == "700 selected (700 not loaded)"
    assert browser.progress_label.text() == "Selected 700 matching accounts"
    assert next_page_requests(sandbox) == 3  # 700 ids: a first page of 200 and 3 more


# --- loading and cancel ------------------------------------------------------------------------


def test_loading_shows_progress_and_can_be_cancelled(qtbot, make_sandbox):
    sandbox = make_sandbox(accounts=5000, orders=0)
    sandbox.faults.latency_ms["salesforce"] = 300
    browser = open_browser(qtbot, sandbox, batch_size=200, load=False, zuora=False)
    qtbot.mouseClick(browser.filter_bar.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: browser.model.rowCount() >= 400, timeout=WAIT_MS)
    assert browser.cancel_button.isVisible()
    label = browser.progress_label.text()
    assert label.endswith(" of 5,000 loaded"), label
    qtbot.mouseClick(browser.cancel_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, browser)
    loaded = browser.model.rowCount()
    assert 400 <= loaded < 5000
    assert loaded % 200 == 0  # whole pages only
    assert browser.progress_label.text() == f"Cancelled: {loaded:,} of 5,000 loaded"
    assert not browser.cancel_button.isVisible()
    requests_after = len(sandbox.log.entries())
    qtbot.wait(900)  # three more pages' worth of latency: nothing else arrives
    assert browser.model.rowCount() == loaded
    assert len(sandbox.log.entries()) == requests_after
    assert "loading cancelled" in browser.logged.text()  # type: ignore[attr-defined]
