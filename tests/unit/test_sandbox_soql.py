"""The sandbox's SOQL parser and evaluator, against a small schema built here by hand."""

# Building SOQL text from test values is what these tests exercise (S608 flags it as SQL).
# ruff: noqa: S608

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpq_sync_gui.sandbox.org import OrgStore
from cpq_sync_gui.sandbox.schema import ChildRelationship, FieldDef, Schema, SObjectDef
from cpq_sync_gui.sandbox.soql import (
    And,
    Comparison,
    CountItem,
    FieldRef,
    Literal,
    Not,
    Or,
    Query,
    QueryResult,
    SoqlError,
    SubqueryItem,
    execute,
    parse,
)

TODAY = date(2024, 1, 31)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def case_safe(id15: str) -> str:
    """Salesforce's 18-character form: three characters recording the upper-case positions."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, c in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if c.isupper())
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return id15 + suffix


def make_id_factory():
    counter = itertools.count(1)

    def new_id(prefix: str) -> str:
        number, digits = next(counter), ""
        while number:
            number, digit = divmod(number, 62)
            digits = _BASE62[digit] + digits
        return case_safe(prefix + "aB" + digits.rjust(10, "0"))  # mixed case on purpose

    return new_id


def _field(name: str, kind: str, **extra: Any) -> FieldDef:
    return FieldDef(name=name, type=kind, label=name, **extra)


def _sobject(name: str, prefix: str, fields: list[FieldDef], children=()) -> SObjectDef:
    return SObjectDef(
        name=name,
        label=name,
        label_plural=name + "s",
        key_prefix=prefix,
        fields={f.name: f for f in [_field("Id", "id"), *fields]},
        child_relationships={c.name: c for c in children},
    )


def make_schema() -> Schema:
    objects = [
        _sobject("User", "005", [_field("Name", "string")]),
        _sobject(
            "Account",
            "001",
            [
                _field("Name", "string"),
                _field("BillingCity", "string"),
                _field("Type", "picklist"),
                _field("Description", "textarea"),
                _field("AnnualRevenue", "currency"),
                _field("NumberOfEmployees", "int"),
                _field("IsPartner", "boolean"),
                _field("IsDeleted", "boolean"),
                _field("CreatedDate", "datetime"),
                _field("OwnerId", "reference", reference_to="User", relationship_name="Owner"),
                _field("ParentId", "reference", reference_to="Account", relationship_name="Parent"),
            ],
            [
                ChildRelationship("Orders", "Order", "AccountId"),
                ChildRelationship("ChildAccounts", "Account", "ParentId"),
            ],
        ),
        _sobject(
            "Order",
            "801",
            [
                _field("OrderNumber", "string"),
                _field("Status", "picklist"),
                _field("EffectiveDate", "date"),
                _field(
                    "AccountId", "reference", reference_to="Account", relationship_name="Account"
                ),
            ],
            [ChildRelationship("OrderItems", "OrderItem", "OrderId")],
        ),
        _sobject(
            "OrderItem",
            "802",
            [
                _field("Quantity", "double"),
                _field("IsDeleted", "boolean"),
                _field("OrderId", "reference", reference_to="Order", relationship_name="Order"),
                _field(
                    "Product2Id", "reference", reference_to="Product2", relationship_name="Product2"
                ),
            ],
        ),
        _sobject(
            "Product2",
            "01t",
            [_field("Name", "string"), _field("ProductCode", "string")],
        ),
    ]
    return {o.name: o for o in objects}


class Seeded:
    """A populated store plus the ids the tests refer to."""

    def __init__(self) -> None:
        self.org = OrgStore(make_schema(), make_id_factory())
        insert = self.org.insert
        self.ada = insert("User", {"Name": "Ada Admin"})
        self.bob = insert("User", {"Name": "bob builder"})
        self.acme = insert(
            "Account",
            {
                "Name": "Acme",
                "BillingCity": "Paris",
                "Type": "Customer",
                "AnnualRevenue": 100.0,
                "NumberOfEmployees": 10,
                "IsPartner": True,
                "CreatedDate": "2024-01-31T10:00:00.000+0000",
                "OwnerId": self.ada,
            },
        )
        self.obrien = insert(
            "Account",
            {
                "Name": "O'Brien Ltd",
                "BillingCity": "Dublin",
                "Type": "Prospect",
                "AnnualRevenue": 50.0,
                "IsPartner": False,
                "CreatedDate": "2024-01-30T23:00:00.000+0000",
                "OwnerId": self.bob,
                "ParentId": self.acme,
            },
        )
        self.natural = insert(
            "Account",
            {
                "Name": "100% Natural",
                "BillingCity": None,
                "OwnerId": self.ada,
                "ParentId": self.obrien,
                "CreatedDate": "2023-12-01T00:00:00.000+0000",
            },
        )
        self.thousand = insert(
            "Account", {"Name": "1000 Natural", "BillingCity": "berlin", "AnnualRevenue": 0.0}
        )
        self.under = insert("Account", {"Name": "a_b\\c", "BillingCity": "Zagreb"})
        self.underx = insert("Account", {"Name": "aXb\\c", "BillingCity": ""})
        self.cafe = insert("Account", {"Name": "Café", "Description": "line1\nline2"})
        self.gone = insert("Account", {"Name": "Gone Inc", "IsDeleted": True})
        self.widget = insert("Product2", {"Name": "Widget", "ProductCode": "SKU-1"})
        self.gadget = insert("Product2", {"Name": "Gadget", "ProductCode": "SKU-2"})
        self.o1 = insert(
            "Order",
            {
                "OrderNumber": "00000101",
                "Status": "Draft",
                "EffectiveDate": "2024-01-31",
                "AccountId": self.acme,
            },
        )
        self.o2 = insert(
            "Order",
            {
                "OrderNumber": "00000102",
                "Status": "Activated",
                "EffectiveDate": "2024-03-01",
                "AccountId": self.acme,
            },
        )
        self.o3 = insert(
            "Order",
            {
                "OrderNumber": "00000103",
                "Status": "Draft",
                "EffectiveDate": "2023-12-31",
                "AccountId": self.obrien,
            },
        )
        self.o4 = insert("Order", {"OrderNumber": "00000104", "AccountId": None})
        self.i1 = insert(
            "OrderItem", {"OrderId": self.o1, "Quantity": 2.0, "Product2Id": self.widget}
        )
        self.i2 = insert(
            "OrderItem", {"OrderId": self.o1, "Quantity": 1.0, "Product2Id": self.gadget}
        )
        self.i3 = insert("OrderItem", {"OrderId": self.o2, "Quantity": 5.0, "Product2Id": None})
        self.i4 = insert("OrderItem", {"OrderId": self.o2, "Quantity": 9.0, "IsDeleted": True})


@pytest.fixture
def seeded() -> Seeded:
    return Seeded()


def run(seeded: Seeded, soql: str, **options: Any) -> QueryResult:
    return execute(soql, seeded.org, today=TODAY, **options)


def names(result: QueryResult) -> list[str]:
    return [r["Name"] for r in result.records]


def error_of(seeded: Seeded, soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        run(seeded, soql)
    return caught.value


def parse_error(soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as caught:
        parse(soql)
    return caught.value


# ---------------------------------------------------------------------------------------------
# Parser


def test_parse_builds_the_tree_of_a_full_query() -> None:
    query = parse(
        "select Id, Owner.Name, COUNT(Id) n, (select Id from Orders) from Account "
        "where Name = 'x' order by Name desc nulls last, Id limit 5 offset 2"
    )
    assert query.sobject == "Account"
    assert query.select[0] == FieldRef(("Id",), 7)
    assert query.select[1].path == ("Owner", "Name")
    assert isinstance(query.select[2], CountItem)
    assert query.select[2].alias == "n"
    assert isinstance(query.select[3], SubqueryItem)
    assert query.select[3].query.sobject == "Orders"
    assert isinstance(query.where, Comparison)
    assert query.where.value.value == "x"
    assert [(k.field.path, k.descending, k.nulls_first) for k in query.order_by] == [
        (("Name",), True, False),
        (("Id",), False, True),
    ]
    assert (query.limit, query.offset) == (5, 2)


def test_not_binds_tighter_than_and() -> None:
    where = parse("SELECT Id FROM Account WHERE NOT Name = 'a' AND Type = 'b'").where
    assert isinstance(where, And)
    assert isinstance(where.operands[0], Not)
    assert isinstance(where.operands[1], Comparison)


def test_parentheses_group_or_inside_and() -> None:
    where = parse("SELECT Id FROM Account WHERE Name = 'a' AND (Type = 'b' OR Type = 'c')").where
    assert isinstance(where, And)
    assert isinstance(where.operands[1], Or)
    assert len(where.operands[1].operands) == 2


def test_a_chain_of_one_joiner_is_one_node() -> None:
    where = parse("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' OR Name = 'c'").where
    assert isinstance(where, Or)
    assert len(where.operands) == 3


@pytest.mark.parametrize(
    ("soql", "token", "column"),
    [
        ("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "OR", 56),
        ("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Name = 'c'", "AND", 55),
        ("SELECT Id FROM Account WHERE NOT Name = 'a' AND Name = 'b' OR Name = 'c'", "OR", 60),
    ],
)
def test_mixing_and_with_or_without_parentheses_is_malformed(
    soql: str, token: str, column: int
) -> None:
    error = parse_error(soql)
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message.endswith(f"ERROR at Row:1:Column:{column}\nunexpected token: {token}")
    assert soql[column - 1 : column - 1 + len(token)] == token


def test_unexpected_token_message_matches_salesforce() -> None:
    error = parse_error("SELECT Id FORM Account")
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message == (
        "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: FORM"
    )


def test_position_counts_rows_and_columns_on_multi_line_queries() -> None:
    error = parse_error("SELECT Id\nFROM Account\nWHERE Name = = 'x'")
    assert error.message == (
        "\nWHERE Name = = 'x'\n             ^\nERROR at Row:3:Column:14\nunexpected token: ="
    )


@pytest.mark.parametrize(
    ("soql", "token"),
    [
        ("SELECT FROM Account", "FROM"),
        ("SELECT Id, FROM Account", "FROM"),
        ("SELECT Id FROM", "<EOF>"),
        ("SELECT Id FROM Account WHERE", "<EOF>"),
        ("SELECT Id FROM Account WHERE Name", "<EOF>"),
        ("SELECT Id FROM Account WHERE Name = ", "<EOF>"),
        ("SELECT Id FROM Account WHERE (Name = 'a'", "<EOF>"),
        ("SELECT Id FROM Account WHERE Name = 'a')", ")"),
        ("SELECT Id FROM Account WHERE Name IN ()", ")"),
        ("SELECT Id FROM Account WHERE Name = Acme", "Acme"),
        ('SELECT Id FROM Account WHERE Name = "Acme"', '"'),
        ("SELECT Id FROM Account WHERE Name INCLUDES ('a')", "INCLUDES"),
        ("SELECT Id FROM Account ORDER BY", "<EOF>"),
        ("SELECT Id FROM Account ORDER BY Name NULLS", "<EOF>"),
        ("SELECT Id FROM Account LIMIT 5 WHERE Name = 'a'", "WHERE"),
        ("SELECT Id FROM Account LIMIT -1", "-1"),
        ("SELECT Id FROM Account LIMIT 1.5", "1.5"),
        ("SELECT Id FROM Account GROUP BY Name", "GROUP"),
        ("SELECT Id FROM Account a", "a"),
        ("SELECT Id, (SELECT Id, (SELECT Id FROM OrderItems) FROM Orders) FROM Account", "("),
        ("SELECT Id FROM Account WHERE CreatedDate > 2024-01-31T00:00:00", "2024-01-31T00:00:00"),
        ("SELECT Id FROM Order WHERE EffectiveDate = 2024-13-01", "2024-13-01"),
        ("SELECT Id FROM Order WHERE EffectiveDate = LAST_N_DAYS", "<EOF>"),
        ("SELECT Id FROM Account WHERE Name = 'open", "'open"),
    ],
)
def test_syntax_errors_are_malformed_query(soql: str, token: str) -> None:
    error = parse_error(soql)
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message.endswith(f"\nunexpected token: {token}")
    assert "ERROR at Row:1:Column:" in error.message


def test_keywords_are_case_insensitive() -> None:
    lower = parse("select id from account where not name like 'a%' order by name asc limit 1")
    upper = parse("SELECT id FROM account WHERE NOT name LIKE 'a%' ORDER BY name ASC LIMIT 1")
    assert lower == upper


def test_order_is_a_name_where_a_name_is_expected() -> None:
    query = parse(
        "SELECT Order.OrderNumber FROM OrderItem WHERE Order.Status = 'Draft' ORDER BY Id"
    )
    assert query.select[0].path == ("Order", "OrderNumber")
    assert query.where.field.path == ("Order", "Status")


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        (r"'O\'Brien'", "O'Brien"),
        (r"'back\\slash'", "back\\slash"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'a\nb\tc\rd\be\ff'", "a\nb\tc\rd\be\ff"),
        (r"'A\NB\TC'", "A\nB\tC"),
        (r"'caf\u00e9'", "café"),
        ("'raw\nnewline'", "raw\nnewline"),
        ("''", ""),
    ],
)
def test_string_escapes_are_resolved(literal: str, value: str) -> None:
    where = parse(f"SELECT Id FROM Account WHERE Name = {literal}").where
    assert where.value.value == value
    assert where.value.kind == "string"


def test_like_escapes_are_remembered_as_literal_wildcards() -> None:
    where = parse(r"SELECT Id FROM Account WHERE Name LIKE 'a\_b%\%'").where
    assert where.value.value == "a_b%%"
    assert where.value.like_escapes == frozenset({1, 4})


@pytest.mark.parametrize("literal", [r"'bad\q'", r"'bad\u12'", "'trailing\\"])
def test_unknown_escapes_are_malformed(literal: str) -> None:
    error = parse_error(f"SELECT Id FROM Account WHERE Name = {literal}")
    assert error.error_code == "MALFORMED_QUERY"
    assert "ERROR at Row:1:Column:" in error.message


def test_unknown_escape_names_the_sequence() -> None:
    soql = r"SELECT Id FROM Account WHERE Name = 'bad\q'"
    error = parse_error(soql)
    assert error.message.endswith(
        f"ERROR at Row:1:Column:{soql.index(chr(92)) + 1}\n"
        r"Invalid string literal 'bad\q'. Illegal character sequence '\q' in string literal."
    )


@pytest.mark.parametrize(
    ("literal", "kind", "value"),
    [
        ("2024-01-31", "date", date(2024, 1, 31)),
        ("2024-01-31T00:00:00Z", "datetime", datetime(2024, 1, 31, tzinfo=UTC)),
        (
            "2024-01-31T08:30:00+01:00",
            "datetime",
            datetime(2024, 1, 31, 8, 30, tzinfo=timezone(timedelta(hours=1))),
        ),
        (
            "2024-01-31T08:30:00.123-05:00",
            "datetime",
            datetime(2024, 1, 31, 13, 30, 0, 123000, tzinfo=UTC),
        ),
        ("TODAY", "date_literal", ("TODAY", None)),
        ("yesterday", "date_literal", ("YESTERDAY", None)),
        ("LAST_N_DAYS:30", "date_literal", ("LAST_N_DAYS", 30)),
        ("next_n_days:7", "date_literal", ("NEXT_N_DAYS", 7)),
        ("42", "number", 42),
        ("-1.5", "number", -1.5),
        ("TRUE", "boolean", True),
        ("false", "boolean", False),
        ("NULL", "null", None),
    ],
)
def test_values_parse_to_typed_literals(literal: str, kind: str, value: Any) -> None:
    where = parse(f"SELECT Id FROM Account WHERE CreatedDate = {literal}").where
    assert isinstance(where.value, Literal)
    assert (where.value.kind, where.value.value) == (kind, value)


def test_in_and_not_in_take_value_lists() -> None:
    where = parse("SELECT Id FROM Account WHERE Name NOT IN ('a', 'b') AND Type IN ('c')").where
    assert [c.op for c in where.operands] == ["NOT IN", "IN"]
    assert [v.value for v in where.operands[0].value] == ["a", "b"]


def test_not_equals_has_two_spellings() -> None:
    assert parse("SELECT Id FROM Account WHERE Name <> 'a'").where.op == "!="
    assert parse("SELECT Id FROM Account WHERE Name != 'a'").where.op == "!="


def test_query_equality_ignores_source_text() -> None:
    assert isinstance(parse("SELECT Id FROM Account"), Query)
    assert parse("SELECT Id FROM Account") == parse("SELECT Id FROM Account ")


# ---------------------------------------------------------------------------------------------
# Result shape


def test_records_hold_selected_fields_in_selection_order(seeded: Seeded) -> None:
    result = run(seeded, f"SELECT BillingCity, Name, Id FROM Account WHERE Id = '{seeded.acme}'")
    assert result.total_size == 1
    assert result.records == [
        {
            "attributes": {
                "type": "Account",
                "url": f"/services/data/v62.0/sobjects/Account/{seeded.acme}",
            },
            "BillingCity": "Paris",
            "Name": "Acme",
            "Id": seeded.acme,
        }
    ]
    assert list(result.records[0]) == ["attributes", "BillingCity", "Name", "Id"]


def test_names_are_case_insensitive_and_answered_canonically(seeded: Seeded) -> None:
    result = execute(
        f"select id, NAME, billingcity from ACCOUNT where ID = '{seeded.acme}'",
        seeded.org,
        api_version="58.0",
    )
    record = result.records[0]
    assert list(record) == ["attributes", "Id", "Name", "BillingCity"]
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v58.0/sobjects/Account/{seeded.acme}",
    }


def test_parent_fields_nest_and_a_null_lookup_is_null(seeded: Seeded) -> None:
    result = run(
        seeded,
        "SELECT Name, Owner.Name, OwnerId FROM Account WHERE Name IN ('Acme', '1000 Natural') ORDER BY Name",
    )
    thousand, acme = result.records
    assert acme["Owner"] == {
        "attributes": {"type": "User", "url": f"/services/data/v62.0/sobjects/User/{seeded.ada}"},
        "Name": "Ada Admin",
    }
    assert acme["OwnerId"] == seeded.ada
    assert thousand["Owner"] is None
    assert list(acme) == ["attributes", "Name", "Owner", "OwnerId"]


def test_two_level_parent_path(seeded: Seeded) -> None:
    result = run(
        seeded, f"SELECT Parent.Parent.Name, Parent.Name FROM Account WHERE Id = '{seeded.natural}'"
    )
    parent = result.records[0]["Parent"]
    assert parent["Name"] == "O'Brien Ltd"
    assert parent["Parent"]["Name"] == "Acme"
    assert parent["Parent"]["attributes"]["type"] == "Account"
    assert list(parent) == ["attributes", "Parent", "Name"]


def test_paths_through_one_relationship_share_one_nested_record(seeded: Seeded) -> None:
    result = run(
        seeded,
        f"SELECT Account.Name, OrderNumber, Account.Owner.Name, account.id FROM Order WHERE Id = '{seeded.o1}'",
    )
    record = result.records[0]
    assert list(record) == ["attributes", "Account", "OrderNumber"]
    assert record["Account"]["Name"] == "Acme"
    assert record["Account"]["Owner"]["Name"] == "Ada Admin"
    assert record["Account"]["Id"] == seeded.acme
    assert list(record["Account"]) == ["attributes", "Name", "Owner", "Id"]


def test_object_name_may_prefix_its_own_fields(seeded: Seeded) -> None:
    result = run(seeded, f"SELECT Account.Name FROM Account WHERE Id = '{seeded.acme}'")
    assert result.records[0]["Name"] == "Acme"


def test_child_subquery_shape(seeded: Seeded) -> None:
    result = run(
        seeded,
        "SELECT OrderNumber, (SELECT Id, Quantity, Product2.ProductCode FROM OrderItems "
        "ORDER BY Quantity) FROM Order WHERE AccountId != null ORDER BY OrderNumber",
    )
    first, second, third = result.records
    assert first["OrderItems"] == {
        "totalSize": 2,
        "done": True,
        "records": [
            {
                "attributes": {
                    "type": "OrderItem",
                    "url": f"/services/data/v62.0/sobjects/OrderItem/{seeded.i2}",
                },
                "Id": seeded.i2,
                "Quantity": 1.0,
                "Product2": {
                    "attributes": {
                        "type": "Product2",
                        "url": f"/services/data/v62.0/sobjects/Product2/{seeded.gadget}",
                    },
                    "ProductCode": "SKU-2",
                },
            },
            {
                "attributes": {
                    "type": "OrderItem",
                    "url": f"/services/data/v62.0/sobjects/OrderItem/{seeded.i1}",
                },
                "Id": seeded.i1,
                "Quantity": 2.0,
                "Product2": {
                    "attributes": {
                        "type": "Product2",
                        "url": f"/services/data/v62.0/sobjects/Product2/{seeded.widget}",
                    },
                    "ProductCode": "SKU-1",
                },
            },
        ],
    }
    # The deleted item of the second order stays hidden; its one live item has no product.
    assert second["OrderItems"]["totalSize"] == 1
    assert second["OrderItems"]["records"][0]["Product2"] is None
    assert third["OrderItems"] is None
    assert list(first) == ["attributes", "OrderNumber", "OrderItems"]


def test_child_subquery_limits_per_parent(seeded: Seeded) -> None:
    result = run(
        seeded,
        "SELECT Name, (SELECT OrderNumber FROM orders ORDER BY OrderNumber DESC LIMIT 1) "
        "FROM Account WHERE Name IN ('Acme', 'O\\'Brien Ltd') ORDER BY Name",
    )
    acme, obrien = result.records
    assert acme["Orders"] == {
        "totalSize": 1,
        "done": True,
        "records": [
            {
                "attributes": {
                    "type": "Order",
                    "url": f"/services/data/v62.0/sobjects/Order/{seeded.o2}",
                },
                "OrderNumber": "00000102",
            }
        ],
    }
    assert [o["OrderNumber"] for o in obrien["Orders"]["records"]] == ["00000103"]


def test_child_subquery_where(seeded: Seeded) -> None:
    result = run(
        seeded,
        "SELECT Name, (SELECT OrderNumber FROM Orders WHERE Status = 'Draft') "
        f"FROM Account WHERE Id = '{seeded.acme}'",
    )
    assert [o["OrderNumber"] for o in result.records[0]["Orders"]["records"]] == ["00000101"]


def test_queryall_includes_deleted_rows_and_children(seeded: Seeded) -> None:
    soql = "SELECT Name FROM Account WHERE Name LIKE 'Gone%'"
    assert run(seeded, soql).records == []
    assert names(run(seeded, soql, include_deleted=True)) == ["Gone Inc"]
    items = f"SELECT (SELECT Quantity FROM OrderItems) FROM Order WHERE Id = '{seeded.o2}'"
    assert run(seeded, items, include_deleted=True).records[0]["OrderItems"]["totalSize"] == 2


def test_count_answers_total_size_without_records(seeded: Seeded) -> None:
    assert run(seeded, "SELECT COUNT() FROM Account") == QueryResult(7, [])
    assert run(seeded, "SELECT count() FROM Account WHERE Name LIKE '%natural'") == QueryResult(
        2, []
    )
    assert run(seeded, "SELECT COUNT() FROM Account LIMIT 3") == QueryResult(3, [])
    assert run(seeded, "SELECT COUNT() FROM Account", include_deleted=True).total_size == 8


def test_count_of_a_field_is_an_aggregate_result(seeded: Seeded) -> None:
    result = run(seeded, "SELECT COUNT(Id), COUNT(BillingCity) cities FROM Account")
    assert result == QueryResult(
        1, [{"attributes": {"type": "AggregateResult"}, "expr0": 7, "cities": 4}]
    )


def test_count_cannot_be_mixed_with_fields(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT COUNT(), Name FROM Account")
    assert error.error_code == "MALFORMED_QUERY"
    error = error_of(seeded, "SELECT Name, COUNT(Id) FROM Account")
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message.endswith("Field must be grouped or aggregated: Name")


# ---------------------------------------------------------------------------------------------
# WHERE

ALL_LIVE = {"Acme", "O'Brien Ltd", "100% Natural", "1000 Natural", "a_b\\c", "aXb\\c", "Café"}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Name = 'acme'", {"Acme"}),
        ("Name = 'ACME'", {"Acme"}),
        ("Name != 'Acme'", ALL_LIVE - {"Acme"}),
        ("BillingCity != 'Paris'", ALL_LIVE - {"Acme"}),
        ("BillingCity = null", {"100% Natural", "aXb\\c", "Café"}),
        ("BillingCity = ''", {"100% Natural", "aXb\\c", "Café"}),
        ("BillingCity != null", {"Acme", "O'Brien Ltd", "1000 Natural", "a_b\\c"}),
        ("AnnualRevenue > 50", {"Acme"}),
        ("AnnualRevenue >= 50", {"Acme", "O'Brien Ltd"}),
        ("AnnualRevenue < 50", {"1000 Natural"}),
        ("AnnualRevenue <= 50.0", {"1000 Natural", "O'Brien Ltd"}),
        ("AnnualRevenue = 0", {"1000 Natural"}),
        ("AnnualRevenue = null", ALL_LIVE - {"Acme", "O'Brien Ltd", "1000 Natural"}),
        ("NumberOfEmployees = 10", {"Acme"}),
        ("IsPartner = true", {"Acme"}),
        ("IsPartner = FALSE", ALL_LIVE - {"Acme"}),
        ("BillingCity < 'D'", {"1000 Natural"}),
        ("BillingCity > 'dublin'", {"Acme", "a_b\\c"}),
        ("Name LIKE 'a%'", {"Acme", "a_b\\c", "aXb\\c"}),
        ("Name LIKE '%NATURAL'", {"100% Natural", "1000 Natural"}),
        ("Name LIKE 'A_me'", {"Acme"}),
        ("Name LIKE '%'", ALL_LIVE),
        ("Name LIKE 'caf_'", {"Café"}),
        ("Description LIKE 'line1%line2'", {"Café"}),
        ("Name IN ('acme', 'O\\'Brien Ltd', 'nobody')", {"Acme", "O'Brien Ltd"}),
        ("BillingCity NOT IN ('Paris', 'Dublin')", ALL_LIVE - {"Acme", "O'Brien Ltd"}),
        ("BillingCity IN ('Paris', null)", {"Acme", "100% Natural", "aXb\\c", "Café"}),
        ("Type IN ('Customer', 'Prospect')", {"Acme", "O'Brien Ltd"}),
        ("NOT Name = 'Acme'", ALL_LIVE - {"Acme"}),
        ("NOT (Name = 'Acme' OR Name = 'Café')", ALL_LIVE - {"Acme", "Café"}),
        ("NOT Name LIKE '%natural' AND BillingCity != null", {"Acme", "O'Brien Ltd", "a_b\\c"}),
        ("Owner.Name = 'ada admin'", {"Acme", "100% Natural"}),
        ("Owner.Name = null", ALL_LIVE - {"Acme", "O'Brien Ltd", "100% Natural"}),
        ("Parent.Name = 'Acme'", {"O'Brien Ltd"}),
        ("Parent.Parent.Name LIKE 'ac%'", {"100% Natural"}),
        ("(Name = 'Acme' OR Name = 'Café') AND BillingCity = 'Paris'", {"Acme"}),
        ("Name = 'Acme' OR (Name = 'Café' AND BillingCity = 'Paris')", {"Acme"}),
        ("Name = 'Acme' AND NOT (BillingCity = 'Paris')", set()),
        ("CreatedDate > 2024-01-31T09:59:59Z", {"Acme"}),
        ("CreatedDate < 2024-01-31T10:30:00+01:00", {"O'Brien Ltd", "100% Natural"}),
        ("CreatedDate = 2024-01-31T11:00:00+01:00", {"Acme"}),
        ("Id IN (SELECT AccountId FROM Order)", {"Acme", "O'Brien Ltd"}),
        (
            "Id NOT IN (SELECT AccountId FROM Order WHERE Status = 'Draft')",
            ALL_LIVE - {"Acme", "O'Brien Ltd"},
        ),
        ("Id IN (SELECT ParentId FROM Account)", {"Acme", "O'Brien Ltd"}),
    ],
)
def test_where_operators(seeded: Seeded, where: str, expected: set[str]) -> None:
    assert set(names(run(seeded, f"SELECT Name FROM Account WHERE {where}"))) == expected


def test_escaped_quote_finds_the_apostrophe(seeded: Seeded) -> None:
    assert names(run(seeded, r"SELECT Name FROM Account WHERE Name = 'O\'Brien Ltd'")) == [
        "O'Brien Ltd"
    ]
    assert names(run(seeded, r"SELECT Name FROM Account WHERE Name LIKE 'O\'%'")) == ["O'Brien Ltd"]


def test_escaped_percent_is_literal_in_like(seeded: Seeded) -> None:
    found = names(run(seeded, r"SELECT Name FROM Account WHERE Name LIKE '%100\%%'"))
    assert found == ["100% Natural"]


def test_escaped_underscore_and_backslash_in_like(seeded: Seeded) -> None:
    # SOQL 'a\_b\\c' is the pattern a, literal _, b, literal backslash, c.
    exact = names(run(seeded, r"SELECT Name FROM Account WHERE Name LIKE 'a\_b\\c'"))
    assert exact == ["a_b\\c"]
    wildcard = names(run(seeded, r"SELECT Name FROM Account WHERE Name LIKE 'a_b\\c'"))
    assert sorted(wildcard) == ["aXb\\c", "a_b\\c"]
    equal = names(run(seeded, r"SELECT Name FROM Account WHERE Name = 'a_b\\c'"))
    assert equal == ["a_b\\c"]


def test_wildcard_escapes_outside_like_are_refused(seeded: Seeded) -> None:
    error = error_of(seeded, r"SELECT Name FROM Account WHERE Name = 'a\_b'")
    assert error.error_code == "MALFORMED_QUERY"
    assert "Illegal character sequence '\\_'" in error.message


def test_unicode_escape_finds_the_character(seeded: Seeded) -> None:
    assert names(run(seeded, r"SELECT Name FROM Account WHERE Name = 'caf\u00E9'")) == ["Café"]


def test_escaped_newline_matches_a_stored_newline(seeded: Seeded) -> None:
    soql = r"SELECT Name FROM Account WHERE Description = 'line1\nline2'"
    assert names(run(seeded, soql)) == ["Café"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("EffectiveDate = 2024-01-31", {"00000101"}),
        ("EffectiveDate > 2024-01-31", {"00000102"}),
        ("EffectiveDate >= 2024-01-31", {"00000101", "00000102"}),
        ("EffectiveDate < 2024-01-01", {"00000103"}),
        ("EffectiveDate <= 2023-12-31", {"00000103"}),
        ("EffectiveDate = null", {"00000104"}),
        ("EffectiveDate = TODAY", {"00000101"}),
        ("EffectiveDate = YESTERDAY", set()),
        ("EffectiveDate = TOMORROW", set()),
        ("EffectiveDate > TODAY", {"00000102"}),
        ("EffectiveDate < TODAY", {"00000103"}),
        ("EffectiveDate <= TODAY", {"00000101", "00000103"}),
        ("EffectiveDate != TODAY", {"00000102", "00000103", "00000104"}),
        ("EffectiveDate = THIS_MONTH", {"00000101"}),
        ("EffectiveDate < THIS_MONTH", {"00000103"}),
        ("EffectiveDate > THIS_MONTH", {"00000102"}),
        ("EffectiveDate <= THIS_MONTH", {"00000101", "00000103"}),
        ("EffectiveDate >= THIS_MONTH", {"00000101", "00000102"}),
        ("EffectiveDate = LAST_MONTH", {"00000103"}),
        ("EffectiveDate = LAST_N_DAYS:31", {"00000101", "00000103"}),
        ("EffectiveDate = LAST_N_DAYS:30", {"00000101"}),
        ("EffectiveDate = NEXT_N_DAYS:30", {"00000101", "00000102"}),
        ("EffectiveDate = NEXT_N_DAYS:29", {"00000101"}),
        ("EffectiveDate IN (2023-12-31, 2024-03-01)", {"00000102", "00000103"}),
        ("Account.CreatedDate = TODAY", {"00000101", "00000102"}),
        ("Account.CreatedDate = YESTERDAY", {"00000103"}),
        ("Account.CreatedDate < TODAY", {"00000103"}),
    ],
)
def test_dates_and_date_literals(seeded: Seeded, where: str, expected: set[str]) -> None:
    result = run(seeded, f"SELECT OrderNumber FROM Order WHERE {where}")
    assert {r["OrderNumber"] for r in result.records} == expected


def test_date_literals_follow_the_real_date_by_default(seeded: Seeded) -> None:
    today = datetime.now(UTC).date()
    seeded.org.insert("Order", {"OrderNumber": "NOW", "EffectiveDate": today.isoformat()})
    result = execute("SELECT OrderNumber FROM Order WHERE EffectiveDate = TODAY", seeded.org)
    assert [r["OrderNumber"] for r in result.records] == ["NOW"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "EffectiveDate = '2024-01-31'",
            "value of filter criterion for field 'EffectiveDate' must be of type date and should not be enclosed in quotes",
        ),
        (
            "EffectiveDate = 2024-01-31T00:00:00Z",
            "value of filter criterion for field 'EffectiveDate' must be of type date and should not be enclosed in quotes",
        ),
        (
            "Account.CreatedDate > 2024-01-31",
            "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes",
        ),
        (
            "OrderNumber = 101",
            "value of filter criterion for field 'OrderNumber' must be of type string and should be enclosed in quotes",
        ),
        (
            "Account.AnnualRevenue = '5'",
            "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes",
        ),
        (
            "Account.IsPartner = 'true'",
            "value of filter criterion for field 'IsPartner' must be of type boolean and should not be enclosed in quotes",
        ),
        ("AccountId = 'abc'", "invalid ID field: abc"),
        ("AccountId = '001aB0000000-01'", "invalid ID field: 001aB0000000-01"),
        ("Id IN ('801aB0000000001', 'nope')", "invalid ID field: nope"),
    ],
)
def test_values_of_the_wrong_type_are_refused(seeded: Seeded, where: str, message: str) -> None:
    soql = f"SELECT Id FROM Order WHERE {where}"
    error = error_of(seeded, soql)
    assert error.error_code == "INVALID_QUERY_FILTER_OPERATOR"
    assert error.message.endswith("\n" + message)


def test_like_on_a_number_field_is_refused(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Id FROM Account WHERE AnnualRevenue LIKE '1%'")
    assert error.error_code == "INVALID_QUERY_FILTER_OPERATOR"


# ---------------------------------------------------------------------------------------------
# Ids


def test_a_15_character_id_finds_its_record(seeded: Seeded) -> None:
    short = seeded.acme[:15]
    assert names(run(seeded, f"SELECT Name FROM Account WHERE Id = '{short}'")) == ["Acme"]
    assert names(run(seeded, f"SELECT Name FROM Account WHERE Id IN ('{short}')")) == ["Acme"]
    orders = run(seeded, f"SELECT OrderNumber FROM Order WHERE AccountId = '{short}'")
    assert {r["OrderNumber"] for r in orders.records} == {"00000101", "00000102"}


def test_15_character_ids_are_case_sensitive(seeded: Seeded) -> None:
    swapped = seeded.acme[:15].swapcase()
    assert run(seeded, f"SELECT Name FROM Account WHERE Id = '{swapped}'").records == []


def test_18_character_ids_are_case_safe(seeded: Seeded) -> None:
    lowered = seeded.acme.lower()
    assert lowered != seeded.acme
    assert names(run(seeded, f"SELECT Name FROM Account WHERE Id = '{lowered}'")) == ["Acme"]
    assert names(run(seeded, f"SELECT Name FROM Account WHERE Id IN ('{lowered}')")) == ["Acme"]


def test_id_lists_mix_lengths_and_ignore_duplicates(seeded: Seeded) -> None:
    soql = (
        "SELECT Name FROM Account WHERE Id IN "
        f"('{seeded.acme}', '{seeded.acme[:15]}', '{seeded.cafe[:15]}', '{seeded.gone}') "
        "ORDER BY Name"
    )
    assert names(run(seeded, soql)) == ["Acme", "Café"]


def test_id_filter_combined_with_other_conditions(seeded: Seeded) -> None:
    soql = f"SELECT Name FROM Account WHERE Id IN ('{seeded.acme}', '{seeded.cafe}') AND BillingCity = null"
    assert names(run(seeded, soql)) == ["Café"]


class CountingOrg(OrgStore):
    """An OrgStore that counts how the evaluator reads it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls: dict[str, int] = {"all": 0, "get": 0, "where": 0}

    def all(self, sobject: str):
        self.calls["all"] += 1
        return super().all(sobject)

    def get(self, sobject: str, record_id: str):
        self.calls["get"] += 1
        return super().get(sobject, record_id)

    def where(self, sobject: str, predicate):
        self.calls["where"] += 1
        return super().where(sobject, predicate)


