"""Logging in to Salesforce (password, JWT, client credentials, browser, existing session) and staying logged in."""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import secrets as _random
import threading
import time
import warnings
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.parsers.expat import ExpatError

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession
from simple_salesforce.login import DEFAULT_CLIENT_ID_PREFIX, soap_login, token_login

from cpq_sync_gui import secrets as secret_names
from cpq_sync_gui.redact import redact
from cpq_sync_gui.salesforce.ids import is_valid_id, to_18

if TYPE_CHECKING:
    from cpq_sync_gui.secrets import SecretLookup
    from cpq_sync_gui.settings import Profile, SalesforceSettings

__all__ = [
    "BrowserLogin",
    "LoginResult",
    "SalesforceConnection",
    "SalesforceLoginCancelled",
    "SalesforceLoginError",
    "browser_login_result",
    "client_credentials_login",
    "connect",
    "jwt_audience",
    "jwt_login",
    "password_login",
    "refresh_token_login",
    "session_id_login",
]

T = TypeVar("T")

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_S = 180  # Salesforce accepts assertions that expire within a few minutes
DEFAULT_SCOPE = "api refresh_token"
BROWSER_WAIT_S = 300.0
_CLIENT_NAME = f"{DEFAULT_CLIENT_ID_PREFIX}/cpq-sync"


