"""Turns a connection profile and its secrets into logged-in clients, and tests a profile in plain words."""

from __future__ import annotations

import re
import threading
import time
import webbrowser
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from cpq_sync_gui import secrets as names
from cpq_sync_gui.connector.client import ConnectorClient
from cpq_sync_gui.net import NetworkSettingsError, ProfileSession, Timeouts, make_session
from cpq_sync_gui.redact import redact
from cpq_sync_gui.salesforce.client import SalesforceClient, SalesforceQueryError
from cpq_sync_gui.salesforce.session import (
    BROWSER_WAIT_S,
    BrowserLogin,
    LoginResult,
    SalesforceLoginError,
    connect,
)
from cpq_sync_gui.secrets import SecretLookup, SecretStoreError, SessionSecrets
from cpq_sync_gui.settings import (
    DEMO_PROFILE_NAME,
    LoginHost,
    Profile,
    SalesforceAuthMethod,
    lightning_domain_from_instance,
    profile_kind,
)
from cpq_sync_gui.zuora.client import ZuoraClient, ZuoraError

__all__ = [
    "DEMO_PROFILE_NAME",
    "ConnectionFailed",
    "OverlaySecrets",
    "ProfileTestResult",
    "SalesforceTestReport",
    "SessionSecrets",
    "ZuoraTestReport",
    "browser_login",
    "check_profile",
    "open_connector",
    "open_salesforce",
    "open_zuora",
    "profile_kind",
    "test_salesforce",
    "test_zuora",
]


class ConnectionFailed(Exception):
    """Connecting failed; ``message`` says what to fix in the admin's words, never a secret.

    ``side`` is "Salesforce", "Zuora", "Connector", "Network" or "Password store"; ``code`` is
    the underlying code when there is one (INVALID_LOGIN, auth, NETWORK, …).
    """

    def __init__(self, side: str, message: str, *, code: str | None = None) -> None:
        self.side = side
        self.message = redact(message)
        self.code = code
        super().__init__(self.message)


# --- secrets -------------------------------------------------------------------------------


class SecretsSource(Protocol):
    """A SecretStore, SessionSecrets or anything else that hands out one profile's secrets."""

    def for_profile(self, profile: str) -> SecretLookup: ...


class _GuardedLookup:
    """A lookup whose password-store failures become ConnectionFailed in plain words."""

    def __init__(self, inner: SecretLookup) -> None:
        self.inner = inner

    def get(self, secret_name: str) -> str | None:
        try:
            return self.inner.get(secret_name)
        except SecretStoreError as exc:
            raise ConnectionFailed("Password store", str(exc)) from None


class OverlaySecrets:
    """One profile's secrets with some values given here first (typed in a form, environment).

    An override of ``""`` hides the stored value (the secret counts as not set).
    """

    def __init__(self, base: SecretLookup | None, overrides: Mapping[str, str | None]) -> None:
        self.base = base
        self.overrides = {k: v for k, v in overrides.items() if v is not None}

    def get(self, secret_name: str) -> str | None:
        if secret_name in self.overrides:
            return self.overrides[secret_name] or None
        return self.base.get(secret_name) if self.base is not None else None


def profile_secrets(profile: Profile, secrets: SecretsSource | SecretLookup) -> SecretLookup:
    """``profile``'s secrets from a store (``for_profile``) or an already per-profile lookup."""
    for_profile = getattr(secrets, "for_profile", None)
    lookup = for_profile(profile.name) if callable(for_profile) else secrets
    return _GuardedLookup(lookup)  # type: ignore[arg-type]


def _remember(secrets: Any, profile: Profile, secret_name: str, value: str | None) -> None:
    """Save a secret the app received (a browser login's refresh token) when the store allows."""
    if not value:
        return
    setter = getattr(secrets, "set", None)
    if callable(setter) and hasattr(secrets, "for_profile"):
        try:
            setter(profile.name, secret_name, value)
        except SecretStoreError as exc:
            raise ConnectionFailed("Password store", str(exc)) from None


# --- sessions and clients ------------------------------------------------------------------


