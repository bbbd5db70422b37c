"""The sandbox's OpenAPI 3.1 description of the Zimun booking API, served at ``/openapi.json``.

It covers the whole contract (``zimun-api.md``): the token endpoint, the ``/api/v1``
endpoints with their headers and error responses, and the sandbox-only endpoints. The
operations are tables (``API_OPERATIONS``, ``OTHER_OPERATIONS``, ``ERRORS``, ...); each
operation lists the error *codes* it can give, and its error responses are derived from them.
Every schema, header, parameter and error response is built once, by a small function, and
referenced elsewhere with ``$ref``. Standard library only, so importing this costs nothing.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

__all__ = ["build_openapi"]

Json = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
TITLE = "Zimun booking API (sandbox)"
API_VERSION = "1.0.0"
API_PREFIX = "/api/v1"
TOKEN_PATH = "/oauth/token"
BEARER_SCHEME = "bearerAuth"
BASIC_SCHEME = "clientBasic"

TOKEN_TTL_S = 3600
TOKEN_RATE_PER_MINUTE = 10
HOLD_TTL_MINUTES = 10
IDEMPOTENCY_TTL_HOURS = 24
MAX_IDEMPOTENCY_KEY_CHARS = 255
MIN_PAGE_SIZE, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 1, 100, 50
MIN_DAYS_AHEAD, MAX_DAYS_AHEAD, DEFAULT_DAYS_AHEAD = 1, 60, 7
# RFC 3339 date-times need an offset anyway; the pattern makes that explicit on request fields.
OFFSET_PATTERN = r"(Z|z|[+-]\d{2}:\d{2})$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

ORG, AVAIL, READ, WRITE = "org:read", "availability:read", "appointments:read", "appointments:write"
SCOPES = (
    (ORG, "Read the organization, its locations and its services."),
    (AVAIL, "Read availability."),
    (READ, "Read appointments."),
    (WRITE, "Hold, release, confirm, reschedule and cancel appointments."),
)

# route (API routes under API_PREFIX), operationId, bearer scope ("": none), "status [Schema]"
API_OPERATIONS = (
    ("GET /organization", "getOrganization", ORG, "200 Organization"),
    ("GET /locations", "listLocations", ORG, "200 LocationPage"),
    ("GET /services", "listServices", ORG, "200 ServicePage"),
    ("GET /availability", "getAvailability", AVAIL, "200 Availability"),
    ("POST /appointments/hold", "createHold", WRITE, "201 Hold"),
    ("DELETE /appointments/hold/{hold_id}", "releaseHold", WRITE, "204"),
    ("POST /appointments/confirm", "confirmHold", WRITE, "201 Appointment"),
    ("GET /appointments/{appointment_id}", "getAppointment", READ, "200 Appointment"),
    ("PATCH /appointments/{appointment_id}", "updateAppointment", WRITE, "200 Appointment"),
)
OTHER_OPERATIONS = (
    (f"POST {TOKEN_PATH}", "createToken", "", "200 Token"),
    ("GET /_sandbox/outbox", "getOutbox", "", "200 Outbox"),
    ("GET /_sandbox/clock", "getClock", "", "200 Clock"),
    ("POST /_sandbox/clock", "advanceClock", "", "200 ClockAdvanced"),
    ("GET /openapi.json", "getOpenapi", "", "200 OpenApiDocument"),
)
QUERY_PARAMS = {
    "getAvailability": ("service_id", "days_ahead", "location_id", "start_date"),
    "getOutbox": ("outbox_filter",),
}
REQUEST_BODIES = {
    "createHold": "HoldRequest",
    "confirmHold": "ConfirmRequest",
    "updateAppointment": "AppointmentPatch",
    "advanceClock": "ClockAdvance",
}
ERRORS = {  # error codes beyond the defaults (see _error_codes)
    "createToken": "rate_limited",
    "getAvailability": "location_required not_found",
    "createHold": "not_found slot_unavailable",
    "releaseHold": "not_found invalid_state",
    "confirmHold": "not_found hold_already_confirmed hold_expired",
    "getAppointment": "not_found",
    "updateAppointment": "not_found slot_unavailable invalid_state",
    "getOutbox": "invalid_request",
    "advanceClock": "invalid_request validation_error",
}
DESCRIPTIONS = {
    "createToken": "Client credentials by HTTP Basic or, in the sandbox, as the `client_id` and"
    " `client_secret` form fields (the anonymous alternative). Its own low rate limit"
    f" ({TOKEN_RATE_PER_MINUTE} per minute per client in the sandbox): cache tokens.",
    "createHold": f"Holds the slot for {HOLD_TTL_MINUTES} minutes; holds never exceed capacity.",
    "releaseHold": "Frees the slot at once; releasing twice is harmless. A confirmed hold is 409.",
    "confirmHold": "Turns the hold into an appointment; a confirmation email goes to the contact.",
    "updateAppointment": "Reschedule (`appointment_time`) or cancel (`status`); the contact is"
    " emailed. Cancelling twice is a no-op 200.",
    "advanceClock": "Moves the sandbox clock; with `simulate` the demand model books slots.",
}

# code, status, when: the contract's error table, plus 405 for a known path, wrong method
ERROR_CODES = (
    ("invalid_request", "400", "malformed query/body, unknown parameter value, bad `days_ahead`"),
    ("location_required", "400", "the service is at several locations and no `location_id`"),
    ("invalid_token", "401", "no, expired or unknown token"),
    ("insufficient_scope", "403", "the token lacks the scope"),
    ("not_found", "404", "unknown id, or an id of another organization"),
    ("method_not_allowed", "405", "the path exists, but not with this method"),
    ("slot_unavailable", "409", "the slot is no longer free (held, booked, closed, outside hours)"),
    ("hold_already_confirmed", "409", "the hold is already an appointment (not a replay)"),
    ("invalid_state", "409", "e.g. rescheduling a cancelled appointment"),
    ("hold_expired", "410", f"the hold is older than {HOLD_TTL_MINUTES} minutes, or was released"),
    ("validation_error", "422", "field-level problems, listed in `details`"),
    ("idempotency_key_reused", "422", "same `Idempotency-Key` with a different body"),
    ("rate_limited", "429", "too many requests; wait `Retry-After` seconds"),
    ("internal", "5XX", "server fault"),
)
ERROR_HEADERS = {"401": ("WWW-Authenticate",), "429": ("Retry-After",)}
STATUS_TEXT = {"200": "OK.", "201": "Created.", "204": "No content."}

TAGS = (
    ("auth", "OAuth2 client-credentials tokens."),
    ("catalogue", "The organization, its locations and services."),
    ("availability", "Free slots and the holiday map."),
    ("appointments", "Hold, release, confirm, reschedule, cancel."),
    ("sandbox", "Sandbox only; no token needed."),
)
TAG_ORDER = tuple(name for name, _ in TAGS)

ID_PREFIXES = (  # schema name, prefix, noun, example
    ("OrganizationId", "o", "organization", "o_demo"),
    ("LocationId", "l", "location", "l_berlin"),
    ("ServiceId", "s", "service", "s_123"),
    ("HoldId", "h", "hold", "h_123"),
    ("AppointmentId", "a", "appointment", "a_123"),
)

HEADERS = (  # name, description, type, always present where listed
    ("X-Request-Id", "Id of this request; an error's `request_id` equals it.", "string", True),
    ("X-RateLimit-Limit", "Size (burst) of the client's token bucket.", "integer", False),
    ("X-RateLimit-Remaining", "Requests left in the bucket.", "integer", False),
    ("X-RateLimit-Reset", "Seconds until the bucket is full again.", "number", False),
    ("Retry-After", "Whole seconds to wait before retrying.", "integer", True),
    ("Idempotent-Replayed", "`true` on a replay of the key's first response.", "string", False),
    ("WWW-Authenticate", '`Bearer error="invalid_token"`.', "string", True),
)
RESPONSE_HEADERS = tuple(name for name, *_ in HEADERS if name.startswith("X-"))  # on every one

DESCRIPTION = f"""\
A local emulation ("sandbox") of the Zimun booking API. Flow: token -> availability ->
{HOLD_TTL_MINUTES}-minute hold -> confirm -> PATCH to reschedule or cancel.

