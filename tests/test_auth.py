"""ClientCredentialsAuth: driven by hand as a generator, then through a mock transport."""

import json

import anyio
import httpx
import pytest

from zimun_analytics._errors import AuthenticationError, ServerError
from zimun_analytics.client._auth import ClientCredentialsAuth

TOKEN_URL = "https://api.example.test/oauth/token"
SECRET = "s3cr3t-value"


def _auth():
    return ClientCredentialsAuth(TOKEN_URL, "demo", SECRET)


def _token_response(token="tok-1", expires_in=3600):
    return httpx.Response(
        200,
        json={
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "organization_id": "o_demo",
        },
    )


def test_flow_fetches_a_token_then_signs_the_request():
    auth = _auth()
    flow = auth.auth_flow(httpx.Request("GET", "https://api.example.test/api/v1/organization"))
    token_request = next(flow)
    assert token_request.url == TOKEN_URL
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert b"grant_type=client_credentials" in token_request.read()
    signed = flow.send(_token_response())
    assert signed.headers["Authorization"] == "Bearer tok-1"
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200))


def test_token_request_carries_all_four_timeouts():
    token_request = next(_auth().auth_flow(httpx.Request("GET", "https://api.example.test/a")))
    limits = token_request.extensions["timeout"]
    assert set(limits) == {"connect", "read", "write", "pool"}
    assert all(isinstance(value, float) and value > 0 for value in limits.values())


def test_token_request_uses_the_timeouts_it_is_given():
    auth = ClientCredentialsAuth(TOKEN_URL, "demo", SECRET, timeout=httpx.Timeout(2.5))
    token_request = next(auth.auth_flow(httpx.Request("GET", "https://api.example.test/a")))
    assert token_request.extensions["timeout"] == dict.fromkeys(
        ["connect", "read", "write", "pool"], 2.5
    )


def test_flow_reuses_a_cached_token():
    auth = _auth()
    first = auth.auth_flow(httpx.Request("GET", "https://api.example.test/a"))
    next(first)
    first.send(_token_response())
    second = auth.auth_flow(httpx.Request("GET", "https://api.example.test/b"))
    assert next(second).headers["Authorization"] == "Bearer tok-1"
    assert auth.tokens_fetched == 1


def test_flow_refreshes_once_on_401_and_retries_once():
    auth = _auth()
    flow = auth.auth_flow(httpx.Request("GET", "https://api.example.test/a"))
    next(flow)
    flow.send(_token_response("old"))
    refresh = flow.send(httpx.Response(401))
    assert refresh.url == TOKEN_URL
    retried = flow.send(_token_response("new"))
    assert retried.headers["Authorization"] == "Bearer new"
    with pytest.raises(StopIteration):  # a second 401 is returned, not looped on
        flow.send(httpx.Response(401))


def test_token_endpoint_rejection_raises_authentication_error_with_oauth_code():
    auth = _auth()
    flow = auth.auth_flow(httpx.Request("GET", "https://api.example.test/a"))
    next(flow)
    rejection = httpx.Response(
        401, json={"error": "invalid_client"}, headers={"X-Request-Id": "req_1"}
    )
    with pytest.raises(AuthenticationError) as caught:
        flow.send(rejection)
    assert caught.value.code == "invalid_client"
    assert caught.value.request_id == "req_1"
    assert SECRET not in str(caught.value)


def test_token_endpoint_outage_raises_server_error():
    flow = _auth().auth_flow(httpx.Request("GET", "https://api.example.test/a"))
    next(flow)
    with pytest.raises(ServerError):
        flow.send(httpx.Response(503, json={"error": {"code": "internal", "message": "down"}}))


def test_repr_hides_secret_and_token():
    auth = _auth()
    flow = auth.auth_flow(httpx.Request("GET", "https://api.example.test/a"))
    next(flow)
    flow.send(_token_response("tok-visible?"))
    assert SECRET not in repr(auth) and "tok-visible?" not in repr(auth)


def test_concurrent_requests_fetch_exactly_one_token():
    token_requests = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            token_requests.append(request)
            await anyio.sleep(0.01)  # a slow token endpoint widens the race window
            return _token_response()
        assert request.headers["Authorization"] == "Bearer tok-1"
        return httpx.Response(200, json={"ok": True})

    async def main():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=_auth()) as c:
            async with anyio.create_task_group() as group:
                for n in range(100):
                    group.start_soon(c.get, f"https://api.example.test/api/v1/x{n}")

    anyio.run(main)
    assert len(token_requests) == 1


def test_expired_token_is_refreshed_before_the_request():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/oauth/token":
            return _token_response(f"tok-{len(calls)}", expires_in=0)  # stale at once
        return httpx.Response(200, content=json.dumps({}).encode())

    with httpx.Client(transport=httpx.MockTransport(handler), auth=_auth()) as client:
        client.get("https://api.example.test/a")
        client.get("https://api.example.test/b")
    assert calls == ["/oauth/token", "/a", "/oauth/token", "/b"]
