"""The exception tree, `make_status_error` and the messages users read."""

import ast
import pickle
import sys
from pathlib import Path

import pytest

import zimun_analytics._errors as errors_module
from zimun_analytics._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    ConflictError,
    HoldAlreadyConfirmedError,
    HoldExpiredError,
    IdempotencyKeyReusedError,
    InputError,
    InvalidStateError,
    LocationRequiredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    SlotUnavailableError,
    ValidationError,
    ZimunError,
    make_status_error,
)

URL = "https://api.zimun.online/api/v1/appointments/hold"
TOKEN_URL = "https://api.zimun.online/oauth/token"


def envelope(code, message="the server says so", request_id="req_body", details=None):
    error = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    return {"error": error}


def status_error(status, body, *, request_id="req_abc", headers=None, url=URL, method="POST"):
    return make_status_error(
        status, body, method=method, url=url, request_id=request_id, headers=headers
    )


# -- the tree ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (ConfigError, ZimunError),
        (InputError, ZimunError),
        (InputError, ValueError),
        (ResponseFormatError, ZimunError),
        (APIError, ZimunError),
        (APIConnectionError, APIError),
        (APITimeoutError, APIConnectionError),
        (APIStatusError, APIError),
        (BadRequestError, APIStatusError),
        (LocationRequiredError, BadRequestError),
        (AuthenticationError, APIStatusError),
        (PermissionDeniedError, APIStatusError),
        (NotFoundError, APIStatusError),
        (ConflictError, APIStatusError),
        (SlotUnavailableError, ConflictError),
        (HoldAlreadyConfirmedError, ConflictError),
        (InvalidStateError, ConflictError),
        (HoldExpiredError, APIStatusError),
        (ValidationError, APIStatusError),
        (IdempotencyKeyReusedError, ValidationError),
        (RateLimitError, APIStatusError),
        (ServerError, APIStatusError),
    ],
)
def test_tree_relationship(child, parent):
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    ("cls", "not_parent"),
    [
        (APIError, ValueError),
        (ResponseFormatError, APIError),
        (ConfigError, APIError),
        (HoldExpiredError, ConflictError),
        (APIConnectionError, APIStatusError),
    ],
)
def test_tree_keeps_branches_apart(cls, not_parent):
    assert not issubclass(cls, not_parent)


def _error_classes():
    return {
        name
        for name, value in vars(errors_module).items()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == errors_module.__name__
        and not name.startswith("_")
    }


def test_every_class_is_drawn_in_the_module_docstring():
    for name in _error_classes():
        assert name in errors_module.__doc__


# -- make_status_error: codes, statuses, bodies --------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "invalid_request", BadRequestError),
        (400, "location_required", LocationRequiredError),
        (401, "invalid_token", AuthenticationError),
        (403, "insufficient_scope", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (409, "slot_unavailable", SlotUnavailableError),
        (409, "hold_already_confirmed", HoldAlreadyConfirmedError),
        (409, "invalid_state", InvalidStateError),
        (410, "hold_expired", HoldExpiredError),
        (422, "validation_error", ValidationError),
        (422, "idempotency_key_reused", IdempotencyKeyReusedError),
        (429, "rate_limited", RateLimitError),
        (500, "internal", ServerError),
        (503, "internal", ServerError),
    ],
)
def test_contract_code_maps_to_class(status, code, cls):
    error = status_error(status, envelope(code))
    assert type(error) is cls
    assert (error.status_code, error.code, error.message) == (status, code, "the server says so")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (410, HoldExpiredError),
        (422, ValidationError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (504, ServerError),
        (405, APIStatusError),
        (418, APIStatusError),
        (302, APIStatusError),
    ],
)
def test_unknown_code_falls_back_to_status(status, cls):
    assert type(status_error(status, envelope("brand_new_code"))) is cls


def test_code_wins_over_status():
    assert type(status_error(400, envelope("slot_unavailable"))) is SlotUnavailableError


@pytest.mark.parametrize(
    ("status", "oauth_code"),
    [
        (401, "invalid_client"),
        (400, "invalid_request"),
        (400, "invalid_scope"),
        (400, "unsupported_grant_type"),
    ],
)
def test_oauth_body_is_authentication_error_with_its_code(status, oauth_code):
    body = {"error": oauth_code, "error_description": "client authentication failed"}
    error = status_error(status, body, url=TOKEN_URL)
    assert type(error) is AuthenticationError
    assert error.code == oauth_code
    assert error.message == "client authentication failed"