def test_id_lists_are_read_by_id_not_by_scanning() -> None:
    org = CountingOrg(make_schema(), make_id_factory())
    ids = [org.insert("Account", {"Name": f"A{n:05}"}) for n in range(5000)]
    wanted = ids[::25]  # 200 ids
    absent = case_safe("001aBzzzzzzzzzz")
    quoted = ", ".join(f"'{i}'" for i in [*wanted, absent])
    result = execute(f"SELECT Id, Name FROM Account WHERE Id IN ({quoted})", org)
    assert sorted(r["Id"] for r in result.records) == sorted(wanted)
    assert org.calls == {"all": 0, "get": 201, "where": 0}


def test_short_id_lists_read_the_table_once() -> None:
    org = CountingOrg(make_schema(), make_id_factory())
    ids = [org.insert("Account", {"Name": f"A{n:05}"}) for n in range(2000)]
    quoted = ", ".join(f"'{i[:15]}'" for i in ids[::10])
    result = execute(f"SELECT Id FROM Account WHERE Id IN ({quoted})", org)
    assert result.total_size == 200
    assert org.calls["all"] == 1
    assert org.calls["get"] == 0


def test_a_few_parents_are_read_one_by_one() -> None:
    org = CountingOrg(make_schema(), make_id_factory())
    owners = [org.insert("User", {"Name": f"U{n}"}) for n in range(3)]
    for n in range(300):
        org.insert("Account", {"Name": f"A{n:03}", "OwnerId": owners[n % 3]})
    result = execute("SELECT Name, Owner.Name FROM Account ORDER BY Name", org)
    assert [r["Owner"]["Name"] for r in result.records[:4]] == ["U0", "U1", "U2", "U0"]
    assert org.calls == {"all": 1, "get": 3, "where": 0}


