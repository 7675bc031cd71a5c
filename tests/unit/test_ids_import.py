"""Ids pasted or imported by admins: every token becomes an 18-character id or a stated reason."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpq_sync_gui.ids_import import (
    IdsFileError,
    decode_bytes,
    parse_ids,
    read_ids_file,
    restore_case,
)
from cpq_sync_gui.salesforce.ids import IdFactory, is_valid_id, to_18

FACTORY = IdFactory(seed=11)
ACCOUNTS = [FACTORY("001") for _ in range(6)]
CONTACT = FACTORY("003")
ORDER = FACTORY("801")


def test_mixed_separators_quotes_blank_lines_and_15_char_ids():
    text = (
        f"{ACCOUNTS[0]}, {ACCOUNTS[1][:15]};\t'{ACCOUNTS[2]}'\n\n"
        f'  "{ACCOUNTS[3]}"|{ACCOUNTS[4]}   {ACCOUNTS[5][:15]}\r\n'
    )
    parsed = parse_ids(text, "001")
    assert parsed.ids == ACCOUNTS
    assert parsed.rejected == []
    assert all(len(record_id) == 18 for record_id in parsed.ids)


def test_malformed_and_wrong_object_tokens_are_reported_with_their_line():
    text = f"{ACCOUNTS[0]}\nhello {CONTACT}\n001XYZ\n{ORDER}\n"
    parsed = parse_ids(text, "001")
    assert parsed.ids == [ACCOUNTS[0]]
    assert [(r.token, r.line, r.kind) for r in parsed.rejected] == [
        ("hello", 2, "malformed"),
        (CONTACT, 2, "wrong_object"),
        ("001XYZ", 3, "malformed"),
        (ORDER, 4, "wrong_object"),
    ]
    assert "is a Contact id, not an Account id" in parsed.rejected[1].reason
    assert "is an Order id, not an Account id" in parsed.rejected[3].reason
    assert "15 or 18 letters and digits" in parsed.rejected[0].reason
    summary = parsed.summary()
    assert "1 valid id" in summary
    assert "2 not a Salesforce id" in summary
    assert "2 of another object" in summary


def test_an_18_char_id_with_a_broken_checksum_is_refused():
    broken = ACCOUNTS[0][:15] + ("AAA" if ACCOUNTS[0][15:] != "AAA" else "BBB")
    parsed = parse_ids(broken, "001")
    assert parsed.ids == []
    assert parsed.rejected[0].kind == "malformed"
    assert "last 3 should be" in parsed.rejected[0].reason


def test_an_18_char_id_whose_case_was_lost_is_restored_from_its_suffix():
    parsed = parse_ids(f"{ACCOUNTS[0].lower()}\n{ACCOUNTS[1].upper()}", "001")
    assert parsed.ids == ACCOUNTS[:2]
    assert parsed.case_restored == 2


def test_repeats_are_kept_once_and_counted():
    parsed = parse_ids(f"{ACCOUNTS[0]} {ACCOUNTS[0][:15]} {ACCOUNTS[0]}", "001")
    assert parsed.ids == [ACCOUNTS[0]]
    assert parsed.repeated == 2


@pytest.mark.parametrize("header", ["Id", "Account ID", "ACCOUNT_ID", '"Id"', "18 Char Id"])
def test_a_header_row_is_recognised_and_skipped(header):
    parsed = parse_ids(f"{header}\n{ACCOUNTS[0]}\n{ACCOUNTS[1]}\n", "001")
    assert parsed.ids == ACCOUNTS[:2]
    assert parsed.rejected == []
    assert parsed.header == header


def test_a_first_line_of_junk_is_not_taken_for_a_header():
    parsed = parse_ids(f"hello world\n{ACCOUNTS[0]}", "001")
    assert parsed.header is None
    assert [r.token for r in parsed.rejected] == ["hello", "world"]


def test_a_csv_with_several_columns_gives_its_id_column_only():
    text = (
        "Name,Id,Billing City\n"
        f'"O\'Brien, Inc",{ACCOUNTS[0]},Dublin\n'
        f"Acme;x,{ACCOUNTS[1][:15]},\n"
        "Broken row,not-an-id,Paris\n"
    )
    parsed = parse_ids(text, "001")
    assert parsed.id_column == "Id"
    assert parsed.ignored_columns == ["Name", "Billing City"]
    assert parsed.ids == ACCOUNTS[:2]
    assert [(r.token, r.line) for r in parsed.rejected] == [("not-an-id", 4)]


def test_a_semicolon_csv_from_a_european_excel():
    text = f"Account Name;Account ID\r\nA;{ACCOUNTS[0]}\r\nB;{ACCOUNTS[1]}\r\n"
    parsed = parse_ids(text, "001")
    assert parsed.id_column == "Account ID"
    assert parsed.ids == ACCOUNTS[:2]


def test_empty_and_blank_input():
    assert parse_ids("").ids == []
    assert parse_ids(" \n\t\n").rejected == []


def test_without_an_expected_object_any_valid_id_is_taken():
    parsed = parse_ids(f"{ACCOUNTS[0]} {CONTACT}")
    assert parsed.ids == [ACCOUNTS[0], CONTACT]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("cp1252", b""),
    ],
)
def test_files_in_the_encodings_excel_and_notepad_write(tmp_path, encoding, bom):
    text = f"Id,Name\r\n{ACCOUNTS[0]},Café Müller\r\n{ACCOUNTS[1]},Zoë\r\n"
    path = tmp_path / "ids.csv"
    path.write_bytes(bom + text.encode(encoding))
    parsed = read_ids_file(path, "001")
    assert parsed.ids == ACCOUNTS[:2]
    assert parsed.rejected == []


def test_decode_bytes_falls_back_to_cp1252():
    assert decode_bytes("Müller".encode("cp1252")) == "Müller"


def test_a_binary_file_gets_a_message_saying_what_to_do(tmp_path):
    path = tmp_path / "ids.xlsx"
    path.write_bytes(b"PK\x03\x04\x00\x00\x00\x00binary")
    with pytest.raises(IdsFileError, match="Save it as CSV"):
        read_ids_file(path, "001")


def test_a_missing_file_gets_a_message(tmp_path):
    with pytest.raises(IdsFileError, match="Could not read"):
        read_ids_file(tmp_path / "nope.csv", "001")


# --- properties ---------------------------------------------------------------------------

_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ids_15 = st.text(alphabet=_ID_CHARS, min_size=12, max_size=12).map(lambda s: "001" + s)
separators = st.lists(st.sampled_from([",", ";", "\t", " ", "\n", "\r\n", "|", " , "]), min_size=1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(ids_15, st.booleans(), st.booleans()), max_size=30), st.data())
def test_any_mix_of_separators_and_forms_gives_back_exactly_the_ids(items, data):
    pieces = []
    for id15, long_form, quoted in items:
        token = to_18(id15) if long_form else id15
        if quoted:
            token = f'"{token}"'
        pieces.append(token)
        pieces.append("".join(data.draw(separators)))
    parsed = parse_ids("".join(pieces), "001")
    expected = list(dict.fromkeys(to_18(id15) for id15, _, _ in items))
    assert parsed.ids == expected
    assert parsed.rejected == []
    assert parsed.repeated == len(items) - len(expected)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_every_token_is_either_an_id_or_a_rejection(text):
    parsed = parse_ids(text)
    assert all(is_valid_id(record_id) and len(record_id) == 18 for record_id in parsed.ids)
    assert len(set(parsed.ids)) == len(parsed.ids)
    for rejected in parsed.rejected:
        assert rejected.reason
        assert rejected.line >= 1


@settings(max_examples=200, deadline=None)
@given(ids_15)
def test_restore_case_undoes_upper_or_lower_casing_of_the_whole_id(id15):
    id18 = to_18(id15)
    assert restore_case(id18.lower()) == id18
    assert restore_case(id18.upper()) == id18


def test_a_mixed_case_id_with_a_wrong_suffix_is_not_guessed():
    record_id = "0015g000Ab3xQaB"
    wrong = record_id + ("AAA" if to_18(record_id)[15:] != "AAA" else "BBB")
    assert restore_case(wrong) is None
