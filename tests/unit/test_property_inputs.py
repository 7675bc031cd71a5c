"""Property tests for what admins paste, import and keep on disk.

- Id lists (paste, CSV, text files) with any mix of separators, quotes, byte-order marks, blank
  lines and CRLF: every valid id found once, in order; every other token reported with its line.
- profiles.json holding ANY bytes: a plain SettingsFileError naming the line or field, or a
  valid store — never another exception, never a silently changed file, and a later save backs
  the bad file up first.
- Connector addresses and Salesforce domains: any text is refused in plain words or becomes an
  address to which nothing can be added but the ``sfdc`` and record-id parameters.
"""

from __future__ import annotations

import codecs
import json
import re
import string
import unicodedata
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cpq_sync_gui.connector.client import button_url, check_endpoint_url, check_sfdc_domain
from cpq_sync_gui.ids_import import IdsFileError, decode_bytes, parse_ids, read_ids_file
from cpq_sync_gui.salesforce.ids import to_18
from cpq_sync_gui.settings import (
    ConnectorSettings,
    NetworkSettings,
    Profile,
    ProfileStore,
    SalesforceSettings,
    SettingsFileError,
    ZuoraSettings,
)

PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FEWER = settings(PROPERTY, max_examples=150)

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_QUOTES = ['"', "'", "`", "\u201c\u201d", "\u2018\u2019"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Path]:
    """A fresh empty folder per hypothesis example (function-scoped tmp_path is per test)."""
    root = tmp_path_factory.mktemp("property-inputs")

    def make() -> Path:
        folder = root / uuid.uuid4().hex
        folder.mkdir()
        return folder

    return make


# --- id lists ------------------------------------------------------------------------------

# Ids whose text ends in "id" (any case) are generated too: a first line of words and such an id
# was once taken for a header row (test_a_first_line_with_a_name_and_an_id_is_not_a_header).


@st.composite
def id_tokens(draw: st.DrawFn, prefixes: tuple[str, ...] = ("001",)) -> tuple[str, str]:
    """(text as typed, its 18-character id): 15 chars, 18 chars, or 18 with its case lost."""
    prefix = draw(st.sampled_from(prefixes))
    id15 = prefix + draw(st.text(alphabet=_BASE62, min_size=12, max_size=12))
    id18 = to_18(id15)
    form = draw(st.sampled_from(["15", "18", "18", "lower", "upper"]))
    text = {"15": id15, "18": id18, "lower": id18.lower(), "upper": id18.upper()}[form]
    return text, id18


# Junk: anything without separators, quotes or invisible characters, ending in "!" so that it
# can never be an id nor a header word.
JUNK = st.text(
    alphabet=st.characters(
        exclude_categories=("Z", "C"), exclude_characters=",;|\"'`\u2018\u2019\u201c\u201d!"
    ),
    max_size=20,
).map(lambda s: s + "!")

WITHIN_LINE = st.lists(
    st.sampled_from([",", ";", "\t", "|", " ", ", ", " ;\t", "\u00a0", "\u3000", ",,"]),
    min_size=1,
    max_size=3,
).map("".join)
LINE_BREAK = st.sampled_from(["\n", "\r\n", "\n\n", "\r\n\r\n", "\n \t\n", "\r\n,\r\n"])


