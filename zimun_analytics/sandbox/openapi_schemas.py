"""Component schemas of the sandbox's OpenAPI document: the JSON bodies of the Zimun API.

:func:`component_schemas` builds ``components.schemas`` for :mod:`.openapi`: opaque ids, the error
envelope (whose ``ErrorCode`` enum is the contract's error table, ``ERROR_CODES``), tokens, the
catalogue, availability, holds and appointments, and the sandbox-only bodies. Each schema is built
once and referenced elsewhere with ``$ref``; :func:`string`, :func:`integer` and
:func:`date_string` also serve :mod:`.openapi` for its parameters. Standard library only.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_DAYS_AHEAD",
    "ERROR_CODES",
    "HOLD_TTL_MINUTES",
    "MAX_DAYS_AHEAD",
    "MIN_DAYS_AHEAD",
    "Json",
    "component_schemas",
    "date_string",
    "integer",
    "ref",
    "schema_ref",
    "string",
]

Json = dict[str, Any]

TOKEN_TTL_S = 3600
HOLD_TTL_MINUTES = 10
MIN_DAYS_AHEAD, MAX_DAYS_AHEAD, DEFAULT_DAYS_AHEAD = 1, 60, 7
# RFC 3339 date-times need an offset anyway; the pattern makes that explicit on request fields.
OFFSET_PATTERN = r"(Z|z|[+-]\d{2}:\d{2})$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"

# Rules the server enforces on request fields, declared here for it and for the schema alike.
# White space as Python's re and the schema's ECMA-262 regexes both count it: their \s differ
# (U+001C-U+001F and U+0085 in Python, U+FEFF in ECMA), so neither side uses \s
_SPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NONBLANK_PATTERN = rf"[^{_SPACE}]"  # somewhere a character that is not white space
EMAIL_PATTERN = rf"^[^@{_SPACE}]+@[^@{_SPACE}]+\.[A-Za-z0-9-]{{2,}}$"
PHONE_PATTERN = r"^\+?[0-9 ()./-]{5,32}$"
MAX_NAME_CHARS, MAX_EMAIL_CHARS, MAX_NOTES_CHARS = 200, 254, 2000
MAX_CLOCK_ADVANCE_S = 10 * 365 * 86400
MAX_REQUEST_BODY_BYTES = 64 * 1024  # more gets 413 before it is read (the API's bodies: <1 KiB)
MAX_BODY_KIB = MAX_REQUEST_BODY_BYTES // 1024

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
    ("payload_too_large", "413", f"a request body over {MAX_BODY_KIB} KiB, refused unread"),
    ("validation_error", "422", "field-level problems, listed in `details`"),
    ("idempotency_key_reused", "422", "same `Idempotency-Key` with a different body"),
    ("rate_limited", "429", "too many requests; wait as `Retry-After` says"),
    ("internal", "5XX", "server fault"),
)

ID_PREFIXES = (  # schema name, prefix, noun, example
    ("OrganizationId", "o", "organization", "o_demo"),
    ("LocationId", "l", "location", "l_berlin"),
    ("ServiceId", "s", "service", "s_123"),
    ("HoldId", "h", "hold", "h_123"),
    ("AppointmentId", "a", "appointment", "a_123"),
)


def ref(kind: str, name: str) -> Json:
    """Return a ``$ref`` to the component ``name`` of ``kind`` (``schemas``, ``headers``, ...)."""
    return {"$ref": f"#/components/{kind}/{name}"}


def schema_ref(name: str) -> Json:
    """Return a ``$ref`` to the schema ``name``."""
    return ref("schemas", name)


def _obj(properties: Json, required: tuple[str, ...] | None = None, description: str = "") -> Json:
    """Return an object schema; every property is required unless ``required`` says otherwise."""
    schema: Json = {"type": "object", "properties": properties}
    schema["required"] = list(properties if required is None else required)
    return schema | ({"description": description} if description else {})


def string(description: str, **extra: Any) -> Json:
    """Return a string schema; ``extra`` adds keywords such as ``format`` or ``enum``."""
    return {"type": "string", "description": description, **extra}


def integer(description: str, minimum: int, **extra: Any) -> Json:
    """Return an integer schema of at least ``minimum``."""
    return {"type": "integer", "description": description, "minimum": minimum, **extra}


def _bool(description: str, **extra: Any) -> Json:
    return {"type": "boolean", "description": description, **extra}


def _array(items: Json, description: str, **extra: Any) -> Json:
    return {"type": "array", "items": items, "description": description, **extra}


def _timestamp(description: str, *, request: bool = False) -> Json:
    """Return a date-time schema; a request timestamp must carry an offset (else 422)."""
    if not request:
        return string(description, format="date-time")
    note = " Must carry an offset (`Z` or `+01:00`); without one the request gets 422."
    return string(description + note, format="date-time", pattern=OFFSET_PATTERN)


def date_string(description: str) -> Json:
    """Return a ``YYYY-MM-DD`` date schema."""
    return string(f"{description} (`YYYY-MM-DD`).", format="date", pattern=DATE_PATTERN)


def _paginated(item: Json) -> Json:
    """Return the schema of one page of a list endpoint: ``{items, next_page_token}``."""
    token = string("Pass as `page_token` for the next page; `null` on the last page.")
    items = _array(item, "This page's items.")
    return _obj({"items": items, "next_page_token": token | {"type": ["string", "null"]}})


def id_pattern(prefix: str) -> str:
    """The pattern of the ids that start with ``prefix`` (``"a"``: ``a_...``)."""
    return rf"^{prefix}_[^{_SPACE}]+$"


APPOINTMENT_ID_PATTERN = id_pattern("a")


def _id_schemas() -> Json:
    return {
        name: string(f"Opaque {noun} id.", pattern=id_pattern(prefix), examples=[example])
        for name, prefix, noun, example in ID_PREFIXES
    }


def _error_schemas() -> Json:
    table = "\n".join(f"* `{code}` ({status}): {when}" for code, status, when in ERROR_CODES)
    codes = string("Machine-readable error code.\n\n" + table, enum=[c for c, _, _ in ERROR_CODES])
    detail = _obj({"field": string("The offending field."), "message": string("What is wrong.")})
    body = {
        "code": schema_ref("ErrorCode"),
        "message": string("Human-readable explanation."),
        "request_id": string("Equals the `X-Request-Id` response header."),
        "details": _array(schema_ref("ErrorDetail"), "Field-level problems (422)."),
    }
    envelope = _obj({"error": _obj(body, ("code", "message", "request_id"))}, None, "Any error.")
    return {"ErrorCode": codes, "ErrorDetail": detail, "Error": envelope}


def _auth_schemas() -> Json:
    form = {
        "grant_type": string("The grant.", enum=["client_credentials"]),
        "scope": string("Space-separated subset of the scopes; default: all the client may have."),
        "client_id": string("The client id, instead of HTTP Basic (sandbox)."),
        "client_secret": string("The client secret, instead of HTTP Basic (sandbox)."),
    }
    token = {
        "access_token": string("The bearer token."),
        "token_type": string("Always `Bearer`.", enum=["Bearer"]),
        "expires_in": integer(f"Lifetime in seconds ({TOKEN_TTL_S}).", 1),
        "scope": string("Space-separated scopes granted."),
        "organization_id": schema_ref("OrganizationId"),
    }
    codes = ["invalid_request", "unsupported_grant_type", "invalid_scope", "invalid_client"]
    error = {
        "error": string("RFC 6749 §5.2 code.", enum=codes),
        "error_description": string("Why."),
    }
    return {
        "TokenRequest": _obj(form, ("grant_type",)),
        "Token": _obj(token),
        "OAuthError": _obj(error, ("error",), "RFC 6749 §5.2 error body (token endpoint only)."),
    }


def _catalogue_schemas() -> Json:
    place = {"timezone": schema_ref("TimeZone"), "country": schema_ref("CountryCode")}
    subdivision = string("ISO 3166-2 code (`DE-BE`) or null.", pattern=r"^[A-Z]{2}-\w+$")
    location = {
        "location_id": schema_ref("LocationId"),
        "name": string("Display name."),
        **place,
        "subdivision": subdivision | {"type": ["string", "null"]},
        "address": string("Postal address."),
        "active": _bool("Whether the location takes bookings."),
    }
    service = {
        "service_id": schema_ref("ServiceId"),
        "name": string("Display name."),
        "duration_minutes": integer("Appointment length in minutes.", 1),
        "buffer_minutes": integer("Gap after each appointment, in minutes.", 0),
        "location_ids": _array(schema_ref("LocationId"), "Where the service is offered."),
        "active": _bool("Whether the service takes bookings."),
    }
    org = {"organization_id": schema_ref("OrganizationId"), "name": string("Display name.")}
    return {
        "TimeZone": string("IANA time zone.", examples=["Europe/Berlin"]),
        "CountryCode": string("ISO 3166-1 alpha-2 country code.", pattern=r"^[A-Z]{2}$"),
        "Organization": _obj(org | place),
        "Location": _obj(location),
        "Service": _obj(service),
        "LocationPage": _paginated(schema_ref("Location")),
        "ServicePage": _paginated(schema_ref("Service")),
    }


def _day_schemas() -> Json:
    slot = {
        "start": _timestamp("Slot start, in the location's offset."),
        "end": _timestamp("Slot end, in the location's offset."),
        "capacity": integer("Staff able to serve this slot.", 0),
        "available": integer(
            "Staff still free; bookable while >= 1 (full slots may be omitted).", 0
        ),
    }
    status = "`closed`: no working hours; `holiday`: public holiday or closed override."
    day = {
        "date": date_string("Day in the location's zone"),
        "status": string(status, enum=["open", "closed", "holiday"]),
        "slots": _array(schema_ref("Slot"), "The day's slots, in time order."),
    }
    holiday = {
        "name": string("The holiday's name, or the override's note."),
        "kind": string("Public holiday or closed override.", enum=["public_holiday", "closed"]),
    }
    return {"Slot": _obj(slot), "AvailabilityDay": _obj(day), "Holiday": _obj(holiday)}


def _availability_schemas() -> Json:
    holidays = _obj({}, None, "Every public holiday and closed-override day in the window.")
    holidays |= {
        "propertyNames": {"pattern": DATE_PATTERN},
        "additionalProperties": schema_ref("Holiday"),
    }
    availability = {
        "organization_id": schema_ref("OrganizationId"),
        "service_id": schema_ref("ServiceId"),
        "location_id": schema_ref("LocationId"),
        "timezone": schema_ref("TimeZone"),
        "start_date": date_string("First day of the window"),
        "days_ahead": integer("Days in the window.", MIN_DAYS_AHEAD, maximum=MAX_DAYS_AHEAD),
        "generated_at": _timestamp("When this answer was computed (UTC)."),
        "slot_duration_minutes": integer("Length of one slot.", 1),
        "days": _array(schema_ref("AvailabilityDay"), "Exactly `days_ahead` days.", minItems=1),
        "holidays": holidays,
    }
    return {"Availability": _obj(availability)}


def _booking_fields(time: Json) -> Json:
    """Return the fields that hold requests, holds and appointments share."""
    return {
        "organization_id": schema_ref("OrganizationId"),
        "service_id": schema_ref("ServiceId"),
        "location_id": schema_ref("LocationId"),
        "appointment_time": time,
        "appointment_duration": integer("Duration in minutes; equals the service's.", 1),
    }


def _appointment_schemas() -> Json:
    request = _booking_fields(_timestamp("Slot start, on the slot grid.", request=True))
    local = _timestamp("Start, in the location's offset.")
    expires = _timestamp(f"Creation + {HOLD_TTL_MINUTES} minutes (UTC).")
    held = {"hold_id": schema_ref("HoldId"), "status": string("Always `held`.", enum=["held"])}
    confirm = {
        "hold_id": schema_ref("HoldId"),
        "contact_name": string(
            "Customer name.", minLength=1, maxLength=MAX_NAME_CHARS, pattern=NONBLANK_PATTERN
        ),
        "contact_email": string(
            "Customer email; receives the confirmation.",
            format="email",
            maxLength=MAX_EMAIL_CHARS,
            pattern=EMAIL_PATTERN,
        ),
        "contact_phone": string("Customer phone.", pattern=PHONE_PATTERN),
        "notes": string("Free-text notes.", maxLength=MAX_NOTES_CHARS, pattern=NONBLANK_PATTERN),
    }
    appointment = {
        "appointment_id": schema_ref("AppointmentId"),
        "status": string("State.", enum=["scheduled", "confirmed", "cancelled"]),
        "hold_id": schema_ref("HoldId"),
        **_booking_fields(local),
        "contact_name": string("Customer name."),
        "contact_email": string("Customer email.", format="email"),
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
    cancel = string("Cancels and frees the slot at once.", enum=["cancelled"])
    options = [schema_ref("RescheduleRequest"), schema_ref("CancelRequest")]
    patch = "Reschedule or cancel, not both: a body with both fields matches both and gets 422."
    return {
        "RescheduleRequest": _obj({"appointment_time": new_time}, None, "Reschedule."),
        "CancelRequest": _obj({"status": cancel}, None, "Cancel."),
        "AppointmentPatch": {"description": patch, "oneOf": options},
    }


def _sandbox_schemas() -> Json:
    message = {
        "kind": string("Which change.", enum=["confirmed", "rescheduled", "cancelled"]),
        "to": string("Recipient.", format="email"),
        "appointment_id": schema_ref("AppointmentId"),
        "sent_at": _timestamp("Sandbox time of sending (UTC)."),
        "subject": string("Email subject."),
        "body": string("Email body."),
    }
    clock = {"now": _timestamp("Sandbox time."), "frozen": _bool("Still between advances.")}
    advance = {
        "advance_seconds": {
            "type": "number",
            "minimum": 0,
            "maximum": MAX_CLOCK_ADVANCE_S,
            "description": "Seconds to move on.",
        },
        "simulate": _bool("Let the demand model book free slots over the span.", default=False),
    }
    traffic = {
        "requests": integer("API and token requests since the last reset.", 0),
        "in_flight": integer("Requests being answered now.", 0),
        "most_in_flight": integer("The most answered at one time: the client's concurrency.", 0),
        "connections": integer("Distinct client sockets (address and port) used.", 0),
    }
    outbox = _array(schema_ref("OutboxMessage"), "One per state change (none for a re-cancel).")
    return {
        "OutboxMessage": _obj(message),
        "Outbox": _obj({"items": outbox}),
        "Clock": _obj(clock),
        "ClockAdvance": _obj(advance, ("advance_seconds",)),
        "ClockAdvanced": _obj({**clock, "booked": integer("Appointments the model booked.", 0)}),
        "Traffic": _obj(traffic),
        "OpenApiDocument": {"type": "object", "description": "An OpenAPI 3.1 document."},
    }


def component_schemas() -> Json:
    """Return ``components.schemas``: every named schema of the document, in a fixed order."""
    schemas: Json = {}
    for part in (_id_schemas, _error_schemas, _auth_schemas, _catalogue_schemas):
        schemas |= part()
    for part in (_day_schemas, _availability_schemas, _appointment_schemas, _sandbox_schemas):
        schemas |= part()
    return schemas