def test_oauth_body_without_description_uses_status_phrase():
    error = status_error(401, {"error": "invalid_client"}, url=TOKEN_URL)
    assert error.message == "Unauthorized"


def test_rate_limit_on_token_endpoint_stays_rate_limit():
    error = status_error(429, envelope("rate_limited"), url=TOKEN_URL, headers={"Retry-After": "6"})
    assert type(error) is RateLimitError
    assert error.retry_after_s == 6.0


@pytest.mark.parametrize(
    "body",
    [None, "<html>Bad Gateway</html>", b"\x00\xff", [1, 2], 42, {}, {"error": 5}, {"msg": "x"}],
    ids=["none", "html", "bytes", "list", "number", "empty", "error-int", "other-dict"],
)
def test_body_without_envelope_never_fails(body):
    error = status_error(502, body)
    assert type(error) is ServerError
    assert error.code is None
    assert error.message == "Bad Gateway"
    assert error.details == []


def test_non_json_text_is_not_shown():
    error = status_error(502, "<html>upstream exploded</html>")
    assert "upstream exploded" not in str(error)


def test_unknown_status_gets_a_message():
    error = status_error(599, None)
    assert type(error) is ServerError
    assert "599" in error.message


def test_envelope_fields_of_wrong_type_are_ignored():
    body = {"error": {"code": 7, "message": ["x"], "request_id": None, "details": "oops"}}
    error = status_error(404, body, request_id=None)
    assert (error.code, error.message, error.request_id, error.details) == (
        None,
        "Not Found",
        None,
        [],
    )


def test_header_request_id_wins_over_body():
    assert status_error(404, envelope("not_found"), request_id="req_header").request_id == (
        "req_header"
    )


def test_body_request_id_used_when_header_missing():
    assert status_error(404, envelope("not_found"), request_id=None).request_id == "req_body"


def test_body_is_kept_decoded():
    body = envelope("not_found")
    assert status_error(404, body).body is body


def test_details_are_normalised():
    details = [{"field": "contact_email", "message": "not an email"}, "junk", {"message": "m"}]
    error = status_error(422, envelope("validation_error", details=details))
    assert error.details == [
        {"field": "contact_email", "message": "not an email"},
        {"field": "", "message": "m"},
    ]


# -- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"retry-after": "2"}, 2.0),
        ({"RETRY-AFTER": "1.5"}, 1.5),
        ({"Retry-After": " 3 "}, 3.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # an HTTP date, past
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({"Retry-After": "-3"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"X-Other": "5"}, None),
        (None, None),
    ],
)
def test_retry_after_parsing(headers, expected):
    error = status_error(429, envelope("rate_limited"), headers=headers)
    assert error.retry_after_s == expected


# -- str(): what the user reads -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "hint"),
    [
        (409, envelope("slot_unavailable"), None, "fetch availability and pick another slot"),
        (410, envelope("hold_expired"), None, "hold expired after 10 minutes"),
        (410, envelope("hold_expired"), None, "hold the slot again"),
        (401, {"error": "invalid_client"}, None, "check ZIMUN_CLIENT_ID / ZIMUN_CLIENT_SECRET"),
        (401, envelope("invalid_token"), None, "ZIMUN_CLIENT_ID"),
        (403, envelope("insufficient_scope"), None, "appointments:write"),
        (400, {"error": "invalid_scope"}, None, "availability:read"),
        (429, envelope("rate_limited"), {"Retry-After": "7"}, "slow down; retry after 7 s"),
        (429, envelope("rate_limited"), None, "slow down"),
        (404, envelope("not_found"), None, "ids of other organizations are not visible"),
        (400, envelope("location_required"), None, "pass location_id"),
        (409, envelope("hold_already_confirmed"), None, "fetch the appointment"),
        (409, envelope("invalid_state"), None, "check its status"),
        (422, envelope("idempotency_key_reused"), None, "use a new key"),
        (500, envelope("internal"), None, "retried already, try again later"),
        (503, None, None, "retried already, try again later"),
    ],
)
def test_str_carries_hint(status, body, headers, hint):
    assert hint in str(status_error(status, body, headers=headers))


