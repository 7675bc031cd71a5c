"""SOQL built from user text: quoting, LIKE patterns, id lists and dates can never change a query's shape."""

# ruff: noqa: S608 — these tests build queries from the escaping helpers on purpose

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cpq_sync_gui.salesforce.ids import IdFactory, InvalidSalesforceId
from cpq_sync_gui.salesforce.soql import date_literal, id_list, like_pattern, quote
from cpq_sync_gui.sandbox import soql as sandbox_soql
from cpq_sync_gui.sandbox.objects import org_schema
from cpq_sync_gui.sandbox.org import OrgStore

# Any text, including quotes, backslashes, every control character and non-Latin scripts.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("'\"\\%_\n\r\t\b\f\x00\x01\x1f\x7f ")),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)

# An independent reading of SOQL's lexical rules (the documented escape table), so the test
# does not trust the code under test to tell it where a literal ends.
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}


def tokens(soql: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(soql):
        char = soql[i]
        if char == " ":
            i += 1
        elif char == "'":
            value, i = [], i + 1
            while soql[i] != "'":
                if soql[i] == "\\":
                    escape = soql[i + 1]
                    if escape == "u":
                        value.append(chr(int(soql[i + 2 : i + 6], 16)))
                        i += 6
                        continue
                    value.append(_ESCAPES[escape])
                    i += 2
                else:
                    assert soql[i] not in "\n\r\t\b\f", "a raw control character in a literal"
                    value.append(soql[i])
                    i += 1
            found.append(("STRING", "".join(value)))
            i += 1
        else:
            match = re.compile(r"[A-Za-z_]+|=|\(|\)|,|[0-9-]+").match(soql, i)
            assert match is not None, f"unexpected character {char!r} at {i}"
            found.append(("WORD", match.group()))
            i = match.end()
    return found


# --- quote -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("Acme", "'Acme'"),
        ("O'Brien", "'O\\'Brien'"),
        ("back\\slash", "'back\\\\slash'"),
        ('say "hi"', "'say \\\"hi\\\"'"),
        ("two\nlines\r\n", "'two\\nlines\\r\\n'"),
        ("tab\tbell\bfeed\f", "'tab\\tbell\\bfeed\\f'"),
        ("nul\x00 unit\x1f del\x7f", "'nul\\u0000 unit\\u001f del\\u007f'"),
        ("' OR Name != '", "'\\' OR Name != \\''"),
        ("50% _off", "'50% _off'"),  # wildcards only matter in LIKE
        ("Zürich 東京", "'Zürich 東京'"),
    ],
)
def test_quote_escapes_what_soql_needs(text: str, literal: str) -> None:
    assert quote(text) == literal


def test_quote_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError):
        quote(5)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(ANY_TEXT)
@example("' OR Name LIKE '%")
@example("\\' OR Id != null OR Name = \\'")
def test_no_text_changes_the_shape_of_a_query(text: str) -> None:
    soql = f"SELECT Id FROM Account WHERE Name = {quote(text)}"
    assert tokens(soql) == [
        ("WORD", "SELECT"),
        ("WORD", "Id"),
        ("WORD", "FROM"),
        ("WORD", "Account"),
        ("WORD", "WHERE"),
        ("WORD", "Name"),
        ("WORD", "="),
        ("STRING", text),
    ]


@settings(max_examples=300)
@given(ANY_TEXT)
def test_the_sandbox_parser_reads_back_exactly_the_text(text: str) -> None:
    query = sandbox_soql.parse(f"SELECT Id FROM Account WHERE Name = {quote(text)}")
    assert query.sobject == "Account"
    assert isinstance(query.where, sandbox_soql.Comparison)
    assert query.where.op == "="
    assert [ref.path for ref in query.select] == [("Id",)]  # type: ignore[union-attr]
    literal = query.where.value
    assert isinstance(literal, sandbox_soql.Literal)
    assert literal.kind == "string"
    assert literal.value == text


# --- LIKE --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "pattern"),
    [
        ("contains", "'%50\\% \\_off%'"),
        ("starts_with", "'50\\% \\_off%'"),
        ("ends_with", "'%50\\% \\_off'"),
        ("exact", "'50\\% \\_off'"),
    ],
)
def test_like_pattern_makes_wildcards_typed_by_the_user_literal(mode: str, pattern: str) -> None:
    assert like_pattern("50% _off", mode) == pattern  # type: ignore[arg-type]


