"""`cpq-sync buttons status|deploy|ticket`: the "Send to Zuora" buttons from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpq_sync_gui.buttons import ButtonStatus
    from cpq_sync_gui.salesforce.client import SalesforceClient
    from cpq_sync_gui.settings import Profile

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command cannot run as typed (unknown profile, no answer to a question)."""


def register(subparsers: Any) -> None:
    """Add ``buttons`` to the ``cpq-sync`` commands (``args.handler`` runs it)."""
    parser = subparsers.add_parser(
        "buttons",
        help='the "Send to Zuora" buttons in Salesforce: check, create or fix, support ticket',
        description='Check, create or fix the "Send to Zuora" buttons that Zuora\'s Billing '
        "Connector for Salesforce CPQ needs, and print the Zuora support ticket. Exit codes: "
        "0 both buttons OK, 1 a button is missing or misconfigured or something failed, "
        "2 usage error.",
    )
    commands = parser.add_subparsers(
        dest="buttons_command", metavar="BUTTONS_COMMAND", required=True
    )
    status = commands.add_parser(
        "status", help="is each button there, and right? (Missing / OK / Misconfigured)"
    )
    status.add_argument("--json", action="store_true", help="print the result as JSON")
    deploy = commands.add_parser(
        "deploy",
        help="show what will be deployed, ask, then create or fix the buttons through the "
        "Metadata API",
    )
    deploy.add_argument(
        "--yes", action="store_true", help="deploy without asking (the plan is still printed)"
    )
    commands.add_parser(
        "ticket", help="print the Zuora support ticket text with the button URLs, ready to paste"
    )
    for sub in (status, deploy, commands.choices["ticket"]):
        sub.add_argument(
            "--profile", metavar="NAME", help="the profile to use (default: the active one)"
        )
    parser.set_defaults(handler=run)
    parser.epilog = (
        "Secrets come from the password store, overridden by the CPQ_SYNC_* environment "
        "variables (see `cpq-sync profiles --help`)."
    )


# --- plumbing: profiles and secrets exactly as `cpq-sync profiles` finds them ------------------


def load_profile(name: str | None) -> Profile:
    from cpq_sync_gui import cli_profiles

    try:
        return cli_profiles.find_profile(cli_profiles.load_store(), name)
    except cli_profiles.UsageError as exc:
        raise UsageError(str(exc)) from None


def open_client(profile: Profile) -> SalesforceClient:
    """Log in with the saved secrets, overridden by the CPQ_SYNC_* environment variables."""
    from cpq_sync_gui import cli_profiles
    from cpq_sync_gui.connections import open_salesforce

    lookup = cli_profiles.lookup_for(profile, cli_profiles.open_secrets())
    return open_salesforce(profile, lookup)


def _check(profile: Profile) -> tuple[SalesforceClient, list[ButtonStatus]]:
    from cpq_sync_gui.buttons import button_status

    client = open_client(profile)
    return client, button_status(client, profile)


def _plain_failure(exc: BaseException) -> str | None:
    """The message of a failure we expect (login, network, Salesforce), else None."""
    from cpq_sync_gui.buttons import ButtonsError
    from cpq_sync_gui.connections import ConnectionFailed
    from cpq_sync_gui.salesforce.client import SalesforceQueryError
    from cpq_sync_gui.secrets import SecretStoreError

    if isinstance(exc, (ButtonsError, ConnectionFailed, SalesforceQueryError)):
        return exc.message
    if isinstance(exc, SecretStoreError):
        return f"The password store cannot be used: {exc}"
    return None


def _all_ok(statuses: list[ButtonStatus]) -> bool:
    from cpq_sync_gui.buttons import ButtonState

    return all(s.state == ButtonState.OK for s in statuses)


