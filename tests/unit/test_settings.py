"""Tests for settings.py and paths.py: profiles.json, plain-words validation, where files live."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from pydantic import BaseModel, ValidationError

from cpq_sync_gui import paths
from cpq_sync_gui.secrets import SECRET_NAMES
from cpq_sync_gui.settings import (
    DEFAULT_CONNECTOR_ENDPOINT,
    ZUORA_ENVIRONMENTS,
    ConnectorSettings,
    LoginHost,
    NetworkSettings,
    Profile,
    ProfileError,
    ProfileStore,
    ProxyMode,
    SalesforceAuthMethod,
    SalesforceSettings,
    SettingsFileError,
    ZuoraSettings,
    lightning_domain_from_instance,
    profiles_path,
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.HOME_ENV_VAR, str(tmp_path / "cpq-home"))
    return tmp_path / "cpq-home"


def full_profile(name: str = "UAT") -> Profile:
    return Profile(
        name=name,
        salesforce={
            "auth_method": "jwt",
            "login_host": "my_domain",
            "my_domain": "acme--uat.sandbox.my.salesforce.com",
            "username": "integration@acme.com.uat",
            "consumer_key": "3MVG9abcdef",
            "private_key_file": "/keys/uat.key",
            "api_version": "61.0",
        },
        zuora={
            "environment": "us_api_sandbox_cloud2",
            "client_id": "zuora-client-1",
            "zuora_version": "2024-05-01",
            "entity_id": "8a90e5e48f1d2a3b",
        },
        connector={"sfdc_domain": "acme--uat.sandbox.lightning.force.com"},
        network={
            "proxy_mode": "manual",
            "proxy_url": "http://proxy.acme.com:3128",
            "proxy_username": "jdoe",
            "ca_bundle": "/etc/acme/ca.pem",
            "connect_timeout_s": 5,
            "read_timeout_s": 120,
        },
    )


def write_raw(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))


def problems_of(path: Path) -> list[str]:
    store = ProfileStore(path)
    with pytest.raises(SettingsFileError) as info:
        store.load()
    assert str(path) in str(info.value)
    return info.value.problems


def document_with(profile_patch: dict[str, Any], name: str = "UAT") -> dict[str, Any]:
    profile: dict[str, Any] = {"name": name}
    profile.update(profile_patch)
    return {"format_version": 1, "active_profile": None, "profiles": [profile]}


# --- paths ---------------------------------------------------------------------------------


def test_cpq_sync_home_relocates_everything(home: Path) -> None:
    assert paths.config_dir() == home / "config"
    assert paths.data_dir() == home / "data"
    assert paths.log_dir() == home / "logs"
    assert paths.cache_dir() == home / "cache"
    assert profiles_path() == home / "config" / "profiles.json"
    assert ProfileStore().path == home / "config" / "profiles.json"


def test_paths_follow_the_variable_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(paths.HOME_ENV_VAR, str(tmp_path / "elsewhere"))
    assert paths.data_dir() == tmp_path / "elsewhere" / "data"
    monkeypatch.delenv(paths.HOME_ENV_VAR)
    assert paths.app_home() is None
    assert paths.config_dir() == platformdirs.user_config_path("cpq-sync", appauthor=False)
    assert paths.log_dir() == platformdirs.user_log_path("cpq-sync", appauthor=False)
    assert "cpq-sync" in paths.cache_dir().parts


def test_relative_home_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(paths.HOME_ENV_VAR, "portable")
    assert paths.config_dir() == tmp_path / "portable" / "config"


# --- round trip ----------------------------------------------------------------------------


def test_profiles_round_trip_through_the_file(home: Path) -> None:
    store = ProfileStore()
    store.load()  # no file yet: no profiles, no error
    assert store.profiles == ()
    store.add(full_profile("UAT"))
    store.add(Profile(name="Production"))
    store.set_active("uat")
    store.save()

    written = json.loads((home / "config" / "profiles.json").read_text())
    assert written["format_version"] == 1
    assert written["active_profile"] == "UAT"
    assert [p["name"] for p in written["profiles"]] == ["UAT", "Production"]

    again = ProfileStore()
    again.load()
    assert again.names() == ["UAT", "Production"]
    assert again.get("UAT") == full_profile("UAT")
    assert again.active == full_profile("UAT")
    assert again.get("UAT").network.ca_bundle == Path("/etc/acme/ca.pem")
    # Atomic write leaves no temporary files behind.
    assert sorted(p.name for p in (home / "config").iterdir()) == ["profiles.json"]


def test_a_file_with_a_byte_order_mark_loads(home: Path) -> None:
    path = profiles_path()
    path.parent.mkdir(parents=True)
    text = json.dumps(document_with({}, name="Notepad"))
    path.write_bytes("\ufeff".encode() + text.encode())
    store = ProfileStore()
    store.load()
    assert store.names() == ["Notepad"]


def test_dangling_active_profile_is_dropped_not_fatal(home: Path) -> None:
    document = document_with({})
    document["active_profile"] = "Gone"
    write_raw(profiles_path(), document)
    store = ProfileStore()
    store.load()
    assert store.active is None
    assert store.names() == ["UAT"]


# --- broken files --------------------------------------------------------------------------


def test_json_syntax_error_names_file_line_and_column() -> None:
    path = profiles_path()
    write_raw(
        path,
        '{\n  "format_version": 1,\n  "active_profile": null,\n  "profiles": [\n'
        '    {\n      "name": "UAT"\n      "treat_as_production": true\n    }\n  ]\n}\n',
    )
    assert problems_of(path) == [
        "profiles.json line 7, column 7: expected ',' between two items (or a closing bracket)"
    ]


def test_trailing_comma_and_empty_file_messages() -> None:
    path = profiles_path()
    write_raw(path, '{"format_version": 1, "profiles": [],\n}')
    assert problems_of(path) == [
        "profiles.json line 2, column 1: expected a name in double quotes "
        "(is there a comma before a closing bracket?)"
    ]
    write_raw(path, "  \n")
    assert problems_of(path) == ["profiles.json: the file is empty"]


def test_wrong_value_names_profile_and_field() -> None:
    path = profiles_path()
    write_raw(path, document_with({"salesforce": {"login_host": "prod"}}))
    assert problems_of(path) == [
        "profile 'UAT', field salesforce.login_host: should be 'production', 'sandbox', "
        "'my_domain' or 'custom' (found 'prod')"
    ]


def test_several_problems_are_all_reported() -> None:
    path = profiles_path()
    document = document_with({"network": {"connect_timeout_s": "ten", "read_timeout_s": -1}})
    document["profiles"].append({"name": "Prod", "zuora": {"environment": "mars"}})
    write_raw(path, document)
    problems = problems_of(path)
    assert problems[0].startswith("profile 'UAT', field network.connect_timeout_s: should be a")
    assert problems[1] == ("profile 'UAT', field network.read_timeout_s: should be greater than 0")
    assert problems[2].startswith(
        "profile 'Prod', field zuora.environment: unknown Zuora environment 'mars'; choose one of"
    )


def test_profile_without_a_usable_name_is_numbered() -> None:
    path = profiles_path()
    write_raw(path, {"format_version": 1, "profiles": [{"name": "A"}, {"salesforce": {}}]})
    assert problems_of(path) == ["profile #2, field name: is missing"]


def test_unknown_format_version_is_refused() -> None:
    path = profiles_path()
    write_raw(path, {"format_version": 2, "profiles": []})
    (problem,) = problems_of(path)
    assert problem.startswith("profiles.json, field format_version: unknown format 2")
    assert "newer CPQ Sync" in problem
    write_raw(path, {"format_version": "1", "profiles": []})
    assert "unknown format '1'" in problems_of(path)[0]
    write_raw(path, {"profiles": []})
    assert problems_of(path) == ["profiles.json, field format_version: is missing"]
    write_raw(path, [1, 2])
    assert "expected an object" in problems_of(path)[0]


def test_a_secret_pasted_into_the_file_is_refused_without_echoing_it() -> None:
    path = profiles_path()
    write_raw(path, document_with({"salesforce": {"password": "Hunter2-secret"}}))
    store = ProfileStore(path)
    with pytest.raises(SettingsFileError) as info:
        store.load()
    assert info.value.problems == [
        "profile 'UAT', field salesforce.password: unknown setting; passwords, secrets and "
        "tokens are kept in the computer's password store, never in this file"
    ]
    assert "Hunter2-secret" not in str(info.value)


def test_duplicate_names_in_the_file_are_refused() -> None:
    path = profiles_path()
    document = document_with({})
    document["profiles"].append({"name": "uat"})
    write_raw(path, document)
    assert problems_of(path) == [
        "profile 'uat': the name is used twice; profile names must be unique"
    ]


def test_broken_file_is_never_reset_and_is_backed_up_before_a_save() -> None:
    path = profiles_path()
    broken = '{"format_version": 1, "profiles": [ {"name": "Precious"'
    write_raw(path, broken)
    store = ProfileStore()
    for _ in range(2):
        with pytest.raises(SettingsFileError):
            store.load()
        assert path.read_text() == broken  # loading never resets it
    assert store.profiles == ()
    assert store.load_error is not None

    store.add(Profile(name="Fresh"))
    store.save()
    backups = list(path.parent.glob("profiles.json.broken-*"))
    assert len(backups) == 1
    assert re.fullmatch(r"profiles\.json\.broken-\d{8}-\d{6}", backups[0].name)
    assert backups[0].read_text() == broken
    assert store.last_backup == backups[0]
    assert store.load_error is None

    reloaded = ProfileStore()
    reloaded.load()
    assert reloaded.names() == ["Fresh"]

    # A second save over a good file makes no further backup.
    reloaded.save()
    assert len(list(path.parent.glob("profiles.json.broken-*"))) == 1


def test_file_broken_by_hand_after_loading_is_backed_up_too() -> None:
    store = ProfileStore()
    store.add(Profile(name="A"))
    store.save()
    store.load()
    profiles_path().write_text('{"format_version": 1, "profiles": [}')
    store.save()
    (backup,) = profiles_path().parent.glob("profiles.json.broken-*")
    assert backup.read_text() == '{"format_version": 1, "profiles": [}'
    # Two backups in the same second get distinct names.
    profiles_path().write_text("nonsense")
    store.save()
    assert len(list(profiles_path().parent.glob("profiles.json.broken-*"))) == 2


def test_saving_an_invalid_profile_is_refused_and_the_file_kept() -> None:
    store = ProfileStore()
    store.add(Profile(name="A"))
    store.save()
    before = profiles_path().read_text()
    # validate_assignment checks one field at a time; the save checks the whole profile.
    store.get("A").salesforce.login_host = LoginHost.CUSTOM
    with pytest.raises(
        ProfileError, match=r"salesforce\.custom_login_url: enter the login address"
    ):
        store.save()
    assert profiles_path().read_text() == before


# --- validation of single settings ---------------------------------------------------------


def message_of(model: type[BaseModel], **values: Any) -> str:
    with pytest.raises(ValidationError) as info:
        model(**values)
    return info.value.errors()[0]["msg"].removeprefix("Value error, ")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://login.example.com", "must use https://, not http://"),
        ("https://login.example.com/services/Soap", "without a path ('/services/Soap')"),
        ("https://login.example.com?x=1", "must not contain a query string"),
        ("https://user:pw@login.example.com", "must not contain a user name or password"),
        ("login.example.com", "must be an address starting with https://"),
        ("https://login.example.com:99999", "the port must be a number between 1 and 65535"),
        ("https://bad_host.example.com", "invalid host name 'bad_host.example.com'"),
    ],
)
def test_custom_login_url_is_https_host_and_port_only(url: str, expected: str) -> None:
    message = message_of(SalesforceSettings, login_host="custom", custom_login_url=url)
    assert message.startswith("the custom login address")
    assert expected in message


def test_login_urls() -> None:
    assert SalesforceSettings().login_url() == "https://login.salesforce.com"
    assert SalesforceSettings(login_host="sandbox").login_url() == "https://test.salesforce.com"
    my_domain = SalesforceSettings(
        login_host="my_domain", my_domain="https://Acme.My.Salesforce.com/"
    )
    assert my_domain.my_domain == "acme.my.salesforce.com"
    assert my_domain.login_url() == "https://acme.my.salesforce.com"
    custom = SalesforceSettings(login_host="custom", custom_login_url="https://127.0.0.1:8443/")
    assert custom.login_url() == "https://127.0.0.1:8443"
    assert "enter your My Domain host" in message_of(SalesforceSettings, login_host="my_domain")
    assert "must use https://" in message_of(
        SalesforceSettings, login_host="my_domain", my_domain="http://acme.my.salesforce.com"
    )
    assert "the full name, like acme.my.salesforce.com" in message_of(
        SalesforceSettings, login_host="my_domain", my_domain="acme"
    )


def test_client_credentials_need_a_my_domain_host() -> None:
    message = message_of(SalesforceSettings, auth_method="client_credentials", login_host="sandbox")
    assert message.startswith("the client credentials login needs your org's My Domain host")
    ok = SalesforceSettings(
        auth_method="client_credentials", login_host="my_domain", my_domain="acme.my.salesforce.com"
    )
    assert ok.login_url() == "https://acme.my.salesforce.com"


def test_api_and_zuora_versions() -> None:
    assert SalesforceSettings().api_version == "62.0"
    assert SalesforceSettings(api_version="v59.0").api_version == "59.0"
    assert message_of(SalesforceSettings, api_version="62") == (
        "the API version looks like 62.0, not '62'"
    )
    assert ZuoraSettings().zuora_version == "2025-08-12"
    assert message_of(ZuoraSettings, zuora_version="2025-02-30") == (
        "the Zuora version is a date like 2025-08-12, not '2025-02-30'"
    )
    assert "a date like" in message_of(ZuoraSettings, zuora_version="211.0")


def test_zuora_environments_and_custom_base_url() -> None:
    assert ZuoraSettings().rest_base_url() == "https://rest.test.zuora.com"
    eu = ZuoraSettings(environment="eu_production")
    assert eu.rest_base_url() == "https://rest.eu.zuora.com"
    assert eu.is_production
    assert eu.environment_label == "EU Production"
    assert len(ZUORA_ENVIRONMENTS) == 10
    assert all(env.rest_base_url.startswith("https://rest.") for env in ZUORA_ENVIRONMENTS.values())
    assert {k for k, env in ZUORA_ENVIRONMENTS.items() if env.is_production} == {
        "us_production_cloud1",
        "us_production_cloud2",
        "eu_production",
        "apac_production",
    }
    custom = ZuoraSettings(environment="custom", base_url="https://127.0.0.1:9443")
    assert custom.rest_base_url() == "https://127.0.0.1:9443"
    assert not custom.is_production
    assert "must use https://" in message_of(
        ZuoraSettings, environment="custom", base_url="http://rest.zuora.com"
    )
    assert "enter the Zuora REST address" in message_of(ZuoraSettings, environment="custom")


def test_connector_settings() -> None:
    assert ConnectorSettings().endpoint_url == DEFAULT_CONNECTOR_ENDPOINT
    assert "must use https://" in message_of(ConnectorSettings, endpoint_url="http://x.example/a")
    assert ConnectorSettings(sfdc_domain="Acme.Lightning.Force.com").sfdc_domain == (
        "acme.lightning.force.com"
    )
    assert ConnectorSettings(sfdc_domain="127.0.0.1:8443").sfdc_domain == "127.0.0.1:8443"
    assert "must be a host name" in message_of(ConnectorSettings, sfdc_domain="acme/lightning")
    assert "must be a host name" in message_of(ConnectorSettings, sfdc_domain="acme lightning")
    assert "between 1 and 65535" in message_of(ConnectorSettings, sfdc_domain="acme.com:70000")


@pytest.mark.parametrize(
    ("instance", "lightning"),
    [
        ("acme.my.salesforce.com", "acme.lightning.force.com"),
        ("acme-dev-ed.develop.my.salesforce.com", "acme-dev-ed.develop.lightning.force.com"),
        ("acme--uat.sandbox.my.salesforce.com", "acme--uat.sandbox.lightning.force.com"),
        ("https://acme.my.salesforce.com/services/data/v62.0", "acme.lightning.force.com"),
        ("127.0.0.1:8443", "127.0.0.1:8443"),
        ("https://127.0.0.1:8443", "127.0.0.1:8443"),
        ("na123.salesforce.com", "na123.salesforce.com"),
        ("acme.lightning.force.com", "acme.lightning.force.com"),
    ],
)
def test_lightning_domain_from_instance(instance: str, lightning: str) -> None:
    assert lightning_domain_from_instance(instance) == lightning


def test_network_settings() -> None:
    network = NetworkSettings()
    assert network.proxy_mode == ProxyMode.SYSTEM
    assert (network.connect_timeout_s, network.read_timeout_s) == (10.0, 60.0)
    manual = NetworkSettings(proxy_mode="manual", proxy_url="HTTP://Proxy.Acme.com:3128/")
    assert manual.proxy_url == "http://proxy.acme.com:3128"
    assert "enter the proxy address" in message_of(NetworkSettings, proxy_mode="manual")
    assert "needs a port" in message_of(NetworkSettings, proxy_url="http://proxy.acme.com")
    assert "not in the address" in message_of(
        NetworkSettings, proxy_url="http://jane:pw@proxy.acme.com:3128"
    )
    assert "looks like http://proxy" in message_of(NetworkSettings, proxy_url="socks5://p:1080")
    assert NetworkSettings(ca_bundle="  ").ca_bundle is None
    assert NetworkSettings(ca_bundle="~/ca.pem").ca_bundle_path() == Path.home() / "ca.pem"


def test_salesforce_username_and_missing_settings() -> None:
    assert "looks like an email address" in message_of(SalesforceSettings, username="jane")
    assert Profile(name="P").missing_settings() == ["Salesforce user name", "Zuora client ID"]
    jwt = SalesforceSettings(auth_method="jwt")
    assert jwt.missing_settings() == [
        "Salesforce user name",
        "Salesforce consumer key",
        "Salesforce private key file",
    ]
    assert SalesforceSettings(auth_method="session").missing_settings() == [
        "Salesforce instance URL"
    ]
    assert full_profile().missing_settings() == []
    assert SalesforceSettings(auth_method="browser").browser_callback_url() == (
        "http://localhost:1717/OauthRedirect"
    )


def test_profile_names() -> None:
    assert Profile(name="  UAT  ").name == "UAT"
    assert "needs a name" in message_of(Profile, name="   ")
    assert "control characters" in message_of(Profile, name="a\tb")
    assert "at most 80" in message_of(Profile, name="x" * 81)


@pytest.mark.parametrize(
    ("salesforce", "zuora", "treat", "expected"),
    [
        ({"login_host": "production"}, {}, False, True),
        ({"login_host": "sandbox"}, {}, False, False),
        ({"login_host": "my_domain", "my_domain": "acme.my.salesforce.com"}, {}, False, True),
        (
            {"login_host": "my_domain", "my_domain": "acme--uat.sandbox.my.salesforce.com"},
            {},
            False,
            False,
        ),
        ({"login_host": "sandbox"}, {"environment": "us_production_cloud1"}, False, True),
        ({"login_host": "custom", "custom_login_url": "https://127.0.0.1:8443"}, {}, False, False),
        ({"login_host": "custom", "custom_login_url": "https://127.0.0.1:8443"}, {}, True, True),
        (
            {"login_host": "sandbox"},
            {"environment": "custom", "base_url": "https://zuora.internal"},
            False,
            False,
        ),
    ],
)
def test_is_production(
    salesforce: dict[str, str], zuora: dict[str, str], treat: bool, expected: bool
) -> None:
    profile = Profile(name="P", salesforce=salesforce, zuora=zuora, treat_as_production=treat)
    assert profile.is_production is expected


# --- no secrets in settings ----------------------------------------------------------------


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    found = []
    for name, field in model.model_fields.items():
        found.append(prefix + name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_field_paths(annotation, f"{prefix}{name}."))
    return found


def test_settings_models_have_no_secret_fields() -> None:
    fields = _field_paths(Profile)
    assert "salesforce.consumer_key" in fields  # the walk really descends into sections
    forbidden = ("password", "secret", "token", "passphrase", "session")
    assert [f for f in fields if any(word in f.split(".")[-1] for word in forbidden)] == []
    assert not {f.split(".")[-1] for f in fields} & SECRET_NAMES


@pytest.mark.parametrize("secret_name", sorted(SECRET_NAMES))
def test_a_secret_cannot_be_put_into_a_profile(secret_name: str) -> None:
    for section in ("salesforce", "zuora", "network", "connector"):
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            Profile(name="P", **{section: {secret_name: "leak-me"}})
    with pytest.raises(ValidationError):
        Profile(name="P", **{secret_name: "leak-me"})


def test_serialised_profile_contains_only_known_non_secret_keys() -> None:
    dumped = json.loads(full_profile().model_dump_json())
    keys: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                keys.add(key)
                collect(inner)

    collect(dumped)
    assert keys == {f.split(".")[-1] for f in _field_paths(Profile)}
    assert not keys & SECRET_NAMES


# --- store operations ----------------------------------------------------------------------


def test_add_rejects_a_taken_name_whatever_its_case() -> None:
    store = ProfileStore()
    store.add(Profile(name="UAT"))
    with pytest.raises(ProfileError, match="There is already a profile named 'uat'"):
        store.add(Profile(name="uat"))


def test_replace_rename_duplicate_remove() -> None:
    store = ProfileStore()
    store.add(full_profile("UAT"))
    store.add(Profile(name="Prod"))
    store.set_active("UAT")

    changed = store.get("UAT").model_copy(deep=True)
    changed.zuora.client_id = "new-client"
    store.replace(changed)
    assert store.get("UAT").zuora.client_id == "new-client"
    with pytest.raises(ProfileError, match="There is no profile named 'Nope'"):
        store.replace(Profile(name="Nope"))

    renamed = store.rename("UAT", "UAT 2")
    assert renamed.name == "UAT 2"
    assert store.names() == ["UAT 2", "Prod"]
    assert store.active is not None
    assert store.active.name == "UAT 2"
    with pytest.raises(ProfileError, match="already a profile named 'prod'"):
        store.rename("UAT 2", "prod")
    with pytest.raises(ProfileError, match="A profile needs a name"):
        store.rename("UAT 2", " ")
    assert store.rename("UAT 2", "uat 2").name == "uat 2"  # changing only the case is fine

    first = store.duplicate("uat 2")
    second = store.duplicate("uat 2")
    assert (first.name, second.name) == ("uat 2 (copy)", "uat 2 (copy 2)")
    assert store.names() == ["uat 2", "uat 2 (copy 2)", "uat 2 (copy)", "Prod"]
    assert first.zuora == store.get("uat 2").zuora
    first.zuora.client_id = "changed"  # a copy, not the same object
    assert store.get("uat 2").zuora.client_id == "new-client"
    assert store.duplicate("Prod", "Prod EU").name == "Prod EU"

    removed = store.remove("uat 2")
    assert removed.name == "uat 2"
    assert store.active is None
    with pytest.raises(ProfileError):
        store.remove("uat 2")
    assert "Prod" in store
    assert "uat 2" not in store


def test_mutating_a_stored_profile_is_validated() -> None:
    store = ProfileStore()
    store.add(Profile(name="P"))
    with pytest.raises(ValidationError, match="must use https://"):
        store.get("P").salesforce.instance_url = "http://acme.my.salesforce.com"
    assert store.get("P").salesforce.auth_method == SalesforceAuthMethod.PASSWORD
