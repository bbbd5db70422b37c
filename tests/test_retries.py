"""Retry rules as tables, and the shared rate limiter fed by X-RateLimit headers."""

import anyio
import pytest

from zimun_analytics.config import INITIAL_RETRY_DELAY_S, MAX_RETRY_AFTER_S, MAX_RETRY_DELAY_S
from zimun_analytics.retries import (
    RateLimiter,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (410, False),
        (422, False),
    ],
)
def test_is_retryable_status(status, expected):
    assert is_retryable_status(status) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "0"}, 0.0),
        ({}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"Retry-After": "nan"}, None),
    ],
)
def test_parse_retry_after(headers, expected):
    assert parse_retry_after(headers) == expected


@pytest.mark.parametrize(
    ("retries_taken", "expected"),
    [
        (0, INITIAL_RETRY_DELAY_S),
        (1, 2 * INITIAL_RETRY_DELAY_S),
        (2, 4 * INITIAL_RETRY_DELAY_S),
        (30, MAX_RETRY_DELAY_S),
    ],
)
def test_retry_delay_backs_off_exponentially_up_to_a_cap(retries_taken, expected):
    assert retry_delay(retries_taken, {}, jitter=0.0) == expected


@pytest.mark.parametrize("jitter", [-1.0, 1.0])
def test_retry_delay_jitter_stays_within_a_quarter(jitter):
    delay = retry_delay(1, {}, jitter=jitter)
    assert 0.75 * 2 * INITIAL_RETRY_DELAY_S <= delay <= 1.25 * 2 * INITIAL_RETRY_DELAY_S
    assert delay != 2 * INITIAL_RETRY_DELAY_S


def test_retry_delay_honours_retry_after():
    assert retry_delay(0, {"Retry-After": "2"}, jitter=1.0) == 2.0


def test_retry_delay_ignores_an_absurd_retry_after():
    delay = retry_delay(0, {"Retry-After": str(MAX_RETRY_AFTER_S * 10)}, jitter=0.0)
    assert delay == INITIAL_RETRY_DELAY_S


def _headers(limit, remaining, reset):
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(reset),
    }


def test_limiter_lets_everything_through_until_it_knows_the_limits():
    limiter = RateLimiter()
    assert limiter._wait_s(0.0) == 0.0
    assert limiter.capacity is None


def test_limiter_learns_rate_without_overestimating():
    limiter = RateLimiter()
    limiter.observe(_headers(100, 99, 1))  # 1 used, reset rounded up: 1/s, an underestimate
    limiter.observe(_headers(100, 0, 2))  # 100 used over 2 s: 50/s
    limiter.observe(_headers(100, 60, 1))  # 40/s is lower: keep the best estimate
    assert limiter.capacity == 100
    assert limiter.rate_per_s == 50


def test_limiter_waits_when_the_bucket_is_empty():
    limiter = RateLimiter()
    limiter.observe(_headers(10, 0, 1))  # rate 10/s, nothing left
    assert limiter._wait_s(limiter._at) == pytest.approx(0.1)


def test_limiter_blocks_everyone_after_a_429():
    limiter = RateLimiter()
    limiter.block_for(2.0)
    assert limiter._wait_s(limiter._blocked_until - 1.5) == pytest.approx(1.5)


def test_acquire_returns_at_once_with_tokens_left():
    limiter = RateLimiter()
    limiter.observe(_headers(10, 5, 1))

    async def take_three():
        for _ in range(3):
            await limiter.acquire()

    anyio.run(take_three)
    assert limiter._tokens <= 2.01