# --- commands --------------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace, profile: Profile) -> int:
    from cpq_sync_gui.buttons import status_text

    _, statuses = _check(profile)
    if args.json:
        document = {
            "profile": profile.name,
            "ok": _all_ok(statuses),
            "buttons": [s.as_json() for s in statuses],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(f'"Send to Zuora" buttons of profile {profile.name!r}:')
        print(status_text(statuses))
        if not _all_ok(statuses):
            print(
                f"\nRun `cpq-sync buttons deploy --profile {_quoted(profile.name)}` to create or fix them."
            )
    return EXIT_OK if _all_ok(statuses) else EXIT_SOME_FAILED


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'


def _ask(prompt: str) -> str:
    print(prompt, end="", flush=True)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise UsageError(
            "No answer (standard input is closed): nothing was deployed. Add --yes to deploy "
            "without a question."
        )
    return line.strip()


def _confirmed(profile: Profile) -> bool:
    if profile.is_production:
        answer = _ask(
            f"\n{profile.name!r} is a PRODUCTION profile. Type the profile name to deploy: "
        )
        return answer == profile.name
    return _ask("\nDeploy these changes to Salesforce? [y/N] ").lower() in ("y", "yes")


def cmd_deploy(args: argparse.Namespace, profile: Profile) -> int:
    from cpq_sync_gui.buttons import (
        button_status,
        deploy,
        deployment_plan,
        layout_instructions,
        plan_text,
        status_text,
    )

    client, statuses = _check(profile)
    print(f'"Send to Zuora" buttons of profile {profile.name!r} now:')
    print(status_text(statuses))
    plan = deployment_plan(statuses)
    if not plan:
        print("\nNothing to deploy: both buttons are OK.")
        return EXIT_OK
    print(f"\nWhat will be deployed to {client.connection.instance_url}:\n")
    print(plan_text(plan))
    if not args.yes and not _confirmed(profile):
        print("Nothing was deployed.")
        return EXIT_SOME_FAILED
    results = deploy(client.connection, plan)
    print("\nResult:")
    for result in results:
        print(f"  {result.text}")
    after = button_status(client, profile)
    print("\nThe buttons now:")
    print(status_text(after))
    ok = _all_ok(after) and all(r.ok for r in results)
    if ok:
        print("\nWhat is left for you:")
        print(layout_instructions())
        print(
            "\nThen send Zuora the support ticket: "
            f"cpq-sync buttons ticket --profile {_quoted(profile.name)}"
        )
    return EXIT_OK if ok else EXIT_SOME_FAILED


def cmd_ticket(args: argparse.Namespace, profile: Profile) -> int:
    from cpq_sync_gui.buttons import ButtonState, expected_buttons, support_ticket_text

    problem: str | None = None
    try:
        _, statuses = _check(profile)
    except Exception as exc:
        problem = _plain_failure(exc)
        if problem is None:
            raise
        statuses = []
    if not statuses:  # without Salesforce, the profile alone may still give the URLs
        from cpq_sync_gui.buttons import ButtonStatus

        statuses = [ButtonStatus(spec, ButtonState.MISSING) for spec in expected_buttons(profile)]
    print(support_ticket_text(profile, statuses))
    if problem is not None:
        print(f"\nThe buttons could not be checked: {problem}", file=sys.stderr)
        return EXIT_SOME_FAILED
    not_ok = [s for s in statuses if s.state != ButtonState.OK]
    for status in not_ok:
        print(
            f"\nBefore sending: the {status.spec.sobject} button is {status.state.value} in "
            f"Salesforce. Run `cpq-sync buttons deploy --profile {_quoted(profile.name)}` first.",
            file=sys.stderr,
        )
    return EXIT_SOME_FAILED if not_ok else EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, Profile], int]] = {
    "status": cmd_status,
    "deploy": cmd_deploy,
    "ticket": cmd_ticket,
}


def run(args: argparse.Namespace) -> int:
    """Run ``cpq-sync buttons …``; every expected failure is one plain line on stderr."""
    try:
        profile = load_profile(args.profile)
        return COMMANDS[args.buttons_command](args, profile)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        message = _plain_failure(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return EXIT_SOME_FAILED