class SalesforceLoginError(Exception):
    """A login that did not work; ``message`` says what to fix, in plain words, without secrets."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.message = redact(message)
        self.code = code
        super().__init__(self.message)


class SalesforceLoginCancelled(SalesforceLoginError):
    """The user cancelled a browser login."""


@dataclass(frozen=True)
class LoginResult:
    """What a login gives: the session and where to use it."""

    session_id: str
    instance_url: str  # https://host[:port]
    org_id: str | None = None
    user_id: str | None = None
    refresh_token: str | None = None  # browser login only: keep it in the secret store

    def __repr__(self) -> str:  # never print the session id or refresh token
        return (
            f"LoginResult(instance_url={self.instance_url!r}, org_id={self.org_id!r}, "
            f"user_id={self.user_id!r})"
        )


# --- messages ------------------------------------------------------------------------------


def _network_message(exc: BaseException) -> str:
    from cpq_sync_gui.net import describe_network_error

    return describe_network_error(exc)


def _wrong_host(login_url: str, detail: str = "") -> SalesforceLoginError:
    extra = f" ({detail})" if detail else ""
    return SalesforceLoginError(
        f"{login_url} did not answer like a Salesforce login server{extra}. Check the login "
        "host in the profile: login.salesforce.com for production, test.salesforce.com for "
        "sandboxes, or your My Domain (like acme.my.salesforce.com).",
        code="WRONG_LOGIN_HOST",
    )


_SOAP_MESSAGES = {
    "LOGIN_MUST_USE_SECURITY_TOKEN": (
        "Salesforce wants the security token for {user} (LOGIN_MUST_USE_SECURITY_TOKEN): "
        "this computer is outside the org's trusted IP ranges. Enter the security token in the "
        "profile (Salesforce: your settings → Reset My Security Token sends a new one by email)."
    ),
    "PASSWORD_LOCKOUT": (
        "The Salesforce user {user} is locked out after too many failed logins "
        "(PASSWORD_LOCKOUT). Wait for the lockout to end or ask a Salesforce admin to unlock "
        "the user (Setup → Users), then check the password."
    ),
    "INVALID_OPERATION_WITH_EXPIRED_PASSWORD": (
        "The Salesforce password of {user} has expired. Log in to Salesforce in a browser to "
        "set a new one, then enter it in the profile."
    ),
    "LOGIN_CHALLENGE_ISSUED": (
        "Salesforce wants to verify the identity of {user} (LOGIN_CHALLENGE_ISSUED). Log in in "
        "a browser from this computer once, or use the browser login method."
    ),
    "LOGIN_CHALLENGE_PENDING": (
        "Salesforce is waiting for an identity verification for {user} "
        "(LOGIN_CHALLENGE_PENDING). Finish it in the browser, or use the browser login method."
    ),
    "API_DISABLED_FOR_ORG": (
        "API access is not enabled for this Salesforce org or for the profile of {user} "
        "(API_DISABLED_FOR_ORG): the user needs the 'API Enabled' permission."
    ),
    "API_CURRENTLY_DISABLED": (
        "Salesforce has API access turned off for {user} (API_CURRENTLY_DISABLED): the user "
        "needs the 'API Enabled' permission."
    ),
    "ORG_LOCKED": "This Salesforce org is locked (ORG_LOCKED); ask Salesforce support.",
    "UNSUPPORTED_API_VERSION": (
        "This Salesforce org does not offer API version {version} (UNSUPPORTED_API_VERSION). "
        "Choose an older API version in the profile."
    ),
    "SSO_SERVICE_DOWN": (
        "{user} logs in through single sign-on and the SSO service did not answer "
        "(SSO_SERVICE_DOWN). Use the browser login method."
    ),
    "INVALID_SSO_GATEWAY_URL": (
        "{user} logs in through single sign-on, which this login method cannot do. Use the "
        "browser login method."
    ),
}
_INVALID_LOGIN = (
    "Salesforce refused the login for {user} (INVALID_LOGIN): the user name, password or "
    "security token is wrong, or the user is locked out after too many failed attempts. "
    "Check the password and the security token (the token is the one from the latest "
    "'Reset My Security Token' email); a Salesforce admin can unlock a locked user in "
    "Setup → Users. Also check the login host (production or sandbox)."
)


def _soap_failure(
    exc: SalesforceAuthenticationFailed, login_url: str, username: str, version: str
) -> SalesforceLoginError:
    code = exc.code
    if isinstance(code, int) or code is None or str(code).isdigit():
        status = f"HTTP {code}" if code is not None else "no login answer"
        return _wrong_host(login_url, status)
    code = str(code)
    if code == "INVALID_LOGIN":
        return SalesforceLoginError(_INVALID_LOGIN.format(user=username), code=code)
    template = _SOAP_MESSAGES.get(code)
    if template is not None:
        return SalesforceLoginError(template.format(user=username, version=version), code=code)
    detail = " ".join((exc.auth_message or "").split())[:300]
    return SalesforceLoginError(
        f"Salesforce refused the login for {username} ({code}): {detail}", code=code
    )


def _oauth_failure(
    error: str | None, description: str | None, *, login_url: str, flow: str, user: str = ""
) -> SalesforceLoginError:
    """Plain words for the token endpoint's ``error`` / ``error_description``."""
    code = (error or "").strip()
    text = (description or "").strip()
    lowered = text.lower()
    who = user or "the user"
    if code == "invalid_client_id":
        message = (
            "Salesforce does not know this consumer key (invalid_client_id). Copy the "
            "consumer key of the connected app again (Setup → App Manager → View → Manage "
            "Consumer Details); a new connected app can take up to 10 minutes to work."
        )
    elif code == "invalid_client":
        message = (
            "Salesforce refused the consumer secret (invalid_client). Copy the consumer "
            "secret of the connected app again."
        )
    elif code == "redirect_uri_mismatch":
        message = (
            "The connected app does not allow this callback URL (redirect_uri_mismatch). Add "
            "the callback URL shown in the profile to the connected app's Callback URL list."
        )
    elif code == "unsupported_grant_type":
        message = (
            f"Salesforce does not accept the {flow} login here (unsupported_grant_type). "
            "Check the login host and the connected app's OAuth settings."
        )
    elif "authentication failure" in lowered:
        message = (
            f"Salesforce refused the login for {who} (authentication failure): the user name "
            "or password is wrong, or the user is locked out or inactive. A Salesforce admin "
            "can unlock a user in Setup → Users."
        )
    elif "invalid assertion" in lowered:
        message = (
            "Salesforce rejected the signed JWT login request (invalid assertion): the private "
            "key does not match the certificate uploaded to the connected app, or this "
            "computer's clock is more than a few minutes off. Upload the certificate that "
            "belongs to this key ('Use digital signatures' in the connected app)."
        )
    elif "audience is invalid" in lowered:
        message = (
            "Salesforce rejected the JWT login request (audience is invalid): the login host "
            "does not match the org. Use login.salesforce.com for production and "
            "test.salesforce.com for sandboxes."
        )
    elif "approved this consumer" in lowered:
        message = (
            f"{who} is not allowed to use the connected app (user hasn't approved this "
            "consumer). In Setup → App Manager → the app → Manage → Edit Policies, set "
            "'Permitted Users' to 'Admin approved users are pre-authorized' and add the user's "
            "profile or permission set. Also check the user name."
        )
    elif "client credentials" in lowered:
        message = (
            "The client credentials login is not set up for this connected app (no client "
            "credentials user enabled). In the connected app, tick 'Enable Client Credentials "
            "Flow', then under Manage → Edit Policies choose a 'Run As' user."
        )
    elif "not supported on this domain" in lowered:
        message = (
            "Salesforce only accepts this login at the org's own My Domain (request not "
            "supported on this domain). Choose 'My Domain' as the login host and enter it, "
            "like acme.my.salesforce.com."
        )
    elif "expired access/refresh token" in lowered or "refresh token" in lowered:
        message = (
            "The saved browser login is no longer valid (expired access/refresh token): it "
            "was revoked or expired. Log in in the browser again."
        )
    elif "authorization code" in lowered:
        message = (
            "The browser login took too long or was used twice (expired authorization code). "
            "Start the browser login again."
        )
    elif "code verifier" in lowered:
        message = (
            "Salesforce did not accept this login attempt's proof key (invalid code verifier). "
            "Start the browser login again."
        )
    elif code == "inactive_user" or "inactive" in lowered:
        message = f"The Salesforce user {who} is inactive; a Salesforce admin can reactivate it."
    elif code == "inactive_org" or ("org" in lowered and "locked" in lowered):
        message = "This Salesforce org is locked or inactive; ask Salesforce support."
    else:
        detail = text or code or "no reason given"
        message = f"Salesforce refused the {flow} login ({code or 'error'}): {detail}"
    return SalesforceLoginError(message, code=code or None)


