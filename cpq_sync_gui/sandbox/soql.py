"""SOQL for the simulated org: a tokenizer, a recursive-descent parser and an evaluator.

Covers the subset that admins and this app send (see ``execute``); anything else fails the way
Salesforce fails it, as a ``SoqlError`` carrying Salesforce's error code and wording.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from cpq_sync_gui.sandbox.org import OrgStore, Record
from cpq_sync_gui.sandbox.schema import FieldDef, SObjectDef

__all__ = [
    "And",
    "Comparison",
    "CountItem",
    "FieldRef",
    "Literal",
    "Not",
    "Or",
    "OrderKey",
    "Query",
    "QueryResult",
    "SoqlError",
    "SubqueryItem",
    "execute",
    "parse",
]

MAX_OFFSET = 2000

_CUSTOM_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)
_CUSTOM_OBJECT_HINT = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity "
    "name. Please reference your WSDL or the describe call for the appropriate names."
)
_CUSTOM_RELATIONSHIP_HINT = (
    "If you are attempting to use a custom relationship, be sure to append the '__r' after the "
    "custom relationship name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)


class SoqlError(Exception):
    """A query Salesforce would refuse: ``error_code`` and ``message`` as its REST API words them."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True)
class QueryResult:
    total_size: int
    records: list[dict[str, Any]]


# --------------------------------------------------------------------------------------------
# Syntax tree (what ``parse`` returns). Positions are 0-based offsets into the query text.


@dataclass(frozen=True, slots=True)
class FieldRef:
    path: tuple[str, ...]  # as written: ("Account", "Name")
    pos: int


@dataclass(frozen=True, slots=True)
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, date_literal
    value: Any  # str, int | float, bool, None, date, datetime, (NAME, n | None)
    pos: int
    text: str  # the source text
    like_escapes: frozenset[int] = frozenset()  # indexes in value of \% and \_ (literal wildcards)


@dataclass(frozen=True, slots=True)
class Comparison:
    field: FieldRef
    op: str  # = != < <= > >= LIKE IN NOT IN
    value: Literal | tuple[Literal, ...] | Query
    pos: int  # of the operator


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition
    pos: int


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Comparison | Not | And | Or


@dataclass(frozen=True, slots=True)
class CountItem:
    field: FieldRef | None  # None for COUNT()
    alias: str | None
    pos: int


@dataclass(frozen=True, slots=True)
class SubqueryItem:
    query: Query  # its ``sobject`` is a child relationship name
    pos: int


SelectItem = FieldRef | CountItem | SubqueryItem


@dataclass(frozen=True, slots=True)
class OrderKey:
    field: FieldRef
    descending: bool = False
    nulls_first: bool = True  # Salesforce sorts nulls first unless told otherwise


@dataclass(frozen=True, slots=True)
class Query:
    select: tuple[SelectItem, ...]
    sobject: str
    sobject_pos: int
    where: Condition | None = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int | None = None
    text: str = field(default="", repr=False, compare=False)


# --------------------------------------------------------------------------------------------
# Tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # IDENT STRING NUMBER DATE DATETIME OP PUNCT EOF
    text: str
    pos: int
    value: Any = None
    like_escapes: frozenset[int] = frozenset()


_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")
_DATE_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?)?"
)
_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCTUATION = "(),.:"
_SIMPLE_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",  # Salesforce runs on Java, where \b is backspace (its docs call it "bell")
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}


def _located(text: str, pos: int, message: str) -> str:
    """Salesforce's positioned message: the offending line, a caret, Row:Column, the reason."""
    pos = max(0, min(pos, len(text)))
    line_start = text.rfind("\n", 0, pos) + 1
    line_end = text.find("\n", pos)
    if line_end < 0:
        line_end = len(text)
    row = text.count("\n", 0, pos) + 1
    column = pos - line_start + 1
    line = text[line_start:line_end].rstrip("\r")
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}"


