"""Passwords, tokens and client secrets of each profile, kept in the computer's password store."""

from __future__ import annotations

import secrets as _random
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from cpq_sync_gui.redact import Redactor, default_redactor

if TYPE_CHECKING:
    from cpq_sync_gui.settings import Profile

SERVICE_NAME = "cpq-sync"
DOCTOR_KEY = "_doctor/check"

SALESFORCE_PASSWORD = "salesforce_password"  # noqa: S105 — names of secrets, not secrets
SALESFORCE_SECURITY_TOKEN = "salesforce_security_token"  # noqa: S105
SALESFORCE_CONSUMER_SECRET = "salesforce_consumer_secret"  # noqa: S105
SALESFORCE_KEY_PASSPHRASE = "salesforce_key_passphrase"  # noqa: S105
SALESFORCE_REFRESH_TOKEN = "salesforce_refresh_token"  # noqa: S105
SALESFORCE_SESSION_ID = "salesforce_session_id"
ZUORA_CLIENT_SECRET = "zuora_client_secret"  # noqa: S105
PROXY_PASSWORD = "proxy_password"  # noqa: S105

SECRET_LABELS: dict[str, str] = {
    SALESFORCE_PASSWORD: "Salesforce password",
    SALESFORCE_SECURITY_TOKEN: "Salesforce security token",
    SALESFORCE_CONSUMER_SECRET: "Salesforce consumer secret",
    SALESFORCE_KEY_PASSPHRASE: "private key passphrase",
    SALESFORCE_REFRESH_TOKEN: "Salesforce browser login (refresh token)",
    SALESFORCE_SESSION_ID: "Salesforce session ID",
    ZUORA_CLIENT_SECRET: "Zuora client secret",
    PROXY_PASSWORD: "proxy password",
}
SECRET_NAMES = frozenset(SECRET_LABELS)

# What the keyring backends raise when the store is missing, locked or broken.
_STORE_ERRORS: tuple[type[BaseException], ...] = (keyring.errors.KeyringError, RuntimeError)
try:  # Linux only
    import secretstorage.exceptions

    _STORE_ERRORS += (secretstorage.exceptions.SecretStorageException,)
except ImportError:  # pragma: no cover - not on Windows/macOS
    pass
try:
    import jeepney.wrappers

    _STORE_ERRORS += (jeepney.wrappers.DBusErrorResponse,)
except ImportError:  # pragma: no cover
    pass
_STORE_ERRORS += (OSError,)  # D-Bus socket gone, Keychain I/O


class SecretStoreError(Exception):
    """A password-store operation failed."""


class SecretStorageUnavailable(SecretStoreError):
    """There is no secure password store to use; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"No secure password store is available on this computer ({reason}). CPQ Sync can "
            "keep your secrets in memory for this session only; they will be asked again next "
            "time."
        )


class SecretLookup(Protocol):
    """What the network and login code need: one profile's secrets, by name."""

    def get(self, secret_name: str) -> str | None: ...


def backend_problem(backend: KeyringBackend) -> str | None:
    """Why ``backend`` is not a secure store, in plain words, or None when it is one."""
    if isinstance(backend, fail.Keyring):
        return "no password store was found (keyring found no usable backend)"
    if isinstance(backend, null.Keyring):
        return "the password store is switched off (keyring's null backend)"
    module = type(backend).__module__
    name = _backend_name(backend)
    if module.startswith("keyrings.alt"):
        return f"the only store found, {name}, keeps secrets in a plain file"
    try:
        priority = backend.priority
    except Exception as error:  # SecretService: daemon not running / no D-Bus session
        return f"{name} cannot be used: {error}"
    if priority < 1:
        return f"the only store found, {name}, is not a secure one"
    return None


def _backend_name(backend: KeyringBackend) -> str:
    try:
        return str(backend.name)
    except Exception:
        return type(backend).__qualname__


