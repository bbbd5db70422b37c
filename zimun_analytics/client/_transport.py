"""What the client's httpx sends through: an ``httpx`` transport over an aiohttp connection pool.

The client speaks httpx (requests, responses, auth flows, event hooks, errors), but below that
httpcore's pool costs ~1 ms of CPU per request at a few dozen in flight and, as one pool of 64,
~10 ms (it scans every connection on every request event), while aiohttp's pool costs a tenth
of that (``benchmarks/bench_throughput.py``). :class:`AiohttpTransport` is the seam:
``httpx.AsyncClient(transport=AiohttpTransport())`` behaves as httpx's own transport does, with

- httpx's four timeouts honoured per request (``request.extensions["timeout"]``): pool and
  connect bound aiohttp's wait for a connection, connect its TCP and TLS handshake, read every
  silence of the response; writing is bounded with the wait for the answer's headers, which
  together may take write + read (aiohttp has no write timeout of its own);
- aiohttp's failures raised as the httpx errors they are (``ConnectTimeout``, ``ReadTimeout``,
  ``ConnectError``, ``RemoteProtocolError``, ...), each with its request;
- the body streamed chunk by chunk as it arrives, undecoded (httpx decodes gzip itself), so
  response hooks can wrap it (:func:`~zimun_analytics.client._timeouts.minimum_rate_hook`);
- TLS as httpx verifies it (certifi, ``SSL_CERT_FILE``), proxies from ``HTTP(S)_PROXY`` and
  ``NO_PROXY``, no cookies and no ``.netrc`` (aiohttp's ``trust_env`` would add netrc
  credentials and then refuse the request's own ``Authorization``), no redirects followed.

aiohttp runs on asyncio only: under another event loop (trio) requests go through httpx's own
transport instead, with the same limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import urllib.request
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import sniffio

from .._config import MAX_CONNECTIONS

if (
    TYPE_CHECKING
):  # aiohttp is imported with the first request: `import zimun_analytics` stays light
    import aiohttp


_FRAMING = {b"content-length", b"transfer-encoding"}  # aiohttp sets them from the body


class _ResponseStream(httpx.AsyncByteStream):
    """An aiohttp response body as httpx reads it: chunks as they arrive, errors as httpx's."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        import aiohttp  # loaded since the request was sent

        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._response.close()  # a connection whose body broke off is not reused
            raise _httpx_error(exc, self._request) from exc

    async def aclose(self) -> None:
        # release() returns the connection to the pool when the body was read to its end, and
        # closes it otherwise (aiohttp checks), so an abandoned body never poisons the pool
        self._response.release()


def _httpx_error(exc: BaseException, request: httpx.Request) -> Exception:
    """The httpx error that ``exc``, raised by aiohttp for ``request``, stands for."""
    import aiohttp

    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # the pool wait or the handshake
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.SocketTimeoutError):  # a silence longer than the read timeout
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, TimeoutError):  # our bound on sending the request and its answer
        return httpx.WriteTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientProxyConnectionError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(message, request=request)
    if isinstance(exc, ValueError):  # a header or URL aiohttp will not send, as httpx would not
        return httpx.LocalProtocolError(message, request=request)
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError,
    ):  # hung up early, a truncated body, or bytes that are not HTTP
        return httpx.RemoteProtocolError(message, request=request)
    # anything else (a reset, a broken pipe) came once connected: the request may have reached
    # the server, which a ConnectError would deny (the client reads it as "nothing was sent")
    return httpx.ReadError(message, request=request)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` sending through one aiohttp connection pool.

    Parameters
    ----------
    max_connections
        Connections open at once, to all hosts together; requests beyond it wait for one
        (within httpx's pool timeout).
    keepalive_s
        Seconds an idle connection is kept for reuse.
    """

    def __init__(self, *, max_connections: int = MAX_CONNECTIONS, keepalive_s: float = 15.0):
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise TypeError(f"max_connections must be a whole number, got {max_connections!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self.max_connections = max_connections
        self._keepalive_s = keepalive_s
        self._ssl: ssl.SSLContext | None = None
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies = urllib.request.getproxies_environment()
        self._fallback: httpx.AsyncHTTPTransport | None = None

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self.max_connections})"

    async def _open_session(self) -> aiohttp.ClientSession:
        """The pool of the running loop: made on first use, and anew if the loop changed."""
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop and not self._session.closed:
            return self._session
        # a pool of another loop (asyncio.run twice, not closed in between) cannot be closed
        # from this one: it is left to the garbage collector (aiohttp warns of it) and this
        # loop gets a pool of its own; closing the client at the end of each loop avoids both
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()  # what httpx verifies with: certifi, env
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=self._keepalive_s,
                ssl=self._ssl,
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            # response header lines up to 64 KiB (aiohttp's default is 8 KiB; CDNs send more)
            max_line_size=65_536,
            max_field_size=65_536,
        )
        self._loop = loop
        return self._session

    def _proxy_for(self, url: httpx.URL, request: httpx.Request) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        host = f"{url.host}:{url.port}" if url.port else url.host
        if proxy is None or urllib.request.proxy_bypass(host):  # NO_PROXY, with or without port
            return None
        if not proxy.lower().startswith(("http://", "https://")):
            raise httpx.UnsupportedProtocol(
                f"only http:// and https:// proxies are supported, got {proxy.split(':')[0]}://",
                request=request,
            )
        return proxy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the response's body streams from the connection as read."""
        if sniffio.current_async_library() != "asyncio":
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(max_connections=self.max_connections)
                )
            return await self._fallback.handle_async_request(request)
        session = await self._open_session()
        import aiohttp  # loaded by _open_session, as are the two below
        from multidict import CIMultiDict
        from yarl import URL

        limits: dict[str, Any] = request.extensions.get("timeout", {})
        connect, read = limits.get("connect"), limits.get("read")
        write, pool = limits.get("write"), limits.get("pool")
        waiting = None if connect is None or pool is None else connect + pool
        timeout = aiohttp.ClientTimeout(
            total=None, connect=waiting, sock_connect=connect, sock_read=read
        )
        # aiohttp bounds each silence of the answer (read) but not the sending: once connected,
        # sending and the wait for the answer's headers together get write + read
        answered_within = None
        if waiting is not None and write is not None and read is not None:
            answered_within = waiting + write + read
        # the body goes as bytes, so aiohttp frames it: a streamed body's Transfer-Encoding
        # beside the Content-Length aiohttp sets would make the request ambiguous on the wire
        headers = CIMultiDict(
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() not in _FRAMING
        )
        body = await request.aread()
        url = URL(str(request.url), encoded=True)
        if request.url.userinfo:  # httpx sent it as Authorization; aiohttp would refuse both
            url = url.with_user(None)
        try:
            async with asyncio.timeout(answered_within):
                response = await session.request(
                    request.method,
                    url,
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                    timeout=timeout,
                    proxy=self._proxy_for(request.url, request),
                )
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise _httpx_error(exc, request) from exc
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),
            stream=_ResponseStream(response, request),
            extensions={
                "http_version": f"HTTP/{response.version.major}.{response.version.minor}".encode()
                if response.version
                else b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1", "replace"),
            },
        )

    async def aclose(self) -> None:
        """Close every connection of the pool."""
        if self._session is not None:
            with contextlib.suppress(RuntimeError):  # its loop is gone: nothing left to close
                await self._session.close()
            self._session = None
        if self._fallback is not None:
            await self._fallback.aclose()
