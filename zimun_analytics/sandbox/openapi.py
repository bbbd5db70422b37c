"""The sandbox's OpenAPI 3.1 description of the Zimun booking API, served at ``/openapi.json``.

The document covers the whole contract (``zimun-api.md``): the token endpoint, the
``/api/v1`` endpoints with their headers and error responses, and the sandbox-only endpoints.
Every schema, header, parameter and error response is built once by a small function and
referenced everywhere else with ``$ref``; each operation lists the error *codes* it can give,
and its error responses are derived from them. Standard library only, so the server can
import this at start-up for free.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_openapi"]

Json = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
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
# RFC 3339 date-times already need an offset; the pattern says so for request fields too.
OFFSET_PATTERN = r"(Z|z|[+-]\d{2}:\d{2})$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

SCOPES = (
    ("org:read", "Read the organization, its locations and its services."),
    ("availability:read", "Read availability."),
    ("appointments:read", "Read appointments."),
    ("appointments:write", "Hold, release, confirm, reschedule and cancel appointments."),
)

# code, status, when -- the contract's error table, plus 405 for a known path, wrong method
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
ERROR_RESPONSES = {  # status -> (component name, headers beyond the usual ones)
    "400": ("BadRequest", ()),
    "401": ("Unauthorized", ("WWW-Authenticate",)),
    "403": ("Forbidden", ()),
    "404": ("NotFound", ()),
    "405": ("MethodNotAllowed", ()),
    "409": ("Conflict", ()),
    "410": ("Gone", ()),
    "422": ("UnprocessableEntity", ()),
    "429": ("TooManyRequests", ("Retry-After",)),
    "5XX": ("ServerError", ()),
}
BEARER_CODES = (
    "invalid_request",
    "invalid_token",
    "insufficient_scope",
    "rate_limited",
    "internal",
)
WRITE_CODES = ("validation_error", "idempotency_key_reused")

ID_PREFIXES = (  # schema name, prefix, noun, example
    ("OrganizationId", "o", "organization", "o_demo"),
    ("LocationId", "l", "location", "l_berlin"),
    ("ServiceId", "s", "service", "s_123"),
    ("HoldId", "h", "hold", "h_123"),
    ("AppointmentId", "a", "appointment", "a_123"),
)

HEADERS = (  # name, description, type, always present
    ("X-Request-Id", "Id of this request; an error's `request_id` equals it.", "string", True),
    ("X-RateLimit-Limit", "Size (burst) of the client's token bucket.", "integer", False),
    ("X-RateLimit-Remaining", "Requests left in the bucket.", "integer", False),
    ("X-RateLimit-Reset", "Seconds until the bucket is full again.", "number", False),
    ("Retry-After", "Whole seconds to wait before retrying.", "integer", True),
    ("Idempotent-Replayed", "`true` on a replay of the key's first response.", "string", False),
    ("WWW-Authenticate", '`Bearer error="invalid_token"`.', "string", True),
)
API_HEADERS = ("X-Request-Id", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

DESCRIPTION = f"""\
A local emulation ("sandbox") of the Zimun booking API. Flow: token -> availability ->
{HOLD_TTL_MINUTES}-minute hold -> confirm -> PATCH to reschedule or cancel.

* JSON in UTF-8. Timestamps are ISO-8601 with an offset; a request timestamp without one is
  rejected with 422 `validation_error`. Slot `start`/`end` and `appointment_time` in responses
  use the location's offset; `expires_at`, `created_at`, `updated_at`, `generated_at` are UTC.