@st.composite
def id_paste(
    draw: st.DrawFn, prefixes: tuple[str, ...] = ("001",)
) -> tuple[str, list[tuple[str, str, int]]]:
    """A pasted text and, per token, (kind, token as it should be reported, line number).

    kind is "id:<18-char id>" or "junk".
    """
    lines = draw(
        st.lists(
            st.lists(
                st.one_of(
                    id_tokens(prefixes).map(lambda t: ("id", *t)),
                    JUNK.map(lambda j: ("junk", j, j)),
                ),
                min_size=0,
                max_size=6,
            ),
            max_size=8,
        )
    )
    text = draw(st.sampled_from(["", "\ufeff"]))  # a byte-order mark, as Notepad writes
    if draw(st.booleans()):
        text += draw(LINE_BREAK)  # blank lines first
    expected: list[tuple[str, str, int]] = []
    for tokens in lines:
        line_number = len(text.replace("\r\n", "\n").split("\n"))
        pieces = []
        if draw(st.booleans()):
            pieces.append(draw(WITHIN_LINE))  # a leading separator
        for index, (kind, typed, meaning) in enumerate(tokens):
            if index:
                pieces.append(draw(WITHIN_LINE))
            quote = draw(st.sampled_from(["", "", *_QUOTES]))
            pieces.append(f"{quote[:1]}{typed}{quote[-1:]}")
            expected.append((f"id:{meaning}" if kind == "id" else "junk", typed, line_number))
        if draw(st.booleans()):
            pieces.append(draw(WITHIN_LINE))  # a trailing separator
        text += "".join(pieces) + draw(LINE_BREAK)
    return text, expected


def _check_parsed(parsed: Any, expected: list[tuple[str, str, int]]) -> None:
    ids_in_order = [kind[3:] for kind, _, _ in expected if kind.startswith("id:")]
    assert parsed.ids == list(dict.fromkeys(ids_in_order))
    assert parsed.repeated == len(ids_in_order) - len(set(ids_in_order))
    junk = [(typed, line) for kind, typed, line in expected if kind == "junk"]
    assert [(r.token, r.line) for r in parsed.rejected] == junk
    assert all(r.kind == "malformed" and r.reason for r in parsed.rejected)
    assert parsed.header is None
    first_seen: set[str] = set()
    restored = 0
    for kind, typed, _ in expected:
        if kind.startswith("id:") and kind[3:] not in first_seen:
            first_seen.add(kind[3:])
            restored += typed != kind[3:] and len(typed) == 18
    assert parsed.case_restored == restored


@PROPERTY
@given(id_paste())
def test_every_pasted_id_is_found_once_in_order_and_every_other_token_reported(
    paste: tuple[str, list[tuple[str, str, int]]],
) -> None:
    text, expected = paste
    _check_parsed(parse_ids(text), expected)


ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8 with BOM": lambda text: codecs.BOM_UTF8 + text.lstrip("\ufeff").encode("utf-8"),
    "utf-16 LE with BOM": lambda text: (
        codecs.BOM_UTF16_LE + text.lstrip("\ufeff").encode("utf-16-le")
    ),
    "utf-16 BE with BOM": lambda text: (
        codecs.BOM_UTF16_BE + text.lstrip("\ufeff").encode("utf-16-be")
    ),
}


@FEWER
@given(id_paste(), st.sampled_from(sorted(ENCODINGS)))
def test_an_ids_file_in_any_unicode_encoding_reads_the_same(
    scratch: Callable[[], Path], paste: tuple[str, list[tuple[str, str, int]]], encoding: str
) -> None:
    text, expected = paste
    path = scratch() / "ids.txt"
    path.write_bytes(ENCODINGS[encoding](text))
    _check_parsed(read_ids_file(path), expected)


@PROPERTY
@given(id_paste(prefixes=("001", "003", "801")))
def test_ids_of_another_object_are_reported_as_such_with_their_line(
    paste: tuple[str, list[tuple[str, str, int]]],
) -> None:
    text, expected = paste
    parsed = parse_ids(text, "001")
    accounts = [k[3:] for k, _, _ in expected if k.startswith("id:001")]
    assert parsed.ids == list(dict.fromkeys(accounts))
    reported = [(r.token, r.line, r.kind) for r in parsed.rejected]
    wanted = [
        (typed, line, "malformed" if kind == "junk" else "wrong_object")
        for kind, typed, line in expected
        if not kind.startswith("id:001")
    ]
    assert reported == wanted
    for rejected in parsed.wrong_object:
        assert re.search(r"is an? (Contact|Order) id, not an Account id", rejected.reason)


