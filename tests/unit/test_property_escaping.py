"""Property tests: no text, however hostile, changes the structure of a SOQL or ZOQL query.

The sandbox's own SOQL and ZOQL parsers are the oracle: whatever a user types becomes exactly one
literal whose value is exactly what was typed, and the clauses around it stay as written. Id
parsing is checked against an independent implementation of Salesforce's checksum.
"""

# ruff: noqa: S608 — these tests build queries from the escaping helpers on purpose

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cpq_sync_gui.salesforce.ids import (
    IdFactory,
    InvalidSalesforceId,
    is_valid_id,
    parse_id,
    to_18,
)
from cpq_sync_gui.salesforce.soql import id_list, like_pattern, quote
from cpq_sync_gui.sandbox import soql as sandbox_soql
from cpq_sync_gui.sandbox import zuora_zoql
from cpq_sync_gui.sandbox.objects import org_schema
from cpq_sync_gui.sandbox.org import OrgStore
from cpq_sync_gui.zuora import zoql

# Reproducible in CI: the same examples every run, no example database between runs.
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)
FEWER = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces that have broken escapers in the wild: quotes and backslashes in every combination,
# the text of escape sequences, LIKE wildcards, every kind of line break, invisible format
# characters, NUL, C1 controls, case-changing letters and characters outside the BMP.
HOSTILE_PIECES = [
    "'",
    "''",
    "\\",
    "\\'",
    "\\\\'",
    '"',
    "\\u0027",
    "\\n",
    "%",
    "_",
    "\\%",
    "\\_",
    "' OR Name != '",
    "' OR Id != null) --",
    "'; DELETE FROM Account",
    " or CrmId != '",
    "\n",
    "\r\n",
    "\t",
    "\b",
    "\f",
    "\x00",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\u200b",
    "\u202e",
    "ß",
    "İ",
    "ǅ",
    "ﬃ",
    "🚀",
    "شركة",
    "株式会社",
]
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=3)), max_size=12).map(
        "".join
    ),
)

LIKE_MODES = ("contains", "starts_with", "ends_with", "exact")


def _like_value(text: str, mode: str) -> str:
    return {
        "contains": f"%{text}%",
        "starts_with": f"{text}%",
        "ends_with": f"%{text}",
        "exact": text,
    }[mode]


def _user_wildcards(text: str, mode: str) -> frozenset[int]:
    offset = 1 if mode in ("contains", "ends_with") else 0
    return frozenset(offset + i for i, char in enumerate(text) if char in "%_")


def _string_literal(node: object) -> sandbox_soql.Literal:
    assert isinstance(node, sandbox_soql.Literal)
    assert node.kind == "string"
    return node


# --- SOQL ------------------------------------------------------------------------------------


@PROPERTY
@given(HOSTILE_TEXT)
@example("\\' OR Name != \\'")
@example("\x85\u2028")
def test_a_quoted_text_is_one_literal_and_the_clauses_after_it_survive(text: str) -> None:
    soql = f"SELECT Id, Name FROM Account WHERE Name = {quote(text)} ORDER BY Name DESC LIMIT 7"
    query = sandbox_soql.parse(soql)
    assert [item.path for item in query.select] == [("Id",), ("Name",)]  # type: ignore[union-attr]
    assert query.sobject == "Account"
    assert isinstance(query.where, sandbox_soql.Comparison)
    assert query.where.field.path == ("Name",)
    assert query.where.op == "="
    assert _string_literal(query.where.value).value == text
    # Had the literal ended early or late, these clauses would be lost or misread.
    assert [(k.field.path, k.descending) for k in query.order_by] == [(("Name",), True)]
    assert query.limit == 7


@PROPERTY
@given(HOSTILE_TEXT)
@example("\x85")
@example("a\u2028b\u2029c")
@example("\x9b[31m")
def test_a_quoted_literal_is_a_single_line_without_control_characters(text: str) -> None:
    # The query text ends up in log lines and error messages: a raw line separator or control
    # character inside it would split or garble them. SOQL's \\uXXXX escape covers them all.
    for literal in (quote(text), *(like_pattern(text, mode) for mode in LIKE_MODES)):  # type: ignore[arg-type]
        assert literal.splitlines() == [literal]
        assert not [c for c in literal if unicodedata.category(c) == "Cc"]


@PROPERTY
@given(HOSTILE_TEXT, st.sampled_from(LIKE_MODES))
def test_a_like_pattern_matches_only_what_was_typed(text: str, mode: str) -> None:
    pattern = like_pattern(text, mode)  # type: ignore[arg-type]
    query = sandbox_soql.parse(f"SELECT Id FROM Account WHERE Name LIKE {pattern} LIMIT 3")
    assert isinstance(query.where, sandbox_soql.Comparison)
    assert query.where.op == "LIKE"
    literal = _string_literal(query.where.value)
    assert literal.value == _like_value(text, mode)
    # Every % and _ the user typed is a literal character; only the mode's own % are wildcards.
    assert literal.like_escapes == _user_wildcards(text, mode)
    assert query.limit == 3


