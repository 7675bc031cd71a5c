"""`cpq-sync sync …` and `cpq-sync runs …`: plan, send, watch, resume, retry and export sync runs."""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from cpq_sync_gui.sync.run_lock import RunLock, profile_busy_message
from cpq_sync_gui.sync.throttle import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, MIN_CONCURRENCY

if TYPE_CHECKING:
    from cpq_sync_gui.connector.client import ConnectorClient
    from cpq_sync_gui.salesforce.client import SalesforceClient
    from cpq_sync_gui.settings import Profile
    from cpq_sync_gui.sync import Event, RunJournal, RunResult, SyncPlan, SyncRunner
    from cpq_sync_gui.zuora.client import ZuoraClient

__all__ = ["register", "run"]

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# kind -> (key prefix, sObject, record kind in the journal)
KINDS = {"accounts": ("001", "Account", "account"), "orders": ("801", "Order", "order")}
SUCCESS_VALUES = frozenset({"synced", "accepted", "skipped"})  # exit 0 and the -success file
RETRY_VALUES = ("failed", "timed_out", "cancelled")
MAX_SHOWN_PROBLEMS = 200  # per-record problem lines printed before sending (the rest: counted)

EXIT_HELP = """\
Exit status: 0 every record synced (or accepted by the connector) or skipped as already in
Zuora; 1 some record failed, timed out or was cancelled, or the run could not finish;
2 usage or configuration error (bad ids, unknown profile, --where Salesforce cannot read,
missing settings or secrets, a production profile without --yes, a damaged journal);
130 stopped at once by a second Ctrl+C (the run is unfinished: `cpq-sync runs resume RUN`).

Ctrl+C once cancels: nothing new is sent, calls already on their way finish and are
recorded, every other record ends Cancelled (send them later with `runs retry-failed`).
Ctrl+C twice quits at once; the journal keeps the truth and `runs resume` finishes the run,
checking Zuora first for every record that may have been sent.

Secrets come from the password store, overridden by the CPQ_SYNC_* environment variables
(see `cpq-sync profiles --help`)."""

EXPORT_HELP = """\
`runs export RUN --csv FILE` writes two files next to FILE, as Data Loader does:
<stem>-success.csv (Synced, Accepted and Skipped records) and <stem>-error.csv (every other
record: Failed, Timed out, Cancelled, and records a crash left unfinished). Every record of the
run is in exactly one of them. E.g. --csv results/acme.csv writes results/acme-success.csv
and results/acme-error.csv (UTF-8 with BOM, so Excel opens them correctly)."""


class UsageError(Exception):
    """The command cannot run as typed or configured (exit status 2)."""


class Failure(Exception):
    """Something went wrong before or outside the records' outcomes (exit status 1)."""


# --- the parser ---------------------------------------------------------------------------


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not MIN_CONCURRENCY <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_CONCURRENCY} and {MAX_CONCURRENCY}, not {value}"
        )
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more days")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=34)