@st.composite
def csv_export(draw: st.DrawFn) -> tuple[str, list[str], str]:
    """A CSV with a header naming an id column among others (as Data Loader or Excel save it)."""
    header = draw(st.sampled_from(["Id", "Account ID", "ACCOUNT_ID", "Record Id", "18 Char Id"]))
    others = draw(st.lists(st.sampled_from(["Name", "Billing City", "Owner"]), max_size=3))
    position = draw(st.integers(0, len(others)))
    columns = [*others[:position], header, *others[position:]]
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    cells_text = st.text(
        alphabet=st.characters(exclude_categories=("C",), exclude_characters='"\u2028\u2029'),
        max_size=15,
    )
    rows = [delimiter.join(f'"{c}"' for c in columns)]
    ids: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        typed, id18 = draw(id_tokens())
        ids.append(id18)
        row = [f'"{draw(cells_text)}"' for _ in others]
        row.insert(position, typed)
        rows.append(delimiter.join(row))
        if draw(st.booleans()):
            rows.append("")  # blank lines between rows
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + newline.join(rows) + newline, ids, header


@PROPERTY
@given(csv_export())
def test_a_csv_export_gives_exactly_its_id_column(export: tuple[str, list[str], str]) -> None:
    text, ids, header = export
    parsed = parse_ids(text)
    assert parsed.ids == list(dict.fromkeys(ids))
    assert parsed.rejected == []
    assert parsed.id_column == header or (parsed.id_column is None and parsed.header is not None)


@PROPERTY
@given(st.binary(max_size=400))
@example(codecs.BOM_UTF16_LE + b"\x00\xd8")  # a lone surrogate
@example(codecs.BOM_UTF8 + b"\xff\xfe")
@example(b"\x00" * 10)
def test_any_bytes_as_an_ids_file_give_ids_or_a_plain_error(
    scratch: Callable[[], Path], data: bytes
) -> None:
    path = scratch() / "ids.csv"
    path.write_bytes(data)
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or data[1:2] == b"\x00"
    if b"\x00" in data[:4096] and not utf16:  # a binary file: refused in plain words
        with pytest.raises(IdsFileError, match="Save it as CSV"):
            read_ids_file(path)
        return
    parsed = read_ids_file(path)
    text = decode_bytes(data)
    line_count = max(1, len(text.splitlines()))
    assert all(len(i) == 18 for i in parsed.ids)
    assert len(set(parsed.ids)) == len(parsed.ids)
    assert all(1 <= r.line <= line_count and r.reason for r in parsed.rejected)
    # Nothing is invented: every id found was in the file (as 15 or 18 characters).
    folded = text.lower()
    assert all(i[:15].lower() in folded for i in parsed.ids)


# Suffix "AID": chunk 2 has only its 4th character upper-case (8 → I), chunk 3 its first two
# (3 → D).
ID_ENDING_IN_ID = to_18("0015g000A0XYabc")


def test_a_first_line_with_a_name_and_an_id_is_not_a_header() -> None:
    first, second = ID_ENDING_IN_ID, to_18("0015g000Ab3xQaC")
    assert first.endswith("AID")
    parsed = parse_ids(f"Acme Corp {first}\nBeta Ltd {second}\n")
    assert parsed.ids == [first, second]
    assert parsed.header is None
    one_line = parse_ids(f"Acme {first}, Beta {second}")
    assert one_line.ids == [first, second]


# --- profiles.json ---------------------------------------------------------------------------

