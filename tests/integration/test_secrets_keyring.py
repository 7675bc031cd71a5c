"""Tests for secrets.py against the real Secret Service (gnome-keyring) and keyring's fallbacks.

Run inside a private D-Bus session with an unlocked gnome-keyring, e.g.::

    dbus-run-session -- sh -c 'echo -n test | gnome-keyring-daemon --unlock \
        --components=secrets; .venv/bin/pytest -m keyring tests/integration/test_secrets_keyring.py'

with XDG_DATA_HOME/XDG_CONFIG_HOME/XDG_CACHE_HOME/HOME pointed into a throwaway folder.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import jeepney
import keyring
import pytest
import secretstorage
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.backends.SecretService import Keyring as SecretServiceKeyring
from secretstorage.defines import SS_PATH
from secretstorage.util import DBusAddressWrapper, format_secret, open_session

from cpq_sync_gui import secrets as secrets_module
from cpq_sync_gui.redact import default_redactor
from cpq_sync_gui.secrets import (
    DOCTOR_KEY,
    PROXY_PASSWORD,
    SALESFORCE_PASSWORD,
    SALESFORCE_REFRESH_TOKEN,
    SALESFORCE_SECURITY_TOKEN,
    SECRET_NAMES,
    SERVICE_NAME,
    ZUORA_CLIENT_SECRET,
    SecretStorageUnavailable,
    SecretStore,
    check_round_trip,
    secret_names_for,
)
from cpq_sync_gui.settings import Profile

pytestmark = pytest.mark.keyring

HOW_TO_RUN = (
    "The keyring tests need a D-Bus session with an unlocked gnome-keyring (Secret Service), "
    "and DBUS_SESSION_BUS_ADDRESS is not set. Install them with `apt-get install gnome-keyring "
    "dbus dbus-x11 libsecret-tools`, then run: dbus-run-session -- sh -c 'echo -n test | "
    "gnome-keyring-daemon --unlock --components=secrets; .venv/bin/pytest -m keyring "
    "tests/integration/test_secrets_keyring.py' (with XDG_DATA_HOME, XDG_CONFIG_HOME, "
    "XDG_CACHE_HOME and HOME pointed into a throwaway folder)."
)
PLAIN_MESSAGE_END = (
    "CPQ Sync can keep your secrets in memory for this session only; they will be asked again "
    "next time."
)


@pytest.fixture(autouse=True)
def _restore_keyring_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CPQ_SYNC_HOME", str(tmp_path / "cpq-home"))
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)
    default_redactor.clear()  # the values these tests stored must not blank other tests' text


@pytest.fixture
def secret_service() -> KeyringBackend:
    """keyring's own choice of backend, which must be the running Secret Service."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        pytest.fail(HOW_TO_RUN)
    backend = keyring.get_keyring()
    if not isinstance(backend, SecretServiceKeyring):
        pytest.fail(
            f"keyring chose {backend!r}, not the Secret Service: is gnome-keyring-daemon "
            f"running and unlocked in this D-Bus session? {HOW_TO_RUN}"
        )
    return backend


@pytest.fixture
def profile_name(secret_service: KeyringBackend) -> Iterator[str]:
    """A profile name no other test uses; its secrets are removed afterwards."""
    name = f"Test UAT {uuid.uuid4().hex[:8]} ✓"
    yield name
    SecretStore(secret_service).delete_profile(name)


