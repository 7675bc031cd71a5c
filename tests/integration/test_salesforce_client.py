"""Salesforce logins, re-logins and reads against the sandbox org, over HTTPS trusted through the profile."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.exceptions import SalesforceExpiredSession

from cpq_sync_gui import secrets as names
from cpq_sync_gui.net import make_session
from cpq_sync_gui.salesforce import session as sf_session
from cpq_sync_gui.salesforce.client import SalesforceClient, SalesforceQueryError
from cpq_sync_gui.salesforce.ids import IdFactory, InvalidSalesforceId
from cpq_sync_gui.salesforce.records import (
    AccountRecord,
    OrderRecord,
    parse_calendar_date,
)
from cpq_sync_gui.salesforce.session import (
    BrowserLogin,
    LoginResult,
    SalesforceConnection,
    SalesforceLoginCancelled,
    SalesforceLoginError,
    connect,
)
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.settings import NetworkSettings, Profile, SalesforceSettings

# --- helpers -------------------------------------------------------------------------------


class Secrets:
    """A SecretLookup over a dict (the keyring is tested elsewhere)."""

    def __init__(self, **values: str) -> None:
        self.values = values

    def get(self, secret_name: str) -> str | None:
        return self.values.get(secret_name)


def network(sandbox: Sandbox, *, trust_sandbox: bool = True) -> NetworkSettings:
    return NetworkSettings(proxy_mode="none", ca_bundle=sandbox.ca_path if trust_sandbox else None)


def profile(sandbox: Sandbox, method: str, *, login_url: str | None = None, **sf: Any) -> Profile:
    return Profile(
        name="test",
        salesforce=SalesforceSettings(
            auth_method=method,
            login_host="custom",
            custom_login_url=login_url or sandbox.salesforce_url,
            **sf,
        ),
        network=network(sandbox),
    )


def password_secrets(sandbox: Sandbox, **override: str) -> Secrets:
    values = {
        names.SALESFORCE_PASSWORD: sandbox.credentials.sf_password,
        names.SALESFORCE_SECURITY_TOKEN: sandbox.credentials.sf_security_token,
    }
    values.update(override)
    return Secrets(**values)


def password_connection(sandbox: Sandbox) -> SalesforceConnection:
    return connect(
        profile(sandbox, "password", username=sandbox.credentials.sf_username),
        password_secrets(sandbox),
    )


def soap_logins(sandbox: Sandbox) -> int:
    return sandbox.log.count("salesforce", "POST", "/services/Soap/u/*")


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- password (SOAP) login ----------------------------------------------------------------


def test_password_login_trusts_the_profile_ca_over_requests_ca_bundle(
    sandbox: Sandbox, requests_ca_bundle_points_elsewhere: str
) -> None:
    assert requests_ca_bundle_points_elsewhere  # the environment names another bundle
    connection = password_connection(sandbox)
    assert connection.instance_url == sandbox.salesforce_url
    assert connection.org_id == sandbox.salesforce_service.org_id
    assert connection.user_id is not None
    assert connection.user_id.startswith("005")
    assert SalesforceClient(connection).count("Account") == 40
    assert soap_logins(sandbox) == 1


def test_without_the_profile_ca_the_login_names_the_certificate_problem(sandbox: Sandbox) -> None:
    settings = profile(sandbox, "password", username=sandbox.credentials.sf_username)
    settings = settings.model_copy(update={"network": network(sandbox, trust_sandbox=False)})
    with pytest.raises(SalesforceLoginError) as caught:
        connect(settings, password_secrets(sandbox))
    assert caught.value.code == "NETWORK"
    assert "certificate" in caught.value.message
    assert "CA certificate file" in caught.value.message


def test_a_wrong_password_says_what_to_check_and_never_shows_it(sandbox: Sandbox) -> None:
    wrong = "Wr0ngPassw0rd-" + "x" * 10
    with pytest.raises(SalesforceLoginError) as caught:
        connect(
            profile(sandbox, "password", username=sandbox.credentials.sf_username),
            password_secrets(sandbox, **{names.SALESFORCE_PASSWORD: wrong}),
        )
    error = caught.value
    assert error.code == "INVALID_LOGIN"
    assert "password" in error.message
    assert "security token" in error.message
    assert sandbox.credentials.sf_username in error.message
    assert wrong not in error.message
    assert sandbox.credentials.sf_security_token not in error.message


def test_a_locked_user_is_named_as_a_possibility(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceLoginError) as caught:
        connect(
            profile(sandbox, "password", username=sandbox.credentials.sf_locked_username),
            password_secrets(sandbox),
        )
    assert caught.value.code == "INVALID_LOGIN"
    assert "locked out" in caught.value.message
    assert "unlock" in caught.value.message


def test_a_missing_security_token_is_asked_for(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceLoginError) as caught:
        connect(
            profile(sandbox, "password", username=sandbox.credentials.sf_username),
            password_secrets(sandbox, **{names.SALESFORCE_SECURITY_TOKEN: ""}),
        )
    assert caught.value.code == "LOGIN_MUST_USE_SECURITY_TOKEN"
    assert "security token" in caught.value.message


def test_a_login_host_that_is_not_salesforce_is_named(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceLoginError) as caught:
        connect(
            profile(
                sandbox,
                "password",
                login_url=sandbox.zuora_url,
                username=sandbox.credentials.sf_username,
            ),
            password_secrets(sandbox),
        )
    assert caught.value.code == "WRONG_LOGIN_HOST"
    assert sandbox.zuora_url in caught.value.message
    assert "login host" in caught.value.message


def test_nothing_listening_at_the_login_host_is_a_network_message(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceLoginError) as caught:
        connect(
            profile(
                sandbox,
                "password",
                login_url=f"https://127.0.0.1:{closed_port()}",
                username=sandbox.credentials.sf_username,
            ),
            password_secrets(sandbox),
        )
    assert caught.value.code == "NETWORK"
    assert "refused" in caught.value.message


def test_a_missing_password_is_named_before_any_request(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceLoginError, match="password is not set"):
        connect(profile(sandbox, "password", username=sandbox.credentials.sf_username), Secrets())
    assert sandbox.log.count("salesforce") == 0


# --- JWT bearer ----------------------------------------------------------------------------


def write_key(path: Path, key: Any, passphrase: str | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def sandbox_key(sandbox: Sandbox) -> Any:
    return serialization.load_pem_private_key(
        sandbox.credentials.sf_jwt_private_key_pem.encode(), password=None
    )


def jwt_profile(sandbox: Sandbox, key_file: Path, **override: Any) -> Profile:
    settings: dict[str, Any] = {
        "username": sandbox.credentials.sf_username,
        "consumer_key": sandbox.credentials.sf_consumer_key,
        "private_key_file": key_file,
        **override,
    }
    return profile(sandbox, "jwt", **settings)


def test_jwt_login_with_a_passphrase_protected_key(sandbox: Sandbox, tmp_path: Path) -> None:
    key_file = write_key(tmp_path / "key.pem", sandbox_key(sandbox), "s3cret-phrase")
    connection = connect(
        jwt_profile(sandbox, key_file),
        Secrets(**{names.SALESFORCE_KEY_PASSPHRASE: "s3cret-phrase"}),
    )
    assert connection.user_id is not None
    assert SalesforceClient(connection).count("Order") == 60
    token_posts = sandbox.log.entries("salesforce", "POST", "/services/oauth2/token")
    assert len(token_posts) == 1
    form = parse_qs(token_posts[0].body.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]


def test_jwt_login_with_a_key_that_does_not_match_the_certificate(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SalesforceLoginError) as caught:
        connect(jwt_profile(sandbox, write_key(tmp_path / "other.pem", other)), Secrets())
    assert "invalid assertion" in caught.value.message
    assert "certificate" in caught.value.message


def test_jwt_login_with_a_wrong_consumer_key(sandbox: Sandbox, tmp_path: Path) -> None:
    key_file = write_key(tmp_path / "key.pem", sandbox_key(sandbox))
    with pytest.raises(SalesforceLoginError) as caught:
        connect(jwt_profile(sandbox, key_file, consumer_key="3MVGnotTheRightOne"), Secrets())
    assert caught.value.code == "invalid_client_id"
    assert "consumer key" in caught.value.message


def test_jwt_login_for_a_user_without_access_to_the_app(sandbox: Sandbox, tmp_path: Path) -> None:
    key_file = write_key(tmp_path / "key.pem", sandbox_key(sandbox))
    with pytest.raises(SalesforceLoginError) as caught:
        connect(jwt_profile(sandbox, key_file, username="nobody@example.com"), Secrets())
    assert "Permitted Users" in caught.value.message


@pytest.mark.parametrize(
    ("passphrase", "stored", "expected"),
    [
        ("right", None, "protected by a passphrase"),
        ("right", "wrong", "passphrase does not open"),
        (None, "unneeded", "not protected by a passphrase"),
    ],
)
def test_jwt_key_passphrase_problems_are_plain(
    sandbox: Sandbox, tmp_path: Path, passphrase: str | None, stored: str | None, expected: str
) -> None:
    key_file = write_key(tmp_path / "key.pem", sandbox_key(sandbox), passphrase)
    secrets = Secrets(**({names.SALESFORCE_KEY_PASSPHRASE: stored} if stored else {}))
    with pytest.raises(SalesforceLoginError, match=expected):
        connect(jwt_profile(sandbox, key_file), secrets)
    assert sandbox.log.count("salesforce") == 0


def test_jwt_key_file_problems_are_plain(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(SalesforceLoginError, match="does not exist"):
        connect(jwt_profile(sandbox, tmp_path / "missing.pem"), Secrets())
    certificate = tmp_path / "cert.pem"
    certificate.write_text(sandbox.credentials.sf_jwt_certificate_pem)
    with pytest.raises(SalesforceLoginError, match="certificate, not a private key"):
        connect(jwt_profile(sandbox, certificate), Secrets())


# --- client credentials --------------------------------------------------------------------


def cc_profile(sandbox: Sandbox) -> Profile:
    return profile(sandbox, "client_credentials", consumer_key=sandbox.credentials.sf_consumer_key)


def test_client_credentials_login_sends_basic_auth(sandbox: Sandbox) -> None:
    connection = connect(
        cc_profile(sandbox),
        Secrets(**{names.SALESFORCE_CONSUMER_SECRET: sandbox.credentials.sf_consumer_secret}),
    )
    assert SalesforceClient(connection).count("Account") == 40
    (token_post,) = sandbox.log.entries("salesforce", "POST", "/services/oauth2/token")
    assert token_post.headers["authorization"].startswith("Basic ")
    assert sandbox.credentials.sf_consumer_secret not in token_post.body.decode()


def test_client_credentials_with_a_wrong_secret(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceLoginError) as caught:
        connect(cc_profile(sandbox), Secrets(**{names.SALESFORCE_CONSUMER_SECRET: "nope-nope"}))
    assert caught.value.code == "invalid_client"
    assert "consumer secret" in caught.value.message


@pytest.mark.parametrize(
    ("error", "description", "expected"),
    [
        ("invalid_grant", "no client credentials user enabled", "Enable Client Credentials Flow"),
        ("invalid_grant", "request not supported on this domain", "My Domain"),
        ("invalid_grant", "audience is invalid", "test.salesforce.com"),
        ("invalid_grant", "expired access/refresh token", "browser again"),
        ("invalid_grant", "authentication failure", "locked out"),
        ("redirect_uri_mismatch", "redirect_uri must match configuration", "Callback URL"),
        ("strange_error", "something new", "something new"),
    ],
)
def test_oauth_refusals_become_plain_advice(error: str, description: str, expected: str) -> None:
    failure = sf_session._oauth_failure(
        error, description, login_url="https://login.salesforce.com", flow="test"
    )
    assert expected in failure.message
    assert failure.code == error


# --- browser login -------------------------------------------------------------------------


def browser(sandbox: Sandbox) -> requests.Session:
    """The test's web browser: trusts the sandbox CA, ignores REQUESTS_CA_BUNDLE."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.ca_path)
    return session