GOOD_PROFILE: dict[str, Any] = {
    "name": "Acme UAT",
    "treat_as_production": False,
    "salesforce": {
        "auth_method": "password",
        "login_host": "custom",
        "custom_login_url": "https://127.0.0.1:8443",
        "username": "admin@acme.example",
        "api_version": "62.0",
    },
    "zuora": {
        "environment": "custom",
        "base_url": "https://rest.example.com",
        "client_id": "abc123",
        "zuora_version": "2025-08-12",
    },
    "connector": {
        "endpoint_url": "https://x.execute-api.us-west-2.amazonaws.com/default/sfdccpq",
        "sfdc_domain": "acme.lightning.force.com",
    },
    "network": {"proxy_mode": "none", "connect_timeout_s": 10, "read_timeout_s": 60},
}
GOOD_FILE: dict[str, Any] = {
    "format_version": 1,
    "active_profile": "Acme UAT",
    "profiles": [GOOD_PROFILE],
}

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "custom",
            "manual",
            "https://",
            "http://x.example",
            "https://[::1",
            "https://x:99999",
            "a\nb",
            "\u0000",
            "Acme UAT",
            "ACME uat",
            "62.0",
            "2025-02-30",
            "../../etc/passwd",
        ]
    ),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD_PATHS = [
    ("format_version",),
    ("active_profile",),
    ("profiles",),
    ("profiles", 0),
    ("profiles", 0, "name"),
    ("profiles", 0, "treat_as_production"),
    ("profiles", 0, "salesforce"),
    *[("profiles", 0, "salesforce", k) for k in GOOD_PROFILE["salesforce"]],
    ("profiles", 0, "salesforce", "my_domain"),
    ("profiles", 0, "salesforce", "private_key_file"),
    ("profiles", 0, "salesforce", "browser_callback_port"),
    ("profiles", 0, "salesforce", "password"),  # a secret that must never be in this file
    *[("profiles", 0, "zuora", k) for k in GOOD_PROFILE["zuora"]],
    ("profiles", 0, "zuora", "client_secret"),
    *[("profiles", 0, "connector", k) for k in GOOD_PROFILE["connector"]],
    *[("profiles", 0, "network", k) for k in GOOD_PROFILE["network"]],
    ("profiles", 0, "network", "proxy_url"),
    ("profiles", 0, "network", "ca_bundle"),
    ("profiles", 1),
    ("extra_top_level",),
]


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    target = document
    for step in path[:-1]:
        if (isinstance(target, dict) and step in target) or (
            isinstance(target, list) and isinstance(step, int) and step < len(target)
        ):
            target = target[step]
        else:
            return
    last = path[-1]
    if isinstance(target, dict):
        target[last] = value
    elif isinstance(target, list) and isinstance(last, int):
        if last < len(target):
            target[last] = value
        else:
            target.append(value)


@st.composite
def profiles_file_bytes(draw: st.DrawFn) -> bytes:
    """A profiles.json as a person, another version or a broken disk might leave it."""
    style = draw(st.sampled_from(["edited", "edited", "edited", "random json", "bytes"]))
    if style == "bytes":
        return draw(st.binary(max_size=300))
    if style == "random json":
        document: Any = draw(JSON_VALUES)
    else:
        document = json.loads(json.dumps(GOOD_FILE))
        for _ in range(draw(st.integers(0, 4))):
            path = draw(st.sampled_from(FIELD_PATHS))
            if draw(st.integers(0, 4)) == 0 and path[-1] != 0:
                _remove(document, path)
            else:
                _set(document, path, draw(JSON_VALUES))
    text = json.dumps(
        document, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2]))
    )
    data = text.encode("utf-8")
    damage = draw(st.sampled_from(["none", "none", "truncate", "insert", "bom", "latin-1"]))
    if damage == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif damage == "insert":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    elif damage == "bom":
        data = codecs.BOM_UTF8 + data
    elif damage == "latin-1":
        data = text.encode("latin-1", errors="replace")
    return data


def _remove(document: Any, path: tuple[Any, ...]) -> None:
    target = document
    for step in path[:-1]:
        if (isinstance(target, dict) and step in target) or (
            isinstance(target, list) and isinstance(step, int) and step < len(target)
        ):
            target = target[step]
        else:
            return
    if isinstance(target, dict):
        target.pop(path[-1], None)


_LOCATED = re.compile(
    r"^profiles\.json(?: line \d+, column \d+|, field .+?)?: \S"
    r"|^profile (?:'.*'|#\d+)(?:, field .+?)?: \S",
    re.DOTALL,
)
_SECRET_MARK = "S3cr3t-value-7Q"


def _load_error(store: ProfileStore) -> SettingsFileError | None:
    try:
        store.load()
    except SettingsFileError as error:
        return error
    return None


