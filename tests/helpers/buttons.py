"""A connection profile for the sandbox org, as the buttons tests (integration, GUI, CLI) use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cpq_sync_gui import secrets as names
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import (
    ConnectorSettings,
    NetworkSettings,
    Profile,
    SalesforceSettings,
)


class DictSecrets:
    """A SecretLookup over a dict (the keyring itself is tested elsewhere)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, secret_name: str) -> str | None:
        return self.values.get(secret_name)


def sandbox_profile(
    sandbox: Sandbox,
    *,
    name: str = "Sandbox org",
    ca_bundle: Path | None = None,
    sfdc_domain: str | None = None,
    **profile: Any,
) -> Profile:
    """A password-login profile for the sandbox that trusts ``ca_bundle`` (default: its CA)."""
    return Profile(
        name=name,
        salesforce=SalesforceSettings(
            auth_method="password",
            login_host="custom",
            custom_login_url=sandbox.salesforce_url,
            username=sandbox.credentials.sf_username,
        ),
        connector=ConnectorSettings(
            endpoint_url=sandbox.connector_url,
            sfdc_domain=sandbox.sfdc_domain if sfdc_domain is None else sfdc_domain,
        ),
        network=NetworkSettings(
            proxy_mode="none", ca_bundle=ca_bundle if ca_bundle is not None else sandbox.ca_path
        ),
        **profile,
    )


def sandbox_secret_values(sandbox: Sandbox) -> dict[str, str]:
    return {
        names.SALESFORCE_PASSWORD: sandbox.credentials.sf_password,
        names.SALESFORCE_SECURITY_TOKEN: sandbox.credentials.sf_security_token,
    }


def sandbox_secrets(sandbox: Sandbox) -> DictSecrets:
    return DictSecrets(sandbox_secret_values(sandbox))


def weblink_record(sandbox: Sandbox, sobject: str, name: str, **fields: Any) -> str:
    """Put a WebLink straight into the sandbox org, as an admin clicking in Setup would."""
    record = {
        "PageOrSobjectType": sobject,
        "Name": name,
        "MasterLabel": "Send to Zuora",
        "NamespacePrefix": None,
        "Description": None,
        "DisplayType": "button",
        "LinkType": "url",
        "OpenType": "newWindow",
        "EncodingKey": "UTF-8",
        "Height": 600,
        "HasScrollbars": True,
        "IsResizable": True,
        "RequireRowSelection": False,
        **fields,
    }
    return sandbox.org.insert("WebLink", record)
