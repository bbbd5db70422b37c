"""Command line: ``zimun-analytics <command>``. Thin: parse arguments, call the library, print.

Commands
--------
snapshot
    Fetch availability into a Parquet snapshot store (for cron, CI, systemd timers).
sandbox
    Run the local Zimun look-alike in the foreground until Ctrl-C.
demo
    Start an embedded sandbox and walk the booking flow against it, step by step.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .._config import (
    DEFAULT_WINDOW_DAYS,
    ENV_STORAGE_OPTIONS,
    MAX_FETCH_DAYS,
    SNAPSHOT_DEADLINE_S,
    STORE_LOCK_LEASE_S,
)
from .._errors import (
    ConfigError,
    DamagedSnapshotWarning,
    InputError,
    SnapshotError,
    ZimunError,
)
from .._version import __version__
from ..client import ZimunClient
from ._demo import walk_seed_flow

if TYPE_CHECKING:  # pandas is loaded by the commands that need it, not at start-up
    import pandas as pd


EXIT_OK = 0
EXIT_FAILURE = 1  # also: a snapshot saved without some services (see its errors table)
EXIT_USAGE = 2
DEBUG_VARIABLE = "ZIMUN_ANALYTICS_DEBUG"  # set to 1: unexpected errors show their traceback
# The sandbox's names (sandbox/ratelimit.py), repeated: importing it would load starlette at start.
RATE_LIMIT_STYLES = ("bucket", "window", "ietf", "none")
RATE_RESET_FORMS = ("seconds", "epoch")
RETRY_AFTER_FORMS = ("seconds", "date")


def _add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that starts a sandbox (they map to ``Sandbox(...)``).

    Each defaults to None, "not given", so that the sandbox's own defaults apply and the
    snapshot command can refuse them without ``--sandbox``.
    """
    group = parser.add_argument_group("sandbox world and faults")
    group.add_argument("--seed", type=int, help="world, bookings and faults (default 1)")
    group.add_argument("--now", help="freeze the clock at this ISO instant, e.g. 2026-03-23T08:00Z")
    group.add_argument(  # its own name: --services means service ids (snapshot)
        "--sandbox-services",
        type=int,
        metavar="N",
        help="catalogue size of o_demo (default 13)",
    )
    group.add_argument("--latency-ms", type=float, help="added delay per request (default 0)")
    group.add_argument("--latency-jitter-ms", type=float, help="jitter (default latency/5)")
    group.add_argument(
        "--fault-rate", type=float, help="share of API requests answered 5xx or dropped (0-1)"
    )
    group.add_argument("--rate-limit", type=float, help="requests/s per client (default 50)")
    group.add_argument("--rate-burst", type=int, help="token bucket size (default 100)")
    group.add_argument(
        "--rate-limit-style",
        choices=RATE_LIMIT_STYLES,
        help="bucket: X-RateLimit-*; window: fixed windows, X-RateLimit-*; ietf: fixed windows, "
        "RateLimit/RateLimit-Policy; none: a bucket, no rate headers (default bucket)",
    )
    group.add_argument(
        "--rate-window",
        type=float,
        metavar="S",
        help="window length of the window and ietf styles, seconds (default 1)",
    )
    group.add_argument(
        "--rate-reset",
        choices=RATE_RESET_FORMS,
        help="X-RateLimit-Reset as seconds left or as Unix time (default seconds)",
    )
    group.add_argument(
        "--retry-after",
        choices=RETRY_AFTER_FORMS,
        help="a 429's Retry-After as seconds or as an HTTP date (default seconds)",
    )
    group.add_argument("--token-rate-limit", type=int, help="tokens/min per client (default 10)")
    group.add_argument("--token-ttl", type=float, help="token lifetime, seconds (default 3600)")
    group.add_argument(
        "--omit-full-slots",
        action="store_true",
        default=None,
        help="leave fully booked slots out of availability",
    )


