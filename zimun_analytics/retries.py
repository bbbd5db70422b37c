"""When to retry, how long to wait, and how fast to go: small pure rules plus one shared limiter.

The rules are pure functions of status codes, headers and attempt numbers, so they are tested
with tables; randomness (jitter) and waiting live in :class:`RateLimiter` and the client,
where tests can replace them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import anyio

from .config import INITIAL_RETRY_DELAY_S, MAX_RETRY_AFTER_S, MAX_RETRY_DELAY_S
from .errors import parse_retry_after

__all__ = [
    "RateLimiter",
    "is_retryable_status",
    "parse_retry_after",
    "retry_delay",
]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_JITTER_SHARE = 0.25  # +-25 %: spreads the retries of many clients that failed together


def is_retryable_status(status_code: int) -> bool:
    """Timeouts, rate limits and server faults are worth another try; other errors are not."""
    return status_code in RETRYABLE_STATUSES or status_code >= 500


def retry_delay(retries_taken: int, headers: Mapping[str, str], jitter: float = 0.0) -> float:
    """How long to wait before the next attempt.

    Parameters
    ----------
    retries_taken
        Retries already made for this call (0 before the first retry).
    headers
        The failed response's headers (empty for connection errors).
    jitter
        A number in [-1, 1] scaling the random share of the delay.
    """
    retry_after = parse_retry_after(headers)
    if retry_after is not None and retry_after <= MAX_RETRY_AFTER_S:
        return retry_after
    backoff = min(INITIAL_RETRY_DELAY_S * 2.0**retries_taken, MAX_RETRY_DELAY_S)
    return backoff * (1 + _JITTER_SHARE * jitter)


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


class RateLimiter:
    """A client-side token bucket that mirrors the server's, fed by ``X-RateLimit-*`` headers.

    All requests of one client share it, so concurrent work runs close to the allowed rate
    instead of bursting into 429s. Until the server has told us its limits it lets everything
    through.
    """

    def __init__(self) -> None:
        self.capacity: float | None = None
        self.rate_per_s: float | None = None
        self._tokens = 0.0
        self._at = time.monotonic()
        self._blocked_until = 0.0
        self._lock: anyio.Lock | None = None

    def _refill(self, now: float) -> None:
        if self.capacity is not None and self.rate_per_s:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate_per_s)
        self._at = now

    def _wait_s(self, now: float) -> float:
        """Seconds until one request may go; spends the token when it is 0."""
        if now < self._blocked_until:
            return self._blocked_until - now
        self._refill(now)
        if self.capacity is None or not self.rate_per_s or self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate_per_s

    async def acquire(self) -> None:
        """Wait until the bucket allows one more request."""
        self._lock = self._lock or anyio.Lock()
        async with self._lock:  # waiters queue here, in order
            while (wait := self._wait_s(time.monotonic())) > 0:
                await anyio.sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the server's bucket from a response's headers."""
        limit = _header_int(headers, "x-ratelimit-limit")
        remaining = _header_int(headers, "x-ratelimit-remaining")
        reset = _header_int(headers, "x-ratelimit-reset")
        if limit is None or remaining is None:
            return
        self._refill(time.monotonic())
        if self.capacity is None:
            self._tokens = float(remaining)
        self.capacity = float(limit)
        # reset = ceil(used / rate) >= used / rate, so used / reset never overestimates the
        # rate, and the largest such estimate converges on the true one as the bucket drains
        if reset and limit > remaining:
            self.rate_per_s = max(self.rate_per_s or 0.0, (limit - remaining) / reset)
        self._tokens = min(self._tokens, float(remaining))

    def block_for(self, seconds: float) -> None:
        """After a 429: nobody sends until ``seconds`` have passed."""
        now = time.monotonic()
        self._blocked_until = max(self._blocked_until, now + seconds)
        self._tokens = min(self._tokens, 0.0)


def jitter() -> float:
    """A uniform number in [-1, 1] (kept apart so tests can pin it)."""
    return random.uniform(-1, 1)
