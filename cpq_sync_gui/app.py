"""Start the CPQ Sync window (`cpq-sync-gui`): command-line switches, demo sandbox, smoke run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cpq_sync_gui import __version__

APP_NAME = "CPQ Sync"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cpq-sync-gui",
        description="CPQ Sync: send Salesforce CPQ Accounts and Orders to Zuora Billing in bulk.",
    )
    parser.add_argument("--version", action="version", version=f"CPQ Sync {__version__}")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the built-in sandbox (a simulated Salesforce org and Zuora tenant) and open "
        "the app on it; nothing leaves this computer",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="open the main window, run for about a second, print OK and exit (used by CI)",
    )
    parser.add_argument(
        "--color-scheme",
        choices=("auto", "light", "dark"),
        default="auto",
        help="light or dark look regardless of the system setting (default: follow the system)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        type=Path,
        help="open the main window, save a picture of it to PNG and exit",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Qt is imported here, not at module level, so `--version` and `--help` stay instant.
    from cpq_sync_gui.ui.application import run_app

    return run_app(args, sys.argv[:1] + list(argv or sys.argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
