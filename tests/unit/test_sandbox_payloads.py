"""The Zuora sandbox's payload validators: built once per process, at start, whoever asks first."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from cpq_sync_gui.sandbox.zuora_payloads import validate_create_account, validate_create_order

NAMES = ["CreateAccountRequest", "CreateOrderRequest"]


def _run(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (no validator built yet); it prints one JSON line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_sandbox_builds_both_validators_when_it_starts(tmp_path: Path) -> None:
    result = _run(
        f"""
        import json
        from pathlib import Path
        from cpq_sync_gui.sandbox import zuora_payloads
        from cpq_sync_gui.sandbox.config import SandboxConfig
        from cpq_sync_gui.sandbox.sandbox import Sandbox

        before = zuora_payloads.built_validators()
        sandbox = Sandbox(SandboxConfig(accounts=2, orders=2), directory=Path({str(tmp_path)!r}))
        sandbox.start()
        try:
            after = zuora_payloads.built_validators()
        finally:
            sandbox.stop()
        print(json.dumps({{"before": before, "after": after}}))
        """
    )
    assert result == {"before": [], "after": NAMES}


def test_concurrent_first_callers_share_one_build() -> None:
    result = _run(
        """
        import json
        import threading
        from cpq_sync_gui.sandbox import zuora_payloads

        built = []
        real = zuora_payloads.Draft202012Validator

        def counting(schema):
            built.append(1)
            return real(schema)

        zuora_payloads.Draft202012Validator = counting
        start = threading.Barrier(8)

        def first_call(index):
            start.wait()
            if index % 2:
                zuora_payloads.validate_create_account({})
            else:
                zuora_payloads.validate_create_order({})

        threads = [threading.Thread(target=first_call, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print(json.dumps({"builds": len(built), "built": zuora_payloads.built_validators()}))
        """
    )
    assert result == {"builds": 2, "built": NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_the_shipped_schemas_are_valid_draft_2020_12_schemas(name: str) -> None:
    text = resources.files("cpq_sync_gui.sandbox").joinpath("zuora_schemas.json").read_text("utf-8")
    Draft202012Validator.check_schema(json.loads(text)["schemas"][name])


def test_validation_still_reports_missing_fields() -> None:
    assert any(m.endswith("required property is missing") for m in validate_create_account({}))
    assert validate_create_order({"orderDate": 5}) != []
