"""The sandbox's org schema and generated data: realistic, consistent, deterministic."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from cpq_sync_gui.salesforce.ids import KEY_PREFIXES, is_valid_id
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.data import (
    AWKWARD_ACCOUNT_NAMES,
    ORGANIZATION_NAME,
    PRODUCTS,
    GeneratedOrg,
    add_months,
    generate_org,
)
from cpq_sync_gui.sandbox.objects import org_schema
from cpq_sync_gui.sandbox.org import Record

TODAY = date(2026, 5, 1)
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000\+0000$")
STATE_COUNTRIES = {"United States", "Canada", "Australia"}
TEXT_TYPES = {"string", "textarea", "phone", "email", "url", "picklist"}


def make(**overrides: object) -> GeneratedOrg:
    return generate_org(SandboxConfig(**overrides), today=TODAY)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def demo() -> GeneratedOrg:
    return make()


@pytest.fixture(scope="module")
def large() -> GeneratedOrg:
    """Big enough for shares (missing countries, parents) to be measured, small enough to be quick."""
    return make(seed=11, accounts=2000, orders=0)


def snapshot(generated: GeneratedOrg) -> dict[str, list[Record]]:
    return {name: generated.org.all(name) for name in generated.org.schema}


def records(generated: GeneratedOrg, sobject: str) -> list[Record]:
    return generated.org.all(sobject)


# -- schema ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sobject", "field", "target", "relationship"),
    [
        ("Account", "ParentId", "Account", "Parent"),
        ("Account", "OwnerId", "User", "Owner"),
        ("Contact", "AccountId", "Account", "Account"),
        ("Order", "AccountId", "Account", "Account"),
        ("Order", "BillToContactId", "Contact", "BillToContact"),
        ("Order", "ShipToContactId", "Contact", "ShipToContact"),
        ("Order", "OwnerId", "User", "Owner"),
        ("OrderItem", "OrderId", "Order", "Order"),
        ("OrderItem", "Product2Id", "Product2", "Product2"),
    ],
)
def test_reference_fields(sobject: str, field: str, target: str, relationship: str) -> None:
    definition = org_schema()[sobject].fields[field]
    assert definition.type == "reference"
    assert definition.reference_to == target
    assert definition.relationship_name == relationship
    assert definition.length == 18
    assert org_schema()[sobject].relationship_named(relationship.lower()) == definition


@pytest.mark.parametrize(
    ("parent", "name", "child", "field"),
    [
        ("Account", "Contacts", "Contact", "AccountId"),
        ("Account", "Orders", "Order", "AccountId"),
        ("Account", "ChildAccounts", "Account", "ParentId"),
        ("Order", "OrderItems", "OrderItem", "OrderId"),
    ],
)
def test_child_relationships(parent: str, name: str, child: str, field: str) -> None:
    schema = org_schema()
    relationship = schema[parent].child_relationship_named(name.upper())
    assert relationship is not None
    assert (relationship.name, relationship.child_sobject, relationship.field) == (
        name,
        child,
        field,
    )
    assert schema[child].fields[field].reference_to == parent


def test_key_prefixes_match_the_id_table() -> None:
    schema = org_schema()
    for name, definition in schema.items():
        assert KEY_PREFIXES[definition.key_prefix] == name


def test_schema_field_definitions_are_sane() -> None:
    for cpq in (True, False):
        for multi in (True, False):
            for sobject in org_schema(cpq=cpq, multi_currency=multi).values():
                assert sobject.fields["Id"].type == "id"
                assert not sobject.fields["Id"].nillable
                for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                    assert sobject.fields[name].type == "datetime"
                for name, field in sobject.fields.items():
                    assert field.name == name
                    assert field.custom == name.endswith("__c")
                    assert field.label
                    if field.type == "reference":
                        assert field.reference_to
                        assert field.relationship_name
                    if field.type in ("string", "textarea"):
                        assert field.length > 0, f"{sobject.name}.{name}"


def test_account_fields() -> None:
    account = org_schema().get("Account")
    assert account is not None
    for name in (
        "Name", "AccountNumber", "Description", "Phone", "Website", "Industry", "ParentId",
        "BillingStreet", "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry",
        "ShippingStreet", "ShippingCity", "ShippingState", "ShippingPostalCode", "ShippingCountry",
        "CurrencyIsoCode", "OwnerId", "IsDeleted",
    ):  # fmt: skip
        assert name in account.fields, name
    # No state and country picklists in this org.
    assert "BillingStateCode" not in account.fields
    assert "BillingCountryCode" not in account.fields
    assert account.fields["Name"].length == 255
    assert account.field_named("billingcountry") is account.fields["BillingCountry"]


def test_order_and_order_item_fields() -> None:
    schema = org_schema()
    order, item = schema["Order"], schema["OrderItem"]
    assert order.fields["EffectiveDate"].type == "date"
    assert order.fields["EndDate"].type == "date"
    assert order.fields["Status"].picklist_values == ("Draft", "Activated")
    assert order.fields["TotalAmount"].type == "currency"
    assert order.fields["Name"].nillable
    assert "Name" not in item.fields
    assert "OwnerId" not in item.fields
    for name in ("OrderItemNumber", "Quantity", "UnitPrice", "ListPrice", "TotalPrice",
                 "ServiceDate", "EndDate", "Description"):  # fmt: skip
        assert name in item.fields, name
    assert item.fields["SBQQ__ChargeType__c"].picklist_values == ("One-Time", "Recurring", "Usage")


def test_cpq_fields_only_with_cpq() -> None:
    with_cpq, without = org_schema(cpq=True), org_schema(cpq=False)
    expected = {
        "Order": {
            "SBQQ__Quote__c", "SBQQ__PaymentTerm__c", "SBQQ__Contracted__c",
            "SBQQ__ContractingMethod__c", "SBQQ__RenewalTerm__c", "SBQQ__PriceCalcStatus__c",
        },
        "OrderItem": {
            "SBQQ__ChargeType__c", "SBQQ__BillingType__c", "SBQQ__BillingFrequency__c",
            "SBQQ__SubscriptionTerm__c", "SBQQ__DefaultSubscriptionTerm__c",
            "SBQQ__SubscriptionPricing__c", "SBQQ__SubscriptionType__c",
        },
        "Product2": {
            "SBQQ__ChargeType__c", "SBQQ__BillingFrequency__c", "SBQQ__SubscriptionTerm__c",
            "SBQQ__SubscriptionPricing__c",
        },
    }  # fmt: skip
    for sobject, names in expected.items():
        assert names <= set(with_cpq[sobject].fields), sobject
        assert all(with_cpq[sobject].fields[n].custom for n in names)
        assert not any(n.startswith("SBQQ__") for n in without[sobject].fields), sobject


def test_currency_fields_only_with_multi_currency() -> None:
    multi, single = org_schema(multi_currency=True), org_schema(multi_currency=False)
    for sobject in ("Account", "Contact", "Order", "OrderItem", "Product2", "PricebookEntry"):
        assert multi[sobject].fields["CurrencyIsoCode"].type == "picklist"
        assert "CurrencyIsoCode" not in single[sobject].fields
    assert "CurrencyType" in multi
    assert "CurrencyType" not in single
    assert "DefaultCurrencyIsoCode" in single["Organization"].fields


def test_web_link_fields() -> None:
    link = org_schema()["WebLink"]
    assert link.key_prefix == "00b"
    assert link.fields["DisplayType"].picklist_values == ("button", "link", "massActionButton")
    assert link.fields["LinkType"].picklist_values == (
        "url", "sControl", "javascript", "page", "flow",
    )  # fmt: skip
    assert link.fields["OpenType"].picklist_values == (
        "newWindow", "sidebar", "noSidebar", "replace", "onClickJavaScript",
    )  # fmt: skip
    assert link.fields["Url"].type == "textarea"
    for name in (
        "Name",
        "MasterLabel",
        "PageOrSobjectType",
        "NamespacePrefix",
        "Height",
        "Position",
    ):
        assert name in link.fields


# -- determinism and sizes ------------------------------------------------------------------


def test_same_seed_same_records(demo: GeneratedOrg) -> None:
    again = make()
    assert snapshot(again) == snapshot(demo)
    assert again.catalog == demo.catalog
    assert again.organization_id == demo.organization_id
    assert again.products_missing_from_zuora == demo.products_missing_from_zuora


def test_another_seed_other_records(demo: GeneratedOrg) -> None:
    other = make(seed=8)
    assert {a["Id"] for a in records(other, "Account")}.isdisjoint(
        a["Id"] for a in records(demo, "Account")
    )
    assert [a["Name"] for a in records(other, "Account")] != [
        a["Name"] for a in records(demo, "Account")
    ]


def test_demo_counts(demo: GeneratedOrg) -> None:
    org = demo.org
    assert org.count("Account") == 200
    assert org.count("Order") == 300
    assert org.count("Organization") == 1
    assert org.count("Product2") == len(PRODUCTS) == 30
    assert org.count("Pricebook2") == 1
    assert org.count("PricebookEntry") == 30 * len(demo.currencies)
    assert org.count("WebLink") == 0
    assert 2 <= org.count("User") == len(demo.users)
    per_account = Counter(c["AccountId"] for c in records(demo, "Contact"))
    assert set(per_account) == {a["Id"] for a in records(demo, "Account")}
    assert set(per_account.values()) <= {1, 2, 3}
    per_order = Counter(i["OrderId"] for i in records(demo, "OrderItem"))
    assert set(per_order) == {o["Id"] for o in records(demo, "Order")}
    assert set(per_order.values()) <= {1, 2, 3, 4, 5}
    assert len(set(per_order.values())) >= 4


@pytest.mark.parametrize(("accounts", "orders"), [(0, 0), (0, 5), (1, 3), (5, 0), (19, 40)])
def test_small_sizes(accounts: int, orders: int) -> None:
    generated = make(accounts=accounts, orders=orders)
    assert generated.org.count("Account") == accounts
    assert generated.org.count("Order") == (orders if accounts else 0)
    names = {a["Name"] for a in records(generated, "Account")}
    assert not names & set(AWKWARD_ACCOUNT_NAMES)  # only from 20 accounts on


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        make(accounts=-1)


# -- records against the schema --------------------------------------------------------------


@pytest.mark.parametrize(
    "generated",
    ["demo", "plain"],
)
def test_records_match_the_schema(generated: str, demo: GeneratedOrg) -> None:
    subject = demo if generated == "demo" else make(cpq_fields=False, multi_currency=False)
    checked = 0
    for name, sobject in subject.org.schema.items():
        for record in subject.org.all(name):
            assert set(record) == set(sobject.fields), name
            for field_name, value in record.items():
                field = sobject.fields[field_name]
                if value is None:
                    assert field.nillable, f"{name}.{field_name} is required"
                    continue
                if field.type in TEXT_TYPES:
                    assert isinstance(value, str)
                    assert len(value) <= field.length, f"{name}.{field_name}"
                if field.type == "picklist" and field.picklist_values:
                    assert value in field.picklist_values, f"{name}.{field_name}={value!r}"
                if field.type == "boolean":
                    assert isinstance(value, bool)
                if field.type in ("double", "currency"):
                    assert isinstance(value, float)
                if field.type == "datetime":
                    assert DATETIME.match(value), value
                checked += 1
    assert checked > 10000


def test_plain_org_has_no_cpq_or_currency_values() -> None:
    plain = make(cpq_fields=False, multi_currency=False)
    assert plain.currencies == ("USD",)
    assert plain.org.count("Order") == 300
    for name in plain.org.schema:
        for record in plain.org.all(name):
            assert "CurrencyIsoCode" not in record
            assert not any(key.startswith("SBQQ__") for key in record)
    for product in plain.catalog:
        assert set(product.rate_plans[0].charges[0].prices) == {"USD"}


# -- ids and references -----------------------------------------------------------------------


def test_ids_are_valid_unique_and_prefixed(demo: GeneratedOrg) -> None:
    seen: set[str] = set()
    for name, sobject in demo.org.schema.items():
        for record in demo.org.all(name):
            record_id = record["Id"]
            assert len(record_id) == 18
            assert is_valid_id(record_id)
            assert record_id[:3] == sobject.key_prefix
            assert record_id.lower() not in seen
            seen.add(record_id.lower())
    assert demo.organization_id == records(demo, "Organization")[0]["Id"]
    assert demo.organization_id.startswith("00D")


@pytest.mark.parametrize("fixture", ["demo", "large"])
def test_every_reference_points_to_an_existing_record(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    generated: GeneratedOrg = request.getfixturevalue(fixture)
    schema = generated.org.schema
    ids = {name: {r["Id"] for r in generated.org.all(name)} for name in schema}
    followed = 0
    for name, sobject in schema.items():
        references = [f for f in sobject.fields.values() if f.type == "reference"]
        for record in generated.org.all(name):
            for field in references:
                value = record[field.name]
                if value is None:
                    continue
                assert field.reference_to in schema, f"{name}.{field.name} -> unsimulated object"
                assert value in ids[field.reference_to], f"{name}.{field.name}={value}"
                followed += 1
    assert followed > 1000


def test_order_contacts_belong_to_the_order_account(demo: GeneratedOrg) -> None:
    contact_account = {c["Id"]: c["AccountId"] for c in records(demo, "Contact")}
    for order in records(demo, "Order"):
        for field in ("BillToContactId", "ShipToContactId"):
            if order[field]:
                assert contact_account[order[field]] == order["AccountId"]


def test_parents_come_before_children_without_cycles(large: GeneratedOrg) -> None:
    accounts = records(large, "Account")
    position = {a["Id"]: i for i, a in enumerate(accounts)}
    parent_of = {a["Id"]: a["ParentId"] for a in accounts}
    depths = Counter()
    for account in accounts:
        if account["ParentId"]:
            assert position[account["ParentId"]] < position[account["Id"]]
        depth, current = 0, account["ParentId"]
        while current:
            depth += 1
            assert depth <= len(accounts)
            current = parent_of[current]
        depths[depth] += 1
    with_parent = sum(n for d, n in depths.items() if d)
    assert 0.07 <= with_parent / len(accounts) <= 0.13
    assert depths[2] >= 3  # a few two-level chains
    assert max(depths) == 2


def test_children_share_their_parent_currency(large: GeneratedOrg) -> None:
    by_id = {a["Id"]: a for a in records(large, "Account")}
    children = [a for a in by_id.values() if a["ParentId"]]
    assert children
    for child in children:
        assert child["CurrencyIsoCode"] == by_id[child["ParentId"]]["CurrencyIsoCode"]


# -- account realism ---------------------------------------------------------------------------


def test_awkward_names_are_present(demo: GeneratedOrg) -> None:
    names = [a["Name"] for a in records(demo, "Account")]
    for awkward in AWKWARD_ACCOUNT_NAMES:
        assert names.count(awkward) >= 1, awkward
    assert "O'Brien & Sons" in names
    assert "a_b\\c Labs" in names
    assert "شركة المثال" in names
    assert "Rocket 🚀 Labs" in names
    assert 'Smith "The Best" Ltd' in names
    assert max(len(n) for n in names) == 255
    # They sit among the first 20, so the demo shows them on its first page…
    assert set(AWKWARD_ACCOUNT_NAMES) <= set(names[:20])
    # …and each has an order.
    awkward_ids = {a["Id"] for a in records(demo, "Account") if a["Name"] in AWKWARD_ACCOUNT_NAMES}
    assert awkward_ids <= {o["AccountId"] for o in records(demo, "Order")}


def test_awkward_accounts_have_complete_addresses(demo: GeneratedOrg) -> None:
    for account in records(demo, "Account"):
        if account["Name"] in AWKWARD_ACCOUNT_NAMES:
            assert account["BillingCountry"]
            assert account["BillingStreet"]


def test_missing_billing_country_and_state_shares(large: GeneratedOrg) -> None:
    accounts = records(large, "Account")
    no_country = [a for a in accounts if not a["BillingCountry"]]
    no_state = [
        a for a in accounts if a["BillingCountry"] in STATE_COUNTRIES and not a["BillingState"]
    ]
    assert 0.03 <= len(no_country) / len(accounts) <= 0.07
    assert 0.015 <= len(no_state) / len(accounts) <= 0.045
    complete = [a for a in accounts if a["BillingCountry"] in STATE_COUNTRIES and a["BillingState"]]
    assert len(complete) > len(accounts) / 2
    # An address without a country still has the rest.
    assert all(a["BillingCity"] and a["BillingStreet"] for a in no_country)


def test_currencies(large: GeneratedOrg) -> None:
    currencies = Counter(a["CurrencyIsoCode"] for a in records(large, "Account"))
    assert set(currencies) == {"USD", "EUR", "GBP", "JPY"}
    assert currencies["USD"] > sum(currencies.values()) / 2
    for currency in ("EUR", "GBP", "JPY"):
        assert currencies[currency] >= 20
    assert large.currencies == ("USD", "EUR", "GBP", "JPY")
    assert large.org_currency == "USD"


def test_contacts_look_real(large: GeneratedOrg) -> None:
    contacts = records(large, "Contact")
    for contact in contacts:
        expected = f"{contact['FirstName']} {contact['LastName']}" if contact["FirstName"] else contact["LastName"]  # fmt: skip
        assert contact["Name"] == expected
        if contact["Email"]:
            assert re.fullmatch(r"[a-z0-9.]+@[a-z0-9]+\.example\.com", contact["Email"])
    assert sum(1 for c in contacts if c["Email"]) / len(contacts) > 0.9
    assert any(c["FirstName"] is None for c in contacts)
    assert any(not c["FirstName"] or not c["FirstName"].isascii() for c in contacts)


def test_owners_are_users(demo: GeneratedOrg) -> None:
    user_ids = [u["Id"] for u in demo.users]
    owners = Counter(a["OwnerId"] for a in records(demo, "Account"))
    assert set(owners) <= set(user_ids)
    assert len(owners) >= 3
    assert demo.integration_user["Id"] == user_ids[0]
    assert demo.integration_user["IsActive"] is True
    assert demo.integration_user["Username"].startswith("integration@")


def test_organization_record(demo: GeneratedOrg) -> None:
    (organization,) = records(demo, "Organization")
    assert organization["Name"] == ORGANIZATION_NAME == "CPQ Sync Demo Org"
    assert organization["InstanceName"] == "CS42"
    assert organization["IsSandbox"] is False
    assert organization["DefaultCurrencyIsoCode"] == demo.org_currency == "USD"
    corporate = [c["IsoCode"] for c in records(demo, "CurrencyType") if c["IsCorporate"]]
    assert corporate == ["USD"]
    sandbox = generate_org(SandboxConfig(accounts=3, orders=0), today=TODAY, sandbox_org=True)
    assert records(sandbox, "Organization")[0]["IsSandbox"] is True


# -- products and catalog ---------------------------------------------------------------------


def test_products(demo: GeneratedOrg) -> None:
    products = records(demo, "Product2")
    codes = [p["ProductCode"] for p in products]
    assert len(set(codes)) == len(codes) == 30
    assert all(re.fullmatch(r"SKU-[A-Z]+-\d{3}", code) for code in codes)
    recurring = [p for p in products if p["SBQQ__ChargeType__c"] == "Recurring"]
    one_time = [p for p in products if p["SBQQ__ChargeType__c"] == "One-Time"]
    assert len(recurring) + len(one_time) == 30
    assert recurring
    assert one_time
    for product in recurring:
        assert product["SBQQ__BillingFrequency__c"] in ("Monthly", "Quarterly", "Annual")
        assert product["SBQQ__SubscriptionPricing__c"] == "Fixed Price"
    assert {p["SBQQ__BillingFrequency__c"] for p in recurring} == {"Monthly", "Quarterly", "Annual"}
    for product in one_time:
        assert product["SBQQ__SubscriptionPricing__c"] is None
        assert product["SBQQ__BillingFrequency__c"] is None


def test_catalog_excludes_exactly_the_missing_products(demo: GeneratedOrg) -> None:
    products = {p["Id"]: p for p in records(demo, "Product2")}
    missing = demo.products_missing_from_zuora
    assert 2 <= len(missing) <= 3
    assert set(missing) <= set(products)
    in_catalog = {c.product2_id for c in demo.catalog}
    assert in_catalog == set(products) - set(missing)
    assert len(demo.catalog) == len(products) - len(missing)
    assert {c.sku for c in demo.catalog} == {
        p["ProductCode"] for i, p in products.items() if i not in missing
    }


def test_catalog_matches_products_and_price_book(demo: GeneratedOrg) -> None:
    products = {p["Id"]: p for p in records(demo, "Product2")}
    prices = {
        (e["Product2Id"], e["CurrencyIsoCode"]): e["UnitPrice"]
        for e in records(demo, "PricebookEntry")
    }
    periods = {"Monthly": "Month", "Quarterly": "Quarter", "Annual": "Annual"}
    for entry in demo.catalog:
        product = products[entry.product2_id]
        assert entry.sku == product["ProductCode"]
        assert entry.name == product["Name"]
        (plan,) = entry.rate_plans
        assert plan.external_id == product["Id"]
        (charge,) = plan.charges
        if product["SBQQ__ChargeType__c"] == "Recurring":
            assert charge.charge_type == "Recurring"
            assert charge.billing_period == periods[product["SBQQ__BillingFrequency__c"]]
            assert charge.charge_model == "Per Unit Pricing"
        else:
            assert charge.charge_type == "OneTime"
            assert charge.billing_period is None
        assert set(charge.prices) == set(demo.currencies)
        for currency, price in charge.prices.items():
            assert price == prices[product["Id"], currency]
            assert price > 0


def test_every_currency_used_is_priced(demo: GeneratedOrg) -> None:
    used = {o["CurrencyIsoCode"] for o in records(demo, "Order")}
    used |= {a["CurrencyIsoCode"] for a in records(demo, "Account")}
    for entry in demo.catalog:
        assert used <= set(entry.rate_plans[0].charges[0].prices)


# -- orders -----------------------------------------------------------------------------------


def test_order_numbers(demo: GeneratedOrg) -> None:
    numbers = [o["OrderNumber"] for o in records(demo, "Order")]
    assert numbers[0] == "00000101"
    assert all(re.fullmatch(r"\d{8}", n) for n in numbers)
    assert [int(n) for n in numbers] == list(range(101, 101 + len(numbers)))
    created = [o["CreatedDate"] for o in records(demo, "Order")]
    assert created == sorted(created)  # numbered in creation order, as an auto-number is


def test_order_statuses_and_contacts(demo: GeneratedOrg) -> None:
    orders = records(demo, "Order")
    statuses = Counter(o["Status"] for o in orders)
    assert set(statuses) == {"Activated", "Draft"}
    assert statuses["Activated"] > statuses["Draft"] > 0
    assert all(o["StatusCode"] == o["Status"] for o in orders)
    assert all(bool(o["ActivatedDate"]) == (o["Status"] == "Activated") for o in orders)
    bill_to = sum(1 for o in orders if o["BillToContactId"]) / len(orders)
    assert 0.55 <= bill_to <= 0.85


def test_order_totals_are_consistent(demo: GeneratedOrg) -> None:
    items_by_order: dict[str, list[Record]] = {}
    for item in records(demo, "OrderItem"):
        items_by_order.setdefault(item["OrderId"], []).append(item)
    entries = {e["Id"]: e for e in records(demo, "PricebookEntry")}
    for order in records(demo, "Order"):
        places = 0 if order["CurrencyIsoCode"] == "JPY" else 2
        items = items_by_order[order["Id"]]
        for item in items:
            assert 1 <= item["Quantity"] <= 50
            assert item["Quantity"] == int(item["Quantity"])
            assert 0 < item["UnitPrice"] <= item["ListPrice"]
            assert item["TotalPrice"] == round(item["Quantity"] * item["UnitPrice"], places)
            entry = entries[item["PricebookEntryId"]]
            assert entry["Product2Id"] == item["Product2Id"]
            assert entry["CurrencyIsoCode"] == item["CurrencyIsoCode"] == order["CurrencyIsoCode"]
            assert entry["UnitPrice"] == item["ListPrice"]
        assert order["TotalAmount"] == pytest.approx(
            sum(i["TotalPrice"] for i in items), abs=10**-places / 2
        )
    assert any(i["UnitPrice"] < i["ListPrice"] for i in records(demo, "OrderItem"))


def test_order_items_mix_recurring_and_one_time(demo: GeneratedOrg) -> None:
    kinds: dict[str, set[str]] = {}
    for item in records(demo, "OrderItem"):
        kinds.setdefault(item["OrderId"], set()).add(item["SBQQ__ChargeType__c"])
    assert any(k == {"Recurring", "One-Time"} for k in kinds.values())
    assert any(k == {"Recurring"} for k in kinds.values())
    missing = set(demo.products_missing_from_zuora)
    assert any(i["Product2Id"] in missing for i in records(demo, "OrderItem"))


def test_order_dates(demo: GeneratedOrg) -> None:
    earliest, latest = TODAY - timedelta(days=730), TODAY + timedelta(days=90)
    orders = {o["Id"]: o for o in records(demo, "Order")}
    effective = [date.fromisoformat(o["EffectiveDate"]) for o in orders.values()]
    assert all(earliest <= d <= latest for d in effective)
    assert any(d > TODAY for d in effective)
    assert any(d < TODAY - timedelta(days=365) for d in effective)
    terms = Counter()
    ends_by_order: dict[str, list[date]] = {}
    for item in records(demo, "OrderItem"):
        order = orders[item["OrderId"]]
        start = date.fromisoformat(item["ServiceDate"])
        assert start >= date.fromisoformat(order["EffectiveDate"])
        if item["SBQQ__ChargeType__c"] == "Recurring":
            term = item["SBQQ__SubscriptionTerm__c"]
            terms[term] += 1
            end = date.fromisoformat(item["EndDate"])
            assert end == add_months(start, int(term)) - timedelta(days=1)
            ends_by_order.setdefault(order["Id"], []).append(end)
            assert item["SBQQ__BillingFrequency__c"] in ("Monthly", "Quarterly", "Annual")
            assert item["SBQQ__SubscriptionPricing__c"] == "Fixed Price"
        else:
            assert item["EndDate"] is None
            assert item["SBQQ__SubscriptionPricing__c"] is None
    assert set(terms) == {12.0, 24.0, 36.0}
    for order_id, order in orders.items():
        ends = ends_by_order.get(order_id)
        assert order["EndDate"] == (max(ends).isoformat() if ends else None)


def test_timestamps_are_in_the_past_and_ordered(demo: GeneratedOrg) -> None:
    now = datetime(TODAY.year, TODAY.month, TODAY.day)
    for name in demo.org.schema:
        for record in demo.org.all(name):
            created = datetime.strptime(record["CreatedDate"], "%Y-%m-%dT%H:%M:%S.000+0000")
            modified = datetime.strptime(record["LastModifiedDate"], "%Y-%m-%dT%H:%M:%S.000+0000")
            assert created <= modified <= now, name
            assert record["SystemModstamp"] == record["LastModifiedDate"]


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 11, 15), 3, date(2025, 2, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 3, 1), 36, date(2027, 3, 1)),
        (date(2024, 12, 31), 0, date(2024, 12, 31)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_dates_follow_today() -> None:
    later = generate_org(SandboxConfig(accounts=30, orders=30), today=date(2030, 1, 1))
    effective = [date.fromisoformat(o["EffectiveDate"]) for o in later.org.all("Order")]
    assert min(effective) >= date(2028, 1, 1)
    assert later.today == date(2030, 1, 1)


@pytest.mark.slow
def test_fifty_thousand_accounts() -> None:
    generated = make(accounts=50_000, orders=0)
    assert generated.org.count("Account") == 50_000
    assert generated.org.count("Contact") >= 50_000
    assert generated.org.count("Order") == 0
