"""HTTP endpoints of the sandbox: parse the request, call the engine, render the contract's JSON.

Endpoints read the body (the only ``await``) and then run synchronously to the end, so an
idempotency check and the state change it guards can never interleave with another request.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from .calendar import to_utc_iso
from .engine import Appointment, Hold
from .errors import ApiError, FieldChecker
from .state import SandboxState
from .stores import StoredResponse, TokenGrant, request_fingerprint
from .world import ApiClient

__all__ = ["error_response", "json_response", "ROUTES"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
MAX_DAYS_AHEAD = 60
DEFAULT_DAYS_AHEAD = 7
MAX_CLOCK_ADVANCE_S = 10 * 365 * 86400
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[TokenGrant, Any], Response]  # (grant, parsed JSON body) -> response


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response (UTF-8, no ASCII escaping)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status, headers=headers, media_type="application/json")


def error_response(request: Request, error: ApiError) -> Response:
    """The contract's error envelope, with the request id of this response."""
    payload: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "request_id": request.scope["state"]["request_id"],
    }
    if error.details:
        payload["details"] = error.details
    return json_response({"error": payload}, error.status, error.headers)


def _state(request: Request) -> SandboxState:
    return cast(SandboxState, request.app.state.sandbox)


# -- auth ------------------------------------------------------------------------------------