_SANDBOX_OPTIONS = {  # argparse dest -> Sandbox keyword
    "seed": "seed",
    "now": "now",
    "sandbox_services": "services",
    "latency_ms": "latency_ms",
    "latency_jitter_ms": "latency_jitter_ms",
    "fault_rate": "fault_rate",
    "rate_limit": "rate_limit",
    "rate_burst": "rate_burst",
    "rate_limit_style": "rate_limit_style",
    "rate_window": "rate_window",
    "rate_reset": "rate_reset",
    "retry_after": "retry_after",
    "token_rate_limit": "token_rate_limit",
    "token_ttl": "token_ttl",
    "omit_full_slots": "omit_full_slots",
}


def _sandbox_options(args: argparse.Namespace) -> dict[str, Any]:
    """The sandbox flags that were given, as ``Sandbox(...)`` keywords, checked."""
    from ..sandbox import SandboxSettings  # checks every value, e.g. --fault-rate 2

    given = {
        keyword: getattr(args, dest)
        for dest, keyword in _SANDBOX_OPTIONS.items()
        if getattr(args, dest, None) is not None
    }
    try:
        SandboxSettings(**given)
    except ValueError as exc:
        raise InputError(f"sandbox settings: {exc}") from None
    return given


def _given_sandbox_flags(args: argparse.Namespace) -> list[str]:
    """Sandbox flags on the command line, spelt as typed (e.g. --latency-ms)."""
    return [
        "--" + dest.replace("_", "-")
        for dest in _SANDBOX_OPTIONS
        if getattr(args, dest, None) is not None
    ]


