"""Sandbox Salesforce logins: SOAP login(), the OAuth 2.0 endpoints and the sessions they open."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.http import Request, Response
from cpq_sync_gui.sandbox.salesforce_metadata import child_text, find_local, parse_xml, xml_escape

LOGIN_HOSTS = ("https://login.salesforce.com", "https://test.salesforce.com")
INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
MUST_USE_TOKEN = (
    "Invalid username, password, security token; or user locked out. Are you at a new location? "
    "When accessing Salesforce--either via a desktop client or the API--from outside of your "
    "company's trusted networks, you must add a security token to your password to log in. To get "
    "your new security token, log in to Salesforce. From your personal settings, enter Reset My "
    "Security Token in the Quick Find box, then select Reset My Security Token."
)
WEB_LOGIN_ERROR = (
    "Please check your username and password. If you still can't log in, contact your "
    "Salesforce administrator."
)
AUTH_CODE_LIFETIME_S = 15 * 60  # Salesforce authorization codes are valid for 15 minutes
_MAX_CODES = 1000
_MAX_SESSIONS = 10000


# --- users and sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """A user of the simulated org who can log in."""

    username: str
    user_id: str
    first_name: str
    last_name: str
    email: str

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Session:
    token: str
    identity: Identity
    created: float
    refresh_token: str | None = None
    scope: str = "api"


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str | None
    identity: Identity
    scope: str
    expires: float
    used: bool = False


@dataclass
class SessionStore:
    """Sessions (access tokens) and refresh tokens; sessions expire ``lifetime_s`` after login."""

    org_id: str
    lifetime_s: float
    clock: Callable[[], float] = time.time
    _sessions: dict[str, Session] = field(default_factory=dict)
    _refresh: dict[str, tuple[Identity, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def create(
        self, identity: Identity, refresh_token: str | None = None, scope: str = "api"
    ) -> Session:
        token = f"{self.org_id[:15]}!AQ{secrets.token_urlsafe(72).replace('-', '.')}"
        now = self.clock()
        session = Session(token, identity, now, refresh_token, scope)
        with self._lock:
            if len(self._sessions) >= _MAX_SESSIONS:
                self._sessions = {
                    k: s for k, s in self._sessions.items() if now - s.created < self.lifetime_s
                }
            self._sessions[token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for ``token``; None when unknown, revoked or older than the lifetime."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self.clock() - session.created >= self.lifetime_s:
                del self._sessions[token]
                return None
            return session

    def revoke(self, token: str) -> bool:
        with self._lock:
            if self._sessions.pop(token, None) is not None:
                return True
            entry = self._refresh.pop(token, None)
            if entry is None:
                return False
            # Revoking a refresh token revokes every access token issued from it.
            self._sessions = {k: s for k, s in self._sessions.items() if s.refresh_token != token}
            return True

    def expire_all(self) -> None:
        with self._lock:
            self._sessions.clear()

    def issue_refresh_token(self, identity: Identity, client_id: str) -> str:
        token = f"5Aep861{secrets.token_urlsafe(60).replace('-', '.')}"
        with self._lock:
            self._refresh[token] = (identity, client_id)
        return token

    def refresh_owner(self, token: str) -> tuple[Identity, str] | None:
        with self._lock:
            return self._refresh.get(token)


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return Response.json({"error": error, "error_description": description}, status)


def login_fault(code: str, message: str) -> Response:
    """A partner-API LoginFault (HTTP 500) with sf:exceptionCode and sf:exceptionMessage."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode><faultstring>{xml_escape(f'{code}: {message}')}</faultstring>"
        '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{xml_escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response.text(body, 500, "text/xml; charset=utf-8")


