"""Booking endpoints: hold, release, confirm, read and change appointments.

The writing ones run behind :func:`_idempotent`: it reads the body (the only ``await``) and then
runs synchronously to the end, so an idempotency check and the state change it guards can never
interleave with another request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError, FieldChecker
from .openapi_schemas import MAX_NAME_CHARS, MAX_NOTES_CHARS
from .records import appointment_json, hold_json
from .stores import StoredResponse, TokenGrant, request_fingerprint
from .web import authorize, error_response, json_response, sandbox_state

__all__ = ["appointment", "confirm", "get_appointment", "hold", "patch_appointment", "release"]

Handler = Callable[[TokenGrant, Any], Response]  # (grant, parsed JSON body) -> response


async def _idempotent(request: Request, scope: str, handle: Handler) -> Response:
    """Authorize, then run ``handle(grant, body)`` once per Idempotency-Key, replaying after."""
    grant = authorize(request, scope)
    raw = await request.body()
    key = request.headers.get("idempotency-key")
    if key is None:
        return _run(request, handle, grant, raw)
    state = sandbox_state(request)
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


async def hold(request: Request) -> Response:
    """POST /api/v1/appointments/hold."""
    engine = sandbox_state(request).engine

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
        return json_response(hold_json(held), 201)

    return await _idempotent(request, "appointments:write", handle)


async def release(request: Request) -> Response:
    """DELETE /api/v1/appointments/hold/{hold_id}."""
    grant = authorize(request, "appointments:write")
    sandbox_state(request).engine.release(
        grant.client.organization_id, request.path_params["hold_id"]
    )
    return Response(status_code=204)


async def confirm(request: Request) -> Response:
    """POST /api/v1/appointments/confirm."""
    engine = sandbox_state(request).engine

    def handle(grant: TokenGrant, body: Any) -> Response:
        fields = FieldChecker(body)
        hold_id = fields.text("hold_id")
        contact = {
            "contact_name": fields.text("contact_name", max_chars=MAX_NAME_CHARS),
            "contact_email": fields.email("contact_email"),
            "contact_phone": fields.phone("contact_phone"),
            "notes": fields.text("notes", required=False, max_chars=MAX_NOTES_CHARS),
        }
        fields.raise_if_any()
        hold_id = fields.checked("hold_id", hold_id)
        appointment = engine.confirm(grant.client.organization_id, hold_id, contact)
        return json_response(appointment_json(appointment), 201)

    return await _idempotent(request, "appointments:write", handle)


async def get_appointment(request: Request) -> Response:
    """GET /api/v1/appointments/{appointment_id}."""
    grant = authorize(request, "appointments:read")
    appointment = sandbox_state(request).engine.get_appointment(
        grant.client.organization_id, request.path_params["appointment_id"]
    )
    return json_response(appointment_json(appointment))


async def patch_appointment(request: Request) -> Response:
    """PATCH /api/v1/appointments/{appointment_id}: reschedule or cancel."""
    engine = sandbox_state(request).engine
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
            return json_response(appointment_json(engine.cancel(organization_id, appointment_id)))
        moment = fields.instant("appointment_time")
        fields.raise_if_any()
        moment = fields.checked("appointment_time", moment)
        moved = engine.reschedule(organization_id, appointment_id, moment)
        return json_response(appointment_json(moved))

    return await _idempotent(request, "appointments:write", handle)


_FIXED_PATHS = {"hold": "POST", "confirm": "POST"}  # /appointments/<these> are no appointment ids


async def appointment(request: Request) -> Response:
    """GET or PATCH /api/v1/appointments/{appointment_id}.

    ``hold`` and ``confirm`` are the paths of their own endpoints, never an appointment id:
    another method there is 405 with the methods those paths allow.
    """
    allowed = _FIXED_PATHS.get(request.path_params["appointment_id"])
    if allowed is not None:
        raise HTTPException(405, headers={"Allow": allowed})
    if request.method == "PATCH":
        return await patch_appointment(request)
    return await get_appointment(request)
