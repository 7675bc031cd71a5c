"""Salesforce ids from pasted text or an imported CSV/text file: every token kept or explained.

Pure functions, no Qt and no network. Admins paste ids from spreadsheets, reports, e-mails and
Data Loader CSVs, so the parser takes any mix of separators (comma, semicolon, tab, pipe,
spaces, new lines), byte-order marks, quotes, a header row and blank lines. It returns the
valid ids as 18-character ids (in the order given, without repeats) and, for every other
token, the reason it was refused: nothing is dropped without a word.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cpq_sync_gui.salesforce.ids import InvalidSalesforceId, object_name, parse_id

__all__ = [
    "MAX_FILE_BYTES",
    "ParsedIds",
    "RejectedToken",
    "decode_bytes",
    "parse_ids",
    "read_ids_file",
    "restore_case",
]

MAX_FILE_BYTES = 50 * 1024 * 1024  # far more ids than anyone selects; protects the window
_SEPARATORS = re.compile(r"[\s,;|]+")
_QUOTES = "\"'`\u2018\u2019\u201c\u201d"
_ID_TEXT = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# Header cells that name an id column (compared lower-case, without spaces, '_', '-', '.').
_ID_HEADERS = (
    "id",
    "ids",
    "recordid",
    "salesforceid",
    "sfid",
    "18charid",
    "15charid",
    "casesafeid",
    "accountid",
    "orderid",
)

Reason = Literal["malformed", "wrong_object"]


@dataclass(frozen=True)
class RejectedToken:
    """A piece of the input that is not a usable id, with the line it was on (1-based)."""

    token: str
    line: int
    kind: Reason
    reason: str  # a sentence fit to show to the admin

    def describe(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ParsedIds:
    """What came out of one paste or file."""

    ids: list[str] = field(default_factory=list)  # 18-character, input order, no repeats
    rejected: list[RejectedToken] = field(default_factory=list)
    repeated: int = 0  # valid ids given more than once (kept once)
    case_restored: int = 0  # 18-character ids whose letter case was restored from the suffix
    header: str | None = None  # a header row that was recognised and skipped
    id_column: str | None = None  # the CSV column the ids were taken from
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def malformed(self) -> list[RejectedToken]:
        return [r for r in self.rejected if r.kind == "malformed"]

    @property
    def wrong_object(self) -> list[RejectedToken]:
        return [r for r in self.rejected if r.kind == "wrong_object"]

    def summary(self) -> str:
        """One plain sentence: how many ids were read and what was refused."""
        parts = [f"{len(self.ids):,} valid id{'s' if len(self.ids) != 1 else ''}"]
        if self.malformed:
            parts.append(f"{len(self.malformed):,} not a Salesforce id")
        if self.wrong_object:
            parts.append(f"{len(self.wrong_object):,} of another object")
        if self.repeated:
            parts.append(f"{self.repeated:,} repeated (kept once)")
        text = ", ".join(parts)
        if self.id_column:
            text += f"; ids taken from column '{self.id_column}'"
            if self.ignored_columns:
                text += " (other columns ignored: " + ", ".join(self.ignored_columns[:6])
                text += ", …)" if len(self.ignored_columns) > 6 else ")"
        elif self.header:
            text += f"; header row '{_shorten(self.header)}' skipped"
        return text


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _a(name: str) -> str:
    return ("an " if name[:1].upper() in "AEIOU" else "a ") + name


def restore_case(token: str) -> str | None:
    """An 18-character id whose letter case was lost (Excel, e-mail), restored from its suffix.

    The 3-character suffix encodes which of the first 15 characters are upper-case; that is
    what makes 18-character ids case-insensitive. Only a token whose letters are all lower-
    or all upper-case is restored (a mixed-case one with a wrong suffix was mistyped, and
    guessing would pick some other record). None when the token cannot be such an id.
    """
    if len(token) != 18 or not _ID_TEXT.match(token):
        return None
    body = token[:15]
    if body != body.lower() and body != body.upper():
        return None
    chars = list(token[:15])
    for chunk, suffix_char in enumerate(token[15:].upper()):
        bits = _SUFFIX_ALPHABET.find(suffix_char)
        if bits < 0:
            return None
        for position in range(5):
            index = chunk * 5 + position
            upper = bool(bits >> position & 1)
            char = chars[index]
            if upper and char.isdigit():
                return None
            chars[index] = char.upper() if upper else char.lower()
    return "".join(chars) + token[15:].upper()


def _clean_token(token: str) -> str:
    return token.strip().strip(_QUOTES).strip()


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_\-.#]+", "", _clean_token(cell).lower())


def _has_id_token(cells: Iterable[str]) -> bool:
    """True when any piece of ``cells``, split as ids are, has the shape of a Salesforce id.

    A line holding even one such token is data, never a header: an id whose text happens to
    end in 'id'/'ID' ('Acme 0015g000A0XYabcAID') must not make its line look like 'Account ID'.
    """
    return any(
        _ID_TEXT.fullmatch(_clean_token(piece))
        for cell in cells
        for piece in _SEPARATORS.split(cell)
    )


def _looks_like_header(tokens: list[str]) -> bool:
    """A first line made only of words, at least one naming an id ('Id', 'Account ID', …)."""
    if not tokens or _has_id_token(tokens):
        return False
    if not all(
        re.fullmatch(r"[A-Za-z0-9 _\-.#()]*[A-Za-z][A-Za-z0-9 _\-.#()]*", t) for t in tokens
    ):
        return False
    keys = [_header_key(t) for t in tokens]
    joined = "".join(keys)
    return any(key in _ID_HEADERS or key.endswith("id") for key in keys) or joined in _ID_HEADERS


def _csv_id_column(lines: list[str]) -> tuple[list[tuple[int, str]], str, list[str]] | None:
    """When the first line is a CSV header with an id column, that column's cells (with line)."""
    first = lines[0]
    delimiters = [d for d in (",", ";", "\t", "|") if d in first]
    if not delimiters:
        return None
    delimiter = max(delimiters, key=first.count)
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    if not rows:
        return None
    header = [_clean_token(cell) for cell in rows[0]]
    if _has_id_token(header):
        return None
    keys = [_header_key(cell) for cell in header]
    column = next((i for i, key in enumerate(keys) if key in _ID_HEADERS), None)
    if column is None:
        column = next((i for i, key in enumerate(keys) if key.endswith("id")), None)
    if column is None or len(header) < 2:
        return None
    cells = [(number, row[column]) for number, row in enumerate(rows[1:], 2) if len(row) > column]
    short = [
        (number, ",".join(row)) for number, row in enumerate(rows[1:], 2) if len(row) <= column
    ]
    ignored = [name for i, name in enumerate(header) if i != column and name]
    return sorted(cells + short), header[column], ignored


