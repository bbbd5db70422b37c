"""No call hangs: timeouts on every request, a minimum body rate, call and fetch deadlines.

The hangs are real: a loopback server of the tests' own (``misbehaving`` in conftest) accepts
and never answers, stalls after the headers, or drips a body a byte a second. Each test gives
the client short limits and asserts an upper bound on how long the error took to come.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import anyio
import httpx
import pytest
from conftest import UNLIMITED

from zimun_analytics import ZimunClient, fetch_availability
from zimun_analytics._config import (
    CALL_DEADLINE_S,
    CONNECT_TIMEOUT_S,
    POOL_TIMEOUT_S,
    READ_TIMEOUT_S,
    WRITE_TIMEOUT_S,
)
from zimun_analytics._errors import APITimeoutError, InputError, RateLimitError, ServerError
from zimun_analytics.client import AsyncZimunClient

LIMIT_S = 1.0  # every phase of every request, in these tests
DEADLINE_S = 3.0  # of every call, in these tests
SLACK_S = 1.5  # scheduling, a loaded machine: the bounds below are limits + this, never less
TOKEN_OK = {"/oauth/token": "token"}
# the drip sends a byte a second: a read timeout of 1.5 s never sees a silence that long, so only
# the minimum body rate can end it (at 1 s, the two limits would race)
DRIP_TIMEOUT = httpx.Timeout(LIMIT_S, read=1.5)


def _client(server, **options) -> ZimunClient:
    settings = {"timeout": LIMIT_S, "call_deadline": DEADLINE_S, **options}
    return ZimunClient("id", "secret", server.base_url, **settings)


def _ended_by_deadline_or_last_attempt(error: APITimeoutError, attempt_error: str) -> bool:
    """Either the deadline cut an attempt, or the next wait would have outlasted it and the
    last attempt's own error was raised at once: both are right, which depends on jitter."""
    message = str(error)
    if f"did not finish within its {DEADLINE_S:g} s deadline" in message:
        return attempt_error in message  # as the last error before the cut
    return attempt_error in message.split(" — ")[0]  # the last attempt's error itself


