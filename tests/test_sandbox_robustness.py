"""No input, however malformed, makes the sandbox answer 5xx; every response has a request id."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import ERROR_CODES, NOW, TIMEOUT_S, UNLIMITED

from zimun_analytics.sandbox import Sandbox

HOLD = "/api/v1/appointments/hold"
CONFIRM = "/api/v1/appointments/confirm"
AVAILABILITY = "/api/v1/availability"
JSON = {"Content-Type": "application/json"}
LONG = "x" * 10_000
UNICODE = "Zürich 🙂 تل אביב \u200b\u202e"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def avail(**params: Any) -> tuple[str, str, dict[str, Any]]:
    return ("GET", AVAILABILITY, {"params": {"service_id": "s_eyebrow", **params}})


def raw_body(method: str, path: str, content: bytes, headers: dict | None = None) -> tuple:
    return (method, path, {"content": content, "headers": headers or JSON})


def hold_json(**fields: Any) -> tuple[str, str, dict[str, Any]]:
    body = {
        "organization_id": "o_demo",
        "service_id": "s_eyebrow",
        "appointment_time": "2026-03-25T10:00:00+01:00",
        "appointment_duration": 15,
        **fields,
    }
    return ("POST", HOLD, {"content": json.dumps(body).encode(), "headers": JSON})


QUERY_CASES = [
    *(
        ("GET", AVAILABILITY, {"params": {"service_id": value}})
        for value in ["", " ", "s_eyebrow\x00", UNICODE, LONG, "../../etc/passwd", "%00", "[]"]
    ),
    *(
        avail(days_ahead=value)
        for value in ["", "1e9", "9" * 40, "-0", "0x10", "NaN", "inf", "٣", "７", " 7", "+7", "1_0"]
    ),
    *(
        avail(start_date=value)
        for value in [
            "",
            "2026-02-30",
            "99999-01-01",
            "0001-01-01",
            "9999-12-31",
            "2026-03-23T00:00",
            "2026-W13-1",
            "20260323",
            "-2026-03-23",
            "2026-03-23\n",
            "٢٠٢٦-٠٣-٢٣",
            LONG,
        ]
    ),
    *(avail(location_id=value) for value in ["", UNICODE, LONG, "l_berlin\x00"]),
    avail(start_date="9999-12-31", days_ahead="60"),
    avail(start_date="0001-01-01", days_ahead="60"),
    avail(foo="bar", page_size="1"),
    ("GET", AVAILABILITY, {"params": [("service_id", "s_eyebrow"), ("service_id", "s_color")]}),
    (
        "GET",
        AVAILABILITY,
        {"params": [("service_id", "s_eyebrow"), ("days_ahead", "1"), ("days_ahead", "x")]},
    ),
    ("GET", "/api/v1/services", {"params": {"page_size": "9" * 40}}),
    ("GET", "/api/v1/services", {"params": {"page_token": UNICODE}}),
    ("GET", "/api/v1/services", {"params": {"page_token": LONG}}),
    ("GET", "/api/v1/services", {"params": {"page_token": b64(b"\xff\xfe\x00")}}),
    ("GET", "/api/v1/services", {"params": {"page_token": b64(b'{"offset": -1}')}}),
    ("GET", "/api/v1/services", {"params": {"page_token": b64(b"99999999999999999999999")}}),
    ("GET", "/api/v1/locations", {"params": {"page_size": "-99999999999999999999"}}),
    ("GET", "/api/v1/locations", {"params": {"page_token": ""}}),
]

NOT_AN_OBJECT = [
    b"",
    b"{",
    b"null",
    b"[]",
    b"\xff\xfe\xfd",
    b"\xef\xbb\xbf{}",
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b'{"appointment_duration": NaN}',
    b'{"appointment_duration": Infinity}',
    b'{"appointment_duration": 1e400}',
    b'{"organization_id": "o_demo", "organization_id": "o_other"}',
    b'{"appointment_time": "\\ud800"}',
    b'{"x": "' + b"y" * 2_000_000 + b'"}',
]

BAD_TIMES = [
    "2026-03-25T10:00:00+25:00",
    "2026-03-25T24:00:00+01:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-03-25T10:00:00.123456789+01:00",
    "2026-03-25 10:00:00Z",
    "2026-03-25T10:00Z",
    "2026-03-25",
    "10:00",
    "now",
    "2026-03-25T10:00:00+01:00[Europe/Berlin]",
    "",
    UNICODE,
    LONG,
]

ILL_TYPED = [None, 1, 1.5, True, [], {}, "", UNICODE * 100, 10**30, -1, 2**63, -(2**63), 1e308]

BODY_CASES = [
    *(
        raw_body(method, path, content)
        for content in NOT_AN_OBJECT
        for method, path in [
            ("POST", HOLD),
            ("POST", CONFIRM),
            ("PATCH", "/api/v1/appointments/a_nope"),
        ]
    ),
    *(hold_json(appointment_time=value) for value in BAD_TIMES),
    *(
        hold_json(**{field: value})
        for field in [
            "appointment_duration",
            "appointment_time",
            "service_id",
            "organization_id",
            "location_id",
        ]
        for value in ILL_TYPED
    ),
    *(
        (
            "POST",
            CONFIRM,
            {"json": {"hold_id": value, "contact_name": "D", "contact_email": "d@x.io"}},
        )
        for value in ILL_TYPED
    ),
    *(
        (
            "POST",
            CONFIRM,
            {"json": {"hold_id": "h_nope", "contact_name": name, "contact_email": mail}},
        )
        for name, mail in [
            (UNICODE, "d@x.io"),
            (LONG, LONG + "@x.io"),
            ("\x00", "\x00@x.io"),
            (1, 2),
        ]
    ),
    *(
        ("PATCH", "/api/v1/appointments/a_nope", {"json": {"appointment_time": t}})
        for t in BAD_TIMES
    ),
    *(("PATCH", "/api/v1/appointments/a_nope", {"json": {"status": v}}) for v in ILL_TYPED),
    (
        "POST",
        HOLD,
        {"content": b'{"organization_id": "o_demo"}', "headers": {"Content-Type": "text/plain"}},
    ),
    (
        "POST",
        HOLD,
        {
            "content": b"organization_id=o_demo",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
    ),
    (
        "POST",
        HOLD,
        {"content": b"--b\r\n\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
    ),
    ("POST", HOLD, {"content": b'{"organization_id": "o_demo"}', "headers": {}}),
    (
        "POST",
        HOLD,
        {
            "content": '{"service_id": "s_ü"}'.encode("latin-1"),
            "headers": {"Content-Type": "application/json; charset=latin-1"},
        },
    ),
    (
        "POST",
        HOLD,
        {
            "content": '{"service_id": "s_x"}'.encode("utf-16"),
            "headers": {"Content-Type": "application/json; charset=utf-16"},
        },
    ),
    (
        "POST",
        HOLD,
        {"content": b"{}", "headers": {"Content-Type": "application/json; charset=bogus"}},
    ),
    ("POST", HOLD, {"json": {}, "headers": {"Idempotency-Key": ""}}),
    ("POST", HOLD, {"json": {}, "headers": {"Idempotency-Key": LONG}}),
    ("POST", HOLD, {"json": {}, "headers": {"Idempotency-Key": b"\xff\xfe"}}),
    ("POST", HOLD, {"json": {}, "headers": {"Idempotency-Key": "k\tk"}}),
    ("PATCH", "/api/v1/appointments/a_nope", {"json": {}, "headers": {"Idempotency-Key": LONG}}),
]

PATH_CASES = [
    ("GET", "/api/v1/appointments/"),
    ("GET", "/api/v1/appointments/%20"),
    ("GET", "/api/v1/appointments/%00"),
    ("GET", "/api/v1/appointments/..%2F..%2Fetc%2Fpasswd"),
    ("GET", "/api/v1/appointments/%F0%9F%99%82"),
    ("GET", "/api/v1/appointments/%FF%FE"),
    ("GET", "/api/v1/appointments/" + "a" * 5000),
    ("PATCH", "/api/v1/appointments/"),
    ("DELETE", "/api/v1/appointments/hold/"),
    ("DELETE", "/api/v1/appointments/hold/%00"),
    ("DELETE", "/api/v1/appointments/hold/" + "h" * 5000),
    ("DELETE", "/api/v1/appointments/hold/h_x/extra"),
    ("GET", "/api/v1//organization"),
    ("GET", "/api/v1/organization/"),
    ("GET", "/api/v1/organization/extra"),
    ("GET", "/api/v2/organization"),
    ("GET", "/api/v1"),
    ("GET", "/"),
    ("GET", "/oauth/token/"),
    ("GET", "/_sandbox/"),
    ("GET", "/_sandbox/clock/x"),
    ("GET", "/openapi.json?x=%FF"),
    ("GET", "/%FF"),
]

WRONG_METHODS = [
    ("PUT", "/api/v1/organization"),
    ("DELETE", "/api/v1/organization"),
    ("POST", "/api/v1/services"),
    ("POST", "/api/v1/locations"),
    ("DELETE", "/api/v1/availability"),
    ("PUT", "/api/v1/appointments/a_nope"),
    ("POST", "/api/v1/appointments/hold/h_nope"),
    ("GET", "/api/v1/appointments/hold/h_nope"),
    ("GET", "/oauth/token"),
    ("PUT", "/oauth/token"),
    ("DELETE", "/_sandbox/clock"),
    ("POST", "/_sandbox/outbox"),
    ("POST", "/openapi.json"),
]

AUTH_HEADER_CASES = [
    "Bearer " + LONG,
    b"Bearer \xff\xfe",
    "Bearer a b c",
    "Basic " + b64(b"\xff:\xff"),
    "Basic !!!",
    "",
]

TOKEN_CASES = [
    {"json": {"grant_type": "client_credentials"}, "auth": ("demo", "demo-secret")},
    {"content": b"grant_type=%ZZ", "auth": ("demo", "demo-secret")},
    {"content": b"grant_type=\xff\xfe", "auth": ("demo", "demo-secret")},
    {"content": b"&&&===", "auth": ("demo", "demo-secret")},
    {
        "content": b"grant_type=client_credentials&grant_type=password",
        "auth": ("demo", "demo-secret"),
    },
    {
        "data": {"grant_type": "client_credentials", "scope": UNICODE},
        "auth": ("demo", "demo-secret"),
    },
    {"data": {"grant_type": "client_credentials", "scope": LONG}, "auth": ("demo", "demo-secret")},
    {"data": {"grant_type": LONG}, "auth": ("demo", "demo-secret")},
    {"data": {"grant_type": "client_credentials"}, "auth": (UNICODE, UNICODE)},
    {"data": {"grant_type": "client_credentials"}, "auth": ("demo", "demo-secret:extra")},
    {"data": {"grant_type": "client_credentials"}, "auth": ("", "")},
    {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic !!!"}},
    {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic"}},
    {
        "data": {"grant_type": "client_credentials"},
        "headers": {"Authorization": "Basic " + b64(b"\xff:\xfe")},
    },
    {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Bearer x"}},
    {"data": {"grant_type": "client_credentials", "client_id": "demo"}},
    {"data": {"grant_type": "client_credentials", "client_id": UNICODE, "client_secret": LONG}},
    {"content": b"x" * 1_000_000, "auth": ("demo", "demo-secret")},
]

CLOCK_CASES = [
    b"",
    b"[]",
    b"null",
    b"{",
    b'{"advance_seconds": "abc"}',
    b'{"advance_seconds": null}',
    b'{"advance_seconds": []}',
    b'{"advance_seconds": {}}',
    b'{"advance_seconds": -1}',
    b'{"advance_seconds": -1e308}',
    b'{"advance_seconds": NaN}',
    b'{"advance_seconds": Infinity}',
    b'{"advance_seconds": -Infinity}',
    b'{"advance_seconds": 1, "simulate": "maybe"}',
    b'{"advance_seconds": 1, "simulate": null}',
    b'{"simulate": true}',
    b'{"advance_seconds": 1e308}',
    b'{"advance_seconds": 100000000000000000000000000000}',
    b'{"advance_seconds": 1e20, "simulate": true}',
    b'{"advance_seconds": 260000000000}',
]


def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request; a broken connection fails the test with a short message."""
    try:
        return client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        pytest.fail(f"{method} {path[:80]}: connection failed: {exc!r}"[:300], pytrace=False)


