"""HTTP endpoints of the sandbox: parse the request, call the engine, render the contract's JSON.

Endpoints read the body (the only ``await``) and then run synchronously to the end, so an
idempotency check and the state change it guards can never interleave with another request.
Here: the token endpoint, catalogue, availability, the sandbox-only clock and outbox, and the
:data:`ROUTES` table of all endpoints; the booking ones live in :mod:`.booking_routes`, what
every endpoint shares in :mod:`.web`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from . import booking_routes
from .calendar import to_utc_iso
from .errors import ApiError, FieldChecker
from .openapi_schemas import APPOINTMENT_ID_PATTERN, MAX_CLOCK_ADVANCE_S
from .state import SandboxState
from .web import (
    authorize,
    json_response,
    optional_query_id,
    paginate,
    query_date,
    query_id,
    query_int,
    rate_limited,
    sandbox_state,
)
from .world import ApiClient

__all__ = ["ROUTES"]

MAX_DAYS_AHEAD = 60
DEFAULT_DAYS_AHEAD = 7
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Endpoint = Callable[[Request], Awaitable[Response]]


# -- access tokens ---------------------------------------------------------------------------


def _oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response(
        {"error": error, "error_description": description}, status, {**_NO_STORE, **(headers or {})}
    )


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str, bool]:
    """(client_id, client_secret, came_by_basic); ValueError when malformed or given twice."""
    header = request.headers.get("authorization", "")
    kind, _, encoded = header.partition(" ")
    if kind.lower() == "basic":
        if "client_secret" in form:
            raise ValueError("send client credentials by Basic auth or form fields, not both")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("the Basic authorization header is not valid base64") from exc
        client_id, _, secret = decoded.partition(":")
        return client_id, secret, True
    return form.get("client_id", ""), form.get("client_secret", ""), False


async def token(request: Request) -> Response:
    """POST /oauth/token: the client-credentials grant (RFC 6749 §4.4)."""
    state = sandbox_state(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    try:
        if content_type != "application/x-www-form-urlencoded":
            raise ValueError("send the form as application/x-www-form-urlencoded")
        pairs = parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
        form = {key: values[-1] for key, values in pairs.items()}
        client_id, secret, by_basic = _client_credentials(request, form)
    except ValueError as exc:
        return _oauth_error(400, "invalid_request", str(exc))
    client = state.world.clients.get(client_id)
    known = client is not None and secrets.compare_digest(client.client_secret, secret)
    # wrong secrets spend the sender's own budget, by address: whoever knows a client id
    # cannot lock its owner out, and guessing secrets stays as slow as the limit
    peer = request.client.host if request.client else "?"
    decision = state.token_limits.take(f"token:{client_id}" if known else f"refused:{peer}")
    request.scope["state"]["rate_headers"] = decision.headers()
    if not decision.allowed:
        raise rate_limited(decision, "token requests")
    if client is None or not known:
        headers = {"WWW-Authenticate": 'Basic realm="zimun"'} if by_basic else None
        return _oauth_error(401, "invalid_client", "unknown client or wrong secret", headers)
    return _grant(state, client, form)


def _grant(state: SandboxState, client: ApiClient, form: dict[str, str]) -> Response:
    grant_type = form.get("grant_type")
    if not grant_type:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    asked = frozenset(form.get("scope", "").split()) or client.scopes
    if not asked <= client.scopes:
        allowed = " ".join(sorted(client.scopes))
        return _oauth_error(400, "invalid_scope", f"scope must be a subset of: {allowed}")
    ttl = state.settings.token_ttl
    access_token = state.tokens.issue(client, asked, state.clock.now() + timedelta(seconds=ttl))
    return json_response(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(ttl),
            "scope": " ".join(sorted(asked)),
            "organization_id": client.organization_id,
        },
        headers=_NO_STORE,
    )


# -- catalogue and availability --------------------------------------------------------------


async def organization(request: Request) -> Response:
    """GET /api/v1/organization."""
    grant = authorize(request, "org:read")
    org = sandbox_state(request).world.organizations[grant.client.organization_id]
    return json_response(
        {
            "organization_id": org.organization_id,
            "name": org.name,
            "timezone": org.timezone,
            "country": org.country,
        }
    )


async def locations(request: Request) -> Response:
    """GET /api/v1/locations (paginated)."""
    grant = authorize(request, "org:read")
    items = [
        {
            "location_id": loc.location_id,
            "name": loc.name,
            "timezone": loc.timezone,
            "country": loc.country,
            "subdivision": loc.subdivision,
            "address": loc.address,
            "active": loc.active,
        }
        for loc in sandbox_state(request).world.locations_of(grant.client.organization_id)
    ]
    return paginate(request, items, "locations")


async def services(request: Request) -> Response:
    """GET /api/v1/services (paginated)."""
    grant = authorize(request, "org:read")
    items = [
        {
            "service_id": s.service_id,
            "name": s.name,
            "duration_minutes": s.duration_minutes,
            "buffer_minutes": s.buffer_minutes,
            "location_ids": list(s.location_ids),
            "active": s.active,
        }
        for s in sandbox_state(request).world.services_of(grant.client.organization_id)
    ]
    return paginate(request, items, "services")


async def availability(request: Request) -> Response:
    """GET /api/v1/availability."""
    grant = authorize(request, "availability:read")
    state = sandbox_state(request)
    document = state.engine.availability(
        grant.client.organization_id,
        query_id(request, "service_id"),
        optional_query_id(request, "location_id"),
        query_int(request, "days_ahead", DEFAULT_DAYS_AHEAD, 1, MAX_DAYS_AHEAD),
        query_date(request, "start_date"),
        state.settings.omit_full_slots,
    )
    return json_response(document)


# -- sandbox only ----------------------------------------------------------------------------


async def outbox(request: Request) -> Response:
    """GET /_sandbox/outbox[?appointment_id=...]."""
    wanted = request.query_params.get("appointment_id")
    if wanted is not None and not re.match(APPOINTMENT_ID_PATTERN, wanted):
        raise ApiError(400, "invalid_request", "appointment_id must be an appointment id (a_...)")
    items = sandbox_state(request).engine.outbox.items
    return json_response({"items": [i for i in items if wanted in (None, i["appointment_id"])]})


async def clock(request: Request) -> Response:
    """GET or POST /_sandbox/clock."""
    state = sandbox_state(request)
    booked = 0
    if request.method == "POST":
        raw = await request.body()
        if not raw.strip():
            raise ApiError(400, "invalid_request", 'send a JSON body: {"advance_seconds": N}')
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(400, "invalid_request", "the request body is not valid JSON") from None
        seconds, simulate = _clock_fields(FieldChecker(body))
        before, after = state.clock.advance(seconds)
        if simulate:
            booked = state.engine.simulate(before, after)
    return json_response(
        {"now": to_utc_iso(state.clock.now()), "frozen": state.clock.frozen, "booked": booked}
    )


async def traffic(request: Request) -> Response:
    """GET or DELETE /_sandbox/traffic: what the API was asked since the last reset."""
    counts = sandbox_state(request).traffic
    if request.method == "DELETE":
        counts.reset()
    return json_response(counts.as_json())


def _clock_fields(fields: FieldChecker) -> tuple[float, bool]:
    seconds = fields.body.get("advance_seconds")
    simulate = fields.body.get("simulate", False)
    if seconds is None:
        fields.problem("advance_seconds", "is required")
    elif isinstance(seconds, bool) or not isinstance(seconds, int | float):
        fields.problem("advance_seconds", "must be a number of seconds")
    elif not 0 <= seconds <= MAX_CLOCK_ADVANCE_S:
        fields.problem("advance_seconds", f"must be between 0 and {MAX_CLOCK_ADVANCE_S}")
    if not isinstance(simulate, bool):
        fields.problem("simulate", "must be true or false")
    fields.raise_if_any()
    assert isinstance(seconds, int | float)  # raise_if_any refused anything else
    return float(seconds), simulate


ROUTES: list[tuple[str, Endpoint, list[str]]] = [
    ("/oauth/token", token, ["POST"]),
    ("/api/v1/organization", organization, ["GET"]),
    ("/api/v1/locations", locations, ["GET"]),
    ("/api/v1/services", services, ["GET"]),
    ("/api/v1/availability", availability, ["GET"]),
    ("/api/v1/appointments/hold", booking_routes.hold, ["POST"]),
    ("/api/v1/appointments/hold/{hold_id}", booking_routes.release, ["DELETE"]),
    ("/api/v1/appointments/confirm", booking_routes.confirm, ["POST"]),
    # one route for both methods, so that a 405 there allows both
    ("/api/v1/appointments/{appointment_id}", booking_routes.appointment, ["GET", "PATCH"]),
    ("/_sandbox/outbox", outbox, ["GET"]),
    ("/_sandbox/clock", clock, ["GET", "POST"]),
    ("/_sandbox/traffic", traffic, ["GET", "DELETE"]),
]
