"""Salesforce record ids: 15/18-character forms, case-safe checksums, parsing with plain messages."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "KEY_PREFIXES",
    "IdFactory",
    "InvalidSalesforceId",
    "checksum_suffix",
    "is_valid_id",
    "key_prefix",
    "object_name",
    "parse_id",
    "to_18",
]

# The characters a Salesforce id is made of, in base-62 digit order (Salesforce's own order).
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# The 32 characters a checksum character is chosen from, indexed by a 5-bit number.
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
# Maps every id character to "1" (upper-case letter) or "0" (anything else).
_UPPER_BITS = str.maketrans({c: ("1" if "A" <= c <= "Z" else "0") for c in _BASE62})
# A chunk's five "0"/"1" flags, left to right → its checksum character. Bit i of the 5-bit
# number is the chunk's i-th character, so the flags read as the number written backwards.
_CHUNK_SUFFIX = {format(n, "05b")[::-1]: _SUFFIX_ALPHABET[n] for n in range(32)}

KEY_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "001": "Account",
        "003": "Contact",
        "005": "User",
        "00D": "Organization",
        "00b": "WebLink",
        "01s": "Pricebook2",
        "01t": "Product2",
        "01u": "PricebookEntry",
        "02B": "CurrencyType",
        "800": "Contract",
        "801": "Order",
        "802": "OrderItem",
    }
)
"""Key prefix (first 3 characters of an id) → sObject name, for the objects this tool meets."""

_MAX_SHOWN = 40  # longest piece of user text quoted back in a message


class InvalidSalesforceId(ValueError):
    """A text that is not a usable Salesforce id; the message is fit to show to a user."""


def _is_id_text(text: str, length: int) -> bool:
    # ASCII letters and digits only (isalnum alone would take other scripts' letters too).
    # Listing 50,000 rows checks ids ~5 times each, so this stays on str's C methods.
    return len(text) == length and text.isascii() and text.isalnum()


def _suffix(id15: str) -> str:
    bits = id15.translate(_UPPER_BITS)
    return _CHUNK_SUFFIX[bits[:5]] + _CHUNK_SUFFIX[bits[5:10]] + _CHUNK_SUFFIX[bits[10:15]]


def checksum_suffix(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character id.

    The id is split into three chunks of five characters. For each chunk, a 5-bit number gets
    bit ``i`` set when the chunk's ``i``-th character (from the left) is an upper-case A-Z; the
    number indexes ``ABCDEFGHIJKLMNOPQRSTUVWXYZ012345``.
    """
    if not isinstance(id15, str) or not _is_id_text(id15, 15):
        raise InvalidSalesforceId(f"{_quote(id15)} is not a 15-character Salesforce id")
    return _suffix(id15)


def to_18(record_id: str) -> str:
    """The 18-character case-safe form of a 15- or 18-character id.

    An 18-character id is returned unchanged when its suffix matches its first 15 characters;
    otherwise (mistyped, or its letter case was changed) it raises :class:`InvalidSalesforceId`.
    """
    if isinstance(record_id, str):
        if _is_id_text(record_id, 15):
            return record_id + _suffix(record_id)
        if _is_id_text(record_id, 18):
            expected = _suffix(record_id[:15])
            if record_id[15:] == expected:
                return record_id
            raise InvalidSalesforceId(
                f"{_quote(record_id)} is not a valid Salesforce id: for its first 15 characters "
                f"the last 3 should be {expected}, not {record_id[15:]} "
                "(was it mistyped, or was its letter case changed?)"
            )
    raise InvalidSalesforceId(
        f"{_quote(record_id)} is not a Salesforce id: ids are 15 or 18 letters and digits"
    )


def is_valid_id(text: object) -> bool:
    """True for a 15-character id, or an 18-character id whose suffix matches."""
    if not isinstance(text, str):
        return False
    if _is_id_text(text, 15):
        return True
    return _is_id_text(text, 18) and text[15:] == _suffix(text[:15])


def key_prefix(record_id: str) -> str:
    """The key prefix (first 3 characters, naming the sObject type) of a valid id."""
    return to_18(record_id)[:3]


def object_name(prefix: str) -> str | None:
    """The sObject a key prefix belongs to, for the prefixes in :data:`KEY_PREFIXES`."""
    return KEY_PREFIXES.get(prefix)


def parse_id(text: str | None, expected_prefix: str | None = None) -> str:
    """Validate user-entered id text and return its 18-character form.

    Surrounding white space is ignored. With ``expected_prefix`` the id must also belong to
    that sObject type. Every failure raises :class:`InvalidSalesforceId` with a plain message.
    """
    if expected_prefix is not None and not _is_id_text(expected_prefix, 3):
        raise ValueError(f"expected_prefix must be 3 letters or digits, not {expected_prefix!r}")
    if text is None or (isinstance(text, str) and not text.strip()):
        raise InvalidSalesforceId("No id given: a Salesforce id is 15 or 18 letters and digits")
    if not isinstance(text, str):
        raise InvalidSalesforceId(
            f"{_quote(text)} is not a Salesforce id: ids are 15 or 18 letters and digits"
        )
    id18 = to_18(text.strip())
    if expected_prefix is not None and id18[:3] != expected_prefix:
        raise InvalidSalesforceId(
            f"{_quote(text.strip())} is {_describe(id18[:3])}, not {_describe(expected_prefix)}"
        )
    return id18


def _describe(prefix: str) -> str:
    name = KEY_PREFIXES.get(prefix)
    if name is None:
        return f"an id with key prefix {prefix}"
    article = "an" if name[0] in "AEIOU" else "a"
    return f"{article} {name} id ({prefix})"


def _quote(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return f"'{text}'"


class IdFactory:
    """Deterministic, unique, valid 18-character ids, one sequence per key prefix.

    An id is prefix (3) + pod (2) + a 10-digit base-62 counter + checksum (3). Each prefix's
    counter starts at a point derived from ``seed`` and the prefix, high enough that the low
    digits mix upper- and lower-case letters: consecutive ids such as ``…0Ab3xQA`` and
    ``…0Ab3xQa`` differ only by case in their 15-character form, as real ids do.
    Safe to call from several threads.
    """

    _DIGITS = 10

    def __init__(self, seed: int, pod: str = "5g") -> None:
        if not _is_id_text(pod, 2):
            raise ValueError(f"pod must be 2 letters or digits, not {pod!r}")
        self.seed = seed
        self.pod = pod
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def _start(self, prefix: str) -> int:
        digest = hashlib.sha256(f"{self.seed}:{self.pod}:{prefix}".encode()).digest()
        # 62**6 <= start < 62**7 + 62**6: seven significant digits, three leading zeros,
        # leaving room for more than 10**12 ids before the 10 digits run out.
        return 62**6 + int.from_bytes(digest[:8], "big") % 62**7

    def __call__(self, prefix: str) -> str:
        if not _is_id_text(prefix, 3):
            raise ValueError(f"key prefix must be 3 letters or digits, not {prefix!r}")
        with self._lock:
            number = self._next.get(prefix)
            if number is None:
                number = self._start(prefix)
            self._next[prefix] = number + 1
        digits = []
        for _ in range(self._DIGITS):
            number, digit = divmod(number, 62)
            digits.append(_BASE62[digit])
        id15 = prefix + self.pod + "".join(reversed(digits))
        return id15 + _suffix(id15)
