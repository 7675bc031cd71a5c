"""The headless command line (`cpq-sync`): profiles, syncs, run history, buttons, sandbox."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cpq_sync_gui import __version__, cli_buttons, cli_profiles, cli_sync
from cpq_sync_gui.sandbox.http import FAULT_KINDS

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
    cli_profiles.add_parser(commands)  # `profiles …` (cli_profiles.py)
    cli_buttons.register(commands)  # `buttons …` (cli_buttons.py)
    cli_sync.register(commands)  # `sync …` and `runs …` (cli_sync.py)
    sandbox = commands.add_parser(
        "sandbox", help="the built-in simulated Salesforce org, Zuora tenant and connector"
    ).add_subparsers(dest="sandbox_command", metavar="SANDBOX_COMMAND", required=True)
    serve = sandbox.add_parser(
        "serve",
        help="serve the sandbox on 127.0.0.1 until Ctrl+C; prints its URLs, credentials file "
        "and CA certificate",
    )
    serve.add_argument("--accounts", type=int, default=200, metavar="N", help="default 200")
    serve.add_argument("--orders", type=int, default=300, metavar="N", help="default 300")
    serve.add_argument("--seed", type=int, default=7, help="data and faults follow it (default 7)")
    serve.add_argument(
        "--latency-ms", type=float, default=0.0, metavar="N", help="delay every answer by N ms"
    )
    serve.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="e.g. 'zuora:POST:/v1/accounts:http500=5%%,reset_after=5%%' "
        "(kinds: " + ", ".join(sorted(FAULT_KINDS)) + ")",
    )
    serve.add_argument(
        "--no-cpq-fields",
        action="store_true",
        help="simulate an org without the Salesforce CPQ (SBQQ__) fields",
    )
    serve.add_argument(
        "--dir",
        type=Path,
        metavar="FOLDER",
        help="where to write the CA and credentials (default: a new temp folder)",
    )
    return parser


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from cpq_sync_gui.sandbox.config import SandboxConfig
    from cpq_sync_gui.sandbox.http import FaultPlan, FaultSpecError
    from cpq_sync_gui.sandbox.sandbox import Sandbox

    if args.accounts < 0 or args.orders < 0:
        print("--accounts and --orders must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        FaultPlan.parse(args.faults)
    except FaultSpecError as exc:
        print(f"--faults: {exc}", file=sys.stderr)
        return EXIT_USAGE
    config = SandboxConfig(
        seed=args.seed,
        accounts=args.accounts,
        orders=args.orders,
        latency_ms=args.latency_ms,
        faults=args.faults,
        cpq_fields=not args.no_cpq_fields,
    )
    began = time.perf_counter()
    sandbox = Sandbox(config, directory=args.dir).start()
    credentials_file = sandbox.write_credentials()
    print(f"Salesforce (login and instance): {sandbox.salesforce_url}")
    print(f"Zuora REST:                      {sandbox.zuora_url}")
    print(f"Connector endpoint:              {sandbox.connector_url}")
    print(f"Connector sfdc domain:           {sandbox.sfdc_domain}")
    print(f"CA certificate (trust this):     {sandbox.ca_path}")
    print(f"Credentials file:                {credentials_file}")
    print(
        f"Ready in {time.perf_counter() - began:.2f} s with {args.accounts} accounts and "
        f"{args.orders} orders. Press Ctrl+C to stop.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping the sandbox")
    finally:
        sandbox.stop()
    return EXIT_OK


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
    if args.command == "profiles":
        return cli_profiles.run(args)
    if args.command == "buttons":
        return cli_buttons.run(args)
    if args.command in ("sync", "runs"):
        return cli_sync.run(args)
    if args.command == "sandbox" and args.sandbox_command == "serve":
        return cmd_sandbox_serve(args)
    parser.print_help()
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