def _secure_backend(backend: KeyringBackend) -> tuple[KeyringBackend | None, str | None]:
    """The backend to use and None, or None and the reason there is none.

    keyring's chainer may end in plaintext backends; use its best secure member directly so
    a secret can never fall through to a plain file.
    """
    if isinstance(backend, chainer.ChainerBackend):
        reasons = []
        for member in backend.backends:
            problem = backend_problem(member)
            if problem is None:
                return member, None
            reasons.append(problem)
        return None, "; ".join(reasons) or "no password store was found"
    problem = backend_problem(backend)
    return (None, problem) if problem else (backend, None)


def _error_reason(backend_name: str, error: BaseException) -> str:
    if isinstance(error, keyring.errors.KeyringLocked):
        return f"{backend_name} is locked and was not unlocked"
    if isinstance(error, keyring.errors.NoKeyringError):
        return "no password store was found (keyring found no usable backend)"
    detail = str(error).strip() or type(error).__name__
    return f"{backend_name} failed: {detail}"


def secret_names_for(profile: Profile) -> tuple[str, ...]:
    """The secrets a profile uses, for its Salesforce login method, Zuora and its proxy."""
    from cpq_sync_gui.settings import ProxyMode, SalesforceAuthMethod

    by_method = {
        SalesforceAuthMethod.PASSWORD: (SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN),
        SalesforceAuthMethod.JWT: (SALESFORCE_KEY_PASSPHRASE,),
        SalesforceAuthMethod.CLIENT_CREDENTIALS: (SALESFORCE_CONSUMER_SECRET,),
        SalesforceAuthMethod.BROWSER: (SALESFORCE_REFRESH_TOKEN,),
        SalesforceAuthMethod.SESSION: (SALESFORCE_SESSION_ID,),
    }
    names = [*by_method[profile.salesforce.auth_method], ZUORA_CLIENT_SECRET]
    if profile.network.proxy_mode == ProxyMode.MANUAL and profile.network.proxy_username:
        names.append(PROXY_PASSWORD)
    return tuple(names)


class ProfileSecrets:
    """One profile's view of a :class:`SecretStore` (what ``net.make_session`` takes)."""

    def __init__(self, store: SecretStore, profile: str) -> None:
        self.store = store
        self.profile = profile

    def get(self, secret_name: str) -> str | None:
        return self.store.get(self.profile, secret_name)


