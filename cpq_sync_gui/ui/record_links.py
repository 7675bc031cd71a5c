"""What the record tabs read from (a Salesforce client, maybe a Zuora client) and the web links they open.

Links (our choice where Salesforce and Zuora document nothing stable):

* Salesforce: ``https://<lightning host>/lightning/r/<sObject>/<18-char id>/view``; the
  Lightning host comes from the instance host (``acme.my.salesforce.com`` →
  ``acme.lightning.force.com``); a host that does not fit the pattern (the sandbox's
  ``127.0.0.1:port``) is used as it is.
* Zuora UI host from the REST host: drop the leading ``rest.`` (``rest.apisandbox.zuora.com``
  → ``apisandbox.zuora.com``, ``rest.na.zuora.com`` → ``na.zuora.com``), with
  ``rest.zuora.com`` → ``www.zuora.com``; other hosts (the sandbox) are used as they are.
  An account opens at ``/apps/CustomerAccount.do?method=view&id=<Zuora account id>`` (the
  classic account page, which every tenant has); an order at
  ``/platform/apps/orders/<order number>`` (the Orders UI page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from cpq_sync_gui.salesforce.client import SalesforceClient

__all__ = [
    "RecordSource",
    "open_record_source",
    "salesforce_record_url",
    "zuora_account_url",
    "zuora_order_url",
    "zuora_ui_base",
]


def salesforce_record_url(instance_url: str, sobject: str, record_id: str) -> str:
    from cpq_sync_gui.settings import lightning_domain_from_instance

    host = lightning_domain_from_instance(instance_url)
    return f"https://{host}/lightning/r/{sobject}/{quote(record_id, safe='')}/view"


def zuora_ui_base(rest_base_url: str) -> str:
    parts = urlsplit(rest_base_url)
    host = parts.netloc
    name, sep, port = host.partition(":")
    if name.lower() == "rest.zuora.com":
        name = "www.zuora.com"
    elif name.lower().startswith("rest.") and name.lower().endswith(".zuora.com"):
        name = name[len("rest.") :]
    return f"https://{name}{sep}{port}"


def zuora_account_url(ui_base: str, zuora_account_id: str) -> str:
    return f"{ui_base}/apps/CustomerAccount.do?method=view&id={quote(zuora_account_id, safe='')}"


def zuora_order_url(ui_base: str, order_number: str) -> str:
    return f"{ui_base}/platform/apps/orders/{quote(order_number, safe='')}"


@dataclass
class RecordSource:
    """The connections the record tabs use; ``zuora`` is None when no Zuora tenant is set up."""

    salesforce: SalesforceClient
    zuora: Any | None = None  # a ZuoraClient (find_accounts_by_crm_id, order_exists_many)
    label: str = ""

    @property
    def instance_url(self) -> str:
        return self.salesforce.connection.instance_url

    @property
    def zuora_ui(self) -> str | None:
        base = getattr(self.zuora, "base_url", None)
        return zuora_ui_base(base) if base else None

    def close(self) -> None:
        """Close the HTTP sessions' pooled connections (safe while a request is in flight:
        requests opens new ones if the session is used again)."""
        for session in (
            getattr(self.salesforce.connection, "session", None),
            getattr(self.zuora, "session", None),
        ):
            if session is not None:
                session.close()


def open_record_source(profile: Any, secrets: Any) -> RecordSource:
    """Log in with a connection profile (blocking: call it inside a Job).

    Salesforce failures raise ConnectionFailed; a profile without a usable Zuora tenant still
    lists records, with the Zuora status column left unknown.
    """
    from cpq_sync_gui.connections import ConnectionFailed, open_salesforce, open_zuora

    salesforce = open_salesforce(profile, secrets)
    try:
        zuora = open_zuora(profile, secrets)
    except ConnectionFailed:
        zuora = None
    return RecordSource(salesforce, zuora, label=getattr(profile, "name", ""))