@PROPERTY
@given(profiles_file_bytes())
@example(b"")
@example(b"\xef\xbb\xbf")
@example(b"null")
@example(b'{"format_version": 2}')
@example(b'{"format_version": 1, "profiles": [{"name": "a"}, {"name": "A"}]}')
@example(
    json.dumps(
        {"format_version": 1, "profiles": [{"name": "x", "salesforce": {"password": _SECRET_MARK}}]}
    ).encode()
)
def test_any_profiles_file_loads_or_fails_plainly_and_is_never_silently_reset(
    scratch: Callable[[], Path], data: bytes
) -> None:
    folder = scratch()
    path = folder / "profiles.json"
    path.write_bytes(data)
    store = ProfileStore(path)
    error = _load_error(store)
    loaded = error is None
    event("loaded" if loaded else "refused with a SettingsFileError")
    if error is not None:
        assert store.load_error is error
        assert store.profiles == ()
        message = str(error)
        assert str(path) in message
        assert "left as it is" in message
        assert error.problems
        for problem in error.problems:
            # Each problem names where (the file's line and column, or the profile and field)
            # in one plain line; never a traceback, a pydantic URL, or a secret's value.
            assert _LOCATED.match(problem), problem
            assert "\n" not in problem
            assert "Traceback" not in problem
            assert "pydantic" not in problem
        assert _SECRET_MARK not in message
    else:
        assert store.load_error is None
    assert path.read_bytes() == data  # loading never changes the file

    store.save()
    backups = sorted(folder.glob("profiles.json.broken-*"))
    if loaded:
        assert backups == []
    else:
        assert len(backups) == 1
        assert backups[0].read_bytes() == data  # the bad file is kept, byte for byte
    again = ProfileStore(path)
    again.load()  # what was saved always loads
    assert [p.model_dump() for p in again.profiles] == [p.model_dump() for p in store.profiles]
    assert again.active == store.active


def test_deeply_nested_json_is_a_plain_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    data = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(data)
    with pytest.raises(SettingsFileError):
        ProfileStore(path).load()
    assert path.read_bytes() == data


def test_a_number_too_long_for_python_is_a_plain_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    path.write_bytes(b'{"format_version": ' + b"1" * 5000 + b"}")
    with pytest.raises(SettingsFileError, match="format_version"):
        ProfileStore(path).load()


# --- connector addresses and domains ------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_PORT = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::(?P<port>\d{{1,5}}))?")

HOSTS = [
    "acme.lightning.force.com",
    "ACME--uat.sandbox.lightning.force.com",
    "127.0.0.1",
    "r7eq6a62d4.execute-api.us-west-2.amazonaws.com",
    "exa mple.com",
    "-acme.com",
    "acme-.com",
    "a..b",
    "_",
    "[::1]",
    "[::1",
    "ho\tst",
    "münchen.de",
    "a" * 64 + ".com",
    "",
]
GOOD_HOSTS = HOSTS[:4]
URL_PIECES = {
    "scheme": ["https://", "https://", "https://", "HTTPS://", "http://", "", "ftp://", "//"],
    "userinfo": ["", "", "", "", "", "u@", "u:p@", "@"],
    "host": [*GOOD_HOSTS, *GOOD_HOSTS, *HOSTS],
    "port": ["", "", "", ":443", ":8443", ":0", ":65536", ":99999", ":abc", ":"],
    "path": ["", "/", "/default/sfdccpq", "/default/sfdccpq/", "/a%20b", "/a b", "/x?y=1", "/x#f"],
    "tail": ["", "", "", "", "", "\n", "\n/", "\r\nX-Injected: 1", "&orderId=801", "?", "#", " "],
}
_STRUCTURED_URL = st.tuples(*(st.sampled_from(v) for v in URL_PIECES.values())).map("".join)
_VALID_URL = st.tuples(
    st.sampled_from(["https://", "HTTPS://"]),
    st.sampled_from(GOOD_HOSTS),
    st.sampled_from(["", ":443", ":8443", ":65535"]),
    st.sampled_from(["", "/", "/default/sfdccpq", "/default/sfdccpq/", "/a%20b", "/x/../y"]),
).map("".join)
URLISH = st.one_of(
    _VALID_URL,
    _STRUCTURED_URL,
    _STRUCTURED_URL,
    st.text(max_size=40),
    st.tuples(st.sampled_from(URL_PIECES["scheme"]), st.text(max_size=30)).map("".join),
)
_STRUCTURED_DOMAIN = st.tuples(
    st.sampled_from(["", "", "https://", "HTTPS://", "http://"]),
    st.sampled_from([*GOOD_HOSTS, *HOSTS]),
    st.sampled_from(["", "", *URL_PIECES["port"]]),
    st.sampled_from(["", "", "/", "//", "/path", "?x=1", "\n", "\n/", " ", "\t/", "&x=1"]),
).map("".join)
_VALID_DOMAIN = st.tuples(
    st.sampled_from(["", "https://", "HTTPS://"]),
    st.sampled_from(GOOD_HOSTS),
    st.sampled_from(["", ":8443", ":1"]),
    st.sampled_from(["", "/"]),
).map("".join)
DOMAINISH = st.one_of(_VALID_DOMAIN, _STRUCTURED_DOMAIN, _STRUCTURED_DOMAIN, st.text(max_size=40))
ACCOUNT_ID = to_18("0015g000Ab3xQaC")