def network_session(profile: Profile, lookup: SecretLookup) -> ProfileSession:
    """The profile's HTTP session (proxy, CA bundle, timeouts), or ConnectionFailed in plain words."""
    try:
        return make_session(profile.network, lookup)
    except NetworkSettingsError as exc:
        raise ConnectionFailed("Network", str(exc), code="NETWORK_SETTINGS") from None


def _timeouts(profile: Profile) -> tuple[float, float]:
    return Timeouts.from_settings(profile.network).as_tuple()


def _login_failed(exc: SalesforceLoginError) -> ConnectionFailed:
    return ConnectionFailed("Salesforce", exc.message, code=exc.code)


def browser_login(
    profile: Profile,
    secrets: SecretsSource | SecretLookup,
    *,
    opener: Callable[[str], Any] | None = webbrowser.open,
    cancelled: Callable[[], bool] | None = None,
    timeout_s: float = BROWSER_WAIT_S,
    session: requests.Session | None = None,
) -> LoginResult:
    """Log in in the system browser (authorization code + PKCE, loopback redirect).

    ``opener`` gets the authorize URL (the GUI opens it with QDesktopServices, the CLI prints
    it too). ``cancelled`` is polled while waiting. The refresh token is saved in the secret
    store (when ``secrets`` is a store) so later logins need no browser.
    """
    settings = profile.salesforce
    if not settings.consumer_key:
        raise ConnectionFailed(
            "Salesforce",
            "The browser login needs the consumer key of your connected app: enter it in the "
            "profile (Salesforce → consumer key).",
            code="INCOMPLETE_PROFILE",
        )
    lookup = profile_secrets(profile, secrets)
    web = session if session is not None else network_session(profile, lookup)
    login = BrowserLogin(
        settings.login_url(),
        settings.consumer_key,
        session=web,
        callback_url=settings.browser_callback_url(),
        consumer_secret=lookup.get(names.SALESFORCE_CONSUMER_SECRET),
        opener=opener,
    )
    stop = threading.Event()
    watcher = None
    if cancelled is not None:

        def watch() -> None:
            while not stop.wait(0.1):
                if cancelled():
                    login.cancel()
                    return

        watcher = threading.Thread(target=watch, name="browser-login-cancel", daemon=True)
        watcher.start()
    try:
        result = login.run(timeout_s)
    except SalesforceLoginError as exc:
        raise _login_failed(exc) from None
    finally:
        stop.set()
        login.close()
        if watcher is not None:
            watcher.join(timeout=1)
    _remember(secrets, profile, names.SALESFORCE_REFRESH_TOKEN, result.refresh_token)
    return result


def open_salesforce(
    profile: Profile,
    secrets: SecretsSource | SecretLookup,
    *,
    browser_opener: Callable[[str], Any] | None = None,
    cancelled: Callable[[], bool] | None = None,
    browser_result: LoginResult | None = None,
) -> SalesforceClient:
    """Log in to the profile's org and return a client over the profile's network session.

    The session is reused while it is valid and renewed at most once per failing call
    (see SalesforceConnection). Browser login: a saved refresh token is used when there is
    one; otherwise ``browser_opener`` starts a browser login, and without it the admin is
    told to log in with the browser first. Raises ConnectionFailed.
    """
    lookup = profile_secrets(profile, secrets)
    session = network_session(profile, lookup)
    settings = profile.salesforce
    if (
        settings.auth_method == SalesforceAuthMethod.BROWSER
        and browser_result is None
        and browser_opener is not None
        and not settings.missing_settings()
        and not lookup.get(names.SALESFORCE_REFRESH_TOKEN)
    ):
        browser_result = browser_login(
            profile, secrets, opener=browser_opener, cancelled=cancelled, session=session
        )
    try:
        connection = connect(profile, lookup, session=session, browser_result=browser_result)
    except SalesforceLoginError as exc:
        raise _login_failed(exc) from None
    return SalesforceClient(connection)