def _token_failure(
    exc: SalesforceAuthenticationFailed, *, login_url: str, flow: str, user: str = ""
) -> SalesforceLoginError:
    code = exc.code
    if isinstance(code, int) or code is None or str(code).isdigit():
        return _wrong_host(login_url, f"HTTP {code}" if code is not None else "no JSON answer")
    return _oauth_failure(str(code), exc.auth_message, login_url=login_url, flow=flow, user=user)


# --- the login flows -----------------------------------------------------------------------


def _base(url: str) -> str:
    return url.rstrip("/")


def _instance_url(sf_instance: str | None, login_url: str) -> str:
    if not sf_instance or not isinstance(sf_instance, str):
        raise _wrong_host(login_url, "the answer named no instance URL")
    host = sf_instance.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    return f"https://{host}"


def _identity(
    session: requests.Session, instance_url: str, session_id: str
) -> tuple[str | None, str | None]:
    """(org id, user id) of a session from /services/oauth2/userinfo; (org id from the session id, None) if unavailable."""
    org_id = None
    prefix = session_id.split("!", 1)[0]
    if prefix.startswith("00D") and is_valid_id(prefix):
        org_id = to_18(prefix)
    try:
        response = session.get(
            f"{instance_url}/services/oauth2/userinfo",
            headers={"Authorization": f"Bearer {session_id}", "Accept": "application/json"},
        )
    except requests.RequestException:
        return org_id, None
    if response.status_code != 200:
        return org_id, None
    try:
        body = response.json()
    except ValueError:
        return org_id, None
    if not isinstance(body, dict):
        return org_id, None
    user_id = body.get("user_id")
    found_org = body.get("organization_id")
    return (
        to_18(found_org) if is_valid_id(found_org) else org_id,
        to_18(user_id) if is_valid_id(user_id) else None,
    )


def _ids_from_identity_url(url: Any) -> tuple[str | None, str | None]:
    """``…/id/00D…/005…`` (the ``id`` of an OAuth token answer) → (org id, user id)."""
    if not isinstance(url, str):
        return None, None
    parts = urlsplit(url).path.rstrip("/").split("/")
    if len(parts) >= 3 and parts[-3] == "id" and is_valid_id(parts[-2]) and is_valid_id(parts[-1]):
        return to_18(parts[-2]), to_18(parts[-1])
    return None, None


def password_login(
    login_url: str,
    username: str,
    password: str,
    security_token: str | None,
    *,
    session: requests.Session,
    api_version: str,
) -> LoginResult:
    """SOAP ``login()`` at ``login_url`` (any https://host[:port]) with simple-salesforce's soap_login."""
    base = _base(login_url)
    # Built the way simple_salesforce.login.SalesforceLogin builds it; that function only
    # knows https://{domain}.salesforce.com, which cannot express a custom host and port.
    body = f"""<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope
        xmlns:xsd="http://www.w3.org/2001/XMLSchema"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:urn="urn:partner.soap.sforce.com">
    <env:Header>
        <urn:CallOptions>
            <urn:client>{_CLIENT_NAME}</urn:client>
            <urn:defaultNamespace>sf</urn:defaultNamespace>
        </urn:CallOptions>
    </env:Header>
    <env:Body>
        <n1:login xmlns:n1="urn:partner.soap.sforce.com">
            <n1:username>{html.escape(username)}</n1:username>
            <n1:password>{html.escape(password)}{html.escape(security_token or "")}</n1:password>
        </n1:login>
    </env:Body>
</env:Envelope>"""
    headers = {"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"}
    soap_url = f"{base}/services/Soap/u/{api_version}"
    try:
        session_id, sf_instance = soap_login(soap_url, body, headers, None, session)
    except SalesforceAuthenticationFailed as exc:
        raise _soap_failure(exc, base, username, api_version) from None
    except (ExpatError, ValueError, AttributeError):
        raise _wrong_host(base, "the answer was not a SOAP login answer") from None
    except requests.RequestException as exc:
        raise SalesforceLoginError(_network_message(exc), code="NETWORK") from None
    instance_url = _instance_url(sf_instance, base)
    org_id, user_id = _identity(session, instance_url, session_id)
    return LoginResult(session_id, instance_url, org_id, user_id)