def secret_tool_lookup(key: str) -> str | None:
    """Read an entry straight from the Secret Service with libsecret's own tool."""
    tool = shutil.which("secret-tool")
    if tool is None:
        pytest.fail("secret-tool is missing: run `apt-get install libsecret-tools`")
    result = subprocess.run(
        [tool, "lookup", "service", SERVICE_NAME, "username", key],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


# --- the real Secret Service ---------------------------------------------------------------


def test_secrets_round_trip_through_the_secret_service(profile_name: str) -> None:
    store = SecretStore()
    assert store.backend_name == "SecretService Keyring"
    assert store.memory_only is False
    assert store.unavailable_reason is None

    values = {name: f"{name}-välue-{uuid.uuid4().hex}" for name in sorted(SECRET_NAMES)}
    for name, value in values.items():
        store.set(profile_name, name, value)
    for name, value in values.items():
        assert store.get(profile_name, name) == value
        # Really in the OS store, under one service and "{profile}/{secret_name}".
        assert secret_tool_lookup(f"{profile_name}/{name}") == value
    # Every secret read is known to the redactor, so logs cannot show it.
    assert default_redactor.redact(values[ZUORA_CLIENT_SECRET]) == "***"

    # A fresh store (a new app start) sees the same secrets.
    assert SecretStore().get(profile_name, SALESFORCE_PASSWORD) == values[SALESFORCE_PASSWORD]


def test_empty_value_and_delete_remove_a_secret(profile_name: str) -> None:
    store = SecretStore()
    store.set(profile_name, PROXY_PASSWORD, "proxy-pw-1")
    store.set(profile_name, PROXY_PASSWORD, "")
    assert store.get(profile_name, PROXY_PASSWORD) is None
    store.set(profile_name, PROXY_PASSWORD, "proxy-pw-2")
    store.delete(profile_name, PROXY_PASSWORD)
    assert store.get(profile_name, PROXY_PASSWORD) is None
    assert secret_tool_lookup(f"{profile_name}/{PROXY_PASSWORD}") is None
    store.delete(profile_name, PROXY_PASSWORD)  # deleting what is not there is fine


def test_delete_profile_removes_all_of_its_secrets_only(profile_name: str) -> None:
    store = SecretStore()
    other = f"{profile_name} other"
    try:
        for name in SECRET_NAMES:
            store.set(profile_name, name, f"value-of-{name}")
        store.set(other, ZUORA_CLIENT_SECRET, "keep-me-please")
        store.delete_profile(profile_name)
        assert {name: store.get(profile_name, name) for name in SECRET_NAMES} == dict.fromkeys(
            SECRET_NAMES
        )
        assert store.get(other, ZUORA_CLIENT_SECRET) == "keep-me-please"
    finally:
        store.delete_profile(other)


def test_rename_profile_moves_secrets_and_drops_stale_ones(profile_name: str) -> None:
    store = SecretStore()
    new_name = f"{profile_name} renamed"
    try:
        store.set(profile_name, SALESFORCE_PASSWORD, "sf-password-1")
        store.set(profile_name, SALESFORCE_SECURITY_TOKEN, "sf-token-1")
        # Left over from an older profile that had the new name.
        store.set(new_name, SALESFORCE_REFRESH_TOKEN, "stale-refresh-token")
        store.rename_profile(profile_name, new_name)
        assert store.get(new_name, SALESFORCE_PASSWORD) == "sf-password-1"
        assert store.get(new_name, SALESFORCE_SECURITY_TOKEN) == "sf-token-1"
        assert store.get(new_name, SALESFORCE_REFRESH_TOKEN) is None
        assert store.get(profile_name, SALESFORCE_PASSWORD) is None
        assert store.get(profile_name, SALESFORCE_SECURITY_TOKEN) is None
    finally:
        store.delete_profile(new_name)


def test_rename_that_changes_only_the_case(profile_name: str) -> None:
    store = SecretStore()
    upper = profile_name.upper()
    try:
        store.set(profile_name, ZUORA_CLIENT_SECRET, "zuora-secret-case")
        store.rename_profile(profile_name, upper)
        assert store.get(upper, ZUORA_CLIENT_SECRET) == "zuora-secret-case"
        assert store.get(profile_name, ZUORA_CLIENT_SECRET) is None
    finally:
        store.delete_profile(upper)


def test_copy_profile_keeps_the_source(profile_name: str) -> None:
    store = SecretStore()
    copy = f"{profile_name} (copy)"
    try:
        store.set(profile_name, ZUORA_CLIENT_SECRET, "zuora-secret-1")
        store.copy_profile(profile_name, copy)
        assert store.get(copy, ZUORA_CLIENT_SECRET) == "zuora-secret-1"
        assert store.get(profile_name, ZUORA_CLIENT_SECRET) == "zuora-secret-1"
    finally:
        store.delete_profile(copy)


def test_check_round_trip_for_doctor(secret_service: KeyringBackend) -> None:
    assert check_round_trip() == "keyring backend SecretService Keyring: store/read/delete OK"
    assert SecretStore().check_round_trip() == (
        "keyring backend SecretService Keyring: store/read/delete OK"
    )
    assert secret_service.get_password(SERVICE_NAME, DOCTOR_KEY) is None
    assert secret_tool_lookup(DOCTOR_KEY) is None


class ThrowawayCollection:
    """A keyring collection of its own, made without a prompt, that a test may lock."""

    PASSWORD = b"cpq-sync-lock-test"

    def __init__(self) -> None:
        self.connection = secretstorage.dbus_init()
        self._session = open_session(self.connection)
        self._gnome = DBusAddressWrapper(
            SS_PATH, "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface", self.connection
        )
        label = f"cpq-sync lock test {uuid.uuid4().hex[:8]}"
        (self.path,) = self._gnome.send_and_get_reply(
            jeepney.new_method_call(
                self._gnome,
                "CreateWithMasterPassword",
                "a{sv}(oayays)",
                (
                    {"org.freedesktop.Secret.Collection.Label": ("s", label)},
                    self._secret(),
                ),
            )
        )
        self.collection = secretstorage.Collection(self.connection, self.path)
        # No display for an unlock prompt: it fails at once instead of waiting for a person.
        bus = jeepney.DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus",
        )
        self.connection.send_and_get_reply(
            jeepney.new_method_call(
                bus,
                "UpdateActivationEnvironment",
                "a{ss}",
                ({"DISPLAY": "", "WAYLAND_DISPLAY": ""},),
            )
        )

    def _secret(self) -> tuple[str, bytes, bytes, str]:
        return format_secret(self._session, self.PASSWORD, "text/plain")

    def backend(self) -> SecretServiceKeyring:
        backend = SecretServiceKeyring()
        backend.preferred_collection = self.path
        return backend

    def lock(self) -> None:
        self.collection.lock()
        assert self.collection.is_locked()

    def unlock(self) -> None:
        self._gnome.send_and_get_reply(
            jeepney.new_method_call(
                self._gnome, "UnlockWithMasterPassword", "o(oayays)", (self.path, self._secret())
            )
        )

    def delete(self) -> None:
        try:
            self.unlock()
            self.collection.delete()
        finally:
            self.connection.close()