def open_zuora(profile: Profile, secrets: SecretsSource | SecretLookup) -> ZuoraClient:
    """A Zuora client for the profile's tenant (the token is fetched on first use and cached)."""
    zuora = profile.zuora
    missing = zuora.missing_settings()
    if missing:
        raise ConnectionFailed(
            "Zuora",
            "The profile is missing: " + ", ".join(missing) + ".",
            code="INCOMPLETE_PROFILE",
        )
    lookup = profile_secrets(profile, secrets)
    secret = lookup.get(names.ZUORA_CLIENT_SECRET)
    if not secret:
        raise ConnectionFailed(
            "Zuora",
            "The Zuora client secret is not set: enter it in the profile (Zuora → client secret).",
            code="INCOMPLETE_PROFILE",
        )
    return ZuoraClient(
        zuora.rest_base_url(),
        zuora.client_id,
        secret,
        session=network_session(profile, lookup),
        zuora_version=zuora.zuora_version,
        entity_id=zuora.entity_id,
        timeouts=_timeouts(profile),
    )


def connector_domain(profile: Profile, instance_url: str | None = None) -> str | None:
    """The ``sfdc`` value: the profile's, else derived from the instance or My Domain host."""
    if profile.connector.sfdc_domain:
        return profile.connector.sfdc_domain
    if instance_url:
        return lightning_domain_from_instance(instance_url)
    settings = profile.salesforce
    if settings.login_host == LoginHost.MY_DOMAIN and settings.my_domain:
        return lightning_domain_from_instance(settings.my_domain)
    if settings.auth_method == SalesforceAuthMethod.SESSION and settings.instance_url:
        return lightning_domain_from_instance(settings.instance_url)
    return None


def open_connector(
    profile: Profile,
    secrets: SecretsSource | SecretLookup,
    *,
    salesforce: SalesforceClient | None = None,
) -> ConnectorClient:
    """A client for the connector endpoint; the sfdc domain comes from the profile or the org."""
    instance = salesforce.connection.instance_url if salesforce is not None else None
    domain = connector_domain(profile, instance)
    if not domain:
        raise ConnectionFailed(
            "Connector",
            "The Salesforce domain for the connector is not known yet: enter it in the profile "
            "(Connector → Salesforce domain, like acme.lightning.force.com), or log in to "
            "Salesforce first so it can be worked out from the org's address.",
            code="INCOMPLETE_PROFILE",
        )
    lookup = profile_secrets(profile, secrets)
    try:
        return ConnectorClient(
            profile.connector.endpoint_url,
            domain,
            session=network_session(profile, lookup),
            timeouts=_timeouts(profile),
        )
    except ValueError as exc:
        raise ConnectionFailed("Connector", str(exc)) from None


# --- testing a profile ---------------------------------------------------------------------


@dataclass(frozen=True)
class SalesforceTestReport:
    """What "Test connection" found out about the org."""

    login_url: str
    auth_method: str
    instance_url: str
    organization_id: str
    organization_name: str
    instance_name: str | None
    is_sandbox: bool | None
    organization_type: str | None
    username: str | None
    api_used: int | None
    api_limit: int | None
    seconds: float
    profile_kind: str = "sandbox"  # what the profile's badge says (profile_kind())

    @property
    def production_not_marked(self) -> bool:
        """The org says it is production but the profile's badge does not say so."""
        return self.is_sandbox is False and self.profile_kind not in ("production", "demo")

    @property
    def environment(self) -> str:
        if self.is_sandbox is None:
            return "unknown"
        return "sandbox" if self.is_sandbox else "production"

    def lines(self) -> list[str]:
        org_kind = {"sandbox": "a sandbox", "production": "PRODUCTION"}.get(
            self.environment, "production or sandbox: unknown"
        )
        where = self.instance_url + (
            f" (instance {self.instance_name})" if self.instance_name else ""
        )
        lines = [
            f"Organization: {self.organization_name} ({self.organization_id}) — {org_kind}",
            f"Instance: {where}",
        ]
        if self.organization_type:
            lines.append(f"Edition: {self.organization_type}")
        if self.username:
            lines.append(f"Logged in as: {self.username} ({self.auth_method} login)")
        if self.api_used is not None and self.api_limit is not None:
            left = max(0, self.api_limit - self.api_used)
            lines.append(
                f"API usage: {self.api_used:,} of {self.api_limit:,} daily calls used ({left:,} left)"
            )
        if self.production_not_marked:
            lines.append(
                "Careful: this org is a PRODUCTION org, but the profile is not marked as "
                "production. Tick 'Treat as production' so it shows the red badge."
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "environment": self.environment,
            "production_not_marked": self.production_not_marked,
        }


