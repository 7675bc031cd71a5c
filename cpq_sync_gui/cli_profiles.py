"""`cpq-sync profiles …`: list, show, add, edit, remove, use and test connection profiles."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
import webbrowser
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from cpq_sync_gui.connections import SessionSecrets
    from cpq_sync_gui.secrets import SecretLookup
    from cpq_sync_gui.settings import Profile, ProfileStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# Secret name (secrets.py) -> the environment variable that can carry it.
SECRET_ENV_VARS: dict[str, str] = {
    "salesforce_password": "CPQ_SYNC_SF_PASSWORD",
    "salesforce_security_token": "CPQ_SYNC_SF_SECURITY_TOKEN",
    "salesforce_consumer_secret": "CPQ_SYNC_SF_CONSUMER_SECRET",
    "salesforce_key_passphrase": "CPQ_SYNC_SF_KEY_PASSPHRASE",
    "salesforce_refresh_token": "CPQ_SYNC_SF_REFRESH_TOKEN",
    "salesforce_session_id": "CPQ_SYNC_SF_SESSION_ID",
    "zuora_client_secret": "CPQ_SYNC_ZUORA_CLIENT_SECRET",
    "proxy_password": "CPQ_SYNC_PROXY_PASSWORD",
}
_SECRET_HELP = {
    "salesforce_password": "Salesforce password",
    "salesforce_security_token": "Salesforce security token",
    "salesforce_consumer_secret": "consumer secret of the connected app",
    "salesforce_key_passphrase": "passphrase of the JWT private key file",
    "salesforce_refresh_token": "refresh token of a browser login",
    "salesforce_session_id": "existing Salesforce session id",
    "zuora_client_secret": "Zuora OAuth client secret",
    "proxy_password": "proxy password",
}
ENV_HELP = (
    "Secrets are never taken from the command line. `add` and `edit` ask for them without "
    "echoing (when run in a terminal) or read them from these environment variables; `test` "
    "uses the saved ones, overridden by these variables when set:\n"
    + "\n".join(f"  {var:<30} {_SECRET_HELP[name]}" for name, var in SECRET_ENV_VARS.items())
    + "\nThey are saved in the computer's password store (keyring) only, never in a file."
)

# Options people might try for secrets: refused with a pointer to the environment variable.
_REFUSED_OPTIONS: dict[str, str] = {
    "--password": "salesforce_password",
    "--sf-password": "salesforce_password",
    "--security-token": "salesforce_security_token",
    "--sf-security-token": "salesforce_security_token",
    "--token": "salesforce_security_token",
    "--consumer-secret": "salesforce_consumer_secret",
    "--sf-consumer-secret": "salesforce_consumer_secret",
    "--key-passphrase": "salesforce_key_passphrase",
    "--sf-key-passphrase": "salesforce_key_passphrase",
    "--passphrase": "salesforce_key_passphrase",
    "--refresh-token": "salesforce_refresh_token",
    "--sf-refresh-token": "salesforce_refresh_token",
    "--session-id": "salesforce_session_id",
    "--sf-session-id": "salesforce_session_id",
    "--client-secret": "zuora_client_secret",
    "--zuora-client-secret": "zuora_client_secret",
    "--zuora-secret": "zuora_client_secret",
    "--secret": "zuora_client_secret",
    "--proxy-password": "proxy_password",
}

# (section, field) -> the option that sets it, so validation messages name the option.
_FIELDS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "salesforce",
        "auth_method",
        "--sf-auth",
        {
            "metavar": "METHOD",
            "choices": ["password", "jwt", "client_credentials", "browser", "session"],
            "help": "password (user name + password + security token), jwt (consumer key + private key file), client_credentials (consumer key + secret, My Domain), browser (system browser, for MFA/SSO), session (existing session id + instance URL)",
        },
    ),
    (
        "salesforce",
        "login_host",
        "--sf-login-host",
        {
            "metavar": "HOST",
            "choices": ["production", "sandbox", "my_domain", "custom"],
            "help": "production (login.salesforce.com), sandbox (test.salesforce.com), my_domain, custom",
        },
    ),
    (
        "salesforce",
        "my_domain",
        "--sf-my-domain",
        {"metavar": "HOST", "help": "e.g. acme.my.salesforce.com"},
    ),
    (
        "salesforce",
        "custom_login_url",
        "--sf-login-url",
        {"metavar": "URL", "help": "custom login host, e.g. https://login.example.com:8443"},
    ),
    (
        "salesforce",
        "username",
        "--sf-username",
        {"metavar": "USER", "help": "e.g. admin@acme.com"},
    ),
    (
        "salesforce",
        "consumer_key",
        "--sf-consumer-key",
        {"metavar": "KEY", "help": "consumer key of your connected / external client app"},
    ),
    (
        "salesforce",
        "private_key_file",
        "--sf-private-key-file",
        {"metavar": "PEM", "help": "JWT: the connected app's private key file"},
    ),
    (
        "salesforce",
        "instance_url",
        "--sf-instance-url",
        {"metavar": "URL", "help": "session login: e.g. https://acme.my.salesforce.com"},
    ),
    (
        "salesforce",
        "api_version",
        "--sf-api-version",
        {"metavar": "VERSION", "help": "e.g. 62.0"},
    ),
    (
        "salesforce",
        "browser_callback_port",
        "--sf-callback-port",
        {
            "metavar": "PORT",
            "type": int,
            "help": "browser login: loopback port of the callback URL (default 1717)",
        },
    ),
    (
        "zuora",
        "environment",
        "--zuora-environment",
        {
            "metavar": "ENV",
            "help": "e.g. us_production_cloud1, eu_api_sandbox, custom (see `profiles show`)",
        },
    ),
    (
        "zuora",
        "base_url",
        "--zuora-base-url",
        {"metavar": "URL", "help": "custom environment: the REST address"},
    ),
    (
        "zuora",
        "client_id",
        "--zuora-client-id",
        {"metavar": "ID", "help": "Zuora OAuth client id"},
    ),
    (
        "zuora",
        "zuora_version",
        "--zuora-version",
        {"metavar": "DATE", "help": "Zuora-Version header, e.g. 2025-08-12"},
    ),
    (
        "zuora",
        "entity_id",
        "--zuora-entity-id",
        {"metavar": "ID", "help": "multi-entity tenants only"},
    ),
    (
        "connector",
        "endpoint_url",
        "--connector-url",
        {"metavar": "URL", "help": "connector endpoint (default: Zuora's documented one)"},
    ),
    (
        "connector",
        "sfdc_domain",
        "--connector-sfdc-domain",
        {
            "metavar": "HOST",
            "help": "the org's Lightning host, e.g. acme.lightning.force.com (default: derived from the instance)",
        },
    ),
    (
        "network",
        "proxy_mode",
        "--proxy",
        {
            "metavar": "MODE",
            "choices": ["none", "system", "manual"],
            "help": "none, system (default) or manual",
        },
    ),
    (
        "network",
        "proxy_url",
        "--proxy-url",
        {"metavar": "URL", "help": "manual proxy, e.g. http://proxy.example.com:3128"},
    ),
    (
        "network",
        "proxy_username",
        "--proxy-username",
        {
            "metavar": "USER",
            "help": "manual proxy user name (password: CPQ_SYNC_PROXY_PASSWORD or the prompt)",
        },
    ),
    (
        "network",
        "ca_bundle",
        "--ca-bundle",
        {"metavar": "PEM", "help": "CA certificate file (PEM) for TLS inspection"},
    ),
    (
        "network",
        "connect_timeout_s",
        "--connect-timeout",
        {"metavar": "SECONDS", "type": float, "help": "default 10"},
    ),
    (
        "network",
        "read_timeout_s",
        "--read-timeout",
        {"metavar": "SECONDS", "type": float, "help": "default 60"},
    ),
]
_OPTION_FOR = {(section, name): option for section, name, option, _ in _FIELDS}


class _RefuseSecret(argparse.Action):
    """An option that would put a secret on the command line: stop, without echoing it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: Any,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        secret = _REFUSED_OPTIONS.get(option_string or "", "")
        variable = SECRET_ENV_VARS.get(secret, "the CPQ_SYNC_… environment variable")
        parser.error(
            f"{option_string}: secrets are never taken from the command line (other programs "
            f"and the shell history can see them). Set {variable} or answer the prompt instead. "
            "If you typed a real secret, consider changing it."
        )


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_parser(commands: Any) -> None:
    """Add `profiles` and its subcommands to the `cpq-sync` command parser."""
    profiles = commands.add_parser(
        "profiles",
        help="connection profiles: list, show, add, edit, remove, use, test",
        description="Connection profiles: a Salesforce org, a Zuora tenant, the connector "
        "endpoint and the network settings, under one name.",
        epilog=ENV_HELP,
        formatter_class=_help_formatter,
    )
    sub = profiles.add_subparsers(
        dest="profiles_command", metavar="PROFILES_COMMAND", required=True
    )

    listing = sub.add_parser("list", help="all profiles; * marks the active one")
    listing.add_argument("--json", action="store_true", help="machine-readable output")

    show = sub.add_parser("show", help="one profile's settings and which secrets are saved")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--json", action="store_true", help="machine-readable output")

    for command, text in (
        ("add", "create a profile (asks for its secrets without echoing them)"),
        ("edit", "change a profile's settings (only the options given) and secrets"),
    ):
        parser = sub.add_parser(
            command, help=text, epilog=ENV_HELP, formatter_class=_help_formatter
        )
        parser.add_argument("name", metavar="NAME")
        if command == "edit":
            parser.add_argument("--rename", metavar="NEW_NAME", help="give the profile a new name")
            parser.add_argument(
                "--prompt-secrets",
                action="store_true",
                help="ask again for the secrets this profile uses (blank keeps the saved one)",
            )
        parser.add_argument(
            "--no-prompt",
            action="store_true",
            help="never ask; take secrets only from the environment variables",
        )
        parser.add_argument(
            "--treat-as-production",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="show the red PRODUCTION badge even for hosts CPQ Sync cannot classify",
        )
        parser.add_argument("--activate", action="store_true", help="make it the active profile")
        for _section, _name, option, kwargs in _FIELDS:
            parser.add_argument(option, default=None, **kwargs)
        for option in _REFUSED_OPTIONS:
            parser.add_argument(option, nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)

    remove = sub.add_parser("remove", help="delete a profile and its saved secrets")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    use = sub.add_parser("use", help="make a profile the active one")
    use.add_argument("name", metavar="NAME")

    test = sub.add_parser(
        "test",
        help="log in to Salesforce and Zuora and report the org and tenant",
        description="Exit status: 0 both sides work, 1 a test failed, 2 usage or settings error.",
        epilog=ENV_HELP,
        formatter_class=_help_formatter,
    )
    test.add_argument("name", metavar="NAME", nargs="?", help="default: the active profile")
    test.add_argument("--json", action="store_true", help="machine-readable output")
    side = test.add_mutually_exclusive_group()
    side.add_argument("--salesforce-only", action="store_true", help="test only Salesforce")
    side.add_argument("--zuora-only", action="store_true", help="test only Zuora")
    test.add_argument(
        "--no-browser",
        action="store_true",
        help="browser login: fail instead of opening a browser when there is no saved login",
    )
    for option in _REFUSED_OPTIONS:
        test.add_argument(option, nargs="?", action=_RefuseSecret, help=argparse.SUPPRESS)


