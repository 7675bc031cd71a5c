"""The sandbox Salesforce login host against unmodified simple-salesforce: every login flow."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession
from simple_salesforce.login import soap_login, token_login

from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.credentials import SandboxCredentials
from cpq_sync_gui.sandbox.data import generate_org
from cpq_sync_gui.sandbox.http import FaultPlan, RequestLog, ServiceServer
from cpq_sync_gui.sandbox.salesforce import SalesforceService
from cpq_sync_gui.sandbox.tls import SandboxTLS

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
VERSION = "62.0"
REDIRECT = "http://127.0.0.1:8719/oauth/callback"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Sandbox:
    def __init__(self, service: SalesforceService, server: ServiceServer, log: RequestLog,
                 creds: SandboxCredentials, clock: Clock, http: requests.Session) -> None:  # fmt: skip
        self.service, self.server, self.log = service, server, log
        self.creds, self.clock, self.http = creds, clock, http
        self.url = server.url


@pytest.fixture(autouse=True)
def system_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on the development machines: the env var would override session.verify.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> SandboxTLS:
    return SandboxTLS(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sandbox(tls: SandboxTLS) -> Iterator[Sandbox]:
    config = SandboxConfig(accounts=20, orders=10, session_lifetime_s=600)
    creds = SandboxCredentials.generate()
    clock = Clock()
    service = SalesforceService(generate_org(config).org, config, creds, clock=clock)
    log = RequestLog()
    server = ServiceServer(service, tls.server_context(), FaultPlan(), log).start()
    http = requests.Session()
    http.verify = str(tls.ca_path)
    http.trust_env = False
    try:
        yield Sandbox(service, server, log, creds, clock, http)
    finally:
        http.close()
        server.stop()
        assert server.errors == []


def soap_body(username: str, password: str) -> str:
    # The body SalesforceLogin sends for username + password + security token.
    return f"""<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:urn="urn:partner.soap.sforce.com">
    <env:Header><urn:CallOptions><urn:client>simple-salesforce</urn:client>
        <urn:defaultNamespace>sf</urn:defaultNamespace></urn:CallOptions></env:Header>
    <env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">
        <n1:username>{escape(username)}</n1:username><n1:password>{escape(password)}</n1:password>
    </n1:login></env:Body>
</env:Envelope>"""


SOAP_HEADERS = {"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"}


def soap(sb: Sandbox, username: str, password: str) -> tuple[str, str]:
    url = f"{sb.url}/services/Soap/u/{VERSION}"
    return soap_login(url, soap_body(username, password), dict(SOAP_HEADERS), None, sb.http)


def token(
    sb: Sandbox, data: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[str, str]:
    url = f"{sb.url}/services/oauth2/token"
    return token_login(url, data, "login", sb.creds.sf_consumer_key, headers, None, sb.http)


def client(sb: Sandbox, session_id: str, instance: str) -> Salesforce:
    return Salesforce(session_id=session_id, instance=instance, session=sb.http, version=VERSION)


def account_count(sf: Salesforce) -> int:
    return sf.query("SELECT COUNT() FROM Account")["totalSize"]


# --- SOAP login ------------------------------------------------------------------------------


def test_soap_login_opens_a_session_on_the_same_host(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    session_id, instance = soap(
        sandbox, creds.sf_username, creds.sf_password + creds.sf_security_token
    )
    assert instance == sandbox.url.removeprefix("https://")
    assert session_id.startswith(sandbox.service.org_id[:15] + "!")
    assert account_count(client(sandbox, session_id, instance)) == 20


@pytest.mark.parametrize(
    ("password", "code"),
    [("wrong", "INVALID_LOGIN"), ("", "INVALID_LOGIN"), (None, "LOGIN_MUST_USE_SECURITY_TOKEN")],
)
def test_soap_login_refuses_wrong_password_or_token(
    sandbox: Sandbox, password: str | None, code: str
) -> None:
    creds = sandbox.creds
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        soap(sandbox, creds.sf_username, creds.sf_password if password is None else password)
    assert failure.value.code == code
    assert (
        "Invalid username, password, security token; or user locked out."
        in failure.value.auth_message
    )
    assert sandbox.log.entries(path_glob="/services/Soap/u/*")[-1].status == 500


def test_soap_login_of_locked_user_fails_even_with_the_right_password(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        soap(sandbox, creds.sf_locked_username, creds.sf_password + creds.sf_security_token)
    assert failure.value.code == "INVALID_LOGIN"
    assert (
        failure.value.auth_message
        == "Invalid username, password, security token; or user locked out."
    )


def test_full_soap_login_relogs_in_after_the_session_expires(sandbox: Sandbox) -> None:
    """Salesforce(username=…) end to end; its hard-coded https://login.salesforce.com is rerouted."""

    class Loopback(requests.Session):
        def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
            url = re.sub(r"^https://login\.salesforce\.com", sandbox.url, url)
            return super().request(method, url, *args, **kwargs)

    http = Loopback()
    http.verify, http.trust_env = sandbox.http.verify, False
    creds = sandbox.creds
    sf = Salesforce(username=creds.sf_username, password=creds.sf_password,
                    security_token=creds.sf_security_token, session=http, version=VERSION)  # fmt: skip
    assert account_count(sf) == 20
    sandbox.service.expire_all_sessions()
    assert account_count(sf) == 20  # the 401 INVALID_SESSION_ID made it log in again
    assert sandbox.log.count(method="POST", path_glob="/services/Soap/u/*") == 2
    assert [e.status for e in sandbox.log.entries(path_glob="/services/data/*")] == [200, 401, 200]


