"""The record tabs' Zuora status column (against the sandbox tenant), links, row menu and remembered columns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication

from cpq_sync_gui.salesforce.ids import to_18
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.ui.record_browser import RecordBrowser
from cpq_sync_gui.ui.record_rows import ACCOUNTS, ORDERS, ZuoraState
from tests.helpers.records import open_browser, wait_idle
from tests.helpers.sandbox_clients import account_payload, order_payload

pytestmark = pytest.mark.usefixtures("ca_bundle_points_elsewhere")


# --- Zuora status ------------------------------------------------------------------------------


def _zuora_account(sandbox: Sandbox, crm_id: str, name: str) -> str:
    answer = sandbox.zuora.create_account(account_payload(crm_id, name))
    return str(answer["accountNumber"])


def test_zuora_status_column_for_accounts(qtbot, sandbox):
    accounts = sandbox.org.all("Account")
    synced = {accounts[4]["Id"]: "", accounts[11]["Id"]: ""}
    for crm_id in synced:
        synced[crm_id] = _zuora_account(sandbox, crm_id, "Synced")
    _zuora_account(sandbox, accounts[4]["Id"][:15], "Duplicate by 15-char crmId")
    browser = open_browser(qtbot, sandbox)
    wait_idle(qtbot, browser)
    by_id = {row.id: row for row in browser.model.rows()}
    for crm_id, number in synced.items():
        assert by_id[crm_id].zuora.state is ZuoraState.IN_ZUORA
        assert by_id[crm_id].zuora.account_number == number
    assert by_id[accounts[11]["Id"]].zuora.text == f"In Zuora ({synced[accounts[11]['Id']]})"
    assert by_id[accounts[4]["Id"]].zuora.text.endswith("+1 more)")
    others = [row for row in browser.model.rows() if row.id not in synced]
    assert {row.zuora.text for row in others} == {"Not in Zuora"}
    # batched: one ZOQL query for 40 accounts, never one call per row
    zoql = sandbox.log.entries("zuora", "POST", "/v1/action/query*")
    assert len(zoql) == 1

    browser.filter_bar.only_not_in_zuora.setChecked(True)
    assert browser.proxy.rowCount() == 38
    assert not set(browser.proxy.visible_ids()) & set(synced)
    browser._update_summaries()
    assert browser.shown_label.text() == "Showing 38 of 40 loaded"
    assert browser.zuora_label.text() == "Zuora: 2 in Zuora, 38 not in Zuora"


def test_select_all_matching_not_yet_in_zuora_leaves_synced_ones_out(qtbot, sandbox):
    accounts = sandbox.org.all("Account")
    for account in accounts[:3]:
        _zuora_account(sandbox, account["Id"], "Synced")
    browser = open_browser(qtbot, sandbox, load=False)
    browser.filter_bar.only_not_in_zuora.setChecked(True)
    qtbot.mouseClick(browser.select_matching_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, browser)
    assert browser.selected_ids() == {a["Id"] for a in accounts[3:]}
    assert "3 left out as already in Zuora" in browser.progress_label.text()


def test_zuora_status_column_for_orders(qtbot, sandbox):
    orders = sandbox.org.all("Order")
    order = orders[7]
    account = sandbox.org.get("Account", order["AccountId"])
    number = _zuora_account(sandbox, account["Id"], account["Name"][:50])
    item = next(i for i in sandbox.org.all("OrderItem") if i["OrderId"] == order["Id"])
    plan = {"externalCatalogPlanId": item["Product2Id"], "externallyManagedPlanId": item["Id"]}
    sandbox.zuora.create_order(
        order_payload(number, plan, order["OrderNumber"], order_date=order["EffectiveDate"])
    )
    browser = open_browser(qtbot, sandbox, ORDERS)
    states = {row.order_number: row.zuora.text for row in browser.model.rows()}
    assert states.pop(order["OrderNumber"]) == "In Zuora"
    assert set(states.values()) == {"Not in Zuora"}


def test_without_zuora_the_status_says_so_and_the_filter_explains(qtbot, sandbox):
    browser = open_browser(qtbot, sandbox, zuora=False)
    assert {row.zuora.text for row in browser.model.rows()} == {"—"}
    browser.filter_bar.only_not_in_zuora.setChecked(True)
    assert not browser.filter_bar.only_not_in_zuora.isChecked()
    assert "needs a Zuora connection" in browser.message.text()


# --- links, context menu, columns --------------------------------------------------------------


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.fixture
def opened_urls() -> Iterator[list[str]]:
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("https", catcher, "open")
    try:
        yield catcher.urls
    finally:
        QDesktopServices.unsetUrlHandler("https")


def test_context_menu_opens_salesforce_and_zuora_and_copies_the_id(qtbot, sandbox, opened_urls):
    account = sandbox.org.all("Account")[0]
    _zuora_account(sandbox, account["Id"], "Synced")
    browser = open_browser(qtbot, sandbox)
    row = browser.model.row_by_id(account["Id"])
    menu = browser.row_menu(row)
    actions = {action.text(): action for action in menu.actions() if action.text()}
    actions["Open in Salesforce"].trigger()
    host = sandbox.salesforce_url.removeprefix("https://")
    assert opened_urls[-1] == f"https://{host}/lightning/r/Account/{row.id}/view"
    assert actions["Open in Zuora"].isEnabled()
    actions["Open in Zuora"].trigger()
    zuora_host = sandbox.zuora_url.removeprefix("https://")
    assert opened_urls[-1] == (
        f"https://{zuora_host}/apps/CustomerAccount.do?method=view&id={row.zuora.zuora_id}"
    )
    actions["Copy id"].trigger()
    assert QGuiApplication.clipboard().text() == row.id
    other = next(r for r in browser.model.rows() if r.zuora.state is ZuoraState.NOT_IN_ZUORA)
    menu = browser.row_menu(other)
    assert not next(a for a in menu.actions() if a.text() == "Open in Zuora").isEnabled()


def test_hidden_columns_widths_and_order_are_remembered(qtbot, sandbox, cpq_sync_home):
    browser = open_browser(qtbot, sandbox, load=False)
    menu = browser.table.column_menu()
    owner = next(a for a in menu.actions() if a.text() == "Owner")
    owner.trigger()  # hide
    header = browser.table.horizontalHeader()
    city = ACCOUNTS.column_index("billing_city")
    header.resizeSection(city, 321)
    header.moveSection(header.visualIndex(city), 1)
    browser.shutdown()  # saves the layout
    assert (cpq_sync_home / "config" / "window-state.ini").exists()

    again = RecordBrowser(ACCOUNTS)
    qtbot.addWidget(again)
    header = again.table.horizontalHeader()
    assert header.isSectionHidden(ACCOUNTS.column_index("owner"))
    assert header.sectionSize(city) == 321
    assert header.visualIndex(city) == 1
    assert not header.isSectionHidden(0)
    again.table.reset_layout()
    assert not header.isSectionHidden(ACCOUNTS.column_index("owner"))
    assert to_18(sandbox.org.all("Account")[0]["Id"])  # the org was there all along
