"""HTTP sessions from a profile's proxy, CA bundle and timeouts; network errors in plain words."""

from __future__ import annotations

import errno
import os
import re
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.models import PreparedRequest, Response

from cpq_sync_gui.redact import redact, register_secret
from cpq_sync_gui.secrets import PROXY_PASSWORD, SecretLookup
from cpq_sync_gui.settings import NetworkSettings, ProxyMode

CA_BUNDLE_ENV_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class NetworkSettingsError(ValueError):
    """The profile's network settings cannot be used as they are (e.g. a missing CA file)."""


class ProxyAuthenticationFailed(requests.exceptions.ProxyError):
    """A proxy answered 407 to a plain-http request (a CONNECT tunnel fails inside urllib3)."""


@dataclass(frozen=True)
class Timeouts:
    """How long to wait for a connection, and then for each read of the answer (seconds)."""

    connect: float
    read: float

    @classmethod
    def from_settings(cls, network: NetworkSettings) -> Timeouts:
        return cls(connect=network.connect_timeout_s, read=network.read_timeout_s)

    def as_tuple(self) -> tuple[float, float]:
        """``(connect, read)``, the form requests takes as ``timeout=``."""
        return (self.connect, self.read)


class ProfileSession(requests.Session):
    """A requests session that always verifies certificates and always has a timeout.

    ``trust_env`` is always False: proxies and the CA bundle come from the profile (system
    proxies are read here, per URL), so ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``/``*_proxy``
    cannot silently replace them. See reference/salesforce.md §1.
    """

    def __init__(self, timeouts: Timeouts, proxy_mode: ProxyMode) -> None:
        super().__init__()
        self.trust_env = False
        self.timeouts = timeouts
        self.proxy_mode = proxy_mode

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        kwargs.setdefault("verify", self.verify)
        if not kwargs["verify"]:
            # requests treats verify=None like False; neither is ever allowed here.
            raise ValueError(
                "CPQ Sync never turns off certificate checks; choose a CA bundle instead"
            )
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeouts.as_tuple()
        if self.proxy_mode == ProxyMode.SYSTEM and not kwargs.get("proxies"):
            kwargs["proxies"] = system_proxies_for(request.url or "")
        return super().send(request, **kwargs)


def system_proxies_for(url: str) -> dict[str, str]:
    """The computer's proxy for ``url`` (environment, Windows registry, macOS settings)."""
    proxies = urllib.request.getproxies()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host and _bypasses_proxy(host, parts.port, proxies):
        return {}
    chosen = proxies.get(parts.scheme) or proxies.get("all")
    return {parts.scheme: chosen} if chosen else {}


def _bypasses_proxy(host: str, port: int | None, proxies: dict[str, str]) -> bool:
    netloc = f"{host}:{port}" if port else host
    try:
        if "no" in proxies:  # no_proxy from the environment
            return bool(urllib.request.proxy_bypass_environment(netloc, proxies))
        return bool(urllib.request.proxy_bypass(netloc))
    except (OSError, ValueError):
        return False


def default_ca_bundle() -> str | bool:
    """Without a profile bundle: an environment bundle that exists, else certifi's (True)."""
    for name in CA_BUNDLE_ENV_VARS:
        value = os.environ.get(name)
        if value and os.path.exists(value):
            return value
    return True


def check_ca_bundle(path: Path) -> str:
    """The bundle's path as a string, or NetworkSettingsError in plain words."""
    if not path.is_file():
        raise NetworkSettingsError(
            f"The CA bundle file {path} does not exist (profile → Network → CA bundle)."
        )
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as error:
        raise NetworkSettingsError(
            f"The CA bundle file {path} has no usable certificate in PEM format (text with "
            f"'-----BEGIN CERTIFICATE-----'): {error}. Export your company's root certificate "
            "as Base-64/PEM."
        ) from None
    return str(path)


def manual_proxy_url(network: NetworkSettings, secrets: SecretLookup | None) -> str:
    """The profile's proxy address with the user name and password inserted (URL-quoted)."""
    if not network.proxy_url:
        raise NetworkSettingsError("Manual proxy is chosen but no proxy address is set.")
    if not network.proxy_username:
        return network.proxy_url
    password = (secrets.get(PROXY_PASSWORD) if secrets is not None else None) or ""
    register_secret(password)
    parts = urlsplit(network.proxy_url)
    userinfo = f"{quote(network.proxy_username, safe='')}:{quote(password, safe='')}"
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", "", "", ""))


def make_session(network: NetworkSettings, secrets: SecretLookup | None = None) -> ProfileSession:
    """The session every HTTP call of the app uses, set up from a profile's network settings."""
    session = ProfileSession(Timeouts.from_settings(network), network.proxy_mode)
    ca_bundle = network.ca_bundle_path()
    session.verify = check_ca_bundle(ca_bundle) if ca_bundle is not None else default_ca_bundle()
    if network.proxy_mode == ProxyMode.MANUAL:
        proxy = manual_proxy_url(network, secrets)
        session.proxies = {"http": proxy, "https": proxy}
    if network.proxy_mode != ProxyMode.NONE:
        session.hooks["response"].append(_raise_on_proxy_407)
    return session


