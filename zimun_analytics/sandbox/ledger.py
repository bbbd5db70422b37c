"""Who is busy when: each staff member's taken blocks per local date, and what took them.

A block is ``[start, end)`` in POSIX seconds (slot plus buffer) tagged with its reference: a
hold id (``h_...``), an appointment id, or a demand-model booking. A hold's block stops counting
the moment the hold expires or is released, without anyone having to clear it. The ledger has
no lock of its own: the engine calls it under its lock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime

from .calendar import GridSlot
from .records import Hold

__all__ = ["Busy", "BusyLedger"]

Busy = dict[str, list[tuple[int, int]]]  # staff id -> busy [start, end) POSIX seconds


class BusyLedger:
    """Taken blocks per (staff member, local date), with a change counter per date."""

    def __init__(self, holds: Mapping[str, Hold]) -> None:
        # the engine's live dict of holds: whether a hold's block counts depends on its state now
        self._holds = holds
        self._busy: dict[tuple[str, date], list[tuple[int, int, str]]] = {}
        self._versions: dict[date, int] = {}

    def version(self, day: date) -> int:
        """How often bookings on ``day`` changed: rendered availability of an older one is stale."""
        return self._versions.get(day, 0)

    def hold_is_live(self, hold_id: str, now: datetime) -> bool:
        """Whether ``hold_id`` still holds its slot at ``now``."""
        hold = self._holds.get(hold_id)
        return hold is not None and hold.status == "held" and hold.expires_at > now

    def is_free(
        self, staff_id: str, day: date, slot: GridSlot, now: datetime, ignore: str | None = None
    ) -> bool:
        """Whether nothing but ``ignore`` overlaps the slot (and its buffer) for this person."""
        for start, end, ref in self._busy.get((staff_id, day), ()):
            if start < slot.block_end_ts and end > slot.start_ts and ref != ignore:
                if ref.startswith("h_") and not self.hold_is_live(ref, now):
                    continue  # an expired hold no longer blocks anyone
                return False
        return True

    def free_staff(
        self, slot: GridSlot, day: date, now: datetime, ignore: str | None = None
    ) -> list[str]:
        """Able staff with nothing overlapping the slot."""
        return [sid for sid in slot.staff_ids if self.is_free(sid, day, slot, now, ignore)]

    def _touch(self, day: date) -> None:
        """Any booking change on ``day`` invalidates that day's rendered availability."""
        self._versions[day] = self._versions.get(day, 0) + 1

    def occupy(self, staff_id: str, day: date, slot: GridSlot, ref: str) -> None:
        """Take the slot and its buffer for ``ref``."""
        self._busy.setdefault((staff_id, day), []).append((slot.start_ts, slot.block_end_ts, ref))
        self._touch(day)

    def vacate(self, staff_id: str, day: date, ref: str) -> None:
        """Drop every block of ``ref`` that day."""
        entries = self._busy.get((staff_id, day), [])
        entries[:] = [entry for entry in entries if entry[2] != ref]
        self._touch(day)

    def rename(self, staff_id: str, day: date, old: str, new: str) -> None:
        """Hand ``old``'s blocks to ``new`` (a confirmed hold becomes its appointment)."""
        # no _touch: the same blocks stay taken, so rendered availability is still right
        entries = self._busy.get((staff_id, day), [])
        entries[:] = [(s, e, new if ref == old else ref) for s, e, ref in entries]

    def live_busy(self, staff_ids: frozenset[str], day: date, now: datetime) -> tuple[Busy, float]:
        """Each staff member's busy intervals that day, expired holds left out.

        Also returns when the first live hold among them expires: the picture changes then.
        """
        busy: Busy = {}
        first_expiry = math.inf
        for staff_id in staff_ids:
            intervals = busy[staff_id] = []
            for start, end, ref in self._busy.get((staff_id, day), ()):
                if ref.startswith("h_"):
                    if not self.hold_is_live(ref, now):
                        continue
                    first_expiry = min(first_expiry, self._holds[ref].expires_at.timestamp())
                intervals.append((start, end))
        return busy, first_expiry
