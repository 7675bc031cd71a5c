"""Connection profiles (Salesforce, Zuora, connector, network) in profiles.json, without secrets."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import tempfile
import time
import unicodedata
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from cpq_sync_gui import paths

FORMAT_VERSION = 1
PROFILES_FILE_NAME = "profiles.json"
DEFAULT_API_VERSION = "62.0"
DEFAULT_ZUORA_VERSION = "2025-08-12"
DEFAULT_CONNECTOR_ENDPOINT = (
    "https://r7eq6a62d4.execute-api.us-west-2.amazonaws.com/default/sfdccpq"
)
DEFAULT_BROWSER_CALLBACK_PORT = 1717  # the port Salesforce CLI uses; connected apps often allow it
MAX_PROFILE_NAME_LENGTH = 80


def profiles_path() -> Path:
    return paths.config_dir() / PROFILES_FILE_NAME


# --- address checks ------------------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Always used with fullmatch: "$" would also match before a final line break.
_HOST_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_DOMAIN_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::(?P<port>\d{{1,5}}))?")


def _has_invisible(text: str) -> bool:
    """Spaces, tabs, line breaks or other control characters (NUL, DEL, …) anywhere in ``text``."""
    return any(char.isspace() or unicodedata.category(char) == "Cc" for char in text)


def _check_port(port: str | None, what: str) -> None:
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"{what}: the port must be between 1 and 65535")


def _host_and_port(value: str, what: str) -> str:
    """Lower-case ``host`` or ``host:port``; a pasted ``https://`` and a trailing ``/`` go."""
    text = value.strip().lower()
    if text.startswith("http://"):
        raise ValueError(f"{what} must use https://, not http://")
    text = text.removeprefix("https://").rstrip("/")
    match = _DOMAIN_RE.fullmatch(text)
    if not match or _has_invisible(text):
        raise ValueError(
            f"{what} must be a host name like acme.my.salesforce.com (letters, digits, '-' "
            f"and '.', optionally ':port'), not {value!r}"
        )
    _check_port(match.group("port"), what)
    return text