@pytest.fixture
def throwaway_collection(secret_service: KeyringBackend) -> Iterator[ThrowawayCollection]:
    collection = ThrowawayCollection()
    yield collection
    collection.delete()


def test_locked_secret_service_is_reported_and_memory_mode_takes_over(
    throwaway_collection: ThrowawayCollection,
) -> None:
    backend = throwaway_collection.backend()
    SecretStore(backend).set("UAT", ZUORA_CLIENT_SECRET, "stored-before-locking")
    throwaway_collection.lock()
    # keyring leaks its D-Bus connection when the collection is locked (it raises before
    # closing it); collect it here so the ResourceWarning does not land on another test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        strict = SecretStore(backend)
        with pytest.raises(SecretStorageUnavailable) as info:
            strict.get("UAT", ZUORA_CLIENT_SECRET)
        assert str(info.value) == (
            "No secure password store is available on this computer (SecretService Keyring "
            f"is locked and was not unlocked). {PLAIN_MESSAGE_END}"
        )
        with pytest.raises(SecretStorageUnavailable, match="is locked"):
            check_round_trip(backend)

        lenient = SecretStore(backend, allow_memory_only=True)
        assert lenient.memory_only is False  # not known until the store is used
        assert lenient.get("UAT", ZUORA_CLIENT_SECRET) is None
        assert lenient.memory_only is True
        assert lenient.unavailable_reason == "SecretService Keyring is locked and was not unlocked"
        lenient.set("UAT", ZUORA_CLIENT_SECRET, "typed-in-this-session")
        assert lenient.get("UAT", ZUORA_CLIENT_SECRET) == "typed-in-this-session"
        del info
        gc.collect()

    throwaway_collection.unlock()
    # The memory-only value never reached the keyring; the stored one is intact.
    assert SecretStore(backend).get("UAT", ZUORA_CLIENT_SECRET) == "stored-before-locking"