def test_validation_hint_lists_detail_fields():
    details = [
        {"field": "contact_email", "message": "not an email"},
        {"field": "appointment_time", "message": "no offset"},
    ]
    error = status_error(422, envelope("validation_error", details=details))
    assert "fix these fields: contact_email, appointment_time" in str(error)


def test_str_is_one_line_with_status_code_message_method_url_and_request_id():
    error = status_error(409, envelope("slot_unavailable", "that slot is no longer free"))
    assert str(error) == (
        "409 slot_unavailable: that slot is no longer free — the slot was just taken: fetch"
        f" availability and pick another slot (POST {URL}, request_id req_abc)"
    )


def test_str_without_code_or_request_id():
    error = status_error(418, None, request_id=None, method="GET")
    assert str(error) == f"418: I'm a Teapot (GET {URL})"


def test_str_never_shows_headers_or_other_body_text():
    headers = {"Authorization": "Bearer SECRET_TOKEN", "Retry-After": "2", "X-Api": "SECRET_HDR"}
    body = envelope("rate_limited", "too many requests")
    body["error"]["extra"] = "SECRET_BODY"
    body["access_token"] = "SECRET_ACCESS"
    text = str(status_error(429, body, headers=headers)) + repr(status_error(429, body))
    assert "too many requests" in text
    for secret in ("SECRET_TOKEN", "SECRET_HDR", "SECRET_BODY", "SECRET_ACCESS", "Bearer"):
        assert secret not in text


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [(APIConnectionError, "check the network"), (APITimeoutError, "did not answer in time")],
)
def test_connection_errors_read_well(cls, fragment):
    error = cls(method="GET", url="https://api.zimun.online/api/v1/organization")
    assert fragment in str(error)
    assert "GET https://api.zimun.online/api/v1/organization" in str(error)
    assert error.request_id is None


def test_config_error_names_env_var():
    error = ConfigError("no client id configured", env_var="ZIMUN_CLIENT_ID")
    assert "ZIMUN_CLIENT_ID" in str(error)
    assert error.env_var == "ZIMUN_CLIENT_ID"


def test_input_error_names_argument_problem_and_allowed():
    error = InputError("got 90", argument="days_ahead", allowed="an integer from 1 to 60")
    assert str(error) == "invalid days_ahead: got 90; allowed: an integer from 1 to 60"


def test_input_error_accepts_one_message():
    error = InputError("days_ahead must be between 1 and 60, got 90")
    assert str(error) == "days_ahead must be between 1 and 60, got 90"
    assert error.argument is None


def test_input_error_is_caught_as_value_error():
    with pytest.raises(ValueError, match="days_ahead"):
        raise InputError("got 0", argument="days_ahead")


def test_response_format_error_names_endpoint_field_request_id():
    error = ResponseFormatError(
        "is missing",
        endpoint="GET /api/v1/availability",
        field="days[3].slots[0].start",
        request_id="req_abc",
    )
    text = str(error)
    for part in ("GET /api/v1/availability", "days[3].slots[0].start is missing", "req_abc"):
        assert part in text


def test_response_format_error_accepts_one_message():
    error = ResponseFormatError("GET /x: the response is not JSON", request_id="req_1")
    assert str(error) == "GET /x: the response is not JSON (request_id req_1)"


def test_response_format_error_does_not_repeat_request_id():
    error = ResponseFormatError("GET /x: not JSON (request_id req_1)", request_id="req_1")
    assert str(error).count("req_1") == 1


@pytest.mark.parametrize(
    "error",
    [
        make_status_error(
            429, envelope("rate_limited"), method="GET", url=URL, request_id="r", headers={}
        ),
        InputError("got 0", argument="page_size", allowed="1 to 100"),
        ConfigError("missing", env_var="ZIMUN_CLIENT_SECRET"),
        ResponseFormatError("is missing", endpoint="GET /x", field="a"),
        APITimeoutError(method="GET", url=URL),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)


# -- module hygiene ------------------------------------------------------------------------------


def test_the_package_exports_every_error_class():
    import zimun_analytics

    assert _error_classes() <= set(zimun_analytics.__all__)


def test_imports_only_the_standard_library():
    tree = ast.parse(Path(errors_module.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, "errors imports nothing from the package"
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in sys.stdlib_module_names, name
