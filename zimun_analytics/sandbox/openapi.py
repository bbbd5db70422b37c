"""The sandbox's OpenAPI 3.1 description of the Zimun booking API, served at ``/openapi.json``.

It covers the whole contract (``zimun-api.md``): the token endpoint, the ``/api/v1``
endpoints with their headers and error responses, and the sandbox-only endpoints. The
operations are tables (``API_OPERATIONS``, ``OTHER_OPERATIONS``, ``ERRORS``, ...); each
operation lists the error *codes* it can give, and its error responses are derived from them.
Every schema, header, parameter and error response is built once, by a small function, and
referenced elsewhere with ``$ref``; the schemas of the request and response bodies live in
:mod:`.openapi_schemas`. Standard library only, so importing this costs nothing.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from .openapi_schemas import (
    DEFAULT_DAYS_AHEAD,
    ERROR_CODES,
    HOLD_TTL_MINUTES,
    MAX_DAYS_AHEAD,
    MIN_DAYS_AHEAD,
    Json,
    component_schemas,
    date_string,
    integer,
    ref,
    schema_ref,
    string,
)

__all__ = ["build_openapi"]

OPENAPI_VERSION = "3.1.0"
TITLE = "Zimun booking API (sandbox)"
API_VERSION = "1.0.0"
API_PREFIX = "/api/v1"
TOKEN_PATH = "/oauth/token"
BEARER_SCHEME = "bearerAuth"
BASIC_SCHEME = "clientBasic"

TOKEN_RATE_PER_MINUTE = 10
IDEMPOTENCY_TTL_HOURS = 24
MAX_IDEMPOTENCY_KEY_CHARS = 255
MIN_PAGE_SIZE, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 1, 100, 50

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
    ("GET /_sandbox/traffic", "getTraffic", "", "200 Traffic"),
    ("DELETE /_sandbox/traffic", "resetTraffic", "", "200 Traffic"),
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
    "getTraffic": "What the API and token endpoint were asked since the last reset, as the"
    " server saw it: for measuring a client's concurrency and connection reuse.",
    "resetTraffic": "Starts the counts again and returns them.",
}

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

HEADERS = (  # name, description, type, always present where listed
    ("X-Request-Id", "Id of this request; an error's `request_id` equals it.", "string", True),
    (
        "X-RateLimit-Limit",
        "`bucket` style: size (burst) of the client's token bucket; `window` style: requests"
        " per window.",
        "integer",
        False,
    ),
    ("X-RateLimit-Remaining", "Requests left in the bucket or window.", "integer", False),
    (
        "X-RateLimit-Reset",
        "Seconds until the bucket is full again (`bucket`) or the window ends (`window`), rounded"
        " up; with `--rate-reset epoch` that moment as a Unix time.",
        "integer",
        False,
    ),
    (
        "RateLimit-Policy",
        '`ietf` style (draft-ietf-httpapi-ratelimit-headers): `"default";q=<requests per'
        " window>;w=<window seconds>`.",
        "string",
        False,
    ),
    (
        "RateLimit",
        '`ietf` style: `"default";r=<requests left>;t=<seconds until the window ends>`.',
        "string",
        False,
    ),
    (
        "Retry-After",
        "Whole seconds to wait before retrying, or with `--retry-after date` the HTTP date"
        " (RFC 9110) to wait until.",
        "string",
        True,
    ),
    ("Idempotent-Replayed", "`true` on a replay of the key's first response.", "string", False),
    ("WWW-Authenticate", '`Bearer error="invalid_token"`.', "string", True),
)
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
IETF_RATE_HEADERS = ("RateLimit-Policy", "RateLimit")
RESPONSE_HEADERS = ("X-Request-Id", *RATE_HEADERS, *IETF_RATE_HEADERS)  # may be on every one

DESCRIPTION = f"""\
A local emulation ("sandbox") of the Zimun booking API. Flow: token -> availability ->
{HOLD_TTL_MINUTES}-minute hold -> confirm -> PATCH to reschedule or cancel.

* JSON in UTF-8. Timestamps are ISO-8601 with an offset; a request timestamp without one is
  rejected with 422 `validation_error`. Slot `start`/`end` and `appointment_time` in responses
  use the location's offset; `expires_at`, `created_at`, `updated_at`, `generated_at` are UTC.