def _plain(message: str, words: str) -> None:
    assert words in message
    assert len(message) < 400
    assert "Traceback" not in message


@PROPERTY
@given(DOMAINISH)
@example("acme.com\n/")
@example("ACME.Lightning.Force.com:65535/")
def test_a_salesforce_domain_is_a_host_or_a_plain_refusal(text: str) -> None:
    try:
        domain = check_sfdc_domain(text)
    except ValueError as error:
        _plain(str(error), "Lightning host")
        return
    match = _HOST_PORT.fullmatch(domain)
    assert match is not None, domain
    assert match["port"] is None or 1 <= int(match["port"]) <= 65535
    assert check_sfdc_domain(domain) == domain


@PROPERTY
@given(URLISH, DOMAINISH)
@example("https://host/x\r\nX-Injected: 1", "acme.com")
@example("https://exa mple.com/x", "acme.com")
@example("https://host:99999/x", "acme.com")
@example("https://@host/x", "acme.com")
@example("https://[::1]:8443/default/sfdccpq", "127.0.0.1:8443")
def test_a_button_url_carries_exactly_the_domain_and_the_record_id(
    endpoint: str, domain: str
) -> None:
    try:
        checked = check_endpoint_url(endpoint)
    except ValueError as error:
        event("address refused")
        _plain(str(error), "connector address")
        return
    event("address accepted")
    parts = urlsplit(checked)
    assert parts.scheme == "https"
    assert not [c for c in checked if c.isspace() or unicodedata.category(c) == "Cc"]
    assert (parts.query, parts.fragment, parts.username) == ("", "", None)
    assert 1 <= (parts.port or 443) <= 65535
    assert check_endpoint_url(checked) == checked
    try:
        sfdc = check_sfdc_domain(domain)
    except ValueError:
        return
    event("button URL built")
    for kind, parameter in (("account", "accountId"), ("order", "orderId")):
        record_id = ACCOUNT_ID if kind == "account" else to_18("8015g000Ab3xQaC")
        url = button_url(checked, sfdc, kind, record_id)
        assert url.startswith(checked + "?")
        # Nothing typed in either field can add, remove or change a parameter.
        assert parse_qs(urlsplit(url).query, keep_blank_values=True) == {
            "sfdc": [sfdc],
            parameter: [record_id],
        }


# Profile settings validate the same addresses when they are typed or loaded from the file.

_URL_FIELDS: list[tuple[str, Callable[[str], str]]] = [
    (
        "custom login address",
        lambda v: SalesforceSettings(login_host="custom", custom_login_url=v).custom_login_url,
    ),
    ("instance URL", lambda v: SalesforceSettings(instance_url=v).instance_url),
    ("Zuora REST address", lambda v: ZuoraSettings(environment="custom", base_url=v).base_url),
]


