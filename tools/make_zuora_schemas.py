"""Regenerate cpq_sync_gui/sandbox/zuora_schemas.json from the zuora-sdk package's models."""

# Run with a throwaway interpreter that has zuora-sdk installed (it pins old certifi/urllib3,
# so it stays out of the project's own environment):
#   python -m venv /tmp/zsdk && /tmp/zsdk/bin/pip install zuora-sdk
#   /tmp/zsdk/bin/python tools/make_zuora_schemas.py

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "cpq_sync_gui" / "sandbox" / "zuora_schemas.json"


def main() -> None:
    from zuora_sdk.models.create_account_request import CreateAccountRequest
    from zuora_sdk.models.create_order_request import CreateOrderRequest

    document = {
        "generated_by": "tools/make_zuora_schemas.py",
        "zuora_sdk_version": version("zuora-sdk"),
        "schemas": {
            "CreateAccountRequest": CreateAccountRequest.model_json_schema(by_alias=True),
            "CreateOrderRequest": CreateOrderRequest.model_json_schema(by_alias=True),
        },
    }
    TARGET.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {TARGET} (zuora-sdk {document['zuora_sdk_version']})")


if __name__ == "__main__":
    main()