@PROPERTY
@given(HOSTILE_TEXT, HOSTILE_TEXT, HOSTILE_TEXT, st.sampled_from(LIKE_MODES))
def test_several_user_texts_in_one_query_keep_the_and_or_structure(
    first: str, second: str, third: str, mode: str
) -> None:
    soql = (
        f"SELECT Id FROM Account WHERE (Name = {quote(first)} AND BillingCity LIKE "
        f"{like_pattern(second, mode)}) OR Description != {quote(third)} LIMIT 5"  # type: ignore[arg-type]
    )
    where = sandbox_soql.parse(soql).where
    assert isinstance(where, sandbox_soql.Or)
    left, right = where.operands
    assert isinstance(left, sandbox_soql.And)
    name, city = left.operands
    assert isinstance(name, sandbox_soql.Comparison)
    assert isinstance(city, sandbox_soql.Comparison)
    assert isinstance(right, sandbox_soql.Comparison)
    assert [(c.field.path, c.op) for c in (name, city, right)] == [
        (("Name",), "="),
        (("BillingCity",), "LIKE"),
        (("Description",), "!="),
    ]
    assert _string_literal(name.value).value == first
    assert _string_literal(city.value).value == _like_value(second, mode)
    assert _string_literal(right.value).value == third


IDS = IdFactory(29)


@PROPERTY
@given(st.lists(st.sampled_from([IDS("001") for _ in range(8)]), min_size=1), HOSTILE_TEXT)
def test_an_id_list_beside_user_text_stays_a_list_of_ids(ids: list[str], text: str) -> None:
    soql = f"SELECT Id FROM Account WHERE Id IN {id_list(ids)} AND Name != {quote(text)}"
    where = sandbox_soql.parse(soql).where
    assert isinstance(where, sandbox_soql.And)
    in_list, name = where.operands
    assert isinstance(in_list, sandbox_soql.Comparison)
    assert in_list.op == "IN"
    assert isinstance(in_list.value, tuple)
    assert [_string_literal(v).value for v in in_list.value] == list(dict.fromkeys(ids))
    assert isinstance(name, sandbox_soql.Comparison)
    assert _string_literal(name.value).value == text


# Semantics, not only syntax: run the queries against a simulated org holding the typed name
# and near-misses. Salesforce compares text case-insensitively (the sandbox by upper-casing).

SCHEMA = org_schema()


def _org_with(names: list[str]) -> OrgStore:
    store = OrgStore(SCHEMA, IdFactory(5))
    for name in names:
        store.insert("Account", {"Name": name})
    return store


def _near_misses(text: str) -> list[str]:
    misses = [text + "x", "x" + text, text[:-1], text + "%", text.replace("%", "x")]
    misses += [text.replace("_", "x"), text.replace("'", ""), text.replace("\\", "")]
    return [m for m in misses if m]


@FEWER
@given(HOSTILE_TEXT.filter(bool))
@example("50%")
@example("a_b")
@example("O'Brien\\")
def test_equality_finds_exactly_the_records_with_that_name(text: str) -> None:
    names = [text, *_near_misses(text)]
    result = sandbox_soql.execute(
        f"SELECT Name FROM Account WHERE Name = {quote(text)}", _org_with(names)
    )
    expected = sorted(n for n in names if n.upper() == text.upper())
    assert sorted(r["Name"] for r in result.records) == expected
    assert text in expected


@FEWER
@given(HOSTILE_TEXT.filter(bool), st.sampled_from(LIKE_MODES))
@example("50%", "starts_with")
@example("_", "exact")
def test_a_search_finds_exactly_what_the_mode_promises(text: str, mode: str) -> None:
    names = [text, *_near_misses(text)]
    pattern = like_pattern(text, mode)  # type: ignore[arg-type]
    result = sandbox_soql.execute(
        f"SELECT Name FROM Account WHERE Name LIKE {pattern}", _org_with(names)
    )
    wanted = text.upper()
    test = {
        "contains": lambda n: wanted in n,
        "starts_with": lambda n: n.startswith(wanted),
        "ends_with": lambda n: n.endswith(wanted),
        "exact": lambda n: n == wanted,
    }[mode]
    expected = sorted(n for n in names if test(n.upper()))
    assert sorted(r["Name"] for r in result.records) == expected
    assert text in expected


# --- ZOQL ------------------------------------------------------------------------------------


