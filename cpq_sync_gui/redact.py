"""Blanks out passwords, tokens and session ids before text reaches a log, a message or a file."""

from __future__ import annotations

import html
import json
import logging
import re
import threading
from urllib.parse import quote, quote_plus

REDACTED = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not registered: blanking every "abc" in a log would blank everything."""

# Names whose values are secrets wherever they appear: key=value, "key": "value", <key>…</key>.
SECRET_KEYS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "code_verifier",
    "password",
    "security_token",
    "sessionId",
    "session_id",
    "sid",
)
_KEYS = "|".join(re.escape(key) for key in SECRET_KEYS)

# "Authorization: Bearer abc", "'Authorization': 'OAuth 00D…'", "Proxy-Authorization: Basic …"
_AUTH_HEADER = re.compile(
    r"""(?ix)
    (\b(?:proxy-)?authorization['"]?\s*[:=]\s*['"]?)   # header name and separator
    (?:(bearer|oauth|basic|token)\s+)?                # scheme, kept
    ([^\s'",;}]+)                                     # the credential
    """
)
# A bare "Bearer xyz" / "OAuth xyz" without a header name (e.g. in an exception text). Tokens
# are long and hold digits; ordinary words after "OAuth" ("OAuth settings") are left alone.
_BARE_SCHEME = re.compile(
    r"(?i)\b(bearer|oauth)\s+(?=[A-Za-z._~+/=!-]*\d)([A-Za-z0-9._~+/=!-]{16,})"
)
# key=value in query strings, form bodies and cookies.
_QUERY_VALUE = re.compile(rf"(?i)(?<![A-Za-z0-9_])({_KEYS})=([^&\s#\"'<>;,]*)")
# "key": "value" (JSON) and 'key': 'value' (Python reprs).
_JSON_VALUE = re.compile(rf"""(?i)(["'])({_KEYS})\1(\s*:\s*)(["'])((?:\\.|(?!\4).)*)\4""")
# <key>value</key> and <ns:key attr="…">value</ns:key>
_XML_VALUE = re.compile(
    rf"(?is)(<(?:[\w.-]+:)?({_KEYS})(?=[\s>/])[^>]*>)(.*?)(</(?:[\w.-]+:)?\2\s*>)"
)
# The password part of credentials in a URL: scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)")
# A Salesforce session id: org id, "!", then the opaque part.
_SALESFORCE_SESSION_ID = re.compile(r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]{20,}")
# A JSON Web Token (bearer assertions, some access tokens).
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


class Redactor:
    """Known secret values plus patterns for secrets the app never saw; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def register(self, value: str | None) -> None:
        """Remember a secret so every later :meth:`redact` blanks it (and its encoded forms)."""
        if value is None or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            self._pattern = None

    def forget(self, value: str) -> None:
        with self._lock:
            self._values.discard(value)
            self._pattern = None

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return value in self._values

    def _values_pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._values:
                forms: set[str] = set()
                for value in self._values:
                    forms.update(_encoded_forms(value))
                # Longest first, so a value that contains another is blanked whole.
                ordered = sorted(forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(form) for form in ordered))
            return self._pattern

    def redact(self, text: str) -> str:
        """``text`` with every registered value and every recognised secret replaced by ***."""
        if not text:
            return text
        pattern = self._values_pattern()
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(3)}", text)
        text = _SALESFORCE_SESSION_ID.sub(REDACTED, text)
        text = _JWT.sub(REDACTED, text)
        text = _AUTH_HEADER.sub(_auth_header_replacement, text)
        text = _BARE_SCHEME.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        text = _JSON_VALUE.sub(
            lambda m: (
                f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{m.group(4)}"
                f"{REDACTED}{m.group(4)}"
            ),
            text,
        )
        text = _XML_VALUE.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(4)}", text)
        text = _QUERY_VALUE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        return text


def _auth_header_replacement(match: re.Match[str]) -> str:
    scheme = f"{match.group(2)} " if match.group(2) else ""
    return f"{match.group(1)}{scheme}{REDACTED}"


def _encoded_forms(value: str) -> set[str]:
    """The ways a secret shows up in URLs, form bodies, JSON and XML."""
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        html.escape(value, quote=True),
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


default_redactor = Redactor()
"""The app-wide redactor: the secret store registers every secret it reads here."""


def register_secret(value: str | None) -> None:
    default_redactor.register(value)


def redact(text: str) -> str:
    return default_redactor.redact(text)


class RedactingFilter(logging.Filter):
    """Redacts a record's message, arguments, exception text and stack.

    Attach it to every *handler* (a logger's own filters do not see records
    that propagate up from child loggers).
    """

    def __init__(self, redactor: Redactor | None = None, name: str = "") -> None:
        super().__init__(name)
        self.redactor = redactor if redactor is not None else default_redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record, nor leak its args
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redactor.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redactor.redact(record.exc_text)
            # Drop the live exception: a handler that formats it again (str(), traceback)
            # would bypass the redaction. The redacted text stays in exc_text.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True
