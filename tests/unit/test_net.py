"""Tests for net.py: CA bundle and proxy handling, timeouts, and network errors in plain words."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import certifi
import pytest
import requests
import trustme
from requests.utils import get_auth_from_url

from cpq_sync_gui import net
from cpq_sync_gui.net import (
    NetworkSettingsError,
    ProfileSession,
    Timeouts,
    describe_network_error,
    manual_proxy_url,
    system_proxies_for,
)
from cpq_sync_gui.redact import default_redactor
from cpq_sync_gui.secrets import PROXY_PASSWORD
from cpq_sync_gui.settings import NetworkSettings, ProxyMode
from tests.helpers.tinyproxy import run_tinyproxy

# --- loopback servers ----------------------------------------------------------------------


class _OkHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from loopback"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class LoopbackServer:
    """An HTTP(S) server on 127.0.0.1 answering 200 to every GET."""

    def __init__(self, context: ssl.SSLContext | None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _OkHandler)
        self.httpd.daemon_threads = True
        if context is not None:
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if context is not None else "http"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


@contextlib.contextmanager
def serving(cert: trustme.LeafCert | None) -> Iterator[LoopbackServer]:
    context = None
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
    server = LoopbackServer(context)
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def silent_listener(backlog: int = 5) -> Iterator[socket.socket]:
    """A port that accepts TCP connections (the kernel does) but never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    try:
        yield listener
    finally:
        listener.close()


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA(organization_name="CPQ Sync test CA")


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "company-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def other_bundle(tmp_path: Path) -> Path:
    """A real CA bundle that does not contain the test CA (what the dev machines set)."""
    path = tmp_path / "other-bundle.pem"
    shutil.copyfile(certifi.where(), path)
    return path


@pytest.fixture(autouse=True)
def _env_bundle_points_elsewhere(monkeypatch: pytest.MonkeyPatch, other_bundle: Path) -> None:
    # As on the development machines: an environment CA bundle that would override verify.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_bundle))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other_bundle))
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)


class FakeSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, secret_name: str) -> str | None:
        return self.values.get(secret_name)


_open_sessions: list[requests.Session] = []


def make_session(*args: object, **kwargs: object) -> ProfileSession:
    """net.make_session, remembering the session so the test closes its pooled sockets."""
    session = net.make_session(*args, **kwargs)  # type: ignore[arg-type]
    _open_sessions.append(session)
    return session


@pytest.fixture(autouse=True)
def _close_sessions() -> Iterator[None]:
    yield
    while _open_sessions:
        _open_sessions.pop().close()
    default_redactor.clear()  # secrets registered by one test must not blank another's text


def direct(**kwargs: object) -> NetworkSettings:
    return NetworkSettings(proxy_mode=ProxyMode.NONE, **kwargs)


def error_of(call) -> BaseException:  # type: ignore[no-untyped-def]
    with pytest.raises(requests.RequestException) as info:
        call()
    return info.value


# --- CA bundle -----------------------------------------------------------------------------


def test_profile_ca_bundle_wins_over_requests_ca_bundle_env(
    ca_file: Path, other_bundle: Path
) -> None:
    url = "https://acme.my.salesforce.com/services/data/"
    with requests.Session() as plain:
        # The trap this guards against: a default session lets the environment override verify.
        plain.verify = str(ca_file)
        merged = plain.merge_environment_settings(url, {}, None, None, None)
    assert merged["verify"] == str(other_bundle)

    for mode in ProxyMode:
        proxy_url = "http://proxy.example.com:3128" if mode == ProxyMode.MANUAL else ""
        network = NetworkSettings(proxy_mode=mode, proxy_url=proxy_url, ca_bundle=ca_file)
        session = make_session(network, FakeSecrets({}))
        assert session.trust_env is False
        merged = session.merge_environment_settings(url, {}, None, None, None)
        assert merged["verify"] == str(ca_file), mode


def test_profile_ca_bundle_is_used_on_a_real_connection(ca: trustme.CA, ca_file: Path) -> None:
    with serving(ca.issue_cert("127.0.0.1")) as server:
        # requests' own default session fails: REQUESTS_CA_BUNDLE wins and lacks our CA.
        with requests.Session() as plain:
            plain.verify = str(ca_file)
            with pytest.raises(requests.exceptions.SSLError):
                plain.get(server.url(), timeout=5)

        session = make_session(direct(ca_bundle=ca_file))
        response = session.get(server.url())
        assert response.status_code == 200
        assert response.text == "hello from loopback"


