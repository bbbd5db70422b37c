"""Command line: ``zimun-analytics <command>``. Thin: parse arguments, call the library, print.

Commands
--------
sandbox
    Run the local Zimun look-alike in the foreground until Ctrl-C.
demo
    Start an embedded sandbox and walk the booking flow against it, step by step.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .client import ZimunClient
from .demo import walk_seed_flow
from .errors import ZimunError

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def _add_sandbox_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that starts a sandbox (they map to ``Sandbox(...)``)."""
    group = parser.add_argument_group("sandbox world and faults")
    group.add_argument("--seed", type=int, default=1, help="world, bookings and faults (default 1)")
    group.add_argument("--now", help="freeze the clock at this ISO instant, e.g. 2026-03-23T08:00Z")
    group.add_argument("--services", type=int, help="catalogue size of o_demo (default 13)")
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


def _sandbox_options(args: argparse.Namespace) -> dict:
    names = [
        "seed",
        "now",
        "services",
        "latency_ms",
        "latency_jitter_ms",
        "fault_rate",
        "rate_limit",
        "rate_burst",
        "token_rate_limit",
        "token_ttl",
        "omit_full_slots",
    ]
    return {name: getattr(args, name) for name in names}


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="zimun-analytics",
        description="Availability analytics for the Zimun booking API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler in [("sandbox", cmd_sandbox), ("demo", cmd_demo)]:
        doc = handler.__doc__ or ""
        sub = commands.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        _add_sandbox_options(sub)
        if name == "sandbox":
            sub.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
            sub.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ZimunError as exc:  # the library explains itself; no traceback at the edge
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:  # bad settings, e.g. --fault-rate 2
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
