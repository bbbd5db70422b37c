"""When to retry and how long to wait: small pure rules.

The rules are pure functions of status codes, headers and attempt numbers, so they are tested
with tables; randomness (jitter) and waiting live in the client, where tests can replace them.
How fast to go is :mod:`.pacing`'s.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from .._config import INITIAL_RETRY_DELAY_S, MAX_RETRY_AFTER_S, MAX_RETRY_DELAY_S
from .._errors import parse_retry_after

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


def jitter() -> float:
    """A uniform number in [-1, 1] (kept apart so tests can pin it)."""
    return random.uniform(-1, 1)
