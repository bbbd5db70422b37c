"""The aiohttp-backed httpx transport: what httpx users expect of a transport, over loopback.

Each test talks to a real server on 127.0.0.1 (the tests' own misbehaving one, or the
sandbox), through ``httpx.AsyncClient(transport=AiohttpTransport())`` or the client itself.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import warnings

import httpx
import pytest
from conftest import UNLIMITED

from zimun_analytics import ZimunClient
from zimun_analytics._errors import APIConnectionError, APITimeoutError
from zimun_analytics.client._transport import AiohttpTransport
from zimun_analytics.fetch import fetch_availability
from zimun_analytics.sandbox import Sandbox

TOKEN = {"access_token": "t-1", "token_type": "Bearer", "expires_in": 3600}
SHORT = httpx.Timeout(0.5)


def _get(base_url: str, path: str, timeout: httpx.Timeout = SHORT, **options) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = AiohttpTransport(**options)
        async with httpx.AsyncClient(base_url=base_url, transport=transport) as http:
            return await http.get(path, timeout=timeout)

    return asyncio.run(go())


def _error_of(base_url: str, path: str, **options) -> httpx.HTTPError:
    with pytest.raises(httpx.HTTPError) as caught:
        _get(base_url, path, **options)
    return caught.value


@pytest.mark.parametrize("route", ["token", "gzip", "chunked"])
def test_a_body_reads_as_httpx_would_read_it(misbehaving, route):
    server = misbehaving({"/t": route})
    response = _get(server.base_url, "/t")
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "OK"
    assert response.json() == TOKEN  # gzip decoded by httpx, chunks joined


@pytest.mark.parametrize(
    ("route", "error"),
    [
        ("garbage", httpx.RemoteProtocolError),  # bytes that are not HTTP
        ("hangup", httpx.RemoteProtocolError),  # closed before any answer
        ("truncated", httpx.RemoteProtocolError),  # a body shorter than its content-length
        ("never", httpx.ReadTimeout),  # accepted and read, never answered
        ("headers", httpx.ReadTimeout),  # headers, then silence
    ],
)
def test_each_failure_is_the_httpx_error_it_stands_for(misbehaving, route, error):
    server = misbehaving({"/x": route})
    raised = _error_of(server.base_url, "/x")
    assert type(raised) is error
    assert raised.request.url.path == "/x"


def test_a_refused_connection_is_a_connect_error():
    with socket.socket() as sock:  # a port just freed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    raised = _error_of(f"http://127.0.0.1:{port}", "/x")
    assert type(raised) is httpx.ConnectError


def test_waiting_for_a_connection_ends_at_the_pool_and_connect_timeouts(misbehaving):
    server = misbehaving({"/never": "never", "/t": "token"})
    timeout = httpx.Timeout(5.0, pool=0.3, connect=0.3)  # aiohttp bounds the two together

    async def go() -> BaseException:
        transport = AiohttpTransport(max_connections=1)
        async with httpx.AsyncClient(base_url=server.base_url, transport=transport) as http:
            stuck = asyncio.create_task(http.get("/never", timeout=timeout))
            await asyncio.sleep(0.1)  # let it take the one connection
            with pytest.raises(httpx.TimeoutException) as caught:
                await http.get("/t", timeout=timeout)
            stuck.cancel()
            return caught.value

    assert isinstance(asyncio.run(go()), httpx.ConnectTimeout)


def test_connections_are_reused_and_a_body_left_unread_is_not(misbehaving):
    server = misbehaving({"/t": "token", "/headers": "headers"})

    async def go() -> None:
        async with httpx.AsyncClient(
            base_url=server.base_url, transport=AiohttpTransport(), timeout=SHORT
        ) as http:
            for _ in range(20):
                assert (await http.get("/t")).json() == TOKEN
            assert server.accepted == 1  # one keep-alive connection for twenty requests
            async with http.stream("GET", "/headers") as response:
                assert response.status_code == 200  # its body never comes; we walk away
            assert (await http.get("/t")).json() == TOKEN  # not on the abandoned connection
            assert server.accepted == 2

    asyncio.run(go())


def test_one_transport_serves_successive_event_loops(misbehaving):
    server = misbehaving({"/t": "token"})
    transport = AiohttpTransport()

    async def once() -> dict:
        async with httpx.AsyncClient(
            base_url=server.base_url, transport=transport, timeout=SHORT
        ) as http:
            return (await http.get("/t")).json()  # closing the client closes the pool

    assert asyncio.run(once()) == TOKEN
    assert asyncio.run(once()) == TOKEN  # a pool of its own on the second loop
    assert server.accepted == 2


def test_the_client_reports_transport_failures_as_its_own_errors(misbehaving):
    server = misbehaving({"/oauth/token": "token", "/api/v1/organization": "garbage"})
    with ZimunClient("id", "secret", server.base_url, timeout=1.0, max_retries=0) as zimun:
        with pytest.raises(APIConnectionError) as caught:
            zimun.organization()
    assert str(caught.value).startswith(
        "GET /api/v1/organization: connection failed (RemoteProtocolError)"
    )
    assert not isinstance(caught.value, APITimeoutError)


def test_concurrency_is_honoured_up_to_the_connections_and_the_cap_is_said(make_sandbox):
    sb = make_sandbox(services=40, latency_ms=40, **UNLIMITED)
    traffic = f"{sb.base_url}/_sandbox/traffic"
    with ZimunClient("demo", "demo-secret", sb.base_url) as zimun:
        httpx.delete(traffic)
        fetch_availability(zimun, days_ahead=3, concurrency=24, progress=False)
        assert httpx.get(traffic).json()["most_in_flight"] == 24
    with ZimunClient("demo", "demo-secret", sb.base_url, max_connections=6) as zimun:
        httpx.delete(traffic)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            fetch_availability(zimun, days_ahead=3, concurrency=24, progress=False)
        seen = json.loads(httpx.get(traffic).text)
    assert seen["most_in_flight"] == 6
    assert seen["connections"] <= 6
    assert [str(w.message) for w in said] == [
        "concurrency=24 is more than the client's 6 connections, so 6 calls are in flight at "
        "once; for more, make the client with max_connections=24"
    ]


def test_bad_pool_sizes_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        AiohttpTransport(max_connections=0)
    with pytest.raises(TypeError, match="whole number"):
        AiohttpTransport(max_connections=2.5)  # type: ignore[arg-type]


def test_repr_names_the_pool_and_nothing_else():
    assert repr(AiohttpTransport(max_connections=7)) == "AiohttpTransport(max_connections=7)"


def test_sandbox_is_reached_through_it(sandbox: Sandbox):
    with ZimunClient("demo", "demo-secret", sandbox.base_url) as zimun:
        assert zimun.async_client.max_connections == 256
        assert zimun.organization().organization_id


def test_a_client_never_closed_leaves_nothing_on_stderr():
    # a notebook or a script that forgets close(): the client closes itself when collected or
    # at exit, rather than leave aiohttp to report an "Unclosed client session"
    code = (
        "import gc\n"
        "from zimun_analytics import ZimunClient\n"
        "from zimun_analytics.sandbox import Sandbox\n"
        "sandbox = Sandbox(seed=1).__enter__()\n"
        "kept = ZimunClient('demo', 'demo-secret', sandbox.base_url)\n"
        "kept.organization()\n"
        "dropped = ZimunClient('demo', 'demo-secret', sandbox.base_url)\n"
        "dropped.organization()\n"
        "del dropped\n"
        "gc.collect()\n"
        "print('done')\n"
    )
    ran = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "done\n", "")


def test_a_reset_after_the_request_was_sent_is_no_connect_error(misbehaving):
    # ConnectError would say the request never left, and a confirm would claim no booking
    server = misbehaving({"/oauth/token": "token", "/api/v1/appointments/confirm": "reset"})
    raised = _error_of(server.base_url, "/api/v1/appointments/confirm")
    assert isinstance(raised, httpx.ReadError)
    with ZimunClient("id", "secret", server.base_url, timeout=1.0, max_retries=0) as zimun:
        with pytest.raises(APIConnectionError) as caught:
            zimun.confirm("h_1", "Dana Lee", "dana@example.com")
    assert caught.value.may_have_taken_effect


def test_a_streamed_request_body_goes_with_one_framing(misbehaving):
    server = misbehaving({"/t": "token"})

    async def go() -> httpx.Response:
        async def parts():
            yield b"part1-"
            yield b"part2"

        async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=SHORT) as http:
            return await http.post(f"{server.base_url}/t", content=parts())

    assert asyncio.run(go()).json() == TOKEN
    head = server.heads[-1].lower()
    assert b"transfer-encoding" not in head
    assert b"content-length: 11\r\n" in head


def test_credentials_in_the_url_go_as_httpx_sends_them(misbehaving):
    server = misbehaving({"/t": "token"})
    with_user = server.base_url.replace("http://", "http://user:p%40ss@")
    assert _get(with_user, "/t").json() == TOKEN
    assert b"authorization: basic " in server.heads[-1].lower()


def test_requests_aiohttp_will_not_send_are_httpx_errors(misbehaving):
    server = misbehaving({"/t": "token"})

    async def bad_header() -> None:
        async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=SHORT) as http:
            await http.get(f"{server.base_url}/t", headers={"X-Bad": "a\x00b"})

    with pytest.raises(httpx.HTTPError) as caught:
        asyncio.run(bad_header())
    assert isinstance(caught.value, httpx.LocalProtocolError | httpx.UnsupportedProtocol)


def test_a_body_that_cannot_be_decoded_is_an_api_error(misbehaving):
    server = misbehaving({"/oauth/token": "token", "/api/v1/organization": "badgzip"})
    with ZimunClient("id", "secret", server.base_url, timeout=1.0, max_retries=0) as zimun:
        with pytest.raises(APIConnectionError, match="could not be decoded"):
            zimun.organization()


def test_the_client_keeps_no_cookies(misbehaving):
    server = misbehaving({"/t": "token"})
    with (
        ZimunClient("id", "secret", server.base_url) as one,
        ZimunClient("id", "secret", server.base_url) as other,
    ):
        jar = one.async_client._http.cookies
        with pytest.raises(TypeError, match="keeps no cookies"):
            jar.set("session", "tenant-a-secret")
        assert jar is not other.async_client._http.cookies
        assert not jar and not other.async_client._http.cookies
