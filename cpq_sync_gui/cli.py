"""The headless command line (`cpq-sync`): profiles, syncs, run history, buttons, sandbox."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cpq_sync_gui import __version__

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpq-sync",
        description="Send Salesforce CPQ Accounts and Orders to Zuora Billing, without a window.",
    )
    parser.add_argument("--version", action="version", version=f"CPQ Sync {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "doctor",
        help="check this computer: versions, the password store (stores, reads and deletes a "
        "test secret) and where files are kept",
    )
    return parser


def cmd_doctor(args: argparse.Namespace) -> int:
    from cpq_sync_gui import paths
    from cpq_sync_gui.secrets import SecretStorageUnavailable, check_round_trip

    print(f"CPQ Sync {__version__} on Python {sys.version.split()[0]} ({sys.platform})")
    print(f"settings: {paths.config_dir()}")
    print(f"data:     {paths.data_dir()}")
    print(f"logs:     {paths.log_dir()}")
    try:
        print(check_round_trip())
    except SecretStorageUnavailable as exc:
        print(f"password store: {exc}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return cmd_doctor(args)
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