* JSON in UTF-8. Timestamps are ISO-8601 with an offset; a request timestamp without one is
  rejected with 422 `validation_error`. Slot `start`/`end` and `appointment_time` in responses
  use the location's offset; `expires_at`, `created_at`, `updated_at`, `generated_at` are UTC.
* IDs are opaque strings with a prefix: `o_`, `l_`, `s_`, `h_`, `a_`.
* Every response carries `X-Request-Id`; an error envelope's `request_id` equals it.
* A token bucket per client: API and token responses carry `X-RateLimit-*`, a 429 `Retry-After`.
* `POST` and `PATCH` accept `Idempotency-Key`; replays carry `Idempotent-Replayed: true`.
* The `/_sandbox/*` endpoints and `/openapi.json` exist only in the sandbox and need no token.
"""


def _ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema_ref(name: str) -> Json:
    return _ref("schemas", name)


def _obj(properties: Json, required: tuple[str, ...] | None = None, description: str = "") -> Json:
    """Return an object schema; every property is required unless ``required`` says otherwise."""
    schema: Json = {"type": "object", "properties": properties}
    schema["required"] = list(properties if required is None else required)
    return schema | ({"description": description} if description else {})


def _str(description: str, **extra: Any) -> Json:
    return {"type": "string", "description": description, **extra}


def _int(description: str, minimum: int, **extra: Any) -> Json:
    return {"type": "integer", "description": description, "minimum": minimum, **extra}


def _bool(description: str, **extra: Any) -> Json:
    return {"type": "boolean", "description": description, **extra}


def _array(items: Json, description: str, **extra: Any) -> Json:
    return {"type": "array", "items": items, "description": description, **extra}


def _timestamp(description: str, *, request: bool = False) -> Json:
    """Return a date-time schema; a request timestamp must carry an offset (else 422)."""
    if not request:
        return _str(description, format="date-time")
    note = " Must carry an offset (`Z` or `+01:00`); without one the request gets 422."
    return _str(description + note, format="date-time", pattern=OFFSET_PATTERN)


def _date(description: str) -> Json:
    return _str(f"{description} (`YYYY-MM-DD`).", format="date", pattern=DATE_PATTERN)


def _paginated(schema_ref: Json) -> Json:
    """Return the schema of one page of a list endpoint: ``{items, next_page_token}``."""
    token = _str("Pass as `page_token` for the next page; `null` on the last page.")
    items = _array(schema_ref, "This page's items.")
    return _obj({"items": items, "next_page_token": token | {"type": ["string", "null"]}})


def _response(description: str, schema: Json | None, headers: tuple[str, ...] = ()) -> Json:
    """Return a JSON response (no body if ``schema`` is None) with the usual headers."""
    names = (*RESPONSE_HEADERS, *headers)
    response: Json = {"description": description, "headers": {n: _ref("headers", n) for n in names}}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return response


def _explain(codes: list[str]) -> str:
    return "; ".join(f"`{code}`: {when}" for code, _, when in ERROR_CODES if code in codes) + "."


def _error_response_name(status: str) -> str:
    """Return the component name of the shared error response for ``status``."""
    return "ServerError" if status == "5XX" else HTTPStatus(int(status)).phrase.replace(" ", "")


def _error_response(status: str) -> Json:
    """Return the shared response for ``status``: the error envelope, every code it may carry."""
    codes = [code for code, code_status, _ in ERROR_CODES if code_status == status]
    return _response(_explain(codes), _schema_ref("Error"), ERROR_HEADERS.get(status, ()))


def _error_responses(codes: list[str]) -> Json:
    """Return ``{status: $ref}`` for ``codes``, each re-described with this operation's codes."""
    by_status: dict[str, list[str]] = {}
    for code, status, _ in ERROR_CODES:
        if code in codes:
            by_status.setdefault(status, []).append(code)
    refs = {status: _ref("responses", _error_response_name(status)) for status in by_status}
    return {
        status: ref | {"description": _explain(by_status[status])} for status, ref in refs.items()
    }


