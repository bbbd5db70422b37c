"""OAuth2 client-credentials auth as an ``httpx.Auth``.

A cached bearer token, refreshed ahead of expiry, fetched single-flight by concurrent requests,
and renewed once when the service answers 401. The token request carries its own timeouts:
httpx gives a request the client's timeouts only when the client builds it, never when an auth
flow does, and a token request without any waits forever for an endpoint that never answers.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Generator

import anyio
import httpx

from .._config import TOKEN_REFRESH_MARGIN_S
from .._errors import make_status_error
from ._timeouts import request_timeout

TOKEN_PATH = "/oauth/token"
DEFAULT_TOKEN_LIFETIME_S = 3600.0  # the contract's; used when a token response omits expires_in


def _seconds(value: object, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return default
    return float(value)


class ClientCredentialsAuth(httpx.Auth):
    """Attach ``Authorization: Bearer <token>``, fetching the token with client credentials.

    Parameters
    ----------
    token_url
        Full URL of the token endpoint.
    client_id, client_secret
        The client's credentials, sent by HTTP Basic (RFC 6749 §2.3.1).
    scope
        Optional space-separated scopes to ask for; default: all the client may have.
    timeout
        Connect, read, write and pool timeouts of the token request (an ``httpx.Timeout`` with
        all four, or seconds for each); default those of :mod:`zimun_analytics._config`.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
    ) -> None:
        self._token_url = token_url
        self._timeout = request_timeout(timeout)
        self._credentials = httpx.BasicAuth(client_id, client_secret)
        self._scope = scope
        self._token: str | None = None
        self._expires_at = 0.0  # time.monotonic() seconds
        self.tokens_fetched = 0
        self._lock: anyio.Lock | None = None

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(token_url={self._token_url!r}, token=<hidden>)"

    def _needs_token(self) -> bool:
        return self._token is None or time.monotonic() >= self._expires_at

    def _token_request(self) -> httpx.Request:
        data = {"grant_type": "client_credentials"}
        if self._scope:
            data["scope"] = self._scope
        request = httpx.Request(
            "POST", self._token_url, data=data, extensions={"timeout": self._timeout.as_dict()}
        )
        return next(self._credentials.auth_flow(request))

    def _store(self, response: httpx.Response) -> None:
        """Keep the token from a token response, or raise the matching error."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise make_status_error(
                response.status_code if response.status_code != 200 else 502,
                body,
                method="POST",
                url=self._token_url,
                request_id=response.headers.get("x-request-id"),
                headers=response.headers,
            )
        lifetime = _seconds(body.get("expires_in"), default=DEFAULT_TOKEN_LIFETIME_S)
        self._token = str(body["access_token"])
        self._expires_at = time.monotonic() + max(lifetime - TOKEN_REFRESH_MARGIN_S, lifetime / 2)
        self.tokens_fetched += 1

    def _sign(self, request: httpx.Request) -> str:
        assert self._token is not None
        request.headers["Authorization"] = f"Bearer {self._token}"
        return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign with a cached token; fetch one first if needed; on 401 refresh once and retry."""
        if self._needs_token():
            self._store((yield self._token_request()))
        used = self._sign(request)
        response = yield request
        if response.status_code == 401:
            if self._token == used:  # nobody refreshed meanwhile
                self._store((yield self._token_request()))
            self._sign(request)
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """As :meth:`auth_flow`, with token fetches single-flight across concurrent requests."""
        self._lock = self._lock or anyio.Lock()
        if self._needs_token():
            async with self._lock:  # the first caller fetches; the others wait and reuse it
                if self._needs_token():
                    response = yield self._token_request()
                    await response.aread()
                    self._store(response)
        used = self._sign(request)
        response = yield request
        if response.status_code == 401:
            async with self._lock:
                if self._token == used:  # nobody refreshed meanwhile
                    response = yield self._token_request()
                    await response.aread()
                    self._store(response)
            self._sign(request)
            yield request
