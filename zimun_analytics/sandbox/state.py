"""Settings of one sandbox run and the live state built from them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock import SandboxClock, parse_instant
from .engine import BookingEngine
from .ratelimit import (
    RATE_LIMIT_STYLES,
    RATE_RESET_FORMS,
    RETRY_AFTER_FORMS,
    RateLimitStyle,
    ResetForm,
    RetryAfterForm,
    api_limiter,
    token_limiter,
)
from .stores import IdempotencyStore, TokenStore
from .world import World, build_world

__all__ = ["SandboxSettings", "SandboxState"]

DEFAULT_RATE_LIMIT_PER_S = 50.0
DEFAULT_RATE_BURST = 100
DEFAULT_RATE_LIMIT_STYLE: RateLimitStyle = "bucket"
DEFAULT_RATE_WINDOW_S = 1.0
MAX_RATE_WINDOW_S = 3600.0
DEFAULT_RATE_RESET: ResetForm = "seconds"
DEFAULT_RETRY_AFTER: RetryAfterForm = "seconds"
DEFAULT_TOKEN_RATE_LIMIT_PER_MIN = 10
DEFAULT_TOKEN_TTL_S = 3600
CLOSED_DAY_OFFSET_DAYS = 9  # Berlin's "closed" override lands inside a 14-day window
MAX_LATENCY_MS = 60_000.0  # a minute per request: anything longer only looks like a hang
MAX_TOKEN_TTL_S = 366 * 86_400.0
# The clock may start anywhere a calendar of a year ahead (and a week back) can be built
# and written as ISO-8601 with a four-digit year.
CLOCK_YEARS = (1971, 9000)


def _clock_problems(now: datetime | str) -> list[str]:
    """Why ``now`` cannot start the sandbox clock, if it cannot."""
    try:
        moment = parse_instant(now)
    except (ValueError, OverflowError) as exc:
        return [f"now: {exc}"]
    first, last = CLOCK_YEARS
    if not first <= moment.year <= last:
        return [f"now must be a time with an offset in the years {first}-{last}, got {now!r}"]
    return []


@dataclass(frozen=True)
class SandboxSettings:
    """Every knob of the sandbox; the CLI flags and ``Sandbox(...)`` keywords map onto these."""

    seed: int = 1
    now: datetime | str | None = None
    services: int | None = None
    latency_ms: float = 0.0
    latency_jitter_ms: float | None = None
    fault_rate: float = 0.0
    rate_limit: float = DEFAULT_RATE_LIMIT_PER_S
    rate_burst: int = DEFAULT_RATE_BURST
    rate_limit_style: RateLimitStyle = DEFAULT_RATE_LIMIT_STYLE
    rate_window: float = DEFAULT_RATE_WINDOW_S
    rate_reset: ResetForm = DEFAULT_RATE_RESET
    retry_after: RetryAfterForm = DEFAULT_RETRY_AFTER
    token_rate_limit: int = DEFAULT_TOKEN_RATE_LIMIT_PER_MIN
    token_ttl: float = DEFAULT_TOKEN_TTL_S
    omit_full_slots: bool = False

    def __post_init__(self) -> None:
        problems = []
        # "not a <= x <= b" also refuses NaN, which compares false with everything
        if not 0 <= self.fault_rate <= 1:
            problems.append("fault_rate must be between 0 and 1")
        if self.services is not None and not 1 <= self.services <= 20_000:
            problems.append("services must be between 1 and 20000")
        jitter = self.latency_jitter_ms or 0.0
        if not (0 <= self.latency_ms <= MAX_LATENCY_MS and 0 <= jitter <= MAX_LATENCY_MS):
            problems.append(f"latency_ms and latency_jitter_ms must be 0-{MAX_LATENCY_MS:g} ms")
        if not 0 < self.rate_limit < math.inf or self.rate_burst < 1 or self.token_rate_limit < 1:
            problems.append(
                "rate_limit must be > 0 and finite, rate_burst and token_rate_limit >= 1"
            )
        problems += self._rate_style_problems()
        if not 0 < self.token_ttl <= MAX_TOKEN_TTL_S:
            problems.append(f"token_ttl must be 0-{MAX_TOKEN_TTL_S:g} seconds")
        if self.now is not None:
            problems += _clock_problems(self.now)
        if problems:
            raise ValueError("; ".join(problems))

    def _rate_style_problems(self) -> list[str]:
        problems = [
            f"{name} must be one of {', '.join(allowed)}, got {value!r}"
            for name, value, allowed in [
                ("rate_limit_style", self.rate_limit_style, RATE_LIMIT_STYLES),
                ("rate_reset", self.rate_reset, RATE_RESET_FORMS),
                ("retry_after", self.retry_after, RETRY_AFTER_FORMS),
            ]
            if value not in allowed
        ]
        if not 0 < self.rate_window <= MAX_RATE_WINDOW_S:
            problems.append(
                f"rate_window must be > 0 and at most {MAX_RATE_WINDOW_S:g} seconds, "
                f"got {self.rate_window!r}"
            )
        return problems

    @property
    def jitter_ms(self) -> float:
        """Latency jitter: a fifth of the latency unless set."""
        return self.latency_ms / 5 if self.latency_jitter_ms is None else self.latency_jitter_ms


@dataclass
class Traffic:
    """What the API has been asked since the last reset: for benchmarks and tests of clients.

    ``requests`` counts API and token requests; ``in_flight`` those being answered now,
    ``most_in_flight`` the most at any one time (a client's concurrency, as the server sees
    it); ``connections`` the distinct client sockets (address and port) they came over.
    """

    requests: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    peers: set[tuple[str, int]] = field(default_factory=set)

    def started(self, peer: tuple[str, int] | None) -> None:
        self.requests += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if peer is not None:
            self.peers.add(peer)

    def ended(self) -> None:
        self.in_flight -= 1

    def reset(self) -> None:
        """Counts start again; requests being answered stay in flight."""
        self.requests, self.most_in_flight = 0, self.in_flight
        self.peers.clear()

    def as_json(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "most_in_flight": self.most_in_flight,
            "connections": len(self.peers),
        }


class SandboxState:
    """World, clock, booking engine, token and idempotency stores and rate limiters."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        frozen_at = parse_instant(settings.now) if settings.now is not None else None
        self.clock = SandboxClock(frozen_at)
        # Berlin closes on the first working day from here (see world.build_world)
        closed_day = self.clock.started_at.date() + timedelta(days=CLOSED_DAY_OFFSET_DAYS)
        world = build_world(settings.seed, settings.services, closed_day)
        self.engine = BookingEngine(world, self.clock, settings.seed)
        self.tokens = TokenStore()
        self.idempotency = IdempotencyStore()
        self.traffic = Traffic()
        self.api_limits = api_limiter(
            settings.rate_limit_style,
            rate_per_s=settings.rate_limit,
            burst=settings.rate_burst,
            window_s=settings.rate_window,
            reset=settings.rate_reset,
            retry_after=settings.retry_after,
        )
        self.token_limits = token_limiter(
            settings.token_rate_limit,
            settings.rate_limit_style,
            reset=settings.rate_reset,
            retry_after=settings.retry_after,
        )

    @property
    def world(self) -> World:
        """The static world."""
        return self.engine.world