def _error_codes(operation_id: str, scope: str, writes: bool) -> list[str]:
    """Return the error codes of an operation: its own, plus those any such operation can give."""
    codes = ERRORS.get(operation_id, "").split() + ["internal"]
    if scope:
        codes += ["invalid_request", "invalid_token", "insufficient_scope", "rate_limited"]
    return codes + (["validation_error", "idempotency_key_reused"] if writes else [])


def _tag(path: str) -> str:
    if not path.startswith(API_PREFIX):
        return "auth" if path == TOKEN_PATH else "sandbox"
    section = path.removeprefix(API_PREFIX).split("/")[1]
    return section if section in ("availability", "appointments") else "catalogue"


def _operation(route: str, operation_id: str, scope: str, ok: str) -> tuple[str, str, Json]:
    """Return ``(path, method, operation)`` for one row of the operation tables."""
    method, path = route.lower().split(" ", 1)
    writes = path.startswith(API_PREFIX) and method in ("post", "patch")
    status, _, schema = ok.partition(" ")
    summary = re.sub(r"([A-Z])", r" \1", operation_id).capitalize()
    replayed = ("Idempotent-Replayed",) if writes else ()
    success = _response(STATUS_TEXT[status], _schema_ref(schema) if schema else None, replayed)
    op: Json = {"operationId": operation_id, "summary": summary, "tags": [_tag(path)]}
    op["description"] = DESCRIPTIONS.get(operation_id, summary + ".")
    op["parameters"] = _parameters(path, operation_id, schema, writes)
    if operation_id in REQUEST_BODIES:
        op["requestBody"] = _json_body(REQUEST_BODIES[operation_id])
    errors = _error_responses(_error_codes(operation_id, scope, writes))
    op["responses"] = {status: success} | errors
    op["security"] = [{BEARER_SCHEME: [scope]}] if scope else []
    return path, method, op