def register(subparsers: Any) -> None:
    """Add ``sync`` and ``runs`` to the ``cpq-sync`` commands (``args.handler`` runs them)."""
    sync = subparsers.add_parser(
        "sync",
        help="send Salesforce Accounts or Orders to Zuora (plan, confirm, send, report)",
        description="Plan the sync of the chosen records (every problem is listed before "
        "anything is sent), then send them with bounded concurrency, journaling every step so "
        "a crash loses nothing. A run on a production profile needs --yes or the profile name "
        "typed at the prompt.",
        epilog=EXIT_HELP,
        formatter_class=_formatter,
    )
    sync.add_argument("kind", choices=sorted(KINDS), help="what to send")
    sync.add_argument("--profile", required=True, metavar="NAME", help="the connection profile")
    source = sync.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--ids",
        metavar="ID,...",
        help="record ids (15 or 18 characters), separated by commas or spaces",
    )
    source.add_argument(
        "--ids-file",
        type=Path,
        metavar="FILE",
        help="a text or CSV file of ids (a CSV uses its Id column, e.g. a Data Loader export)",
    )
    source.add_argument(
        "--where",
        metavar="CONDITION",
        help="a SOQL condition; the records of `SELECT Id FROM Account|Order WHERE CONDITION` "
        "are sent, e.g. \"BillingCountry = 'France'\"",
    )
    sync.add_argument(
        "--engine",
        choices=["direct", "connector"],
        default="direct",
        help="direct: create through Zuora's REST API (default); connector: trigger Zuora's "
        "own connector, as the Send to Zuora buttons do, then check Zuora",
    )
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and send nothing (with --json: every payload); exit 1 when a "
        "record could not be sent",
    )
    sync.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"records in flight at once, {MIN_CONCURRENCY}-{MAX_CONCURRENCY} (default "
        f"{DEFAULT_CONCURRENCY}; fewer when Zuora pushes back)",
    )
    sync.add_argument(
        "--update-existing",
        action="store_true",
        help="accounts already in Zuora: update them instead of skipping them",
    )
    sync.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per line on stdout: the run, one per record outcome, then "
        "a summary (messages and progress go to stderr)",
    )
    sync.add_argument("--yes", action="store_true", help="production profiles: send without asking")
    sync.add_argument(
        "--verbose", action="store_true", help="also print the run's log lines (retries, …)"
    )
    sync.set_defaults(handler=run)

    runs = subparsers.add_parser(
        "runs",
        help="sync run history: list, show, resume, retry-failed, export, prune",
        description="The run journal: every run and every record's state, request ids, Zuora "
        "numbers and errors.",
        epilog=EXIT_HELP + "\n\n" + EXPORT_HELP,
        formatter_class=_formatter,
    )
    commands = runs.add_subparsers(dest="runs_command", metavar="RUNS_COMMAND", required=True)
    listing = commands.add_parser("list", help="the latest runs, newest first")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument(
        "--limit", type=_positive, default=20, metavar="N", help="how many (default 20)"
    )
    run_help = "the run id (from `runs list`), or `last` for the newest run"
    show = commands.add_parser("show", help="one run and the state of each of its records")
    show.add_argument("run", metavar="RUN", help=run_help)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    for name, text in (
        (
            "resume",
            "finish what an interrupted run had not finished; records that may have been sent "
            "are looked up in Zuora before anything is sent again",
        ),
        (
            "retry-failed",
            "send the records of a run that ended Failed, Timed out or Cancelled again, as a "
            "new run linked to it",
        ),
    ):
        command = commands.add_parser(name, help=text, epilog=EXIT_HELP, formatter_class=_formatter)
        command.add_argument("run", metavar="RUN", help=run_help)
        command.add_argument(
            "--concurrency",
            type=_concurrency,
            metavar="N",
            help="records in flight at once, 1-16 (default: as the run had)",
        )
        command.add_argument("--json", action="store_true", help="as for `sync --json`")
        command.add_argument(
            "--yes", action="store_true", help="production profiles: send without asking"
        )
        command.add_argument("--verbose", action="store_true", help="also print log lines")
    export = commands.add_parser(
        "export",
        help="write the run's records to a success CSV and an error CSV",
        description=EXPORT_HELP,
        formatter_class=_formatter,
    )
    export.add_argument("run", metavar="RUN", help=run_help)
    export.add_argument(
        "--csv",
        required=True,
        type=Path,
        metavar="FILE",
        help="writes <stem>-success.csv and <stem>-error.csv next to FILE",
    )
    prune = commands.add_parser(
        "prune", help="delete finished runs older than some days (unfinished runs are kept)"
    )
    prune.add_argument("--older-than", required=True, type=_days, metavar="DAYS")
    runs.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``cpq-sync sync …`` or ``cpq-sync runs …``; returns the exit status."""
    from cpq_sync_gui.sync import JournalError

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    _log_to_file()
    try:
        if args.command == "sync":
            return cmd_sync(args)
        handlers: dict[str, Callable[[argparse.Namespace], int]] = {
            "list": cmd_runs_list,
            "show": cmd_runs_show,
            "resume": cmd_runs_resume,
            "retry-failed": cmd_runs_retry_failed,
            "export": cmd_runs_export,
            "prune": cmd_runs_prune,
        }
        return handlers[args.runs_command](args)
    except (UsageError, JournalError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except Failure as exc:
        _error(str(exc))
        return EXIT_SOME_FAILED
    except KeyboardInterrupt:
        _error("Stopped (Ctrl+C) before anything was sent.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `cpq-sync runs show … | head`: the reader has what it wanted
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_SOME_FAILED


def _error(text: str) -> None:
    sys.stdout.flush()
    print(text, file=sys.stderr, flush=True)


def _log_to_file() -> None:
    """The runner's log lines go to a file (logs/cli.log), not to the terminal by accident."""
    from logging.handlers import RotatingFileHandler

    from cpq_sync_gui import paths
    from cpq_sync_gui.redact import RedactingFilter

    root = logging.getLogger()
    if any(getattr(h, "_cpq_sync_cli", False) for h in root.handlers):
        return
    handler: logging.Handler
    try:
        paths.log_dir().mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            paths.log_dir() / "cli.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
        )
        handler.addFilter(RedactingFilter())
    except OSError:
        handler = logging.NullHandler()
    handler._cpq_sync_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)


# --- profiles, secrets and clients ----------------------------------------------------------


def _load_profile(name: str) -> Profile:
    from cpq_sync_gui import cli_profiles

    try:
        return cli_profiles.find_profile(cli_profiles.load_store(), name)
    except cli_profiles.UsageError as exc:
        raise UsageError(str(exc)) from None


@dataclass
class Clients:
    salesforce: SalesforceClient
    zuora: ZuoraClient | None
    connector: ConnectorClient | None = None
    notes: list[str] = field(default_factory=list)


# Connection failures that a changed setting or secret fixes (exit 2); others (network) are 1.
_RETRYABLE_CONNECTION_CODES = frozenset({"NETWORK", "BROWSER_TIMEOUT", "server", "rate_limited"})


def _connection_failed(exc: Any, profile: Profile) -> Exception:
    text = f"{exc.side}: {exc.message}" if getattr(exc, "side", "") else str(exc)
    if getattr(exc, "code", None) == "NO_REFRESH_TOKEN":
        text += f" Run `cpq-sync profiles test {profile.name!r}` once to log in in the browser."
    if getattr(exc, "code", None) in _RETRYABLE_CONNECTION_CODES:
        return Failure(text + " Nothing was sent.")
    return UsageError(text + " Nothing was sent.")


