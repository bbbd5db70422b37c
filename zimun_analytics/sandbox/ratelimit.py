"""Rate limits per client in the common styles, on real time: rate limits are about throughput.

Each style pairs a way of counting with a way of telling the client:

=========  ==================================  =============================================
style      counting                            headers on every response
=========  ==================================  =============================================
bucket     token bucket (rate, burst)          ``X-RateLimit-*``, reset: until the bucket is full
window     fixed windows aligned to the epoch  ``X-RateLimit-*``, reset: until the window ends
ietf       fixed windows aligned to the epoch  ``RateLimit-Policy`` and ``RateLimit`` (IETF draft)
none       token bucket (rate, burst)          none: only a 429 tells
=========  ==================================  =============================================

A counter (:class:`TokenBucket`, :class:`FixedWindow`) counts a request into a :class:`Count`;
a header style (:class:`XRateLimitHeaders`, :class:`IetfHeaders`, :class:`NoHeaders`) writes a
count as headers; :class:`RateLimiter` joins the two and answers ``take(key)`` with a
:class:`Decision`. Counting and telling are apart because the token endpoint keeps its own
bucket whatever the style, yet tells it in the API's header style.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal, Protocol, get_args

__all__ = [
    "RATE_LIMIT_STYLES",
    "RATE_RESET_FORMS",
    "RETRY_AFTER_FORMS",
    "Count",
    "Decision",
    "FixedWindow",
    "IetfHeaders",
    "NoHeaders",
    "RateLimitStyle",
    "RateLimiter",
    "ResetForm",
    "RetryAfterForm",
    "TokenBucket",
    "XRateLimitHeaders",
    "api_limiter",
    "token_limiter",
    "window_quota",
]

RateLimitStyle = Literal["bucket", "window", "ietf", "none"]
ResetForm = Literal["seconds", "epoch"]  # X-RateLimit-Reset: seconds left, or Unix time
RetryAfterForm = Literal["seconds", "date"]  # a 429's Retry-After: delay-seconds or HTTP-date
RATE_LIMIT_STYLES: tuple[RateLimitStyle, ...] = get_args(RateLimitStyle)
RATE_RESET_FORMS: tuple[ResetForm, ...] = get_args(ResetForm)
RETRY_AFTER_FORMS: tuple[RetryAfterForm, ...] = get_args(RetryAfterForm)
IETF_POLICY = "default"  # the one policy's name in RateLimit-Policy and RateLimit
_WINDOWED: frozenset[RateLimitStyle] = frozenset({"window", "ietf"})


@dataclass(frozen=True)
class Count:
    """One request counted against a client's limit: the numbers every header style tells."""

    allowed: bool
    limit: int  # bucket size (burst), or requests per window
    remaining: int  # whole requests left right now
    reset_s: float  # seconds until the limit is whole again: bucket full, or window over
    reset_at: float  # that moment as Unix time
    window_s: float  # what the limit is counted over: the window, or the bucket's refill
    retry_after_s: int  # whole seconds until one request is allowed (0 when allowed)
    at: float  # Unix time of the count


class HeaderStyle(Protocol):
    """How responses tell a client its count."""

    def headers(self, count: Count) -> dict[str, str]:
        """The rate headers of a response."""
        ...


@dataclass(frozen=True)
class XRateLimitHeaders:
    """``X-RateLimit-Limit/Remaining/Reset``; reset in whole seconds or as Unix time, rounded up.

    Computing each form from its own number (not ``at + reset_s``) keeps float noise out:
    a window's end on a whole second is written as exactly that second.
    """

    reset: ResetForm

    def headers(self, count: Count) -> dict[str, str]:
        """The ``bucket`` and ``window`` styles' headers."""
        reset = count.reset_at if self.reset == "epoch" else count.reset_s
        return {
            "X-RateLimit-Limit": str(count.limit),
            "X-RateLimit-Remaining": str(count.remaining),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }


@dataclass(frozen=True)
class IetfHeaders:
    """``RateLimit-Policy`` and ``RateLimit`` of draft-ietf-httpapi-ratelimit-headers (09/10)."""

    def headers(self, count: Count) -> dict[str, str]:
        """The ``ietf`` style's headers (structured fields)."""
        # w must be a whole number of seconds: up, so the policy never promises more than the
        # window allows, after rounding off float noise (burst / rate may be 59.999999999).
        window = max(1, math.ceil(round(count.window_s, 6)))
        return {
            "RateLimit-Policy": f'"{IETF_POLICY}";q={count.limit};w={window}',
            "RateLimit": f'"{IETF_POLICY}";r={count.remaining};t={math.ceil(count.reset_s)}',
        }


@dataclass(frozen=True)
class NoHeaders:
    """The ``none`` style: the limit is enforced but never told."""

    def headers(self, count: Count) -> dict[str, str]:
        """No rate headers at all."""
        return {}


class Counter(Protocol):
    """Counts requests per key."""

    def count(self, key: str) -> Count:
        """Count one request for ``key``."""
        ...