def _parameters(path: str, operation_id: str, schema: str, writes: bool) -> list[Json]:
    """Return the path and page parameters, the Idempotency-Key and the query filters."""
    names = re.findall(r"\{(\w+)\}", path)
    names += ["page_size", "page_token"] if schema.endswith("Page") else []
    names += ["Idempotency-Key"] if writes else []
    names += QUERY_PARAMS.get(operation_id, ())
    return [_ref("parameters", name) for name in names]


def _json_body(schema_name: str) -> Json:
    content = {"application/json": {"schema": _schema_ref(schema_name)}}
    return {"required": True, "description": f"A JSON object ({schema_name}).", "content": content}


def _param(name: str, where: str, description: str, schema: Json, required: bool = False) -> Json:
    param = {"name": name, "in": where, "required": required or where == "path"}
    return param | {"description": description, "schema": schema}


def _header_components() -> Json:
    headers: Json = {}
    for name, text, kind, always in HEADERS:
        schema = {"type": kind} if kind == "string" else {"type": kind, "minimum": 0}
        headers[name] = {"description": text, "required": always, "schema": schema}
    return headers


def _parameter_components() -> Json:
    key = (
        f"Makes a write safe to retry: a key's first response is kept {IDEMPOTENCY_TTL_HOURS} h"
        " and replayed for the same key and body; another body gets 422 `idempotency_key_reused`."
    )
    key_schema = {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS}
    size = _int("Items per page.", MIN_PAGE_SIZE, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)
    days = _int("Out of range: 400.", MIN_DAYS_AHEAD, maximum=MAX_DAYS_AHEAD)
    appointment, location = _schema_ref("AppointmentId"), _schema_ref("LocationId")
    several = "Required if the service is at several locations."
    return {
        "page_size": _param("page_size", "query", f"{MIN_PAGE_SIZE}-{MAX_PAGE_SIZE}.", size),
        "page_token": _param("page_token", "query", "A `next_page_token`.", _str("Opaque.")),
        "Idempotency-Key": _param("Idempotency-Key", "header", key, key_schema),
        "hold_id": _param("hold_id", "path", "The hold.", _schema_ref("HoldId")),
        "appointment_id": _param("appointment_id", "path", "The appointment.", appointment),
        "outbox_filter": _param("appointment_id", "query", "Only its emails.", appointment),
        "service_id": _param("service_id", "query", "The service.", _schema_ref("ServiceId"), True),
        "days_ahead": _param(
            "days_ahead", "query", "Days in the window.", days | {"default": DEFAULT_DAYS_AHEAD}
        ),
        "location_id": _param("location_id", "query", several, location),
        "start_date": _param("start_date", "query", "Default: today there.", _date("First day")),
    }


