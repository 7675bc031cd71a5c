"""Salesforce id helpers: checksums against published pairs, validation messages, the id factory."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpq_sync_gui.salesforce.ids import (
    KEY_PREFIXES,
    IdFactory,
    InvalidSalesforceId,
    checksum_suffix,
    is_valid_id,
    key_prefix,
    object_name,
    parse_id,
    to_18,
)

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ids_15 = st.text(alphabet=BASE62, min_size=15, max_size=15)

# Expected values worked out by hand from the algorithm's definition, not by calling the code:
# split the 15 characters into chunks of 5; in each chunk, character i (0 = leftmost) adds 2**i
# when it is an upper-case A-Z; the sum indexes "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# (A=0 … Z=25, 0=26 … 5=31).
KNOWN_PAIRS = [
    # Salesforce REST API Developer Guide example ids (create / search responses):
    # "001D0": D at i=3 → 8 → I;  "00000": 0 → A;  "IqhSL": I i=0, S i=3, L i=4 → 1+8+16=25 → Z
    ("001D000000IqhSL", "001D000000IqhSLIAZ"),
    # "001D0" → I;  "00000" → A;  "Iomaz": I i=0 → 1 → B
    ("001D000000Iomaz", "001D000000IomazIAB"),
    # Vectors also used by django-salesforce's tests:
    # "00A00": A at i=2 → 4 → E;  then 0 → A, 0 → A
    ("00A000000000000", "00A000000000000EAA"),
    # last chunk "0000A": i=4 → 16 → Q
    ("00000000000000A", "00000000000000AAAQ"),
    # every chunk "0000A" → Q
    ("0000A0000A0000A", "0000A0000A0000AQQQ"),
    # every chunk "000A0": i=3 → 8 → I
    ("000A0000A0000A0", "000A0000A0000A0III"),
    # all lower case and digits: no bits anywhere → AAA
    ("001abcdefghijkl", "001abcdefghijklAAA"),
    ("000000000000000", "000000000000000AAA"),
    # all upper case: 1+2+4+8+16 = 31 → "5" in every chunk
    ("ABCDEFGHIJKLMNO", "ABCDEFGHIJKLMNO555"),
    # "0015g": none → A;  "000Hl": H i=3 → 8 → I;  "89dJk": J i=3 → 8 → I
    ("0015g000Hl89dJk", "0015g000Hl89dJkAII"),
]


@pytest.mark.parametrize(("id15", "id18"), KNOWN_PAIRS)
def test_known_15_to_18_pairs(id15: str, id18: str) -> None:
    assert checksum_suffix(id15) == id18[15:]
    assert to_18(id15) == id18
    assert to_18(id18) == id18
    assert is_valid_id(id15)
    assert is_valid_id(id18)


@pytest.mark.parametrize(
    "bad",
    [
        "001D000000IqhSLIAA",  # suffix off by one character
        "001D000000IqhSLiaz",  # suffix lower-cased
        "001d000000iqhsliaz",  # the whole id lower-cased, as a case-insensitive system might
        "001D000000IqhSlIAZ",  # one letter's case flipped in the first 15
    ],
)
def test_18_character_id_with_wrong_suffix_is_rejected(bad: str) -> None:
    assert not is_valid_id(bad)
    with pytest.raises(InvalidSalesforceId, match="is not a valid Salesforce id"):
        to_18(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "001ABC",
        "001D000000IqhS",  # 14
        "001D000000IqhSLx",  # 16
        "001D000000IqhSLIA",  # 17
        "001D000000IqhSLIAZ0",  # 19
        "001D000000IqhS-",  # punctuation
        "001D000000IqhS ",  # inner/trailing space is not stripped by to_18
        "001D000000IqhSé",  # non-ASCII letter
        "001D000000IqhS٣",  # non-ASCII digit (str.isalnum would accept it)
    ],
)
def test_malformed_text_is_not_an_id(bad: str) -> None:
    assert not is_valid_id(bad)
    with pytest.raises(InvalidSalesforceId):
        to_18(bad)


@pytest.mark.parametrize("value", [None, 1, b"001D000000IqhSL", ["001D000000IqhSL"]])
def test_non_text_is_not_an_id(value: object) -> None:
    assert is_valid_id(value) is False
    with pytest.raises(InvalidSalesforceId):
        to_18(value)  # type: ignore[arg-type]


def test_checksum_suffix_wants_exactly_15_id_characters() -> None:
    with pytest.raises(InvalidSalesforceId):
        checksum_suffix("001D000000IqhSLIAZ")
    with pytest.raises(InvalidSalesforceId):
        checksum_suffix("001D000000IqhS!")


def test_key_prefix() -> None:
    assert key_prefix("001D000000IqhSL") == "001"
    assert key_prefix("8015g000mNUZjou") == "801"
    with pytest.raises(InvalidSalesforceId):
        key_prefix("001D000000IqhSLIAA")
    with pytest.raises(InvalidSalesforceId):
        key_prefix("001")


def test_object_names_of_prefixes() -> None:
    expected = {
        "001": "Account",
        "003": "Contact",
        "005": "User",
        "00D": "Organization",
        "801": "Order",
        "802": "OrderItem",
        "01t": "Product2",
        "01s": "Pricebook2",
        "00b": "WebLink",
    }
    for prefix, name in expected.items():
        assert object_name(prefix) == name
        assert KEY_PREFIXES[prefix] == name
    assert object_name("a0X") is None
    assert object_name("00d") is None  # prefixes are case-sensitive


def test_parse_id_returns_the_18_character_form_and_ignores_surrounding_space() -> None:
    assert parse_id("001D000000IqhSL") == "001D000000IqhSLIAZ"
    assert parse_id("  001D000000IqhSLIAZ\n") == "001D000000IqhSLIAZ"
    assert parse_id("\t001D000000IqhSL ", expected_prefix="001") == "001D000000IqhSLIAZ"


def test_parse_id_explains_malformed_text() -> None:
    with pytest.raises(InvalidSalesforceId) as caught:
        parse_id("001ABC")
    assert str(caught.value) == (
        "'001ABC' is not a Salesforce id: ids are 15 or 18 letters and digits"
    )


def test_parse_id_explains_a_wrong_object_type() -> None:
    with pytest.raises(InvalidSalesforceId) as caught:
        parse_id("003D000000IqhSL", expected_prefix="001")
    assert str(caught.value) == "'003D000000IqhSL' is a Contact id (003), not an Account id (001)"

    with pytest.raises(InvalidSalesforceId) as caught:
        parse_id("001D000000IqhSLIAZ", expected_prefix="801")
    assert str(caught.value) == (
        "'001D000000IqhSLIAZ' is an Account id (001), not an Order id (801)"
    )


def test_parse_id_names_unknown_prefixes_by_their_characters() -> None:
    with pytest.raises(InvalidSalesforceId) as caught:
        parse_id("a0XD000000IqhSL", expected_prefix="801")
    assert (
        str(caught.value) == "'a0XD000000IqhSL' is an id with key prefix a0X, not an Order id (801)"
    )


def test_parse_id_explains_a_wrong_suffix_with_the_expected_one() -> None:
    with pytest.raises(InvalidSalesforceId) as caught:
        parse_id("001D000000IqhSLIAA")
    message = str(caught.value)
    assert message.startswith("'001D000000IqhSLIAA' is not a valid Salesforce id")
    assert "should be IAZ, not IAA" in message


@pytest.mark.parametrize("empty", [None, "", "   ", "\n"])
def test_parse_id_of_nothing(empty: str | None) -> None:
    with pytest.raises(InvalidSalesforceId, match=r"^No id given"):
        parse_id(empty)


def test_parse_id_keeps_messages_short_and_printable() -> None:
    with pytest.raises(InvalidSalesforceId) as caught:
        parse_id("x" * 5000)
    assert len(str(caught.value)) < 120
    assert "…" in str(caught.value)
    with pytest.raises(InvalidSalesforceId) as caught:
        parse_id("001\x00D00000IqhSL")
    assert "\x00" not in str(caught.value)
    assert "\\x00" in str(caught.value)


def test_parse_id_rejects_a_malformed_expected_prefix() -> None:
    with pytest.raises(ValueError, match="expected_prefix"):
        parse_id("001D000000IqhSL", expected_prefix="01")


def test_invalid_id_is_a_value_error() -> None:
    # Callers that only know ValueError (e.g. generic form validation) still catch it.
    assert issubclass(InvalidSalesforceId, ValueError)


# -- property tests -------------------------------------------------------------------------


@settings(max_examples=300)
@given(ids_15)
def test_to_18_extends_and_is_idempotent(id15: str) -> None:
    id18 = to_18(id15)
    assert len(id18) == 18
    assert id18[:15] == id15
    assert to_18(id18) == id18
    assert is_valid_id(id18)
    assert set(id18[15:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345")


@settings(max_examples=300)
@given(ids_15, st.data())
def test_flipping_the_case_of_any_letter_changes_the_suffix(id15: str, data: st.DataObject) -> None:
    letters = [i for i, c in enumerate(id15) if c.isalpha()]
    if not letters:
        id15 = "a" + id15[1:]
        letters = [0]
    position = data.draw(st.sampled_from(letters))
    flipped = id15[:position] + id15[position].swapcase() + id15[position + 1 :]
    assert checksum_suffix(flipped) != checksum_suffix(id15)
    # …so the case-safe forms stay distinct even compared case-insensitively.
    assert to_18(flipped).lower() != to_18(id15).lower()
    # An 18-character id whose first 15 had their case changed no longer validates.
    assert not is_valid_id(flipped + checksum_suffix(id15))


@settings(max_examples=200)
@given(ids_15, st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", min_size=3, max_size=3))
def test_only_the_matching_suffix_validates(id15: str, suffix: str) -> None:
    valid = suffix == checksum_suffix(id15)
    assert is_valid_id(id15 + suffix) is valid
    if not valid:
        with pytest.raises(InvalidSalesforceId):
            to_18(id15 + suffix)


# -- IdFactory ------------------------------------------------------------------------------


def test_factory_is_deterministic_per_seed() -> None:
    first, second, other = IdFactory(7), IdFactory(7), IdFactory(8)
    sequence = [first(p) for p in ("001", "003", "001", "801", "001")]
    assert sequence == [second(p) for p in ("001", "003", "001", "801", "001")]
    assert sequence != [other(p) for p in ("001", "003", "001", "801", "001")]


def test_factory_ids_are_valid_unique_and_shaped() -> None:
    factory = IdFactory(42, pod="7x")
    made = [factory(prefix) for prefix in ("001", "003", "00D") for _ in range(5000)]
    assert len(set(made)) == len(made)
    for record_id in made:
        assert len(record_id) == 18
        assert is_valid_id(record_id)
        assert record_id[3:5] == "7x"
        assert record_id[:3] in ("001", "003", "00D")


def test_factory_ids_need_the_case_safe_suffix() -> None:
    # Consecutive ids include pairs whose 15-character forms differ only by letter case, as
    # real ids do: comparing them case-insensitively without the suffix would merge records.
    factory = IdFactory(3)
    made = [factory("001") for _ in range(200)]
    folded_15 = {m[:15].lower() for m in made}
    assert len(folded_15) < len(made)
    assert len({m.lower() for m in made}) == len(made)
    assert any(c.isupper() for m in made for c in m[5:15])
    assert any(c.islower() for m in made for c in m[5:15])


def test_factory_is_safe_across_threads() -> None:
    factory = IdFactory(1)
    results: list[list[str]] = [[] for _ in range(8)]

    def work(slot: int) -> None:
        results[slot].extend(factory("801") for _ in range(2000))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [record_id for chunk in results for record_id in chunk]
    assert len(made) == 16000
    assert len(set(made)) == 16000


@pytest.mark.parametrize("prefix", ["01", "0011", "00-", ""])
def test_factory_rejects_malformed_prefixes(prefix: str) -> None:
    with pytest.raises(ValueError, match="key prefix"):
        IdFactory(1)(prefix)


def test_factory_rejects_malformed_pods() -> None:
    with pytest.raises(ValueError, match="pod"):
        IdFactory(1, pod="5")