* IDs are opaque strings with a prefix: `o_`, `l_`, `s_`, `h_`, `a_`.
* Every response carries `X-Request-Id`; an error envelope's `request_id` equals it.
* A token bucket per client; API and token responses carry `X-RateLimit-*`, a 429 `Retry-After`.
* `POST` and `PATCH` accept `Idempotency-Key`; replays carry `Idempotent-Replayed: true`.
* The `/_sandbox/*` endpoints and `/openapi.json` exist only in the sandbox and need no token.
"""

# -- schema builders ----------------------------------------------------------------------------


def _ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def _schema_ref(name: str) -> Json:
    return _ref("schemas", name)


def _obj(properties: Json, required: tuple[str, ...] | None = None, description: str = "") -> Json:
    """Return an object schema; every property is required unless ``required`` says otherwise."""
    schema: Json = {"type": "object", "properties": properties}
    schema["required"] = list(properties if required is None else required)
    if description:
        schema["description"] = description
    return schema


def _str(description: str, **extra: Any) -> Json:
    return {"type": "string", "description": description, **extra}


def _int(description: str, minimum: int, **extra: Any) -> Json:
    return {"type": "integer", "description": description, "minimum": minimum, **extra}


def _bool(description: str, **extra: Any) -> Json:
    return {"type": "boolean", "description": description, **extra}


def _array(items: Json, description: str = "", **extra: Any) -> Json:
    return {"type": "array", "items": items, "description": description, **extra}


def _nullable(schema: Json) -> Json:
    return {**schema, "type": [schema["type"], "null"]}


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
    return _obj(
        {"items": _array(schema_ref, "This page's items."), "next_page_token": _nullable(token)}
    )


# -- response and operation builders ----------------------------------------------------------


def _response(description: str, schema: Json | None, headers: tuple[str, ...]) -> Json:
    response: Json = {"description": description}
    response["headers"] = {name: _ref("headers", name) for name in headers}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return response


def _explain(codes: list[str]) -> str:
    return "; ".join(f"`{code}`: {when}" for code, _, when in ERROR_CODES if code in codes) + "."


def _error_response(description: str, extra_headers: tuple[str, ...] = ()) -> Json:
    """Return a response whose body is the error envelope."""
    return _response(description, _schema_ref("Error"), (*API_HEADERS, *extra_headers))


def _error_responses(codes: tuple[str, ...]) -> Json:
    """Return ``{status: $ref}`` for the given error codes, re-described for this operation."""
    by_status: dict[str, list[str]] = {}
    for code, status, _ in ERROR_CODES:
        if code in codes:
            by_status.setdefault(status, []).append(code)
    responses = {}
    for status, status_codes in by_status.items():
        responses[status] = _ref("responses", ERROR_RESPONSES[status][0])
        responses[status]["description"] = _explain(status_codes)
    return responses


def _tag(path: str) -> str:
    """Return the tag group of ``path``."""
    if not path.startswith(API_PREFIX):
        return "auth" if path == TOKEN_PATH else "sandbox"
    section = path.removeprefix(API_PREFIX).split("/")[1]
    return section if section in ("availability", "appointments") else "catalogue"


def _operation(
    route: str, operation_id: str, ok: str, summary: str, scope: str | None = None, **kw: Any
) -> tuple[str, str, Json]:
    """Return ``(path, method, operation)`` for ``route`` (``"GET /path"``).

    ``ok`` is the success status and schema (``"200 Organization"``, ``"204"``); ``scope`` is
    the bearer scope needed (None: no token). ``kw`` may hold ``params``, ``body`` (a schema
    name) and ``errors`` (space-separated codes); path and page parameters, and the
    Idempotency-Key machinery of API writes, are added here.
    """
    method, path = route.lower().split(" ", 1)
    writes = path.startswith(API_PREFIX) and method in ("post", "patch")
    status, _, schema = ok.partition(" ")
    headers = (*API_HEADERS, "Idempotent-Replayed") if writes else API_HEADERS
    success = _response(f"{summary}.", _schema_ref(schema) if schema else None, headers)
    op: Json = {"operationId": operation_id, "summary": summary, "tags": [_tag(path)]}
    op["parameters"] = [*_implied_params(path, schema, writes), *kw.get("params", ())]
    if "body" in kw:
        op["requestBody"] = _json_body(kw["body"])
    codes = kw.get("errors", "").split() + (list(BEARER_CODES) if scope else [])
    codes += list(WRITE_CODES) if writes else []
    op["responses"] = {status: success} | _error_responses(tuple(codes))
    op["security"] = [{BEARER_SCHEME: [scope]}] if scope else []
    return path, method, op


def _implied_params(path: str, schema: str, writes: bool) -> list[Json]:
    """Return refs to the path parameters, the page parameters and the Idempotency-Key."""
    names = ["HoldId"] if "{hold_id}" in path else []
    names += ["AppointmentId"] if "{appointment_id}" in path else []
    names += ["PageSize", "PageToken"] if schema.endswith("Page") else []
    names += ["IdempotencyKey"] if writes else []
    return [_ref("parameters", name) for name in names]


def _json_body(schema_name: str) -> Json:
    content = {"application/json": {"schema": _schema_ref(schema_name)}}
    return {"required": True, "description": f"A JSON object ({schema_name}).", "content": content}


def _param(name: str, where: str, description: str, schema: Json, required: bool = False) -> Json:
    return {
        "name": name,
        "in": where,
        "description": description,
        "required": required,
        "schema": schema,
    }


# -- components -------------------------------------------------------------------------------


def _header_components() -> Json:
    return {
        name: {"description": text, "required": always, "schema": {"type": kind}}
        | ({"schema": {"type": kind, "minimum": 0}} if kind != "string" else {})
        for name, text, kind, always in HEADERS
    }


def _parameter_components() -> Json:
    key = (
        f"Makes a write safe to retry: the first response to a key is kept {IDEMPOTENCY_TTL_HOURS} h"
        " and replayed for the same key and body; another body gets 422 `idempotency_key_reused`."
    )
    key_schema = {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS}
    size = _int(f"{MIN_PAGE_SIZE}-{MAX_PAGE_SIZE}.", MIN_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
    return {
        "PageSize": _param(
            "page_size", "query", "Items per page.", size | {"default": DEFAULT_PAGE_SIZE}
        ),
        "PageToken": _param(
            "page_token", "query", "The previous page's `next_page_token`.", _str("Opaque.")
        ),
        "IdempotencyKey": _param("Idempotency-Key", "header", key, key_schema),
        "HoldId": _param("hold_id", "path", "The hold.", _schema_ref("HoldId"), True),
        "AppointmentId": _param(
            "appointment_id", "path", "The appointment.", _schema_ref("AppointmentId"), True
        ),
    }


def _response_components() -> Json:
    return {
        name: _error_response(_explain([c for c, s, _ in ERROR_CODES if s == status]), headers)
        for status, (name, headers) in ERROR_RESPONSES.items()
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
        name: _str(
            f"Opaque {noun} id, prefixed `{prefix}_`.",
            pattern=rf"^{prefix}_\S+$",
            examples=[example],
        )
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
    envelope = _obj(
        {"error": _obj(body, ("code", "message", "request_id"))}, None, "Error envelope."
    )
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
    location = {
        "location_id": _schema_ref("LocationId"),
        "name": _str("Display name."),
        **place,
        "subdivision": _nullable(
            _str("ISO 3166-2 code (`DE-BE`) or null.", pattern=r"^[A-Z]{2}-\w+$")
        ),
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


def _availability_schemas() -> Json:
    slot = {
        "start": _timestamp("Slot start, in the location's offset."),
        "end": _timestamp("Slot end, in the location's offset."),
        "capacity": _int("Staff able to serve this slot.", 0),
        "available": _int("Staff still free; bookable while >= 1 (full slots may be omitted).", 0),
    }
    day = {
        "date": _date("Day in the location's zone"),
        "status": _str(
            "No working hours: `closed`; holiday or closed override: `holiday`.",
            enum=["open", "closed", "holiday"],
        ),
        "slots": _array(_schema_ref("Slot"), "The day's slots, in time order."),
    }
    holiday = {
        "name": _str("The holiday's name, or the override's note."),
        "kind": _str("Public holiday or closed override.", enum=["public_holiday", "closed"]),
    }
    holidays = {
        "type": "object",
        "description": "Every public holiday and closed-override day in the window, by date.",
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
    return {
        "Slot": _obj(slot),
        "AvailabilityDay": _obj(day),
        "Holiday": _obj(holiday),
        "Availability": _obj(availability),
    }


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
    states = ["scheduled", "confirmed", "cancelled"]
    appointment = {
        "appointment_id": _schema_ref("AppointmentId"),
        "status": _str("State of the appointment.", enum=states),
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
    cancel = _str("Cancels and frees the slot; cancelling twice is a no-op.", enum=["cancelled"])
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
    clock = {
        "now": _timestamp("Current sandbox time."),
        "frozen": _bool("Stands still between advances."),
    }
    advance = {
        "advance_seconds": {"type": "number", "minimum": 0, "description": "Seconds to move on."},
        "simulate": _bool("Let the demand model book free slots over the span.", default=False),
    }
    outbox = _array(
        _schema_ref("OutboxMessage"), "One per state change (none for a repeated cancel)."
    )
    return {
        "OutboxMessage": _obj(message),
        "Outbox": _obj({"items": outbox}),
        "Clock": _obj(clock),
        "ClockAdvance": _obj(advance, ("advance_seconds",)),
        "ClockAdvanced": _obj(
            {**clock, "booked": _int("Appointments the demand model booked.", 0)}
        ),
    }


def _components() -> Json:
    schemas: Json = {}
    for part in (_id_schemas, _error_schemas, _auth_schemas, _catalogue_schemas):
        schemas |= part()
    for part in (_availability_schemas, _appointment_schemas, _sandbox_schemas):
        schemas |= part()
    return {
        "schemas": schemas,
        "responses": _response_components(),
        "parameters": _parameter_components(),
        "headers": _header_components(),
        "securitySchemes": _security_schemes(),
    }


# -- operations -------------------------------------------------------------------------------


def _token_operation() -> tuple[str, str, Json]:
    route, limit = f"POST {TOKEN_PATH}", f"{TOKEN_RATE_PER_MINUTE}/minute per client (sandbox)"
    path, method, op = _operation(route, "createToken", "200 Token", "Get an access token")
    op["description"] = (
        "Client credentials by HTTP Basic or, in the sandbox, as the `client_id`/`client_secret`"
        f" form fields (the anonymous alternative). Its own low rate limit, {limit}: cache tokens."
    )
    form = {"application/x-www-form-urlencoded": {"schema": _schema_ref("TokenRequest")}}
    op["requestBody"] = {"required": True, "content": form}
    oauth, scope_codes = _schema_ref("OAuthError"), "`unsupported_grant_type`, `invalid_scope`"
    op["responses"] |= {
        "400": _response(f"`invalid_request`, {scope_codes}.", oauth, API_HEADERS),
        "401": _response("`invalid_client`: unknown client or bad secret.", oauth, API_HEADERS),
    } | _error_responses(("rate_limited", "internal"))
    op["security"] = [{BASIC_SCHEME: []}, {}]
    return path, method, op


def _api_operations() -> list[tuple[str, str, Json]]:
    api, org, write = API_PREFIX, "org:read", "appointments:write"
    gone = "not_found hold_already_confirmed hold_expired"
    return [
        _operation(
            f"GET {api}/organization",
            "getOrganization",
            "200 Organization",
            "The organization",
            org,
        ),
        _operation(
            f"GET {api}/locations", "listLocations", "200 LocationPage", "List locations", org
        ),
        _operation(f"GET {api}/services", "listServices", "200 ServicePage", "List services", org),
        _operation(
            f"GET {api}/availability",
            "getAvailability",
            "200 Availability",
            "Slots and holidays",
            "availability:read",
            params=_availability_params(),
            errors="location_required not_found",
        ),
        _operation(
            f"POST {api}/appointments/hold",
            "createHold",
            "201 Hold",
            "Hold a slot",
            write,
            body="HoldRequest",
            errors="not_found slot_unavailable",
        ),
        _operation(
            f"DELETE {api}/appointments/hold/{{hold_id}}",
            "releaseHold",
            "204",
            "Release a hold; its slot is free at once",
            write,
            errors=gone,
        ),
        _operation(
            f"POST {api}/appointments/confirm",
            "confirmHold",
            "201 Appointment",
            "Confirm a hold; the contact is emailed",
            write,
            body="ConfirmRequest",
            errors=gone,
        ),
        _operation(
            f"GET {api}/appointments/{{appointment_id}}",
            "getAppointment",
            "200 Appointment",
            "Get an appointment",
            "appointments:read",
            errors="not_found",
        ),
        _operation(
            f"PATCH {api}/appointments/{{appointment_id}}",
            "updateAppointment",
            "200 Appointment",
            "Reschedule or cancel; the contact is emailed",
            write,
            body="AppointmentPatch",
            errors="not_found slot_unavailable invalid_state",
        ),
    ]


def _availability_params() -> tuple[Json, ...]:
    days = _int("Out of range is 400 `invalid_request`.", MIN_DAYS_AHEAD, maximum=MAX_DAYS_AHEAD)
    location = "Required if the service is offered at several locations."
    return (
        _param("service_id", "query", "The service.", _schema_ref("ServiceId"), True),
        _param(
            "days_ahead", "query", "Days in the window.", days | {"default": DEFAULT_DAYS_AHEAD}
        ),
        _param("location_id", "query", location, _schema_ref("LocationId")),
        _param("start_date", "query", "Default: today in the location's zone.", _date("First day")),
    )


def _sandbox_operations() -> list[tuple[str, str, Json]]:
    only = _param(
        "appointment_id", "query", "Only this appointment's.", _schema_ref("AppointmentId")
    )
    bad, post = "invalid_request internal", "POST /_sandbox/clock"
    ops = [
        _operation(
            "GET /_sandbox/outbox",
            "getOutbox",
            "200 Outbox",
            "Emails sent so far",
            params=(only,),
            errors=bad,
        ),
        _operation("GET /_sandbox/clock", "getClock", "200 Clock", "The sandbox clock", errors=bad),
        _operation(
            post,
            "advanceClock",
            "200 ClockAdvanced",
            "Advance the sandbox clock",
            body="ClockAdvance",
            errors=f"{bad} validation_error",
        ),
        _operation(
            "GET /openapi.json", "getOpenapi", "200", "This OpenAPI 3.1 document", errors=bad
        ),
    ]
    ops[-1][2]["responses"]["200"]["content"] = {"application/json": {"schema": {"type": "object"}}}
    return ops


def _paths() -> Json:
    paths: Json = {}
    for path, method, op in [_token_operation(), *_api_operations(), *_sandbox_operations()]:
        paths.setdefault(path, {})[method] = op
    return paths


def _tags() -> list[Json]:
    return [
        {"name": "auth", "description": "OAuth2 client-credentials tokens."},
        {"name": "catalogue", "description": "The organization, its locations and services."},
        {"name": "availability", "description": "Free slots and the holiday map."},
        {"name": "appointments", "description": "Hold, release, confirm, reschedule, cancel."},
        {"name": "sandbox", "description": "Sandbox only; no token needed."},
    ]


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
    groups = [
        {"name": "Zimun API", "tags": ["auth", "catalogue", "availability", "appointments"]},
        {"name": "Sandbox only", "tags": ["sandbox"]},
    ]
    document: Json = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Zimun booking API (sandbox)",
            "version": API_VERSION,
            "description": DESCRIPTION,
        },
        "tags": _tags(),
        "x-tagGroups": groups,
        "paths": _paths(),
        "components": _components(),
    }
    if server_url is not None:
        document["servers"] = [{"url": server_url, "description": "This sandbox."}]
    return document