def _security_schemes() -> Json:
    basic = "client_id / client_secret (RFC 6749 §2.3.1), for `/oauth/token`."
    bearer = "`Authorization: Bearer <token>`; a token is scoped to one organization."
    flows = {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": dict(SCOPES)}}
    return {
        BASIC_SCHEME: {"type": "http", "scheme": "basic", "description": basic},
        BEARER_SCHEME: {"type": "oauth2", "description": bearer, "flows": flows},
    }


def _id_schemas() -> Json:
    return {
        name: _str(f"Opaque {noun} id.", pattern=rf"^{prefix}_\S+$", examples=[example])
        for name, prefix, noun, example in ID_PREFIXES
    }


def _error_schemas() -> Json:
    table = "\n".join(f"* `{code}` ({status}): {when}" for code, status, when in ERROR_CODES)
    codes = _str("Machine-readable error code.\n\n" + table, enum=[c for c, _, _ in ERROR_CODES])
    detail = _obj({"field": _str("The offending field."), "message": _str("What is wrong.")})
    body = {
        "code": _schema_ref("ErrorCode"),
        "message": _str("Human-readable explanation."),
        "request_id": _str("Equals the `X-Request-Id` response header."),
        "details": _array(_schema_ref("ErrorDetail"), "Field-level problems (422)."),
    }
    envelope = _obj({"error": _obj(body, ("code", "message", "request_id"))}, None, "Any error.")
    return {"ErrorCode": codes, "ErrorDetail": detail, "Error": envelope}


def _auth_schemas() -> Json:
    form = {
        "grant_type": _str("The grant.", enum=["client_credentials"]),
        "scope": _str("Space-separated subset of the scopes; default: all the client may have."),
        "client_id": _str("The client id, instead of HTTP Basic (sandbox)."),
        "client_secret": _str("The client secret, instead of HTTP Basic (sandbox)."),
    }
    token = {
        "access_token": _str("The bearer token."),
        "token_type": _str("Always `Bearer`.", enum=["Bearer"]),
        "expires_in": _int(f"Lifetime in seconds ({TOKEN_TTL_S}).", 1),
        "scope": _str("Space-separated scopes granted."),
        "organization_id": _schema_ref("OrganizationId"),
    }
    codes = ["invalid_request", "unsupported_grant_type", "invalid_scope", "invalid_client"]
    error = {"error": _str("RFC 6749 §5.2 code.", enum=codes), "error_description": _str("Why.")}
    return {
        "TokenRequest": _obj(form, ("grant_type",)),
        "Token": _obj(token),
        "OAuthError": _obj(error, ("error",), "RFC 6749 §5.2 error body (token endpoint only)."),
    }


def _catalogue_schemas() -> Json:
    place = {"timezone": _schema_ref("TimeZone"), "country": _schema_ref("CountryCode")}
    subdivision = _str("ISO 3166-2 code (`DE-BE`) or null.", pattern=r"^[A-Z]{2}-\w+$")
    location = {
        "location_id": _schema_ref("LocationId"),
        "name": _str("Display name."),
        **place,
        "subdivision": subdivision | {"type": ["string", "null"]},
        "address": _str("Postal address."),
        "active": _bool("Whether the location takes bookings."),
    }
    service = {
        "service_id": _schema_ref("ServiceId"),
        "name": _str("Display name."),
        "duration_minutes": _int("Appointment length in minutes.", 1),
        "buffer_minutes": _int("Gap after each appointment, in minutes.", 0),
        "location_ids": _array(_schema_ref("LocationId"), "Where the service is offered."),
        "active": _bool("Whether the service takes bookings."),
    }
    org = {"organization_id": _schema_ref("OrganizationId"), "name": _str("Display name."), **place}
    return {
        "TimeZone": _str("IANA time zone.", examples=["Europe/Berlin"]),
        "CountryCode": _str("ISO 3166-1 alpha-2 country code.", pattern=r"^[A-Z]{2}$"),
        "Organization": _obj(org),
        "Location": _obj(location),
        "Service": _obj(service),
        "LocationPage": _paginated(_schema_ref("Location")),
        "ServicePage": _paginated(_schema_ref("Service")),
    }


def _day_schemas() -> Json:
    slot = {
        "start": _timestamp("Slot start, in the location's offset."),
        "end": _timestamp("Slot end, in the location's offset."),
        "capacity": _int("Staff able to serve this slot.", 0),
        "available": _int("Staff still free; bookable while >= 1 (full slots may be omitted).", 0),
    }
    status = "`closed`: no working hours; `holiday`: public holiday or closed override."
    day = {
        "date": _date("Day in the location's zone"),
        "status": _str(status, enum=["open", "closed", "holiday"]),
        "slots": _array(_schema_ref("Slot"), "The day's slots, in time order."),
    }
    holiday = {
        "name": _str("The holiday's name, or the override's note."),
        "kind": _str("Public holiday or closed override.", enum=["public_holiday", "closed"]),
    }
    return {"Slot": _obj(slot), "AvailabilityDay": _obj(day), "Holiday": _obj(holiday)}


def _availability_schemas() -> Json:
    holidays = _obj({}, None, "Every public holiday and closed-override day in the window.")
    holidays |= {
        "propertyNames": {"pattern": DATE_PATTERN},
        "additionalProperties": _schema_ref("Holiday"),
    }
    availability = {
        "organization_id": _schema_ref("OrganizationId"),
        "service_id": _schema_ref("ServiceId"),
        "location_id": _schema_ref("LocationId"),
        "timezone": _schema_ref("TimeZone"),
        "start_date": _date("First day of the window"),
        "days_ahead": _int("Days in the window.", MIN_DAYS_AHEAD, maximum=MAX_DAYS_AHEAD),
        "generated_at": _timestamp("When this answer was computed (UTC)."),
        "slot_duration_minutes": _int("Length of one slot.", 1),
        "days": _array(_schema_ref("AvailabilityDay"), "Exactly `days_ahead` days.", minItems=1),
        "holidays": holidays,
    }
    return {"Availability": _obj(availability)}


def _booking_fields(time: Json) -> Json:
    """Return the fields that hold requests, holds and appointments share."""
    return {
        "organization_id": _schema_ref("OrganizationId"),
        "service_id": _schema_ref("ServiceId"),
        "location_id": _schema_ref("LocationId"),
        "appointment_time": time,
        "appointment_duration": _int("Duration in minutes; equals the service's.", 1),
    }


def _appointment_schemas() -> Json:
    request = _booking_fields(_timestamp("Slot start, on the slot grid.", request=True))
    local = _timestamp("Start, in the location's offset.")
    expires = _timestamp(f"Creation + {HOLD_TTL_MINUTES} minutes (UTC).")
    held = {"hold_id": _schema_ref("HoldId"), "status": _str("Always `held`.", enum=["held"])}
    confirm = {
        "hold_id": _schema_ref("HoldId"),
        "contact_name": _str("Customer name.", minLength=1),
        "contact_email": _str("Customer email; receives the confirmation.", format="email"),
        "contact_phone": _str("Customer phone."),
        "notes": _str("Free-text notes."),
    }
    appointment = {
        "appointment_id": _schema_ref("AppointmentId"),
        "status": _str("State.", enum=["scheduled", "confirmed", "cancelled"]),
        "hold_id": _schema_ref("HoldId"),
        **_booking_fields(local),
        "contact_name": _str("Customer name."),
        "contact_email": _str("Customer email.", format="email"),
        "created_at": _timestamp("Creation time (UTC)."),
        "updated_at": _timestamp("Last change (UTC)."),
    }
    return {
        "HoldRequest": _obj(request, tuple(k for k in request if k != "location_id")),
        "Hold": _obj({**held, **_booking_fields(local), "expires_at": expires}),
        "ConfirmRequest": _obj(confirm, ("hold_id", "contact_name", "contact_email")),
        "Appointment": _obj(appointment),
    } | _patch_schemas()


def _patch_schemas() -> Json:
    new_time = _timestamp("New start; same availability rules as a hold.", request=True)
    cancel = _str("Cancels and frees the slot at once.", enum=["cancelled"])
    options = [_schema_ref("RescheduleRequest"), _schema_ref("CancelRequest")]
    patch = "Reschedule or cancel, not both: a body with both fields matches both and gets 422."
    return {
        "RescheduleRequest": _obj({"appointment_time": new_time}, None, "Reschedule."),
        "CancelRequest": _obj({"status": cancel}, None, "Cancel."),
        "AppointmentPatch": {"description": patch, "oneOf": options},
    }


def _sandbox_schemas() -> Json:
    message = {
        "kind": _str("Which change.", enum=["confirmed", "rescheduled", "cancelled"]),
        "to": _str("Recipient.", format="email"),
        "appointment_id": _schema_ref("AppointmentId"),
        "sent_at": _timestamp("Sandbox time of sending (UTC)."),
        "subject": _str("Email subject."),
        "body": _str("Email body."),
    }
    clock = {"now": _timestamp("Sandbox time."), "frozen": _bool("Still between advances.")}
    advance = {
        "advance_seconds": {"type": "number", "minimum": 0, "description": "Seconds to move on."},
        "simulate": _bool("Let the demand model book free slots over the span.", default=False),
    }
    outbox = _array(_schema_ref("OutboxMessage"), "One per state change (none for a re-cancel).")
    return {
        "OutboxMessage": _obj(message),
        "Outbox": _obj({"items": outbox}),
        "Clock": _obj(clock),
        "ClockAdvance": _obj(advance, ("advance_seconds",)),
        "ClockAdvanced": _obj({**clock, "booked": _int("Appointments the model booked.", 0)}),
        "OpenApiDocument": {"type": "object", "description": "An OpenAPI 3.1 document."},
    }


def _components() -> Json:
    statuses = dict.fromkeys(status for _, status, _ in ERROR_CODES)
    schemas: Json = {}
    for part in (_id_schemas, _error_schemas, _auth_schemas, _catalogue_schemas):
        schemas |= part()
    for part in (_day_schemas, _availability_schemas, _appointment_schemas, _sandbox_schemas):
        schemas |= part()
    return {
        "schemas": schemas,
        "responses": {_error_response_name(s): _error_response(s) for s in statuses},
        "parameters": _parameter_components(),
        "headers": _header_components(),
        "securitySchemes": _security_schemes(),
    }


def _paths() -> Json:
    """Return the paths; the token endpoint gets its form body, RFC 6749 errors and security."""
    rows = [(f"{r.split()[0]} {API_PREFIX}{r.split()[1]}", *rest) for r, *rest in API_OPERATIONS]
    paths: Json = {}
    for row in [*rows, *OTHER_OPERATIONS]:
        path, method, op = _operation(*row)
        paths.setdefault(path, {})[method] = op
    token, oauth = paths[TOKEN_PATH]["post"], _schema_ref("OAuthError")
    form = {"application/x-www-form-urlencoded": {"schema": _schema_ref("TokenRequest")}}
    token["requestBody"] = {"required": True, "content": form}
    token["responses"] |= {
        "400": _response("`invalid_request`, `unsupported_grant_type`, `invalid_scope`.", oauth),
        "401": _response("`invalid_client`: unknown client or wrong secret.", oauth),
    }
    token["responses"] = dict(sorted(token["responses"].items()))
    token["security"] = [{BASIC_SCHEME: []}, {}]
    return dict(sorted(paths.items(), key=lambda item: TAG_ORDER.index(_tag(item[0]))))


def build_openapi(server_url: str | None = None) -> dict[str, Any]:
    """Build the sandbox's OpenAPI 3.1 document.

    Parameters
    ----------
    server_url
        Base URL the sandbox listens on (e.g. ``"http://127.0.0.1:8765"``); when given, it
        becomes the document's only ``servers`` entry.

    Returns
    -------
    dict
        A new JSON-serialisable document on every call, so callers may change it freely.
    """
    tags = [{"name": name, "description": text} for name, text in TAGS]
    groups = [
        {"name": "Zimun API", "tags": list(TAG_ORDER[:-1])},
        {"name": "Sandbox only", "tags": ["sandbox"]},
    ]
    info = {"title": TITLE, "version": API_VERSION, "description": DESCRIPTION}
    document: Json = {"openapi": OPENAPI_VERSION, "info": info, "tags": tags, "x-tagGroups": groups}
    if server_url is not None:
        document["servers"] = [{"url": server_url, "description": "This sandbox."}]
    return document | {"paths": _paths(), "components": _components()}