def open_clients(profile: Profile, engine: str) -> Clients:
    """Log in to Salesforce and prepare Zuora (and the connector) for ``engine``."""
    from cpq_sync_gui import cli_profiles
    from cpq_sync_gui import secrets as names
    from cpq_sync_gui.connections import (
        ConnectionFailed,
        open_connector,
        open_salesforce,
        open_zuora,
    )
    from cpq_sync_gui.secrets import SecretStoreError

    try:
        lookup = cli_profiles.lookup_for(profile, cli_profiles.open_secrets())
        salesforce = open_salesforce(profile, lookup)
        if engine == "direct":
            return Clients(salesforce, open_zuora(profile, lookup))
        zuora = None
        notes = []
        if not profile.zuora.missing_settings() and lookup.get(names.ZUORA_CLIENT_SECRET):
            zuora = open_zuora(profile, lookup)
        else:
            notes.append(
                "No Zuora credentials in this profile: the connector's work is not checked in "
                "Zuora (records end Accepted, unverified) and records already in Zuora are not "
                "recognised before sending."
            )
        connector = open_connector(profile, lookup, salesforce=salesforce)
        return Clients(salesforce, zuora, connector, notes)
    except ConnectionFailed as exc:
        raise _connection_failed(exc, profile) from None
    except SecretStoreError as exc:
        raise UsageError(f"The password store cannot be used: {exc}") from None


def make_engine(clients: Clients, engine: str) -> Any:
    from cpq_sync_gui.sync import ConnectorEngine, DirectEngine

    if engine == "direct":
        assert clients.zuora is not None
        return DirectEngine(clients.zuora)
    if engine == "connector":
        assert clients.connector is not None
        return ConnectorEngine(clients.connector, clients.zuora)
    raise UsageError(f"Unknown engine {engine!r} (direct or connector).")


def plan_options(options: Mapping[str, Any] | None = None, *, update_existing: bool = False) -> Any:
    """PlanOptions as given, or as a journaled run recorded them (resume, retry)."""
    from cpq_sync_gui.sync import MappingOptions, PlanOptions

    if not options:
        return PlanOptions(update_existing=update_existing)
    mapping = {
        key: options[key]
        for key in ("org_currency", "bill_cycle_day", "default_term_months", "auto_renew")
        if options.get(key) is not None
    }
    return PlanOptions(
        update_existing=bool(options.get("update_existing", update_existing)),
        mapping=MappingOptions(**mapping),
    )


def _planner(clients: Clients, options: Any) -> Callable[[str, list[str]], SyncPlan]:
    def plan(kind: str, ids: list[str]) -> SyncPlan:
        return _build_plan(kind, ids, clients, options)

    return plan


def _build_plan(kind: str, ids: Sequence[str], clients: Clients, options: Any) -> SyncPlan:
    from cpq_sync_gui.salesforce.client import SalesforceQueryError
    from cpq_sync_gui.sync import build_plan
    from cpq_sync_gui.zuora.client import ZuoraError

    try:
        return build_plan(kind, ids, clients.salesforce, clients.zuora, options)
    except SalesforceQueryError as exc:
        raise Failure(f"Salesforce could not be read: {exc.message} Nothing was sent.") from None
    except ZuoraError as exc:
        if exc.kind == "auth":
            raise UsageError(f"Zuora refused the login: {exc.message} Nothing was sent.") from None
        raise Failure(f"Zuora could not be read: {exc.message} Nothing was sent.") from None


def _stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _refuse_production_without_a_terminal(profile: Profile, yes: bool, action: str) -> None:
    if profile.is_production and not yes and not _stdin_is_tty():
        raise UsageError(
            f"{profile.name!r} is a PRODUCTION profile and there is no terminal to confirm "
            f"{action} in: nothing was sent. Pass --yes to send without being asked."
        )


def _confirm_production(profile: Profile, count: int, out: Output) -> bool:
    """Type the profile name to go on (the prompt is on stderr; stdout may be JSON)."""
    out.flush()
    sys.stderr.write(
        f"\n{profile.name!r} is a PRODUCTION profile: {count:,} record(s) will be sent to "
        f"Zuora ({profile.zuora.environment_label}).\nType the profile name to go on: "
    )
    sys.stderr.flush()
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if answer.strip() == profile.name:
        return True
    out.say("The name did not match: nothing was sent.")
    return False


def _open_journal() -> RunJournal:
    from cpq_sync_gui.sync import RunJournal

    return RunJournal()  # JournalError (damaged, old, not a journal) → exit 2 in run()


# --- choosing the records ---------------------------------------------------------------------


def ids_from_arguments(args: argparse.Namespace) -> list[str] | None:
    """The ids of --ids / --ids-file as 18-character ids; UsageError listing every bad one."""
    from cpq_sync_gui.ids_import import IdsFileError, parse_ids, read_ids_file

    prefix, sobject, _ = KINDS[args.kind]
    if args.ids is not None:
        parsed = parse_ids(args.ids, prefix, object_label=sobject)
        where = "--ids"
    elif args.ids_file is not None:
        try:
            parsed = read_ids_file(args.ids_file, prefix, object_label=sobject)
        except IdsFileError as exc:
            raise UsageError(f"--ids-file: {exc}") from None
        where = f"--ids-file {args.ids_file}"
    else:
        return None
    if parsed.rejected:
        shown = parsed.rejected[:50]
        lines = [f"  {r.describe() if args.ids_file else r.reason}" for r in shown]
        if len(parsed.rejected) > len(shown):
            lines.append(f"  … and {len(parsed.rejected) - len(shown):,} more")
        raise UsageError(
            f"{where}: {len(parsed.rejected):,} of the ids given cannot be used, so nothing "
            f"was sent ({parsed.summary()}):\n" + "\n".join(lines) + "\nFix or remove them and "
            "run the command again."
        )
    if not parsed.ids:
        raise UsageError(f"{where}: no {sobject} ids were given.")
    if parsed.repeated or parsed.case_restored or parsed.id_column or parsed.header:
        note = f"{where}: {parsed.summary()}"
        if parsed.case_restored:
            note += f"; {parsed.case_restored:,} id(s) had their letter case restored"
        print(note + ".", file=sys.stderr)
    return parsed.ids