def loopback_redirect_ok(uri: str) -> bool:
    """The sandbox connected app accepts any loopback callback with an explicit port (RFC 8252)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and port is not None
    )


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class SalesforceAuth:
    """The login endpoints of the simulated org (it is its own login host)."""

    def __init__(
        self,
        org_id: str,
        org_name: str,
        config: SandboxConfig,
        credentials: SandboxCredentials,
        users: dict[str, Identity],
        sessions: SessionStore,
    ) -> None:
        self.org_id = org_id
        self.org_name = org_name
        self.config = config
        self.creds = credentials
        self.users = users  # by lower-cased username
        self.sessions = sessions
        self._codes: dict[str, _AuthCode] = {}
        self._lock = threading.Lock()
        cert = x509.load_pem_x509_certificate(credentials.sf_jwt_certificate_pem.encode())
        public_key = cert.public_key()
        assert isinstance(public_key, RSAPublicKey)
        self._jwt_key = public_key

    # --- helpers ---------------------------------------------------------------------------

    def _user(self, username: str | None) -> Identity | None:
        return self.users.get((username or "").strip().lower())

    def _locked(self, identity: Identity) -> bool:
        return identity.username.lower() == self.creds.sf_locked_username.lower()

    def _token_answer(
        self, request: Request, session: Session, refresh_token: str | None = None
    ) -> Response:
        identity_url = f"{request.base_url}/id/{self.org_id}/{session.identity.user_id}"
        issued_at = str(int(session.created * 1000))
        mac = hmac.new(
            self.creds.sf_consumer_secret.encode(),
            (identity_url + issued_at).encode(),
            hashlib.sha256,
        ).digest()
        answer = {
            "access_token": session.token,
            "instance_url": request.base_url,
            "id": identity_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(mac).decode(),
            "scope": session.scope,
        }
        if refresh_token:
            answer["refresh_token"] = refresh_token
        return Response.json(
            answer, headers={"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}
        )

    # --- SOAP login ------------------------------------------------------------------------

    def soap_login(self, request: Request, version: str) -> Response:
        try:
            root = parse_xml(request.body)
        except ValueError:
            return login_fault("INVALID_LOGIN", INVALID_LOGIN)
        login = find_local(root, "login")
        username = child_text(login, "username") if login is not None else None
        password = (child_text(login, "password") if login is not None else None) or ""
        identity = self._user(username)
        expected = self.creds.sf_password + self.creds.sf_security_token
        if identity is None or self._locked(identity) or password != expected:
            if (
                identity is not None
                and not self._locked(identity)
                and password == self.creds.sf_password
            ):
                return login_fault("LOGIN_MUST_USE_SECURITY_TOKEN", MUST_USE_TOKEN)
            return login_fault("INVALID_LOGIN", INVALID_LOGIN)
        session = self.sessions.create(identity)
        base = request.base_url
        user = identity
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{base}/services/Soap/m/{version}/{self.org_id}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
            f"<serverUrl>{base}/services/Soap/u/{version}/{self.org_id}</serverUrl>"
            f"<sessionId>{xml_escape(session.token)}</sessionId><userId>{user.user_id}</userId>"
            "<userInfo><accessibilityMode>false</accessibilityMode>"
            '<currencySymbol xsi:nil="true"/>'
            '<orgDefaultCurrencyIsoCode xsi:nil="true"/>'
            f"<organizationId>{self.org_id}</organizationId>"
            f"<organizationMultiCurrency>{str(self.config.multi_currency).lower()}</organizationMultiCurrency>"
            f"<organizationName>{xml_escape(self.org_name)}</organizationName>"
            f"<sessionSecondsValid>{int(self.config.session_lifetime_s)}</sessionSecondsValid>"
            f"<userEmail>{xml_escape(user.email)}</userEmail>"
            f"<userFullName>{xml_escape(user.display_name)}</userFullName>"
            f"<userId>{user.user_id}</userId><userLanguage>en_US</userLanguage>"
            f"<userLocale>en_US</userLocale><userName>{xml_escape(user.username)}</userName>"
            "<userTimeZone>America/Los_Angeles</userTimeZone><userType>Standard</userType>"
            "<userUiSkin>Theme3</userUiSkin></userInfo>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Response.text(body, 200, "text/xml; charset=utf-8")

    # --- OAuth token endpoint --------------------------------------------------------------

    def _client(self, request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        auth = request.header("authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode()
            except (ValueError, UnicodeDecodeError):
                return None, None
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        return form.get("client_id"), form.get("client_secret")

    def token(self, request: Request) -> Response:
        form = request.form()
        grant = form.get("grant_type", "")
        if grant == "password":
            return self._password_grant(request, form)
        if grant == "client_credentials":
            return self._client_credentials_grant(request, form)
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_grant(request, form)
        if grant == "authorization_code":
            return self._code_grant(request, form)
        if grant == "refresh_token":
            return self._refresh_grant(request, form)
        return _oauth_error("unsupported_grant_type", "grant type not supported")

    def _check_client(self, client_id: str | None, secret: str | None) -> Response | None:
        if client_id != self.creds.sf_consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if secret is None or not hmac.compare_digest(secret, self.creds.sf_consumer_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        return None

    def _password_grant(self, request: Request, form: dict[str, str]) -> Response:
        client_id, secret = self._client(request, form)
        failure = self._check_client(client_id, secret)
        if failure:
            return failure
        identity = self._user(form.get("username"))
        expected = self.creds.sf_password + self.creds.sf_security_token
        if identity is None or self._locked(identity) or form.get("password") != expected:
            return _oauth_error("invalid_grant", "authentication failure")
        return self._token_answer(request, self.sessions.create(identity))

    def _client_credentials_grant(self, request: Request, form: dict[str, str]) -> Response:
        client_id, secret = self._client(request, form)
        failure = self._check_client(client_id, secret)
        if failure:
            return failure
        identity = self._user(self.creds.sf_username)
        if identity is None:
            return _oauth_error("invalid_grant", "no client credentials user enabled")
        return self._token_answer(request, self.sessions.create(identity))

    def _jwt_grant(self, request: Request, form: dict[str, str]) -> Response:
        assertion = form.get("assertion", "")
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        if claims.get("iss") != self.creds.sf_consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        try:
            jwt.decode(
                assertion,
                self._jwt_key,
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "require": ["exp"]},
            )
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        allowed = {*LOGIN_HOSTS, request.base_url}
        if not any(isinstance(a, str) and a.rstrip("/") in allowed for a in audiences):
            return _oauth_error("invalid_grant", "audience is invalid")
        try:
            expires = float(claims.get("exp"))
        except (TypeError, ValueError):
            return _oauth_error("invalid_grant", "invalid assertion")
        if expires <= self.sessions.clock():
            return _oauth_error("invalid_grant", "invalid assertion")
        identity = self._user(claims.get("sub"))
        if identity is None:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        if self._locked(identity):
            return _oauth_error("invalid_grant", "authentication failure")
        return self._token_answer(request, self.sessions.create(identity))

    def _code_grant(self, request: Request, form: dict[str, str]) -> Response:
        client_id, secret = self._client(request, form)
        if client_id != self.creds.sf_consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if secret and not hmac.compare_digest(secret, self.creds.sf_consumer_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        now = self.sessions.clock()
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used or code.expires <= now or code.client_id != client_id:
                return _oauth_error("invalid_grant", "expired authorization code")
            code.used = True  # single use, whatever happens next
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("redirect_uri_mismatch", "redirect_uri must match configuration")
        verifier = form.get("code_verifier")
        if code.challenge is not None:
            if not verifier or not hmac.compare_digest(s256(verifier), code.challenge):
                return _oauth_error("invalid_grant", "invalid code verifier")
        elif not secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        refresh = None
        if any(s in code.scope.split() for s in ("refresh_token", "offline_access")):
            refresh = self.sessions.issue_refresh_token(code.identity, client_id)
        session = self.sessions.create(code.identity, refresh, code.scope)
        return self._token_answer(request, session, refresh)

    def _refresh_grant(self, request: Request, form: dict[str, str]) -> Response:
        client_id, secret = self._client(request, form)
        if client_id != self.creds.sf_consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if secret and not hmac.compare_digest(secret, self.creds.sf_consumer_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        token = form.get("refresh_token", "")
        owner = self.sessions.refresh_owner(token)
        if owner is None or owner[1] != client_id:
            return _oauth_error("invalid_grant", "expired access/refresh token")
        session = self.sessions.create(owner[0], token, "api refresh_token")
        return self._token_answer(request, session)

    def revoke(self, request: Request) -> Response:
        token = request.form().get("token") if request.method == "POST" else None
        token = token or request.arg("token")
        if not token or not self.sessions.revoke(token):
            return _oauth_error("unsupported_token_type", "this token type is not supported")
        return Response(
            200, b"", {"Cache-Control": "no-cache,must-revalidate,max-age=0,no-store,private"}
        )

    # --- browser login (authorization code + PKCE) ----------------------------------------

    def authorize(self, request: Request) -> Response:
        params = (
            request.form()
            if request.method == "POST"
            else {k: v[0] for k, v in request.query.items()}
        )
        if params.get("client_id") != self.creds.sf_consumer_key:
            return _error_page("invalid_client_id", "client identifier invalid")
        redirect_uri = params.get("redirect_uri", "")
        if not loopback_redirect_ok(redirect_uri):
            return _error_page("redirect_uri_mismatch", "redirect_uri must match configuration")
        state = params.get("state")
        if params.get("response_type") != "code":
            return _redirect(
                redirect_uri,
                error="unsupported_response_type",
                error_description="response type not supported",
                state=state,
            )
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method") or ("S256" if challenge else "")
        if challenge and method != "S256":
            return _redirect(
                redirect_uri,
                error="invalid_request",
                error_description="invalid code_challenge_method",
                state=state,
            )
        if request.method != "POST":
            return _login_page(params, error=None)
        if params.get("action") == "deny":
            return _redirect(
                redirect_uri,
                error="access_denied",
                error_description="end-user denied authorization",
                state=state,
            )
        identity = self._user(params.get("username"))
        if identity is None or self._locked(identity) or params.get("pw") != self.creds.sf_password:
            return _login_page(params, error=WEB_LOGIN_ERROR)
        code = "aPrx" + secrets.token_urlsafe(48).replace("-", ".")
        scope = params.get("scope") or "api refresh_token"
        now = self.sessions.clock()
        with self._lock:
            if len(self._codes) >= _MAX_CODES:
                self._codes = {
                    k: c for k, c in self._codes.items() if c.expires > now and not c.used
                }
            self._codes[code] = _AuthCode(
                self.creds.sf_consumer_key,
                redirect_uri,
                challenge,
                identity,
                scope,
                now + AUTH_CODE_LIFETIME_S,
            )
        return _redirect(redirect_uri, code=code, state=state)

    # --- identity --------------------------------------------------------------------------

    def identity_json(self, request: Request, session: Session, openid: bool) -> dict:
        user = session.identity
        base = request.base_url
        soap = {"enterprise": "c", "metadata": "m", "partner": "u", "tooling_soap": "T"}
        rest = {"rest": "", "sobjects": "sobjects/", "search": "search/", "query": "query/",
                "recent": "recent/", "tooling_rest": "tooling/", "users": "chatter/users"}  # fmt: skip
        # Salesforce leaves the literal "{version}" placeholder in these URLs.
        urls = {k: f"{base}/services/Soap/{v}/{{version}}/{self.org_id}" for k, v in soap.items()}
        urls |= {k: f"{base}/services/data/v{{version}}/{v}" for k, v in rest.items()}
        urls |= {"profile": f"{base}/{user.user_id}", "custom_domain": base}
        identity_url = f"{base}/id/{self.org_id}/{user.user_id}"
        common = {
            "user_id": user.user_id,
            "organization_id": self.org_id,
            "email": user.email,
            "email_verified": True,
            "urls": urls,
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -28800000,
        }
        if openid:
            return {
                "sub": identity_url,
                "preferred_username": user.username,
                "nickname": user.username.split("@")[0],
                "name": user.display_name,
                "given_name": user.first_name,
                "family_name": user.last_name,
                "zoneinfo": "America/Los_Angeles",
                "profile": urls["profile"],
                "updated_at": "2024-01-01T00:00:00Z",
                **common,
            }
        return {
            "id": identity_url,
            "asserted_user": True,
            "username": user.username,
            "nick_name": user.username.split("@")[0],
            "display_name": user.display_name,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "timezone": "America/Los_Angeles",
            "is_lightning_login_user": False,
            "last_modified_date": "2024-01-01T00:00:00.000+0000",
            "is_app_installed": True,
            **common,
        }


# --- pages ---------------------------------------------------------------------------------

_HIDDEN = ("response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge",
           "code_challenge_method")  # fmt: skip


def _redirect(uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    separator = "&" if "?" in uri else "?"
    return Response(302, b"", {"Location": f"{uri}{separator}{query}", "Cache-Control": "no-store"})


def _login_page(params: dict[str, str], error: str | None) -> Response:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in _HIDDEN
        if params.get(name)
    )
    message = (
        f'<div id="error" class="loginError" role="alert">{html.escape(error)}</div>'
        if error
        else ""
    )
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Login | Salesforce (sandbox)</title>'
        "</head><body><h1>CPQ Sync sandbox org</h1>"
        f'{message}<form id="login_form" method="post" action="/services/oauth2/authorize">{hidden}'
        '<label for="username">Username</label><input id="username" name="username" '
        f'value="{html.escape(params.get("username", ""))}">'
        '<label for="password">Password</label><input id="password" name="pw" type="password">'
        '<button id="Login" name="action" value="login" type="submit">Log In</button>'
        '<button id="oaapprove_deny" name="action" value="deny" type="submit">Deny</button>'
        "</form></body></html>"
    )
    return Response.text(page, 200, "text/html; charset=utf-8", {"Cache-Control": "no-store"})


def _error_page(error: str, description: str) -> Response:
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>OAuth Error</title></head><body>'
        "<h1>OAuth Error</h1><p>We can't authorize you because of an OAuth error. For more "
        "information, contact your Salesforce administrator.</p>"
        f"<p>error={html.escape(error)}&amp;error_description={html.escape(description)}</p>"
        "</body></html>"
    )
    return Response.text(page, 400, "text/html; charset=utf-8")