# --- OAuth: password, client credentials, JWT bearer ----------------------------------------


def test_password_grant(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    data = {"grant_type": "password", "client_id": creds.sf_consumer_key,
            "client_secret": creds.sf_consumer_secret, "username": creds.sf_username,
            "password": creds.sf_password + creds.sf_security_token}  # fmt: skip
    access_token, instance = token(sandbox, data)
    assert instance == sandbox.url.removeprefix("https://")
    assert account_count(client(sandbox, access_token, instance)) == 20
    answer = sandbox.http.post(f"{sandbox.url}/services/oauth2/token", data).json()
    assert answer["token_type"] == "Bearer"
    assert answer["instance_url"] == sandbox.url
    assert (
        answer["id"]
        == f"{sandbox.url}/id/{sandbox.service.org_id}/{answer['id'].rsplit('/', 1)[1]}"
    )
    expected = base64.b64encode(
        hmac.new(
            creds.sf_consumer_secret.encode(),
            (answer["id"] + answer["issued_at"]).encode(),
            hashlib.sha256,
        ).digest()
    ).decode()
    assert answer["signature"] == expected
    assert "refresh_token" not in answer


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"password": "nope"}, "invalid_grant", "authentication failure"),
        ({"client_secret": "nope"}, "invalid_client", "invalid client credentials"),
        ({"client_id": "3MVG9unknown"}, "invalid_client_id", "client identifier invalid"),
        ({"grant_type": "device"}, "unsupported_grant_type", "grant type not supported"),
    ],
)
def test_password_grant_errors(
    sandbox: Sandbox, change: dict[str, str], error: str, description: str
) -> None:
    creds = sandbox.creds
    data = {"grant_type": "password", "client_id": creds.sf_consumer_key,
            "client_secret": creds.sf_consumer_secret, "username": creds.sf_username,
            "password": creds.sf_password + creds.sf_security_token, **change}  # fmt: skip
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        token(sandbox, data)
    assert (failure.value.code, failure.value.auth_message) == (error, description)