def _authorize(request: Request, scope: str) -> TokenGrant:
    """The grant behind the bearer token: 401 without a live token, 403 without the scope."""
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    state = _state(request)
    grant = (
        state.tokens.lookup(token.strip(), state.clock.now()) if kind.lower() == "bearer" else None
    )
    if grant is None:
        raise ApiError(
            401,
            "invalid_token",
            "missing, expired or unknown access token; request a new one at /oauth/token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if scope not in grant.scopes:
        raise ApiError(
            403,
            "insufficient_scope",
            f"this token lacks the scope {scope!r}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    return grant


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
    state = _state(request)
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
    bucket = state.token_limits.take(f"token:{client_id}")
    request.scope["state"]["rate_headers"] = bucket.headers()
    if not bucket.allowed:
        raise _rate_limited(bucket.retry_after_s, "token requests")
    client = state.world.clients.get(client_id)
    if client is None or not secrets.compare_digest(client.client_secret, secret):
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


def _rate_limited(retry_after_s: int, what: str) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"too many {what}; retry after {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


# -- query parsing ---------------------------------------------------------------------------


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,4}", raw.strip()) or not low <= int(raw) <= high:
        raise ApiError(
            400, "invalid_request", f"{name} must be a whole number from {low} to {high}"
        )
    return int(raw)


def _query_id(request: Request, name: str) -> str:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip() or len(raw) > 255:
        raise ApiError(400, "invalid_request", f"{name} is required and must not be empty")
    return raw


def _optional_query_id(request: Request, name: str) -> str | None:
    """None when ``name`` is absent; otherwise checked like a required id."""
    return None if request.query_params.get(name) is None else _query_id(request, name)


def _query_date(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        if not _DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be a date YYYY-MM-DD") from None


def _paginate(request: Request, items: list[dict[str, Any]], kind: str) -> Response:
    """One page of ``items``: ``{"items", "next_page_token"}``; tokens are opaque offsets."""
    size = _query_int(request, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    offset = 0
    raw = request.query_params.get("page_token")
    if raw:
        try:
            name, _, number = base64.urlsafe_b64decode(raw.encode() + b"==").decode().partition(":")
            offset = int(number)
            if name != kind or not 0 <= offset <= len(items):
                raise ValueError(raw)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ApiError(
                400,
                "invalid_request",
                "page_token was not issued for this list; start again without it",
            ) from None
    end = offset + size
    next_token = None
    if end < len(items):
        next_token = base64.urlsafe_b64encode(f"{kind}:{end}".encode()).decode().rstrip("=")
    return json_response({"items": items[offset:end], "next_page_token": next_token})


# -- catalogue and availability --------------------------------------------------------------


async def organization(request: Request) -> Response:
    """GET /api/v1/organization."""
    grant = _authorize(request, "org:read")
    org = _state(request).world.organizations[grant.client.organization_id]
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
    grant = _authorize(request, "org:read")
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
        for loc in _state(request).world.locations_of(grant.client.organization_id)
    ]
    return _paginate(request, items, "locations")


async def services(request: Request) -> Response:
    """GET /api/v1/services (paginated)."""
    grant = _authorize(request, "org:read")
    items = [
        {
            "service_id": s.service_id,
            "name": s.name,
            "duration_minutes": s.duration_minutes,
            "buffer_minutes": s.buffer_minutes,
            "location_ids": list(s.location_ids),
            "active": s.active,
        }
        for s in _state(request).world.services_of(grant.client.organization_id)
    ]
    return _paginate(request, items, "services")


async def availability(request: Request) -> Response:
    """GET /api/v1/availability."""
    grant = _authorize(request, "availability:read")
    state = _state(request)
    document = state.engine.availability(
        grant.client.organization_id,
        _query_id(request, "service_id"),
        _optional_query_id(request, "location_id"),
        _query_int(request, "days_ahead", DEFAULT_DAYS_AHEAD, 1, MAX_DAYS_AHEAD),
        _query_date(request, "start_date"),
        state.settings.omit_full_slots,
    )
    return json_response(document)


# -- appointments ----------------------------------------------------------------------------


async def _idempotent(request: Request, scope: str, handle: Handler) -> Response:
    """Authorize, then run ``handle(grant, body)`` once per Idempotency-Key, replaying after."""
    grant = _authorize(request, scope)
    raw = await request.body()
    key = request.headers.get("idempotency-key")
    if key is None:
        return _run(request, handle, grant, raw)
    state = _state(request)
    state.idempotency.check_key(key)
    fingerprint = request_fingerprint(request.method, request.url.path, raw)
    client_id, now = grant.client.client_id, state.clock.now()
    stored = state.idempotency.replay(client_id, key, fingerprint, now)
    if stored is not None:
        headers = {**stored.headers, "Idempotent-Replayed": "true"}
        return Response(stored.body, stored.status, headers, media_type="application/json")
    response = _run(request, handle, grant, raw)
    if response.status_code < 500 and response.status_code != 429:
        kept = {k: v for k, v in response.headers.items() if k.lower() == "location"}
        state.idempotency.remember(
            client_id,
            key,
            StoredResponse(fingerprint, response.status_code, bytes(response.body), kept, now),
        )
    return response


def _run(request: Request, handle: Handler, grant: TokenGrant, raw: bytes) -> Response:
    try:
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(400, "invalid_request", "the request body is not valid JSON") from None
        return handle(grant, body)
    except ApiError as error:
        return error_response(request, error)


def _hold_json(hold: Hold) -> dict[str, Any]:
    return {
        "hold_id": hold.hold_id,
        "status": hold.status,
        "organization_id": hold.organization_id,
        "service_id": hold.service.service_id,
        "location_id": hold.location.location_id,
        "appointment_time": hold.slot.start_iso,
        "appointment_duration": hold.service.duration_minutes,
        "expires_at": to_utc_iso(hold.expires_at),
    }


def _appointment_json(appointment: Appointment) -> dict[str, Any]:
    return {
        "appointment_id": appointment.appointment_id,
        "status": appointment.status,
        "hold_id": appointment.hold_id,
        "organization_id": appointment.organization_id,
        "service_id": appointment.service.service_id,
        "location_id": appointment.location.location_id,
        "appointment_time": appointment.slot.start_iso,
        "appointment_duration": appointment.service.duration_minutes,
        **appointment.contact,
        "created_at": to_utc_iso(appointment.created_at),
        "updated_at": to_utc_iso(appointment.updated_at),
    }


async def hold(request: Request) -> Response:
    """POST /api/v1/appointments/hold."""
    engine = _state(request).engine

    def handle(grant: TokenGrant, body: Any) -> Response:
        fields = FieldChecker(body)
        organization_id = fields.text("organization_id")
        service_id = fields.text("service_id")
        moment = fields.instant("appointment_time")
        duration = fields.positive_int("appointment_duration")
        location_id = fields.text("location_id", required=False)
        fields.raise_if_any()
        service_id = fields.checked("service_id", service_id)
        moment = fields.checked("appointment_time", moment)
        if organization_id != grant.client.organization_id:
            raise ApiError(404, "not_found", f"organization {organization_id!r} not found")
        service = engine.service(organization_id, service_id)
        if duration != service.duration_minutes:
            message = f"must equal the service's duration, {service.duration_minutes} minutes"
            raise ApiError(
                422,
                "validation_error",
                f"appointment_duration {message}",
                [{"field": "appointment_duration", "message": message}],
            )
        location = engine.location_for(organization_id, service, location_id, in_body=True)
        held = engine.hold(organization_id, service, location, moment)
        return json_response(_hold_json(held), 201)

    return await _idempotent(request, "appointments:write", handle)


async def release(request: Request) -> Response:
    """DELETE /api/v1/appointments/hold/{hold_id}."""
    grant = _authorize(request, "appointments:write")
    _state(request).engine.release(grant.client.organization_id, request.path_params["hold_id"])
    return Response(status_code=204)


async def confirm(request: Request) -> Response:
    """POST /api/v1/appointments/confirm."""
    engine = _state(request).engine

    def handle(grant: TokenGrant, body: Any) -> Response:
        fields = FieldChecker(body)
        hold_id = fields.text("hold_id")
        contact = {
            "contact_name": fields.text("contact_name", max_chars=200),
            "contact_email": fields.email("contact_email"),
            "contact_phone": fields.phone("contact_phone"),
            "notes": fields.text("notes", required=False, max_chars=2000),
        }
        fields.raise_if_any()
        hold_id = fields.checked("hold_id", hold_id)
        appointment = engine.confirm(grant.client.organization_id, hold_id, contact)
        return json_response(_appointment_json(appointment), 201)

    return await _idempotent(request, "appointments:write", handle)


async def get_appointment(request: Request) -> Response:
    """GET /api/v1/appointments/{appointment_id}."""
    grant = _authorize(request, "appointments:read")
    appointment = _state(request).engine.get_appointment(
        grant.client.organization_id, request.path_params["appointment_id"]
    )
    return json_response(_appointment_json(appointment))


async def patch_appointment(request: Request) -> Response:
    """PATCH /api/v1/appointments/{appointment_id}: reschedule or cancel."""
    engine = _state(request).engine
    appointment_id = request.path_params["appointment_id"]

    def handle(grant: TokenGrant, body: Any) -> Response:
        fields = FieldChecker(body)
        organization_id = grant.client.organization_id
        wants_time, wants_status = "appointment_time" in fields.body, "status" in fields.body
        if wants_time == wants_status:
            message = "send exactly one of appointment_time (reschedule) or status (cancel)"
            details = [{"field": f, "message": message} for f in ("appointment_time", "status")]
            raise ApiError(422, "validation_error", message, details)
        if wants_status:
            if fields.body["status"] != "cancelled":
                fields.problem("status", "the only status you can set is 'cancelled'")
            fields.raise_if_any()
            return json_response(_appointment_json(engine.cancel(organization_id, appointment_id)))
        moment = fields.instant("appointment_time")
        fields.raise_if_any()
        moment = fields.checked("appointment_time", moment)
        moved = engine.reschedule(organization_id, appointment_id, moment)
        return json_response(_appointment_json(moved))

    return await _idempotent(request, "appointments:write", handle)


# -- sandbox only ----------------------------------------------------------------------------


async def outbox(request: Request) -> Response:
    """GET /_sandbox/outbox[?appointment_id=...]."""
    wanted = request.query_params.get("appointment_id")
    items = _state(request).engine.outbox.items
    return json_response({"items": [i for i in items if wanted in (None, i["appointment_id"])]})


async def clock(request: Request) -> Response:
    """GET or POST /_sandbox/clock."""
    state = _state(request)
    booked = 0
    if request.method == "POST":
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(400, "invalid_request", "the request body is not valid JSON") from None
        seconds, simulate = _clock_fields(FieldChecker(body))
        before, after = state.clock.advance(seconds)
        if simulate:
            booked = state.engine.simulate(before, after)
    return json_response(
        {"now": to_utc_iso(state.clock.now()), "frozen": state.clock.frozen, "booked": booked}
    )


def _clock_fields(fields: FieldChecker) -> tuple[float, bool]:
    seconds = fields.body.get("advance_seconds", 0)
    simulate = fields.body.get("simulate", False)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        fields.problem("advance_seconds", "must be a number of seconds")
    elif not 0 <= seconds <= MAX_CLOCK_ADVANCE_S:
        fields.problem("advance_seconds", f"must be between 0 and {MAX_CLOCK_ADVANCE_S}")
    if not isinstance(simulate, bool):
        fields.problem("simulate", "must be true or false")
    fields.raise_if_any()
    return float(seconds), simulate


ROUTES: list[tuple[str, Endpoint, list[str]]] = [
    ("/oauth/token", token, ["POST"]),
    ("/api/v1/organization", organization, ["GET"]),
    ("/api/v1/locations", locations, ["GET"]),
    ("/api/v1/services", services, ["GET"]),
    ("/api/v1/availability", availability, ["GET"]),
    ("/api/v1/appointments/hold", hold, ["POST"]),
    ("/api/v1/appointments/hold/{hold_id}", release, ["DELETE"]),
    ("/api/v1/appointments/confirm", confirm, ["POST"]),
    ("/api/v1/appointments/{appointment_id}", get_appointment, ["GET"]),
    ("/api/v1/appointments/{appointment_id}", patch_appointment, ["PATCH"]),
    ("/_sandbox/outbox", outbox, ["GET"]),
    ("/_sandbox/clock", clock, ["GET", "POST"]),
]
