"""Run the sandbox: in a background thread (``with Sandbox() as sb``) or in the foreground (CLI).

It serves real HTTP with uvicorn on loopback, so whatever talks to it goes through the same
sockets, parsers and headers as it would against api.zimun.online.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from datetime import datetime
from typing import Any, cast

import uvicorn

from .app import create_app
from .clock import parse_instant
from .state import SandboxSettings

__all__ = ["Sandbox", "serve_forever"]

LOOPBACK = "127.0.0.1"
_STARTUP_TIMEOUT_S = 15.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on such sockets, and without it
    # every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)  # a deep backlog, so bursts of concurrent clients are not refused
    except OSError:
        sock.close()  # in use, unknown host, not ours: the caller says which
        raise
    sock.set_inheritable(True)
    return sock


def _server(app: Any, sock: socket.socket, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        backlog=1024,
    )
    return uvicorn.Server(config)


class Sandbox:
    """A Zimun look-alike on a free loopback port, in a background thread.

    Parameters
    ----------
    seed
        Makes the world, the bookings, ids and injected faults reproducible.
    now
        Freeze the sandbox clock at this instant (ISO-8601 with offset, or tz-aware datetime);
        ``None`` follows real time. Either way, ``advance()`` moves it forward.
    services
        Size of ``o_demo``'s service catalogue (default: the built-in 13).
    latency_ms, latency_jitter_ms
        Delay added to each API request (jitter defaults to a fifth of the latency).
    fault_rate
        Share of API requests answered 500/502/503 or dropped after processing.
    rate_limit, rate_burst
        Per-client limit of ``/api/v1``: requests per second, and the token bucket's size
        (the ``window`` and ``ietf`` styles ignore ``rate_burst``).
    rate_limit_style
        How the limit is counted and told (real time, not the sandbox clock):
        ``"bucket"`` (default) a token bucket with ``X-RateLimit-Limit/Remaining/Reset``
        (reset: seconds until full); ``"window"`` fixed windows of ``rate_window`` seconds
        aligned to the Unix epoch, each allowing ``max(1, round(rate_limit * rate_window))``
        requests, with ``X-RateLimit-*`` (reset: when the window ends); ``"ietf"`` the same
        windows told by ``RateLimit-Policy`` and ``RateLimit`` (IETF draft); ``"none"`` the
        token bucket, told by no header (only 429s with ``Retry-After``).
    rate_window
        Window length of the ``window`` and ``ietf`` styles, seconds (0-3600, default 1).
    rate_reset
        ``X-RateLimit-Reset`` as ``"seconds"`` left (default) or ``"epoch"``, the Unix time;
        both are whole numbers rounded up.
    retry_after
        A 429's ``Retry-After`` as whole ``"seconds"`` (default) or a ``"date"`` (HTTP date).
    token_rate_limit
        Tokens per minute per client at ``/oauth/token`` (a bucket as big, in every style,
        told in the style's headers).
    token_ttl
        Lifetime of access tokens, seconds (by the sandbox clock).
    omit_full_slots
        Leave fully booked slots out of availability instead of listing ``available: 0``.
    host, port
        Where to listen; port 0 picks a free one. Binds loopback unless told otherwise.

    Examples
    --------
    >>> with Sandbox(seed=1, now="2026-03-23T08:00:00Z") as sb:  # doctest: +SKIP
    ...     print(sb.base_url, sb.client_id)
    """

    def __init__(
        self,
        seed: int = 1,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        log_level: str = "warning",
        **options: Any,
    ) -> None:
        self.settings = SandboxSettings(seed=seed, **options)
        self.app = create_app(self.settings)
        self.state = self.app.sandbox_state
        self.clients = {c.client_id: c.client_secret for c in self.state.world.clients.values()}
        self.client_id, self.client_secret = "demo", self.clients["demo"]
        self._host, self._port, self._log_level = host, port, log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        return f"Sandbox(base_url={self.base_url!r}, seed={self.settings.seed})"

    def start(self) -> Sandbox:
        """Start serving in a daemon thread; returns once the port accepts connections."""
        sock = _bind(self._host, self._port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{port}"
        self._server = _server(self.app, sock, self._log_level)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="zimun-sandbox", daemon=True
        )
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.005)  # uvicorn offers a flag, not an event, to wait on
        if not self._server.started:
            raise RuntimeError(f"the sandbox did not start on {self.base_url}")
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(_STARTUP_TIMEOUT_S)
        self._server = self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- sandbox-only endpoints, over HTTP like any other client ---------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return cast(dict[str, Any], json.loads(response.read()))

    def now(self) -> datetime:
        """The sandbox clock, as a tz-aware UTC datetime."""
        return parse_instant(self._call("GET", "/_sandbox/clock")["now"])

    def advance(self, seconds: float, simulate: bool = False) -> dict[str, Any]:
        """Move the sandbox clock forward; with ``simulate`` the demand model books slots."""
        return self._call(
            "POST", "/_sandbox/clock", {"advance_seconds": seconds, "simulate": simulate}
        )

    def outbox(self) -> list[dict[str, Any]]:
        """Emails sent so far (confirmations, reschedules, cancellations)."""
        return cast(list[dict[str, Any]], self._call("GET", "/_sandbox/outbox")["items"])


def serve_forever(host: str = LOOPBACK, port: int = 8765, **options: Any) -> None:
    """Serve in the foreground until Ctrl-C, after printing the base URL and credentials."""
    sandbox = Sandbox(host=host, port=port, log_level="info", **options)
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    print(f"Zimun sandbox on http://{bound_host}:{bound_port}  (seed {sandbox.settings.seed})")
    print("clients (id / secret):")
    for client in sandbox.state.world.clients.values():
        scopes = " ".join(sorted(client.scopes))
        print(
            f"  {client.client_id:9} {client.client_secret:16} {client.organization_id}  {scopes}"
        )
    print(f"OpenAPI: http://{bound_host}:{bound_port}/openapi.json   Ctrl-C stops.", flush=True)
    _server(sandbox.app, sock, "warning").run(sockets=[sock])