def _https_url(value: str, what: str, *, allow_path: bool = False) -> str:
    """``https://host[:port]`` (plus a path when allowed), normalised, or a plain-words error."""
    text = value.strip()
    if _has_invisible(text):
        # urlsplit would silently delete tabs and line breaks; refuse them (and spaces, NUL)
        raise ValueError(
            f"{what} must not contain spaces, line breaks or other invisible characters"
        )
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "http":
        raise ValueError(
            f"{what} must use https://, not http:// (secrets would travel unencrypted)"
        )
    if scheme != "https" or not parts.netloc:
        raise ValueError(
            f"{what} must be an address starting with https://, like https://host:8443"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not contain a user name or password")
    if parts.query or text.endswith("?"):
        raise ValueError(f"{what} must not contain a query string (the part after '?')")
    if parts.fragment or text.endswith("#"):
        raise ValueError(f"{what} must not contain a '#' part")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{what}: the port must be a number between 1 and 65535")
    host = parts.hostname or ""
    if not host or not (_HOST_RE.fullmatch(host) or ":" in host):  # ':' — an IPv6 literal
        raise ValueError(f"{what} has an invalid host name {host!r}")
    path = parts.path
    if not allow_path and path not in ("", "/"):
        raise ValueError(
            f"{what} must be only the server's address, like https://login.example.com:8443, "
            f"without a path ({path!r})"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"https://{netloc}{path.rstrip('/') if allow_path else ''}"


def lightning_domain_from_instance(host: str) -> str:
    """The org's Lightning host for the connector buttons, from its My Domain / instance host.

    ``acme.my.salesforce.com`` → ``acme.lightning.force.com`` (also for ``.develop.`` and
    ``.sandbox.`` hosts); a host that does not fit the pattern (e.g. ``127.0.0.1:8443``) is
    returned unchanged.
    """
    text = host.strip()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.split("/", 1)[0]
    name, sep, port = text.partition(":")
    lower = name.lower()
    suffix = ".my.salesforce.com"
    if lower.endswith(suffix) and len(lower) > len(suffix):
        return f"{lower[: -len(suffix)]}.lightning.force.com{sep}{port}"
    return text


# --- sections ------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)


class SalesforceAuthMethod(StrEnum):
    PASSWORD = "password"  # noqa: S105 — user name + password + token (SOAP login, being retired)
    JWT = "jwt"  # OAuth JWT bearer: consumer key + private key file
    CLIENT_CREDENTIALS = "client_credentials"  # consumer key + secret, My Domain only
    BROWSER = "browser"  # OAuth authorization code + PKCE in the system browser
    SESSION = "session"  # an existing session id + instance URL


class LoginHost(StrEnum):
    PRODUCTION = "production"
    SANDBOX = "sandbox"
    MY_DOMAIN = "my_domain"
    CUSTOM = "custom"


LOGIN_URLS = {
    LoginHost.PRODUCTION: "https://login.salesforce.com",
    LoginHost.SANDBOX: "https://test.salesforce.com",
}


class SalesforceSettings(_Section):
    auth_method: SalesforceAuthMethod = SalesforceAuthMethod.PASSWORD
    login_host: LoginHost = LoginHost.PRODUCTION
    my_domain: str = Field("", validate_default=True)  # e.g. acme.my.salesforce.com
    custom_login_url: str = Field("", validate_default=True)  # e.g. https://127.0.0.1:8443
    username: str = ""
    consumer_key: str = ""
    private_key_file: Path | None = None  # JWT: the PEM private key of the connected app
    instance_url: str = ""  # session: https://acme.my.salesforce.com
    api_version: str = DEFAULT_API_VERSION
    browser_callback_port: int = Field(DEFAULT_BROWSER_CALLBACK_PORT, ge=1024, le=65535)

    @field_validator("login_host")
    @classmethod
    def _client_credentials_need_my_domain(
        cls, value: LoginHost, info: ValidationInfo
    ) -> LoginHost:
        if info.data.get("auth_method") == SalesforceAuthMethod.CLIENT_CREDENTIALS and value in (
            LoginHost.PRODUCTION,
            LoginHost.SANDBOX,
        ):
            raise ValueError(
                "the client credentials login needs your org's My Domain host "
                "(choose 'my_domain' or 'custom'); login.salesforce.com and "
                "test.salesforce.com refuse it"
            )
        return value

    @field_validator("my_domain")
    @classmethod
    def _my_domain_host(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("login_host") == LoginHost.MY_DOMAIN:
                raise ValueError("enter your My Domain host, like acme.my.salesforce.com")
            return ""
        host = _host_and_port(value, "the My Domain host")
        if "." not in host.split(":", 1)[0]:
            raise ValueError(
                f"the My Domain host must be the full name, like {host}.my.salesforce.com"
            )
        return host

    @field_validator("custom_login_url")
    @classmethod
    def _custom_login_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("login_host") == LoginHost.CUSTOM:
                raise ValueError("enter the login address, like https://login.example.com:8443")
            return ""
        return _https_url(value, "the custom login address")

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if value and ("@" not in value or any(c.isspace() for c in value)):
            raise ValueError(
                "a Salesforce user name looks like an email address (name@example.com)"
            )
        return value

    @field_validator("consumer_key")
    @classmethod
    def _consumer_key(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError("the consumer key must not contain spaces")
        return value

    @field_validator("private_key_file", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("instance_url")
    @classmethod
    def _instance_url(cls, value: str) -> str:
        return _https_url(value, "the instance URL") if value else ""

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        text = value.removeprefix("v")
        match = re.fullmatch(r"(\d{2,3})\.0", text)
        if not match or int(match.group(1)) < 20:
            raise ValueError(f"the API version looks like 62.0, not {value!r}")
        return text

    def login_url(self) -> str:
        """Where the login request goes: https://login.salesforce.com, a My Domain, …"""
        if self.login_host == LoginHost.MY_DOMAIN:
            return f"https://{self.my_domain}"
        if self.login_host == LoginHost.CUSTOM:
            return self.custom_login_url
        return LOGIN_URLS[self.login_host]

    def browser_callback_url(self) -> str:
        """The loopback redirect URL the admin registers as the connected app's callback."""
        return f"http://localhost:{self.browser_callback_port}/OauthRedirect"

    @property
    def is_production(self) -> bool:
        if self.login_host == LoginHost.PRODUCTION:
            return True
        if self.login_host == LoginHost.MY_DOMAIN:
            return "sandbox" not in self.my_domain
        return False

    def missing_settings(self) -> list[str]:
        """What the chosen login method still needs, in plain words (empty when complete)."""
        method = self.auth_method
        missing: list[str] = []
        if (
            method in (SalesforceAuthMethod.PASSWORD, SalesforceAuthMethod.JWT)
            and not self.username
        ):
            missing.append("Salesforce user name")
        if (
            method
            in (
                SalesforceAuthMethod.JWT,
                SalesforceAuthMethod.CLIENT_CREDENTIALS,
                SalesforceAuthMethod.BROWSER,
            )
            and not self.consumer_key
        ):
            missing.append("Salesforce consumer key")
        if method == SalesforceAuthMethod.JWT and self.private_key_file is None:
            missing.append("Salesforce private key file")
        if method == SalesforceAuthMethod.SESSION and not self.instance_url:
            missing.append("Salesforce instance URL")
        return missing


class ZuoraEnvironment(NamedTuple):
    label: str
    rest_base_url: str
    is_production: bool


CUSTOM_ENVIRONMENT = "custom"
# Copied from reference/zuora.md §2; keys are stored in profiles.json, so never rename one.
ZUORA_ENVIRONMENTS: dict[str, ZuoraEnvironment] = {
    "us_developer_central_sandbox": ZuoraEnvironment(
        "US Developer & Central Sandbox", "https://rest.test.zuora.com", False
    ),
    "us_api_sandbox_cloud1": ZuoraEnvironment(
        "US API Sandbox (Cloud 1)", "https://rest.sandbox.na.zuora.com", False
    ),
    "us_api_sandbox_cloud2": ZuoraEnvironment(
        "US API Sandbox (Cloud 2)", "https://rest.apisandbox.zuora.com", False
    ),
    "us_production_cloud1": ZuoraEnvironment(
        "US Production (Cloud 1)", "https://rest.na.zuora.com", True
    ),
    "us_production_cloud2": ZuoraEnvironment(
        "US Production (Cloud 2)", "https://rest.zuora.com", True
    ),
    "eu_developer_central_sandbox": ZuoraEnvironment(
        "EU Developer & Central Sandbox", "https://rest.test.eu.zuora.com", False
    ),
    "eu_api_sandbox": ZuoraEnvironment(
        "EU API Sandbox", "https://rest.sandbox.eu.zuora.com", False
    ),
    "eu_production": ZuoraEnvironment("EU Production", "https://rest.eu.zuora.com", True),
    "apac_developer_central_sandbox": ZuoraEnvironment(
        "APAC Developer & Central Sandbox", "https://rest.test.ap.zuora.com", False
    ),
    "apac_production": ZuoraEnvironment("APAC Production", "https://rest.ap.zuora.com", True),
}


class ZuoraSettings(_Section):
    environment: str = "us_developer_central_sandbox"
    base_url: str = Field("", validate_default=True)  # only for environment "custom"
    client_id: str = ""
    zuora_version: str = DEFAULT_ZUORA_VERSION
    entity_id: str | None = None

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value != CUSTOM_ENVIRONMENT and value not in ZUORA_ENVIRONMENTS:
            choices = ", ".join([*ZUORA_ENVIRONMENTS, CUSTOM_ENVIRONMENT])
            raise ValueError(f"unknown Zuora environment {value!r}; choose one of {choices}")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("environment") == CUSTOM_ENVIRONMENT:
                raise ValueError("enter the Zuora REST address, like https://rest.example.com")
            return ""
        return _https_url(value, "the Zuora REST address")

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError("the Zuora client ID must not contain spaces")
        return value

    @field_validator("zuora_version")
    @classmethod
    def _zuora_version(cls, value: str) -> str:
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"the Zuora version is a date like {DEFAULT_ZUORA_VERSION}, not {value!r}"
            ) from None
        return value

    @field_validator("entity_id", mode="before")
    @classmethod
    def _entity_id(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
                raise ValueError("the Zuora entity ID has only letters, digits and '-'")
        return value

    def rest_base_url(self) -> str:
        if self.environment == CUSTOM_ENVIRONMENT:
            return self.base_url
        return ZUORA_ENVIRONMENTS[self.environment].rest_base_url

    @property
    def environment_label(self) -> str:
        if self.environment == CUSTOM_ENVIRONMENT:
            return f"Custom ({self.base_url})"
        return ZUORA_ENVIRONMENTS[self.environment].label

    @property
    def is_production(self) -> bool:
        environment = ZUORA_ENVIRONMENTS.get(self.environment)
        return environment is not None and environment.is_production

    def missing_settings(self) -> list[str]:
        return [] if self.client_id else ["Zuora client ID"]


class ConnectorSettings(_Section):
    endpoint_url: str = DEFAULT_CONNECTOR_ENDPOINT
    # The org's Lightning host the buttons send (sfdc=…); blank = derived from the instance host.
    sfdc_domain: str = ""

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str) -> str:
        return _https_url(
            value or DEFAULT_CONNECTOR_ENDPOINT, "the connector address", allow_path=True
        )

    @field_validator("sfdc_domain")
    @classmethod
    def _sfdc_domain(cls, value: str) -> str:
        return _host_and_port(value, "the Salesforce domain") if value else ""


class ProxyMode(StrEnum):
    NONE = "none"  # connect directly
    SYSTEM = "system"  # the computer's proxy settings
    MANUAL = "manual"  # proxy_url (+ proxy_username and a password in the keyring)


class NetworkSettings(_Section):
    proxy_mode: ProxyMode = ProxyMode.SYSTEM
    proxy_url: str = Field("", validate_default=True)  # http://proxy.example.com:3128
    proxy_username: str = ""
    ca_bundle: Path | None = None  # PEM file of the company's CA(s), for TLS inspection
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    read_timeout_s: float = Field(60.0, gt=0, le=3600)

    @field_validator("proxy_url")
    @classmethod
    def _proxy_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            if info.data.get("proxy_mode") == ProxyMode.MANUAL:
                raise ValueError("enter the proxy address, like http://proxy.example.com:3128")
            return ""
        if _has_invisible(value):
            raise ValueError(
                "the proxy address must not contain spaces, line breaks or other invisible "
                "characters"
            )
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"the proxy address looks like http://proxy.example.com:3128, not {value!r}"
            )
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "put the proxy user name in 'proxy user name' and its password in the "
                "password field, not in the address"
            )
        try:
            port = parts.port
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65535:
            raise ValueError("the proxy port must be a number between 1 and 65535")
        if port is None:
            raise ValueError(f"the proxy address needs a port, like {value.rstrip('/')}:3128")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("the proxy address is only scheme, host and port")
        host = parts.hostname
        netloc = f"[{host}]" if ":" in host else host
        return f"{parts.scheme.lower()}://{netloc}:{port}"

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _blank_path_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def ca_bundle_path(self) -> Path | None:
        return self.ca_bundle.expanduser() if self.ca_bundle is not None else None


class Profile(_Section):
    """A named set of connections: a Salesforce org, a Zuora tenant, the connector, the network."""

    name: str
    treat_as_production: bool = False  # for custom hosts the app cannot classify
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    zuora: ZuoraSettings = Field(default_factory=ZuoraSettings)
    connector: ConnectorSettings = Field(default_factory=ConnectorSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_profile_name(value)

    @property
    def is_production(self) -> bool:
        """True when either side is (or is declared to be) a production system."""
        return self.treat_as_production or self.salesforce.is_production or self.zuora.is_production

    def missing_settings(self) -> list[str]:
        return self.salesforce.missing_settings() + self.zuora.missing_settings()


def check_profile_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise ValueError("a profile needs a name")
    if len(name) > MAX_PROFILE_NAME_LENGTH:
        raise ValueError(f"a profile name has at most {MAX_PROFILE_NAME_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError("a profile name cannot contain control characters")
    return name


class ProfilesFile(BaseModel):
    """The whole of profiles.json."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    active_profile: str | None = None
    profiles: list[Profile] = Field(default_factory=list)


# --- the file ------------------------------------------------------------------------------


class SettingsFileError(Exception):
    """profiles.json cannot be used as it is; ``problems`` says where and why, in plain words."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        text = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(
            f"The connection profiles in {path} could not be loaded; the file was left as it "
            f"is.\n{text}"
        )


class ProfileError(ValueError):
    """A profile operation that cannot be done (no such profile, name already taken)."""


_JSON_MESSAGES = {
    "Expecting ',' delimiter": "expected ',' between two items (or a closing bracket)",
    "Expecting ':' delimiter": "expected ':' after a name",
    "Expecting value": "expected a value (text in double quotes, a number, true, false or null)",
    "Expecting property name enclosed in double quotes": (
        "expected a name in double quotes (is there a comma before a closing bracket?)"
    ),
    "Unterminated string starting at": "a text in double quotes is not closed",
    "Invalid control character at": "a line break or control character inside quotes",
    "Invalid \\escape": "an invalid backslash escape",
    "Extra data": "unexpected text after the end of the settings",
}

_SECRET_WORDS = ("password", "secret", "token", "passphrase", "session")


def _json_problem(path: Path, error: json.JSONDecodeError) -> str:
    if not error.doc.strip():
        return f"{path.name}: the file is empty"
    plain = next(
        (text for prefix, text in _JSON_MESSAGES.items() if error.msg.startswith(prefix)),
        error.msg[:1].lower() + error.msg[1:],
    )
    return f"{path.name} line {error.lineno}, column {error.colno}: {plain}"


def _validation_problems(path: Path, raw: dict[str, Any], error: ValidationError) -> list[str]:
    raw_profiles = raw.get("profiles")
    problems = []
    for item in error.errors():
        loc = item["loc"]
        if len(loc) >= 2 and loc[0] == "profiles" and isinstance(loc[1], int):
            index = loc[1]
            name = None
            if isinstance(raw_profiles, list) and index < len(raw_profiles):
                entry = raw_profiles[index]
                name = entry.get("name") if isinstance(entry, dict) else None
            where = f"profile {name!r}" if isinstance(name, str) else f"profile #{index + 1}"
            field_path = loc[2:]
        else:
            where = path.name
            field_path = loc
        field = ".".join(
            _field_name(part) if isinstance(part, str) else f"[{part}]" for part in field_path
        )
        field = field.replace(".[", "[")
        message = _plain_validation_message(item, field)
        problems.append(f"{where}, field {field}: {message}" if field else f"{where}: {message}")
    return problems


def _field_name(name: str) -> str:
    """A setting's name as typed in the file, quoted when it holds line breaks or the like."""
    if name and name.isprintable() and len(name) <= 60:
        return name
    return repr(name) if len(name) <= 60 else repr(name[:57]) + "…"


def _plain_validation_message(item: Any, field: str) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        if any(word in field.lower() for word in _SECRET_WORDS):
            return (
                "unknown setting; passwords, secrets and tokens are kept in the computer's "
                "password store, never in this file"
            )
        return "unknown setting (a typo, or written by another version of CPQ Sync?)"
    if kind == "missing":
        return "is missing"
    message: str = item["msg"]
    message = message.removeprefix("Value error, ")
    if message.startswith("Input should be"):
        message = "should be" + message[len("Input should be") :]
        value = item.get("input")
        if kind in ("enum", "literal_error") and isinstance(value, str) and len(value) <= 60:
            message += f" (found {value!r})"
    return message[:1].lower() + message[1:]


class _TooLongNumber:
    """A whole number in the file with more digits than Python converts (4,300 by default).

    json.loads would raise a bare ValueError for it; kept as this placeholder instead, the
    field that holds it is refused by validation like any other wrong value, by name.
    """

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a number of {self.digits:,} digits"


def _parse_int(text: str) -> int | _TooLongNumber:
    try:
        return int(text)
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return _TooLongNumber(len(text.lstrip("-")))


_TOO_DEEP = "brackets are nested too deeply to be connection profiles"


def _parse(path: Path, data: bytes) -> ProfilesFile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SettingsFileError(
            path, [f"{path.name}: not UTF-8 text (bad byte at offset {error.start})"]
        ) from None
    try:
        raw = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as error:
        raise SettingsFileError(path, [_json_problem(path, error)]) from None
    except RecursionError:
        raise SettingsFileError(path, [f"{path.name}: {_TOO_DEEP}"]) from None
    except ValueError as error:  # any other number or text Python cannot convert
        raise SettingsFileError(path, [f"{path.name}: {error}"[:300]]) from None
    if not isinstance(raw, dict):
        raise SettingsFileError(
            path,
            [f"{path.name}: expected an object with format_version, active_profile and profiles"],
        )
    version = raw.get("format_version")
    if version is None:
        raise SettingsFileError(path, [f"{path.name}, field format_version: is missing"])
    if isinstance(version, _TooLongNumber):
        raise SettingsFileError(
            path,
            [
                f"{path.name}, field format_version: unknown format ({version!r}); this CPQ "
                f"Sync reads format {FORMAT_VERSION}"
            ],
        )
    if type(version) is not int or version != FORMAT_VERSION:
        newer = type(version) is int and version > FORMAT_VERSION
        hint = " — written by a newer CPQ Sync; update CPQ Sync to open it" if newer else ""
        raise SettingsFileError(
            path,
            [
                f"{path.name}, field format_version: unknown format {version!r}; this CPQ Sync "
                f"reads format {FORMAT_VERSION}{hint}"
            ],
        )
    try:
        parsed = ProfilesFile.model_validate(raw)
    except ValidationError as error:
        raise SettingsFileError(path, _validation_problems(path, raw, error)) from None
    except RecursionError:
        raise SettingsFileError(path, [f"{path.name}: {_TOO_DEEP}"]) from None
    seen: dict[str, str] = {}
    for profile in parsed.profiles:
        key = profile.name.casefold()
        if key in seen:
            raise SettingsFileError(
                path,
                [f"profile {profile.name!r}: the name is used twice; profile names must be unique"],
            )
        seen[key] = profile.name
    return parsed


class ProfileStore:
    """The connection profiles in profiles.json: load, change in memory, save atomically.

    A file that fails to load is never overwritten in place: ``save`` first copies it to
    ``profiles.json.broken-YYYYmmdd-HHMMSS``. Secrets are not here; rename or remove a
    profile's secrets in the secret store alongside.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else profiles_path()
        self._profiles: list[Profile] = []
        self._active: str | None = None
        self.load_error: SettingsFileError | None = None
        self.last_backup: Path | None = None

    # -- reading ---------------------------------------------------------------------------

    @property
    def profiles(self) -> tuple[Profile, ...]:
        return tuple(self._profiles)

    def names(self) -> list[str]:
        return [profile.name for profile in self._profiles]

    def get(self, name: str) -> Profile:
        return self._profiles[self._index(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    @property
    def active(self) -> Profile | None:
        if self._active is None:
            return None
        index = self._find(self._active)
        return self._profiles[index] if index is not None else None

    def set_active(self, name: str | None) -> None:
        self._active = None if name is None else self.get(name).name

    def load(self) -> None:
        """Read profiles.json; a missing file means no profiles yet.

        Raises SettingsFileError for a broken file; the store is then empty and the file is
        left untouched until a save backs it up.
        """
        self._profiles, self._active = [], None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self.load_error = None
            return
        except OSError as error:
            self.load_error = SettingsFileError(
                self.path, [f"{self.path.name}: cannot be read ({error.strerror or error})"]
            )
            raise self.load_error from None
        try:
            parsed = _parse(self.path, data)
        except SettingsFileError as error:
            self.load_error = error
            raise
        self.load_error = None
        self._profiles = list(parsed.profiles)
        names = {profile.name for profile in self._profiles}
        # A dangling active_profile loses nothing: start with no active profile.
        self._active = parsed.active_profile if parsed.active_profile in names else None

    # -- changing --------------------------------------------------------------------------

    def add(self, profile: Profile) -> None:
        if self._find(profile.name) is not None:
            raise ProfileError(f"There is already a profile named {profile.name!r}.")
        self._profiles.append(profile.model_copy(deep=True))

    def replace(self, profile: Profile) -> None:
        """Put ``profile`` in place of the stored profile with the same name."""
        index = self._index(profile.name)
        self._profiles[index] = profile.model_copy(deep=True)

    def rename(self, old: str, new: str) -> Profile:
        index = self._index(old)
        new_name = check_profile_name_or_error(new)
        other = self._find(new_name)
        if other is not None and other != index:
            raise ProfileError(f"There is already a profile named {new_name!r}.")
        was_active = self._active == self._profiles[index].name
        renamed = self._profiles[index].model_copy(update={"name": new_name}, deep=True)
        self._profiles[index] = renamed
        if was_active:
            self._active = new_name
        return renamed

    def duplicate(self, name: str, new_name: str | None = None) -> Profile:
        """A copy of profile ``name`` (secrets are not copied here), added after it."""
        index = self._index(name)
        source = self._profiles[index]
        if new_name is None:
            new_name = self._copy_name(source.name)
        new_name = check_profile_name_or_error(new_name)
        if self._find(new_name) is not None:
            raise ProfileError(f"There is already a profile named {new_name!r}.")
        copy = source.model_copy(update={"name": new_name}, deep=True)
        self._profiles.insert(index + 1, copy)
        return copy

    def remove(self, name: str) -> Profile:
        index = self._index(name)
        removed = self._profiles.pop(index)
        if self._active == removed.name:
            self._active = None
        return removed

    # -- writing ---------------------------------------------------------------------------

    def to_json(self) -> str:
        document = ProfilesFile(
            format_version=FORMAT_VERSION,
            active_profile=self._active,
            profiles=self._profiles,
        )
        # Round-trip through validation so nothing invalid is ever written.
        payload = document.model_dump(mode="json")
        try:
            _parse(self.path, json.dumps(payload).encode("utf-8"))
        except SettingsFileError as error:
            raise ProfileError(
                "The profiles cannot be saved: " + "; ".join(error.problems)
            ) from None
        return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"

    def save(self) -> None:
        """Write profiles.json atomically, backing up a broken file first."""
        text = self.to_json()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and (self.load_error is not None or not self._file_is_valid()):
            self.last_backup = self._backup_broken_file()
        _write_atomically(self.path, text.encode("utf-8"))
        self.load_error = None

    def _file_is_valid(self) -> bool:
        try:
            _parse(self.path, self.path.read_bytes())
        except (SettingsFileError, OSError):
            return False
        return True

    def _backup_broken_file(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        counter = 1
        while backup.exists():
            backup = self.path.with_name(f"{self.path.name}.broken-{stamp}-{counter}")
            counter += 1
        shutil.copy2(self.path, backup)
        return backup

    # -- helpers ---------------------------------------------------------------------------

    def _find(self, name: str) -> int | None:
        key = name.strip().casefold()
        for index, profile in enumerate(self._profiles):
            if profile.name.casefold() == key:
                return index
        return None

    def _index(self, name: str) -> int:
        index = self._find(name)
        if index is None:
            raise ProfileError(f"There is no profile named {name!r}.")
        return index

    def _copy_name(self, name: str) -> str:
        base = f"{name} (copy)"
        candidate, counter = base, 2
        while self._find(candidate) is not None:
            candidate = f"{name} (copy {counter})"
            counter += 1
        return candidate


def check_profile_name_or_error(value: str) -> str:
    try:
        return check_profile_name(value)
    except ValueError as error:
        raise ProfileError(str(error)[:1].upper() + str(error)[1:] + ".") from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then swap it in: never a half-written file."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


# --- how a profile is shown ----------------------------------------------------------------

DEMO_PROFILE_NAME = "Demo sandbox"
_UAT = re.compile(r"(?i)(?:^|[^a-z])uat(?:[^a-z]|$)")


def profile_kind(profile: Profile | None) -> str:
    """ "production", "uat", "sandbox", "demo" or "none": what the badge shows."""
    if profile is None:
        return "none"
    if profile.name == DEMO_PROFILE_NAME:
        return "demo"
    if profile.is_production:
        return "production"
    settings = profile.salesforce
    hosts = (profile.name, settings.my_domain, settings.custom_login_url, settings.instance_url)
    if any(_UAT.search(text.replace("--", "-")) for text in hosts if text):
        return "uat"
    return "sandbox"