def _malformed(text: str, pos: int, message: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", _located(text, pos, message))


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "'":
            token, i = _read_string(text, i)
            tokens.append(token)
        elif char.isdigit() or (char == "-" and i + 1 < n and text[i + 1].isdigit()):
            token, i = _read_number_or_date(text, i)
            tokens.append(token)
        elif char.isalpha() or char == "_":
            match = _IDENT_RE.match(text, i)
            assert match is not None
            tokens.append(_Token("IDENT", match.group(), i))
            i = match.end()
        elif char in _PUNCTUATION:
            tokens.append(_Token("PUNCT", char, i))
            i += 1
        else:
            operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
            if operator is None:
                raise _malformed(text, i, f"unexpected token: {char}")
            tokens.append(_Token("OP", "!=" if operator == "<>" else operator, i))
            i += len(operator)
    tokens.append(_Token("EOF", "<EOF>", n))
    return tokens


def _read_string(text: str, start: int) -> tuple[_Token, int]:
    """A quoted literal from ``start`` (the opening quote); backslash escapes resolved."""
    chars: list[str] = []
    like_escapes: set[int] = set()
    i, n = start + 1, len(text)
    while True:
        if i >= n:
            raise _malformed(text, start, f"unexpected token: {text[start:]}")
        char = text[i]
        if char == "'":
            i += 1
            break
        if char != "\\":
            chars.append(char)
            i += 1
            continue
        escape = text[i + 1] if i + 1 < n else ""
        if escape.lower() in _SIMPLE_ESCAPES:
            chars.append(_SIMPLE_ESCAPES[escape.lower()])
            i += 2
        elif escape in ("%", "_"):
            like_escapes.add(len(chars))
            chars.append(escape)
            i += 2
        elif escape == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", text[i + 2 : i + 6]):
            chars.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
        else:
            end = text.find("'", i + 2)
            literal = text[start : end + 1] if end >= 0 else text[start:]
            raise _malformed(
                text,
                i,
                f"Invalid string literal {literal}. Illegal character sequence "
                f"'\\{escape}' in string literal.",
            )
    return (
        _Token("STRING", text[start:i], start, "".join(chars), frozenset(like_escapes)),
        i,
    )


def _read_number_or_date(text: str, start: int) -> tuple[_Token, int]:
    match = _DATE_RE.match(text, start)
    if match is not None:
        source = match.group()
        if match.group(4) and not match.group(5):
            raise _malformed(text, start, f"unexpected token: {source}")
        try:
            if match.group(4):
                value = datetime.fromisoformat(source.replace("Z", "+00:00"))
                return _Token("DATETIME", source, start, value), match.end()
            return _Token("DATE", source, start, date.fromisoformat(source)), match.end()
        except ValueError:
            raise _malformed(text, start, f"unexpected token: {source}") from None
    match = _NUMBER_RE.match(text, start)
    assert match is not None
    source = match.group()
    value: int | float = float(source) if "." in source else int(source)
    return _Token("NUMBER", source, start, value), match.end()


# --------------------------------------------------------------------------------------------
# Parser

# Words that cannot start a field path (ORDER can: Order is an sObject and a relationship name).
_RESERVED = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "LIKE",
        "IN",
        "LIMIT",
        "OFFSET",
        "NULL",
        "TRUE",
        "FALSE",
        "INCLUDES",
        "EXCLUDES",
        "ASC",
        "DESC",
        "NULLS",
        "GROUP",
        "HAVING",
        "WITH",
        "USING",
        "TYPEOF",
    }
)
_FIXED_DATE_LITERALS = frozenset(
    {
        "TODAY",
        "YESTERDAY",
        "TOMORROW",
        "THIS_MONTH",
        "LAST_MONTH",
        "NEXT_MONTH",
        "THIS_YEAR",
        "LAST_YEAR",
        "NEXT_YEAR",
        "LAST_90_DAYS",
        "NEXT_90_DAYS",
    }
)
_N_DATE_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS"})