def assert_not_5xx(response: httpx.Response) -> None:
    """No 5xx; API errors keep the envelope with a known code and the request id."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert response.headers.get("X-Request-Id")
    path = response.request.url.path
    if response.status_code >= 400 and path.startswith("/api/v1"):
        error = response.json()["error"]
        assert error["code"] in ERROR_CODES, error
        assert error["request_id"] == response.headers["X-Request-Id"]


@pytest.fixture(scope="module")
def client(demo) -> Iterator[httpx.Client]:
    """The demo client's authorized httpx.Client (module-scoped sandbox)."""
    yield demo.http


@pytest.fixture(scope="module")
def clock_sandbox() -> Iterator[Sandbox]:
    """A sandbox of its own for clock garbage, so an accepted advance harms nobody."""
    with Sandbox(seed=1, now=NOW, **UNLIMITED) as sb:
        yield sb


def ids(cases: list) -> list[str]:
    return [f"{i}-{str(case)[:60]}" for i, case in enumerate(cases)]


@pytest.mark.parametrize(("method", "path", "kwargs"), QUERY_CASES, ids=ids(QUERY_CASES))
def test_garbage_query_is_not_a_server_error(client, method, path, kwargs):
    assert_not_5xx(send(client, method, path, **kwargs))


@pytest.mark.parametrize(("method", "path", "kwargs"), BODY_CASES, ids=ids(BODY_CASES))
def test_garbage_body_is_not_a_server_error(client, method, path, kwargs):
    assert_not_5xx(send(client, method, path, **kwargs))