def _port(text: str) -> int:
    """A TCP port number, 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65_535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0-65535 (0: any free one)")
    return port


def _bind_error(host: str, port: int, exc: OSError) -> ZimunError:
    """What a failed bind means for the person who typed --host and --port."""
    if isinstance(exc, socket.gaierror):
        return InputError(f"cannot resolve --host {host!r}: {exc.strerror}")
    if exc.errno == errno.EADDRINUSE:
        return ZimunError(f"port {port} on {host} is in use: pick another --port (0: any free one)")
    if exc.errno == errno.EADDRNOTAVAIL:
        return InputError(f"--host {host!r} is not an address of this machine")
    if exc.errno == errno.EACCES:
        return InputError(f"port {port} needs privileges here: use a port above 1023")
    return ZimunError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox in the foreground until Ctrl-C.

    Example: zimun-analytics sandbox --port 8765 --seed 1 --fault-rate 0.1
    """
    from ..sandbox import serve_forever  # heavy (uvicorn, starlette): only when asked for

    options = _sandbox_options(args)
    try:
        serve_forever(host=args.host, port=args.port, **options)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise _bind_error(args.host, args.port, exc) from None
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Walk token → services → availability → hold → confirm → reschedule → cancel.

    Example: zimun-analytics demo --seed 1
    """
    from ..sandbox import Sandbox  # heavy (uvicorn, starlette): only when asked for

    with Sandbox(**_sandbox_options(args)) as sandbox:
        print(f"sandbox running at {sandbox.base_url} (seed {sandbox.settings.seed})")
        with ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url) as client:
            walk_seed_flow(client, echo=print)
        kinds = [item["kind"] for item in sandbox.outbox()]
        print(f"8 outbox        {len(kinds)} emails: {', '.join(kinds)}")
    return EXIT_OK


@contextmanager
def _client(args: argparse.Namespace) -> Iterator[tuple[ZimunClient, datetime]]:
    """The real service from ZIMUN_* variables, or an embedded sandbox with --sandbox.

    Yields the client and the service's "now" (the sandbox's clock, else this machine's).
    """
    if not args.sandbox:
        given = _given_sandbox_flags(args)
        if given:
            raise InputError(
                f"{', '.join(given)}: only with --sandbox (they set up the embedded sandbox); "
                "add --sandbox, or leave them out to fetch from the real service"
            )
        try:
            client = ZimunClient()
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}; or add --sandbox to run against the embedded sandbox"
            ) from None
        with client:
            yield client, datetime.now(UTC)
        return
    from ..sandbox import Sandbox

    with Sandbox(**_sandbox_options(args)) as sandbox:
        with ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url) as client:
            yield client, sandbox.now()


def _check_start_date(start_date: date | None, now: datetime) -> None:
    """Refuse a first day that is over everywhere: the API lists no past slots."""
    # the zone furthest behind UTC is 12 hours back: its "today" is the earliest anywhere
    earliest_today = (now.astimezone(UTC) - timedelta(hours=12)).date()
    if start_date is not None and start_date < earliest_today:
        raise InputError(
            f"--start-date {start_date} is in the past (today is {now.astimezone(UTC).date()} "
            "UTC): past days have no slots to fetch; leave it out to start today"
        )


def _check_report_dir(report_dir: str | None) -> None:
    """Refuse a --report-dir that can never be written, before anything is fetched."""
    if report_dir is None:
        return
    folder = Path(report_dir)
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--report-dir {report_dir} is a file; give a folder")
    if existing is not None and existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--report-dir {report_dir}: {existing} is not writable")


def _storage_options(pairs: list[str] | None) -> dict[str, Any]:
    """``ZIMUN_STORAGE_OPTIONS`` (a JSON object), then each ``--storage-option KEY=VALUE``.

    A value is read as JSON where it is JSON (``true``, ``3``, ``{...}``), else as text; a
    dotted key nests (``client_kwargs.region_name=eu-west-1``).
    """
    options: dict[str, Any] = {}
    text = os.environ.get(ENV_STORAGE_OPTIONS, "").strip()
    if text:
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"{ENV_STORAGE_OPTIONS} is not a JSON object, e.g. "
                '{"endpoint_url": "http://127.0.0.1:9000"}',
                env_var=ENV_STORAGE_OPTIONS,
            )
        options = loaded
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip() or any(not part for part in key.split(".")):
            raise InputError(f"--storage-option {pair.split('=')[0]!r}... is not KEY=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        *parents, last = key.strip().split(".")
        target = options
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise InputError(f"--storage-option {key}: {part} is not an object")
        target[last] = value
    return options


def _open_store(url: str, storage_option: list[str] | None = None) -> Any:
    """The SnapshotStore at --out, or a usage error that says what is wrong with it."""
    from ..store import SnapshotStore

    if "://" not in url and Path(url).exists() and not Path(url).is_dir():
        raise InputError(f"--out {url} is a file; give a folder (new, empty, or a store)")
    if "://" not in url and storage_option:
        raise InputError(
            "--storage-option is for object stores and other fsspec URLs (s3://...), "
            f"not for a local folder such as --out {url}"
        )
    try:
        return SnapshotStore(url, storage_options=_storage_options(storage_option))
    except ImportError as exc:  # fsspec names the package a protocol needs
        raise ConfigError(f"--out {url}: {exc} (pip install it into this environment)") from None
    except ValueError as exc:  # fsspec: an unknown protocol
        raise InputError(f"--out {url}: {exc}") from None
    except TypeError as exc:  # a filesystem refusing an option it does not know
        raise InputError(f"--storage-option: the filesystem of --out refused it ({exc})") from None


def _ids(values: list[str] | None) -> list[str] | None:
    """Ids given repeated or comma-separated: --services s_1 s_2 or --services s_1,s_2."""
    if not values:
        return None
    return [part for value in values for part in value.split(",") if part]


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Fetch availability of every service (or those chosen) and save it as a snapshot.

    Credentials come from ZIMUN_CLIENT_ID / ZIMUN_CLIENT_SECRET (and ZIMUN_BASE_URL);
    --sandbox fetches from an embedded sandbox instead. The fetch ends within --deadline
    seconds: service/locations unfinished by then are saved as errors of the snapshot.
    Exit codes: 0 complete, 1 saved without some services (their errors are in the
    snapshot) or failed, 2 usage or configuration error.

    Example: zimun-analytics snapshot --sandbox --days-ahead 14 --out data/
    """
    from ..analysis import next_available, snapshot_summary
    from ..fetch import fetch_availability

    _check_report_dir(args.report_dir)
    store = _open_store(args.out, args.storage_option)
    # other hosts presume the run alive for its lease: make that outlast the fetch and the save
    lease_s = max(STORE_LOCK_LEASE_S, 2 * args.deadline)
    created = False
    try:
        with store.lock(lease_s):
            # judged and undone under the lock: another run may make the root or write into it
            # the moment the lock is free, and its work is never ours to remove
            created = _is_new(store)
            try:
                with _client(args) as (client, now):
                    _check_start_date(args.start_date, now)
                    snapshot = fetch_availability(
                        client,
                        services=_ids(args.services),
                        locations=_ids(args.locations),
                        days_ahead=args.days_ahead,
                        start_date=args.start_date,
                        progress=not args.quiet and sys.stderr.isatty(),
                        deadline=args.deadline,
                    )
                    store.save(snapshot)
                    cleaned = store.clean()  # files of earlier runs killed mid-save
            except BaseException:
                if created:  # a failed run leaves nothing of its own behind
                    _remove_created(store)
                raise
    except BaseException as exc:
        if created:
            _remove_bare_root(store)
        if isinstance(exc, OSError) and not exc.filename:  # e.g. ENOSPC: say where
            raise SnapshotError(
                f"cannot write to {args.shown_out}: {_os_error_text(exc)}"
            ) from None
        raise
    summary = {
        "snapshot_id": snapshot.snapshot_id,
        "store": args.shown_out,
        **snapshot_summary(snapshot.slots, snapshot.days, snapshot.errors),
        "cleaned_files": cleaned,
    }
    nexts = next_available(snapshot.slots)
    report_error = None
    if args.report_dir:
        from ..plots import write_heatmap_reports  # matplotlib: only when reports are asked for

        prefix = f"{snapshot.snapshot_id}-"
        try:
            summary["reports"] = [
                str(path) for path in write_heatmap_reports(snapshot, args.report_dir, prefix)
            ]
        except OSError as exc:  # the snapshot is safe; say so, and fail the run
            report_error = (
                f"snapshot {snapshot.snapshot_id} was saved to {args.shown_out}, but its reports "
                f"could not be written: {_os_error_text(exc)}"
            )
            summary["reports_error"] = report_error
    if args.json:
        summary["next_available"] = json.loads(nexts.to_json(orient="records", date_format="iso"))
        summary["errors"] = json.loads(snapshot.errors.to_json(orient="records"))
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        _print_summary(summary, nexts, snapshot.errors)
    if report_error:
        print(f"error: {report_error}", file=sys.stderr)
        return EXIT_FAILURE
    if not snapshot.complete and args.quiet and not args.json:  # an error, so still said
        failed = len(snapshot.errors)
        print(
            f"error: snapshot {snapshot.snapshot_id} was saved to {args.shown_out} without "
            f"{failed} service/location{'s' if failed != 1 else ''} (its errors table says why)",
            file=sys.stderr,
        )
    return EXIT_OK if snapshot.complete else EXIT_FAILURE