_LEADING_WHERE = re.compile(r"^\s*where\s+", re.IGNORECASE)


def ids_from_where(salesforce: SalesforceClient, kind: str, condition: str) -> list[str]:
    """The ids of ``SELECT Id FROM <object> WHERE condition``; Salesforce judges the condition."""
    from cpq_sync_gui.salesforce.client import SalesforceQueryError

    _, sobject, _ = KINDS[kind]
    text = _LEADING_WHERE.sub("", condition).strip()
    if not text:
        raise UsageError("--where: the condition is empty.")
    soql = f"SELECT Id FROM {sobject} WHERE {text}"  # noqa: S608 — the admin's own query, run as their user
    try:
        return [str(row["Id"]) for row in salesforce.query_iter(soql)]
    except SalesforceQueryError as exc:
        if exc.code in (
            "MALFORMED_QUERY",
            "INVALID_FIELD",
            "INVALID_TYPE",
            "INVALID_QUERY_FILTER_OPERATOR",
        ):
            raise UsageError(
                f"--where: Salesforce cannot read the query `{soql}`: {exc.message}"
            ) from None
        raise Failure(f"--where: the records could not be read: {exc.message}") from None


# --- output ---------------------------------------------------------------------------------


class _Stream:
    """A text stream that stops writing, instead of stopping the run, once its reader is gone
    (``cpq-sync sync … | head``): the journal, not the output, is the record of the run."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self.closed = False

    def write(self, text: str) -> int:
        if not self.closed:
            try:
                return self.inner.write(text)
            except (BrokenPipeError, ValueError):
                self.closed = True
        return len(text)

    def flush(self) -> None:
        if not self.closed:
            try:
                self.inner.flush()
            except (BrokenPipeError, ValueError):
                self.closed = True

    def isatty(self) -> bool:
        try:
            return self.inner.isatty()
        except ValueError:
            return False


class Output:
    """Where a sync command writes: text for people, JSON lines for programs, the progress bar.

    Without --json, text goes to stdout. With --json, stdout carries only JSON objects (one a
    line) and the text goes to stderr. Progress goes to stderr: a bar on a terminal, plain
    lines otherwise.
    """

    def __init__(self, *, json_mode: bool, verbose: bool = False) -> None:
        from cpq_sync_gui.cli_progress import ProgressDisplay

        self.json_mode = json_mode
        self.verbose = verbose
        self.stdout = _Stream(sys.stdout)
        self.stderr = _Stream(sys.stderr)
        self.text = self.stderr if json_mode else self.stdout
        self.progress = ProgressDisplay(self.stderr)

    def say(self, line: str = "") -> None:
        self.progress.above(line, self.text)

    def warn(self, line: str) -> None:
        self.progress.above(line, self.stderr)

    def emit(self, obj: Mapping[str, Any]) -> None:
        if self.json_mode:
            line = json.dumps(obj, ensure_ascii=False, default=str)
            self.progress.above(line, self.stdout)

    def flush(self) -> None:
        self.stdout.flush()
        self.stderr.flush()


def _state_label(value: str) -> str:
    from cpq_sync_gui.sync import RecordState

    try:
        return RecordState(value).label
    except ValueError:
        return "Sending (may be in Zuora)" if value == "sending" else value


def show_plan(plan: SyncPlan, out: Output, *, dry_run: bool) -> None:
    """The plan's counts and every problem, per record, before anything is sent."""
    counts = plan.counts()
    out.say(
        f"Plan: {counts['total']:,} record(s): {counts['create']:,} to create, "
        f"{counts['update']:,} to update, {counts['skip']:,} already in Zuora (skipped), "
        f"{counts['blocked']:,} cannot be sent"
        + (
            f"; read with {plan.salesforce_queries} Salesforce queries"
            if plan.salesforce_queries
            else ""
        )
        + "."
    )
    shown = 0
    for record in plan.records:
        if dry_run:
            out.say(_planned_line(record))
        if not record.problems:
            continue
        for problem in record.problems:
            if shown >= MAX_SHOWN_PROBLEMS and not dry_run:
                continue
            shown += 1
            mark = "cannot be sent" if problem.severity == "error" else "warning"
            prefix = "    " if dry_run else f"  {record.label} ({record.record_id}) "
            out.say(f"{prefix}[{mark}] {problem.message}")
    total_problems = sum(len(r.problems) for r in plan.records)
    if not dry_run and total_problems > shown:
        out.say(f"  … and {total_problems - shown:,} more problems (see --dry-run).")
    if dry_run:
        for rule_id, text in plan.rules().items():
            out.say(f"  rule {rule_id}: {text}")