def parse(soql: str) -> Query:
    """The syntax tree of ``soql``; raises ``SoqlError('MALFORMED_QUERY', …)`` on bad syntax."""
    return _Parser(soql).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    # -- token helpers
    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def at_keyword(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "IDENT" and token.text.upper() == word

    def at_punct(self, char: str) -> bool:
        token = self.peek()
        return token.kind == "PUNCT" and token.text == char

    def unexpected(self, token: _Token | None = None) -> SoqlError:
        token = token or self.peek()
        return _malformed(self.text, token.pos, f"unexpected token: {token.text}")

    def expect_keyword(self, word: str) -> _Token:
        if not self.at_keyword(word):
            raise self.unexpected()
        return self.advance()

    def expect_punct(self, char: str) -> _Token:
        if not self.at_punct(char):
            raise self.unexpected()
        return self.advance()

    # -- grammar
    def parse(self) -> Query:
        query = self.query(nested=False)
        if self.peek().kind != "EOF":
            raise self.unexpected()
        return query

    def query(self, nested: bool) -> Query:
        self.expect_keyword("SELECT")
        select = self.select_list(nested)
        self.expect_keyword("FROM")
        source = self.advance()
        if source.kind != "IDENT" or source.text.upper() in _RESERVED:
            raise self.unexpected(source)
        where = None
        if self.at_keyword("WHERE"):
            self.advance()
            where = self.condition()
        order_by: tuple[OrderKey, ...] = ()
        if self.at_keyword("ORDER"):
            self.advance()
            self.expect_keyword("BY")
            order_by = self.order_list()
        limit = offset = None
        if self.at_keyword("LIMIT"):
            self.advance()
            limit = self.integer()
        if self.at_keyword("OFFSET"):
            self.advance()
            offset = self.integer()
        return Query(
            select=tuple(select),
            sobject=source.text,
            sobject_pos=source.pos,
            where=where,
            order_by=order_by,
            limit=limit,
            offset=offset,
            text=self.text,
        )

    def select_list(self, nested: bool) -> list[SelectItem]:
        items: list[SelectItem] = []
        while True:
            token = self.peek()
            if self.at_punct("(") and not nested:
                self.advance()
                items.append(SubqueryItem(self.query(nested=True), token.pos))
                self.expect_punct(")")
            elif self.at_keyword("COUNT") and self.peek(1).text == "(" and not nested:
                self.advance()
                self.advance()
                counted = None if self.at_punct(")") else self.field_path()
                self.expect_punct(")")
                alias = None
                if self.peek().kind == "IDENT" and self.peek().text.upper() not in _RESERVED:
                    alias = self.advance().text
                items.append(CountItem(counted, alias, token.pos))
            else:
                items.append(self.field_path())
            if not self.at_punct(","):
                return items
            self.advance()

    def field_path(self) -> FieldRef:
        token = self.peek()
        if (
            token.kind != "IDENT"
            or token.text.upper() in _RESERVED
            or (token.text.upper() == "ORDER" and self.at_keyword("BY", 1))
        ):
            raise self.unexpected()
        self.advance()
        parts = [token.text]
        while self.at_punct("."):
            self.advance()
            part = self.advance()
            if part.kind != "IDENT":
                raise self.unexpected(part)
            parts.append(part.text)
        return FieldRef(tuple(parts), token.pos)

    def condition(self) -> Condition:
        """Salesforce refuses AND and OR side by side without parentheses: so do we."""
        first = self.unary()
        for joiner, other, node in (("AND", "OR", And), ("OR", "AND", Or)):
            if self.at_keyword(joiner):
                operands = [first]
                while self.at_keyword(joiner):
                    self.advance()
                    operands.append(self.unary())
                if self.at_keyword(other):
                    raise self.unexpected()
                return node(tuple(operands))
        return first

    def unary(self) -> Condition:
        token = self.peek()
        if self.at_keyword("NOT"):
            self.advance()
            return Not(self.unary(), token.pos)
        if self.at_punct("("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        target = self.field_path()
        token = self.peek()
        if token.kind == "OP":
            self.advance()
            return Comparison(target, token.text, self.value(), token.pos)
        if self.at_keyword("LIKE"):
            self.advance()
            return Comparison(target, "LIKE", self.value(), token.pos)
        if self.at_keyword("IN"):
            self.advance()
            return Comparison(target, "IN", self.in_list(), token.pos)
        if self.at_keyword("NOT") and self.at_keyword("IN", 1):
            self.advance()
            self.advance()
            return Comparison(target, "NOT IN", self.in_list(), token.pos)
        raise self.unexpected()

    def in_list(self) -> tuple[Literal, ...] | Query:
        self.expect_punct("(")
        if self.at_keyword("SELECT"):
            inner = self.query(nested=True)
            self.expect_punct(")")
            return inner
        values = [self.value()]
        while self.at_punct(","):
            self.advance()
            values.append(self.value())
        self.expect_punct(")")
        return tuple(values)

    def value(self) -> Literal:
        token = self.advance()
        if token.kind == "STRING":
            return Literal("string", token.value, token.pos, token.text, token.like_escapes)
        if token.kind == "NUMBER":
            return Literal("number", token.value, token.pos, token.text)
        if token.kind == "DATE":
            return Literal("date", token.value, token.pos, token.text)
        if token.kind == "DATETIME":
            return Literal("datetime", token.value, token.pos, token.text)
        if token.kind == "IDENT":
            word = token.text.upper()
            if word in ("TRUE", "FALSE"):
                return Literal("boolean", word == "TRUE", token.pos, token.text)
            if word == "NULL":
                return Literal("null", None, token.pos, token.text)
            if word in _FIXED_DATE_LITERALS:
                return Literal("date_literal", (word, None), token.pos, token.text)
            if word in _N_DATE_LITERALS:
                self.expect_punct(":")
                amount = self.integer()
                source = self.text[token.pos : self.peek(-1).pos + len(self.peek(-1).text)]
                return Literal("date_literal", (word, amount), token.pos, source)
        raise self.unexpected(token)

    def integer(self) -> int:
        token = self.advance()
        if token.kind != "NUMBER" or not isinstance(token.value, int) or token.value < 0:
            raise self.unexpected(token)
        return token.value

    def order_list(self) -> tuple[OrderKey, ...]:
        keys: list[OrderKey] = []
        while True:
            target = self.field_path()
            descending = False
            if self.at_keyword("ASC") or self.at_keyword("DESC"):
                descending = self.advance().text.upper() == "DESC"
            nulls_first = True
            if self.at_keyword("NULLS"):
                self.advance()
                if self.at_keyword("FIRST") or self.at_keyword("LAST"):
                    nulls_first = self.advance().text.upper() == "FIRST"
                else:
                    raise self.unexpected()
            keys.append(OrderKey(target, descending, nulls_first))
            if not self.at_punct(","):
                return tuple(keys)
            self.advance()


# --------------------------------------------------------------------------------------------
# Values: how each field type compares

_STRING_TYPES = frozenset(
    [
        "string",
        "textarea",
        "picklist",
        "multipicklist",
        "combobox",
        "phone",
        "email",
        "url",
        "encryptedstring",
    ]
)
_NUMBER_TYPES = frozenset({"double", "currency", "int", "percent", "long"})
_ID_TYPES = frozenset({"id", "reference"})
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _category(definition: FieldDef) -> str:
    kind = definition.type.lower()
    if kind in _ID_TYPES:
        return "id"
    if kind in _NUMBER_TYPES:
        return "number"
    if kind in ("boolean", "date", "datetime"):
        return kind
    return "string"


def _stored_id_key(value: Any) -> str | None:
    """Ids in the store are canonical: their first 15 characters identify the record."""
    return value[:15] if isinstance(value, str) and value else None


def _literal_id_keys(value: str) -> frozenset[str]:
    """The 15-character keys a 15- or 18-character id literal may mean.

    An 18-character id is case-safe: its last three characters record which of the first 15
    are upper case, so a lower-cased 18-character id still names one record.
    """
    if len(value) == 15:
        return frozenset({value})
    keys = {value[:15]}
    chars = list(value[:15])
    for chunk, flag in enumerate(value[15:].upper()):
        bits = _CHECKSUM_ALPHABET.find(flag)
        if bits < 0:
            return frozenset(keys)
        for bit in range(5):
            index = chunk * 5 + bit
            chars[index] = chars[index].upper() if bits >> bit & 1 else chars[index].lower()
    keys.add("".join(chars))
    return frozenset(keys)


@lru_cache(maxsize=65536)
def _parse_stored_datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _normalizer(category: str) -> Callable[[Any], Any]:
    """Maps a stored value to what comparisons and sorting use; None means null."""
    if category == "string":
        # Salesforce compares and sorts text case-insensitively (by upper-cased value) and
        # stores an empty text field as null.
        return lambda v: v.upper() if isinstance(v, str) and v else None
    if category == "id":
        return _stored_id_key
    if category == "number":

        def number(value: Any) -> float | None:
            if value is None or value == "" or isinstance(value, bool):
                return None
            try:
                return float(value)
            except (TypeError, ValueError):
                return None

        return number
    if category == "boolean":
        return lambda v: v in (True, "true", "True", 1)  # a checkbox is never null
    if category == "date":
        return lambda v: v[:10] if isinstance(v, str) and v else None
    return lambda v: _parse_stored_datetime(v) if isinstance(v, str) and v else None


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _date_range(name: str, amount: int | None, today: date) -> tuple[date, date]:
    """The inclusive day range a date literal spans (days in UTC)."""
    day = timedelta(days=1)
    if name == "TODAY":
        return today, today
    if name == "YESTERDAY":
        return today - day, today - day
    if name == "TOMORROW":
        return today + day, today + day
    if name == "THIS_MONTH":
        return _month_range(today.year, today.month)
    if name == "LAST_MONTH":
        previous = today.replace(day=1) - day
        return _month_range(previous.year, previous.month)
    if name == "NEXT_MONTH":
        following = today.replace(day=28) + 4 * day
        return _month_range(following.year, following.month)
    if name in ("THIS_YEAR", "LAST_YEAR", "NEXT_YEAR"):
        year = today.year + {"THIS_YEAR": 0, "LAST_YEAR": -1, "NEXT_YEAR": 1}[name]
        return date(year, 1, 1), date(year, 12, 31)
    # Observed on real orgs (and unlike the docs' wording): both include today.
    if name in ("LAST_N_DAYS", "LAST_90_DAYS"):
        return today - (amount if amount is not None else 90) * day, today
    return today, today + (amount if amount is not None else 90) * day


# --------------------------------------------------------------------------------------------
# Evaluation

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class _Path:
    references: tuple[FieldDef, ...]  # relationship hops, e.g. (Account.OwnerId,)
    sobjects: tuple[str, ...]  # target sObject of each hop
    target: FieldDef
    get: Getter


class _Context:
    """One query execution: the store, the options, and per-query look-up caches."""

    # After this many single-record look-ups in one sObject, one full read is cheaper.
    GET_BUDGET = 256

    def __init__(
        self, org: OrgStore, text: str, api_version: str, include_deleted: bool, today: date
    ) -> None:
        self.org = org
        self.text = text
        self.version = api_version.lstrip("vV")
        self.include_deleted = include_deleted
        self.today = today
        self._indexes: dict[str, dict[str, Record]] = {}
        self._parents: dict[str, dict[str, Record | None]] = {}
        self._gets: dict[str, int] = {}

    def error(self, code: str, pos: int, message: str) -> SoqlError:
        return SoqlError(code, _located(self.text, pos, message))

    def visible(self, record: Record) -> bool:
        return self.include_deleted or not record.get("IsDeleted")

    def url(self, sobject: str, record_id: Any) -> str:
        return f"/services/data/v{self.version}/sobjects/{sobject}/{record_id}"

    def index(self, sobject: str) -> dict[str, Record]:
        """Every record of ``sobject`` by 15-character id key (one read per query)."""
        found = self._indexes.get(sobject)
        if found is None:
            found = {}
            for record in self.org.all(sobject):
                key = _stored_id_key(record.get("Id"))
                if key is not None:
                    found[key] = record
            self._indexes[sobject] = found
        return found

    def parent(self, sobject: str, reference: Any) -> Record | None:
        if not isinstance(reference, str) or not reference:
            return None
        cache = self._parents.setdefault(sobject, {})
        if reference in cache:
            return cache[reference]
        if sobject in self._indexes or len(reference) != 18:
            record = self.index(sobject).get(reference[:15])
        else:
            used = self._gets.get(sobject, 0) + 1
            self._gets[sobject] = used
            if used > self.GET_BUDGET:
                record = self.index(sobject).get(reference[:15])
            else:
                record = self.org.get(sobject, reference)
        cache[reference] = record
        return record

    def by_ids(self, sobject: str, literals: Iterable[str]) -> list[Record]:
        """Records whose id is among ``literals``, read by id rather than by table scan."""
        found: dict[str, Record] = {}
        misses: list[str] = []
        for literal in dict.fromkeys(literals):
            if len(literal) == 15:
                misses.append(literal)  # OrgStore.get would scan the table for each one
            elif len(literal) == 18:
                record = self.org.get(sobject, literal)
                if record is not None:
                    found[record["Id"]] = record
                elif _literal_id_keys(literal) != {literal[:15]}:
                    misses.append(literal)  # a case-safe id typed in another case
        if misses:
            index = self.index(sobject)
            for literal in misses:
                for key in _literal_id_keys(literal):
                    record = index.get(key)
                    if record is not None:
                        found[record["Id"]] = record
        return [found[record_id] for record_id in sorted(found)]


class _Compiler:
    """Resolves a parsed query against the schema and turns it into closures over a context."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    # -- names
    def sobject(self, name: str, pos: int) -> SObjectDef:
        definition = self.ctx.org.sobject(name)
        if definition is None:
            raise self.ctx.error(
                "INVALID_TYPE",
                pos,
                f"sObject type '{name}' is not supported. {_CUSTOM_OBJECT_HINT}",
            )
        if not definition.queryable:
            raise self.ctx.error(
                "INVALID_TYPE", pos, f"entity type {definition.name} does not support query"
            )
        return definition

    def path(self, definition: SObjectDef, ref: FieldRef) -> _Path:
        parts = list(ref.path)
        if (
            len(parts) > 1
            and parts[0].lower() == definition.name.lower()
            and definition.relationship_named(parts[0]) is None
        ):
            parts = parts[1:]  # "SELECT Account.Name FROM Account" names the object itself
        current = definition
        references: list[FieldDef] = []
        sobjects: list[str] = []
        for part in parts[:-1]:
            reference = current.relationship_named(part)
            target = (
                self.ctx.org.sobject(reference.reference_to)
                if reference is not None and reference.reference_to
                else None
            )
            if reference is None or target is None:
                raise self.ctx.error(
                    "INVALID_FIELD",
                    ref.pos,
                    f"Didn't understand relationship '{part}' in field path. "
                    f"{_CUSTOM_RELATIONSHIP_HINT}",
                )
            references.append(reference)
            sobjects.append(target.name)
            current = target
        final = current.field_named(parts[-1])
        if final is None:
            raise self.ctx.error(
                "INVALID_FIELD",
                ref.pos,
                f"No such column '{parts[-1]}' on entity '{current.name}'. {_CUSTOM_FIELD_HINT}",
            )
        return _Path(
            tuple(references), tuple(sobjects), final, self._getter(references, sobjects, final)
        )

    def _getter(self, references: list[FieldDef], sobjects: list[str], final: FieldDef) -> Getter:
        name = final.name
        if not references:
            return lambda record: record.get(name)
        hops = list(zip((r.name for r in references), sobjects, strict=True))
        parent = self.ctx.parent

        def get(record: Record) -> Any:
            current: Record | None = record
            for reference, sobject in hops:
                current = parent(sobject, current.get(reference))
                if current is None:
                    return None
            return current.get(name)

        return get

    # -- WHERE
    def condition(self, definition: SObjectDef, node: Condition) -> Predicate:
        if isinstance(node, And):
            parts = [self.condition(definition, operand) for operand in node.operands]
            return lambda record: all(part(record) for part in parts)
        if isinstance(node, Or):
            parts = [self.condition(definition, operand) for operand in node.operands]
            return lambda record: any(part(record) for part in parts)
        if isinstance(node, Not):
            inner = self.condition(definition, node.operand)
            return lambda record: not inner(record)
        return self.comparison(definition, node)

    def comparison(self, definition: SObjectDef, node: Comparison) -> Predicate:
        path = self.path(definition, node.field)
        category = _category(path.target)
        normalize = _normalizer(category)
        get = path.get
        if isinstance(node.value, Query):
            keys = self.semi_join(node.value)

            def matches(record: Record) -> bool:
                return _stored_id_key(get(record)) in keys

        elif isinstance(node.value, tuple):
            literals = node.value
            if any(literal.kind == "date_literal" for literal in literals):
                tests = [self.equality(path, category, literal) for literal in literals]

                def matches(record: Record) -> bool:
                    return any(test(record) for test in tests)

            else:
                # One set look-up instead of one test per value.
                wanted: set[Any] = set()
                for literal in literals:
                    wanted |= self.operands(path, category, literal)
                null_wanted = None in wanted

                def matches(record: Record) -> bool:
                    value = normalize(get(record))
                    return null_wanted if value is None else value in wanted

        if isinstance(node.value, Query | tuple):
            return matches if node.op == "IN" else lambda record: not matches(record)
        literal = node.value
        if node.op == "LIKE":
            return self.like(path, category, literal)
        if node.op == "=":
            return self.equality(path, category, literal)
        if node.op == "!=":
            equal = self.equality(path, category, literal)
            return lambda record: not equal(record)
        return self.ordering(path, category, node.op, literal)

    def check_literal(
        self, path: _Path, category: str, literal: Literal, like: bool = False
    ) -> None:
        """Refuse a value of the wrong type, as Salesforce does."""
        name = path.target.name
        if literal.kind == "null":
            return
        allowed = {
            "string": ("string",),
            "id": ("string",),
            "number": ("number",),
            "boolean": ("boolean",),
            "date": ("date", "date_literal"),
            "datetime": ("datetime", "date_literal"),
        }[category]
        if literal.kind not in allowed:
            type_name = {
                "string": "string",
                "id": "id",
                "number": "int" if path.target.type == "int" else "double",
                "boolean": "boolean",
                "date": "date",
                "datetime": "dateTime",
            }[category]
            quoting = (
                "should be enclosed in quotes"
                if category in ("string", "id")
                else "should not be enclosed in quotes"
            )
            raise self.ctx.error(
                "INVALID_QUERY_FILTER_OPERATOR",
                literal.pos,
                f"value of filter criterion for field '{name}' must be of type {type_name} "
                f"and {quoting}",
            )
        if (
            category == "id"
            and literal.value
            and (len(literal.value) not in (15, 18) or not literal.value.isalnum())
        ):
            raise self.ctx.error(
                "INVALID_QUERY_FILTER_OPERATOR", literal.pos, f"invalid ID field: {literal.value}"
            )
        if literal.like_escapes and not like:
            char = literal.value[min(literal.like_escapes)]
            raise self.ctx.error(
                "MALFORMED_QUERY",
                literal.pos,
                f"Invalid string literal {literal.text}. Illegal character sequence '\\{char}' "
                "in string literal.",
            )

    def operands(self, path: _Path, category: str, literal: Literal) -> set[Any]:
        """The normalized values a literal equals; {None} for null (and for '')."""
        self.check_literal(path, category, literal)
        value = literal.value
        if literal.kind == "null" or value == "":
            return {None}
        if category == "id":
            return set(_literal_id_keys(value))
        if category == "string":
            return {value.upper()}
        if category == "number":
            return {float(value)}
        if category == "date":
            return {value.isoformat()}
        return {value}

    def equality(self, path: _Path, category: str, literal: Literal) -> Predicate:
        get, normalize = path.get, _normalizer(category)
        if literal.kind == "date_literal":
            self.check_literal(path, category, literal)
            start, end = self.day_bounds(category, literal)
            return lambda record: (v := normalize(get(record))) is not None and start <= v < end
        wanted = self.operands(path, category, literal)
        if wanted == {None}:
            return lambda record: normalize(get(record)) is None
        if len(wanted) == 1:
            (single,) = wanted
            return lambda record: normalize(get(record)) == single
        return lambda record: normalize(get(record)) in wanted

    def ordering(self, path: _Path, category: str, op: str, literal: Literal) -> Predicate:
        get, normalize = path.get, _normalizer(category)
        self.check_literal(path, category, literal)
        if literal.kind == "null":
            return lambda record: False
        if literal.kind == "date_literal":
            start, end = self.day_bounds(category, literal)
            # The literal is a span: "<" means before it starts, ">" after it ends.
            bound, compare = {
                "<": (start, lambda v, b: v < b),
                "<=": (end, lambda v, b: v < b),
                ">": (end, lambda v, b: v >= b),
                ">=": (start, lambda v, b: v >= b),
            }[op]
        else:
            bound = literal.value
            if category == "id":
                bound = literal.value[:15]
            elif category == "string":
                bound = literal.value.upper()
            elif category == "number":
                bound = float(literal.value)
            elif category == "date":
                bound = literal.value.isoformat()
            compare = {
                "<": lambda v, b: v < b,
                "<=": lambda v, b: v <= b,
                ">": lambda v, b: v > b,
                ">=": lambda v, b: v >= b,
            }[op]
        return lambda record: (v := normalize(get(record))) is not None and compare(v, bound)

    def day_bounds(self, category: str, literal: Literal) -> tuple[Any, Any]:
        """A date literal as a half-open [start, end) in the field's normalized form."""
        name, amount = literal.value
        first, last = _date_range(name, amount, self.ctx.today)
        after = last + timedelta(days=1)
        if category == "date":
            return first.isoformat(), after.isoformat()
        return (
            datetime(first.year, first.month, first.day, tzinfo=UTC),
            datetime(after.year, after.month, after.day, tzinfo=UTC),
        )

    def like(self, path: _Path, category: str, literal: Literal) -> Predicate:
        get = path.get
        self.check_literal(path, category, literal, like=True)  # refuses non-text fields
        if literal.kind != "string":
            return lambda record: get(record) in (None, "")
        pattern: list[str] = []
        for index, char in enumerate(literal.value):
            if index in literal.like_escapes:
                pattern.append(re.escape(char))
            elif char == "%":
                pattern.append(".*")
            elif char == "_":
                pattern.append(".")
            else:
                pattern.append(re.escape(char.upper()))
        regex = re.compile("".join(pattern), re.DOTALL)
        return lambda record: isinstance(v := get(record), str) and bool(regex.fullmatch(v.upper()))

    def semi_join(self, inner: Query) -> frozenset[str]:
        definition = self.sobject(inner.sobject, inner.sobject_pos)
        if len(inner.select) != 1 or not isinstance(inner.select[0], FieldRef):
            raise self.ctx.error(
                "MALFORMED_QUERY",
                inner.sobject_pos,
                "The selected field in a semi join subquery must be an Id or reference field",
            )
        path = self.path(definition, inner.select[0])
        predicate = self.condition(definition, inner.where) if inner.where is not None else None
        visible = self.ctx.visible
        rows = self.ctx.org.where(
            definition.name, lambda r: visible(r) and (predicate is None or predicate(r))
        )
        return frozenset(
            key for key in (_stored_id_key(path.get(row)) for row in rows) if key is not None
        )

    # -- ORDER BY
    def sorter(
        self, definition: SObjectDef, keys: tuple[OrderKey, ...]
    ) -> Callable[[list[Record]], None]:
        steps = []
        for key in keys:
            path = self.path(definition, key.field)
            steps.append((path.get, _normalizer(_category(path.target)), key))

        def sort(rows: list[Record]) -> None:
            # Stable sorts from the last key to the first give a multi-key sort.
            for get, normalize, key in reversed(steps):
                null_rank = 0 if key.nulls_first != key.descending else 1
                value_rank = 1 - null_rank

                def sort_key(
                    record: Record,
                    get: Getter = get,
                    normalize: Callable[[Any], Any] = normalize,
                    null_rank: int = null_rank,
                    value_rank: int = value_rank,
                ) -> tuple[int, Any]:
                    value = normalize(get(record))
                    return (null_rank, 0) if value is None else (value_rank, value)

                rows.sort(key=sort_key, reverse=key.descending)

        return sort


# --------------------------------------------------------------------------------------------
# Result shape


@dataclass
class _Node:
    """The JSON shape of one record: fields, nested parents and child subqueries, in order."""

    entries: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # "kind:name" -> entry


@dataclass
class _Plan:
    definition: SObjectDef
    shape: _Node
    predicate: Predicate | None
    sort: Callable[[list[Record]], None] | None
    limit: int | None
    offset: int | None
    id_literals: tuple[str, ...] | None = None  # a selective "Id = / Id IN" filter
    count_only: bool = False
    aggregates: tuple[tuple[str, Getter | None], ...] = ()
    # child subquery only:
    relationship: str = ""
    parent_field: str = ""


def _select_plan(compiler: _Compiler, query: Query, definition: SObjectDef, child: bool) -> _Plan:
    ctx = compiler.ctx
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SoqlError(
            "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
        )
    shape = _Node()
    seen: set[tuple[str, ...]] = set()
    counts = [item for item in query.select if isinstance(item, CountItem)]
    plain = [item for item in query.select if not isinstance(item, CountItem)]
    count_only = False
    aggregates: list[tuple[str, Getter | None]] = []
    if counts:
        bare = [item for item in counts if item.field is None]
        if bare and len(query.select) > 1:
            raise ctx.error(
                "MALFORMED_QUERY",
                bare[0].pos,
                "COUNT() must be the only element in the SELECT list.",
            )
        if plain:
            first = plain[0]
            name = (
                compiler.path(definition, first).target.name
                if isinstance(first, FieldRef)
                else first.query.sobject
            )
            raise ctx.error(
                "MALFORMED_QUERY", first.pos, f"Field must be grouped or aggregated: {name}"
            )
        count_only = bool(bare)
        for index, item in enumerate(counts):
            if item.field is not None:
                getter = compiler.path(definition, item.field).get
                aggregates.append((item.alias or f"expr{index}", getter))
    for item in plain:
        if isinstance(item, SubqueryItem):
            subplan = _child_plan(compiler, item.query, definition)
            key = f"child:{subplan.relationship.lower()}"
            if key in shape.entries:
                raise ctx.error(
                    "MALFORMED_QUERY", item.pos, f"duplicate field selected: {subplan.relationship}"
                )
            shape.entries[key] = ("child", subplan.relationship, subplan)
            continue
        path = compiler.path(definition, item)
        canonical = (
            *(r.relationship_name or r.name for r in path.references),
            path.target.name,
        )
        if tuple(part.lower() for part in canonical) in seen:
            raise ctx.error(
                "MALFORMED_QUERY", item.pos, f"duplicate field selected: {'.'.join(canonical)}"
            )
        seen.add(tuple(part.lower() for part in canonical))
        node = shape
        for reference, sobject in zip(path.references, path.sobjects, strict=True):
            name = reference.relationship_name or reference.name
            entry = node.entries.get(f"parent:{name.lower()}")
            if entry is None:
                entry = ("parent", name, reference.name, sobject, _Node())
                node.entries[f"parent:{name.lower()}"] = entry
            node = entry[4]
        node.entries[f"field:{path.target.name.lower()}"] = ("field", path.target.name)
    predicate = compiler.condition(definition, query.where) if query.where is not None else None
    sort = compiler.sorter(definition, query.order_by) if query.order_by else None
    return _Plan(
        definition=definition,
        shape=shape,
        predicate=predicate,
        sort=sort,
        limit=query.limit,
        offset=query.offset,
        id_literals=None if child else _selective_ids(query.where, definition),
        count_only=count_only,
        aggregates=tuple(aggregates),
    )


def _child_plan(compiler: _Compiler, query: Query, parent: SObjectDef) -> _Plan:
    relationship = parent.child_relationship_named(query.sobject)
    definition = compiler.ctx.org.sobject(relationship.child_sobject) if relationship else None
    if relationship is None or definition is None:
        raise compiler.ctx.error(
            "INVALID_TYPE",
            query.sobject_pos,
            f"Didn't understand relationship '{query.sobject}' in FROM part of query call. "
            f"{_CUSTOM_RELATIONSHIP_HINT}",
        )
    plan = _select_plan(compiler, query, definition, child=True)
    plan.relationship = relationship.name
    plan.parent_field = relationship.field
    return plan


def _selective_ids(where: Condition | None, definition: SObjectDef) -> tuple[str, ...] | None:
    """Id literals that bound the result (``Id = x`` / ``Id IN (…)``, alone or ANDed)."""
    candidates = where.operands if isinstance(where, And) else (where,)
    for node in candidates:
        if (
            isinstance(node, Comparison)
            and node.op in ("=", "IN")
            and len(node.field.path) == 1
            and node.field.path[0].lower() == "id"
            and definition.field_named("Id") is not None
        ):
            literals = node.value if isinstance(node.value, tuple) else (node.value,)
            if all(
                isinstance(literal, Literal) and literal.kind == "string" for literal in literals
            ):
                return tuple(literal.value for literal in literals)
    return None


def _window(rows: list[Record], offset: int | None, limit: int | None) -> list[Record]:
    start = offset or 0
    return rows[start : None if limit is None else start + limit]


def _render(
    ctx: _Context,
    plan_children: dict[int, dict[str, list[dict[str, Any]]]],
    node: _Node,
    record: Record,
    sobject: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": sobject, "url": ctx.url(sobject, record.get("Id"))}
    }
    for entry in node.entries.values():
        kind = entry[0]
        if kind == "field":
            out[entry[1]] = record.get(entry[1])
        elif kind == "parent":
            _, name, reference, target, subnode = entry
            parent = ctx.parent(target, record.get(reference))
            out[name] = (
                None if parent is None else _render(ctx, plan_children, subnode, parent, target)
            )
        else:
            _, name, subplan = entry
            children = plan_children[id(subplan)].get(_stored_id_key(record.get("Id")) or "")
            out[name] = (
                {"totalSize": len(children), "done": True, "records": children}
                if children
                else None
            )
    return out


def _child_records(
    ctx: _Context, plan: _Plan, parents: list[Record]
) -> dict[str, list[dict[str, Any]]]:
    """Rendered child records per parent id key, for every child subquery row set."""
    keys = {key for key in (_stored_id_key(p.get("Id")) for p in parents) if key is not None}
    if not keys:
        return {}
    field_name, visible, predicate = plan.parent_field, ctx.visible, plan.predicate
    rows = ctx.org.where(
        plan.definition.name,
        lambda r: (
            _stored_id_key(r.get(field_name)) in keys
            and visible(r)
            and (predicate is None or predicate(r))
        ),
    )
    if plan.sort is not None:
        plan.sort(rows)
    grouped: dict[str, list[Record]] = {}
    for row in rows:
        grouped.setdefault(_stored_id_key(row.get(field_name)) or "", []).append(row)
    return {
        key: [
            _render(ctx, {}, plan.shape, row, plan.definition.name)
            for row in _window(group, plan.offset, plan.limit)
        ]
        for key, group in grouped.items()
    }


def execute(
    soql: str,
    org: OrgStore,
    api_version: str = "62.0",
    include_deleted: bool = False,
    *,
    today: date | None = None,
) -> QueryResult:
    """Run ``soql`` against ``org`` and answer in the REST query shape.

    ``include_deleted`` is queryAll (records flagged ``IsDeleted``); ``today`` pins the date
    literals (TODAY, LAST_N_DAYS:n, …), which otherwise use the current UTC date.
    """
    query = parse(soql)
    ctx = _Context(org, soql, api_version, include_deleted, today or datetime.now(UTC).date())
    compiler = _Compiler(ctx)
    definition = compiler.sobject(query.sobject, query.sobject_pos)
    plan = _select_plan(compiler, query, definition, child=False)

    if plan.id_literals is not None:
        candidates = ctx.by_ids(definition.name, plan.id_literals)
    else:
        candidates = org.all(definition.name)
    predicate = plan.predicate
    rows = [r for r in candidates if ctx.visible(r) and (predicate is None or predicate(r))]

    if plan.count_only:
        return QueryResult(len(_window(rows, plan.offset, plan.limit)), [])
    if plan.aggregates:
        aggregate: dict[str, Any] = {"attributes": {"type": "AggregateResult"}}
        for name, getter in plan.aggregates:
            aggregate[name] = sum(1 for r in rows if getter is None or getter(r) not in (None, ""))
        records = _window([aggregate], plan.offset, plan.limit)
        return QueryResult(len(records), records)

    if plan.sort is not None:
        plan.sort(rows)
    rows = _window(rows, plan.offset, plan.limit)
    children = {
        id(entry[2]): _child_records(ctx, entry[2], rows)
        for entry in plan.shape.entries.values()
        if entry[0] == "child"
    }
    records = [_render(ctx, children, plan.shape, row, definition.name) for row in rows]
    return QueryResult(len(records), records)
