"""Validates Zuora create-account and create-order payloads against the zuora-sdk JSON schemas."""

from __future__ import annotations

import functools
import json
import threading
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

_SCHEMA_FILE = "zuora_schemas.json"
_MAX_VALUE_TEXT = 60  # how much of an offending value a message quotes


@functools.cache
def _document() -> dict[str, Any]:
    text = resources.files("cpq_sync_gui.sandbox").joinpath(_SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)


_VALIDATOR_NAMES = ("CreateAccountRequest", "CreateOrderRequest")
_validators: dict[str, Draft202012Validator] = {}
_validators_lock = threading.Lock()


def build_validators() -> None:
    """Build both validators, once per process; the sandbox calls this when it starts.

    Concurrent first callers wait for the one build. The schemas are not checked against the
    metaschema here (1.3 s of CPU): tests/unit/test_sandbox_payloads.py checks the shipped file.
    """
    with _validators_lock:
        for name in _VALIDATOR_NAMES:
            if name not in _validators:
                _validators[name] = Draft202012Validator(_document()["schemas"][name])


def built_validators() -> list[str]:
    """The schema names whose validator is built."""
    with _validators_lock:
        return sorted(_validators)


def _validator(name: str) -> Draft202012Validator:
    validator = _validators.get(name)
    if validator is None:
        build_validators()
        validator = _validators[name]
    return validator


def zuora_sdk_version() -> str:
    """The zuora-sdk version the schemas were generated from."""
    return str(_document()["zuora_sdk_version"])


def validate_create_account(payload: Any) -> list[str]:
    """Problems with a ``POST /v1/accounts`` body, each naming its JSON path; [] when valid."""
    return _validate("CreateAccountRequest", payload)


def validate_create_order(payload: Any) -> list[str]:
    """Problems with a ``POST /v1/orders`` body, each naming its JSON path; [] when valid."""
    return _validate("CreateOrderRequest", payload)


def is_missing_field(message: str) -> bool:
    """True for a message about a missing required property (Zuora category 22)."""
    return message.endswith(": required property is missing")


def _validate(name: str, payload: Any) -> list[str]:
    errors = sorted(_validator(name).iter_errors(payload), key=lambda e: list(e.absolute_path))
    messages: list[str] = []
    for error in errors:
        for message in _explain(error):
            if message not in messages:
                messages.append(message)
    return sorted(messages)


def _explain(error: ValidationError) -> list[str]:
    """Messages for ``error``; nullable ``anyOf`` branches are looked through."""
    if not error.context:
        return [_describe(error)]
    useful = [
        e for e in error.context if not (e.validator == "type" and e.validator_value == "null")
    ]
    if not useful:
        return [_describe(error)]
    if all(e.validator == "type" for e in useful):
        # e.g. {"anyOf": [{"type": "number"}, {"type": "integer"}, {"type": "null"}]}
        expected = " or ".join(str(e.validator_value) for e in useful)
        return [f"{_path(error.absolute_path)}: expected {expected}, got {_quote(error.instance)}"]
    # Of the remaining branches, the deepest errors say most about what is wrong.
    deepest = max(len(e.absolute_path) for e in useful)
    found: list[str] = []
    for branch in useful:
        if len(branch.absolute_path) == deepest:
            found.extend(_explain(branch))
    return found


def _path(parts: Any) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _quote(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= _MAX_VALUE_TEXT else text[: _MAX_VALUE_TEXT - 3] + "..."


def _describe(error: ValidationError) -> str:
    path = list(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = next((p for p in error.validator_value if p not in (error.instance or {})), "?")
        return f"{_path([*path, missing])}: required property is missing"
    if kind == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = " or ".join(expected)
        return f"{_path(path)}: expected {expected}, got {_quote(error.instance)}"
    if kind == "maxLength":
        return (
            f"{_path(path)}: {len(error.instance)} characters is longer than the maximum "
            f"of {error.validator_value}"
        )
    if kind == "minLength":
        return (
            f"{_path(path)}: {len(error.instance)} characters is shorter than the minimum "
            f"of {error.validator_value}"
        )
    if kind in ("minimum", "maximum"):
        return (
            f"{_path(path)}: {_quote(error.instance)} is outside the {kind} {error.validator_value}"
        )
    return f"{_path(path)}: {error.message[:200]}"