def cmd_migrate(args: argparse.Namespace) -> int:
    """Move a store of the earlier layout (slots/snapshot_id=<id>/...) into the current one.

    Each snapshot's files move to <table>/<id>.parquet and its manifest is rewritten; the
    files' bytes do not change. Safe to stop and rerun; a store already in the current layout
    is left as it is. Exit codes: 0 done, 1 failed (storage), 2 not a store.

    Example: zimun-analytics migrate --out data/
    """
    store = _existing_store(args)
    moved = store.migrate()
    cleaned = store.clean()
    if args.json:
        print(json.dumps({"ok": True, "migrated": moved, "cleaned_files": cleaned}, indent=2))
    elif not args.quiet:
        print(f"migrated {len(moved)} snapshot{'s' if len(moved) != 1 else ''} in {args.shown_out}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """Check every snapshot of a store against its manifest and list every problem found.

    Damaged or missing manifests and files, files of another size, sha256 or row count than
    their snapshot wrote, and files no manifest names. Reads every file once (--quick: sizes
    and Parquet footers only). Exit codes: 0 sound, 1 problems found (each listed), 2 not a
    store.

    Example: zimun-analytics verify --out data/
    """
    store = _existing_store(args)
    problems = store.verify(sha256=not args.quick)
    listed = problems.to_dict(orient="records")
    if args.json:
        print(json.dumps({"ok": not listed, "problems": listed}, indent=2))
    elif not args.quiet:
        for row in listed:
            print(f"{row['path']}: {row['problem']}")
        print(f"{len(listed)} problem{'s' if len(listed) != 1 else ''} in {args.shown_out}")
    return EXIT_FAILURE if listed else EXIT_OK


def _existing_store(args: argparse.Namespace) -> Any:
    store = _open_store(args.out, args.storage_option)
    if not store.fs.isdir(f"{store.root}/manifests"):
        raise InputError(f"--out {args.shown_out} is not a snapshot store (no manifests/ folder)")
    return store


def _instant(text: str) -> datetime:
    """An ISO time with an offset (``2026-03-01T00:00:00Z``); a naive one is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: add Z or +02:00")
    return moment


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def cmd_compact(args: argparse.Namespace) -> int:
    """Merge each past UTC day of snapshots into one file per table (no row or id is lost).

    Every snapshot reads back as before; engines reading the table folders see the same rows
    in far fewer files. Days that ended before --before (default: today 00:00 UTC) only.
    Exit codes: 0 done, 1 failed (storage), 2 usage error or not a store.

    Example: zimun-analytics compact --out data/
    """
    done = _existing_store(args).compact(before=args.before)
    if args.json:
        print(json.dumps({"ok": True, "compacted": done.to_dict(orient="records")}, indent=2))
    elif not args.quiet:
        print(f"compacted {len(done)} day{'s' if len(done) != 1 else ''} in {args.shown_out}")
    return EXIT_OK


def cmd_prune(args: argparse.Namespace) -> int:
    """Delete snapshots fetched before --before, or all but the newest --keep-last.

    Exit codes: 0 done, 1 failed (storage), 2 usage error or not a store.

    Example: zimun-analytics prune --out data/ --before 2026-01-01T00:00:00Z
    """
    if (args.before is None) == (args.keep_last is None):
        raise InputError("give --before or --keep-last, one of them")
    gone = _existing_store(args).prune(before=args.before, keep_last=args.keep_last)
    if args.json:
        print(json.dumps({"ok": True, "deleted": gone}, indent=2))
    elif not args.quiet:
        print(f"deleted {len(gone)} snapshot{'s' if len(gone) != 1 else ''} in {args.shown_out}")
    return EXIT_OK


def _add_compact_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--before", type=_instant, metavar="ISO", help="days ended by then (default: today UTC)"
    )