@pytest.mark.parametrize(("method", "path"), PATH_CASES, ids=ids(PATH_CASES))
def test_garbage_path_is_not_a_server_error(client, method, path):
    assert_not_5xx(send(client, method, path))


@pytest.mark.parametrize(("method", "path"), PATH_CASES[1:7], ids=ids(PATH_CASES[1:7]))
def test_junk_appointment_id_is_not_found(client, method, path):
    response = client.request(method, path)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS, ids=ids(WRONG_METHODS))
def test_wrong_method_on_a_known_path_is_405(client, method, path):
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers.get("X-Request-Id")


@pytest.mark.parametrize("authorization", AUTH_HEADER_CASES, ids=ids(AUTH_HEADER_CASES))
def test_garbage_authorization_is_invalid_token(sandbox, authorization):
    headers = {"Authorization": authorization}
    response = httpx.get(f"{sandbox.base_url}/api/v1/organization", headers=headers)
    assert_not_5xx(response)
    assert response.status_code == 401


@pytest.mark.parametrize("kwargs", TOKEN_CASES, ids=ids(TOKEN_CASES))
def test_garbage_token_request_is_a_client_error(sandbox, kwargs):
    response = httpx.post(f"{sandbox.base_url}/oauth/token", timeout=TIMEOUT_S, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers.get("X-Request-Id")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("content", CLOCK_CASES, ids=ids(CLOCK_CASES))
def test_garbage_clock_request_is_not_a_server_error(clock_sandbox, content):
    response = httpx.post(
        f"{clock_sandbox.base_url}/_sandbox/clock", content=content, headers=JSON, timeout=TIMEOUT_S
    )
    assert_not_5xx(response)
    assert httpx.get(f"{clock_sandbox.base_url}/_sandbox/clock").status_code == 200


def test_sandbox_still_serves_after_the_garbage(client):
    response = client.get("/api/v1/organization")
    assert response.status_code == 200
    assert response.json()["organization_id"] == "o_demo"


# -- request ids ------------------------------------------------------------------------------

EVERY_KIND_OF_RESPONSE = [
    ("GET", "/api/v1/organization", {}),
    ("GET", "/api/v1/locations", {}),
    ("GET", "/api/v1/services", {}),
    ("GET", AVAILABILITY, {"params": {"service_id": "s_eyebrow"}}),
    ("GET", AVAILABILITY, {"params": {"service_id": "s_haircut"}}),
    ("GET", AVAILABILITY, {"params": {"service_id": "s_nope"}}),
    ("POST", HOLD, {"json": {}}),
    ("POST", HOLD, {"content": b"[]", "headers": JSON}),
    (
        "POST",
        CONFIRM,
        {"json": {"hold_id": "h_nope", "contact_name": "D", "contact_email": "d@x.io"}},
    ),
    ("GET", "/api/v1/appointments/a_nope", {}),
    ("PATCH", "/api/v1/appointments/a_nope", {"json": {"status": "cancelled"}}),
    ("DELETE", "/api/v1/appointments/hold/h_nope", {}),
    ("GET", "/api/v1/nothing-here", {}),
    ("PUT", "/api/v1/organization", {}),
    ("GET", "/_sandbox/clock", {}),
    ("GET", "/_sandbox/outbox", {}),
    ("GET", "/openapi.json", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), EVERY_KIND_OF_RESPONSE, ids=ids(EVERY_KIND_OF_RESPONSE)
)
def test_every_response_carries_a_request_id(client, method, path, kwargs):
    assert client.request(method, path, **kwargs).headers.get("X-Request-Id")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": {"grant_type": "client_credentials"}, "auth": ("demo", "demo-secret")},
        {"data": {"grant_type": "client_credentials"}, "auth": ("demo", "wrong")},
        {"data": {"grant_type": "password"}, "auth": ("demo", "demo-secret")},
    ],
)
def test_token_responses_carry_a_request_id(sandbox, kwargs):
    response = httpx.post(f"{sandbox.base_url}/oauth/token", timeout=TIMEOUT_S, **kwargs)
    assert response.headers.get("X-Request-Id")


def test_unauthenticated_error_carries_a_request_id(sandbox):
    response = httpx.get(f"{sandbox.base_url}/api/v1/organization")
    assert response.headers.get("X-Request-Id") == response.json()["error"]["request_id"]


def test_request_ids_are_unique(client):
    seen = {client.get("/api/v1/organization").headers["X-Request-Id"] for _ in range(20)}
    assert len(seen) == 20
