"""The client's pacing: quotas read in every header style, and the limiter's decisions.

The limiter runs on a clock of the test's own, so each decision is checked at a known
instant; one test paces real requests against the sandbox over loopback.
"""

from __future__ import annotations

import anyio
import pytest

from zimun_analytics import AsyncZimunClient
from zimun_analytics.client._pacing import Quota, RateLimiter, read_quota
from zimun_analytics.fetch import fetch_availability_async
from zimun_analytics.sandbox import Sandbox

WALL = 1_800_000_000.0  # a Unix time for epoch resets


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (  # the Zimun contract: a bucket, reset in seconds until full
            {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "7", "x-ratelimit-reset": "2"},
            Quota(100, 7, 2.0, reset_means_full=True),
        ),
        (  # GitHub: a window whose end is a Unix time
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "4999",
                "x-ratelimit-reset": str(int(WALL) + 30),
            },
            Quota(5000, 4999, 30.0),
        ),
        (  # IETF draft 09 on: structured fields, the policy names the quota
            {"ratelimit": '"default";r=50;t=30', "ratelimit-policy": '"default";q=100;w=60'},
            Quota(100, 50, 30.0),
        ),
        (  # several policies: the one nearest to refusing binds
            {"ratelimit": '"burst";r=9;t=1, "day";r=4000;t=3600'},
            Quota(None, 9, 1.0),
        ),
        (  # IETF drafts 07-08: one dictionary
            {"ratelimit": "limit=10, remaining=3, reset=4"},
            Quota(10, 3, 4.0),
        ),
        (  # IETF drafts up to 06: three fields, the limit with its policy
            {"ratelimit-limit": "10, 10;w=1", "ratelimit-remaining": "0", "ratelimit-reset": "1"},
            Quota(10, 0, 1.0),
        ),
        ({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "7"}, Quota(100, 7, None, True)),
        ({}, None),
        ({"x-ratelimit-remaining": "lots"}, None),
        ({"retry-after": "1"}, None),
    ],
)
def test_read_quota_in_each_style(headers, expected):
    assert read_quota(headers, wall_now=WALL) == expected


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _bucket(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(reset),
    }


def _window(limit: int, remaining: int, reset_in: float) -> dict[str, str]:
    return {"ratelimit": f'"w";r={remaining};t={reset_in:g}', "ratelimit-policy": f'"w";q={limit}'}


def _send(limiter: RateLimiter) -> int:
    """Let one request go, as acquire does, when the limiter allows it now."""
    assert limiter._wait_s(limiter._clock()) == 0
    limiter._sent += 1
    return limiter._sent


def test_everything_goes_until_the_server_says_anything():
    limiter = RateLimiter(Clock())
    assert [_send(limiter) for _ in range(50)][-1] == 50


def test_the_last_of_a_quota_waits_for_its_answers():
    clock = Clock()
    limiter = RateLimiter(clock)
    limiter.observe(_send(limiter), 200, _window(10, 3, 30))
    _send(limiter)
    _send(limiter)
    _send(limiter)  # 3 were left
    assert limiter._wait_s(clock.now) > 0
    for ticket in (2, 3, 4):  # none of them was counted after all
        limiter.observe(ticket, 200, _window(10, 3, 29.9))
    assert limiter._wait_s(clock.now) > 0  # the first answer's bound holds a moment longer
    clock.now += 0.5
    assert limiter._wait_s(clock.now) == 0


def test_a_window_reopens_with_one_probe_at_its_reset():
    clock = Clock()
    limiter = RateLimiter(clock)
    limiter.observe(_send(limiter), 200, _window(5, 0, 2))
    clock.now += 1.99
    assert limiter._wait_s(clock.now) == pytest.approx(0.01)  # nothing refills a window
    clock.now += 0.01
    probe = _send(limiter)
    assert limiter._wait_s(clock.now) > 0  # the others wait for the probe's answer
    clock.now += 0.03
    limiter.observe(probe, 200, _window(5, 4, 1.97))
    assert _send(limiter) and _send(limiter)


def test_a_bucket_refill_is_measured_from_below():
    clock = Clock()
    limiter = RateLimiter(clock)
    for _ in range(40):  # a 100/s bucket kept near empty: 2 sent, 2 refilled per 20 ms
        for _ in range(2):
            limiter._sent += 1
            clock.now += 0.01
            limiter.observe(limiter._sent, 200, _bucket(100, 3, 1))
    assert 80 <= limiter.refill_per_s <= 100


def test_overtaken_answers_still_bound_what_is_left():
    clock = Clock()
    limiter = RateLimiter(clock)
    tickets = [_send(limiter) for _ in range(3)]
    limiter.observe(tickets[2], 200, _window(10, 8, 30))  # processed first
    limiter.observe(tickets[0], 200, _window(10, 7, 30))  # processed later: it knows more
    limiter.observe(tickets[1], 200, _window(10, 0, 30))  # processed last: none left
    assert limiter._wait_s(clock.now) > 0


def test_headerless_learns_the_rate_between_two_429s():
    clock = Clock()
    limiter = RateLimiter(clock)
    for _ in range(120):  # a burst of 100 and then some: accepted in 0.3 s
        clock.now += 0.0025
        limiter.observe(_send(limiter), 200, {})
    limiter.observe(_send(limiter), 429, {})
    limiter.block_for(1.0)
    first_guess = limiter.headerless_rate
    assert first_guess is not None and first_guess < 120  # the burst is not a rate
    assert limiter._wait_s(clock.now) == pytest.approx(1.0)
    clock.now += 1.0
    for _ in range(100):  # 50/s for 2 s, then refused again
        clock.now += 0.02
        limiter.observe(limiter._sent + 1, 200, {})
        limiter._sent += 1
    limiter.observe(limiter._sent + 1, 429, {})
    assert limiter.headerless_rate == pytest.approx(0.95 * 100 / 3.0, rel=0.02)


def test_429s_of_one_episode_count_once():
    clock = Clock()
    limiter = RateLimiter(clock)
    tickets = [_send(limiter) for _ in range(10)]
    limiter.observe(tickets[0], 200, {})
    limiter.observe(tickets[1], 429, {})
    rate = limiter.headerless_rate
    for ticket in tickets[2:]:
        limiter.observe(ticket, 429, {})
    assert limiter.headerless_rate == rate
    assert limiter.rejected == 9 and limiter.sent == 10


@pytest.mark.parametrize(
    "style",
    [
        {"rate_limit": 40, "rate_burst": 5},
        {"rate_limit": 40, "rate_limit_style": "window", "rate_window": 30, "rate_reset": "epoch"},
        {"rate_limit": 40, "rate_limit_style": "ietf", "rate_window": 30},
    ],
    ids=["bucket", "window-epoch", "ietf"],
)
def test_a_fetch_keeps_within_each_style_of_limit(style):
    """Against the sandbox over loopback: within the quota, no 429 (the peer's loop sees many)."""
    with Sandbox(seed=1, now="2026-03-23T08:00:00Z", services=12, **style) as sandbox:

        async def fetch() -> RateLimiter:
            async with AsyncZimunClient(
                sandbox.client_id, sandbox.client_secret, sandbox.base_url
            ) as client:
                snapshot = await fetch_availability_async(client, days_ahead=3, progress=False)
                assert snapshot.errors.empty
                return client.limiter

        limiter = anyio.run(fetch)
    assert limiter.sent > 12  # more calls than a bucket of 5 holds, fewer than a window's 1200
    assert limiter.rejected <= 1
