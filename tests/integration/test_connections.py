"""connections.py against the sandbox over HTTPS: every login method, every failure in plain words."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from keyring.backends import fail

from cpq_sync_gui import connections
from cpq_sync_gui import secrets as names
from cpq_sync_gui.connections import ConnectionFailed, SessionSecrets
from cpq_sync_gui.salesforce.client import SalesforceQueryError
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.secrets import SecretStore
from cpq_sync_gui.settings import NetworkSettings, Profile
from cpq_sync_gui.zuora.client import ZuoraError
from tests.helpers.browser_login import BrowserPlayer
from tests.helpers.tinyproxy import Tinyproxy, run_tinyproxy

ORG_NAME = "CPQ Sync Demo Org"


# --- helpers -------------------------------------------------------------------------------


def memory_secrets() -> SessionSecrets:
    """The app's secret store as it is on a computer without a password store."""
    return SessionSecrets(SecretStore(fail.Keyring(), allow_memory_only=True))


def free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def make_profile(
    sandbox: Sandbox,
    *,
    name: str = "UAT",
    auth: str = "password",
    login_url: str | None = None,
    network: dict[str, Any] | None = None,
    **salesforce: Any,
) -> Profile:
    creds = sandbox.credentials
    sf: dict[str, Any] = {
        "auth_method": auth,
        "login_host": "custom",
        "custom_login_url": login_url or sandbox.salesforce_url,
    }
    if auth in ("password", "jwt"):
        sf["username"] = creds.sf_username
    if auth in ("jwt", "client_credentials", "browser"):
        sf["consumer_key"] = creds.sf_consumer_key
    sf.update(salesforce)
    return Profile.model_validate(
        {
            "name": name,
            "salesforce": sf,
            "zuora": {
                "environment": "custom",
                "base_url": sandbox.zuora_url,
                "client_id": creds.zuora_client_id,
            },
            "connector": {"endpoint_url": sandbox.connector_url},
            "network": {"proxy_mode": "none", "ca_bundle": str(sandbox.ca_path), **(network or {})},
        }
    )


def store_secrets(store: SessionSecrets, profile: Profile, **values: str) -> SessionSecrets:
    for secret_name, value in values.items():
        store.set(profile.name, secret_name, value)
    return store


def password_secrets(sandbox: Sandbox, profile: Profile) -> SessionSecrets:
    creds = sandbox.credentials
    return store_secrets(
        memory_secrets(),
        profile,
        salesforce_password=creds.sf_password,
        salesforce_security_token=creds.sf_security_token,
        zuora_client_secret=creds.zuora_client_secret,
    )


def soap_logins(sandbox: Sandbox) -> int:
    return sandbox.log.count("salesforce", "POST", "/services/Soap/u/*")


def failure(run: Callable[[], object]) -> ConnectionFailed:
    with pytest.raises(ConnectionFailed) as caught:
        run()
    return caught.value


def refuse_browser(url: str) -> bool:
    raise AssertionError(f"no browser should be needed, but {url} was opened")


# --- each login method logs in and reports the org -----------------------------------------