def parse_ids(
    text: str, expected_prefix: str | None = None, *, object_label: str | None = None
) -> ParsedIds:
    """Read ids from ``text``; with ``expected_prefix`` (``001``, ``801``) only that object's.

    15-character ids become 18-character ones; an 18-character id in the wrong letter case is
    restored from its suffix. Blank lines are skipped; so is a header row that names an id
    column (CSV files with several columns give only that column's values).
    """
    result = ParsedIds()
    lines = text.lstrip("\ufeff").replace("\ufeff", "").splitlines()
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        return result
    cells: Iterable[tuple[int, str]]
    first_line = numbered[0][1]
    from_csv = _csv_id_column([line for _, line in numbered])
    if from_csv is not None:
        column_cells, result.id_column, result.ignored_columns = from_csv
        # csv numbering counts non-blank lines; map back to the real line numbers
        real = [number for number, _ in numbered]
        cells = [(real[n - 1], cell) for n, cell in column_cells]
        result.header = first_line.strip()
    else:
        first_tokens = [_clean_token(t) for t in _SEPARATORS.split(first_line) if _clean_token(t)]
        # A header row's words may be separated by single spaces ('Account ID'): test both
        # the line as one cell and its tokens.
        as_cells = [_clean_token(c) for c in re.split(r"[,;\t|]+", first_line) if _clean_token(c)]
        if _looks_like_header(as_cells) or _looks_like_header(first_tokens):
            result.header = first_line.strip()
            numbered = numbered[1:]
        cells = numbered
    seen: set[str] = set()
    label = object_label or (object_name(expected_prefix) if expected_prefix else None)
    for number, cell in cells:
        for raw in _SEPARATORS.split(cell):
            token = _clean_token(raw)
            if not token:
                continue
            _take(result, seen, token, number, expected_prefix, label)
    return result


def _take(
    result: ParsedIds,
    seen: set[str],
    token: str,
    line: int,
    expected_prefix: str | None,
    label: str | None,
) -> None:
    restored = False
    try:
        record_id = parse_id(token)
    except InvalidSalesforceId as error:
        fixed = restore_case(token)
        if fixed is None:
            result.rejected.append(RejectedToken(token, line, "malformed", str(error)))
            return
        record_id, restored = fixed, True
    if expected_prefix is not None and record_id[:3] != expected_prefix:
        owner = object_name(record_id[:3]) or f"key prefix {record_id[:3]}"
        wanted = label or f"key prefix {expected_prefix}"
        result.rejected.append(
            RejectedToken(
                token,
                line,
                "wrong_object",
                f"'{_shorten(token, 40)}' is {_a(owner)} id, not {_a(wanted)} id",
            )
        )
        return
    if record_id in seen:
        result.repeated += 1
        return
    seen.add(record_id)
    result.ids.append(record_id)
    result.case_restored += restored


def decode_bytes(data: bytes) -> str:
    """Text of a file from Excel, Notepad or a Unix tool: UTF-8/16 with or without BOM, else cp1252."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if len(data) >= 4 and data[1:2] == b"\x00" and data[3:4] == b"\x00":
        return data.decode("utf-16-le", errors="replace")  # UTF-16 without a BOM (rare)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class IdsFileError(Exception):
    """A file that cannot be read as ids; the message says what to do."""


def read_ids_file(
    path: Path, expected_prefix: str | None = None, *, object_label: str | None = None
) -> ParsedIds:
    """``parse_ids`` on a CSV or text file (raises IdsFileError in plain words)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IdsFileError(
                f"{path.name} is {size / 1e6:.0f} MB; an ids file can be at most "
                f"{MAX_FILE_BYTES // 1_000_000} MB. Keep only the id column."
            )
        data = path.read_bytes()
    except OSError as error:
        raise IdsFileError(f"Could not read {path}: {error.strerror or error}") from None
    if b"\x00" in data[:4096] and not (
        data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or data[1:2] == b"\x00"
    ):
        raise IdsFileError(
            f"{path.name} is not a text or CSV file. Save it as CSV (Excel: File > Save As > "
            "CSV UTF-8) and import that."
        )
    return parse_ids(decode_bytes(data), expected_prefix, object_label=object_label)