class SecretStore:
    """Secrets under one keyring service, "cpq-sync", keyed "{profile}/{secret_name}".

    Raises SecretStorageUnavailable when no secure store works. With
    ``allow_memory_only=True`` it keeps secrets in this process instead (``memory_only``
    then says so, ``unavailable_reason`` says why); nothing is ever written to a file.
    Every secret read or set is registered with the redactor so logs never show it.
    """

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        *,
        allow_memory_only: bool = False,
        redactor: Redactor | None = None,
    ) -> None:
        self.allow_memory_only = allow_memory_only
        self.redactor = redactor if redactor is not None else default_redactor
        self._lock = threading.Lock()
        self._memory: dict[str, str] = {}
        requested = backend if backend is not None else keyring.get_keyring()
        self._backend, self.unavailable_reason = _secure_backend(requested)
        self.backend_name = _backend_name(self._backend or requested)
        if self._backend is None and not allow_memory_only:
            raise SecretStorageUnavailable(self.unavailable_reason or "unknown reason")

    @property
    def memory_only(self) -> bool:
        """True when secrets live only in memory for this session."""
        return self._backend is None

    def for_profile(self, profile: str) -> ProfileSecrets:
        return ProfileSecrets(self, profile)

    # -- single secrets --------------------------------------------------------------------

    def get(self, profile: str, secret_name: str) -> str | None:
        key = _key(profile, secret_name)
        value = self._call(lambda backend: backend.get_password(SERVICE_NAME, key), key, "get")
        self.redactor.register(value)
        return value

    def set(self, profile: str, secret_name: str, value: str) -> None:
        """Store a secret; an empty value removes it."""
        if not value:
            self.delete(profile, secret_name)
            return
        key = _key(profile, secret_name)
        self.redactor.register(value)
        self._call(
            lambda backend: backend.set_password(SERVICE_NAME, key, value), key, "set", value
        )

    def delete(self, profile: str, secret_name: str) -> None:
        """Remove a secret; removing one that is not there is fine."""
        key = _key(profile, secret_name)
        self._call(lambda backend: self._delete_from(backend, key), key, "delete")

    # -- whole profiles --------------------------------------------------------------------

    def delete_profile(self, profile: str) -> None:
        for name in sorted(SECRET_NAMES):
            self.delete(profile, name)

    def copy_profile(self, source: str, target: str) -> None:
        """Make ``target``'s secrets the same as ``source``'s."""
        self._copy(source, target, SECRET_NAMES)

    def rename_profile(self, old: str, new: str) -> None:
        """Move every secret of ``old`` to ``new`` (copy first, delete after)."""
        if old == new:
            return
        if old.casefold() == new.casefold():
            # Windows' Credential Manager ignores case: "uat/x" and "UAT/x" are one entry, so
            # copy-then-delete would delete what was just copied. Read, delete, then write.
            values = {name: self.get(old, name) for name in sorted(SECRET_NAMES)}
            self.delete_profile(old)
            for name, value in values.items():
                if value is not None:
                    self.set(new, name, value)
            return
        self._copy(old, new, SECRET_NAMES)
        self.delete_profile(old)

    def _copy(self, source: str, target: str, names: Iterable[str]) -> None:
        values = {name: self.get(source, name) for name in sorted(names)}
        for name, value in values.items():
            if value is None:
                self.delete(target, name)  # no stale secret of an older profile of that name
            else:
                self.set(target, name, value)

    def check_round_trip(self) -> str:
        """Store, read back and delete a throwaway value (``cpq-sync doctor``)."""
        if self._backend is None:
            raise SecretStorageUnavailable(self.unavailable_reason or "unknown reason")
        return check_round_trip(self._backend)

    # -- plumbing --------------------------------------------------------------------------

    @staticmethod
    def _delete_from(backend: KeyringBackend, key: str) -> None:
        try:
            backend.delete_password(SERVICE_NAME, key)
        except keyring.errors.PasswordDeleteError as error:
            # Most backends say "not found" this way; only a secret still there is a failure.
            if backend.get_password(SERVICE_NAME, key) is not None:
                raise SecretStoreError(
                    f"Could not delete {key} from the password store: {error}"
                ) from error

    def _call(
        self,
        operation: Callable[[KeyringBackend], str | None],
        key: str,
        action: str,
        value: str | None = None,
    ) -> str | None:
        with self._lock:
            backend = self._backend
        if backend is not None:
            try:
                return operation(backend)
            except SecretStoreError:
                raise
            except _STORE_ERRORS as error:
                reason = _error_reason(self.backend_name, error)
                if not self.allow_memory_only:
                    raise SecretStorageUnavailable(reason) from error
                with self._lock:  # fall back for the rest of the session
                    self._backend = None
                    self.unavailable_reason = reason
        with self._lock:
            if action == "get":
                return self._memory.get(key)
            if action == "set":
                assert value is not None
                self._memory[key] = value
            else:
                self._memory.pop(key, None)
            return None


def _key(profile: str, secret_name: str) -> str:
    if secret_name not in SECRET_NAMES:
        raise ValueError(f"unknown secret name {secret_name!r}")
    if not profile or not profile.strip():
        raise ValueError("a profile name is needed to store its secrets")
    return f"{profile}/{secret_name}"


def check_round_trip(backend: KeyringBackend | None = None) -> str:
    """One line for ``cpq-sync doctor``: can the password store keep, return and forget a secret?

    Raises SecretStorageUnavailable, naming the step that failed.
    """
    requested = backend if backend is not None else keyring.get_keyring()
    usable, problem = _secure_backend(requested)
    if usable is None:
        raise SecretStorageUnavailable(problem or "unknown reason")
    name = _backend_name(usable)
    value = _random.token_urlsafe(24)
    step = "store"
    try:
        usable.set_password(SERVICE_NAME, DOCTOR_KEY, value)
        step = "read"
        read_back = usable.get_password(SERVICE_NAME, DOCTOR_KEY)
        if read_back != value:
            raise SecretStorageUnavailable(f"{name} returned a different value than the one stored")
        step = "delete"
        usable.delete_password(SERVICE_NAME, DOCTOR_KEY)
        if usable.get_password(SERVICE_NAME, DOCTOR_KEY) is not None:
            raise SecretStorageUnavailable(f"{name} still has the test value after deleting it")
    except SecretStorageUnavailable:
        raise
    except _STORE_ERRORS as error:
        raise SecretStorageUnavailable(f"{step} step: {_error_reason(name, error)}") from error
    return f"keyring backend {name}: store/read/delete OK"