def test_many_parents_are_read_with_one_table_read() -> None:
    org = CountingOrg(make_schema(), make_id_factory())
    previous = None
    for n in range(1000):
        previous = org.insert("Account", {"Name": f"A{n:04}", "ParentId": previous})
    result = execute("SELECT Name, Parent.Name FROM Account ORDER BY Name DESC LIMIT 2", org)
    assert [r["Parent"]["Name"] for r in result.records] == ["A0998", "A0997"]
    result = execute("SELECT Name FROM Account WHERE Parent.Name LIKE 'A09%'", org)
    assert result.total_size == 99  # the children of A0900…A0998
    assert org.calls["all"] == 3  # two queries' tables plus one index of the parents
    assert org.calls["get"] == 2 + 256  # then it stops reading parents one by one


# ---------------------------------------------------------------------------------------------
# ORDER BY, LIMIT, OFFSET


def cities(result: QueryResult) -> list[str | None]:
    return [r["BillingCity"] for r in result.records]


def test_order_by_is_case_insensitive(seeded: Seeded) -> None:
    soql = "SELECT BillingCity FROM Account WHERE BillingCity != null ORDER BY BillingCity"
    assert cities(run(seeded, soql)) == ["berlin", "Dublin", "Paris", "Zagreb"]


def test_nulls_sort_first_by_default_in_both_directions(seeded: Seeded) -> None:
    ascending = cities(run(seeded, "SELECT BillingCity FROM Account ORDER BY BillingCity"))
    assert ascending[3:] == ["berlin", "Dublin", "Paris", "Zagreb"]
    assert all(c in (None, "") for c in ascending[:3])
    descending = cities(run(seeded, "SELECT BillingCity FROM Account ORDER BY BillingCity DESC"))
    assert descending[3:] == ["Zagreb", "Paris", "Dublin", "berlin"]
    assert all(c in (None, "") for c in descending[:3])