def test_password_grant_of_locked_user_fails(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    data = {"grant_type": "password", "client_id": creds.sf_consumer_key,
            "client_secret": creds.sf_consumer_secret, "username": creds.sf_locked_username,
            "password": creds.sf_password + creds.sf_security_token}  # fmt: skip
    with pytest.raises(SalesforceAuthenticationFailed, match="authentication failure"):
        token(sandbox, data)


def test_client_credentials_with_basic_auth_as_simple_salesforce_sends_it(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    basic = base64.b64encode(
        f"{creds.sf_consumer_key}:{creds.sf_consumer_secret}".encode()
    ).decode()
    access_token, instance = token(
        sandbox, {"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"}
    )
    sf = client(sandbox, access_token, instance)
    me = sandbox.http.get(
        f"{sandbox.url}/services/oauth2/userinfo",
        headers={"Authorization": f"Bearer {access_token}"},
    ).json()
    assert me["preferred_username"] == creds.sf_username  # runs as the integration user
    assert account_count(sf) == 20


def test_client_credentials_in_the_form_and_a_wrong_secret(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    form = {"grant_type": "client_credentials", "client_id": creds.sf_consumer_key}
    assert token(sandbox, {**form, "client_secret": creds.sf_consumer_secret})[0]
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        token(sandbox, {**form, "client_secret": "x" + creds.sf_consumer_secret})
    assert failure.value.code == "invalid_client"


def assertion(sb: Sandbox, key: str | None = None, **claims: object) -> str:
    expires = datetime.now(UTC) + timedelta(minutes=3)
    payload = {"iss": sb.creds.sf_consumer_key, "sub": sb.creds.sf_username,
               "aud": "https://login.salesforce.com", "exp": f"{expires.timestamp():.0f}", **claims}  # fmt: skip
    return jwt.encode(payload, key or sb.creds.sf_jwt_private_key_pem, algorithm="RS256")


JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.mark.parametrize(
    "audience", ["https://login.salesforce.com", "https://test.salesforce.com", "base_url"]
)
def test_jwt_bearer(sandbox: Sandbox, audience: str) -> None:
    aud = sandbox.url if audience == "base_url" else audience
    access_token, instance = token(
        sandbox, {"grant_type": JWT_GRANT, "assertion": assertion(sandbox, aud=aud)}
    )
    assert account_count(client(sandbox, access_token, instance)) == 20


def other_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "error", "description"),
    [
        ("wrong key", "invalid_grant", "invalid assertion"),
        ("expired", "invalid_grant", "invalid assertion"),
        ("audience", "invalid_grant", "audience is invalid"),
        ("issuer", "invalid_client_id", "client identifier invalid"),
    ],
)
def test_jwt_bearer_refused(sandbox: Sandbox, variant: str, error: str, description: str) -> None:
    past = f"{(datetime.now(UTC) - timedelta(minutes=1)).timestamp():.0f}"
    signed = {
        "wrong key": lambda: assertion(sandbox, key=other_key()),
        "expired": lambda: assertion(sandbox, exp=past),
        "audience": lambda: assertion(sandbox, aud="https://acme.my.salesforce.com"),
        "issuer": lambda: assertion(sandbox, iss="3MVG9someoneelse"),
    }[variant]()
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        token(sandbox, {"grant_type": JWT_GRANT, "assertion": signed})
    assert (failure.value.code, failure.value.auth_message) == (error, description)


def test_jwt_bearer_for_an_unknown_user_warns_through_simple_salesforce(sandbox: Sandbox) -> None:
    signed = assertion(sandbox, sub="nobody@example.com")
    with (
        pytest.warns(UserWarning, match="self-authorize"),
        pytest.raises(SalesforceAuthenticationFailed) as failure,
    ):
        token(sandbox, {"grant_type": JWT_GRANT, "assertion": signed})
    assert failure.value.auth_message == "user hasn't approved this consumer"


# --- browser login: authorization code + PKCE -------------------------------------------------


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(sb: Sandbox, challenge: str, redirect: str = REDIRECT) -> dict[str, str]:
    return {"response_type": "code", "client_id": sb.creds.sf_consumer_key, "redirect_uri": redirect,
            "code_challenge": challenge, "code_challenge_method": "S256", "state": "st-42"}  # fmt: skip


def browser_login(
    sb: Sandbox, challenge: str, password: str | None = None, action: str = "login"
) -> requests.Response:
    """Play the browser: open the login page, submit its form, return the answer (no redirects)."""
    page = sb.http.get(
        f"{sb.url}/services/oauth2/authorize", params=authorize_params(sb, challenge)
    )
    assert page.status_code == 200
    assert '<form id="login_form"' in page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields.update(
        username=sb.creds.sf_username,
        pw=sb.creds.sf_password if password is None else password,
        action=action,
    )
    return sb.http.post(f"{sb.url}/services/oauth2/authorize", data=fields, allow_redirects=False)


def code_from(answer: requests.Response) -> str:
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-42"]
    return query["code"][0]


def exchange(sb: Sandbox, code: str, verifier: str) -> dict[str, str]:
    data = {"grant_type": "authorization_code", "code": code, "client_id": sb.creds.sf_consumer_key,
            "redirect_uri": REDIRECT, "code_verifier": verifier}  # fmt: skip
    return sb.http.post(f"{sb.url}/services/oauth2/token", data=data).json()


def test_pkce_browser_login(sandbox: Sandbox) -> None:
    verifier, challenge = pkce()
    code = code_from(browser_login(sandbox, challenge))
    data = {"grant_type": "authorization_code", "code": code, "client_id": sandbox.creds.sf_consumer_key,
            "redirect_uri": REDIRECT, "code_verifier": verifier}  # fmt: skip
    access_token, instance = token(sandbox, data)
    assert account_count(client(sandbox, access_token, instance)) == 20


def test_pkce_wrong_verifier_and_code_reuse_fail(sandbox: Sandbox) -> None:
    verifier, challenge = pkce()
    code = code_from(browser_login(sandbox, challenge))
    assert exchange(sandbox, code, pkce()[0]) == {
        "error": "invalid_grant",
        "error_description": "invalid code verifier",
    }
    code = code_from(browser_login(sandbox, challenge))
    assert "access_token" in exchange(sandbox, code, verifier)
    assert exchange(sandbox, code, verifier) == {
        "error": "invalid_grant",
        "error_description": "expired authorization code",
    }


def test_pkce_code_expires(sandbox: Sandbox) -> None:
    verifier, challenge = pkce()
    code = code_from(browser_login(sandbox, challenge))
    sandbox.clock.now += 16 * 60
    assert exchange(sandbox, code, verifier)["error_description"] == "expired authorization code"


def test_browser_login_wrong_password_shows_the_form_again(sandbox: Sandbox) -> None:
    answer = browser_login(sandbox, pkce()[1], password="guess")
    assert answer.status_code == 200
    assert "Please check your username and password" in answer.text
    assert '<form id="login_form"' in answer.text


def test_browser_login_deny(sandbox: Sandbox) -> None:
    answer = browser_login(sandbox, pkce()[1], action="deny")
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["st-42"]
    assert "code" not in query


@pytest.mark.parametrize(
    "redirect", ["https://evil.example.com/cb", "http://127.0.0.1/cb", "http://example.com:8080/cb"]
)
def test_authorize_refuses_non_loopback_redirects(sandbox: Sandbox, redirect: str) -> None:
    answer = sandbox.http.get(
        f"{sandbox.url}/services/oauth2/authorize",
        params=authorize_params(sandbox, pkce()[1], redirect),
        allow_redirects=False,
    )
    assert answer.status_code == 400
    assert "redirect_uri_mismatch" in answer.text


def test_refresh_token_and_revoke(sandbox: Sandbox) -> None:
    verifier, challenge = pkce()
    first = exchange(sandbox, code_from(browser_login(sandbox, challenge)), verifier)
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": sandbox.creds.sf_consumer_key,
    }
    second = sandbox.http.post(f"{sandbox.url}/services/oauth2/token", data=refresh).json()
    assert second["access_token"] != first["access_token"]
    assert "refresh_token" not in second
    sf = client(sandbox, second["access_token"], sandbox.url.removeprefix("https://"))
    assert account_count(sf) == 20
    assert (
        sandbox.http.post(
            f"{sandbox.url}/services/oauth2/revoke", data={"token": first["refresh_token"]}
        ).status_code
        == 200
    )
    assert (
        sandbox.http.post(f"{sandbox.url}/services/oauth2/token", data=refresh).json()[
            "error_description"
        ]
        == "expired access/refresh token"
    )
    with pytest.raises(SalesforceExpiredSession):
        account_count(sf)  # revoking a refresh token revokes the access tokens it issued