class SessionSecrets:
    """The app's secrets: the password store, plus profiles whose secrets stay in memory only.

    The demo sandbox's throwaway credentials change at every start; :meth:`keep_in_memory`
    pins them to this process so they never reach the keyring or a file. Everything else
    goes to the wrapped :class:`SecretStore` (which may itself be memory-only when the
    computer has no secure password store).
    """

    def __init__(self, store: SecretStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._pinned: dict[str, SecretStore] = {}

    # -- what the banner needs -------------------------------------------------------------

    @property
    def memory_only(self) -> bool:
        return self.store.memory_only

    @property
    def unavailable_reason(self) -> str | None:
        return self.store.unavailable_reason

    @property
    def backend_name(self) -> str:
        return self.store.backend_name

    # -- pinning ---------------------------------------------------------------------------

    def keep_in_memory(self, profile: str, values: Mapping[str, str]) -> None:
        """From now on ``profile``'s secrets live in this process only, starting with ``values``."""
        memory = SecretStore(fail.Keyring(), allow_memory_only=True, redactor=self.store.redactor)
        for secret_name, value in values.items():
            memory.set(profile, secret_name, value)
        with self._lock:
            self._pinned[profile] = memory

    def release(self, profile: str) -> None:
        """Forget ``profile``'s in-memory secrets (the demo stopped)."""
        with self._lock:
            self._pinned.pop(profile, None)

    def is_memory_only(self, profile: str) -> bool:
        with self._lock:
            return profile in self._pinned or self.store.memory_only

    def _target(self, profile: str) -> SecretStore:
        with self._lock:
            return self._pinned.get(profile, self.store)

    # -- the SecretStore interface ---------------------------------------------------------

    def get(self, profile: str, secret_name: str) -> str | None:
        return self._target(profile).get(profile, secret_name)

    def set(self, profile: str, secret_name: str, value: str) -> None:
        self._target(profile).set(profile, secret_name, value)

    def delete(self, profile: str, secret_name: str) -> None:
        self._target(profile).delete(profile, secret_name)

    def delete_profile(self, profile: str) -> None:
        self._target(profile).delete_profile(profile)

    def for_profile(self, profile: str) -> SecretLookup:
        return self._target(profile).for_profile(profile)

    def copy_profile(self, source: str, target: str) -> None:
        self._move(source, target, delete_source=False)

    def rename_profile(self, old: str, new: str) -> None:
        if old == new:
            return
        with self._lock:
            pinned = self._pinned.pop(old, None)
        if pinned is not None:  # in-memory secrets stay in memory under the new name
            pinned.rename_profile(old, new)
            with self._lock:
                self._pinned[new] = pinned
            return
        self._move(old, new, delete_source=True)

    def _move(self, source: str, target: str, *, delete_source: bool) -> None:
        source_store, target_store = self._target(source), self._target(target)
        with self._lock:
            throwaway = source in self._pinned
        if source_store is target_store:
            if delete_source:
                source_store.rename_profile(source, target)
            else:
                source_store.copy_profile(source, target)
            return
        if throwaway and not delete_source:
            return  # in-memory (demo) secrets are never copied into the password store
        for secret_name in sorted(SECRET_NAMES):
            value = source_store.get(source, secret_name)
            if value is None:
                target_store.delete(target, secret_name)
            else:
                target_store.set(target, secret_name, value)
        if delete_source:
            source_store.delete_profile(source)
