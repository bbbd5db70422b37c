"""Fixtures for the HTTP-level sandbox tests: sandboxes, plain-httpx API sessions, helpers.

Everything here speaks the wire contract (`zimun-api.md`) with plain httpx; nothing uses the
library's client. Sandboxes shared by a module get generous rate limits so that only the
tests about limits ever see a 429.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from zimun_analytics.sandbox import Sandbox

NOW = "2026-03-23T08:00:00Z"
TIMEOUT_S = 15.0
HOLD_TTL = timedelta(minutes=10)
ALL_SCOPES = {"org:read", "availability:read", "appointments:read", "appointments:write"}
# Only the limit tests want to run into 429s; everyone else gets an effectively unlimited bucket.
UNLIMITED = {"rate_limit": 100_000.0, "rate_burst": 100_000, "token_rate_limit": 100_000}
ERROR_CODES = {
    "invalid_request",
    "location_required",
    "invalid_token",
    "insufficient_scope",
    "not_found",
    "slot_unavailable",
    "hold_already_confirmed",
    "invalid_state",
    "hold_expired",
    "payload_too_large",
    "validation_error",
    "idempotency_key_reused",
    "rate_limited",
    "internal",
}


def parse_ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp that must carry an offset."""
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() is not None, f"timestamp {value!r} has no offset"
    return moment