def _token_login(
    token_url: str,
    data: dict[str, str],
    consumer_key: str,
    headers: dict[str, str] | None,
    session: requests.Session,
    *,
    login_url: str,
    flow: str,
    user: str = "",
) -> LoginResult:
    try:
        # token_login warns (UserWarning) on "user hasn't approved this consumer"; the
        # message below says the same in plain words.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            access_token, sf_instance = token_login(
                token_url, data, urlsplit(login_url).netloc, consumer_key, headers, None, session
            )
    except SalesforceAuthenticationFailed as exc:
        raise _token_failure(exc, login_url=login_url, flow=flow, user=user) from None
    except (AttributeError, TypeError, ValueError):
        raise _wrong_host(login_url, "the answer was not an OAuth token answer") from None
    except requests.RequestException as exc:
        raise SalesforceLoginError(_network_message(exc), code="NETWORK") from None
    if not isinstance(access_token, str) or not access_token:
        raise _wrong_host(login_url, "the answer held no access token")
    instance_url = _instance_url(sf_instance, login_url)
    org_id, user_id = _identity(session, instance_url, access_token)
    return LoginResult(access_token, instance_url, org_id, user_id)


def load_private_key(path: Path, passphrase: str | None = None) -> rsa.RSAPrivateKey:
    """The connected app's RSA private key from a PEM file, with plain-words errors."""
    try:
        data = Path(path).expanduser().read_bytes()
    except FileNotFoundError:
        raise SalesforceLoginError(
            f"The private key file {path} does not exist. Choose the key file (PEM) that "
            "belongs to the certificate uploaded to the connected app."
        ) from None
    except OSError as exc:
        raise SalesforceLoginError(
            f"The private key file {path} cannot be read: {exc.strerror or exc}"
        ) from None
    if b"-----BEGIN CERTIFICATE-----" in data and b"PRIVATE KEY-----" not in data:
        raise SalesforceLoginError(
            f"{path} holds a certificate, not a private key. The certificate goes into the "
            "connected app; the profile needs the private key file (BEGIN PRIVATE KEY)."
        )
    password = passphrase.encode() if passphrase else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError:
        if password is None:
            raise SalesforceLoginError(
                f"The private key in {path} is protected by a passphrase: enter it in the profile."
            ) from None
        raise SalesforceLoginError(
            f"The private key in {path} is not protected by a passphrase: clear the "
            "passphrase in the profile."
        ) from None
    except ValueError:
        if password is not None:
            raise SalesforceLoginError(
                f"The passphrase does not open the private key in {path}, or the file is not a "
                "PEM private key."
            ) from None
        raise SalesforceLoginError(
            f"{path} is not a private key in PEM format (text starting with '-----BEGIN "
            "PRIVATE KEY-----' or '-----BEGIN RSA PRIVATE KEY-----')."
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SalesforceLoginError(
            f"The key in {path} is not an RSA key; Salesforce JWT logins need an RSA key "
            "(2048 bits or more)."
        )
    return key


def jwt_audience(settings: SalesforceSettings) -> str:
    """The ``aud`` claim: login.salesforce.com or test.salesforce.com, or a custom login URL."""
    from cpq_sync_gui.settings import LoginHost

    if settings.login_host == LoginHost.MY_DOMAIN:
        # A My Domain token endpoint still wants the classic login host as audience.
        host = settings.my_domain.split(":", 1)[0]
        return (
            "https://test.salesforce.com" if ".sandbox." in host else "https://login.salesforce.com"
        )
    return _base(settings.login_url())


def jwt_login(
    login_url: str,
    username: str,
    consumer_key: str,
    private_key: rsa.RSAPrivateKey,
    *,
    session: requests.Session,
    audience: str | None = None,
) -> LoginResult:
    """OAuth JWT bearer: an RS256 assertion signed with the connected app's key, via token_login."""
    base = _base(login_url)
    claims = {
        "iss": consumer_key,
        "sub": username,
        "aud": audience or base,
        "exp": int(time.time()) + JWT_LIFETIME_S,
    }
    assertion = jwt.encode(claims, private_key, algorithm="RS256")
    return _token_login(
        f"{base}/services/oauth2/token",
        {"grant_type": JWT_GRANT, "assertion": assertion},
        consumer_key,
        None,
        session,
        login_url=base,
        flow="JWT",
        user=username,
    )


def client_credentials_login(
    login_url: str, consumer_key: str, consumer_secret: str, *, session: requests.Session
) -> LoginResult:
    """OAuth client credentials (Basic auth with the consumer key and secret), via token_login."""
    base = _base(login_url)
    encoded = base64.b64encode(f"{consumer_key}:{consumer_secret}".encode()).decode()
    return _token_login(
        f"{base}/services/oauth2/token",
        {"grant_type": "client_credentials"},
        consumer_key,
        {"Authorization": f"Basic {encoded}"},
        session,
        login_url=base,
        flow="client credentials",
    )


def _post_token(
    login_url: str, data: dict[str, str], session: requests.Session, *, flow: str
) -> dict[str, Any]:
    """POST the token endpoint ourselves when the whole answer is needed (refresh token, id)."""
    try:
        response = session.post(
            f"{login_url}/services/oauth2/token", data=data, headers={"Accept": "application/json"}
        )
    except requests.RequestException as exc:
        raise SalesforceLoginError(_network_message(exc), code="NETWORK") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _wrong_host(login_url, f"HTTP {response.status_code}, not an OAuth answer")
    if response.status_code != 200:
        raise _oauth_failure(
            body.get("error"), body.get("error_description"), login_url=login_url, flow=flow
        )
    if not body.get("access_token"):
        raise _wrong_host(login_url, "the answer held no access token")
    return body


def _result_from_token_answer(
    body: dict[str, Any], login_url: str, session: requests.Session, refresh_token: str | None
) -> LoginResult:
    instance_url = _instance_url(body.get("instance_url"), login_url)
    org_id, user_id = _ids_from_identity_url(body.get("id"))
    if org_id is None or user_id is None:
        org_id, user_id = _identity(session, instance_url, body["access_token"])
    return LoginResult(
        body["access_token"],
        instance_url,
        org_id,
        user_id,
        body.get("refresh_token") or refresh_token,
    )


def refresh_token_login(
    login_url: str,
    consumer_key: str,
    refresh_token: str,
    *,
    session: requests.Session,
    consumer_secret: str | None = None,
) -> LoginResult:
    """A new session from a browser login's refresh token (no browser needed)."""
    base = _base(login_url)
    data = {
        "grant_type": "refresh_token",
        "client_id": consumer_key,
        "refresh_token": refresh_token,
    }
    if consumer_secret:
        data["client_secret"] = consumer_secret
    body = _post_token(base, data, session, flow="saved browser")
    return _result_from_token_answer(body, base, session, refresh_token)


def session_id_login(
    instance_url: str, session_id: str, *, session: requests.Session
) -> LoginResult:
    """Use an existing session id; checked once so a stale one fails here, in plain words."""
    base = _base(instance_url)
    try:
        response = session.get(
            f"{base}/services/oauth2/userinfo",
            headers={"Authorization": f"Bearer {session_id}", "Accept": "application/json"},
        )
    except requests.RequestException as exc:
        raise SalesforceLoginError(_network_message(exc), code="NETWORK") from None
    if response.status_code in (401, 403):
        raise SalesforceLoginError(
            "Salesforce does not accept this session id (expired, logged out, or for another "
            "org). Copy a fresh session id, or choose another login method.",
            code="INVALID_SESSION_ID",
        )
    if response.status_code != 200:
        raise _wrong_host(base, f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise _wrong_host(base, "the answer was not JSON") from None
    if not isinstance(body, dict):
        raise _wrong_host(base, "the answer was not a user description")
    org_id = body.get("organization_id")
    user_id = body.get("user_id")
    return LoginResult(
        session_id,
        base,
        to_18(org_id) if is_valid_id(org_id) else None,
        to_18(user_id) if is_valid_id(user_id) else None,
    )


# --- browser login (authorization code + PKCE) -------------------------------------------

_DONE_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>CPQ Sync</title></head><body>"
    "<h1>{title}</h1><p>{text}</p></body></html>"
)


class BrowserLogin:
    """Salesforce login in the system browser: authorization code + PKCE (S256), loopback redirect.

    ``start()`` opens a one-shot HTTP server on 127.0.0.1 and returns the authorize URL (and
    hands it to ``opener``, ``webbrowser.open`` by default); ``wait()`` blocks (bounded,
    cancellable with :meth:`cancel`) until the browser comes back, checks ``state``, and
    exchanges the code and verifier for a session. ``result.refresh_token`` is for the
    secret store; :meth:`refresh` logs in again from it without a browser.
    """

    def __init__(
        self,
        login_url: str,
        consumer_key: str,
        *,
        session: requests.Session,
        callback_url: str = "http://127.0.0.1:0/OauthRedirect",
        consumer_secret: str | None = None,
        scope: str = DEFAULT_SCOPE,
        opener: Callable[[str], Any] | None = webbrowser.open,
    ) -> None:
        parts = urlsplit(callback_url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError(
                "the browser login callback must be http://127.0.0.1:PORT/… or "
                "http://localhost:PORT/… (a loopback address)"
            )
        self.login_url = _base(login_url)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.scope = scope
        self.session = session
        self.opener = opener
        self._callback_host = parts.hostname
        self._callback_port = parts.port or 0
        self._callback_path = parts.path or "/"
        self._verifier = _random.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
        self._state = _random.token_urlsafe(24)
        self._answer: dict[str, str] | None = None
        self._stale_answers = 0
        self._arrived = threading.Event()
        self._cancelled = threading.Event()
        self._server: http.server.HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.redirect_uri = ""
        self.authorize_url = ""
        self.result: LoginResult | None = None

    @classmethod
    def for_profile(
        cls,
        profile: Profile,
        secrets: SecretLookup,
        *,
        session: requests.Session | None = None,
        opener: Callable[[str], Any] | None = webbrowser.open,
    ) -> BrowserLogin:
        """A browser login for the profile: its login host, consumer key and callback URL."""
        settings = profile.salesforce
        if not settings.consumer_key:
            raise SalesforceLoginError(
                "The Salesforce consumer key is not set: enter it in the profile."
            )
        if session is None:
            from cpq_sync_gui.net import make_session

            session = make_session(profile.network, secrets)
        return cls(
            settings.login_url(),
            settings.consumer_key,
            session=session,
            callback_url=settings.browser_callback_url(),
            consumer_secret=secrets.get(secret_names.SALESFORCE_CONSUMER_SECRET),
            opener=opener,
        )

    # -- the local server ------------------------------------------------------------------

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        login = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # the query holds the authorization code: never log it

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != login._callback_path:
                    self._page(404, "Not found", "This address is not part of the login.")
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, title, text = login._receive(query)
                self._page(status, title, text)

            def _page(self, status: int, title: str, text: str) -> None:
                body = _DONE_PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _receive(self, query: dict[str, str]) -> tuple[int, str, str]:
        if self._arrived.is_set():
            return 409, "Already done", "This login has already finished; close this window."
        if not _random.compare_digest(query.get("state", "").encode(), self._state.encode()):
            self._stale_answers += 1
            return (
                400,
                "Login not accepted",
                "This answer does not belong to the login CPQ Sync is waiting for (its state "
                "does not match). Start the login again from CPQ Sync.",
            )
        self._answer = query
        self._arrived.set()
        if "error" in query:
            return 200, "Login not completed", "Return to CPQ Sync to see what happened."
        return 200, "Logged in", "You can close this window and return to CPQ Sync."

    def start(self) -> str:
        """Start the loopback server, open the browser, and return the authorize URL."""
        if self._server is not None:
            return self.authorize_url
        try:
            server = http.server.HTTPServer(("127.0.0.1", self._callback_port), self._handler())
        except OSError as exc:
            raise SalesforceLoginError(
                f"Cannot listen for the browser's answer on port {self._callback_port} "
                f"({exc.strerror or exc}): another program (another login window, Salesforce "
                "CLI) may use it. Close it, or choose another callback port in the profile and "
                "add that callback URL to the connected app."
            ) from None
        self._server = server
        port = server.server_address[1]
        self.redirect_uri = f"http://{self._callback_host}:{port}{self._callback_path}"
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(self._verifier.encode("ascii")).digest())
            .rstrip(b"=")
            .decode("ascii")
        )
        params = {
            "response_type": "code",
            "client_id": self.consumer_key,
            "redirect_uri": self.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": self._state,
        }
        if self.scope:
            params["scope"] = self.scope
        self.authorize_url = f"{self.login_url}/services/oauth2/authorize?{urlencode(params)}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="salesforce-browser-login",
            daemon=True,
        )
        self._thread.start()
        if self.opener is not None:
            try:
                opened = self.opener(self.authorize_url)
            except Exception:  # a missing browser must not hide the URL from the user
                opened = False
            if opened is False:
                self.close()
                raise SalesforceLoginError(
                    "Could not open a web browser. Open this address in a browser yourself, "
                    f"then come back: {self.authorize_url}",
                    code="NO_BROWSER",
                )
        return self.authorize_url

    def cancel(self) -> None:
        """Stop waiting (from another thread); :meth:`wait` raises SalesforceLoginCancelled."""
        self._cancelled.set()

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> BrowserLogin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, timeout_s: float = BROWSER_WAIT_S) -> LoginResult:
        """Wait for the browser's answer, then exchange the code; always closes the server."""
        if self._server is None and self.result is None:
            self.start()
        deadline = time.monotonic() + timeout_s
        try:
            while not self._arrived.wait(0.05):
                if self._cancelled.is_set():
                    raise SalesforceLoginCancelled("The browser login was cancelled.")
                if time.monotonic() >= deadline:
                    stale = (
                        " An answer from an older login attempt arrived and was ignored: use "
                        "the newest browser tab."
                        if self._stale_answers
                        else ""
                    )
                    raise SalesforceLoginError(
                        f"No answer from the browser within {timeout_s:g} seconds. Finish the "
                        f"login in the browser window, or start it again.{stale}",
                        code="BROWSER_TIMEOUT",
                    )
        finally:
            self.close()
        answer = self._answer or {}
        if "error" in answer:
            if answer["error"] == "access_denied":
                raise SalesforceLoginError(
                    "The login was denied in the browser (access_denied). Start it again and "
                    "choose Allow.",
                    code="access_denied",
                )
            raise _oauth_failure(
                answer.get("error"),
                answer.get("error_description"),
                login_url=self.login_url,
                flow="browser",
            )
        code = answer.get("code")
        if not code:
            raise SalesforceLoginError(
                "The browser came back without an authorization code. Start the login again.",
                code="NO_CODE",
            )
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.consumer_key,
            "redirect_uri": self.redirect_uri,
            "code_verifier": self._verifier,
        }
        if self.consumer_secret:
            data["client_secret"] = self.consumer_secret
        body = _post_token(self.login_url, data, self.session, flow="browser")
        self.result = _result_from_token_answer(body, self.login_url, self.session, None)
        return self.result

    def run(self, timeout_s: float = BROWSER_WAIT_S) -> LoginResult:
        """start() + wait()."""
        self.start()
        return self.wait(timeout_s)

    @property
    def refresh_token(self) -> str | None:
        return self.result.refresh_token if self.result is not None else None

    def refresh(self) -> LoginResult:
        """A new session from the refresh token this login received."""
        token = self.refresh_token
        if not token:
            raise SalesforceLoginError(
                "This browser login gave no refresh token: add the 'refresh_token, "
                "offline_access' scope to the connected app, then log in again.",
                code="NO_REFRESH_TOKEN",
            )
        result = refresh_token_login(
            self.login_url,
            self.consumer_key,
            token,
            session=self.session,
            consumer_secret=self.consumer_secret,
        )
        self.result = result
        return result