* IDs are opaque strings with a prefix: `o_`, `l_`, `s_`, `h_`, `a_`.
* Every response carries `X-Request-Id`; an error envelope's `request_id` equals it.
* Rate limits per client, in the style the sandbox was started with (`--rate-limit-style`):
  `bucket` (default), a token bucket: API and token responses carry `X-RateLimit-*`;
  `window`, fixed windows aligned to the Unix epoch, also told by `X-RateLimit-*`;
  `ietf`, the same windows told by `RateLimit-Policy` and `RateLimit`; `none`, a token bucket
  told by no header. `X-RateLimit-Reset` is seconds, or a Unix time (`--rate-reset epoch`).
  A 429 carries `Retry-After`: whole seconds, or an HTTP date (`--retry-after date`).
* `POST` and `PATCH` accept `Idempotency-Key`; replays carry `Idempotent-Replayed: true`.
* The `/_sandbox/*` endpoints and `/openapi.json` exist only in the sandbox and need no token.
"""


def _response(description: str, schema: Json | None, headers: tuple[str, ...] = ()) -> Json:
    """Return a JSON response (no body if ``schema`` is None) with the usual headers."""
    names = (*RESPONSE_HEADERS, *headers)
    response: Json = {"description": description, "headers": {n: ref("headers", n) for n in names}}
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
    return _response(_explain(codes), schema_ref("Error"), ERROR_HEADERS.get(status, ()))


def _error_responses(codes: list[str]) -> Json:
    """Return ``{status: $ref}`` for ``codes``, each re-described with this operation's codes."""
    by_status: dict[str, list[str]] = {}
    for code, status, _ in ERROR_CODES:
        if code in codes:
            by_status.setdefault(status, []).append(code)
    refs = {status: ref("responses", _error_response_name(status)) for status in by_status}
    return {
        status: link | {"description": _explain(by_status[status])} for status, link in refs.items()
    }


def _error_codes(operation_id: str, scope: str, writes: bool) -> list[str]:
    """Return the error codes of an operation: its own, plus those any such operation can give."""
    codes = ERRORS.get(operation_id, "").split() + ["internal"]
    if scope:
        codes += ["invalid_request", "invalid_token", "insufficient_scope", "rate_limited"]
    if writes or operation_id in REQUEST_BODIES or operation_id == "createToken":
        codes.append("payload_too_large")
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
    success = _response(STATUS_TEXT[status], schema_ref(schema) if schema else None, replayed)
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
    return [ref("parameters", name) for name in names]


def _json_body(schema_name: str) -> Json:
    content = {"application/json": {"schema": schema_ref(schema_name)}}
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
    size = integer(
        "Items per page.", MIN_PAGE_SIZE, maximum=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE
    )
    days = integer("Out of range: 400.", MIN_DAYS_AHEAD, maximum=MAX_DAYS_AHEAD)
    appointment, location = schema_ref("AppointmentId"), schema_ref("LocationId")
    several = "Required if the service is at several locations."
    return {
        "page_size": _param("page_size", "query", f"{MIN_PAGE_SIZE}-{MAX_PAGE_SIZE}.", size),
        "page_token": _param("page_token", "query", "A `next_page_token`.", string("Opaque.")),
        "Idempotency-Key": _param("Idempotency-Key", "header", key, key_schema),
        "hold_id": _param("hold_id", "path", "The hold.", schema_ref("HoldId")),
        "appointment_id": _param("appointment_id", "path", "The appointment.", appointment),
        "outbox_filter": _param("appointment_id", "query", "Only its emails.", appointment),
        "service_id": _param("service_id", "query", "The service.", schema_ref("ServiceId"), True),
        "days_ahead": _param(
            "days_ahead", "query", "Days in the window.", days | {"default": DEFAULT_DAYS_AHEAD}
        ),
        "location_id": _param("location_id", "query", several, location),
        "start_date": _param(
            "start_date", "query", "Default: today there.", date_string("First day")
        ),
    }


def _security_schemes() -> Json:
    basic = "client_id / client_secret (RFC 6749 §2.3.1), for `/oauth/token`."
    bearer = "`Authorization: Bearer <token>`; a token is scoped to one organization."
    flows = {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": dict(SCOPES)}}
    return {
        BASIC_SCHEME: {"type": "http", "scheme": "basic", "description": basic},
        BEARER_SCHEME: {"type": "oauth2", "description": bearer, "flows": flows},
    }


def _components() -> Json:
    statuses = dict.fromkeys(status for _, status, _ in ERROR_CODES)
    return {
        "schemas": component_schemas(),
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
    token, oauth = paths[TOKEN_PATH]["post"], schema_ref("OAuthError")
    form = {"application/x-www-form-urlencoded": {"schema": schema_ref("TokenRequest")}}
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
