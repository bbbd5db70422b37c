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
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import SNAPSHOT_DEADLINE_S, STORE_LOCK_LEASE_S
from .demo import walk_seed_flow
from .errors import ConfigError, InputError, ZimunError
from .sync_client import ZimunClient

if TYPE_CHECKING:  # pandas is loaded by the commands that need it, not at start-up
    import pandas as pd

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1  # also: a snapshot saved without some services (see its errors table)
EXIT_USAGE = 2


def _add_sandbox_options(
    parser: argparse.ArgumentParser, catalogue_flag: str = "--services"
) -> None:
    """Flags shared by every command that starts a sandbox (they map to ``Sandbox(...)``)."""
    group = parser.add_argument_group("sandbox world and faults")
    group.add_argument("--seed", type=int, default=1, help="world, bookings and faults (default 1)")
    group.add_argument("--now", help="freeze the clock at this ISO instant, e.g. 2026-03-23T08:00Z")
    group.add_argument(
        catalogue_flag,
        dest="sandbox_services",
        type=int,
        help="catalogue size of o_demo (default 13)",
    )
    group.add_argument("--latency-ms", type=float, default=0.0, help="added delay per request")
    group.add_argument("--latency-jitter-ms", type=float, help="jitter (default latency/5)")
    group.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of API requests answered 5xx or dropped (0-1)",
    )
    group.add_argument("--rate-limit", type=float, default=50.0, help="requests/s per client")
    group.add_argument("--rate-burst", type=int, default=100, help="token bucket size")
    group.add_argument("--token-rate-limit", type=int, default=10, help="tokens/min per client")
    group.add_argument("--token-ttl", type=float, default=3600, help="token lifetime, seconds")
    group.add_argument(
        "--omit-full-slots",
        action="store_true",
        help="leave fully booked slots out of availability",
    )


def _sandbox_options(args: argparse.Namespace) -> dict[str, Any]:
    names = [
        "seed",
        "now",
        "latency_ms",
        "latency_jitter_ms",
        "fault_rate",
        "rate_limit",
        "rate_burst",
        "token_rate_limit",
        "token_ttl",
        "omit_full_slots",
    ]
    return {name: getattr(args, name) for name in names} | {"services": args.sandbox_services}


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox in the foreground until Ctrl-C.

    Example: zimun-analytics sandbox --port 8765 --seed 1 --fault-rate 0.1
    """
    from .sandbox import serve_forever  # heavy (uvicorn, starlette): only when asked for

    try:
        serve_forever(host=args.host, port=args.port, **_sandbox_options(args))
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Walk token → services → availability → hold → confirm → reschedule → cancel.

    Example: zimun-analytics demo --seed 1
    """
    from .sandbox import Sandbox  # heavy (uvicorn, starlette): only when asked for

    with Sandbox(**_sandbox_options(args)) as sandbox:
        print(f"sandbox running at {sandbox.base_url} (seed {args.seed})")
        with ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url) as client:
            walk_seed_flow(client, echo=print)
        kinds = [item["kind"] for item in sandbox.outbox()]
        print(f"8 outbox        {len(kinds)} emails: {', '.join(kinds)}")
    return EXIT_OK


@contextmanager
def _client(args: argparse.Namespace) -> Iterator[ZimunClient]:
    """The real service from ZIMUN_* variables, or an embedded sandbox with --sandbox."""
    if not args.sandbox:
        try:
            client = ZimunClient()
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}; or add --sandbox to run against the embedded sandbox"
            ) from None
        with client:
            yield client
        return
    from .sandbox import Sandbox

    with Sandbox(**_sandbox_options(args)) as sandbox:
        with ZimunClient(sandbox.client_id, sandbox.client_secret, sandbox.base_url) as client:
            yield client


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
    from .analysis import next_available, snapshot_summary
    from .fetch import fetch_availability
    from .snapshots import SnapshotStore

    store = SnapshotStore(args.out)
    # other hosts presume the run alive for its lease: make that outlast the fetch and the save
    lease_s = max(STORE_LOCK_LEASE_S, 2 * args.deadline)
    with store.lock(lease_s), _client(args) as client:
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
    summary = {
        "snapshot_id": snapshot.snapshot_id,
        "store": args.out,
        **snapshot_summary(snapshot.slots, snapshot.days, snapshot.errors),
        "cleaned_files": cleaned,
    }
    nexts = next_available(snapshot.slots)
    if args.report_dir:
        from .reports import write_heatmap_reports  # matplotlib: only when reports are asked for

        paths = write_heatmap_reports(snapshot, args.report_dir, prefix=f"{snapshot.snapshot_id}-")
        summary["reports"] = [str(path) for path in paths]
    if args.json:
        summary["next_available"] = json.loads(nexts.to_json(orient="records", date_format="iso"))
        summary["errors"] = json.loads(snapshot.errors.to_json(orient="records"))
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        _print_summary(summary, nexts, snapshot.errors)
    return EXIT_OK if snapshot.complete else EXIT_FAILURE


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
        "--days-ahead", type=int, default=14, help="days to cover, 1-366 (default 14)"
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
    parser.add_argument("--sandbox", action="store_true", help="fetch from an embedded sandbox")
    parser.add_argument(
        "--report-dir", metavar="DIR", help="also write heatmap PNGs of the snapshot there"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="zimun-analytics",
        description="Availability analytics for the Zimun booking API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler in [("snapshot", cmd_snapshot), ("sandbox", cmd_sandbox), ("demo", cmd_demo)]:
        doc = handler.__doc__ or ""
        sub = commands.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        _add_sandbox_options(sub, "--sandbox-services" if name == "snapshot" else "--services")
        if name == "snapshot":
            _add_snapshot_options(sub)
        if name == "sandbox":
            sub.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
            sub.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except (ConfigError, InputError) as exc:  # what the user typed or set up
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ZimunError as exc:  # the library explains itself; no traceback at the edge
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:  # bad sandbox settings, e.g. --fault-rate 2
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; nothing partial was saved", file=sys.stderr)
        return 130
