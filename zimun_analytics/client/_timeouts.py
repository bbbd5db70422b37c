"""Limits in time on every HTTP exchange: httpx's four timeouts, and a minimum body rate.

httpx bounds each phase of an exchange (connect, write, the wait for a pooled connection) and
the silence between received bytes (read), but its read timeout restarts with every byte: a
body dripped at one byte a second never trips it. :func:`minimum_rate_hook` closes that gap.
As a client's ``"response"`` event hook (which httpx runs for the responses of an auth flow's
token requests too) it gives each body the read timeout after its headers, plus one second
per ``bytes_per_s`` bytes received, and ends a slower one with :class:`SlowBodyTimeout` (an
``httpx.ReadTimeout``), which the client retries like any timeout. The deadline of a whole
call lives in :mod:`.client`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
import httpx

from .._config import CONNECT_TIMEOUT_S, POOL_TIMEOUT_S, READ_TIMEOUT_S, WRITE_TIMEOUT_S
from .._errors import InputError


class SlowBodyTimeout(httpx.ReadTimeout):
    """A response body fell behind the minimum transfer rate."""


def request_timeout(timeout: float | httpx.Timeout | None = None) -> httpx.Timeout:
    """The four limits of one exchange: the defaults, or ``timeout`` seconds for each phase.

    Parameters
    ----------
    timeout
        ``None`` for :mod:`~zimun_analytics._config`'s ``CONNECT_TIMEOUT_S``,
        ``READ_TIMEOUT_S``, ``WRITE_TIMEOUT_S`` and ``POOL_TIMEOUT_S``; a number of seconds for
        all four; or an ``httpx.Timeout`` that limits every phase.

    Raises
    ------
    InputError
        A phase would have no limit, or a limit that is not a positive number.
    """
    if timeout is None:
        return httpx.Timeout(
            connect=CONNECT_TIMEOUT_S,
            read=READ_TIMEOUT_S,
            write=WRITE_TIMEOUT_S,
            pool=POOL_TIMEOUT_S,
        )
    if isinstance(timeout, httpx.Timeout):
        limits = timeout
    elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
        limits = httpx.Timeout(float(timeout))
    else:
        raise InputError(f"timeout must be seconds or an httpx.Timeout, got {timeout!r}")
    if not all(isinstance(value, int | float) and value > 0 for value in limits.as_dict().values()):
        raise InputError(
            f"timeout must limit every phase (connect, read, write, pool) to a positive number "
            f"of seconds, got {timeout!r}: a phase without a limit can wait forever"
        )
    return limits


class _MinimumRateStream(httpx.AsyncByteStream):
    """A response body that must arrive within ``allowance_s + received / bytes_per_s``."""

    def __init__(
        self,
        inner: httpx.AsyncByteStream,
        request: httpx.Request,
        allowance_s: float,
        bytes_per_s: float,
    ) -> None:
        self._inner = inner
        self._request = request
        self._allowance_s = allowance_s
        self._bytes_per_s = bytes_per_s

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._inner.__aiter__()
        started = anyio.current_time()
        received = 0
        while True:
            # the deadline moves on with every byte received; waiting for the next chunk is
            # cut at the moment the body falls behind the minimum rate, not a read later
            deadline = started + self._allowance_s + received / self._bytes_per_s
            with anyio.CancelScope(deadline=deadline) as scope:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
            if scope.cancelled_caught and not received:  # silence, as httpx would have said
                raise httpx.ReadTimeout(
                    f"no byte of the response body in {self._allowance_s:g} s",
                    request=self._request,
                )
            if scope.cancelled_caught:
                raise SlowBodyTimeout(
                    f"the response body arrived slower than {self._bytes_per_s:,.0f} bytes/s "
                    f"({received:,} bytes in {anyio.current_time() - started:.1f} s)",
                    request=self._request,
                )
            received += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def minimum_rate_hook(
    allowance_s: float, bytes_per_s: float
) -> Callable[[httpx.Response], Awaitable[None]]:
    """An ``httpx.AsyncClient`` response hook that fails bodies slower than ``bytes_per_s``.

    Parameters
    ----------
    allowance_s
        Seconds a body may take on top of its size at the minimum rate (the read timeout).
    bytes_per_s
        The minimum average rate, counted from when the headers arrived.
    """
    if not bytes_per_s > 0 or not allowance_s > 0:
        raise InputError(f"allowance and rate must be positive, got {allowance_s}, {bytes_per_s}")

    async def hook(response: httpx.Response) -> None:
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _MinimumRateStream(
                response.stream, response.request, allowance_s, bytes_per_s
            )

    return hook
