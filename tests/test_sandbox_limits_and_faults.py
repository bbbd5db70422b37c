"""Rate limits (API and token endpoint), fault injection and latency of the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import NOW, TIMEOUT_S, assert_error, parse_ts

from zimun_analytics.sandbox import Sandbox

FAULT_STATUSES = {500, 502, 503}
DROPPED = "dropped"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
MAX_TRIES = 60


def token_response(sb: Sandbox, client: str = "demo") -> httpx.Response:
    return httpx.post(
        f"{sb.base_url}/oauth/token",
        auth=(client, sb.clients[client]),
        data={"grant_type": "client_credentials"},
        timeout=TIMEOUT_S,
    )


def first_429(send: Callable[[], httpx.Response], limit: int = MAX_TRIES) -> httpx.Response:
    """Send quickly until a 429 comes back."""
    for _ in range(limit):
        response = send()
        if response.status_code == 429:
            return response
    raise AssertionError(f"no 429 within {limit} requests")


def outcome(send: Callable[[], httpx.Response]) -> int | str:
    """The status code of one request, or DROPPED when the connection broke mid-response."""
    try:
        return send().status_code
    except (httpx.RemoteProtocolError, httpx.ReadError):
        return DROPPED


def until_ok(send: Callable[[], httpx.Response]) -> httpx.Response:
    """Repeat an idempotent request through injected faults until it answers 2xx."""
    for _ in range(MAX_TRIES):
        try:
            response = send()
        except (httpx.RemoteProtocolError, httpx.ReadError):
            continue
        if response.status_code < 500:
            assert response.is_success, response.text
            return response
    raise AssertionError("no success through the injected faults")


def fault_sequence(sb: Sandbox, requests: int = 40) -> list[int | str]:
    """Outcomes of a fixed series of sequential requests: token attempts, then API calls."""
    outcomes: list[int | str] = []
    token = None
    with httpx.Client(base_url=sb.base_url, timeout=TIMEOUT_S) as client:
        while token is None:
            assert len(outcomes) < MAX_TRIES
            try:
                response = client.post(
                    "/oauth/token",
                    auth=("demo", "demo-secret"),
                    data={"grant_type": "client_credentials"},
                )
                outcomes.append(response.status_code)
                if response.status_code == 200:
                    token = response.json()["access_token"]
            except (httpx.RemoteProtocolError, httpx.ReadError):
                outcomes.append(DROPPED)
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(requests):
            outcomes.append(outcome(lambda: client.get("/api/v1/organization", headers=headers)))
    return outcomes


@pytest.fixture
def faulty(make_sandbox) -> Callable[..., Sandbox]:
    def make(seed: int = 7, fault_rate: float = 0.3) -> Sandbox:
        return make_sandbox(
            seed=seed,
            fault_rate=fault_rate,
            rate_limit=10_000.0,
            rate_burst=10_000,
            token_rate_limit=10_000,
        )

    return make


# -- rate-limit headers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def defaults() -> Any:
    """A sandbox with the default limits (50/s, burst 100, 10 tokens a minute)."""
    with Sandbox(seed=1, now=NOW) as sb:
        yield sb


@pytest.fixture(scope="module")
def defaults_headers(defaults) -> dict[str, str]:
    token = token_response(defaults).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/organization", 200),
        ("/api/v1/availability?service_id=s_eyebrow", 200),
        ("/api/v1/appointments/a_nope", 404),
        ("/api/v1/availability", 400),
    ],
)
def test_api_responses_carry_rate_limit_headers(defaults, defaults_headers, path, status):
    response = httpx.get(f"{defaults.base_url}{path}", headers=defaults_headers, timeout=TIMEOUT_S)
    assert response.status_code == status
    for header in RATE_HEADERS:
        assert header in response.headers, header


def test_rate_limit_limit_is_the_burst(defaults, defaults_headers):
    response = httpx.get(f"{defaults.base_url}/api/v1/organization", headers=defaults_headers)
    assert response.headers["X-RateLimit-Limit"] == "100"


def test_rate_limit_remaining_is_below_the_limit_after_a_request(defaults, defaults_headers):
    response = httpx.get(f"{defaults.base_url}/api/v1/organization", headers=defaults_headers)
    assert 0 <= int(response.headers["X-RateLimit-Remaining"]) < 100


def test_rate_limit_reset_is_a_non_negative_number(defaults, defaults_headers):
    response = httpx.get(f"{defaults.base_url}/api/v1/organization", headers=defaults_headers)
    assert float(response.headers["X-RateLimit-Reset"]) >= 0


def test_token_responses_carry_rate_limit_headers(make_sandbox):
    response = token_response(make_sandbox())
    assert response.status_code == 200
    for header in RATE_HEADERS:
        assert header in response.headers, header


def test_remaining_counts_down_one_per_request(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit=0.001, rate_burst=10))
    first = api.http.get("/api/v1/organization")
    second = api.http.get("/api/v1/organization")
    remaining = int(first.headers["X-RateLimit-Remaining"])
    assert int(second.headers["X-RateLimit-Remaining"]) == remaining - 1


def test_rate_limit_reset_counts_the_seconds_until_the_bucket_is_full(make_sandbox, make_api):
    api = make_api(make_sandbox(rate_limit=0.001, rate_burst=10))
    api.http.get("/api/v1/organization")
    response = api.http.get("/api/v1/organization")
    # Two spent tokens at 0.001 per second take well over a quarter of an hour to come back.
    assert float(response.headers["X-RateLimit-Reset"]) > 1000


# -- 429 on the API ---------------------------------------------------------------------------


@pytest.fixture
def throttled(make_sandbox, make_api) -> Any:
    """A sandbox with a tiny bucket, its demo client, and the first 429 it gave."""
    sb = make_sandbox(rate_limit=1.0, rate_burst=2)
    api = make_api(sb)
    return sb, api, first_429(lambda: api.http.get("/api/v1/organization"))


def test_exhausted_bucket_is_rate_limited(throttled):
    _, _, response = throttled
    assert_error(response, 429, "rate_limited")


def test_rate_limited_response_has_retry_after_in_whole_seconds(throttled):
    _, _, response = throttled
    assert response.headers["Retry-After"].isdigit()
    assert int(response.headers["Retry-After"]) >= 1


def test_rate_limited_response_has_zero_remaining(throttled):
    _, _, response = throttled
    assert response.headers["X-RateLimit-Limit"] == "2"
    assert int(response.headers["X-RateLimit-Remaining"]) == 0


def test_rate_limit_is_per_client(throttled, make_api):
    sb, _, _ = throttled
    other = make_api(sb, "other")
    assert other.http.get("/api/v1/organization").status_code == 200


# -- 429 on the token endpoint ----------------------------------------------------------------


def test_token_endpoint_allows_ten_tokens_a_minute_by_default(make_sandbox):
    sb = make_sandbox()
    statuses = [token_response(sb).status_code for _ in range(10)]
    assert statuses == [200] * 10


def test_eleventh_token_in_a_minute_is_rate_limited(make_sandbox):
    sb = make_sandbox()
    for _ in range(10):
        token_response(sb)
    response = token_response(sb)
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_token_rate_limit_is_configurable(make_sandbox):
    sb = make_sandbox(token_rate_limit=3)
    statuses = [token_response(sb).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_token_rate_limit_is_per_client(make_sandbox):
    sb = make_sandbox(token_rate_limit=3)
    first_429(lambda: token_response(sb, "demo"), limit=10)
    assert token_response(sb, "readonly").status_code == 200


# -- fault injection --------------------------------------------------------------------------


def test_faults_make_some_requests_fail(faulty):
    outcomes = fault_sequence(faulty())
    failures = [o for o in outcomes if o != 200]
    assert failures
    assert 200 in outcomes
    assert set(failures) <= FAULT_STATUSES | {DROPPED}


def test_same_seed_gives_the_same_fault_sequence(faulty):
    assert fault_sequence(faulty(seed=7)) == fault_sequence(faulty(seed=7))


def test_faults_include_5xx_answers_and_dropped_connections(faulty):
    outcomes = fault_sequence(faulty(seed=11), requests=100)
    assert DROPPED in outcomes
    assert FAULT_STATUSES & set(outcomes)


def test_injected_5xx_uses_the_internal_envelope(faulty):
    sb = faulty(seed=5, fault_rate=0.5)
    token = until_ok(lambda: token_response(sb)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=sb.base_url, headers=headers, timeout=TIMEOUT_S) as client:
        for _ in range(MAX_TRIES):
            try:
                response = client.get("/api/v1/services")
            except (httpx.RemoteProtocolError, httpx.ReadError):
                continue
            if response.status_code in FAULT_STATUSES:
                break
        else:
            raise AssertionError("no injected 5xx")
    assert_error(response, response.status_code, "internal")


def test_sandbox_endpoints_are_never_faulted(faulty):
    sb = faulty(fault_rate=0.5)
    with httpx.Client(base_url=sb.base_url, timeout=TIMEOUT_S) as client:
        statuses = {client.get("/_sandbox/clock").status_code for _ in range(30)}
    assert statuses == {200}


def test_no_faults_without_a_fault_rate(make_sandbox):
    outcomes = fault_sequence(make_sandbox(seed=7, rate_limit=10_000.0, rate_burst=10_000))
    assert set(outcomes) == {200}


def hold_outcome(sb: Sandbox, headers: dict[str, str]) -> tuple[int | str, int, int]:
    """Try one hold through faults; return (outcome, available before, available after)."""

    def availability() -> dict[str, Any]:
        return until_ok(
            lambda: httpx.get(
                f"{sb.base_url}/api/v1/availability",
                params={"service_id": "s_eyebrow", "days_ahead": 14},
                headers=headers,
                timeout=TIMEOUT_S,
            )
        ).json()

    def available_at(doc: dict[str, Any], start: str) -> int:
        return next(s["available"] for d in doc["days"] for s in d["slots"] if s["start"] == start)

    now = sb.now()
    slots = [s for d in availability()["days"] for s in d["slots"] if s["available"] >= 1]
    slot = next(s for s in slots if parse_ts(s["start"]) > now)
    body = {
        "organization_id": "o_demo",
        "service_id": "s_eyebrow",
        "appointment_time": slot["start"],
        "appointment_duration": 15,
    }
    result = outcome(
        lambda: httpx.post(
            f"{sb.base_url}/api/v1/appointments/hold", json=body, headers=headers, timeout=TIMEOUT_S
        )
    )
    return result, slot["available"], available_at(availability(), slot["start"])


def hold_outcomes_until(sb: Sandbox, wanted: Callable[[int | str], bool]) -> tuple:
    token = until_ok(lambda: token_response(sb)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(MAX_TRIES):
        result = hold_outcome(sb, headers)
        if wanted(result[0]):
            return result
    raise AssertionError("the wanted fault never happened")


def test_dropped_hold_was_processed(faulty):
    _, before, after = hold_outcomes_until(faulty(seed=3, fault_rate=0.5), lambda o: o == DROPPED)
    assert after == before - 1


def test_injected_5xx_hold_was_not_processed(faulty):
    sb = faulty(seed=3, fault_rate=0.5)
    _, before, after = hold_outcomes_until(sb, lambda o: o in FAULT_STATUSES)
    assert after == before


# -- latency ----------------------------------------------------------------------------------


def test_latency_still_answers_correctly(make_sandbox, make_api):
    api = make_api(make_sandbox(latency_ms=5, latency_jitter_ms=5))
    response = api.http.get("/api/v1/organization")
    assert response.status_code == 200
    assert response.json()["organization_id"] == "o_demo"


def test_traffic_counts_what_the_server_saw(make_sandbox: Callable[..., Sandbox]) -> None:
    """Sequential calls over one connection, then a concurrent burst: requests, most in flight
    and connections as the server saw them; DELETE starts the counts again."""
    sb = make_sandbox(latency_ms=30, latency_jitter_ms=0)
    url = f"{sb.base_url}/api/v1/organization"
    with httpx.Client(timeout=TIMEOUT_S) as http:
        http.delete(f"{sb.base_url}/_sandbox/traffic")
        for _ in range(3):
            assert http.get(url).status_code == 401
        seen = http.get(f"{sb.base_url}/_sandbox/traffic").json()
    assert seen == {"requests": 3, "in_flight": 0, "most_in_flight": 1, "connections": 1}

    async def burst() -> None:
        limits = httpx.Limits(max_connections=8)
        async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits) as http:
            await asyncio.gather(*(http.get(url) for _ in range(40)))

    reset = httpx.delete(f"{sb.base_url}/_sandbox/traffic", timeout=TIMEOUT_S).json()
    assert reset["requests"] == 0
    asyncio.run(burst())
    seen = httpx.get(f"{sb.base_url}/_sandbox/traffic", timeout=TIMEOUT_S).json()
    assert seen["requests"] == 40
    assert seen["in_flight"] == 0
    assert 2 <= seen["most_in_flight"] <= 8  # the client's pool bounds it
    assert 2 <= seen["connections"] <= 8