def test_nulls_last(seeded: Seeded) -> None:
    ascending = cities(
        run(seeded, "SELECT BillingCity FROM Account ORDER BY BillingCity ASC NULLS LAST")
    )
    assert ascending[:4] == ["berlin", "Dublin", "Paris", "Zagreb"]
    descending = cities(
        run(seeded, "SELECT BillingCity FROM Account ORDER BY BillingCity DESC NULLS LAST")
    )
    assert descending[:4] == ["Zagreb", "Paris", "Dublin", "berlin"]


def test_order_by_several_keys_and_parent_fields(seeded: Seeded) -> None:
    result = run(
        seeded,
        "SELECT Name FROM Account WHERE OwnerId != null ORDER BY Owner.Name DESC, Name ASC",
    )
    assert names(result) == ["O'Brien Ltd", "100% Natural", "Acme"]
    result = run(seeded, "SELECT Name FROM Account ORDER BY Owner.Name NULLS LAST, Name")
    assert names(result)[:3] == ["100% Natural", "Acme", "O'Brien Ltd"]
    # Text sorts by its upper-case form, so "X" (0x58) comes before "_" (0x5F).
    assert names(result)[3:] == ["1000 Natural", "aXb\\c", "a_b\\c", "Café"]


def test_order_by_number_and_date(seeded: Seeded) -> None:
    result = run(
        seeded, "SELECT Name FROM Account WHERE AnnualRevenue != null ORDER BY AnnualRevenue DESC"
    )
    assert names(result) == ["Acme", "O'Brien Ltd", "1000 Natural"]
    orders = run(seeded, "SELECT OrderNumber FROM Order ORDER BY EffectiveDate DESC NULLS LAST")
    assert [r["OrderNumber"] for r in orders.records] == [
        "00000102",
        "00000101",
        "00000103",
        "00000104",
    ]