def log_in_in_the_browser(
    sandbox: Sandbox, authorize_url: str, *, action: str = "login"
) -> requests.Response:
    """GET the authorize URL, POST the login form, follow the 302 to the loopback redirect."""
    web = browser(sandbox)
    page = web.get(authorize_url)
    assert page.status_code == 200, page.text
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    form.update(
        username=sandbox.credentials.sf_username,
        pw=sandbox.credentials.sf_password,
        action=action,
    )
    form = {k: html.unescape(v) for k, v in form.items()}
    answer = web.post(
        f"{sandbox.salesforce_url}/services/oauth2/authorize", data=form, allow_redirects=False
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith("http://127.0.0.1:")
    return web.get(location)


def browser_login(sandbox: Sandbox, **kwargs: Any) -> BrowserLogin:
    kwargs.setdefault("opener", None)
    return BrowserLogin(
        sandbox.salesforce_url,
        sandbox.credentials.sf_consumer_key,
        session=make_session(network(sandbox)),
        **kwargs,
    )


def test_browser_login_end_to_end_then_refresh_and_relogin(sandbox: Sandbox) -> None:
    opened: list[str] = []
    login = browser_login(sandbox, opener=opened.append)
    url = login.start()
    assert opened == [url]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:")
    landing = log_in_in_the_browser(sandbox, url)
    assert landing.status_code == 200
    assert "close this window" in landing.text
    result = login.wait(timeout_s=10)
    assert result.refresh_token
    assert result.user_id is not None
    assert result.org_id == sandbox.salesforce_service.org_id
    assert result.refresh_token not in repr(result)
    assert result.session_id not in repr(result)
    (exchange,) = sandbox.log.entries("salesforce", "POST", "/services/oauth2/token")
    assert parse_qs(exchange.body.decode())["code_verifier"][0]  # PKCE

    settings = profile(sandbox, "browser", consumer_key=sandbox.credentials.sf_consumer_key)
    connection = connect(settings, Secrets(), browser_result=result)
    client = SalesforceClient(connection)
    assert client.count("Account") == 40
    sandbox.salesforce_service.expire_all_sessions()
    assert client.count("Account") == 40  # renewed from the refresh token
    assert connection.relogin_count == 1
    assert connection.refresh_token == result.refresh_token

    refreshed = login.refresh()
    assert refreshed.session_id != result.session_id


def test_a_browser_login_for_a_profile_uses_its_localhost_callback(sandbox: Sandbox) -> None:
    port = closed_port()
    settings = profile(
        sandbox,
        "browser",
        consumer_key=sandbox.credentials.sf_consumer_key,
        browser_callback_port=port,
    )
    settings = settings.model_copy(update={"network": network(sandbox)})
    login = BrowserLogin.for_profile(settings, Secrets(), opener=None)
    url = login.start()
    assert login.redirect_uri == f"http://localhost:{port}/OauthRedirect"
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [login.redirect_uri]
    web = browser(sandbox)
    page = web.get(url)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    form.update(username=sandbox.credentials.sf_username, pw=sandbox.credentials.sf_password)
    answer = web.post(
        f"{sandbox.salesforce_url}/services/oauth2/authorize",
        data={k: html.unescape(v) for k, v in form.items()},
        allow_redirects=False,
    )
    assert answer.headers["Location"].startswith(f"http://localhost:{port}/OauthRedirect?")
    assert web.get(answer.headers["Location"]).status_code == 200
    assert login.wait(timeout_s=10).refresh_token


def test_a_saved_refresh_token_logs_in_without_a_browser(sandbox: Sandbox) -> None:
    login = browser_login(sandbox)
    log_in_in_the_browser(sandbox, login.start())
    token = login.wait(timeout_s=10).refresh_token
    assert token is not None
    settings = profile(sandbox, "browser", consumer_key=sandbox.credentials.sf_consumer_key)
    connection = connect(settings, Secrets(**{names.SALESFORCE_REFRESH_TOKEN: token}))
    assert SalesforceClient(connection).count("Order") == 60
    with pytest.raises(SalesforceLoginError, match="browser first"):
        connect(settings, Secrets())
    with pytest.raises(SalesforceLoginError, match="browser again"):
        connect(settings, Secrets(**{names.SALESFORCE_REFRESH_TOKEN: "5Aep861revoked"}))


def test_a_redirect_with_another_state_is_ignored(sandbox: Sandbox) -> None:
    login = browser_login(sandbox)
    url = login.start()
    forged = requests.get(f"{login.redirect_uri}?code=stolen&state=not-the-right-one", timeout=5)
    assert forged.status_code == 400
    with pytest.raises(SalesforceLoginError) as caught:
        login.wait(timeout_s=0.3)
    assert caught.value.code == "BROWSER_TIMEOUT"
    assert "older login attempt" in caught.value.message
    assert sandbox.log.count("salesforce", "POST", "/services/oauth2/token") == 0
    assert url


def test_a_real_answer_after_a_forged_one_still_logs_in(sandbox: Sandbox) -> None:
    login = browser_login(sandbox)
    url = login.start()
    requests.get(f"{login.redirect_uri}?code=x&state=forged", timeout=5)
    log_in_in_the_browser(sandbox, url)
    assert login.wait(timeout_s=10).refresh_token


def test_deny_in_the_browser_is_plain(sandbox: Sandbox) -> None:
    login = browser_login(sandbox)
    log_in_in_the_browser(sandbox, login.start(), action="deny")
    with pytest.raises(SalesforceLoginError) as caught:
        login.wait(timeout_s=10)
    assert caught.value.code == "access_denied"
    assert "denied" in caught.value.message


def test_cancel_stops_the_wait_at_once(sandbox: Sandbox) -> None:
    login = browser_login(sandbox)
    login.start()
    threading.Timer(0.2, login.cancel).start()
    began = time.monotonic()
    with pytest.raises(SalesforceLoginCancelled):
        login.wait(timeout_s=30)
    assert time.monotonic() - began < 5
    with pytest.raises(requests.ConnectionError):  # the loopback server is closed
        requests.get(login.redirect_uri, timeout=2)


def test_no_browser_gives_the_address_to_open(sandbox: Sandbox) -> None:
    login = browser_login(sandbox, opener=lambda url: False)
    with pytest.raises(SalesforceLoginError) as caught:
        login.start()
    assert caught.value.code == "NO_BROWSER"
    assert "/services/oauth2/authorize?" in caught.value.message


def test_a_busy_callback_port_is_explained(sandbox: Sandbox) -> None:
    first = browser_login(sandbox)
    first.start()
    port = urlsplit(first.redirect_uri).port
    try:
        second = browser_login(sandbox, callback_url=f"http://localhost:{port}/OauthRedirect")
        with pytest.raises(SalesforceLoginError, match=f"port {port}"):
            second.start()
    finally:
        first.close()


def test_the_callback_must_be_a_loopback_address(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="loopback"):
        browser_login(sandbox, callback_url="https://example.com/cb")


# --- existing session id ---------------------------------------------------------------------


def session_profile(sandbox: Sandbox) -> Profile:
    return profile(sandbox, "session", instance_url=sandbox.salesforce_url)


def test_an_existing_session_id_is_used_and_cannot_be_renewed(sandbox: Sandbox) -> None:
    session_id = password_connection(sandbox).sf.session_id
    connection = connect(
        session_profile(sandbox), Secrets(**{names.SALESFORCE_SESSION_ID: session_id})
    )
    client = SalesforceClient(connection)
    assert client.count("Account") == 40
    sandbox.salesforce_service.expire_all_sessions()
    with pytest.raises(SalesforceLoginError) as caught:
        client.count("Account")
    assert caught.value.code == "INVALID_SESSION_ID"
    assert "fresh session id" in caught.value.message
    assert session_id not in caught.value.message


def test_a_stale_session_id_fails_at_connect(sandbox: Sandbox) -> None:
    with pytest.raises(SalesforceLoginError) as caught:
        connect(
            session_profile(sandbox),
            Secrets(**{names.SALESFORCE_SESSION_ID: "00D000000000000!AQnotvalid"}),
        )
    assert caught.value.code == "INVALID_SESSION_ID"


# --- relogin: at most once per failing call -----------------------------------------------


def test_session_expiry_mid_read_resumes_at_the_failed_page(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(accounts=500, orders=0)
    connection = password_connection(sandbox)
    client = SalesforceClient(connection)
    sandbox.log.clear()
    seen: list[str] = []
    for number, record in enumerate(client.query_iter("SELECT Id FROM Account", batch_size=200)):
        seen.append(record["Id"])
        if number == 199:  # the first page is read: the session times out
            sandbox.salesforce_service.expire_all_sessions()
    assert len(seen) == len(set(seen)) == 500
    assert connection.relogin_count == 1
    assert soap_logins(sandbox) == 1
    first_pages = sandbox.log.entries("salesforce", "GET", "/services/data/v62.0/query/")
    assert len(first_pages) == 1  # never restarted from the beginning
    more = sandbox.log.entries("salesforce", "GET", "/services/data/v62.0/query/01g*")
    assert [e.status for e in more] == [401, 200, 200]
    assert more[0].path == more[1].path  # the page that failed was read again
    assert {e.headers["sforce-query-options"] for e in first_pages + more} == {"batchSize=200"}


def test_a_session_that_dies_at_once_is_renewed_once_then_reported(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(session_lifetime_s=0.0)
    connection = password_connection(sandbox)
    with pytest.raises(SalesforceQueryError) as caught:
        SalesforceClient(connection).count("Account")
    assert caught.value.code == "INVALID_SESSION_ID"
    assert connection.relogin_count == 1
    assert soap_logins(sandbox) == 2  # the login and one re-login: never a loop
    assert sandbox.log.count("salesforce", "GET", "/services/data/*/query/") == 2


def test_call_with_relogin_never_loops() -> None:
    logins: list[int] = []
    result = LoginResult("00D000000000001!AQfirst", "https://127.0.0.1:1")

    def login() -> LoginResult:
        logins.append(1)
        return result

    connection = SalesforceConnection(
        result, session=requests.Session(), api_version="62.0", login=login
    )
    calls: list[int] = []

    def always_expired(sf: Any) -> None:
        calls.append(1)
        raise SalesforceExpiredSession("url", 401, "query", b"[]")

    with pytest.raises(SalesforceExpiredSession):
        connection.call_with_relogin(always_expired)
    assert (len(calls), len(logins)) == (2, 1)


def test_threads_that_hit_the_same_expiry_log_in_again_once() -> None:
    logins: list[int] = []

    def login() -> LoginResult:
        logins.append(1)
        time.sleep(0.05)
        return LoginResult(f"00D000000000001!AQ{len(logins)}", "https://127.0.0.1:1")

    connection = SalesforceConnection(
        LoginResult("00D000000000001!AQ0", "https://127.0.0.1:1"),
        session=requests.Session(),
        api_version="62.0",
        login=login,
    )
    first = connection.sf
    barrier = threading.Barrier(4)

    def work(sf: Any) -> str:
        if sf is first:
            barrier.wait(timeout=5)
            raise SalesforceExpiredSession("url", 401, "query", b"[]")
        return str(sf.session_id)

    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append(connection.call_with_relogin(work)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(logins) == 1
    assert answers == ["00D000000000001!AQ1"] * 4


# --- reads ---------------------------------------------------------------------------------


def test_1000_orders_are_read_in_at_most_10_queries(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(accounts=100, orders=1000)
    client = SalesforceClient(password_connection(sandbox))
    ids = [o["Id"] for o in sandbox.org.all("Order")]
    assert len(ids) == 1000
    sandbox.log.clear()
    orders = client.orders_with_items_by_ids(ids)
    assert len(orders) == 1000
    queries = sandbox.log.entries("salesforce", "GET", "/services/data/v62.0/query*")
    assert len(queries) <= 10
    in_lists = [re.search(r"IN \(([^)]*)\)", e.query["q"][0]) for e in queries if "q" in e.query]
    assert all(m is not None and m.group(1).count(",") < 200 for m in in_lists)
    items = sum(len(o.items) for o in orders.values())
    assert items == len(sandbox.org.all("OrderItem"))


def test_orders_come_with_their_products_and_calendar_dates(sandbox: Sandbox) -> None:
    client = SalesforceClient(password_connection(sandbox))
    stored = sandbox.org.all("Order")[:5]
    orders = client.orders_with_items_by_ids([o["Id"][:15] for o in stored])  # 15 chars work
    assert list(orders) == [o["Id"] for o in stored]
    for raw in stored:
        order = orders[raw["Id"]]
        assert isinstance(order, OrderRecord)
        assert order.effective_date == dt.date.fromisoformat(raw["EffectiveDate"])
        assert order.order_number == raw["OrderNumber"]
        children = sandbox.org.where("OrderItem", lambda r, i=raw["Id"]: r["OrderId"] == i)
        assert sorted(i.id for i in order.items) == sorted(c["Id"] for c in children)
        for item in order.items:
            product = sandbox.org.get("Product2", item.product2_id or "")
            assert product is not None
            assert (item.product_code, item.product_name) == (
                product["ProductCode"],
                product["Name"],
            )
            assert item.charge_type in ("One-Time", "Recurring", "Usage")


def test_an_org_without_cpq_or_currencies_is_read_without_invalid_field(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(cpq_fields=False, multi_currency=False)
    client = SalesforceClient(password_connection(sandbox))
    assert "SBQQ__ChargeType__c" not in client.describe_fields("OrderItem")
    orders = client.orders_with_items_by_ids([o["Id"] for o in sandbox.org.all("Order")])
    assert len(orders) == 60
    assert all(o.currency is None for o in orders.values())
    assert all(i.charge_type is None for o in orders.values() for i in o.items)
    query = sandbox.log.entries("salesforce", "GET", "/services/data/v62.0/query/")[-1]
    assert "SBQQ__" not in query.query["q"][0]
    assert "CurrencyIsoCode" not in query.query["q"][0]


def test_accounts_and_contacts_by_ids(sandbox: Sandbox) -> None:
    client = SalesforceClient(password_connection(sandbox))
    stored = sandbox.org.all("Account")[:3]
    accounts = client.accounts_by_ids([a["Id"] for a in stored] + [IdFactory(99)("001")])
    assert list(accounts) == [a["Id"] for a in stored]  # a missing id is simply absent
    first = accounts[stored[0]["Id"]]
    assert isinstance(first, AccountRecord)
    assert first.name == stored[0]["Name"]
    assert first.billing_address.city == stored[0]["BillingCity"]
    assert first.owner_name
    contact_ids = [c["Id"] for c in sandbox.org.all("Contact")[:2]]
    contacts = client.contacts_by_ids(contact_ids)
    assert list(contacts) == contact_ids
    with pytest.raises(InvalidSalesforceId):
        client.accounts_by_ids(["001' OR Name != '"])
    with pytest.raises(InvalidSalesforceId):
        client.accounts_by_ids([contact_ids[0]])  # a Contact id is not an Account id


def test_the_org_its_currency_and_api_usage(sandbox: Sandbox) -> None:
    client = SalesforceClient(password_connection(sandbox))
    org = client.organization()
    assert org.id == sandbox.salesforce_service.org_id
    assert org.is_sandbox is False
    assert client.org_currency() == "USD"
    usage = client.api_usage()
    assert usage is not None
    assert usage.limit == 15000
    assert usage.used == sandbox.salesforce_service.api_usage[0]
    sandbox.salesforce_service.set_api_usage(15000)
    with pytest.raises(SalesforceQueryError) as caught:
        client.count("Account")
    assert caught.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert "daily API allowance" in caught.value.message


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT NoSuchField__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM NoSuchObject__c", "INVALID_TYPE"),
    ],
)
def test_bad_queries_are_plain_errors(sandbox: Sandbox, soql: str, code: str) -> None:
    client = SalesforceClient(password_connection(sandbox))
    with pytest.raises(SalesforceQueryError) as caught:
        list(client.query_iter(soql))
    assert caught.value.code == code
    assert f"({code})" in caught.value.message


def test_network_failures_while_reading_are_plain(sandbox: Sandbox) -> None:
    client = SalesforceClient(password_connection(sandbox))
    sandbox.faults.add("salesforce", "GET", "/services/data/*", "reset", 1.0)
    with pytest.raises(SalesforceQueryError) as caught:
        client.count("Account")
    assert caught.value.code == "NETWORK"
    assert "reset" in caught.value.message or "closed the connection" in caught.value.message
    sandbox.faults.clear()
    sandbox.faults.add("salesforce", "GET", "/services/data/*", "truncated", 1.0)
    with pytest.raises(SalesforceQueryError) as caught:
        client.count("Account")
    assert caught.value.code == "BAD_ANSWER"


def test_query_iter_checks_the_batch_size(sandbox: Sandbox) -> None:
    client = SalesforceClient(password_connection(sandbox))
    with pytest.raises(ValueError, match="between 200 and 2000"):
        list(client.query_iter("SELECT Id FROM Account", batch_size=100))


# --- paged child sets and record parsing (no server needed) ------------------------------


class PagedChildrenSalesforce:
    """A Salesforce stand-in whose OrderItems child set comes in two pages."""

    def __init__(self, order_id: str, item_ids: list[str]) -> None:
        self.order_id, self.item_ids = order_id, item_ids
        self.api_usage: dict[str, Any] = {}
        self.more_calls: list[str] = []

    def restful(self, path: str) -> dict[str, Any]:
        sobject = path.split("/")[1]
        fields = {
            "Order": ["Id", "OrderNumber", "AccountId", "EffectiveDate", "Status"],
            "OrderItem": ["Id", "OrderId", "Product2Id", "Quantity", "UnitPrice"],
            "Product2": ["Id", "Name", "ProductCode"],
        }[sobject]
        described = [{"name": f, "relationshipName": None} for f in fields]
        if sobject == "OrderItem":
            described.append({"name": "Product2Id", "relationshipName": "Product2"})
        return {"fields": described}

    def item(self, item_id: str) -> dict[str, Any]:
        return {"Id": item_id, "OrderId": self.order_id, "Quantity": 2.0, "UnitPrice": 10.1}

    def query(self, soql: str, **kwargs: Any) -> dict[str, Any]:
        assert "FROM OrderItems" in soql
        assert "OrderItemNumber" not in soql  # not in this org's describe
        return {
            "totalSize": 1,
            "done": True,
            "records": [
                {
                    "Id": self.order_id,
                    "OrderNumber": "00000042",
                    "EffectiveDate": "2024-03-31",
                    "OrderItems": {
                        "totalSize": len(self.item_ids),
                        "done": False,
                        "nextRecordsUrl": "/services/data/v62.0/query/01gCHILD-1",
                        "records": [self.item(self.item_ids[0])],
                    },
                }
            ],
        }

    def query_more(self, url: str, identifier_is_url: bool, **kwargs: Any) -> dict[str, Any]:
        self.more_calls.append(url)
        return {"done": True, "records": [self.item(i) for i in self.item_ids[1:]]}


class FakeConnection:
    def __init__(self, sf: Any) -> None:
        self.sf = sf

    def call_with_relogin(self, fn: Callable[[Any], Any]) -> Any:
        return fn(self.sf)


def test_a_paged_child_set_is_read_to_the_end() -> None:
    ids = IdFactory(8)
    order_id = ids("801")
    item_ids = [ids("802") for _ in range(3)]
    fake = PagedChildrenSalesforce(order_id, item_ids)
    client = SalesforceClient(FakeConnection(fake))  # type: ignore[arg-type]
    order = client.orders_with_items_by_ids([order_id])[order_id]
    assert [i.id for i in order.items] == item_ids
    assert fake.more_calls == ["/services/data/v62.0/query/01gCHILD-1"]
    assert order.items[0].unit_price == Decimal("10.1")


def test_records_tolerate_missing_fields_and_never_shift_dates() -> None:
    order = OrderRecord.from_api(
        {"attributes": {"type": "Order"}, "Id": "8015g000mNUZjouAQD", "OrderItems": None}
    )
    assert order.items == []
    assert order.effective_date is None
    assert order.billing_address.is_empty
    assert parse_calendar_date("2024-03-31") == dt.date(2024, 3, 31)
    # A date-time keeps the day it was written with: no conversion through a time zone.
    assert parse_calendar_date("2024-03-31T23:30:00.000-0800") == dt.date(2024, 3, 31)
    assert parse_calendar_date("") is None
    with pytest.raises(ValueError, match="not a date"):
        parse_calendar_date("31/03/2024")
    account = AccountRecord.from_api({"Id": "0015g000Hl89dJkAII", "Name": "Acme", "Owner": None})
    assert account.owner_name is None
    assert account.currency is None


def test_an_unreadable_record_names_itself() -> None:
    ids = IdFactory(9)
    order_id = ids("801")
    fake = PagedChildrenSalesforce(order_id, [ids("802")])
    original = fake.query

    def bad_date(soql: str, **kwargs: Any) -> dict[str, Any]:
        answer = original(soql)
        answer["records"][0]["EffectiveDate"] = "31.03.2024"
        answer["records"][0]["OrderItems"]["done"] = True
        return answer

    fake.query = bad_date  # type: ignore[method-assign]
    client = SalesforceClient(FakeConnection(fake))  # type: ignore[arg-type]
    with pytest.raises(SalesforceQueryError) as caught:
        client.orders_with_items_by_ids([order_id])
    assert caught.value.code == "UNREADABLE_RECORD"
    assert order_id in caught.value.message
    assert "EffectiveDate" in caught.value.message