def as_utc_z(value: str) -> str:
    """Render a timestamp with an offset as UTC with a trailing Z (the seed's format)."""
    return parse_ts(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert an API error envelope with this status and code; return the inner error."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert error["request_id"] == response.headers["X-Request-Id"], error
    if code == "validation_error":
        assert error["details"], error
        for detail in error["details"]:
            assert isinstance(detail["field"], str) and detail["field"], detail
            assert isinstance(detail["message"], str) and detail["message"], detail
    return error


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    """Assert an RFC 6749 section 5.2 token error (a plain string `error`, not the envelope)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.json()["error"] == error, response.text


def fetch_token(base_url: str, client_id: str, secret: str, scope: str | None = None) -> str:
    """Get an access token with HTTP Basic client authentication."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    response = httpx.post(
        f"{base_url}/oauth/token", auth=(client_id, secret), data=data, timeout=TIMEOUT_S
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


class Api:
    """One client's view of one sandbox: an httpx.Client carrying a bearer token, plus helpers.

    The helpers only shorten the setup of a test (find a free slot, book it); the behaviour
    under test is always called through `self.http` with the request spelled out.
    """

    def __init__(self, sb: Sandbox, client: str = "demo", scope: str | None = None) -> None:
        self.sb = sb
        self.token = fetch_token(sb.base_url, client, sb.clients[client], scope)
        self.http = httpx.Client(
            base_url=sb.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=TIMEOUT_S,
        )
        self._services: dict[str, dict[str, Any]] | None = None

    def close(self) -> None:
        self.http.close()

    # -- catalogue -------------------------------------------------------------------------
    def services(self) -> dict[str, dict[str, Any]]:
        """All services of the client's organization, by id (walks every page)."""
        if self._services is None:
            self._services = {s["service_id"]: s for s in self.walk("/api/v1/services")}
        return self._services

    def walk(self, path: str, page_size: int = 100) -> list[dict[str, Any]]:
        """Every item of a paginated list."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"page_size": page_size}
        while True:
            response = self.http.get(path, params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            items.extend(page["items"])
            if not page["next_page_token"]:
                return items
            params["page_token"] = page["next_page_token"]

    # -- availability ----------------------------------------------------------------------
    def availability(
        self, service_id: str, location_id: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """GET /availability; asserts 200."""
        query = {"service_id": service_id, **params}
        if location_id is not None:
            query["location_id"] = location_id
        response = self.http.get("/api/v1/availability", params=query)
        assert response.status_code == 200, response.text
        return response.json()

    def slot(self, service_id: str, start: str, location_id: str | None = None) -> dict | None:
        """The listed slot starting at `start` (same instant), or None if it is not listed."""
        wanted = parse_ts(start)
        day = self.availability(service_id, location_id, start_date=start[:10], days_ahead=1)
        for slot in day["days"][0]["slots"]:
            if parse_ts(slot["start"]) == wanted:
                return slot
        return None

    def available(self, service_id: str, start: str, location_id: str | None = None) -> int:
        """`available` of one slot; an unlisted slot counts as 0 (omit_full_slots)."""
        slot = self.slot(service_id, start, location_id)
        return 0 if slot is None else slot["available"]

    def find_slot(
        self,
        service_id: str = "s_eyebrow",
        location_id: str | None = None,
        *,
        capacity: int | None = None,
        min_available: int = 1,
        exclude: tuple[str, ...] = (),
        days_ahead: int = 14,
    ) -> dict[str, Any]:
        """A listed slot at least a day ahead of the sandbox clock with enough free capacity."""
        earliest = self.sb.now() + timedelta(days=1)
        taken = {parse_ts(start) for start in exclude}
        doc = self.availability(service_id, location_id, days_ahead=days_ahead)
        for day in doc["days"]:
            for slot in day["slots"]:
                start = parse_ts(slot["start"])
                if (
                    start >= earliest
                    and start not in taken
                    and slot["available"] >= min_available
                    and (capacity is None or slot["capacity"] == capacity)
                ):
                    return slot
        raise AssertionError(f"no slot of {service_id} at {location_id} fits (capacity={capacity})")

    # -- booking ---------------------------------------------------------------------------
    def hold_body(
        self, service_id: str, start: str, location_id: str | None = None
    ) -> dict[str, Any]:
        """A valid hold request body for this slot."""
        body: dict[str, Any] = {
            "organization_id": "o_demo" if service_id != "s_tlv_consult" else "o_other",
            "service_id": service_id,
            "appointment_time": start,
            "appointment_duration": self.services()[service_id]["duration_minutes"],
        }
        if location_id is not None:
            body["location_id"] = location_id
        return body

    def hold(
        self,
        service_id: str,
        start: str,
        location_id: str | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        """POST /appointments/hold for this slot."""
        headers = {"Idempotency-Key": key} if key else {}
        body = self.hold_body(service_id, start, location_id)
        return self.http.post("/api/v1/appointments/hold", json=body, headers=headers)

    def held(self, service_id: str, start: str, location_id: str | None = None) -> dict:
        """A hold on this slot; asserts 201."""
        response = self.hold(service_id, start, location_id)
        assert response.status_code == 201, response.text
        return response.json()

    def confirm(
        self, hold_id: str, email: str = "dana@example.com", key: str | None = None
    ) -> httpx.Response:
        """POST /appointments/confirm for this hold."""
        headers = {"Idempotency-Key": key} if key else {}
        body = {"hold_id": hold_id, "contact_name": "Dana Lee", "contact_email": email}
        return self.http.post("/api/v1/appointments/confirm", json=body, headers=headers)

    def book(
        self, service_id: str, start: str, location_id: str | None = None, email: str = ""
    ) -> dict[str, Any]:
        """Hold and confirm this slot; asserts both succeed; returns the appointment."""
        hold = self.held(service_id, start, location_id)
        response = self.confirm(hold["hold_id"], email or "dana@example.com")
        assert response.status_code == 201, response.text
        return response.json()

    def patch(self, appointment_id: str, body: Any, key: str | None = None) -> httpx.Response:
        """PATCH /appointments/{id} with a JSON body."""
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.patch(f"/api/v1/appointments/{appointment_id}", json=body, headers=headers)

    def emails(self, appointment_id: str) -> list[dict[str, Any]]:
        """Outbox items about one appointment, in order."""
        return [m for m in self.sb.outbox() if m["appointment_id"] == appointment_id]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ZIMUN_* setting of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("ZIMUN_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One frozen-clock sandbox per test module, with limits out of the way."""
    with Sandbox(seed=1, now=NOW, **UNLIMITED) as sb:
        yield sb


@pytest.fixture(scope="module")
def demo(sandbox: Sandbox) -> Iterator[Api]:
    """The demo client (all scopes, o_demo) on the module's sandbox."""
    api = Api(sandbox, "demo")
    yield api
    api.close()


@pytest.fixture(scope="module")
def readonly(sandbox: Sandbox) -> Iterator[Api]:
    """The readonly client (no appointments:write) on the module's sandbox."""
    api = Api(sandbox, "readonly")
    yield api
    api.close()


@pytest.fixture(scope="module")
def other(sandbox: Sandbox) -> Iterator[Api]:
    """The client of the other organization (o_other) on the module's sandbox."""
    api = Api(sandbox, "other")
    yield api
    api.close()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Factory for a fresh sandbox (frozen at NOW, seed 1 unless overridden)."""
    with ExitStack() as stack:

        def make(**options: Any) -> Sandbox:
            settings: dict[str, Any] = {"seed": 1, "now": NOW, **options}
            return stack.enter_context(Sandbox(**settings))

        yield make


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    """Factory for an Api session on any sandbox; closed after the test."""
    made: list[Api] = []

    def make(sb: Sandbox, client: str = "demo", scope: str | None = None) -> Api:
        api = Api(sb, client, scope)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def raw(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """An httpx.Client on the module's sandbox without any credentials."""
    with httpx.Client(base_url=sandbox.base_url, timeout=TIMEOUT_S) as client:
        yield client


# -- a loopback server that misbehaves on purpose ------------------------------------------------

TOKEN_BODY = b'{"access_token": "t-1", "token_type": "Bearer", "expires_in": 3600}'


class MisbehavingServer:
    """A plain asyncio HTTP/1.1 server on 127.0.0.1 whose routes hang in chosen ways.

    ``routes`` maps a path to what happens to requests for it:

    - ``"token"``: answer a token at once (keep-alive);
    - ``"never"``: accept and read the request, never answer (also every unlisted path);
    - ``"headers"``: send a 200's headers promising a body, then nothing;
    - ``"drip"``: send the headers, then the body one byte a second;
    - ``"garbage"``: answer bytes that are not HTTP; ``"hangup"``: close without answering;
      ``"truncated"``: promise 1,000 bytes of body, send 10 and close;
    - ``"gzip"``: the token body gzip-encoded; ``"chunked"``: it in chunked encoding;
      ``"badgzip"``: a body that says gzip and is not; ``"reset"``: read the request, then
      reset the connection (TCP RST).

    ``seen`` lists ``METHOD /path`` of every request read, ``heads`` their header blocks;
    ``accepted`` counts connections
    opened, ``open_connections`` those the client has not closed yet.
    """

    def __init__(self, routes: dict[str, str]) -> None:
        self.routes = routes
        self.seen: list[str] = []
        self.heads: list[bytes] = []
        self.accepted = 0
        self.open_connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        start = asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.base_url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def stop() -> None:
            self._server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self.open_connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target = head.decode("latin-1").split(" ")[:2]
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in head.decode("latin-1").split("\r\n")
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                path = target.split("?")[0]
                self.seen.append(f"{method} {path}")
                self.heads.append(head)
                await self._answer(self.routes.get(path, "never"), reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open_connections -= 1
            self._tasks.discard(task)
            writer.close()

    @staticmethod
    async def _answer(
        behaviour: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        body = TOKEN_BODY if behaviour == "token" else b"{" + b" " * 998 + b"}"
        head = (
            f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        if behaviour == "token":
            writer.write(head + body)
            await writer.drain()
            return
        if behaviour == "gzip":
            packed = gzip.compress(TOKEN_BODY)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
                + f"content-length: {len(packed)}\r\n\r\n".encode()
                + packed
            )
            await writer.drain()
            return
        if behaviour == "chunked":
            halves = TOKEN_BODY[:20], TOKEN_BODY[20:]
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(half), half) for half in halves)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"transfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
            )
            await writer.drain()
            return
        if behaviour == "badgzip":
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-encoding: gzip\r\ncontent-length: 9\r\n\r\nnot gzip!"
            )
            await writer.drain()
            return
        if behaviour == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise ConnectionResetError  # closed with linger 0: the peer gets a RST
        if behaviour == "garbage":
            writer.write(b"SPLAT \x00\xff not http at all\r\n\r\n")
            await writer.drain()
            raise ConnectionResetError
        if behaviour == "hangup":
            raise ConnectionResetError  # _serve closes the connection
        if behaviour == "truncated":
            writer.write(head + body[:10])
            await writer.drain()
            raise ConnectionResetError
        if behaviour in {"headers", "drip"}:
            writer.write(head)
            await writer.drain()
        while behaviour == "drip" and body:
            writer.write(body[:1])
            body = body[1:]
            await writer.drain()
            try:  # the misbehaviour itself: one byte a second, until the client hangs up
                if not await asyncio.wait_for(reader.read(1), timeout=1.0):
                    raise ConnectionResetError
            except TimeoutError:
                pass
        await reader.read()  # and then nothing, until the client hangs up
        raise ConnectionResetError


@pytest.fixture
def misbehaving() -> Iterator[Callable[..., MisbehavingServer]]:
    """Factory: ``misbehaving({"/oauth/token": "never"})`` starts a server, stopped after."""
    with ExitStack() as stack:

        def make(routes: dict[str, str]) -> MisbehavingServer:
            return stack.enter_context(MisbehavingServer(routes))

        yield make
