"""Pacing to the server's rate limit, in whatever style the server announces it.

One :class:`RateLimiter` per client, shared by all its concurrent requests. It keeps an
estimate of how many more requests the server would accept right now and lets a request go
only while that estimate is at least one:

- **What the server said.** A response that states its quota (:func:`read_quota`) sets the
  estimate to its ``remaining`` minus the requests not answered before it: the server may
  have counted those after it, so its ``remaining`` may not include them.
- **What the server gives back.** Between responses the estimate grows at the refill rate
  seen in the responses themselves: how much more ``remaining`` shows than the accepted
  requests alone would leave. Until that is measured, a bucket's ``reset`` (seconds until
  full) bounds the rate from below, unless the responses contradict it, as a fixed window's
  do. At the announced reset the quota is whole again: one request goes first, and its
  answer opens the rest, so a reset rounded the wrong way costs one 429, not a burst.
- **Servers that say nothing.** Without rate headers everything goes until a 429. The wait
  it asks for is kept by every request; the rate is then learned from the requests accepted
  between two 429s (each 429 means the server had nothing left), and paced, starting each
  time with what the server saved up while everyone waited.

The limiter only counts and decides: the client sleeps, and tells it what came back.
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import anyio

# A reset larger than this is a Unix time (GitHub's style), not seconds from now.
_EPOCH_RESET_FROM = 1_000_000_000
# Answers this recent bound what is left: answers overtake each other within about the
# network's jitter, and an older bound, refilled by a rate estimated from below, is too low.
_RECENT_S = 0.05
# Refill is measured over at least this long, from readings at most _HISTORY_S old.
_MIN_MEASURE_S = 0.05
_HISTORY_S = 2.0
# While nothing may go and nothing tells when, look again this often (a response wakes
# the waiters sooner).
_RECHECK_S = 0.25
# A probe without an answer after this long (lost, or its caller gave up) is sent again.
_PROBE_PATIENCE_S = 2.0
# Without headers: the learned rate is approached from below, and raised by this share per
# second without a 429, so a rate learned too low (a capped burst) recovers. The first guess,
# before any rate was measured, doubles each second instead.
_HEADERLESS_MARGIN = 0.95
# The first 429 says little: what was accepted before it includes the server's whole burst.
_FIRST_GUESS_SHARE = 0.5
_HEADERLESS_GROWTH_PER_S = 0.02


@dataclass(frozen=True)
class Quota:
    """What one response says of the client's rate limit.

    ``limit`` is the bucket size or the requests per window (None when not given),
    ``remaining`` how many the server would still accept, ``reset_s`` seconds until the
    quota is whole again (a bucket full, a window over; None when not given).
    ``reset_means_full`` is False when ``reset_s`` is a window's end, not a bucket's refill.
    """

    limit: int | None
    remaining: int
    reset_s: float | None
    reset_means_full: bool = False


def _number(value: str | None) -> float | None:
    """The first number of a header value ("100", "100, 100;w=10", "2.5"), else None."""
    if value is None:
        return None
    found = re.match(r"\s*(\d+(?:\.\d+)?)", value)
    return float(found.group(1)) if found else None


def _structured_items(value: str) -> list[dict[str, str]]:
    """An IETF structured-field list (``"default";r=50;t=30, "day";r=9``) as parameter dicts."""
    items = []
    for member in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', value):
        params = {}
        for part in member.split(";")[1:]:
            key, _, raw = part.partition("=")
            params[key.strip().lower()] = raw.strip().strip('"')
        items.append(params)
    return items


def _ietf_quota(headers: Mapping[str, str]) -> Quota | None:
    """The quota in the IETF draft's headers, in any of its versions.

    ``RateLimit`` with ``RateLimit-Policy`` as structured fields (drafts 09 on), the
    dictionary ``RateLimit: limit=.., remaining=.., reset=..`` (07-08), or the three
    ``RateLimit-Limit/-Remaining/-Reset`` fields (up to 06).
    """
    combined = headers.get("ratelimit")
    if combined is not None and "r=" in combined:
        policies = _structured_items(headers.get("ratelimit-policy", ""))
        quotas = [q for q in (_number(p.get("q")) for p in policies) if q is not None]
        limit = min(quotas, default=None)
        best: Quota | None = None
        for params in _structured_items(combined):
            remaining, reset = _number(params.get("r")), _number(params.get("t"))
            if remaining is None:
                continue
            quota = Quota(None if limit is None else int(limit), int(remaining), reset)
            if best is None or quota.remaining < best.remaining:
                best = quota  # several policies: the one nearest to refusing binds
        return best
    if combined is not None:
        pairs = (part.partition("=") for part in combined.split(","))
        fields = {key.strip().lower(): raw for key, _, raw in pairs}
        limit, remaining = _number(fields.get("limit")), _number(fields.get("remaining"))
        reset = _number(fields.get("reset"))
    else:
        limit = _number(headers.get("ratelimit-limit"))
        remaining = _number(headers.get("ratelimit-remaining"))
        reset = _number(headers.get("ratelimit-reset"))
    if remaining is None:
        return None
    return Quota(None if limit is None else int(limit), int(remaining), reset)


def read_quota(headers: Mapping[str, str], wall_now: float | None = None) -> Quota | None:
    """The quota a response's headers state, in any common style; None when they state none.

    ``X-RateLimit-Limit/-Remaining/-Reset``, the reset in seconds (a bucket's time until
    full, as the Zimun contract says) or as a Unix time (a window's end, as GitHub sends
    it; ``wall_now`` is the present Unix time, ``time.time()`` by default); and the IETF
    ``RateLimit`` headers of :func:`_ietf_quota`, whose reset is always a window's end.
    ``headers`` must look names up case-insensitively (``httpx.Headers`` does; a plain dict
    needs lower-case names).
    """
    remaining = _number(headers.get("x-ratelimit-remaining"))
    if remaining is None:
        return _ietf_quota(headers)
    limit = _number(headers.get("x-ratelimit-limit"))
    reset = _number(headers.get("x-ratelimit-reset"))
    means_full = True
    if reset is not None and reset >= _EPOCH_RESET_FROM:
        reset = max(0.0, reset - (time.time() if wall_now is None else wall_now))
        means_full = False
    return Quota(None if limit is None else int(limit), int(remaining), reset, means_full)


@dataclass(frozen=True)
class _Reading:
    """A quota as read off the response to request number ``ticket``, at ``at``."""

    at: float
    ticket: int
    quota: Quota
    rejected_before: int  # 429s seen when it came
    answered_before: int  # responses seen when it came, itself included

    @property
    def reset_at(self) -> float | None:
        reset = self.quota.reset_s
        return None if reset is None else self.at + reset


class RateLimiter:
    """The pace of one client, shared by all its requests (see the module's text).

    :meth:`acquire` before each request (it returns the request's ticket), :meth:`observe`
    with each response's status and headers, :meth:`block_for` after a 429's wait is known.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent = 0  # tickets handed out: 1, 2, ...
        self._rejected = 0  # 429s seen, of any ticket
        self._answered = 0  # responses seen
        self._blocked_until = -math.inf
        # servers that state their quota
        self._reading: _Reading | None = None  # the answer to the latest request
        self._recent: deque[_Reading] = deque()  # answers of the last _RECENT_S
        self._history: deque[_Reading] = deque()
        self.refill_per_s = 0.0  # measured from the readings
        self._refill_floor = 0.0  # a bucket's reset bound
        self._windows = False  # the quota comes back whole at each reset, not bit by bit
        self._window_end: float | None = None  # the earliest reset of this window's answers
        self._probe: tuple[int, float] | None = None  # (ticket, sent at) after a reset
        # servers that state nothing: learned from 429s
        self.headerless_rate: float | None = None
        self._first_episode = False
        self._headerless_burst = math.inf  # the most the server was seen to accept at once
        self._episode_ticket = 0  # 429s of tickets up to this belong to the last episode
        self._episode_at = clock()
        self._accepted_since_episode = 0
        self._paced_tokens = 0.0
        self._paced_at = clock()
        self._lock: anyio.Lock | None = None
        self._changed: anyio.Event | None = None

    @property
    def sent(self) -> int:
        """Requests let go so far."""
        return self._sent

    @property
    def rejected(self) -> int:
        """Responses that were 429s."""
        return self._rejected

    @property
    def sends_headers(self) -> bool:
        """Whether the server has stated a quota yet."""
        return self._reading is not None

    # -- asking ----------------------------------------------------------------------------

    async def acquire(self) -> int:
        """Wait until one more request may go; return its ticket for :meth:`observe`."""
        self._lock = self._lock or anyio.Lock()
        async with self._lock:  # waiters queue here, in order
            while (wait := self._wait_s(self._clock())) > 0:
                self._changed = self._changed or anyio.Event()
                with anyio.move_on_after(wait):
                    await self._changed.wait()  # a response may open the way sooner
            self._sent += 1
            self._spend(self._sent)
            return self._sent

    def _spend(self, ticket: int) -> None:
        if self._reading is None and self.headerless_rate is not None:
            self._paced_tokens -= 1

    def _wait_s(self, now: float) -> float:
        """Seconds until one request may go (0: now)."""
        if now < self._blocked_until:
            return self._blocked_until - now
        reading = self._reading
        if reading is None:
            return self._headerless_wait_s(now)
        refill = 0.0 if self._windows else max(self.refill_per_s, self._refill_floor)
        limit = math.inf if reading.quota.limit is None else float(reading.quota.limit)
        # Each recent answer bounds what is left: its remaining, refilled since, less every
        # request not answered before it (answered later, or not yet: either may have been
        # counted after it). Answers come in about the order the server counted them, not
        # the order they were sent; the lowest bound holds.
        recent = self._recent
        while len(recent) > 1 and now - recent[0].at > _RECENT_S:
            recent.popleft()
        tokens = min(
            r.quota.remaining + refill * (now - r.at) - (self._sent - r.answered_before)
            for r in recent
        )
        tokens = min(tokens, limit)
        if tokens >= 1:
            return 0.0
        reset_at = self._window_end if self._windows else reading.reset_at
        if reset_at is not None and now >= reset_at:
            # the quota should be whole again: one request goes to see it
            if self._probe is None or self._probe[0] <= reading.ticket:
                self._probe = (self._sent + 1, now)
                return 0.0
            if now - self._probe[1] > _PROBE_PATIENCE_S:
                self._probe = (self._sent + 1, now)
                return 0.0
            return _RECHECK_S
        waits = [_RECHECK_S]
        if refill > 0:
            waits.append((1 - tokens) / refill)
        if reset_at is not None:
            waits.append(reset_at - now)
        return max(min(waits), 1e-3)

    def _headerless_wait_s(self, now: float) -> float:
        rate = self.headerless_rate
        if rate is None:
            return 0.0  # nothing known, nothing refused yet
        since = max(0.0, now - self._episode_at)
        if self._first_episode:
            rate *= 2.0 ** min(since, 10.0)  # a guess: double it each second until refused
        else:
            rate *= 1 + _HEADERLESS_GROWTH_PER_S * since
        capacity = max(1.0, min(self._headerless_burst, rate))
        self._paced_tokens = min(capacity, self._paced_tokens + (now - self._paced_at) * rate)
        self._paced_at = now
        return 0.0 if self._paced_tokens >= 1 else (1 - self._paced_tokens) / rate

    # -- hearing back ----------------------------------------------------------------------

    def observe(self, ticket: int, status_code: int, headers: Mapping[str, str]) -> None:
        """Learn from the response to request ``ticket`` (its status and headers)."""
        now = self._clock()
        self._answered += 1
        if status_code == 429:
            self._rejected += 1
        quota = read_quota(headers)
        if quota is not None:
            self._read(_Reading(now, ticket, quota, self._rejected, self._answered), now)
        elif self._reading is None:
            self._count_headerless(ticket, status_code, now)
        self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _read(self, reading: _Reading, now: float) -> None:
        last = self._reading
        while self._recent and now - self._recent[0].at > _RECENT_S:
            self._recent.popleft()
        if last is not None and reading.ticket <= last.ticket:
            self._recent.append(reading)  # overtaken, yet it may know of later requests
            return
        quota = reading.quota
        if last is None:
            # a reset that is a Unix time or the IETF draft's is a window's end
            self._windows = not quota.reset_means_full
        if quota.reset_means_full and quota.reset_s and quota.limit is not None:
            # a bucket full in reset_s (rounded up) from remaining + <1 refills at least
            # limit - remaining - 1 in that time
            self._refill_floor = max(0.0, (quota.limit - quota.remaining - 1) / quota.reset_s)
        if last is not None and self._new_quota(last, reading):
            self._history.clear()  # refills across it are no rate: measure afresh
            # a new window: what the old one had left is gone; a full bucket: it refills
            # faster than anyone sends, so what older answers left matters no more
            self._recent.clear()
            self._window_end = None
        self._recent.append(reading)
        if reading.reset_at is not None:
            # a reset in whole seconds is rounded up: the earliest end any answer of this
            # window implies is the nearest to the real one
            self._window_end = min(self._window_end or math.inf, reading.reset_at)
        if not self._windows:
            self._measure(reading)
        self._history.append(reading)
        while self._history and now - self._history[0].at > _HISTORY_S:
            self._history.popleft()
        self._reading = reading

    def _new_quota(self, last: _Reading, reading: _Reading) -> bool:
        """Whether refills from before ``reading`` are no rate: a new window, a full bucket."""
        limit, remaining = reading.quota.limit, reading.quota.remaining
        if not self._windows:
            # a full bucket throws away what it would refill
            return limit is not None and remaining >= limit - 1
        last_reset = self._window_end
        if last_reset is not None and reading.at >= last_reset:
            return True
        # a reset rounded up may come later than the real one: a jump by half the quota
        # in one step is the next window
        return remaining - last.quota.remaining >= max(4, (limit or 2 * remaining) / 2)

    def _measure(self, newest: _Reading) -> None:
        """A bucket's refill rate, between the oldest kept reading and ``newest``.

        Refilled = remaining now - remaining then + requests accepted in between, less the
        requests sent before ``newest`` and not yet answered (they may have been counted
        after it), less one for the rounding of remaining: an estimate from below.
        """
        if not self._history:
            return
        oldest = self._history[0]
        span = newest.at - oldest.at
        if span < _MIN_MEASURE_S:
            return
        sent = newest.ticket - oldest.ticket
        accepted = sent - (newest.rejected_before - oldest.rejected_before)
        refilled = newest.quota.remaining - oldest.quota.remaining + accepted
        floor = self._refill_floor
        if floor > 0 and refilled + 2 < floor * span / 2:
            # far less than a bucket full in reset_s must refill: the reset is a window's end
            self._windows = True
            self.refill_per_s = 0.0
            return
        unanswered = max(0, newest.ticket - newest.answered_before)
        self.refill_per_s = max(0.0, (refilled - unanswered - 1) / span)

    def _count_headerless(self, ticket: int, status_code: int, now: float) -> None:
        if status_code != 429:
            self._accepted_since_episode += 1
            return
        if ticket <= self._episode_ticket:
            return  # sent before the last 429 came back: the same refusal, seen again
        span = now - self._episode_at
        accepted = self._accepted_since_episode
        self._first_episode = self.headerless_rate is None
        if self._first_episode:
            # the first refusal: what was accepted includes the server's whole burst, so
            # this is high; the next refusal measures the rate itself
            self._headerless_burst = max(1.0, float(accepted))
            guess = _FIRST_GUESS_SHARE * accepted / max(span + 1.0, 1e-3)
            self.headerless_rate = max(1.0, guess)
        elif span > 0:
            # between two refusals the server had nothing left at either end: everything
            # it accepted in between was refill
            self.headerless_rate = max(1.0, _HEADERLESS_MARGIN * accepted / span)
        self._episode_ticket = self._sent
        self._episode_at = now
        self._accepted_since_episode = 0
        self._paced_tokens = 0.0
        self._paced_at = now

    def block_for(self, seconds: float) -> None:
        """After a 429: nobody sends until ``seconds`` have passed."""
        now = self._clock()
        self._blocked_until = max(self._blocked_until, now + seconds)
        if self._reading is None and self.headerless_rate is not None:
            # the wait refills the server: what it saves meanwhile goes first after it
            self._paced_at = self._blocked_until
            saved = min(self._headerless_burst, self.headerless_rate * seconds)
            if self._first_episode:
                saved *= _FIRST_GUESS_SHARE  # the rate is a guess: spend less of it at once
            self._paced_tokens = saved