# --- shared with other commands ------------------------------------------------------------


class UsageError(Exception):
    """A problem with the command or the settings (exit status 2)."""


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secrets set in CPQ_SYNC_* environment variables, by secret name."""
    env = os.environ if environ is None else environ
    return {name: env[var] for name, var in SECRET_ENV_VARS.items() if env.get(var)}


def open_secrets() -> SessionSecrets:
    """The password store, or memory only (with a note on stderr) when there is none."""
    from cpq_sync_gui.connections import SessionSecrets
    from cpq_sync_gui.redact import register_secret
    from cpq_sync_gui.secrets import SecretStore

    for value in secrets_from_environment().values():
        register_secret(value)
    return SessionSecrets(SecretStore(allow_memory_only=True))


def lookup_for(profile: Profile, secrets: SessionSecrets) -> SecretLookup:
    """``profile``'s saved secrets with the environment variables taking precedence."""
    from cpq_sync_gui.connections import OverlaySecrets, profile_secrets

    return OverlaySecrets(profile_secrets(profile, secrets), secrets_from_environment())


def load_store() -> ProfileStore:
    from cpq_sync_gui.settings import ProfileStore, SettingsFileError

    store = ProfileStore()
    try:
        store.load()
    except SettingsFileError as exc:
        raise UsageError(str(exc)) from None
    return store


