"""The sandbox as an ASGI app: routing, the error envelope, request ids, rate limits and faults.

The outer :class:`SandboxMiddleware` does what every API response shares, in this order:
request id → injected latency → injected 5xx (before any processing) → the per-client rate
limit → the endpoint → ``X-Request-Id`` and the rate headers of the style (see
:mod:`.ratelimit`) → injected dropped connection (*after* processing, which is what makes
idempotency keys matter).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError
from .openapi import build_openapi
from .openapi_schemas import MAX_REQUEST_BODY_BYTES
from .routes import ROUTES
from .state import SandboxSettings, SandboxState
from .web import error_response, json_response, rate_limited

__all__ = ["InjectedDrop", "create_app"]

_FAULTS = ("500", "502", "503", "drop")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


class InjectedDrop(Exception):
    """Raised after a response has started, so the server closes the connection mid-response."""


class _QuietDrops(logging.Filter):
    """Keep injected drops out of the server's error log: they are the point, not a bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def _too_large() -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"the request body is over {MAX_REQUEST_BODY_BYTES // 1024} KiB",
    )


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # not a number: the server below refuses the request
    return 0


def _limited(receive: Receive) -> Receive:
    """``receive`` that refuses a body (chunked, or longer than declared) past the limit."""
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_REQUEST_BODY_BYTES:
                raise _too_large()  # the route's ApiError handler answers it
        return message

    return receive_limited


class SandboxMiddleware:
    """Request ids, latency, faults and rate limits around every request."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state
        settings = state.settings
        self._faults = random.Random(f"faults:{settings.seed}")
        self._latency = random.Random(f"latency:{settings.seed}")
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_api = path.startswith("/api/") or path == "/oauth/token"
        scope.setdefault("state", {})["request_id"] = "req_" + secrets.token_hex(8)
        if not is_api:
            await self.app(scope, receive, self._decorate(scope, send, drop=False))
            return
        self.state.traffic.started(scope.get("client"))
        try:
            if _declared_length(scope) > MAX_REQUEST_BODY_BYTES:
                await self._send_error(scope, receive, send, _too_large())
                return
            receive = _limited(receive)
            fault = await self._delay_and_pick_fault()
            refusal = self._refusal(scope, fault)
            if refusal is not None:
                await self._send_error(scope, receive, send, refusal)
                return
            await self.app(scope, receive, self._decorate(scope, send, drop=fault == "drop"))
        finally:
            self.state.traffic.ended()

    def _refusal(self, scope: Scope, fault: str | None) -> ApiError | None:
        """The error to answer with before any processing: an injected 5xx, else a 429."""
        if fault in ("500", "502", "503"):
            return ApiError(
                int(fault), "internal", "injected fault: the sandbox pretends to be broken"
            )
        if scope["path"].startswith("/api/"):
            # after the fault check: a request answered by a fault counts against no limit
            decision = self.state.api_limits.take(self._rate_key(scope))
            scope["state"]["rate_headers"] = decision.headers()
            if not decision.allowed:
                return rate_limited(decision, "requests")
        return None

    async def _delay_and_pick_fault(self) -> str | None:
        settings = self.state.settings
        with self._lock:
            delay_ms = settings.latency_ms + self._latency.uniform(-1, 1) * settings.jitter_ms
            fault = None
            if self._faults.random() < settings.fault_rate:
                fault = self._faults.choice(_FAULTS)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        return fault

    def _rate_key(self, scope: Scope) -> str:
        """Per client when the bearer token is known, else per peer address."""
        headers = dict(scope["headers"])
        kind, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        grant = self.state.tokens.lookup(token.strip(), self.state.clock.now())
        if kind.lower() == "bearer" and grant is not None:
            return "client:" + grant.client.client_id
        return "peer:" + str((scope.get("client") or ("?",))[0])

    def _decorate(self, scope: Scope, send: Send, *, drop: bool) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = {"X-Request-Id": scope["state"]["request_id"]}
                extra.update(scope["state"].get("rate_headers", {}))
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in {h.lower() for h in extra}
                ]
                headers += [(k.encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": headers}
                await send(message)
                if drop:
                    raise InjectedDrop("response dropped on purpose")
                return
            await send(message)

        return send_with_headers

    async def _send_error(
        self, scope: Scope, receive: Receive, send: Send, error: ApiError
    ) -> None:
        response = error_response(Request(scope, receive), error)
        await response(scope, receive, self._decorate(scope, send, drop=False))


def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "invalid_request")
    message = {
        404: f"no such endpoint: {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    return error_response(request, ApiError(exc.status_code, code, message, headers=exc.headers))


def _server_error(request: Request, exc: Exception) -> Response:
    """A genuine bug: still answer with the envelope, so clients see a request id."""
    return error_response(request, ApiError(500, "internal", "internal sandbox error"))


async def _openapi(request: Request) -> Response:
    return json_response(build_openapi(str(request.base_url).rstrip("/")))


def create_app(settings: SandboxSettings | None = None) -> Any:
    """Build the sandbox ASGI app (state included) from settings."""
    state = SandboxState(settings or SandboxSettings())
    routes = [Route(path, endpoint, methods=methods) for path, endpoint, methods in ROUTES]
    routes.append(Route("/openapi.json", _openapi, methods=["GET"]))
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.sandbox = state
    wrapped = SandboxMiddleware(app, state)
    wrapped.sandbox_state = state  # type: ignore[attr-defined]
    return wrapped