def _time_error(call):
    """Run ``call``; return the APITimeoutError it raised and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        call()
    return caught.value, time.monotonic() - started


# -- every request carries all four timeouts ---------------------------------------------------


def test_every_request_and_the_token_request_carry_all_four_default_timeouts():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.extensions["timeout"]
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(200, json={"organization_id": "o_1", "name": "x", "timezone": "UTC"})

    transport = httpx.MockTransport(handler)
    with ZimunClient("id", "secret", "https://x.test", transport=transport) as zimun:
        zimun.organization()
    expected = {
        "connect": CONNECT_TIMEOUT_S,
        "read": READ_TIMEOUT_S,
        "write": WRITE_TIMEOUT_S,
        "pool": POOL_TIMEOUT_S,
    }
    assert seen == {"/oauth/token": expected, "/api/v1/organization": expected}


@pytest.mark.parametrize(
    "timeout",
    [0, -1, "30", httpx.Timeout(None), httpx.Timeout(5.0, read=None)],
)
def test_a_timeout_that_leaves_a_phase_unlimited_is_refused(timeout):
    with pytest.raises(InputError, match="timeout"):
        AsyncZimunClient("id", "secret", "https://x.test", timeout=timeout)


@pytest.mark.parametrize("deadline", [0, -5, float("nan"), True, "60"])
def test_a_call_deadline_that_is_not_a_positive_number_is_refused(deadline):
    with pytest.raises(InputError, match="call_deadline"):
        AsyncZimunClient("id", "secret", "https://x.test", call_deadline=deadline)


def test_the_default_call_deadline_is_the_configured_one():
    assert AsyncZimunClient("id", "secret", "https://x.test").call_deadline == CALL_DEADLINE_S


# -- the four hangs ---------------------------------------------------------------------------


def test_token_endpoint_that_accepts_and_never_answers_ends_at_the_call_deadline(misbehaving):
    server = misbehaving({"/oauth/token": "never"})
    with _client(server) as zimun:
        error, took = _time_error(zimun.organization)
    assert took < DEADLINE_S + SLACK_S
    assert _ended_by_deadline_or_last_attempt(error, "POST /oauth/token timed out (ReadTimeout")
    assert server.seen.count("POST /oauth/token") >= 2  # retried within the deadline


def test_a_deadline_shorter_than_an_attempt_cuts_the_attempt(misbehaving):
    server = misbehaving({"/oauth/token": "never"})
    with _client(server, timeout=30.0, call_deadline=1.0) as zimun:
        error, took = _time_error(zimun.organization)
    assert took < 1.0 + SLACK_S
    assert str(error).startswith(
        "GET /api/v1/organization did not finish within its 1 s deadline (1 attempt)"
    )


def test_token_endpoint_that_never_answers_is_one_read_timeout_without_retries(misbehaving):
    server = misbehaving({"/oauth/token": "never"})
    with _client(server, max_retries=0) as zimun:
        error, took = _time_error(zimun.organization)
    assert took < LIMIT_S + SLACK_S
    assert str(error).startswith("POST /oauth/token timed out (ReadTimeout, fetching a token")


def test_stalled_availability_after_a_good_token_ends_at_the_call_deadline(misbehaving):
    server = misbehaving({**TOKEN_OK, "/api/v1/availability": "never"})
    with _client(server) as zimun:
        error, took = _time_error(lambda: zimun.availability("s_1"))
    assert took < DEADLINE_S + SLACK_S
    assert _ended_by_deadline_or_last_attempt(error, "GET /api/v1/availability timed out")
    assert server.seen.count("GET /api/v1/availability") >= 2


def test_a_body_dripped_a_byte_a_second_fails_as_too_slow(misbehaving):
    server = misbehaving({**TOKEN_OK, "/api/v1/availability": "drip"})
    with _client(server, max_retries=0, timeout=DRIP_TIMEOUT) as zimun:
        error, took = _time_error(lambda: zimun.availability("s_1"))
    # the body gets one read timeout, plus a second per 4 KiB received (a few bytes here)
    assert took < DRIP_TIMEOUT.read + SLACK_S
    assert "the response body arrived slower than 4,096 bytes/s" in str(error)


def test_a_dripped_token_body_fails_as_too_slow(misbehaving):
    server = misbehaving({"/oauth/token": "drip"})
    with _client(server, max_retries=0, timeout=DRIP_TIMEOUT) as zimun:
        error, took = _time_error(zimun.organization)
    assert took < DRIP_TIMEOUT.read + SLACK_S
    assert str(error).startswith("POST /oauth/token timed out (the response body arrived slower")
    assert "fetching a token for /api/v1/organization" in str(error)


def test_a_dripped_body_is_retried_and_ends_at_the_call_deadline(misbehaving):
    server = misbehaving({**TOKEN_OK, "/api/v1/availability": "drip"})
    with _client(server, timeout=DRIP_TIMEOUT) as zimun:
        error, took = _time_error(lambda: zimun.availability("s_1"))
    assert took < DEADLINE_S + SLACK_S
    assert _ended_by_deadline_or_last_attempt(error, "arrived slower than 4,096 bytes/s")
    assert server.seen.count("GET /api/v1/availability") >= 2


def test_headers_then_silence_is_a_read_timeout(misbehaving):
    server = misbehaving({**TOKEN_OK, "/api/v1/availability": "headers"})
    with _client(server, max_retries=0) as zimun:
        error, took = _time_error(lambda: zimun.availability("s_1"))
    assert took < LIMIT_S + SLACK_S
    assert str(error).startswith("GET /api/v1/availability timed out (ReadTimeout)")


def test_connections_of_a_call_ended_by_its_deadline_are_closed(misbehaving):
    server = misbehaving({"/oauth/token": "never"})
    with _client(server) as zimun:
        _time_error(zimun.organization)
    for _ in range(200):  # the server notices the close a moment later
        if server.open_connections == 0:
            break
        time.sleep(0.01)
    assert server.open_connections == 0


# -- waits that would outlast the deadline are not begun ----------------------------------------


def _always(status: int, headers: dict[str, str]):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        body = {"error": {"code": "rate_limited" if status == 429 else "internal", "message": "x"}}
        return httpx.Response(status, json=body, headers=headers)

    return httpx.MockTransport(handler)


def test_a_retry_after_beyond_the_deadline_fails_at_once_with_the_rate_limit_error():
    transport = _always(429, {"Retry-After": "30"})
    started = time.monotonic()
    with ZimunClient("id", "secret", "https://x.test", transport=transport, call_deadline=10) as z:
        with pytest.raises(RateLimitError):
            z.organization()
    assert time.monotonic() - started < SLACK_S  # did not sleep 30 s, nor 10


def test_backoff_stops_before_the_deadline_and_raises_the_real_error():
    transport = _always(503, {})
    started = time.monotonic()
    with ZimunClient(
        "id", "secret", "https://x.test", transport=transport, call_deadline=0.6, max_retries=50
    ) as zimun:
        with pytest.raises(ServerError):
            zimun.organization()
    assert time.monotonic() - started < 0.6 + SLACK_S


# -- fetch deadlines -----------------------------------------------------------------------------


class StallSome(httpx.AsyncHTTPTransport):
    """Real loopback HTTP to a sandbox, except requests for some paths or services hang."""

    def __init__(self, paths=(), services=()):
        super().__init__()
        self.paths, self.services = set(paths), set(services)

    async def handle_async_request(self, request):
        if request.url.path in self.paths or request.url.params.get("service_id") in self.services:
            await anyio.sleep_forever()
        return await super().handle_async_request(request)


def _stalling_client(sandbox, **stall) -> ZimunClient:
    return ZimunClient("demo", "demo-secret", sandbox.base_url, transport=StallSome(**stall))


def test_fetch_deadline_records_unfinished_pairs_as_timeout_rows(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    with _stalling_client(sb, services={"s_beard"}) as client:
        started = time.monotonic()
        snapshot = fetch_availability(
            client, services=["s_beard", "s_eyebrow"], days_ahead=2, progress=False, deadline=2
        )
        took = time.monotonic() - started
    assert took < 2 + SLACK_S
    assert not snapshot.complete
    assert set(snapshot.slots.service_id) == {"s_eyebrow"}
    rows = snapshot.errors
    assert set(rows.service_id) == {"s_beard"} and (rows.error_class == "APITimeoutError").all()
    assert rows.message.str.contains("unfinished when the fetch's 2 s deadline passed").all()


def test_fetch_deadline_with_strict_raises_the_timeout(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    with _stalling_client(sb, services={"s_beard"}) as client:
        with pytest.raises(APITimeoutError, match="2 s deadline"):
            fetch_availability(
                client, services=["s_beard"], days_ahead=1, progress=False, deadline=2, strict=True
            )


def test_fetch_deadline_before_the_catalogue_arrives_raises(make_sandbox):
    sb = make_sandbox(**UNLIMITED)
    with _stalling_client(sb, paths={"/api/v1/services"}) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match="the catalogue .* had not arrived"):
            fetch_availability(client, progress=False, deadline=1.5)
    assert time.monotonic() - started < 1.5 + SLACK_S


def test_a_fetch_within_its_deadline_is_complete(sandbox):
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
        snapshot = fetch_availability(client, days_ahead=2, progress=False, deadline=60)
    assert snapshot.complete and len(snapshot.slots) > 0


@pytest.mark.parametrize("deadline", [0, -1, "10", True])
def test_a_fetch_deadline_that_is_not_a_positive_number_is_refused(sandbox, deadline):
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as client:
        with pytest.raises(InputError, match="deadline"):
            fetch_availability(client, progress=False, deadline=deadline)


# -- Ctrl-C ----------------------------------------------------------------------------------


def test_ctrl_c_stops_a_blocking_call_at_once_and_the_script_exits(misbehaving):
    server = misbehaving({"/oauth/token": "never"})
    script = (
        "import sys\n"
        "from zimun_analytics import ZimunClient\n"
        f"with ZimunClient('id', 'secret', {server.base_url!r}) as client:\n"
        "    print('calling', flush=True)\n"
        "    try:\n"
        "        client.organization()\n"
        "    except KeyboardInterrupt:\n"
        "        print('interrupted', flush=True)\n"
        "print('closed', flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    ) as child:
        assert child.stdout.readline() == "calling\n"
        while "POST /oauth/token" not in server.seen:  # the call is under way, and hangs
            time.sleep(0.01)
        interrupted = time.monotonic()
        child.send_signal(signal.SIGINT)
        rest = child.communicate(timeout=30)[0]
    assert time.monotonic() - interrupted < 5  # far below the 30 s read timeout
    assert rest == "interrupted\nclosed\n" and child.returncode == 0