@PROPERTY
@given(HOSTILE_TEXT, HOSTILE_TEXT, HOSTILE_TEXT)
@example("\\", "' or Name != '", "\\'")
def test_zoql_values_stay_values_and_the_and_or_groups_survive(
    first: str, second: str, third: str
) -> None:
    text = (
        f"select Id, AccountNumber from Account where Name = {zoql.quote(first)} or "
        f"Name = {zoql.quote(second)} and CrmId != {zoql.quote(third)} and Status = 'Active'"
    )
    if len(text) > zuora_zoql.MAX_QUERY_LENGTH:  # pragma: no cover - HOSTILE_TEXT is short
        pytest.skip("longer than Zuora accepts")
    parsed = zuora_zoql.parse(text)
    assert parsed.fields == ("Id", "AccountNumber")
    assert parsed.sobject == "Account"
    assert parsed.where == (
        (zuora_zoql.Condition("Name", "=", first),),
        (
            zuora_zoql.Condition("Name", "=", second),
            zuora_zoql.Condition("CrmId", "!=", third),
            zuora_zoql.Condition("Status", "=", "Active"),
        ),
    )


SOME_IDS = [IDS("001") for _ in range(6)]
ID_OR_TEXT = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from(SOME_IDS),
    st.sampled_from([i[:15] for i in SOME_IDS]),
    st.sampled_from([i[:15] + "AAA" for i in SOME_IDS]),  # broken checksums
)


@PROPERTY
@given(st.lists(ID_OR_TEXT, min_size=1, max_size=6))
def test_crm_id_conditions_accept_only_ids_and_query_only_their_forms(texts: list[str]) -> None:
    if not all(is_valid_id(t) for t in texts):
        with pytest.raises(InvalidSalesforceId, match=r"\S"):  # never an empty message
            zoql.crm_id_conditions(texts)
        return
    conditions = zoql.crm_id_conditions(texts)
    parsed = zuora_zoql.parse(f"select Id from Account where {conditions}")
    values = [group[0].value for group in parsed.where]
    expected = [form for t in dict.fromkeys(to_18(t) for t in texts) for form in (t, t[:15])]
    assert values == list(dict.fromkeys(expected))
    assert all(len(group) == 1 and group[0].field == "CrmId" for group in parsed.where)


# --- Salesforce ids ----------------------------------------------------------------------------

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_15 = st.text(alphabet=_BASE62, min_size=15, max_size=15)


def _oracle_suffix(id15: str) -> str:
    """Salesforce's documented algorithm, written out independently of the product's code."""
    suffix = ""
    for chunk in range(3):
        value = 0
        for position in range(5):
            char = id15[chunk * 5 + position]
            if "A" <= char <= "Z":
                value += 1 << position
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[value]
    return suffix


@PROPERTY
@given(ID_15)
@example("001000000000000")
@example("ZZZZZZZZZZZZZZZ")
@example("zzzzzzzzzzzzzzz")
def test_15_to_18_matches_the_documented_checksum(id15: str) -> None:
    id18 = to_18(id15)
    assert id18 == id15 + _oracle_suffix(id15)
    assert to_18(id18) == id18
    assert parse_id(f"  {id15}\n") == id18
    if id15 != id15.upper():  # a case change the suffix does not allow is caught
        with pytest.raises(InvalidSalesforceId, match="letter case"):
            parse_id(id15.upper() + id18[15:])


@PROPERTY
@given(ID_15, ID_15)
def test_18_character_ids_differ_case_insensitively_when_the_records_differ(
    first: str, second: str
) -> None:
    # What makes 18-character ids safe in Excel, in Zuora's crmId and in case-insensitive
    # look-ups: two different records never share a case-folded 18-character id.
    same = to_18(first).lower() == to_18(second).lower()
    assert same == (first == second)


@PROPERTY
@given(
    st.one_of(
        HOSTILE_TEXT,
        ID_15,
        ID_15.map(lambda s: f" \t{to_18(s)}\r\n"),
        ID_15.map(lambda s: s + "AAA"),
        ID_15.map(lambda s: s[:14]),
        ID_15.map(lambda s: to_18(s).swapcase()),
    )
)
@example("001000000000000ÀAA")
@example("００１０００００００００００００")  # full-width digits: isalnum(), but not an id
@example("001000000000000\u0410AA")
def test_any_text_is_an_id_or_a_plain_invalid_id_error(text: str) -> None:
    if not is_valid_id(text.strip()):
        with pytest.raises(InvalidSalesforceId) as caught:
            parse_id(text)
        message = str(caught.value)
        assert message.isprintable()  # control characters in the input are shown escaped
        assert 0 < len(message) <= 300
        return
    record_id = parse_id(text)
    assert len(record_id) == 18
    assert all(c in _BASE62 for c in record_id)
    assert is_valid_id(record_id)
    assert record_id[:15] == text.strip()[:15]