def _add_prune_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--before", type=_instant, metavar="ISO", help="delete fetches before")
    parser.add_argument("--keep-last", type=_count, metavar="N", help="keep the newest N only")


def _add_verify_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="check sizes and footers only, not each sha256"
    )


def _is_new(store: Any) -> bool:
    """Whether the store holds nothing but our own lock (under it): this run made it."""
    try:
        names = {p.rstrip("/").rsplit("/", 1)[-1] for p in store.fs.ls(store.root, detail=False)}
    except FileNotFoundError:  # an object store has no folder until something is in it
        return True
    return names <= {".lock"}


def _remove_created(store: Any) -> None:
    """Remove what this failed run wrote into the store it created, all but its own lock."""
    try:
        for path in store.fs.ls(store.root, detail=False):
            if path.rstrip("/").rsplit("/", 1)[-1] != ".lock":
                store.fs.rm(path, recursive=True)
    except OSError:
        pass  # best effort: the run's own error is what the user needs to see


def _remove_bare_root(store: Any) -> None:
    """Remove the store's folder if it is empty (never anything in it: it may be another's)."""
    try:
        if store.fs.isdir(store.root) and not store.fs.ls(store.root, detail=False):
            store.fs.rmdir(store.root)
    except OSError:
        pass


def _print_summary(summary: dict[str, Any], nexts: pd.DataFrame, errors: pd.DataFrame) -> None:
    print(f"snapshot {summary['snapshot_id']} saved to {summary['store']}")
    print(
        f"  {summary['slots']:,} slots, {summary['services']} services, "
        f"{summary['locations']} locations, {summary['days']:,} service-days"
    )
    share = summary["utilization"]
    booked = f"; {share:.0%} of offered capacity booked" if share is not None else ""
    print(f"  {summary['bookable_slots']:,} slots with a place free{booked}")
    print("  next available slot per service and location (local time):")
    for row in nexts.itertuples():
        print(
            f"    {row.service_id:16} {row.location_id:11} {row.local_start} "
            f"({row.timezone}), in {row.lead_time_hours:.1f} h"
        )
    for path in summary.get("reports", []):
        print(f"  report: {path}")
    if "reports" in summary and not summary["reports"]:
        print("  no reports: the snapshot has no slots to draw")
    if summary["cleaned_files"]:
        print(f"  removed {len(summary['cleaned_files'])} files of interrupted earlier runs")
    for row in errors.itertuples():
        print(f"  FAILED {row.service_id} at {row.location_id}: {row.message}", file=sys.stderr)