def test_limit_and_offset(seeded: Seeded) -> None:
    everything = names(run(seeded, "SELECT Name FROM Account ORDER BY Name"))
    assert len(everything) == 7
    assert names(run(seeded, "SELECT Name FROM Account ORDER BY Name LIMIT 2")) == everything[:2]
    page = run(seeded, "SELECT Name FROM Account ORDER BY Name LIMIT 2 OFFSET 3")
    assert names(page) == everything[3:5]
    assert page.total_size == 2
    assert names(run(seeded, "SELECT Name FROM Account ORDER BY Name OFFSET 6")) == everything[6:]
    assert run(seeded, "SELECT Name FROM Account LIMIT 0") == QueryResult(0, [])


def test_offset_above_2000_is_refused(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Name FROM Account OFFSET 2001")
    assert (error.error_code, error.message) == (
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed is 2000",
    )
    assert run(seeded, "SELECT Name FROM Account OFFSET 2000").records == []


# ---------------------------------------------------------------------------------------------
# Errors about names

CUSTOM_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


def test_unknown_field_is_invalid_field_with_position(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Foo FROM Account")
    assert error.error_code == "INVALID_FIELD"
    assert error.message == (
        "\nSELECT Foo FROM Account\n       ^\nERROR at Row:1:Column:8\n"
        f"No such column 'Foo' on entity 'Account'. {CUSTOM_FIELD_HINT}"
    )


def test_unknown_field_in_where_and_order_by(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Id FROM Account WHERE Bar__c = 'x'")
    assert error.error_code == "INVALID_FIELD"
    assert "ERROR at Row:1:Column:30\nNo such column 'Bar__c' on entity 'Account'." in error.message
    error = error_of(seeded, "SELECT Id FROM Account ORDER BY Baz")
    assert "ERROR at Row:1:Column:33\nNo such column 'Baz' on entity 'Account'." in error.message


def test_unknown_field_on_a_parent_names_the_parent(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Owner.Foo FROM Account")
    assert error.error_code == "INVALID_FIELD"
    assert "No such column 'Foo' on entity 'User'." in error.message


def test_unknown_relationship_in_a_field_path(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Id, Bogus.Name FROM Account")
    assert error.error_code == "INVALID_FIELD"
    assert error.message.endswith(
        "ERROR at Row:1:Column:12\nDidn't understand relationship 'Bogus' in field path. "
        "If you are attempting to use a custom relationship, be sure to append the '__r' after "
        "the custom relationship name. Please reference your WSDL or the describe call for the "
        "appropriate names."
    )
    # A plain field is not a relationship either.
    assert error_of(seeded, "SELECT Name.Foo FROM Account").error_code == "INVALID_FIELD"


def test_a_relationship_is_not_a_column(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Owner FROM Account")
    assert error.error_code == "INVALID_FIELD"
    assert "No such column 'Owner' on entity 'Account'." in error.message


def test_unknown_sobject_is_invalid_type(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Id FROM Foo")
    assert error.error_code == "INVALID_TYPE"
    assert error.message == (
        "\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\n"
        "sObject type 'Foo' is not supported. If you are attempting to use a custom object, be "
        "sure to append the '__c' after the entity name. Please reference your WSDL or the "
        "describe call for the appropriate names."
    )


def test_unknown_child_relationship_is_invalid_type(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Id, (SELECT Id FROM Foo) FROM Account")
    assert error.error_code == "INVALID_TYPE"
    assert error.message.endswith(
        "ERROR at Row:1:Column:28\nDidn't understand relationship 'Foo' in FROM part of query "
        "call. If you are attempting to use a custom relationship, be sure to append the '__r' "
        "after the custom relationship name. Please reference your WSDL or the describe call for "
        "the appropriate names."
    )


def test_unknown_field_inside_a_subquery_names_the_child(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Id, (SELECT Nope FROM OrderItems) FROM Order")
    assert error.error_code == "INVALID_FIELD"
    assert "No such column 'Nope' on entity 'OrderItem'." in error.message


def test_duplicate_fields_are_refused(seeded: Seeded) -> None:
    error = error_of(seeded, "SELECT Id, Name, name FROM Account")
    assert error.error_code == "MALFORMED_QUERY"
    assert error.message.endswith("ERROR at Row:1:Column:18\nduplicate field selected: Name")
    error = error_of(seeded, "SELECT Owner.Name, owner.NAME FROM Account")
    assert error.message.endswith("duplicate field selected: Owner.Name")


def test_the_sobject_is_checked_before_the_fields(seeded: Seeded) -> None:
    assert error_of(seeded, "SELECT Foo FROM Bar").error_code == "INVALID_TYPE"


# ---------------------------------------------------------------------------------------------
# Large tables and safety (speed is measured in bench/, not asserted here)


def test_sorting_50000_records_orders_them_all() -> None:
    org = OrgStore(make_schema(), make_id_factory())
    cities_ = ["Paris", "berlin", None, "Dublin"]
    for n in range(50_000):
        org.insert(
            "Account", {"Name": f"Account {(n * 7919) % 50_000:05}", "BillingCity": cities_[n % 4]}
        )
    result = execute("SELECT Id, Name, BillingCity FROM Account ORDER BY Name", org)
    assert result.total_size == 50_000
    names = [r["Name"] for r in result.records]
    assert names == sorted(names)
    assert names[:2] == ["Account 00000", "Account 00001"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


@settings(max_examples=200, deadline=None)
@given(
    target=st.text(),
    others=st.lists(st.text(max_size=6), max_size=5),
)
def test_any_escaped_string_is_one_literal_that_finds_exactly_its_matches(
    target: str, others: list[str]
) -> None:
    org = OrgStore(make_schema(), make_id_factory())
    stored = [target, target.upper(), target + "x", "x" + target, "'", "\\", *others]
    for name in stored:
        org.insert("Account", {"Name": name})
    soql = f"SELECT Id, Name FROM Account WHERE Name = '{_escape(target)}'"

    where = parse(soql).where
    assert isinstance(where, Comparison)
    assert where.value.kind == "string"
    assert where.value.value == target

    found = sorted(r["Name"] for r in execute(soql, org).records)

    # SOQL compares text case-insensitively, and an empty string means null.
    def fold(name: str) -> str | None:
        return name.upper() if name else None

    expected = sorted(n for n in stored if fold(n) == fold(target))
    assert found == expected
    assert target in found