def find_profile(store: ProfileStore, name: str | None) -> Profile:
    if name is None:
        if store.active is None:
            raise UsageError(
                "No profile is active: name one, or choose one with `cpq-sync profiles use NAME`."
            )
        return store.active
    if name not in store:
        known = ", ".join(repr(n) for n in store.names()) or "none yet"
        raise UsageError(f"There is no profile named {name!r} (profiles: {known}).")
    return store.get(name)


# --- the commands --------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run a `profiles` subcommand; returns the exit status."""
    commands = {
        "list": _list,
        "show": _show,
        "add": _add,
        "edit": _edit,
        "remove": _remove,
        "use": _use,
        "test": _test,
    }
    try:
        return commands[args.profiles_command](args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE


def _kind_label(profile: Profile) -> str:
    from cpq_sync_gui.connections import profile_kind

    return {"production": "PRODUCTION", "uat": "UAT", "sandbox": "Sandbox", "demo": "Demo"}[
        profile_kind(profile)
    ]


def _summary(profile: Profile, active: bool) -> dict[str, Any]:
    from cpq_sync_gui.connections import profile_kind

    return {
        "name": profile.name,
        "active": active,
        "kind": profile_kind(profile),
        "production": profile.is_production,
        "salesforce_login": profile.salesforce.login_url(),
        "salesforce_auth": profile.salesforce.auth_method.value,
        "salesforce_username": profile.salesforce.username or None,
        "zuora_environment": profile.zuora.environment_label,
        "zuora_base_url": profile.zuora.rest_base_url(),
    }


def _list(args: argparse.Namespace) -> int:
    store = load_store()
    active = store.active.name if store.active else None
    rows = [_summary(p, p.name == active) for p in store.profiles]
    if args.json:
        print(json.dumps({"active": active, "profiles": rows}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("No profiles yet. Create one with `cpq-sync profiles add NAME …` or in the app.")
        return EXIT_OK
    for profile, row in zip(store.profiles, rows, strict=True):
        mark = "*" if row["active"] else " "
        print(
            f"{mark} {row['name']}  [{_kind_label(profile)}]  Salesforce {row['salesforce_login']} "
            f"({row['salesforce_auth']})  Zuora {row['zuora_environment']}"
        )
    return EXIT_OK


def _secret_states(profile: Profile, secrets: SessionSecrets) -> dict[str, str]:
    from cpq_sync_gui.secrets import SECRET_LABELS, SecretStoreError, secret_names_for

    states = {}
    for name in secret_names_for(profile):
        try:
            saved = secrets.get(profile.name, name) is not None
            state = "saved" if saved else "not saved"
        except SecretStoreError:
            state = "unknown (the password store cannot be read)"
        if name in secrets_from_environment():
            state += f"; {SECRET_ENV_VARS[name]} is set"
        states[SECRET_LABELS[name]] = state
    return states


def _show(args: argparse.Namespace) -> int:
    store = load_store()
    profile = find_profile(store, args.name)
    secrets = open_secrets()
    data = profile.model_dump(mode="json")
    data["kind"] = _summary(profile, False)["kind"]
    data["active"] = store.active is not None and store.active.name == profile.name
    data["secrets"] = _secret_states(profile, secrets)
    if secrets.memory_only:
        data["password_store"] = f"none: {secrets.unavailable_reason}"
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{profile.name}  [{_kind_label(profile)}]" + ("  (active)" if data["active"] else ""))
    for section in ("salesforce", "zuora", "connector", "network"):
        print(f"{section.capitalize()}:")
        for key, value in data[section].items():
            if value not in (None, ""):
                print(f"  {key}: {value}")
    print("Secrets:")
    for label, state in data["secrets"].items():
        print(f"  {label}: {state}")
    if "password_store" in data:
        print(f"Password store: {data['password_store']}")
    return EXIT_OK


def _changes(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    changes: dict[str, dict[str, Any]] = {}
    for section, name, option, _kwargs in _FIELDS:
        value = getattr(args, option.lstrip("-").replace("-", "_"))
        if value is not None:
            changes.setdefault(section, {})[name] = value
    return changes


def _profile_from(data: dict[str, Any]) -> Profile:
    from pydantic import ValidationError

    from cpq_sync_gui.settings import Profile

    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for item in exc.errors():
            loc = tuple(str(part) for part in item["loc"])
            option = _OPTION_FOR.get(loc[:2]) if len(loc) >= 2 else None
            where = option or ("NAME" if loc == ("name",) else ".".join(loc) or "profile")
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise UsageError("The profile was not saved:\n  " + "\n  ".join(problems)) from None


def _collect_secrets(
    profile: Profile, args: argparse.Namespace, *, ask: bool, out: TextIO = sys.stderr
) -> dict[str, str]:
    """Secrets from the environment, then (in a terminal) a no-echo prompt for the rest."""
    from cpq_sync_gui.secrets import SECRET_LABELS, secret_names_for

    found = secrets_from_environment()
    wanted = secret_names_for(profile)
    values = {name: found[name] for name in wanted if name in found}
    interactive = ask and not args.no_prompt and sys.stdin.isatty()
    for name in wanted:
        if name in values or not interactive:
            continue
        if name == "salesforce_refresh_token":
            continue  # comes from a browser login (`profiles test`), not from typing
        value = getpass.getpass(f"{SECRET_LABELS[name]} (not shown; blank to skip): ", stream=out)
        if value:
            values[name] = value
    return values


def _save_secrets(profile: Profile, values: dict[str, str], secrets: SessionSecrets) -> list[str]:
    """Save ``values``; returns notes for the user."""
    from cpq_sync_gui.secrets import SECRET_LABELS, SecretStoreError, secret_names_for

    notes = []
    if values and secrets.memory_only:
        variables = ", ".join(SECRET_ENV_VARS[n] for n in values)
        notes.append(
            f"No secure password store is available ({secrets.unavailable_reason}), so the "
            f"secrets were NOT saved. Give them in {variables} each time you run cpq-sync."
        )
        return notes
    try:
        for name, value in values.items():
            secrets.set(profile.name, name, value)
    except SecretStoreError as exc:
        raise UsageError(f"The secrets could not be saved: {exc}") from None
    for name in secret_names_for(profile):
        if name == "salesforce_refresh_token":
            continue
        if secrets.get(profile.name, name) is None:
            notes.append(
                f"{SECRET_LABELS[name]} is not set: set {SECRET_ENV_VARS[name]} and run "
                f"`cpq-sync profiles edit {profile.name!r}`, or add --prompt-secrets."
            )
    return notes


def _add(args: argparse.Namespace) -> int:
    store = load_store()
    if args.name in store:
        raise UsageError(
            f"There is already a profile named {args.name!r}; change it with `profiles edit`."
        )
    data: dict[str, Any] = {"name": args.name, **_changes(args)}
    if args.treat_as_production is not None:
        data["treat_as_production"] = args.treat_as_production
    profile = _profile_from(data)
    secrets = open_secrets()
    values = _collect_secrets(profile, args, ask=True)
    store.add(profile)
    if args.activate or store.active is None:
        store.set_active(profile.name)
    store.save()
    notes = _save_secrets(profile, values, secrets)
    print(f"Added profile {profile.name!r} [{_kind_label(profile)}].")
    for note in notes:
        print(note, file=sys.stderr)
    return EXIT_OK


def _edit(args: argparse.Namespace) -> int:
    store = load_store()
    current = find_profile(store, args.name)
    data = current.model_dump(mode="python")
    for section, values in _changes(args).items():
        data[section] = {**data[section], **values}
    if args.treat_as_production is not None:
        data["treat_as_production"] = args.treat_as_production
    profile = _profile_from(data)
    secrets = open_secrets()
    values = _collect_secrets(profile, args, ask=args.prompt_secrets)
    store.replace(profile)
    if args.rename:
        from cpq_sync_gui.settings import ProfileError

        try:
            profile = store.rename(current.name, args.rename)
        except ProfileError as exc:
            raise UsageError(str(exc)) from None
        secrets.rename_profile(current.name, profile.name)
    if args.activate:
        store.set_active(profile.name)
    store.save()
    notes = _save_secrets(profile, values, secrets)
    print(f"Saved profile {profile.name!r} [{_kind_label(profile)}].")
    for note in notes:
        print(note, file=sys.stderr)
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    store = load_store()
    profile = find_profile(store, args.name)
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"Add --yes to remove {profile.name!r} without being asked.")
        answer = input(f"Remove profile {profile.name!r} and its saved secrets? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing removed.")
            return EXIT_OK
    secrets = open_secrets()
    secrets.delete_profile(profile.name)
    store.remove(profile.name)
    store.save()
    print(f"Removed profile {profile.name!r} and its saved secrets.")
    return EXIT_OK


def _use(args: argparse.Namespace) -> int:
    store = load_store()
    profile = find_profile(store, args.name)
    store.set_active(profile.name)
    store.save()
    print(f"Active profile: {profile.name} [{_kind_label(profile)}]")
    return EXIT_OK


def _print_browser_url(url: str) -> bool:
    print(
        "Log in to Salesforce in the browser window that opens. If none opens, open this "
        f"address yourself:\n{url}",
        file=sys.stderr,
        flush=True,
    )
    with contextlib.suppress(webbrowser.Error):
        webbrowser.open(url)
    return True  # the URL is printed: the user can always open it by hand


def _test(args: argparse.Namespace) -> int:
    from cpq_sync_gui.connections import check_profile

    store = load_store()
    profile = find_profile(store, args.name)
    secrets = open_secrets()
    sides = ("salesforce",) if args.salesforce_only else ("zuora",) if args.zuora_only else None
    result = check_profile(
        profile,
        _CliSecrets(profile, secrets),
        sides=sides or ("salesforce", "zuora"),
        browser_opener=None if args.no_browser else _print_browser_url,
    )
    tested = [s for s in (result.salesforce, result.zuora) if s.code != "SKIPPED"]
    if args.json:
        data = result.to_dict()
        data["ok"] = all(s.ok for s in tested)
        for side in ("salesforce", "zuora"):
            if data[side].get("code") == "SKIPPED":
                data[side] = None
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(f"Profile {profile.name} [{_kind_label(profile)}]")
        for title, side in (("Salesforce", result.salesforce), ("Zuora", result.zuora)):
            if side.code == "SKIPPED":
                continue
            print(f"{title}: {'OK' if side.ok else 'FAILED'}")
            for line in side.report.lines() if side.report else [side.error or ""]:
                print(f"  {line}")
    if all(s.ok for s in tested):
        return EXIT_OK
    if any(s.code in ("INCOMPLETE_PROFILE", "NETWORK_SETTINGS") for s in tested if not s.ok):
        return EXIT_USAGE
    return EXIT_FAILED


class _CliSecrets:
    """Saved secrets with CPQ_SYNC_* environment variables first; new ones (refresh token) saved."""

    def __init__(self, profile: Profile, secrets: SessionSecrets) -> None:
        self._lookup = lookup_for(profile, secrets)
        self._secrets = secrets

    def for_profile(self, profile: str) -> SecretLookup:
        return self._lookup

    def set(self, profile: str, secret_name: str, value: str) -> None:
        if not self._secrets.memory_only:
            self._secrets.set(profile, secret_name, value)