@dataclass(frozen=True)
class ZuoraTestReport:
    """What "Test connection" found out about the Zuora tenant."""

    environment: str
    base_url: str
    zuora_version: str
    token_ok: bool
    tenant_id: str | None
    entity_ids: tuple[str, ...]
    entity_id: str | None  # the one the profile sends (Zuora-Entity-Ids)
    is_production: bool
    rate_limit_remaining: int | None
    seconds: float

    def lines(self) -> list[str]:
        lines = [
            f"Environment: {self.environment}" + (" — PRODUCTION" if self.is_production else ""),
            f"REST address: {self.base_url} (Zuora-Version {self.zuora_version})",
            "Access token: OK" if self.token_ok else "Access token: not obtained",
        ]
        if self.tenant_id:
            lines.append(f"Tenant: {self.tenant_id}")
        if self.entity_id:
            lines.append(f"Entity (sent with every call): {self.entity_id}")
        elif self.entity_ids:
            lines.append("Entity: " + ", ".join(self.entity_ids))
        if self.rate_limit_remaining is not None:
            lines.append(f"API calls left this minute: {self.rate_limit_remaining:,}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["entity_ids"] = list(self.entity_ids)
        return data


def _username(client: SalesforceClient) -> str | None:
    """The logged-in user's name, from the identity service (best effort)."""
    connection = client.connection
    try:
        response = connection.session.get(
            f"{connection.instance_url}/services/oauth2/userinfo",
            headers={
                "Authorization": f"Bearer {connection.sf.session_id}",
                "Accept": "application/json",
            },
        )
        body = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None
    if isinstance(body, dict):
        name = body.get("preferred_username") or body.get("username")
        return str(name) if name else None
    return None


def test_salesforce(
    profile: Profile,
    secrets: SecretsSource | SecretLookup,
    *,
    browser_opener: Callable[[str], Any] | None = None,  # noqa: PT028 - not a pytest test
    cancelled: Callable[[], bool] | None = None,  # noqa: PT028
) -> SalesforceTestReport:
    """Log in and describe the org: name, instance, sandbox or production, API usage.

    Raises ConnectionFailed with a plain message for every failure.
    """
    began = time.perf_counter()
    client = open_salesforce(profile, secrets, browser_opener=browser_opener, cancelled=cancelled)
    try:
        org = client.organization()
        usage = client.api_usage()
    except SalesforceQueryError as exc:
        raise ConnectionFailed(
            "Salesforce",
            f"Logged in, but the org could not be read: {exc.message}",
            code=exc.code,
        ) from None
    return SalesforceTestReport(
        login_url=profile.salesforce.login_url(),
        auth_method=profile.salesforce.auth_method.value,
        instance_url=client.connection.instance_url,
        organization_id=org.id,
        organization_name=org.name,
        instance_name=org.instance,
        is_sandbox=org.is_sandbox,
        organization_type=org.organization_type,
        username=_username(client),
        api_used=usage.used if usage else None,
        api_limit=usage.limit if usage else None,
        seconds=time.perf_counter() - began,
        profile_kind=profile_kind(profile),
    )


_SCOPE_PART = re.compile(r"^(tenant|entity)\.([A-Za-z0-9-]{1,64})$")


def _scope_hook(found: dict[str, Any]) -> Callable[..., requests.Response]:
    """A response hook that keeps the tenant and entity ids from Zuora's token answer's scope."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        url = getattr(response.request, "url", "") or ""
        if response.status_code == 200 and urlsplit(url).path.endswith("/oauth/token"):
            try:
                scope = response.json().get("scope") or ""
            except (ValueError, AttributeError):
                scope = ""
            for part in str(scope).split():
                match = _SCOPE_PART.match(part)
                if match and match.group(1) == "tenant":
                    found["tenant"] = match.group(2)
                elif match:
                    found.setdefault("entities", []).append(match.group(2))
        return response

    return hook


def test_zuora(profile: Profile, secrets: SecretsSource | SecretLookup) -> ZuoraTestReport:
    """Get an access token and make one small read; report the environment and tenant.

    Raises ConnectionFailed with a plain message for every failure.
    """
    began = time.perf_counter()
    client = open_zuora(profile, secrets)
    found: dict[str, Any] = {}
    client.session.hooks["response"].append(_scope_hook(found))
    try:
        answer = client.request("GET", "/v1/catalog/products", params={"pageSize": "1"})
    except ZuoraError as exc:
        raise ConnectionFailed("Zuora", exc.message, code=exc.kind) from None
    return ZuoraTestReport(
        environment=profile.zuora.environment_label,
        base_url=client.base_url,
        zuora_version=client.zuora_version,
        token_ok=True,
        tenant_id=found.get("tenant"),
        entity_ids=tuple(found.get("entities", ())),
        entity_id=profile.zuora.entity_id,
        is_production=profile.zuora.is_production,
        rate_limit_remaining=answer.limits.rate_remaining,
        seconds=time.perf_counter() - began,
    )


@dataclass
class SideResult:
    """One side of a profile test: a report, or the failure in plain words."""

    report: SalesforceTestReport | ZuoraTestReport | None = None
    error: str | None = None
    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None

    def lines(self) -> list[str]:
        if self.report is not None:
            return self.report.lines()
        return [f"FAILED: {self.error}"]

    def to_dict(self) -> dict[str, Any]:
        if self.report is not None:
            return {"ok": True, **self.report.to_dict()}
        return {"ok": False, "error": self.error, "code": self.code}


@dataclass
class ProfileTestResult:
    """Both sides of "Test connection"; a failure on one side does not hide the other."""

    profile: str
    salesforce: SideResult = field(default_factory=SideResult)
    zuora: SideResult = field(default_factory=SideResult)

    @property
    def ok(self) -> bool:
        return self.salesforce.ok and self.zuora.ok

    def text(self) -> str:
        parts = []
        for title, side in (("Salesforce", self.salesforce), ("Zuora", self.zuora)):
            status = "OK" if side.ok else "FAILED"
            parts.append(f"{title}: {status}")
            parts.extend(f"  {line}" for line in (side.report.lines() if side.report else []))
            if not side.ok:
                parts.append(f"  {side.error}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "ok": self.ok,
            "salesforce": self.salesforce.to_dict(),
            "zuora": self.zuora.to_dict(),
        }


def _side(run: Callable[[], Any]) -> SideResult:
    try:
        return SideResult(report=run())
    except ConnectionFailed as exc:
        return SideResult(error=exc.message, code=exc.code)


def check_profile(
    profile: Profile,
    secrets: SecretsSource | SecretLookup,
    *,
    sides: Iterable[str] = ("salesforce", "zuora"),
    browser_opener: Callable[[str], Any] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ProfileTestResult:
    """Test the Salesforce and the Zuora side of a profile; never raises ConnectionFailed."""
    wanted = set(sides)
    result = ProfileTestResult(profile.name)
    if "salesforce" in wanted:
        result.salesforce = _side(
            lambda: test_salesforce(
                profile, secrets, browser_opener=browser_opener, cancelled=cancelled
            )
        )
    else:
        result.salesforce = SideResult(error="not tested", code="SKIPPED")
    if "zuora" in wanted:
        result.zuora = _side(lambda: test_zuora(profile, secrets))
    else:
        result.zuora = SideResult(error="not tested", code="SKIPPED")
    return result


# pytest would otherwise collect these when a test module imports them by name.
test_salesforce.__test__ = False  # type: ignore[attr-defined]
test_zuora.__test__ = False  # type: ignore[attr-defined]