def browser_login_result(login: BrowserLogin) -> LoginResult:
    """The finished result of a BrowserLogin (for :func:`connect`)."""
    if login.result is None:
        raise SalesforceLoginError("The browser login has not finished yet.")
    return login.result


# --- the connection ------------------------------------------------------------------------


def _is_expired_session(exc: BaseException) -> bool:
    return isinstance(exc, SalesforceExpiredSession)


class SalesforceConnection:
    """A logged-in Salesforce session with the profile's HTTP session, and at most one re-login per failing call.

    ``sf`` is an unmodified ``simple_salesforce.Salesforce`` made from the session id (so it
    never logs in again by itself — its own retry loops on INVALID_SESSION_ID are off).
    Always go through :meth:`call_with_relogin`; do not use ``sf.<SObject>.get``.
    """

    def __init__(
        self,
        result: LoginResult,
        *,
        session: requests.Session,
        api_version: str,
        login: Callable[[], LoginResult] | None = None,
        method: str = "",
    ) -> None:
        self.session = session
        self.api_version = api_version.removeprefix("v")
        self.method = method
        self._login = login
        self._lock = threading.Lock()
        self._result = result
        self._sf = self._make_sf(result)
        self.relogin_count = 0

    def _make_sf(self, result: LoginResult) -> Salesforce:
        return Salesforce(
            session_id=result.session_id,
            instance_url=result.instance_url,
            session=self.session,
            version=self.api_version,
        )

    @property
    def sf(self) -> Salesforce:
        with self._lock:
            return self._sf

    @property
    def instance_url(self) -> str:
        return self._result.instance_url

    @property
    def org_id(self) -> str | None:
        return self._result.org_id

    @property
    def user_id(self) -> str | None:
        return self._result.user_id

    @property
    def refresh_token(self) -> str | None:
        return self._result.refresh_token

    @property
    def can_relogin(self) -> bool:
        return self._login is not None

    def relogin(self) -> None:
        """Log in again with the same method (raises SalesforceLoginError in plain words)."""
        with self._lock:
            self._relogin_locked()

    def _relogin_locked(self) -> None:
        if self._login is None:
            how = (
                "log in in the browser again"
                if self.method == "browser"
                else "copy a fresh session id, or choose another login method"
            )
            raise SalesforceLoginError(
                "The Salesforce session has expired and this login cannot be renewed "
                f"without you: {how}.",
                code="INVALID_SESSION_ID",
            )
        result = self._login()
        if result.refresh_token is None and self._result.refresh_token is not None:
            result = replace(result, refresh_token=self._result.refresh_token)
        self._result = result
        self._sf = self._make_sf(result)
        self.relogin_count += 1

    def call_with_relogin(self, fn: Callable[[Salesforce], T]) -> T:
        """``fn(sf)``; on an expired session, log in again ONCE and call ``fn`` once more.

        A second expiry propagates (SalesforceExpiredSession): never a loop. When several
        threads hit the expiry together, only the first logs in again.
        """
        with self._lock:
            sf = self._sf
        try:
            return fn(sf)
        except SalesforceExpiredSession:
            with self._lock:
                if self._sf is sf:
                    self._relogin_locked()
                sf = self._sf
        return fn(sf)