def _no_secret_no_invisible(value: str) -> None:
    parts = urlsplit(value)
    assert parts.scheme == "https"
    assert parts.hostname
    assert (parts.query, parts.fragment, parts.username, parts.password) == ("", "", None, None)
    assert not [c for c in value if c.isspace() or unicodedata.category(c) == "Cc"]
    assert 1 <= (parts.port or 443) <= 65535


@PROPERTY
@given(st.sampled_from(range(len(_URL_FIELDS))), URLISH)
@example(0, "https://host/x\r\nX-Injected: 1")
@example(2, "https://user:pw@rest.example.com")
def test_a_profile_server_address_is_https_without_secrets_or_a_plain_refusal(
    which: int, text: str
) -> None:
    _, setter = _URL_FIELDS[which]
    try:
        value = setter(text)
    except ValidationError as error:
        problem = error.errors()[0]["msg"]
        assert len(problem) < 400
        return
    if not text.strip():
        return  # blank: not set
    _no_secret_no_invisible(value)
    assert setter(value) == value  # what was stored validates unchanged when loaded again


def _connector_address(value: str) -> str:
    return ConnectorSettings(endpoint_url=value).endpoint_url


@PROPERTY
@given(URLISH)
def test_a_profile_connector_address_is_one_the_connector_client_accepts(text: str) -> None:
    try:
        value = _connector_address(text)
    except ValidationError:
        return
    _no_secret_no_invisible(value)
    assert check_endpoint_url(value) == value
    assert _connector_address(value) == value


@pytest.mark.parametrize("which", range(len(_URL_FIELDS) + 1))
def test_a_profile_address_with_port_0_is_refused(which: int) -> None:
    setter = _connector_address if which == len(_URL_FIELDS) else _URL_FIELDS[which][1]
    with pytest.raises(ValidationError):
        setter("https://rest.example.com:0")


@pytest.mark.parametrize(
    "typed", ["https://host/default/sfdccpq x", "https://host/x\x00y", "https://host/x\r\nX: 1"]
)
def test_a_profile_connector_address_with_spaces_or_control_characters_is_refused(
    typed: str,
) -> None:
    with pytest.raises(ValidationError):
        _connector_address(typed)


@PROPERTY
@given(st.sampled_from(["http://", "https://", ""]), URLISH)
def test_a_proxy_address_never_holds_a_password(scheme: str, text: str) -> None:
    try:
        network = NetworkSettings(proxy_mode="manual", proxy_url=scheme + text)
    except ValidationError:
        return
    parts = urlsplit(network.proxy_url)
    assert parts.scheme in ("http", "https")
    assert parts.username is None
    assert parts.password is None
    assert parts.port is not None
    assert NetworkSettings(proxy_mode="manual", proxy_url=network.proxy_url) == network


_HOST_FIELDS: list[Callable[[str], str]] = [
    lambda v: ConnectorSettings(sfdc_domain=v).sfdc_domain,
    lambda v: SalesforceSettings(login_host="my_domain", my_domain=v).my_domain,
]


@PROPERTY
@given(
    st.sampled_from(range(len(_HOST_FIELDS))),
    DOMAINISH,
)
def test_a_profile_host_is_a_host_or_a_plain_refusal(which: int, text: str) -> None:
    setter = _HOST_FIELDS[which]
    try:
        value = setter(text)
    except ValidationError:
        return
    if not text.strip():
        assert value == ""  # blank: derived from the instance later
        return
    assert _HOST_PORT.fullmatch(value), value
    assert setter(value) == value


@pytest.mark.parametrize("which", range(len(_HOST_FIELDS)))
def test_a_profile_host_never_keeps_a_line_break(which: int) -> None:
    with pytest.raises(ValidationError):
        _HOST_FIELDS[which]("acme.my.salesforce.com\n/")


def test_a_profile_with_the_default_settings_round_trips() -> None:
    # The defaults themselves pass every check above (guards the strategies, not the product).
    profile = Profile(name="defaults")
    assert check_endpoint_url(profile.connector.endpoint_url) == profile.connector.endpoint_url