def _seconds(text: str) -> float:
    """A positive number of seconds, for --deadline."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _add_snapshot_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--services", nargs="+", metavar="ID", help="service ids (default: all active)"
    )
    parser.add_argument("--locations", nargs="+", metavar="ID", help="only these locations")
    parser.add_argument(
        "--days-ahead",
        type=int,
        default=DEFAULT_WINDOW_DAYS,
        help=f"days to cover, 1-{MAX_FETCH_DAYS} (default {DEFAULT_WINDOW_DAYS})",
    )
    parser.add_argument("--start-date", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    parser.add_argument(
        "--deadline",
        type=_seconds,
        default=SNAPSHOT_DEADLINE_S,
        metavar="SECONDS",
        help=f"end the fetch after this long (default {SNAPSHOT_DEADLINE_S:g}); "
        "what is unfinished then is saved as errors",
    )
    parser.add_argument(
        "--out", default="data/", help="store: a directory or fsspec URL (default data/)"
    )
    _add_storage_option(parser)
    parser.add_argument("--sandbox", action="store_true", help="fetch from an embedded sandbox")
    parser.add_argument(
        "--report-dir", metavar="DIR", help="also write heatmap PNGs of the snapshot there"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: what is wrong and where help is, not the whole usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(
        prog="zimun-analytics",
        description="Availability analytics for the Zimun booking API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler, add_options in [
        ("snapshot", cmd_snapshot, (_add_sandbox_options, _add_snapshot_options)),
        ("sandbox", cmd_sandbox, (_add_sandbox_options, _add_server_options)),
        ("demo", cmd_demo, (_add_sandbox_options,)),
        ("migrate", cmd_migrate, (_add_store_options,)),
        ("verify", cmd_verify, (_add_store_options, _add_verify_options)),
        ("compact", cmd_compact, (_add_store_options, _add_compact_options)),
        ("prune", cmd_prune, (_add_store_options, _add_prune_options)),
    ]:
        doc = handler.__doc__ or ""
        sub = commands.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        for add in add_options:
            add(sub)
    return parser


def _add_storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-option",
        action="append",
        metavar="KEY=VALUE",
        help=f"an fsspec option of --out, e.g. endpoint_url=http://127.0.0.1:9000 (repeatable; "
        f"also {ENV_STORAGE_OPTIONS}, a JSON object); prefer environment variables for secrets",
    )


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument("--port", type=_port, default=8765, help="port (default 8765)")


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the store: a directory or fsspec URL")
    _add_storage_option(parser)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def _os_error_text(exc: OSError) -> str:
    """``read-only file system: /srv/x`` (errno's words, then the path), one line."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    reason = reason[0].lower() + reason[1:] if reason else reason
    where = exc.filename if exc.filename is not None else ""
    return f"{reason}: {where}" if where else reason


def _shown(args: argparse.Namespace, text: str) -> str:
    """``text`` with the credentials of --out and its storage options as ``***``."""
    for secret in getattr(args, "secrets", ()):
        text = text.replace(secret, "***")
    return text


def _secrets_of(args: argparse.Namespace) -> tuple[str, ...]:
    """What --out and the storage options carry that must never be printed."""
    from ..store import secrets_in  # fsspec: only for the commands with a store

    out = getattr(args, "out", None)
    if not out:
        return ()
    try:
        options = _storage_options(getattr(args, "storage_option", None))
    except ZimunError:
        options = {}  # the command itself reports the bad option
    return secrets_in(out, options)


def _fail(args: argparse.Namespace, message: str, error_class: str, code: int) -> int:
    """One line on stderr; with --json, the same as a JSON object on stdout."""
    message = " ".join(_shown(args, message).split())  # one line, whatever a library said
    print(f"error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        result = {"ok": False, "exit_code": code, "error_class": error_class, "error": message}
        print(json.dumps(result, indent=2))
    return code


# the libraries under fsspec's object stores raise their own classes, not OSError
_STORAGE_LIBRARIES = ("botocore", "aiobotocore", "google.auth", "google.api_core", "azure")


def _storage_failure(exc: Exception) -> tuple[str, int] | None:
    """One line and an exit code for an object store's own error; None for anything else."""
    if not type(exc).__module__.startswith(_STORAGE_LIBRARIES):
        return None
    if "credential" in type(exc).__name__.lower():  # e.g. botocore's NoCredentialsError
        return (
            f"object store: {exc}; give credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            f"a profile, or {ENV_STORAGE_OPTIONS}) and, off AWS, the endpoint "
            "(--storage-option endpoint_url=...)",
            EXIT_USAGE,
        )
    return f"object store: {type(exc).__name__}: {exc}", EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Exit codes: 0 done; 1 a failure that may pass (the service, the network, the disk, a
    snapshot saved without some services); 2 a usage or configuration error that will not pass
    by itself; 130 interrupted. Every failure is one line on stderr, never a traceback.
    """
    args = build_parser().parse_args(argv)
    args.secrets = _secrets_of(args)
    args.shown_out = _shown(args, getattr(args, "out", "") or "")
    with warnings.catch_warnings():
        warnings.simplefilter("always", DamagedSnapshotWarning)
        warnings.showwarning = partial(_one_line_warning, args)
        return _run(args)


def _one_line_warning(args: argparse.Namespace, message: Warning | str, *_: Any, **__: Any) -> None:
    """A warning as one ``warning:`` line on stderr, redacted, with no source line."""
    print(f"warning: {' '.join(_shown(args, str(message)).split())}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    """The command, its failures turned into one line and an exit code (see main)."""
    try:
        code: int = args.handler(args)
        return code
    except (ConfigError, InputError) as exc:  # what the user typed or set up
        return _fail(args, str(exc), type(exc).__name__, EXIT_USAGE)
    except ModuleNotFoundError as exc:  # an extra not installed; its face adds which one
        hint = "; ".join(getattr(exc, "__notes__", [])) or "pip install it into this environment"
        package = (exc.name or "a module").split(".")[0]  # starlette, not starlette.routing
        message = f"{package} is not installed: {hint}"
        return _fail(args, message, "ModuleNotFoundError", EXIT_USAGE)
    except ZimunError as exc:  # the library explains itself; no traceback at the edge
        return _fail(args, str(exc), type(exc).__name__, EXIT_FAILURE)
    except OSError as exc:  # disk full, read-only, permissions, network below the client
        return _fail(args, _os_error_text(exc), type(exc).__name__, EXIT_FAILURE)
    except KeyboardInterrupt:
        print("interrupted; nothing partial was saved", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, or an object store's library: still one line
        storage = _storage_failure(exc)
        if storage is not None:
            return _fail(args, storage[0], type(exc).__name__, storage[1])
        if os.environ.get(DEBUG_VARIABLE):
            raise
        message = (
            f"unexpected {type(exc).__name__}: {exc} (a bug in zimun-analytics; "
            f"{DEBUG_VARIABLE}=1 shows the traceback)"
        )
        return _fail(args, message, type(exc).__name__, EXIT_FAILURE)
