"""ZOQL built for Zuora look-ups: quoted values and CRM-id conditions that no text can bend."""

# ruff: noqa: S608 — these tests build queries from the escaping helpers on purpose

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cpq_sync_gui.salesforce.ids import IdFactory, InvalidSalesforceId
from cpq_sync_gui.sandbox import zuora_zoql
from cpq_sync_gui.zuora.zoql import (
    MAX_CONDITIONS,
    batched,
    crm_id_batches,
    crm_id_conditions,
    crm_id_forms,
    quote,
)

ANY_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(list("'\"\\%_\n\r\t =or")), st.characters(codec="utf-8")),
    max_size=60,
)
IDS = IdFactory(5)


def literals(zoql: str) -> list[str]:
    """The string literals of a ZOQL text, read independently: '…' with backslash escapes."""
    found: list[str] = []
    i = 0
    while i < len(zoql):
        if zoql[i] != "'":
            i += 1
            continue
        value, i = [], i + 1
        while zoql[i] != "'":
            if zoql[i] == "\\":
                value.append(zoql[i + 1])
                i += 2
            else:
                value.append(zoql[i])
                i += 1
        found.append("".join(value))
        i += 1
    return found


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("Acme", "'Acme'"),
        ("O'Brien", "'O\\'Brien'"),
        ("a\\b", "'a\\\\b'"),
        ("\\'", "'\\\\\\''"),
        ("' or Name != '", "'\\' or Name != \\''"),
    ],
)
def test_quote_escapes_backslashes_and_single_quotes(text: str, literal: str) -> None:
    assert quote(text) == literal


def test_quote_refuses_what_is_not_text() -> None:
    with pytest.raises(TypeError):
        quote(None)  # type: ignore[arg-type]


@settings(max_examples=300)
@given(ANY_TEXT)
@example("' or CrmId != '")
@example("\\")
def test_any_text_stays_one_value_for_zuoras_parser(text: str) -> None:
    zoql = f"select Id, AccountNumber from Account where Name = {quote(text)}"
    assert literals(zoql) == [text]
    parsed = zuora_zoql.parse(zoql)
    assert parsed.fields == ("Id", "AccountNumber")
    assert parsed.sobject == "Account"
    assert parsed.where == ((zuora_zoql.Condition("Name", "=", text),),)


def test_crm_id_conditions_match_both_id_lengths() -> None:
    first, second = IDS("001"), IDS("001")
    assert crm_id_conditions([first, second[:15]]) == (
        f"CrmId = '{first}' or CrmId = '{first[:15]}' or "
        f"CrmId = '{second}' or CrmId = '{second[:15]}'"
    )
    assert crm_id_conditions([first, first[:15]], include_15=False) == f"CrmId = '{first}'"
    assert crm_id_forms(first[:15]) == (first, first[:15])


@pytest.mark.parametrize(
    "bad", ["' or CrmId != '", "001", "", "001000000000001AAB", "00100000000000\u00e9", 42]
)
def test_crm_id_conditions_refuse_anything_that_is_not_an_id(bad: object) -> None:
    with pytest.raises(InvalidSalesforceId):
        crm_id_conditions([IDS("001"), bad])  # type: ignore[list-item]


@given(st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_text_never_reaches_a_crm_id_query(texts: list[str]) -> None:
    try:
        conditions = crm_id_conditions(texts)
    except InvalidSalesforceId:
        return
    parsed = zuora_zoql.parse(f"select Id from Account where {conditions}")
    values = [group[0].value for group in parsed.where]
    assert all(re.fullmatch(r"[0-9A-Za-z]{15}([0-9A-Za-z]{3})?", v) for v in values)


def test_crm_id_conditions_need_ids_and_a_field_name() -> None:
    with pytest.raises(ValueError, match="at least one"):
        crm_id_conditions([])
    with pytest.raises(ValueError, match="field"):
        crm_id_conditions([IDS("001")], field="CrmId = 'x' or Id")
    with pytest.raises(TypeError):
        crm_id_conditions(IDS("001"))


def test_more_than_200_conditions_are_refused_before_zuora_sees_them() -> None:
    ids = [IDS("001") for _ in range(101)]
    with pytest.raises(ValueError, match="200"):
        crm_id_conditions(ids)
    assert crm_id_conditions(ids[:100]).count(" or ") == MAX_CONDITIONS - 1


@pytest.mark.parametrize(("include_15", "per_query"), [(True, 100), (False, 200)])
def test_crm_id_batches_fit_zuoras_200_conditions(include_15: bool, per_query: int) -> None:
    ids = [IDS("001") for _ in range(450)]
    batches = list(crm_id_batches([*ids, ids[0][:15]], include_15=include_15))
    assert [len(b) for b in batches] == [per_query] * (450 // per_query) + (
        [450 % per_query] if 450 % per_query else []
    )
    assert [i for b in batches for i in b] == ids  # de-duplicated, in order, 18 characters
    for batch in batches:
        parsed = zuora_zoql.parse(
            f"select Id from Account where {crm_id_conditions(batch, include_15=include_15)}"
        )
        assert len(parsed.where) <= MAX_CONDITIONS


def test_batched_slices_in_order() -> None:
    assert [list(b) for b in batched([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="at least one"):
        list(batched([1], 0))