def _planned_line(record: Any) -> str:
    action = "BLOCKED" if record.blocked else record.action.upper()
    extra = f" - {record.reason}" if record.reason else ""
    if record.zuora_number and record.action != "create":
        extra += f" (Zuora {record.zuora_number})"
    picked = "" if record.selected else " [needed by another record]"
    return f"{action:<8} {record.record_kind:<7} {record.label} ({record.record_id}){picked}{extra}"


@dataclass
class Outcomes:
    """What the watcher saw of one run."""

    run_id: str | None = None
    kind: str = ""
    engine: str = ""
    total: int = 0
    finished: int = 0
    status: str | None = None
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)


class Watcher:
    """The run's subscriber: takes the run's lock at once, queues everything for the main thread."""

    def __init__(self, lock: RunLock | None = None) -> None:
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.lock = lock

    def on_event(self, event: Event) -> None:
        from cpq_sync_gui.sync import RunStarted

        if isinstance(event, RunStarted) and self.lock is None:
            lock = RunLock(event.run_id)
            if lock.acquire():
                self.lock = lock
        self.events.put(event)


class Interrupts:
    """Ctrl+C (and SIGTERM): the first cancels the run, the second quits at once."""

    def __init__(self) -> None:
        self.count = 0
        self.run_id: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count >= 2:
            # Nothing buffered, no clean-up: the journal already holds every committed step.
            run = self.run_id or "RUN"
            with contextlib.suppress(OSError):
                os.write(
                    2,
                    (
                        f"\nStopped at once. The journal keeps what was done; finish the run "
                        f"with: cpq-sync runs resume {run}\n"
                    ).encode(),
                )
            os._exit(EXIT_INTERRUPTED)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupts]:
        wanted = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
        for signum in wanted:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue  # started with it ignored (nohup, `&` in a script): keep it that way
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, previous in self._previous.items():
                signal.signal(signum, previous)


def watch_run(
    start: Callable[[SyncRunner], RunResult],
    runner: SyncRunner,
    watcher: Watcher,
    journal: RunJournal,
    out: Output,
    *,
    run_id: str | None = None,
) -> tuple[RunResult, Outcomes]:
    """Run ``start(runner)`` in a thread; show its events here; Ctrl+C cancels (see Interrupts)."""
    from cpq_sync_gui.sync import LogLine, Progress, RecordStateChanged, RunFinished, RunStarted

    box: dict[str, Any] = {}
    seen = Outcomes(run_id=run_id)
    interrupts = Interrupts()
    interrupts.run_id = run_id
    cancel_said = False

    def target() -> None:
        try:
            box["result"] = start(runner)
        except BaseException as exc:  # handed to the main thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="sync-run", daemon=True)
    with interrupts.installed():
        worker.start()
        while True:
            if interrupts.count and not cancel_said:
                runner.cancel()
                cancel_said = True
                out.warn(
                    "Cancelling: nothing new is sent; calls already on their way finish and are "
                    "recorded. Press Ctrl+C again to quit at once."
                )
            try:
                event = watcher.events.get(timeout=0.1)
            except queue.Empty:
                # Once the run's thread has ended nothing more is queued: stop when drained.
                if not worker.is_alive() and watcher.events.empty():
                    break
                continue
            if isinstance(event, RunStarted):
                seen.run_id, seen.kind, seen.engine = event.run_id, event.kind, event.engine
                seen.total = event.total
                interrupts.run_id = event.run_id
                _on_started(event, out)
            elif isinstance(event, RecordStateChanged):
                if event.new.is_final:
                    seen.finished += 1
                    _on_outcome(event, seen, journal, out)
            elif isinstance(event, Progress):
                out.progress.update(event)
            elif isinstance(event, LogLine):
                if out.verbose or event.level in ("ERROR", "CRITICAL"):
                    out.warn(f"{event.level.lower()}: {event.message}")
            elif isinstance(event, RunFinished):
                seen.status, seen.message, seen.counts = event.status, event.message, event.counts
        worker.join()
    out.progress.close()
    if "error" in box:
        raise box["error"]
    return box["result"], seen


def _on_started(event: Any, out: Output) -> None:
    out.emit(
        {
            "type": "run",
            "run_id": event.run_id,
            "kind": event.kind,
            "engine": event.engine,
            "total": event.total,
        }
    )
    out.say(f"Run {event.run_id}: {event.total:,} record(s) to finish ({event.engine} engine).")


def _on_outcome(event: Any, seen: Outcomes, journal: RunJournal, out: Output) -> None:
    from cpq_sync_gui.sync import JournalError
    from cpq_sync_gui.sync.events import SUCCESS_STATES, RecordState

    row = None
    if seen.run_id:
        with contextlib.suppress(JournalError):
            row = journal.record(seen.run_id, event.record_id)
    ok = event.new in SUCCESS_STATES or event.new is RecordState.SKIPPED
    error = None if ok else ((row.error if row else None) or event.detail)
    out.emit(
        {
            "type": "record",
            "run_id": seen.run_id,
            "record_id": event.record_id,
            "record_kind": event.record_kind,
            "label": event.label,
            "state": event.new.value,
            "state_label": event.new.label,
            "zuora_id": row.zuora_id if row else None,
            "zuora_number": event.zuora_number or (row.zuora_number if row else None),
            "error": error,
            "detail": event.detail,
            "request_id": row.request_id if row else None,
        }
    )
    width = len(f"{seen.total:,}")
    where = f" -> Zuora {event.zuora_number}" if event.zuora_number else ""
    detail = f": {event.detail}" if event.detail and not ok else ""
    out.say(
        f"[{seen.finished:>{width},}/{seen.total:,}] {event.new.label:<10} "
        f"{event.record_kind:<7} {event.label} ({event.record_id}){where}{detail}"
    )


