"""Token buckets per client, on real (monotonic) time: rate limits are about real throughput."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

__all__ = ["BucketState", "RateLimiter"]


@dataclass(frozen=True)
class BucketState:
    """The outcome of one request against a bucket, as headers see it."""

    allowed: bool
    limit: int  # bucket size (burst)
    remaining: int  # whole requests left right now
    reset_s: int  # seconds until the bucket is full again
    retry_after_s: int  # whole seconds until one request is allowed (0 when allowed)

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers every API response carries."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_s),
        }


class RateLimiter:
    """One token bucket per key: ``rate`` tokens per second, holding at most ``burst``."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at monotonic s)
        self._lock = threading.Lock()

    def take(self, key: str) -> BucketState:
        """Spend one token for ``key`` if there is one."""
        with self._lock:
            now = time.monotonic()
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - at) * self.rate_per_s)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
        missing = self.burst - tokens
        return BucketState(
            allowed=allowed,
            limit=self.burst,
            remaining=int(tokens),
            reset_s=math.ceil(missing / self.rate_per_s),
            retry_after_s=0 if allowed else max(1, math.ceil((1 - tokens) / self.rate_per_s)),
        )
