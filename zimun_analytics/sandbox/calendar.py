"""Where slots can exist: holidays, opening hours, staff shifts and each service's slot grid.

A *day plan* is everything about one service at one location on one local date that does not
depend on bookings: the day's status and its grid slots with the staff able to serve them.
Plans are cached; bookings are checked against them in :mod:`.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Literal

from .world import Interval, Location, Service, World, public_holidays

__all__ = ["Calendar", "DayPlan", "GridCheck", "GridSlot", "to_utc_iso"]

DayStatus = Literal["open", "closed", "holiday"]
GridCheck = Literal["slot", "off_grid", "unavailable"]
_PLAN_CACHE_SIZE = 20_000  # day plans kept; a 1,000-service x 60-day sweep stays bounded


@dataclass(frozen=True, slots=True)
class GridSlot:
    """One bookable start of one service at one location, with who could serve it."""

    start_ts: int  # POSIX seconds
    end_ts: int  # end of the appointment
    block_end_ts: int  # end of the appointment plus the service's buffer
    start_iso: str  # with the location's offset
    end_iso: str
    staff_ids: tuple[str, ...]  # who could serve it, in a fixed order


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One service at one location on one local date, before bookings."""

    status: DayStatus
    slots: tuple[GridSlot, ...]
    by_start: dict[int, GridSlot]
    staff_ids: frozenset[str] = frozenset()  # everyone able to serve any slot of the day


def _local(day: date, minute: int, location: Location) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=location.tz)


class Calendar:
    """Holiday maps and slot grids for one world."""

    def __init__(self, world: World) -> None:
        self._world = world
        self.day_plan = lru_cache(maxsize=_PLAN_CACHE_SIZE)(self._day_plan)
        self._holidays_of_year = lru_cache(maxsize=256)(self._load_holidays)

    def holidays(self, location: Location, first: date, last: date) -> dict[date, tuple[str, str]]:
        """Public holidays and closed days in ``[first, last]``: date -> (name, kind)."""
        found: dict[date, tuple[str, str]] = {}
        for year in range(first.year, last.year + 1):
            for day, name in self._holidays_of_year(location.location_id, year).items():
                if first <= day <= last:
                    found[day] = (name, "public_holiday")
        for day, note in location.closed_days.items():
            if first <= day <= last:
                found[day] = (note, "closed")
        return dict(sorted(found.items()))

    def _load_holidays(self, location_id: str, year: int) -> dict[date, str]:
        return public_holidays(self._world.locations[location_id], year)

    def is_holiday(self, location: Location, day: date) -> bool:
        """Whether ``day`` is a public holiday or closed day at ``location``."""
        return day in location.closed_days or day in self._holidays_of_year(
            location.location_id, day.year
        )

    def _day_plan(self, service_id: str, location_id: str, day: date) -> DayPlan:
        service = self._world.services[service_id]
        location = self._world.locations[location_id]
        if not service.active:  # a discontinued service offers nothing, holiday or not
            return DayPlan("closed", (), {})
        if self.is_holiday(location, day):
            return DayPlan("holiday", (), {})
        opening = location.opening.get(day.weekday(), ())
        if not opening:
            return DayPlan("closed", (), {})
        slots = tuple(self._grid(service, location, day, opening))
        if not slots:
            return DayPlan("closed", (), {})
        by_start = {slot.start_ts: slot for slot in slots}
        staff_ids = frozenset(sid for slot in slots for sid in slot.staff_ids)
        return DayPlan("open", slots, by_start, staff_ids)

    def _grid(
        self, service: Service, location: Location, day: date, opening: tuple[Interval, ...]
    ) -> list[GridSlot]:
        staff = [
            member
            for member in self._world.staff[location.location_id]
            if service.category in member.categories
        ]
        shifts = [(m.staff_id, m.shifts.get(day.weekday(), ())) for m in staff]
        slots = []
        for open_start, open_end in opening:
            for minute in range(
                open_start, open_end - service.duration_minutes + 1, service.step_minutes
            ):
                end = minute + service.duration_minutes
                able = tuple(
                    staff_id
                    for staff_id, intervals in shifts
                    if any(a <= minute and end <= b for a, b in intervals)
                )
                if able:
                    slots.append(self._slot(location, day, minute, service, able))
        return slots

    @staticmethod
    def _slot(
        location: Location, day: date, minute: int, service: Service, able: tuple[str, ...]
    ) -> GridSlot:
        start = _local(day, minute, location)
        end = _local(day, minute + service.duration_minutes, location)
        start_ts = int(start.timestamp())
        return GridSlot(
            start_ts=start_ts,
            end_ts=int(end.timestamp()),
            block_end_ts=start_ts + service.step_minutes * 60,
            start_iso=start.isoformat(),
            end_iso=end.isoformat(),
            staff_ids=able,
        )

    def check_grid(self, service: Service, location: Location, moment: datetime) -> GridCheck:
        """Classify a requested start: a grid slot, off the grid (422) or not offered (409)."""
        local = moment.astimezone(location.tz)
        plan = self.day_plan(service.service_id, location.location_id, local.date())
        on_second = local.second == 0 and local.microsecond == 0
        if on_second and int(moment.timestamp()) in plan.by_start:
            return "slot"
        minute = local.hour * 60 + local.minute
        for open_start, open_end in location.opening.get(local.weekday(), ()):
            if open_start <= minute < open_end:
                aligned = (minute - open_start) % service.step_minutes == 0
                if not aligned or not on_second:
                    return "off_grid"
        return "unavailable"


def to_utc_iso(moment: datetime) -> str:
    """UTC instant as ``YYYY-MM-DDTHH:MM:SSZ`` (the contract's form for server times)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