def _raise_on_proxy_407(response: Response, *args: Any, **kwargs: Any) -> Response:
    if response.status_code == 407:
        response.close()  # nobody else gets the response to release its connection
        raise ProxyAuthenticationFailed(
            "Tunnel connection failed: 407 Proxy Authentication Required",
            request=response.request,
            response=response,
        )
    return response


# --- errors in plain words -----------------------------------------------------------------

_TLS_UNTRUSTED = {2, 19, 20, 21}  # unknown issuer / cannot build a chain
_TLS_SELF_SIGNED = {18}
_TLS_EXPIRED = {10}
_TLS_NOT_YET_VALID = {9}
_TLS_NAME_MISMATCH = {62, 64}
_TLS_REVOKED = {23}
_KNOWN_CODES = (
    _TLS_UNTRUSTED | _TLS_SELF_SIGNED | _TLS_EXPIRED | _TLS_NOT_YET_VALID | _TLS_NAME_MISMATCH
) | _TLS_REVOKED
_CA_HINT = (
    "If your company inspects secure traffic, choose its CA certificate file (PEM) in the "
    "profile's Network settings."
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3 reasons, exception args."""
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [
            getattr(current, "reason", None),
            getattr(current, "original_error", None),
            current.__cause__,
            current.__context__,
            *current.args,
        ]
        queue.extend(item for item in linked if isinstance(item, BaseException))


def _first(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    return next((item for item in _causes(exc) if isinstance(item, kind)), None)


def _target(exc: BaseException) -> tuple[str, int | None]:
    """The host (and port) the failed request was for."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        return parts.hostname or url, parts.port
    for item in _causes(exc):
        pool = getattr(item, "pool", None)
        if pool is not None and getattr(pool, "host", None):
            return str(pool.host), getattr(pool, "port", None)
    return "the server", None


def _proxy_name(exc: BaseException) -> str:
    for item in _causes(exc):
        pool = getattr(item, "pool", None)
        proxy = getattr(pool, "proxy", None)
        if proxy is not None and getattr(proxy, "host", None):
            return f"{proxy.host}:{proxy.port}" if proxy.port else str(proxy.host)
        conn = getattr(item, "conn", None)
        if conn is not None and getattr(conn, "proxy", None) is not None:
            return f"{conn.proxy.host}:{conn.proxy.port}"
    return "the proxy"


def _seconds(exc: BaseException, which: str) -> str | None:
    for item in _causes(exc):
        match = re.search(rf"{which} timeout=([0-9.]+)", str(item))
        if match:
            value = float(match.group(1))
            return f"{value:g}"
    return None


def _with_port(host: str, port: int | None) -> str:
    return f"{host}:{port}" if port else host


def describe_network_error(exc: BaseException) -> str:
    """One or two sentences a person can act on, naming what went wrong; never a secret."""
    return redact(_describe(exc))


def _describe(exc: BaseException) -> str:
    host, port = _target(exc)
    where = _with_port(host, port)
    all_text = " ".join(str(item) for item in _causes(exc))

    if isinstance(exc, NetworkSettingsError):
        return str(exc)

    tunnel = re.search(r"Tunnel connection failed: (\d{3})\s*([^'\")]*)", all_text)
    proxy_error = _first(exc, (urllib3.exceptions.ProxyError, requests.exceptions.ProxyError))
    if tunnel and tunnel.group(1) in ("401", "407"):
        # A CONNECT answer always comes from the proxy; some proxies (tinyproxy) say 401.
        return (
            f"The proxy refused the user name or password (HTTP {tunnel.group(1)} "
            f"{tunnel.group(2).strip()}). Enter or correct the proxy user name and password in "
            "the profile's Network settings."
        )
    if tunnel:
        return (
            f"The proxy {_proxy_name(exc)} would not open a connection to {where} (HTTP "
            f"{tunnel.group(1)} {tunnel.group(2).strip()}). The proxy may block this address, or "
            "the address is wrong; ask IT to allow it."
        )
    if proxy_error is not None and not _first(exc, ssl.SSLCertVerificationError):
        proxy = _proxy_name(exc)
        if _first(exc, urllib3.exceptions.NameResolutionError) or _first(exc, socket.gaierror):
            reason = "its name cannot be found"
        elif _first(exc, ConnectionRefusedError) or _is_errno(exc, errno.ECONNREFUSED):
            reason = "the connection was refused"
        elif _first(exc, (urllib3.exceptions.ConnectTimeoutError, TimeoutError, socket.timeout)):
            reason = "it did not answer in time"
        else:
            reason = "it did not accept the connection"
        return (
            f"Cannot reach the proxy {proxy} ({reason}). Check the proxy address and port in "
            "the profile's Network settings, or ask IT which proxy to use."
        )

    cert_error = _first(exc, ssl.SSLCertVerificationError)
    if cert_error is not None:
        return _describe_certificate_problem(cert_error, where)
    ssl_error = _first(exc, ssl.SSLError)
    if ssl_error is not None or isinstance(exc, requests.exceptions.SSLError):
        text = str(ssl_error or exc)
        if "WRONG_VERSION_NUMBER" in text.upper() or "wrong version number" in text:
            return (
                f"{where} did not answer with a secure (TLS) connection — is it an http-only "
                "address or the wrong port?"
            )
        return f"The secure (TLS) connection to {where} failed: {_short(text)}. {_CA_HINT}"

    if _first(exc, urllib3.exceptions.NameResolutionError) or _first(exc, socket.gaierror):
        return f"Cannot find host {host} — check the address, the DNS settings or the VPN."
    if _first(exc, ConnectionRefusedError) or _is_errno(exc, errno.ECONNREFUSED):
        return (
            f"{where} refused the connection (connection refused): nothing is listening there, "
            "or a firewall rejects it. Check the address and port."
        )
    read_timeout = _first(exc, (urllib3.exceptions.ReadTimeoutError,)) or isinstance(
        exc, requests.exceptions.ReadTimeout
    )
    if read_timeout:
        seconds = _seconds(exc, "read")
        within = f" within {seconds} seconds" if seconds else " in time"
        return (
            f"{where} accepted the connection but did not answer{within} (read timeout). The "
            "server may be busy: try again, or raise the read timeout in Network settings."
        )
    connect_timeout = isinstance(exc, requests.exceptions.ConnectTimeout) or any(
        isinstance(item, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(item, urllib3.exceptions.NewConnectionError)
        for item in _causes(exc)
    )
    if connect_timeout:
        seconds = _seconds(exc, "connect")
        after = f" after {seconds} seconds" if seconds else ""
        return (
            f"Connecting to {where} timed out{after} (connect timeout): the server, a firewall "
            "or the VPN is not answering."
        )
    if _first(exc, ConnectionResetError) or _is_errno(exc, errno.ECONNRESET):
        return (
            f"The connection to {where} was reset (connection reset) before the answer arrived. "
            "A proxy, firewall or VPN may have cut it; try again."
        )
    if _first(exc, ConnectionAbortedError) or "RemoteDisconnected" in all_text:
        return (
            f"{where} closed the connection without answering. A proxy, firewall or VPN may "
            "have cut it; try again."
        )
    if _first(exc, OSError) and _is_errno(exc, errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"No route to {where} (network unreachable) — check the network, Wi-Fi or VPN."
    return f"Network error talking to {where}: {_short(str(exc))}"


def _describe_certificate_problem(error: ssl.SSLCertVerificationError, where: str) -> str:
    code = getattr(error, "verify_code", None)
    detail = (getattr(error, "verify_message", None) or _short(str(error))).rstrip(".")
    lowered = detail.lower()
    unknown_code = code not in _KNOWN_CODES
    if code in _TLS_SELF_SIGNED or (
        unknown_code and "self-signed certificate" in lowered and "chain" not in lowered
    ):
        return (
            f"The certificate of {where} is not trusted: it is self-signed ({detail}). {_CA_HINT}"
        )
    if code in _TLS_UNTRUSTED or (
        unknown_code and ("issuer" in lowered or "self-signed" in lowered)
    ):
        return (
            f"The certificate of {where} is not trusted: it was issued by an unknown "
            f"authority ({detail}). {_CA_HINT}"
        )
    if code in _TLS_EXPIRED or (unknown_code and "expired" in lowered):
        return (
            f"The certificate of {where} has expired ({detail}). Check this computer's date "
            "and time; otherwise the server's owner must renew it."
        )
    if code in _TLS_NOT_YET_VALID or (unknown_code and "not yet valid" in lowered):
        return (
            f"The certificate of {where} is not valid yet ({detail}). Check this computer's "
            "date and time."
        )
    if code in _TLS_NAME_MISMATCH or (unknown_code and "mismatch" in lowered):
        return (
            f"The certificate presented by {where} is for another name ({detail}). Check the "
            "address; a proxy or TLS inspection may be answering instead of the real server."
        )
    if code in _TLS_REVOKED or (unknown_code and "revoked" in lowered):
        return f"The certificate of {where} has been revoked ({detail})."
    return f"The certificate of {where} could not be verified ({detail}). {_CA_HINT}"


def _is_errno(exc: BaseException, *codes: int) -> bool:
    return any(isinstance(item, OSError) and item.errno in codes for item in _causes(exc))


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
