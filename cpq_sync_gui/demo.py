"""The demo: the built-in sandbox started on this computer, and a "Demo sandbox" profile pointing at it."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cpq_sync_gui import secrets as names
from cpq_sync_gui.connections import DEMO_PROFILE_NAME, SessionSecrets
from cpq_sync_gui.sandbox.config import SandboxConfig
from cpq_sync_gui.sandbox.sandbox import Sandbox
from cpq_sync_gui.secrets import SecretStore
from cpq_sync_gui.settings import (
    CUSTOM_ENVIRONMENT,
    ConnectorSettings,
    LoginHost,
    NetworkSettings,
    Profile,
    ProfileStore,
    ProxyMode,
    SalesforceAuthMethod,
    SalesforceSettings,
    ZuoraSettings,
)

__all__ = [
    "DEMO_PROFILE_NAME",
    "DemoSession",
    "demo_profile",
    "install_demo_profile",
    "start_demo",
    "start_demo_sandbox",
]


def start_demo_sandbox(config: SandboxConfig | None = None) -> Sandbox:
    """Generate and serve the sandbox at demo size (slow-ish: run it off the GUI thread).

    Its CA certificate goes into a fresh temporary folder that :meth:`DemoSession.stop`
    removes again.
    """
    directory = Path(tempfile.mkdtemp(prefix="cpq-sync-demo-"))
    try:
        return Sandbox(config or SandboxConfig(), directory=directory).start()
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def demo_profile(sandbox: Sandbox, existing: Profile | None = None) -> Profile:
    """The "Demo sandbox" profile for a running sandbox (its addresses change at every start)."""
    creds = sandbox.credentials
    kept_timeouts = existing.network if existing is not None else NetworkSettings()
    return Profile(
        name=DEMO_PROFILE_NAME,
        treat_as_production=False,
        salesforce=SalesforceSettings(
            auth_method=SalesforceAuthMethod.PASSWORD,
            login_host=LoginHost.CUSTOM,
            custom_login_url=sandbox.salesforce_url,
            username=creds.sf_username,
            consumer_key=creds.sf_consumer_key,
        ),
        zuora=ZuoraSettings(
            environment=CUSTOM_ENVIRONMENT,
            base_url=sandbox.zuora_url,
            client_id=creds.zuora_client_id,
        ),
        connector=ConnectorSettings(
            endpoint_url=sandbox.connector_url, sfdc_domain=sandbox.sfdc_domain
        ),
        network=NetworkSettings(
            proxy_mode=ProxyMode.NONE,  # loopback: never through a proxy
            ca_bundle=sandbox.ca_path,
            connect_timeout_s=kept_timeouts.connect_timeout_s,
            read_timeout_s=kept_timeouts.read_timeout_s,
        ),
    )


@dataclass
class DemoSession:
    """A running demo: the sandbox, its profile and the in-memory secrets; :meth:`stop` ends it."""

    sandbox: Sandbox
    profile: Profile
    secrets: SessionSecrets
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return not self._stopped.is_set()

    def describe(self) -> str:
        """One log line with the sandbox's addresses (no secrets)."""
        sb = self.sandbox
        return (
            f"Demo sandbox running on this computer: Salesforce {sb.salesforce_url}, Zuora "
            f"{sb.zuora_url}, connector {sb.connector_url} (sfdc={sb.sfdc_domain}); profile "
            f"'{self.profile.name}' is active. Its logins are throwaway and kept in memory only."
        )

    def stop(self) -> None:
        """Stop the servers, forget the throwaway secrets and remove the temporary folder."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        with contextlib.suppress(Exception):
            self.sandbox.stop()
        self.secrets.release(self.profile.name)
        shutil.rmtree(self.sandbox.directory, ignore_errors=True)
        with contextlib.suppress(ValueError):
            atexit.unregister(self.stop)


def install_demo_profile(
    store: ProfileStore, secrets: SessionSecrets | SecretStore, sandbox: Sandbox
) -> DemoSession:
    """Create or update the "Demo sandbox" profile, make it active and pin its secrets in memory.

    Quick (no network): the GUI calls it on its own thread after :func:`start_demo_sandbox`.
    """
    app_secrets = secrets if isinstance(secrets, SessionSecrets) else SessionSecrets(secrets)
    existing = store.get(DEMO_PROFILE_NAME) if DEMO_PROFILE_NAME in store else None
    profile = demo_profile(sandbox, existing)
    creds = sandbox.credentials
    # Pinned before anything else so no code path can write these to the keyring.
    app_secrets.keep_in_memory(
        profile.name,
        {
            names.SALESFORCE_PASSWORD: creds.sf_password,
            names.SALESFORCE_SECURITY_TOKEN: creds.sf_security_token,
            names.SALESFORCE_CONSUMER_SECRET: creds.sf_consumer_secret,
            names.ZUORA_CLIENT_SECRET: creds.zuora_client_secret,
        },
    )
    if existing is not None:
        store.replace(profile)
    else:
        store.add(profile)
    store.set_active(profile.name)
    store.save()
    session = DemoSession(sandbox, profile, app_secrets)
    atexit.register(session.stop)
    return session


def start_demo(
    store: ProfileStore,
    secrets: SessionSecrets | SecretStore,
    config: SandboxConfig | None = None,
) -> DemoSession:
    """Start the sandbox at demo size and make the "Demo sandbox" profile active (blocking).

    The sandbox's throwaway credentials go into ``secrets`` in memory only (never the
    keyring or a file); the sandbox stops at :meth:`DemoSession.stop` or at exit.
    """
    sandbox = start_demo_sandbox(config)
    try:
        return install_demo_profile(store, secrets, sandbox)
    except BaseException:
        sandbox.stop()
        shutil.rmtree(sandbox.directory, ignore_errors=True)
        raise