class TokenBucket:
    """One token bucket per key: ``rate`` tokens per second, holding at most ``burst``."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at monotonic s)
        self._lock = threading.Lock()

    def count(self, key: str) -> Count:
        """Spend one token for ``key`` if there is one."""
        with self._lock:
            now, at_epoch = time.monotonic(), time.time()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
        until_full_s = (self.burst - tokens) / self.rate_per_s
        return Count(
            allowed=allowed,
            limit=self.burst,
            remaining=int(tokens),
            reset_s=until_full_s,
            reset_at=at_epoch + until_full_s,
            window_s=self.burst / self.rate_per_s,
            retry_after_s=0 if allowed else max(1, math.ceil((1 - tokens) / self.rate_per_s)),
            at=at_epoch,
        )


def window_quota(rate_per_s: float, window_s: float) -> int:
    """Requests a window of ``window_s`` allows at ``rate_per_s``: at least one."""
    return max(1, round(rate_per_s * window_s))


class FixedWindow:
    """``quota`` requests per key per window; window k covers [k·W, (k+1)·W) of Unix time.

    Aligned to the epoch, as GitHub's are, so clients and benchmarks can compute the
    boundaries from ``time.time()`` alone.
    """

    def __init__(self, quota: int, window_s: float) -> None:
        if quota < 1 or not 0 < window_s < math.inf:
            raise ValueError("quota must be >= 1 and the window > 0 and finite")
        self.quota = quota
        self.window_s = window_s
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window index, requests in it)
        self._lock = threading.Lock()

    def count(self, key: str) -> Count:
        """Count one request for ``key`` in the current window, if the window has room."""
        with self._lock:
            now = time.time()
            index = math.floor(now / self.window_s)
            seen, used = self._windows.get(key, (index, 0))
            used = used if seen == index else 0
            allowed = used < self.quota
            if allowed:
                used += 1
            self._windows[key] = (index, used)
        end = (index + 1) * self.window_s
        reset_s = end - now
        return Count(
            allowed=allowed,
            limit=self.quota,
            remaining=self.quota - used,
            reset_s=reset_s,
            reset_at=end,
            window_s=self.window_s,
            retry_after_s=0 if allowed else max(1, math.ceil(reset_s)),
            at=now,
        )


@dataclass(frozen=True)
class Decision:
    """The outcome of one request against a limit, as the response tells it."""

    count: Count
    style: HeaderStyle
    retry_after_form: RetryAfterForm

    @property
    def allowed(self) -> bool:
        """Whether the request may go on."""
        return self.count.allowed

    @property
    def retry_after_s(self) -> int:
        """Whole seconds until one request is allowed (0 when allowed)."""
        return self.count.retry_after_s

    def headers(self) -> dict[str, str]:
        """The rate headers every response of the limited endpoints carries (maybe none)."""
        return self.style.headers(self.count)

    def retry_after(self) -> str:
        """A 429's ``Retry-After``: whole seconds, or the HTTP date (RFC 9110) they end at."""
        if self.retry_after_form == "date":
            # an IMF-fixdate has whole seconds: up, so the date is never before the wait ends
            ends = math.ceil(self.count.at + self.count.retry_after_s)
            return format_datetime(datetime.fromtimestamp(ends, UTC), usegmt=True)
        return str(self.count.retry_after_s)


class RateLimiter:
    """A counter and the way responses tell its counts; see :func:`api_limiter`."""

    def __init__(self, counter: Counter, style: HeaderStyle, retry_after: RetryAfterForm) -> None:
        self.counter = counter
        self.style = style
        self.retry_after = retry_after

    def take(self, key: str) -> Decision:
        """Count one request for ``key``."""
        return Decision(self.counter.count(key), self.style, self.retry_after)


def _header_style(style: RateLimitStyle, reset: ResetForm) -> HeaderStyle:
    if style == "ietf":
        return IetfHeaders()
    if style == "none":
        return NoHeaders()
    return XRateLimitHeaders(reset)


def api_limiter(
    style: RateLimitStyle,
    *,
    rate_per_s: float,
    burst: int,
    window_s: float,
    reset: ResetForm,
    retry_after: RetryAfterForm,
) -> RateLimiter:
    """The per-client limit of ``/api/v1`` in ``style``.

    Parameters
    ----------
    style
        One of :data:`RATE_LIMIT_STYLES` (see the module docstring).
    rate_per_s, burst
        The bucket's rate and size; a window allows ``window_quota(rate_per_s, window_s)``
        requests and ignores ``burst``.
    window_s
        Window length of the ``window`` and ``ietf`` styles, seconds.
    reset
        How ``X-RateLimit-Reset`` is written: seconds left or Unix time (both rounded up).
    retry_after
        How a 429's ``Retry-After`` is written: whole seconds or an HTTP date.

    Returns
    -------
    RateLimiter
        Its ``take(key)`` counts one request of a client.
    """
    counter: Counter
    if style in _WINDOWED:
        counter = FixedWindow(window_quota(rate_per_s, window_s), window_s)
    else:
        counter = TokenBucket(rate_per_s, burst)
    return RateLimiter(counter, _header_style(style, reset), retry_after)


def token_limiter(
    per_minute: int,
    style: RateLimitStyle,
    *,
    reset: ResetForm,
    retry_after: RetryAfterForm,
) -> RateLimiter:
    """The token endpoint's own bucket (``per_minute``, as big), told in the API's style."""
    return RateLimiter(
        TokenBucket(per_minute / 60, per_minute), _header_style(style, reset), retry_after
    )