def test_password_login_reports_org_instance_environment_and_api_usage(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    report = connections.test_salesforce(profile, password_secrets(sandbox, profile))

    assert report.organization_name == ORG_NAME
    assert report.organization_id.startswith("00D")
    assert report.instance_url == sandbox.salesforce_url
    assert report.instance_name == "CS42"
    assert report.environment == "production"
    assert report.username == sandbox.credentials.sf_username
    used, limit = sandbox.salesforce_service.api_usage
    assert report.api_limit == limit == 15000
    assert 0 < report.api_used <= used  # from the Sforce-Limit-Info header of the last call
    text = "\n".join(report.lines())
    assert ORG_NAME in text
    assert f"of {limit:,} daily calls used" in text
    assert soap_logins(sandbox) == 1
    # A production org behind a profile that is not badged production: said plainly.
    assert report.production_not_marked
    assert "this org is a PRODUCTION org, but the profile is not marked" in text
    marked = profile.model_copy(update={"treat_as_production": True})
    assert not connections.test_salesforce(
        marked, password_secrets(sandbox, marked)
    ).production_not_marked


def test_jwt_bearer_login_with_a_private_key_file(sandbox: Sandbox, tmp_path: Path) -> None:
    key_file = tmp_path / "connected-app.key"
    key_file.write_text(sandbox.credentials.sf_jwt_private_key_pem)
    profile = make_profile(sandbox, auth="jwt", private_key_file=str(key_file))
    report = connections.test_salesforce(profile, memory_secrets())
    assert report.organization_name == ORG_NAME
    assert report.auth_method == "jwt"
    assert sandbox.log.count("salesforce", "POST", "/services/oauth2/token") == 1
    assert soap_logins(sandbox) == 0


def test_client_credentials_login(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, auth="client_credentials")
    secrets = store_secrets(
        memory_secrets(),
        profile,
        salesforce_consumer_secret=sandbox.credentials.sf_consumer_secret,
    )
    report = connections.test_salesforce(profile, secrets)
    assert report.organization_name == ORG_NAME
    token_call = sandbox.log.entries("salesforce", "POST", "/services/oauth2/token")[-1]
    assert token_call.headers.get("authorization", "").startswith("Basic ")


def test_browser_login_end_to_end_then_the_saved_login_needs_no_browser(sandbox: Sandbox) -> None:
    creds = sandbox.credentials
    port = free_port()
    profile = make_profile(sandbox, auth="browser", browser_callback_port=port)
    secrets = memory_secrets()
    player = BrowserPlayer(sandbox, creds.sf_username, creds.sf_password)

    client = connections.open_salesforce(profile, secrets, browser_opener=player)
    player.join()

    assert len(player.urls) == 1
    authorize = urlsplit(player.urls[0])
    assert authorize.path == "/services/oauth2/authorize"
    assert "code_challenge_method=S256" in authorize.query
    assert f"redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2FOauthRedirect" in authorize.query
    assert player.pages[0].status_code == 200
    assert "You can close this window" in player.pages[0].text
    assert client.organization().name == ORG_NAME
    # The refresh token went to the secret store: the next login needs no browser.
    saved = secrets.get(profile.name, names.SALESFORCE_REFRESH_TOKEN)
    assert saved
    report = connections.test_salesforce(profile, secrets, browser_opener=refuse_browser)
    assert report.organization_name == ORG_NAME
    refresh_grants = [
        e
        for e in sandbox.log.entries("salesforce", "POST", "/services/oauth2/token")
        if b"grant_type=refresh_token" in e.body
    ]
    assert len(refresh_grants) == 1


def test_browser_login_without_a_saved_login_and_no_browser_says_what_to_do(
    sandbox: Sandbox,
) -> None:
    profile = make_profile(sandbox, auth="browser")
    error = failure(lambda: connections.test_salesforce(profile, memory_secrets()))
    assert "Log in with the browser first" in error.message


def test_browser_login_can_be_cancelled_while_waiting(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, auth="browser", browser_callback_port=free_port())
    opened: list[str] = []
    began = time.monotonic()
    error = failure(
        lambda: connections.browser_login(
            profile,
            memory_secrets(),
            opener=opened.append,
            cancelled=lambda: time.monotonic() - began > 0.5,
        )
    )
    assert opened
    assert "cancelled" in error.message
    assert time.monotonic() - began < 5


def test_existing_session_id_and_instance_url(sandbox: Sandbox) -> None:
    password_profile = make_profile(sandbox)
    first = connections.open_salesforce(
        password_profile, password_secrets(sandbox, password_profile)
    )
    session_id = first.connection.sf.session_id
    profile = make_profile(sandbox, auth="session", instance_url=sandbox.salesforce_url)
    secrets = store_secrets(memory_secrets(), profile, salesforce_session_id=session_id)
    report = connections.test_salesforce(profile, secrets)
    assert report.organization_name == ORG_NAME
    assert soap_logins(sandbox) == 1  # only the password login that made the session


# --- each wrong secret gives its own message -----------------------------------------------


def test_wrong_password_names_password_token_and_host(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    secrets = password_secrets(sandbox, profile)
    secrets.set(profile.name, names.SALESFORCE_PASSWORD, "not-the-password")
    error = failure(lambda: connections.test_salesforce(profile, secrets))
    assert error.code == "INVALID_LOGIN"
    assert "the user name, password or security token is wrong" in error.message
    assert "not-the-password" not in error.message


def test_missing_security_token_asks_for_the_token(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    secrets = password_secrets(sandbox, profile)
    secrets.delete(profile.name, names.SALESFORCE_SECURITY_TOKEN)
    error = failure(lambda: connections.test_salesforce(profile, secrets))
    assert error.code == "LOGIN_MUST_USE_SECURITY_TOKEN"
    assert "Enter the security token in the profile" in error.message


def test_missing_password_names_the_field(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    error = failure(lambda: connections.test_salesforce(profile, memory_secrets()))
    assert error.message == "The Salesforce password is not set: enter it in the profile."


def test_jwt_with_a_key_that_does_not_match_the_certificate(sandbox: Sandbox, tmp_path: Path):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "wrong.key"  # an RSA key the connected app does not know
    key_file.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    profile = make_profile(sandbox, auth="jwt", private_key_file=str(key_file))
    error = failure(lambda: connections.test_salesforce(profile, memory_secrets()))
    assert "invalid assertion" in error.message
    assert "private key does not match the certificate" in error.message


def test_jwt_with_an_unknown_consumer_key(sandbox: Sandbox, tmp_path: Path) -> None:
    key_file = tmp_path / "connected-app.key"
    key_file.write_text(sandbox.credentials.sf_jwt_private_key_pem)
    profile = make_profile(
        sandbox, auth="jwt", private_key_file=str(key_file), consumer_key="3MVG9wrongKey"
    )
    error = failure(lambda: connections.test_salesforce(profile, memory_secrets()))
    assert "does not know this consumer key (invalid_client_id)" in error.message


def test_client_credentials_with_a_wrong_consumer_secret(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, auth="client_credentials")
    secrets = store_secrets(memory_secrets(), profile, salesforce_consumer_secret="wrong-secret")
    error = failure(lambda: connections.test_salesforce(profile, secrets))
    assert "refused the consumer secret (invalid_client)" in error.message


def test_expired_session_id(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, auth="session", instance_url=sandbox.salesforce_url)
    secrets = store_secrets(
        memory_secrets(), profile, salesforce_session_id="00D000000000001!AQexpiredSessionValue1234"
    )
    error = failure(lambda: connections.test_salesforce(profile, secrets))
    assert "does not accept this session id (expired" in error.message


def test_expired_saved_browser_login(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, auth="browser")
    secrets = store_secrets(
        memory_secrets(), profile, salesforce_refresh_token="5Aep861revokedRefreshToken0000"
    )
    error = failure(lambda: connections.test_salesforce(profile, secrets))
    assert "saved browser login is no longer valid (expired access/refresh token)" in error.message


def test_wrong_zuora_client_secret(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    secrets = password_secrets(sandbox, profile)
    secrets.set(profile.name, names.ZUORA_CLIENT_SECRET, "wrong-zuora-secret")
    error = failure(lambda: connections.test_zuora(profile, secrets))
    assert error.side == "Zuora"
    assert "Zuora did not accept the client ID and secret" in error.message
    assert "wrong-zuora-secret" not in error.message


def test_locked_user(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, username=sandbox.credentials.sf_locked_username)
    error = failure(
        lambda: connections.test_salesforce(profile, password_secrets(sandbox, profile))
    )
    assert "locked out" in error.message
    assert "unlock" in error.message


def test_locked_user_with_jwt(sandbox: Sandbox, tmp_path: Path) -> None:
    key_file = tmp_path / "connected-app.key"
    key_file.write_text(sandbox.credentials.sf_jwt_private_key_pem)
    profile = make_profile(
        sandbox,
        auth="jwt",
        private_key_file=str(key_file),
        username=sandbox.credentials.sf_locked_username,
    )
    error = failure(lambda: connections.test_salesforce(profile, memory_secrets()))
    assert "locked out or inactive" in error.message


# --- wrong host, DNS, timeout --------------------------------------------------------------


def test_wrong_login_host(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, login_url=sandbox.zuora_url)  # a server, but not Salesforce
    error = failure(
        lambda: connections.test_salesforce(profile, password_secrets(sandbox, profile))
    )
    assert error.code == "WRONG_LOGIN_HOST"
    assert "did not answer like a Salesforce login server" in error.message
    assert "Check the login host in the profile" in error.message


def test_dns_failure(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox, login_url="https://no-such-org.invalid")
    error = failure(
        lambda: connections.test_salesforce(profile, password_secrets(sandbox, profile))
    )
    assert "Cannot find host no-such-org.invalid" in error.message


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections but never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_timeout(sandbox: Sandbox) -> None:
    with silent_listener() as port:
        profile = make_profile(
            sandbox,
            login_url=f"https://127.0.0.1:{port}",
            network={"connect_timeout_s": 1, "read_timeout_s": 1},
        )
        began = time.monotonic()
        error = failure(
            lambda: connections.test_salesforce(profile, password_secrets(sandbox, profile))
        )
    assert time.monotonic() - began < 6, error.message
    assert "timeout" in error.message
    assert f"127.0.0.1:{port}" in error.message


def test_zuora_timeout(sandbox: Sandbox) -> None:
    with silent_listener() as port:
        profile = make_profile(sandbox, network={"connect_timeout_s": 1, "read_timeout_s": 1})
        profile = profile.model_copy(
            update={
                "zuora": profile.zuora.model_copy(update={"base_url": f"https://127.0.0.1:{port}"})
            }
        )
        error = failure(lambda: connections.test_zuora(profile, password_secrets(sandbox, profile)))
    assert "timeout" in error.message


# --- TLS -----------------------------------------------------------------------------------


def test_profile_ca_bundle_is_honoured_while_requests_ca_bundle_points_elsewhere(
    sandbox: Sandbox, requests_ca_bundle_points_elsewhere: str
) -> None:
    assert os.environ["REQUESTS_CA_BUNDLE"] == requests_ca_bundle_points_elsewhere
    assert requests_ca_bundle_points_elsewhere != str(sandbox.ca_path)
    profile = make_profile(sandbox)
    secrets = password_secrets(sandbox, profile)
    result = connections.check_profile(profile, secrets)
    assert result.ok, result.text()
    # Without the profile's bundle the environment's bundle does not trust the sandbox.
    no_bundle = make_profile(sandbox, network={"ca_bundle": None})
    error = failure(lambda: connections.test_salesforce(no_bundle, secrets))
    assert "not trusted" in error.message


def test_untrusted_certificate_names_the_problem(sandbox: Sandbox, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA(organization_name="Some other CA").cert_pem.write_to_path(str(other_ca))
    profile = make_profile(sandbox, network={"ca_bundle": str(other_ca)})
    secrets = password_secrets(sandbox, profile)
    sf_error = failure(lambda: connections.test_salesforce(profile, secrets))
    assert "is not trusted: it was issued by an unknown authority" in sf_error.message
    assert "CA certificate file (PEM)" in sf_error.message
    zuora_error = failure(lambda: connections.test_zuora(profile, secrets))
    assert "is not trusted" in zuora_error.message


def test_no_setting_turns_off_certificate_checks(sandbox: Sandbox, tmp_path: Path) -> None:
    assert not any("verify" in name for name in NetworkSettings.model_fields)
    empty = tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    profile = make_profile(sandbox, network={"ca_bundle": str(empty)})
    error = failure(
        lambda: connections.open_salesforce(profile, password_secrets(sandbox, profile))
    )
    assert error.side == "Network"
    assert "has no usable certificate in PEM format" in error.message


# --- a real authenticating proxy -----------------------------------------------------------


PROXY_USER = "proxyuser"
PROXY_PASSWORD = "proxy-pw-for-tests-7781"


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with run_tinyproxy(tmp_path, PROXY_USER, PROXY_PASSWORD) as proxy:
        yield proxy


def proxy_profile(sandbox: Sandbox, proxy: Tinyproxy) -> Profile:
    return make_profile(
        sandbox,
        network={"proxy_mode": "manual", "proxy_url": proxy.url, "proxy_username": PROXY_USER},
    )


def test_manual_proxy_with_basic_auth_reaches_salesforce_and_zuora(
    sandbox: Sandbox, tinyproxy: Tinyproxy
) -> None:
    profile = proxy_profile(sandbox, tinyproxy)
    secrets = password_secrets(sandbox, profile)
    secrets.set(profile.name, names.PROXY_PASSWORD, PROXY_PASSWORD)
    result = connections.check_profile(profile, secrets)
    assert result.ok, result.text()
    tunnels = set(tinyproxy.connects())
    assert sandbox.salesforce_url.removeprefix("https://") in tunnels
    assert sandbox.zuora_url.removeprefix("https://") in tunnels


def test_wrong_proxy_password_gives_the_proxy_message(
    sandbox: Sandbox, tinyproxy: Tinyproxy
) -> None:
    profile = proxy_profile(sandbox, tinyproxy)
    secrets = password_secrets(sandbox, profile)
    secrets.set(profile.name, names.PROXY_PASSWORD, "not-the-proxy-password")
    result = connections.check_profile(profile, secrets)
    assert not result.salesforce.ok
    assert not result.zuora.ok
    for message in (result.salesforce.error, result.zuora.error):
        assert "The proxy refused the user name or password" in message
        assert "proxy user name and password in the profile's Network settings" in message
        assert "not-the-proxy-password" not in message
    assert soap_logins(sandbox) == 0


# --- sessions: reused, renewed once, never in a loop ---------------------------------------


def test_session_is_reused_and_renewed_once_after_invalid_session_id(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    client = connections.open_salesforce(profile, password_secrets(sandbox, profile))
    assert client.count("Account") == 40
    assert client.count("Order") == 60
    assert soap_logins(sandbox) == 1

    sandbox.salesforce_service.expire_all_sessions()
    assert client.count("Account") == 40
    assert soap_logins(sandbox) == 2
    assert client.connection.relogin_count == 1
    assert client.count("Order") == 60
    assert soap_logins(sandbox) == 2


def test_renewal_is_bounded_when_every_new_session_is_refused(make_sandbox) -> None:
    sandbox = make_sandbox(session_lifetime_s=0.0)  # every session is dead on arrival
    profile = make_profile(sandbox)
    client = connections.open_salesforce(profile, password_secrets(sandbox, profile))
    with pytest.raises(SalesforceQueryError) as caught:
        client.count("Account")
    assert caught.value.code == "INVALID_SESSION_ID"
    assert soap_logins(sandbox) == 2  # the login, then exactly one renewal


def test_zuora_token_is_cached_and_refreshed_once_on_401(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    client = connections.open_zuora(profile, password_secrets(sandbox, profile))
    tokens = lambda: sandbox.log.count("zuora", "POST", "/oauth/token")  # noqa: E731
    client.request("GET", "/v1/catalog/products")
    client.request("GET", "/v1/catalog/products")
    assert tokens() == 1

    sandbox.zuora_service.expire_tokens()
    client.request("GET", "/v1/catalog/products")
    assert tokens() == 2
    statuses = [e.status for e in sandbox.log.entries("zuora", "GET", "/v1/catalog/products")]
    assert statuses == [200, 200, 401, 200]


def test_zuora_token_is_renewed_before_it_expires_not_after(make_sandbox) -> None:
    sandbox = make_sandbox(token_lifetime_s=30.0)  # inside the client's renewal margin
    profile = make_profile(sandbox)
    client = connections.open_zuora(profile, password_secrets(sandbox, profile))
    for _ in range(3):
        client.request("GET", "/v1/catalog/products")
    statuses = [e.status for e in sandbox.log.entries("zuora", "GET", "/v1/catalog/products")]
    assert statuses == [200, 200, 200]  # never sent with a token about to expire
    assert sandbox.log.count("zuora", "POST", "/oauth/token") == 3


def test_zuora_refresh_on_401_is_bounded(make_sandbox) -> None:
    sandbox = make_sandbox(token_lifetime_s=0.0)  # every token is dead on arrival
    profile = make_profile(sandbox)
    client = connections.open_zuora(profile, password_secrets(sandbox, profile))
    with pytest.raises(ZuoraError) as caught:
        client.request("GET", "/v1/catalog/products")
    assert caught.value.kind == "auth"
    assert sandbox.log.count("zuora", "POST", "/oauth/token") == 2


def test_zuora_report_names_environment_and_tenant(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    report = connections.test_zuora(profile, password_secrets(sandbox, profile))
    assert report.token_ok
    assert report.base_url == sandbox.zuora_url
    assert report.environment == f"Custom ({sandbox.zuora_url})"
    assert report.tenant_id == "9999"
    assert len(report.entity_ids) == 1
    assert report.is_production is False
    versions = [
        e.headers.get("zuora-version")
        for e in sandbox.log.entries("zuora", "GET", "/v1/catalog/products")
    ]
    assert versions == [profile.zuora.zuora_version]


# --- the connector client -----------------------------------------------------------------


def test_connector_domain_comes_from_the_profile_or_the_org(sandbox: Sandbox) -> None:
    profile = make_profile(sandbox)
    secrets = password_secrets(sandbox, profile)
    error = failure(lambda: connections.open_connector(profile, secrets))
    assert "Salesforce domain for the connector is not known yet" in error.message

    salesforce = connections.open_salesforce(profile, secrets)
    derived = connections.open_connector(profile, secrets, salesforce=salesforce)
    assert derived.sfdc_domain == sandbox.sfdc_domain
    account_id = salesforce.query_all("SELECT Id FROM Account LIMIT 1")[0]["Id"]
    assert derived.trigger_account(account_id).status == 200

    explicit = profile.model_copy(
        update={
            "connector": profile.connector.model_copy(
                update={"sfdc_domain": "acme.lightning.force.com"}
            )
        }
    )
    assert connections.open_connector(explicit, secrets).sfdc_domain == "acme.lightning.force.com"


# --- secrets routing -----------------------------------------------------------------------


def test_memory_pinned_profile_never_reaches_the_underlying_store() -> None:
    underlying = SecretStore(fail.Keyring(), allow_memory_only=True)
    app = SessionSecrets(underlying)
    app.keep_in_memory("Demo sandbox", {names.SALESFORCE_PASSWORD: "demo-pw-1234"})
    assert app.get("Demo sandbox", names.SALESFORCE_PASSWORD) == "demo-pw-1234"
    assert underlying.get("Demo sandbox", names.SALESFORCE_PASSWORD) is None
    app.copy_profile("Demo sandbox", "My copy")
    assert app.get("My copy", names.SALESFORCE_PASSWORD) is None
    app.rename_profile("Demo sandbox", "Demo renamed")
    assert app.get("Demo renamed", names.SALESFORCE_PASSWORD) == "demo-pw-1234"
    assert underlying.get("Demo renamed", names.SALESFORCE_PASSWORD) is None
    assert app.is_memory_only("Demo renamed")
    app.release("Demo renamed")
    assert app.get("Demo renamed", names.SALESFORCE_PASSWORD) is None