def test_like_pattern_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="LIKE mode"):
        like_pattern("x", "fuzzy")  # type: ignore[arg-type]


@settings(max_examples=200)
@given(ANY_TEXT)
def test_a_like_pattern_reads_back_with_every_user_wildcard_escaped(text: str) -> None:
    query = sandbox_soql.parse(f"SELECT Id FROM Account WHERE Name LIKE {like_pattern(text)}")
    assert isinstance(query.where, sandbox_soql.Comparison)
    assert query.where.op == "LIKE"
    literal = query.where.value
    assert isinstance(literal, sandbox_soql.Literal)
    assert literal.value == f"%{text}%"
    user_wildcards = {1 + i for i, char in enumerate(text) if char in "%_"}
    assert literal.like_escapes == user_wildcards  # the outer % stay wildcards


@pytest.fixture(scope="module")
def org() -> OrgStore:
    store = OrgStore(org_schema(), IdFactory(3))
    for name in ("50% off", "500 off", "a_b", "axb", "O'Brien", "Back\\slash"):
        store.insert("Account", {"Name": name})
    return store


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("50%", ["50% off"]),  # not "500 off"
        ("a_b", ["a_b"]),  # not "axb"
        ("'Brien", ["O'Brien"]),
        ("\\", ["Back\\slash"]),
        ("' OR Name != '", []),
    ],
)
def test_a_search_box_finds_only_what_was_typed(
    org: OrgStore, typed: str, found: list[str]
) -> None:
    result = sandbox_soql.execute(
        f"SELECT Name FROM Account WHERE Name LIKE {like_pattern(typed)}", org
    )
    assert sorted(r["Name"] for r in result.records) == found


# --- id lists ----------------------------------------------------------------------------------

IDS = IdFactory(11)


def test_id_list_holds_18_character_ids_once_each() -> None:
    first, second = IDS("001"), IDS("001")
    assert id_list([first[:15], second, first]) == f"('{first}','{second}')"


@pytest.mark.parametrize(
    "bad",
    ["001' OR Id != '", "", "001abc", "001000000000001AAB", "0010000000000\n1", None],
)
def test_id_list_refuses_anything_that_is_not_an_id(bad: str) -> None:
    with pytest.raises(InvalidSalesforceId):
        id_list([IDS("001"), bad])


def test_id_list_can_insist_on_an_object_type() -> None:
    with pytest.raises(InvalidSalesforceId, match="Order"):
        id_list([IDS("001")], expected_prefix="801")


def test_id_list_needs_ids_and_a_list() -> None:
    with pytest.raises(ValueError, match="at least one"):
        id_list([])
    with pytest.raises(TypeError):
        id_list(IDS("001"))


@given(st.lists(ANY_TEXT, max_size=5))
def test_text_never_reaches_an_in_list(texts: list[str]) -> None:
    try:
        result = id_list(texts)
    except (InvalidSalesforceId, ValueError):
        return
    inner = tokens(f"SELECT Id FROM Account WHERE Id IN {result}")[7:]
    strings = [value for kind, value in inner if kind == "STRING"]
    assert all(re.fullmatch(r"[0-9A-Za-z]{18}", value) for value in strings)


# --- dates -------------------------------------------------------------------------------------


def test_date_literal_is_the_calendar_date() -> None:
    assert date_literal(dt.date(2024, 3, 31)) == "2024-03-31"
    assert date_literal(dt.date(999, 1, 2)) == "0999-01-02"
    query = sandbox_soql.parse(
        f"SELECT Id FROM Order WHERE EffectiveDate = {date_literal(dt.date(2024, 2, 29))}"
    )
    assert isinstance(query.where, sandbox_soql.Comparison)
    assert query.where.value.value == dt.date(2024, 2, 29)  # type: ignore[union-attr]


def test_date_literal_refuses_date_times_and_text() -> None:
    with pytest.raises(TypeError, match="time zone"):
        date_literal(dt.datetime(2024, 3, 31, 23, 30, tzinfo=dt.UTC))
    with pytest.raises(TypeError):
        date_literal("2024-03-31")  # type: ignore[arg-type]
