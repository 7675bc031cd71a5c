"""Client for Zuora's CPQ connector endpoint: the same GET the Salesforce "Send to Zuora" buttons open."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import requests

from cpq_sync_gui.redact import redact
from cpq_sync_gui.salesforce.ids import parse_id
from cpq_sync_gui.zuora.client import classify_network_error

if TYPE_CHECKING:
    from cpq_sync_gui.settings import Profile

__all__ = [
    "ConnectorAnswer",
    "ConnectorClient",
    "ConnectorError",
    "ConnectorErrorKind",
    "button_url",
    "check_endpoint_url",
    "check_sfdc_domain",
]

ConnectorErrorKind = Literal[
    "not_routed", "rejected", "rate_limited", "server", "network_before_send", "ambiguous"
]

MAX_BODY_TEXT = 2000  # the endpoint's answer is undocumented: keep this much for the log
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::(\d{{1,5}}))?$")


def check_sfdc_domain(domain: str) -> str:
    """The org's Lightning host as the buttons send it (``acme.lightning.force.com``), lower-case.

    A pasted ``https://`` or trailing ``/`` is dropped; anything else that is not a host name
    (optionally ``:port``) raises ValueError in plain words.
    """
    text = (domain or "").strip().lower().removeprefix("https://").rstrip("/")
    match = _DOMAIN.fullmatch(text)  # not match(): "$" would let a trailing newline through
    if not match or (match.group(1) is not None and not 1 <= int(match.group(1)) <= 65535):
        raise ValueError(
            "The Salesforce domain for the connector is the org's Lightning host, like "
            f"acme.lightning.force.com (no https://, no path), not {domain!r:.80}"
        )
    return text


def check_endpoint_url(url: str) -> str:
    """The connector endpoint: an ``https://`` address with a path and no query string.

    The text returned is the text checked: spaces and control characters (which ``urlsplit``
    would silently drop before parsing) are refused rather than passed on in the request.
    """
    text = (url or "").strip()
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in text):
        raise ValueError(
            f"The connector address must not contain spaces or line breaks, not {url!r:.80}"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(
            f"The connector address is not a valid https:// address (check the host name and "
            f"the port, a number between 1 and 65535), not {url!r:.80}"
        ) from None
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"The connector address must start with https://, not {url!r:.80}")
    if parts.query or parts.fragment or "@" in parts.netloc or "?" in text or "#" in text:
        raise ValueError(
            "The connector address must not contain a query string, '#' part or user name; "
            "CPQ Sync adds ?sfdc=…&accountId=… itself"
        )
    if not _is_host(parts.hostname) or port == 0:
        raise ValueError(
            "The connector address must name a server like "
            f"r7eq6a62d4.execute-api.us-west-2.amazonaws.com (letters, digits, '-' and '.'), "
            f"with an optional port between 1 and 65535, not {url!r:.80}"
        )
    return text.rstrip("/")


def _is_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal, written [::1] in the address
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    return _DOMAIN.fullmatch(host) is not None and ":" not in host


def button_url(endpoint_url: str, sfdc_domain: str, kind: str, record_id: str) -> str:
    """``{endpoint}?sfdc={domain}&accountId={18-char id}`` (or ``orderId``), as the buttons build it."""
    endpoint = check_endpoint_url(endpoint_url)
    domain = check_sfdc_domain(sfdc_domain)
    if kind == "account":
        return f"{endpoint}?sfdc={domain}&accountId={parse_id(record_id, '001')}"
    if kind == "order":
        return f"{endpoint}?sfdc={domain}&orderId={parse_id(record_id, '801')}"
    raise ValueError("kind is 'account' or 'order'")


@dataclass(frozen=True)
class ConnectorAnswer:
    """The endpoint accepted the request (2xx). Its result shows in Zuora, not here."""

    status: int
    text: str  # the body as sent (undocumented), cut to MAX_BODY_TEXT
    url: str


class ConnectorError(Exception):
    """The endpoint did not accept the request; ``message`` says why in plain words."""

    def __init__(
        self, kind: ConnectorErrorKind, message: str, *, status: int | None = None, text: str = ""
    ) -> None:
        self.kind = kind
        self.message = redact(message)
        self.status = status
        self.text = text
        super().__init__(self.message)

    @property
    def may_have_been_applied(self) -> bool:
        return self.kind == "ambiguous"


class ConnectorClient:
    """Triggers the connector's sync of one Account or Order; never retries."""

    def __init__(
        self,
        endpoint_url: str,
        sfdc_domain: str,
        *,
        session: requests.Session,
        timeouts: tuple[float, float] = (10, 60),
    ) -> None:
        self.endpoint_url = check_endpoint_url(endpoint_url)
        self.sfdc_domain = check_sfdc_domain(sfdc_domain)
        self.session = session
        self.timeouts = timeouts

    @classmethod
    def from_profile(
        cls,
        profile: Profile,
        *,
        instance_url: str | None = None,
        session: requests.Session | None = None,
    ) -> ConnectorClient:
        """The profile's connector; a blank domain comes from the org's instance URL."""
        from cpq_sync_gui.net import make_session
        from cpq_sync_gui.settings import lightning_domain_from_instance

        domain = profile.connector.sfdc_domain
        if not domain:
            if not instance_url:
                raise ValueError(
                    "The Salesforce domain for the connector is not set and no Salesforce "
                    "instance URL is known yet: log in to Salesforce first, or enter the "
                    "domain in the profile."
                )
            domain = lightning_domain_from_instance(instance_url)
        return cls(
            profile.connector.endpoint_url,
            domain,
            session=session if session is not None else make_session(profile.network),
            timeouts=(profile.network.connect_timeout_s, profile.network.read_timeout_s),
        )

    def trigger_account(self, account_id: str) -> ConnectorAnswer:
        return self._trigger(button_url(self.endpoint_url, self.sfdc_domain, "account", account_id))

    def trigger_order(self, order_id: str) -> ConnectorAnswer:
        return self._trigger(button_url(self.endpoint_url, self.sfdc_domain, "order", order_id))

    def _trigger(self, url: str) -> ConnectorAnswer:
        try:
            response = self.session.get(url, timeout=self.timeouts, allow_redirects=False)
        except requests.RequestException as exc:
            from cpq_sync_gui.net import describe_network_error

            kind = classify_network_error(exc)
            tail = (
                "Nothing reached the connector, so it is safe to try again."
                if kind == "network_before_send"
                else "The request was sent but no answer came back: the connector may have "
                "started the sync. Check Zuora (System Health → Integration Hub) before "
                "trying again."
            )
            raise ConnectorError(kind, f"{describe_network_error(exc)} {tail}") from None
        text = redact(response.text[:MAX_BODY_TEXT])
        status = response.status_code
        said = f" The connector said: {' '.join(text.split())[:300]}" if text.strip() else ""
        if 200 <= status < 300:
            return ConnectorAnswer(status, text, url)
        if status == 403:
            raise ConnectorError(
                "not_routed",
                f"Zuora has not routed this Salesforce domain ({self.sfdc_domain}) yet: the "
                "connector endpoint refused it (HTTP 403). After creating the two Send to "
                "Zuora buttons, open a Zuora support ticket with the button URLs "
                f"({self.endpoint_url}?sfdc={self.sfdc_domain}&accountId=… and "
                f"…&orderId=…) so Zuora routes them to your tenant.{said}",
                status=status,
                text=text,
            )
        if status == 400:
            raise ConnectorError(
                "rejected",
                "The connector endpoint refused the request as malformed (HTTP 400): check "
                f"the Salesforce domain ({self.sfdc_domain}) and the record id.{said}",
                status=status,
                text=text,
            )
        if status == 404:
            raise ConnectorError(
                "rejected",
                f"There is no connector endpoint at {self.endpoint_url} (HTTP 404): check the "
                f"connector address in the profile.{said}",
                status=status,
                text=text,
            )
        if status == 429:
            raise ConnectorError(
                "rate_limited",
                f"The connector endpoint is busy (HTTP 429); wait a little and try again.{said}",
                status=status,
                text=text,
            )
        if status >= 500:
            raise ConnectorError(
                "server",
                f"The connector endpoint had an internal problem (HTTP {status}); try again "
                f"later, and check Zuora (System Health → Integration Hub) first.{said}",
                status=status,
                text=text,
            )
        raise ConnectorError(
            "rejected",
            f"The connector endpoint did not accept the request (HTTP {status}).{said}",
            status=status,
            text=text,
        )