def test_without_profile_bundle_the_environment_bundle_then_certifi_is_used(
    ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(ca.issue_cert("127.0.0.1")) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
        assert make_session(direct()).get(server.url()).status_code == 200

        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
        monkeypatch.delenv("CURL_CA_BUNDLE")
        session = make_session(direct())
        assert session.verify is True  # certifi
        with pytest.raises(requests.exceptions.SSLError):
            session.get(server.url())


def test_missing_or_non_pem_ca_bundle_is_refused_in_plain_words(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(NetworkSettingsError, match=r"CA bundle file .*nope\.pem does not exist"):
        make_session(direct(ca_bundle=missing))
    not_pem = tmp_path / "company.cer"
    not_pem.write_bytes(b"\x30\x82\x01\x0a binary DER, not PEM")
    with pytest.raises(NetworkSettingsError, match="no usable certificate in PEM format"):
        make_session(direct(ca_bundle=not_pem))


def test_certificate_checks_cannot_be_turned_off(ca: trustme.CA, ca_file: Path) -> None:
    with serving(ca.issue_cert("127.0.0.1")) as server:
        session = make_session(direct(ca_bundle=ca_file))
        with pytest.raises(ValueError, match="never turns off certificate checks"):
            session.get(server.url(), verify=False)
        session.verify = False
        with pytest.raises(ValueError, match="never turns off certificate checks"):
            session.get(server.url())


# --- timeouts ------------------------------------------------------------------------------


def test_timeouts_helper_gives_connect_then_read() -> None:
    network = direct(connect_timeout_s=3, read_timeout_s=45)
    assert Timeouts.from_settings(network).as_tuple() == (3.0, 45.0)
    assert make_session(network).timeouts == Timeouts(3.0, 45.0)


def test_session_applies_profile_read_timeout_when_caller_gives_none() -> None:
    session = make_session(direct(read_timeout_s=0.5))
    with silent_listener() as listener:
        port = listener.getsockname()[1]
        started = time.monotonic()
        error = error_of(lambda: session.get(f"http://127.0.0.1:{port}/"))
        elapsed = time.monotonic() - started
    assert isinstance(error, requests.exceptions.ReadTimeout)
    assert elapsed < 5
    message = describe_network_error(error)
    assert message.startswith(f"127.0.0.1:{port} accepted the connection but did not answer")
    assert "within 0.5 seconds (read timeout)" in message


# --- system and manual proxies -------------------------------------------------------------


def test_system_proxy_comes_from_the_computer_and_honours_no_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.corp.example:3128")
    monkeypatch.setenv("no_proxy", "localhost,.internal.example")
    assert system_proxies_for("https://login.salesforce.com/services/oauth2/token") == {
        "https": "http://proxy.corp.example:3128"
    }
    assert system_proxies_for("https://localhost:8443/") == {}
    assert system_proxies_for("https://billing.internal.example/") == {}
    assert system_proxies_for("http://login.salesforce.com/") == {}  # no http_proxy set


def test_system_proxy_mode_really_goes_through_the_system_proxy(
    ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead_proxy = closed_port()
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{dead_proxy}")
    with serving(ca.issue_cert("127.0.0.1")) as server:
        session = make_session(NetworkSettings(proxy_mode=ProxyMode.SYSTEM, ca_bundle=ca_file))
        assert session.trust_env is False
        error = error_of(lambda: session.get(server.url()))
        assert describe_network_error(error).startswith(
            f"Cannot reach the proxy 127.0.0.1:{dead_proxy} (the connection was refused)"
        )
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        assert session.get(server.url()).status_code == 200
        # "none" ignores the computer's proxy altogether.
        monkeypatch.delenv("no_proxy")
        assert make_session(direct(ca_bundle=ca_file)).get(server.url()).status_code == 200


def test_manual_proxy_inserts_quoted_user_and_password() -> None:
    network = NetworkSettings(
        proxy_mode=ProxyMode.MANUAL,
        proxy_url="http://proxy.corp.example:8080",
        proxy_username=r"CORP\jane.doe",
    )
    secrets = FakeSecrets({PROXY_PASSWORD: "p@ss:w/rd %41"})
    url = manual_proxy_url(network, secrets)
    assert url == "http://CORP%5Cjane.doe:p%40ss%3Aw%2Frd%20%2541@proxy.corp.example:8080"
    assert get_auth_from_url(url) == (r"CORP\jane.doe", "p@ss:w/rd %41")
    session = make_session(network, secrets)
    assert session.proxies == {"http": url, "https": url}
    # Without a user name, no credentials go in.
    anonymous = NetworkSettings(proxy_mode=ProxyMode.MANUAL, proxy_url="http://p.example:8080")
    assert manual_proxy_url(anonymous, secrets) == "http://p.example:8080"


def test_unreachable_manual_proxy_message_never_shows_the_password(
    ca: trustme.CA, ca_file: Path
) -> None:
    password = "Very-Secret-Proxy-Pw-7731"
    default_redactor.register(password)
    port = closed_port()
    network = NetworkSettings(
        proxy_mode=ProxyMode.MANUAL,
        proxy_url=f"http://127.0.0.1:{port}",
        proxy_username="jane",
        ca_bundle=ca_file,
    )
    session = make_session(network, FakeSecrets({PROXY_PASSWORD: password}))
    with serving(ca.issue_cert("127.0.0.1")) as server:
        error = error_of(lambda: session.get(server.url()))
    message = describe_network_error(error)
    assert f"Cannot reach the proxy 127.0.0.1:{port}" in message
    assert password not in message


# --- describe_network_error against real failures ------------------------------------------


def test_unknown_issuer_is_named(ca_file: Path) -> None:
    stranger = trustme.CA(organization_name="Somebody else")
    with serving(stranger.issue_cert("127.0.0.1")) as server:
        error = error_of(lambda: make_session(direct(ca_bundle=ca_file)).get(server.url()))
    message = describe_network_error(error)
    assert message.startswith(f"The certificate of 127.0.0.1:{server.port} is not trusted")
    assert "issued by an unknown authority (unable to get local issuer certificate)" in message
    assert "CA certificate file (PEM)" in message


def test_self_signed_certificate_is_named(tmp_path: Path) -> None:
    # A CA certificate used directly as the server certificate: self-signed leaf.
    lone = trustme.CA()
    cert_file = tmp_path / "self.pem"
    key_file = tmp_path / "self.key"
    lone.cert_pem.write_to_path(str(cert_file))
    lone.private_key_pem.write_to_path(str(key_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = LoopbackServer(context)
    try:
        error = error_of(lambda: make_session(direct()).get(server.url()))
    finally:
        server.close()
    message = describe_network_error(error)
    assert "is not trusted: it is self-signed (self-signed certificate)" in message


def test_expired_certificate_is_named(ca: trustme.CA, ca_file: Path) -> None:
    expired = ca.issue_cert(
        "127.0.0.1",
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2020, 2, 1, tzinfo=dt.UTC),
    )
    with serving(expired) as server:
        error = error_of(lambda: make_session(direct(ca_bundle=ca_file)).get(server.url()))
    message = describe_network_error(error)
    assert message.startswith(f"The certificate of 127.0.0.1:{server.port} has expired")
    assert "(certificate has expired)" in message
    assert "date and time" in message


def test_hostname_mismatch_is_named(ca: trustme.CA, ca_file: Path) -> None:
    with serving(ca.issue_cert("127.0.0.1")) as server:
        error = error_of(
            lambda: make_session(direct(ca_bundle=ca_file)).get(server.url(host="localhost"))
        )
    message = describe_network_error(error)
    assert f"The certificate presented by localhost:{server.port} is for another name" in message
    assert "Hostname mismatch, certificate is not valid for 'localhost'" in message


def test_plain_http_port_on_https_url_is_named() -> None:
    with serving(None) as server:
        https_url = server.url().replace("http://", "https://")
        error = error_of(lambda: make_session(direct()).get(https_url))
    assert "did not answer with a secure (TLS) connection" in describe_network_error(error)


def test_connection_refused_is_named() -> None:
    port = closed_port()
    error = error_of(lambda: make_session(direct()).get(f"https://127.0.0.1:{port}/"))
    assert describe_network_error(error).startswith(
        f"127.0.0.1:{port} refused the connection (connection refused)"
    )


def test_dns_failure_is_named() -> None:
    error = error_of(lambda: make_session(direct()).get("https://cpq-sync-test.invalid/"))
    assert describe_network_error(error) == (
        "Cannot find host cpq-sync-test.invalid — check the address, the DNS settings or the VPN."
    )


def test_read_timeout_says_which_timeout_and_how_long() -> None:
    session = make_session(direct(connect_timeout_s=5, read_timeout_s=0.4))
    with silent_listener() as listener:
        port = listener.getsockname()[1]
        error = error_of(lambda: session.get(f"http://127.0.0.1:{port}/", timeout=(5, 0.3)))
    message = describe_network_error(error)
    assert "did not answer within 0.3 seconds (read timeout)" in message
    assert "connect timeout" not in message


def test_connect_timeout_says_which_timeout_and_how_long() -> None:
    # A listener with a full backlog: the kernel drops further SYNs, so connect() hangs.
    with silent_listener(backlog=0) as listener:
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(("127.0.0.1", port))
                fillers.append(filler)
            time.sleep(0.2)
            session = make_session(direct(connect_timeout_s=0.5, read_timeout_s=30))
            error = error_of(lambda: session.get(f"http://127.0.0.1:{port}/"))
        finally:
            for filler in fillers:
                filler.close()
    assert isinstance(error, requests.exceptions.ConnectTimeout)
    message = describe_network_error(error)
    assert message.startswith(f"Connecting to 127.0.0.1:{port} timed out after 0.5 seconds")
    assert "(connect timeout)" in message


def test_connection_reset_is_named() -> None:
    with silent_listener() as listener:
        port = listener.getsockname()[1]

        def reset_first_connection() -> None:
            connection, _ = listener.accept()
            connection.recv(65536)
            # SO_LINGER 0: close() sends RST instead of FIN.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

        thread = threading.Thread(target=reset_first_connection, daemon=True)
        thread.start()
        error = error_of(lambda: make_session(direct()).get(f"http://127.0.0.1:{port}/"))
        thread.join(5)
    message = describe_network_error(error)
    assert message.startswith(f"The connection to 127.0.0.1:{port} was reset (connection reset)")


def test_messages_never_contain_registered_secrets() -> None:
    secret = "zuora-client-secret-0123456789"
    default_redactor.register(secret)
    error = requests.exceptions.ConnectionError(f"something odd happened with {secret}")
    message = describe_network_error(error)
    assert message.startswith("Network error talking to the server:")
    assert secret not in message
    assert "***" in message


# --- a real authenticating proxy (tinyproxy) -----------------------------------------------

PROXY_USER = "cpq-proxy-user"
PROXY_PASS = "Proxy-Pw-4417"


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[str]:
    """tinyproxy on a free loopback port with BasicAuth; yields http://127.0.0.1:PORT."""
    with run_tinyproxy(tmp_path, PROXY_USER, PROXY_PASS) as proxy:
        yield proxy.url


def _through_proxy(
    proxy_url: str, ca_file: Path, username: str, password: str | None
) -> ProfileSession:
    network = NetworkSettings(
        proxy_mode=ProxyMode.MANUAL, proxy_url=proxy_url, proxy_username=username, ca_bundle=ca_file
    )
    values = {PROXY_PASSWORD: password} if password is not None else {}
    return make_session(network, FakeSecrets(values))


def test_authenticating_proxy_lets_the_right_password_through(
    tinyproxy: str, ca: trustme.CA, ca_file: Path
) -> None:
    with serving(ca.issue_cert("127.0.0.1")) as server:
        response = _through_proxy(tinyproxy, ca_file, PROXY_USER, PROXY_PASS).get(server.url())
    assert response.status_code == 200
    assert response.text == "hello from loopback"


def test_authenticating_proxy_refusal_is_named(
    tinyproxy: str, ca: trustme.CA, ca_file: Path
) -> None:
    with serving(ca.issue_cert("127.0.0.1")) as server:
        wrong = error_of(
            lambda: _through_proxy(tinyproxy, ca_file, PROXY_USER, "Wrong-Proxy-Pw-1").get(
                server.url()
            )
        )
        # No credentials at all: the proxy answers 407 Proxy Authentication Required.
        missing = error_of(lambda: _through_proxy(tinyproxy, ca_file, "", None).get(server.url()))
    assert describe_network_error(missing) == (
        "The proxy refused the user name or password (HTTP 407 Proxy Authentication Required). "
        "Enter or correct the proxy user name and password in the profile's Network settings."
    )
    # tinyproxy answers a wrong password with 401 instead of 407; the meaning is the same.
    assert describe_network_error(wrong).startswith(
        "The proxy refused the user name or password (HTTP 401 Unauthorized)."
    )
    assert "Wrong-Proxy-Pw-1" not in describe_network_error(wrong)


def test_plain_http_407_from_proxy_raises_a_proxy_error(tinyproxy: str, ca_file: Path) -> None:
    with serving(None) as server:
        session = _through_proxy(tinyproxy, ca_file, "", None)
        error = error_of(lambda: session.get(server.url()))
    assert isinstance(error, requests.exceptions.ProxyError)
    assert describe_network_error(error).startswith(
        "The proxy refused the user name or password (HTTP 407 Proxy Authentication Required)."
    )