def finish_report(
    journal: RunJournal, run_id: str, out: Output, began: float, *, message: str = ""
) -> int:
    """The run's summary (all its records, from the journal) and the exit status."""
    from cpq_sync_gui.sync import JournalError

    try:
        summary = journal.run_summary(run_id)
    except JournalError as exc:  # the journal broke during the run: the run did not finish
        out.warn(message or str(exc))
        out.warn(f"Check the run later with: cpq-sync runs show {run_id}")
        return EXIT_SOME_FAILED
    counts = dict(sorted(summary.counts.items()))
    all_ok = all(state in SUCCESS_VALUES for state in counts)
    status = summary.run.status
    exit_code = EXIT_OK if all_ok and status == "finished" else EXIT_SOME_FAILED
    elapsed = time.monotonic() - began
    out.emit(
        {
            "type": "summary",
            "run_id": run_id,
            "profile": summary.run.profile,
            "kind": summary.run.kind,
            "engine": summary.run.engine,
            "status": status,
            "total": summary.total,
            "counts": counts,
            "ok": exit_code == EXIT_OK,
            "exit_code": exit_code,
            "seconds": round(elapsed, 2),
            "message": message or summary.run.message,
        }
    )
    from cpq_sync_gui.cli_progress import format_duration

    words = ", ".join(f"{n:,} {_state_label(s).lower()}" for s, n in counts.items()) or "nothing"
    out.say(f"Run {run_id} {status}: {words} ({format_duration(elapsed)}).")
    if message or summary.run.message:
        out.warn(message or summary.run.message)
    if any(counts.get(s) for s in RETRY_VALUES):
        out.say(
            "Send the records that did not get there again (after fixing what their errors "
            f"say): cpq-sync runs retry-failed {run_id}"
        )
    if summary.unfinished:
        out.say(f"Finish the unfinished records: cpq-sync runs resume {run_id}")
    out.say(
        f"Per-record results: cpq-sync runs show {run_id}   "
        f"CSV files: cpq-sync runs export {run_id} --csv results.csv"
    )
    return exit_code


# --- sync -----------------------------------------------------------------------------------


def cmd_sync(args: argparse.Namespace) -> int:
    began = time.monotonic()
    out = Output(json_mode=args.json, verbose=args.verbose)
    profile = _load_profile(args.profile)
    if not args.dry_run:
        _refuse_production_without_a_terminal(profile, args.yes, "the run")
    ids = ids_from_arguments(args)
    if args.dry_run:
        return _sync(args, out, profile, ids, None, began)
    # A journal that cannot be used stops everything before logging in: nothing may be sent
    # that would not be recorded.
    with _open_journal() as journal, _profile_lock(profile.name):
        return _sync(args, out, profile, ids, journal, began)


@contextlib.contextmanager
def _profile_lock(name: str) -> Iterator[None]:
    """Hold the profile's lock for the run; refuse when another window or command holds it."""
    lock = RunLock.for_profile(name)
    if not lock.acquire():
        raise UsageError(profile_busy_message(name, lock.holder()))
    try:
        yield
    finally:
        lock.release()


def _sync(
    args: argparse.Namespace,
    out: Output,
    profile: Profile,
    ids: list[str] | None,
    journal: RunJournal | None,
    began: float,
) -> int:
    from cpq_sync_gui.sync import SyncRunner

    clients = open_clients(profile, args.engine)
    for note in clients.notes:
        out.warn(note)
    if ids is None:
        ids = ids_from_where(clients.salesforce, args.kind, args.where)
        out.say(f"--where selected {len(ids):,} {KINDS[args.kind][1]} record(s).")
    if not ids:
        out.say("Nothing to sync: no records were selected.")
        return EXIT_OK
    out.say(f"Planning {len(ids):,} {args.kind} for profile {profile.name!r} …")
    plan = _build_plan(args.kind, ids, clients, plan_options(update_existing=args.update_existing))
    show_plan(plan, out, dry_run=journal is None)
    if journal is None:  # --dry-run
        for record in plan.records:
            out.emit({"type": "planned", **record.to_json()})
        data = plan.to_json()
        data.pop("records")
        out.emit({"type": "plan", **data})
        blocked = plan.counts()["blocked"]
        out.say(
            "Dry run: nothing was sent."
            + (f" {blocked:,} record(s) cannot be sent." if blocked else "")
        )
        return EXIT_SOME_FAILED if blocked else EXIT_OK
    if (
        profile.is_production
        and not args.yes
        and not _confirm_production(profile, len(plan.to_send), out)
    ):
        return EXIT_SOME_FAILED
    watcher = Watcher()
    try:
        runner = SyncRunner(
            make_engine(clients, args.engine),
            journal,
            profile=profile.name,
            subscriber=watcher,
            concurrency=args.concurrency,
        )
        result, _seen = watch_run(lambda r: r.execute(plan), runner, watcher, journal, out)
        return finish_report(journal, result.run_id, out, began, message=result.message)
    finally:
        if watcher.lock is not None:
            watcher.lock.release()