# --- identity and sessions --------------------------------------------------------------------


def test_identity_url_and_userinfo(sandbox: Sandbox) -> None:
    answer = sandbox.http.post(
        f"{sandbox.url}/services/oauth2/token",
        data={"grant_type": JWT_GRANT, "assertion": assertion(sandbox)},
    ).json()
    auth = {"Authorization": f"Bearer {answer['access_token']}"}
    identity = sandbox.http.get(answer["id"], headers=auth).json()
    assert identity["username"] == sandbox.creds.sf_username
    assert identity["organization_id"] == sandbox.service.org_id
    assert identity["urls"]["rest"] == f"{sandbox.url}/services/data/v{{version}}/"
    info = sandbox.http.get(f"{sandbox.url}/services/oauth2/userinfo", headers=auth).json()
    assert info["sub"] == answer["id"]
    assert info["user_id"] == identity["user_id"]
    assert (
        sandbox.http.get(answer["id"], headers={"Authorization": "Bearer nope"}).status_code == 403
    )


def test_session_expires_after_its_lifetime(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    sf = client(
        sandbox, *soap(sandbox, creds.sf_username, creds.sf_password + creds.sf_security_token)
    )
    sandbox.clock.now += 599
    assert account_count(sf) == 20
    sandbox.clock.now += 1
    with pytest.raises(SalesforceExpiredSession) as failure:
        account_count(sf)
    assert failure.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_expire_all_sessions_and_revoked_access_token(sandbox: Sandbox) -> None:
    creds = sandbox.creds
    first, instance = soap(sandbox, creds.sf_username, creds.sf_password + creds.sf_security_token)
    second, _ = soap(sandbox, creds.sf_username, creds.sf_password + creds.sf_security_token)
    assert (
        sandbox.http.post(
            f"{sandbox.url}/services/oauth2/revoke", data={"token": first}
        ).status_code
        == 200
    )
    with pytest.raises(SalesforceExpiredSession):
        account_count(client(sandbox, first, instance))
    assert account_count(client(sandbox, second, instance)) == 20
    sandbox.service.expire_all_sessions()
    with pytest.raises(SalesforceExpiredSession):
        account_count(client(sandbox, second, instance))


def test_unknown_session_id_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceExpiredSession) as failure:
        account_count(
            client(
                sandbox,
                sandbox.service.org_id[:15] + "!AQmadeup",
                sandbox.url.removeprefix("https://"),
            )
        )
    assert failure.value.status == 401
