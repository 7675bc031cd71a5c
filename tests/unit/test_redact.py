"""Tests for redact.py: known secrets and secret-shaped text never reach logs or messages."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from cpq_sync_gui.redact import (
    REDACTED,
    RedactingFilter,
    Redactor,
    default_redactor,
    redact,
    register_secret,
)

SESSION_ID = "00D5g000004XyZa!AQ0AQFh3kDd8Yq9Zt1pL2mN3oP4qR5sT6uV7wX8yZ9.aBcDeFgHiJkLmNoPqRsTuV"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


def test_registered_value_and_its_encoded_forms_are_blanked(redactor: Redactor) -> None:
    secret = "p@ss w/rd&x=1"
    redactor.register(secret)
    text = (
        f"raw {secret} | quoted {quote(secret, safe='')} | plus {quote_plus(secret)} | "
        f"json {json.dumps(secret)}"
    )
    result = redactor.redact(text)
    assert secret not in result
    assert quote(secret, safe="") not in result
    assert quote_plus(secret) not in result
    assert result.startswith(f"raw {REDACTED} | quoted {REDACTED} | plus {REDACTED}")


def test_longer_secret_containing_a_shorter_one_is_blanked_whole(redactor: Redactor) -> None:
    redactor.register("abcd")
    redactor.register("abcdefgh1234")
    assert redactor.redact("token abcdefgh1234 end") == f"token {REDACTED} end"


def test_values_shorter_than_four_characters_are_not_registered(redactor: Redactor) -> None:
    redactor.register("abc")
    redactor.register("")
    redactor.register(None)
    assert "abc" not in redactor
    assert redactor.redact("abc abcabc") == "abc abcabc"
    redactor.register("abcd")
    assert redactor.redact("abcd") == REDACTED


def test_forget_and_clear(redactor: Redactor) -> None:
    redactor.register("first-secret")
    redactor.register("second-secret")
    redactor.forget("first-secret")
    assert redactor.redact("first-secret second-secret") == f"first-secret {REDACTED}"
    redactor.clear()
    assert redactor.redact("second-secret") == "second-secret"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", f"Authorization: Bearer {REDACTED}"),
        ("authorization: OAuth 00Dxx0000001gPL!AR8AQ", f"authorization: OAuth {REDACTED}"),
        ("{'Authorization': 'Bearer 9f8e7d6c5b4a'}", f"{{'Authorization': 'Bearer {REDACTED}'}}"),
        ("Proxy-Authorization: Basic dXNlcjpwYXNz", f"Proxy-Authorization: Basic {REDACTED}"),
        ("sent Bearer 1234567890abcdef1234 to Zuora", f"sent Bearer {REDACTED} to Zuora"),
        ("OAuth settings are fine", "OAuth settings are fine"),
    ],
)
def test_authorization_headers(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "POST /services/oauth2/token?grant_type=password&password=hunter22"
            "&client_secret=s3&x=1",
            f"POST /services/oauth2/token?grant_type=password&password={REDACTED}"
            f"&client_secret={REDACTED}&x=1",
        ),
        (
            "https://host/cb#access_token=abc123&refresh_token=def456&instance_url=https://i",
            f"https://host/cb#access_token={REDACTED}&refresh_token={REDACTED}"
            "&instance_url=https://i",
        ),
        ("Cookie: sid=xyz987; other=1", f"Cookie: sid={REDACTED}; other=1"),
        ("?sessionId=abc&session_id=def", f"?sessionId={REDACTED}&session_id={REDACTED}"),
        # Names that merely contain a secret word are left alone.
        ("passwordExpired=false&my_sid=1", "passwordExpired=false&my_sid=1"),
    ],
)
def test_query_strings_and_form_bodies(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


def test_json_values(redactor: Redactor) -> None:
    body = json.dumps(
        {
            "access_token": "eyabc.def.ghi",
            "token_type": "bearer",
            "refresh_token": 'with "quotes" inside',
            "client_secret": "zz",
            "password": "pw",
            "expires_in": 3599,
        }
    )
    result = redactor.redact(body)
    parsed = json.loads(result)
    assert parsed["access_token"] == REDACTED
    assert parsed["refresh_token"] == REDACTED
    assert parsed["client_secret"] == REDACTED
    assert parsed["password"] == REDACTED
    assert parsed["token_type"] == "bearer"
    assert parsed["expires_in"] == 3599


def test_python_repr_values(redactor: Redactor) -> None:
    text = "{'session_id': 'abcdef', 'user': 'jane'}"
    assert redactor.redact(text) == f"{{'session_id': '{REDACTED}', 'user': 'jane'}}"


def test_xml_values(redactor: Redactor) -> None:
    soap = (
        "<loginResponse><result><passwordExpired>false</passwordExpired>"
        "<sessionId>ABC-session-xyz</sessionId><sf:password>pw1</sf:password>"
        '<sid attr="1">\nmultiline\n</sid></result></loginResponse>'
    )
    result = redactor.redact(soap)
    assert "<passwordExpired>false</passwordExpired>" in result
    assert f"<sessionId>{REDACTED}</sessionId>" in result
    assert f"<sf:password>{REDACTED}</sf:password>" in result
    assert f'<sid attr="1">{REDACTED}</sid>' in result
    assert "ABC-session-xyz" not in result


def test_salesforce_session_ids_anywhere(redactor: Redactor) -> None:
    text = f"instance ok; id {SESSION_ID} was refused; org 00D5g000004XyZa is fine"
    result = redactor.redact(text)
    assert SESSION_ID not in result
    assert "AQ0AQFh3kDd8" not in result
    assert result == f"instance ok; id {REDACTED} was refused; org 00D5g000004XyZa is fine"


def test_json_web_tokens(redactor: Redactor) -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJhYmMiLCJzdWIiOiJ1In0.c2lnbmF0dXJl"
    assert redactor.redact(f"assertion {jwt} sent") == f"assertion {REDACTED} sent"


def test_passwords_in_urls_even_unregistered_ones(redactor: Redactor) -> None:
    text = (
        "Unable to connect to proxy http://CORP%5Cjane:pw1@proxy.acme.com:3128 (https://x.y/a:b@c)"
    )
    assert redactor.redact(text) == (
        f"Unable to connect to proxy http://CORP%5Cjane:{REDACTED}@proxy.acme.com:3128 "
        "(https://x.y/a:b@c)"
    )


def test_plain_text_is_untouched(redactor: Redactor) -> None:
    text = "Synced 42 accounts to Zuora (A-00001234); 3 failed: billing address missing."
    assert redactor.redact(text) == text


@pytest.fixture
def clean_default_redactor() -> Iterator[None]:
    default_redactor.clear()
    yield
    default_redactor.clear()


@pytest.mark.usefixtures("clean_default_redactor")
def test_module_level_default_redactor() -> None:
    register_secret("zuora-secret-value")
    assert redact("value zuora-secret-value") == f"value {REDACTED}"
    assert "zuora-secret-value" in default_redactor


def _logger_with_filter(redactor: Redactor) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    logger = logging.getLogger(f"cpq_sync_test_redact.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, stream


def test_logging_filter_redacts_message_arguments(redactor: Redactor) -> None:
    redactor.register("the-client-secret")
    logger, stream = _logger_with_filter(redactor)
    logger.info("token call with %s and %r", "the-client-secret", {"access_token": "abc123"})
    output = stream.getvalue()
    assert "the-client-secret" not in output
    assert "abc123" not in output
    assert output == f"INFO token call with {REDACTED} and {{'access_token': '{REDACTED}'}}\n"


def test_logging_filter_redacts_exception_text(redactor: Redactor) -> None:
    redactor.register("proxy-password-42")
    logger, stream = _logger_with_filter(redactor)
    try:
        raise RuntimeError(f"proxy http://jane:proxy-password-42@proxy:3128 said no, {SESSION_ID}")
    except RuntimeError:
        logger.exception("request failed")
    output = stream.getvalue()
    assert "proxy-password-42" not in output
    assert SESSION_ID not in output
    assert "RuntimeError: proxy http://jane:***@proxy:3128 said no, ***" in output
    assert output.startswith("ERROR request failed\nTraceback")


def test_logging_filter_keeps_a_record_with_a_broken_format(redactor: Redactor) -> None:
    redactor.register("leaky-secret")
    logger, stream = _logger_with_filter(redactor)
    logger.warning("two placeholders %s %s", "leaky-secret")
    output = stream.getvalue()
    assert output.startswith("WARNING two placeholders")
    assert "leaky-secret" not in output