# --- runs -----------------------------------------------------------------------------------


def find_run(journal: RunJournal, text: str) -> Any:
    """The run with id ``text`` (or the newest for ``last``); JournalError names the problem."""
    from cpq_sync_gui.sync import JournalError

    if text.strip().lower() in ("last", "latest"):
        runs = journal.list_runs(1)
        if not runs:
            raise JournalError(f"The journal at {journal.path} has no runs yet.")
        return runs[0]
    return journal.run(text.strip())


def _when(text: str | None) -> str:
    if not text:
        return "-"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _run_json(summary: Any) -> dict[str, Any]:
    info = summary.run
    return {
        "run_id": info.run_id,
        "profile": info.profile,
        "kind": info.kind,
        "engine": info.engine,
        "status": info.status,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "parent_run_id": info.parent_run_id,
        "message": info.message,
        "total": summary.total,
        "unfinished": summary.unfinished,
        "counts": dict(sorted(summary.counts.items())),
        "options": info.options,
    }


def _counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n:,} {_state_label(s).lower()}" for s, n in sorted(counts.items())) or "-"


def cmd_runs_list(args: argparse.Namespace) -> int:
    with _open_journal() as journal:
        summaries = [journal.run_summary(r.run_id) for r in journal.list_runs(args.limit)]
    if args.json:
        print(json.dumps({"runs": [_run_json(s) for s in summaries]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not summaries:
        print("No runs yet.")
        return EXIT_OK
    for summary in summaries:
        info = summary.run
        status = info.status
        if status == "running" or summary.unfinished:
            status += f", {summary.unfinished:,} unfinished"
        print(
            f"{info.run_id}  {_when(info.started_at)}  {info.profile}  {info.kind}/{info.engine}"
            f"  {status}  {summary.total:,} records: {_counts_text(summary.counts)}"
        )
    if any(s.unfinished for s in summaries):
        print(
            "\nA run with unfinished records that no program is running any more was "
            "interrupted: finish it with `cpq-sync runs resume RUN`."
        )
    return EXIT_OK


def cmd_runs_show(args: argparse.Namespace) -> int:
    with _open_journal() as journal:
        info = find_run(journal, args.run)
        summary = journal.run_summary(info.run_id)
        rows = journal.records_of(info.run_id)
    if args.json:
        data = _run_json(summary)
        data["records"] = [
            {
                "record_id": r.record_id,
                "record_kind": r.record_kind,
                "label": r.label,
                "action": r.action,
                "state": r.state,
                "state_label": _state_label(r.state),
                "zuora_id": r.zuora_id,
                "zuora_number": r.zuora_number,
                "attempt": r.attempt,
                "error": r.error,
                "detail": r.detail,
                "request_id": r.request_id,
                "track_id": r.track_id,
                "updated_at": r.updated_at,
            }
            for r in rows
        ]
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"Run {info.run_id}: {info.kind}, {info.engine} engine, profile {info.profile!r}")
    print(f"  started {_when(info.started_at)}, finished {_when(info.finished_at)}, {info.status}")
    if info.parent_run_id:
        print(f"  retry of run {info.parent_run_id}")
    if info.message:
        print(f"  {info.message}")
    print(f"  {summary.total:,} records: {_counts_text(summary.counts)}")
    for r in rows:
        zuora = r.zuora_number or "-"
        print(
            f"{_state_label(r.state):<22} {r.record_kind:<7} {r.record_id}  {zuora:<12} {r.label}"
        )
        if r.state not in SUCCESS_VALUES and (r.error or r.detail):
            print(f"    {r.error or r.detail}")
    if summary.unfinished:
        print(f"\n{summary.unfinished:,} record(s) unfinished: cpq-sync runs resume {info.run_id}")
    return EXIT_OK


def _resume_like(args: argparse.Namespace, *, retry: bool) -> int:
    from cpq_sync_gui.sync import RecordState, SyncRunner

    began = time.monotonic()
    out = Output(json_mode=args.json, verbose=args.verbose)
    journal = _open_journal()
    lock: RunLock | None = None
    profile_lock: RunLock | None = None
    watcher: Watcher | None = None
    try:
        info = find_run(journal, args.run)
        summary = journal.run_summary(info.run_id)
        if retry:
            states = [RecordState(s) for s in RETRY_VALUES]
            todo = len(journal.records_of(info.run_id, states))
            if not todo:
                out.say(
                    f"Run {info.run_id} has no failed, timed-out or cancelled records: nothing "
                    "to send again."
                )
                return EXIT_OK
        else:
            todo = summary.unfinished
            if not todo and info.status != "running":
                out.say(
                    f"Run {info.run_id} has nothing unfinished ({_counts_text(summary.counts)})."
                )
                if any(summary.counts.get(s) for s in RETRY_VALUES):
                    out.say(
                        f"Send its failed and cancelled records again: cpq-sync runs retry-failed {info.run_id}"
                    )
                return finish_report(journal, info.run_id, out, began)
        try:
            profile = _load_profile(info.profile)
        except UsageError as exc:
            raise UsageError(
                f"Run {info.run_id} was made with profile {info.profile!r}, which cannot be "
                f"used now: {exc}"
            ) from None
        _refuse_production_without_a_terminal(profile, args.yes, "it")
        lock = RunLock(info.run_id)
        if not lock.acquire():
            holder = lock.holder()
            lock = None
            raise UsageError(
                f"Run {info.run_id} is being run right now by another cpq-sync command"
                + (f" (process {holder})" if holder else "")
                + ". Wait for it to end, or stop it first."
            )
        profile_lock = RunLock.for_profile(profile.name)
        if not profile_lock.acquire():
            holder = profile_lock.holder()
            profile_lock = None
            raise UsageError(profile_busy_message(profile.name, holder))
        if summary.unfinished and retry:
            out.warn(
                f"Run {info.run_id} also has {summary.unfinished:,} unfinished record(s); "
                f"finish them with: cpq-sync runs resume {info.run_id}"
            )
        clients = open_clients(profile, info.engine)
        for note in clients.notes:
            out.warn(note)
        if profile.is_production and not args.yes and not _confirm_production(profile, todo, out):
            return EXIT_SOME_FAILED
        options = plan_options(info.options)
        concurrency = args.concurrency or int(
            info.options.get("concurrency") or DEFAULT_CONCURRENCY
        )
        concurrency = min(MAX_CONCURRENCY, max(MIN_CONCURRENCY, concurrency))
        planner = _planner(clients, options)
        run_id = info.run_id

        def start(runner: SyncRunner) -> RunResult:
            if retry:
                return runner.retry_failed(run_id, planner, [RecordState(s) for s in RETRY_VALUES])
            return runner.resume(run_id, planner)

        if retry:
            watcher = Watcher()
            out.say(f"Sending {todo:,} record(s) of run {run_id} again, as a new run …")
        else:
            watcher = Watcher(lock)
            maybe_sent = sum(
                1
                for r in journal.records_of(info.run_id)
                if r.state == "sending" or (not r.is_final and r.attempt > 0)
            )
            out.say(
                f"Resuming run {info.run_id}: {todo:,} of {summary.total:,} record(s) had not "
                f"finished"
                + (
                    f"; {maybe_sent:,} may have reached Zuora and are looked up there before "
                    "anything is sent again."
                    if maybe_sent
                    else "."
                )
            )
        runner = SyncRunner(
            make_engine(clients, info.engine),
            journal,
            profile=profile.name,
            subscriber=watcher,
            concurrency=concurrency,
        )
        result, _seen = watch_run(
            start, runner, watcher, journal, out, run_id=None if retry else info.run_id
        )
        return finish_report(journal, result.run_id, out, began, message=result.message)
    finally:
        if watcher is not None and watcher.lock is not None and watcher.lock is not lock:
            watcher.lock.release()
        if lock is not None:
            lock.release()
        if profile_lock is not None:
            profile_lock.release()
        journal.close()


def cmd_runs_resume(args: argparse.Namespace) -> int:
    return _resume_like(args, retry=False)


def cmd_runs_retry_failed(args: argparse.Namespace) -> int:
    return _resume_like(args, retry=True)


def export_paths(target: Path) -> tuple[Path, Path]:
    """``acme.csv`` → ``acme-success.csv``, ``acme-error.csv`` (same folder)."""
    stem = target.stem if target.suffix.lower() == ".csv" else target.name
    return target.with_name(f"{stem}-success.csv"), target.with_name(f"{stem}-error.csv")


def cmd_runs_export(args: argparse.Namespace) -> int:
    from cpq_sync_gui.sync.journal import EXPORT_COLUMNS

    with _open_journal() as journal:
        info = find_run(journal, args.run)
        rows = journal.export_rows(info.run_id)
    columns = [*EXPORT_COLUMNS[:7], "state_label", *EXPORT_COLUMNS[7:]]
    success_path, error_path = export_paths(args.csv)
    good = [r for r in rows if r["state"] in SUCCESS_VALUES]
    bad = [r for r in rows if r["state"] not in SUCCESS_VALUES]
    try:
        success_path.parent.mkdir(parents=True, exist_ok=True)
        for path, chosen in ((success_path, good), (error_path, bad)):
            with open(path, "w", encoding="utf-8-sig", newline="") as handle:
                _write_rows(handle, columns, chosen)
    except OSError as exc:
        raise UsageError(f"--csv: the files could not be written: {exc}") from None
    print(f"{success_path}: {len(good):,} record(s) synced, accepted or skipped")
    print(f"{error_path}: {len(bad):,} record(s) failed, timed out, cancelled or unfinished")
    unfinished = sum(1 for r in bad if r["state"] not in RETRY_VALUES)
    if unfinished:
        print(
            f"{unfinished:,} of them are unfinished (a crash or a stop): cpq-sync runs resume "
            f"{info.run_id}",
            file=sys.stderr,
        )
    return EXIT_OK


def _write_rows(handle: IO[str], columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    writer = csv.DictWriter(handle, fieldnames=list(columns))
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "state_label": _state_label(str(row["state"]))})


def cmd_runs_prune(args: argparse.Namespace) -> int:
    with _open_journal() as journal:
        removed = journal.prune(dt.timedelta(days=args.older_than))
    print(
        f"Deleted {removed:,} finished run(s) older than {args.older_than:g} day(s); unfinished "
        "runs are kept."
    )
    return EXIT_OK