def test_secret_service_that_cannot_be_reached(
    secret_service: KeyringBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/cpq-sync-test-bus")
    with pytest.raises(SecretStorageUnavailable) as info:
        SecretStore(SecretServiceKeyring())
    assert info.value.reason.startswith("SecretService Keyring cannot be used:")
    assert str(info.value).startswith("No secure password store is available on this computer")
    assert str(info.value).endswith(PLAIN_MESSAGE_END)


# --- no secure backend (keyring's real fail/null backends) ---------------------------------


def test_no_backend_gives_the_plain_message() -> None:
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(SecretStorageUnavailable) as info:
        SecretStore()
    assert str(info.value) == (
        "No secure password store is available on this computer (no password store was found "
        f"(keyring found no usable backend)). {PLAIN_MESSAGE_END}"
    )
    with pytest.raises(SecretStorageUnavailable, match="no password store was found"):
        check_round_trip()


def test_null_backend_counts_as_no_store() -> None:
    keyring.set_keyring(null.Keyring())
    with pytest.raises(SecretStorageUnavailable, match="switched off"):
        SecretStore()


def test_memory_only_mode_keeps_secrets_for_the_session_only(tmp_path: Path) -> None:
    keyring.set_keyring(fail.Keyring())
    store = SecretStore(allow_memory_only=True)
    assert store.memory_only is True
    assert (
        store.unavailable_reason == "no password store was found (keyring found no usable backend)"
    )

    store.set("UAT", SALESFORCE_PASSWORD, "typed-password")
    store.set("UAT", SALESFORCE_SECURITY_TOKEN, "typed-token")
    assert store.get("UAT", SALESFORCE_PASSWORD) == "typed-password"
    assert store.for_profile("UAT").get(SALESFORCE_SECURITY_TOKEN) == "typed-token"
    store.rename_profile("UAT", "UAT 2")
    assert store.get("UAT", SALESFORCE_PASSWORD) is None
    assert store.get("UAT 2", SALESFORCE_PASSWORD) == "typed-password"
    store.delete_profile("UAT 2")
    assert store.get("UAT 2", SALESFORCE_SECURITY_TOKEN) is None
    with pytest.raises(SecretStorageUnavailable):
        store.check_round_trip()

    # A new store (the next start) has forgotten everything, and nothing went to disk.
    assert SecretStore(allow_memory_only=True).get("UAT 2", SALESFORCE_PASSWORD) is None
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


def test_secret_names_are_checked() -> None:
    keyring.set_keyring(fail.Keyring())
    store = SecretStore(allow_memory_only=True)
    with pytest.raises(ValueError, match="unknown secret name 'salesforce_pasword'"):
        store.set("UAT", "salesforce_pasword", "x")
    with pytest.raises(ValueError, match="a profile name is needed"):
        store.get(" ", SALESFORCE_PASSWORD)


def test_secret_names_for_a_profile() -> None:
    jwt_behind_proxy = Profile(
        name="P",
        salesforce={"auth_method": "jwt"},
        network={
            "proxy_mode": "manual",
            "proxy_url": "http://proxy.example.com:3128",
            "proxy_username": "jane",
        },
    )
    assert secret_names_for(jwt_behind_proxy) == (
        "salesforce_key_passphrase",
        "zuora_client_secret",
        "proxy_password",
    )
    assert secret_names_for(Profile(name="P")) == (
        "salesforce_password",
        "salesforce_security_token",
        "zuora_client_secret",
    )
    assert set(secrets_module.SECRET_LABELS) == SECRET_NAMES