# --- from a profile -----------------------------------------------------------------------


def _required(secrets: SecretLookup, name: str, what: str) -> str:
    value = secrets.get(name)
    if not value:
        raise SalesforceLoginError(f"The {what} is not set: enter it in the profile.")
    return value


def connect(
    profile: Profile,
    secrets: SecretLookup,
    *,
    session: requests.Session | None = None,
    browser_result: LoginResult | None = None,
) -> SalesforceConnection:
    """Log in with the profile's Salesforce settings and secrets; SalesforceLoginError in plain words.

    Browser login: pass the finished :class:`BrowserLogin`'s result; without one, the refresh
    token saved in the secret store is used. Re-logins reuse the same method.
    """
    from cpq_sync_gui.settings import SalesforceAuthMethod

    settings = profile.salesforce
    missing = settings.missing_settings()
    if missing:
        raise SalesforceLoginError(
            "The profile is missing: " + ", ".join(missing) + ".", code="INCOMPLETE_PROFILE"
        )
    if session is None:
        from cpq_sync_gui.net import NetworkSettingsError, make_session

        try:
            session = make_session(profile.network, secrets)
        except NetworkSettingsError as exc:
            raise SalesforceLoginError(str(exc), code="NETWORK_SETTINGS") from None
    web = session
    login_url = settings.login_url()
    version = settings.api_version
    method = settings.auth_method
    login: Callable[[], LoginResult] | None

    if method == SalesforceAuthMethod.PASSWORD:
        password = _required(secrets, secret_names.SALESFORCE_PASSWORD, "Salesforce password")
        token = secrets.get(secret_names.SALESFORCE_SECURITY_TOKEN) or ""
        username = settings.username

        def login() -> LoginResult:
            return password_login(
                login_url, username, password, token, session=web, api_version=version
            )

    elif method == SalesforceAuthMethod.JWT:
        assert settings.private_key_file is not None  # missing_settings() checked it
        key = load_private_key(
            settings.private_key_file, secrets.get(secret_names.SALESFORCE_KEY_PASSPHRASE)
        )
        audience = jwt_audience(settings)
        username, consumer_key = settings.username, settings.consumer_key

        def login() -> LoginResult:
            return jwt_login(login_url, username, consumer_key, key, session=web, audience=audience)

    elif method == SalesforceAuthMethod.CLIENT_CREDENTIALS:
        secret = _required(
            secrets, secret_names.SALESFORCE_CONSUMER_SECRET, "Salesforce consumer secret"
        )
        consumer_key = settings.consumer_key

        def login() -> LoginResult:
            return client_credentials_login(login_url, consumer_key, secret, session=web)

    elif method == SalesforceAuthMethod.BROWSER:
        refresh = (browser_result.refresh_token if browser_result else None) or secrets.get(
            secret_names.SALESFORCE_REFRESH_TOKEN
        )
        consumer_secret = secrets.get(secret_names.SALESFORCE_CONSUMER_SECRET)
        consumer_key = settings.consumer_key
        if browser_result is None and not refresh:
            raise SalesforceLoginError(
                "Log in with the browser first (no saved browser login for this profile).",
                code="NO_REFRESH_TOKEN",
            )
        login = None
        if refresh:
            saved = refresh

            def login() -> LoginResult:
                return refresh_token_login(
                    login_url,
                    consumer_key,
                    saved,
                    session=web,
                    consumer_secret=consumer_secret,
                )

        result = browser_result or login()  # type: ignore[misc]
        return SalesforceConnection(
            result, session=web, api_version=version, login=login, method=method.value
        )

    elif method == SalesforceAuthMethod.SESSION:
        session_id = _required(secrets, secret_names.SALESFORCE_SESSION_ID, "Salesforce session id")
        result = session_id_login(settings.instance_url, session_id, session=web)
        return SalesforceConnection(
            result, session=web, api_version=version, login=None, method=method.value
        )
    else:  # pragma: no cover - the enum is closed
        raise SalesforceLoginError(f"Unknown login method {method!r}")

    return SalesforceConnection(
        login(), session=web, api_version=version, login=login, method=method.value
    )
