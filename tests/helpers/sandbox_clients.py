"""The app's real Salesforce and Zuora clients for a running sandbox, and Zuora test payloads."""

from __future__ import annotations

from typing import Any

import requests

from cpq_sync_gui import secrets as names
from cpq_sync_gui.net import make_session
from cpq_sync_gui.salesforce.client import SalesforceClient
from cpq_sync_gui.salesforce.session import connect
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import NetworkSettings, Profile, SalesforceSettings
from cpq_sync_gui.zuora.client import ZuoraClient

ZUORA_VERSION = "2025-08-12"


class Secrets:
    """A secret store holding the given values by secret name (the app asks it with ``get``)."""

    def __init__(self, **values: str) -> None:
        self.values = values

    def get(self, secret_name: str) -> str | None:
        return self.values.get(secret_name)


def network_settings(
    sandbox: Sandbox, *, trust_sandbox: bool = True, **options: Any
) -> NetworkSettings:
    """No proxy; the sandbox's CA trusted (unless ``trust_sandbox`` is False); ``options`` more."""
    return NetworkSettings(
        proxy_mode="none", ca_bundle=sandbox.ca_path if trust_sandbox else None, **options
    )


def salesforce_client(
    sandbox: Sandbox, network: NetworkSettings, profile_name: str = "sandbox"
) -> SalesforceClient:
    """Logged in with the sandbox user's password and security token, through simple-salesforce."""
    profile = Profile(
        name=profile_name,
        salesforce=SalesforceSettings(
            auth_method="password",
            login_host="custom",
            custom_login_url=sandbox.salesforce_url,
            username=sandbox.credentials.sf_username,
        ),
        network=network,
    )
    secrets = Secrets(
        **{
            names.SALESFORCE_PASSWORD: sandbox.credentials.sf_password,
            names.SALESFORCE_SECURITY_TOKEN: sandbox.credentials.sf_security_token,
        }
    )
    return SalesforceClient(connect(profile, secrets))


def zuora_client(sandbox: Sandbox, **kwargs: Any) -> ZuoraClient:
    """The sandbox tenant's client; ``base_url``, ``client_secret`` and any ZuoraClient option
    (default: a session trusting the sandbox, Zuora-Version ``ZUORA_VERSION``) may be given."""
    kwargs.setdefault("session", make_session(network_settings(sandbox)))
    kwargs.setdefault("zuora_version", ZUORA_VERSION)
    base = kwargs.pop("base_url", sandbox.zuora_url)
    secret = kwargs.pop("client_secret", sandbox.credentials.zuora_client_secret)
    return ZuoraClient(base, sandbox.credentials.zuora_client_id, secret, **kwargs)


def sync_clients(
    sandbox: Sandbox, profile_name: str, read_timeout_s: float
) -> tuple[SalesforceClient, ZuoraClient]:
    """A Salesforce and a Zuora client for a sync run, both with this read timeout."""
    network = network_settings(sandbox, read_timeout_s=read_timeout_s)
    salesforce = salesforce_client(sandbox, network, profile_name)
    zuora = zuora_client(
        sandbox,
        session=make_session(network),
        timeouts=(5, read_timeout_s),
        poll_interval_s=0.05,
    )
    return salesforce, zuora


def request_zuora_token(
    url: str, credentials: SandboxCredentials, verify: str
) -> requests.Response:
    """``POST /oauth/token`` with the tenant's client credentials, straight through requests."""
    return requests.post(
        f"{url}/oauth/token",
        data={
            "client_id": credentials.zuora_client_id,
            "client_secret": credentials.zuora_client_secret,
            "grant_type": "client_credentials",
        },
        verify=verify,
        timeout=10,
    )


def account_payload(crm_id: str, name: str = "Acme", **extra: Any) -> dict[str, Any]:
    """A ``POST /v1/accounts`` body Zuora's schema accepts."""
    return {
        "name": name,
        "crmId": crm_id,
        "currency": "USD",
        "billCycleDay": 1,
        "autoPay": False,
        "billToContact": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "state": "CA",
            "country": "United States",
        },
        **extra,
    }


def order_payload(
    account_number: str,
    rate_plan: dict[str, Any],
    number: str | None,
    order_date: str = "2025-02-01",
) -> dict[str, Any]:
    """A ``POST /v1/orders`` body creating a 12-month subscription to one rate plan."""
    payload: dict[str, Any] = {
        "orderDate": order_date,
        "existingAccountNumber": account_number,
        "subscriptions": [
            {
                "orderActions": [
                    {
                        "type": "CreateSubscription",
                        "createSubscription": {
                            "terms": {
                                "initialTerm": {
                                    "startDate": order_date,
                                    "period": 12,
                                    "periodType": "Month",
                                    "termType": "TERMED",
                                }
                            },
                            "subscribeToRatePlans": [rate_plan],
                        },
                    }
                ]
            }
        ],
    }
    if number:
        payload["orderNumber"] = number
    return payload
