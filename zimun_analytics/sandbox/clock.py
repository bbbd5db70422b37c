"""The sandbox's own clock: real time by default, or frozen at an instant, and movable.

Holds and tokens expire by this clock, so tests and notebooks can let ten minutes pass
without sleeping. Rate limits deliberately do *not* use it: they are about real throughput.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["SandboxClock", "parse_instant"]


def parse_instant(value: str | datetime) -> datetime:
    """Parse an ISO-8601 instant that carries an offset; return it in UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"instant {value!r} has no UTC offset; add one, e.g. 'Z' or '+01:00'")
    return moment.astimezone(UTC)


class SandboxClock:
    """Real or frozen time plus an offset that only ever grows.

    Parameters
    ----------
    frozen_at
        Start frozen at this instant (tz-aware); ``None`` follows real time.
    """

    def __init__(self, frozen_at: datetime | None = None) -> None:
        self._frozen_at = frozen_at.astimezone(UTC) if frozen_at is not None else None
        self._offset = timedelta(0)
        self._lock = threading.Lock()
        self.started_at = self.now()

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still between advances."""
        return self._frozen_at is not None

    def now(self) -> datetime:
        """Return the current sandbox instant in UTC."""
        base = self._frozen_at if self._frozen_at is not None else datetime.now(UTC)
        return base + self._offset

    def advance(self, seconds: float) -> tuple[datetime, datetime]:
        """Move the clock forward; return the instants before and after."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            before = self.now()
            self._offset += timedelta(seconds=seconds)
            return before, self.now()
