"""The demand model: who books what, when, so heatmaps have real structure.

Busier at lunch and in the evening, on Fridays and Saturdays, and the closer a day is the
fuller it gets. Pure functions of a random generator, so a seed reproduces every booking.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date

from .calendar import Calendar, GridSlot
from .world import Location, StaffMember, World

__all__ = ["booking_probability", "candidate_slots", "pick_lead_days"]

_HOUR_WEIGHT = {8: 0.6, 9: 0.75, 10: 0.9, 12: 1.35, 13: 1.35, 17: 1.3, 18: 1.4, 19: 1.3}
_WEEKDAY_WEIGHT = {0: 0.8, 4: 1.1, 5: 1.35}
_MAX_PROBABILITY = 0.97
_SERVICES_TRIED_PER_STAFF = 8  # bounds the work per day with a 2,000-service catalogue


def booking_probability(local_hour: int, weekday: int, lead_days: int) -> float:
    """Chance that a free slot was already booked ``lead_days`` ahead of its day."""
    lead = 0.06 + 0.3 * math.exp(-max(lead_days, 0) / 8)
    weight = _HOUR_WEIGHT.get(local_hour, 1.0) * _WEEKDAY_WEIGHT.get(weekday, 1.0)
    return min(lead * weight, _MAX_PROBABILITY)


def pick_lead_days(rng: random.Random, horizon_days: int = 30) -> int:
    """How far ahead a new booking lands: mostly within the next week or two."""
    return min(int(rng.expovariate(1 / 6)), horizon_days)


def candidate_slots(
    world: World,
    calendar: Calendar,
    location: Location,
    member: StaffMember,
    day: date,
    rng: random.Random,
) -> Iterator[GridSlot]:
    """Grid slots this staff member could serve that day, in time order, from a few services."""
    offered = [
        s
        for s in world.services_by_location[location.location_id]
        if s.category in member.categories
    ]
    if len(offered) > _SERVICES_TRIED_PER_STAFF:
        offered = rng.sample(offered, _SERVICES_TRIED_PER_STAFF)
    slots: list[GridSlot] = []
    for service in offered:
        plan = calendar.day_plan(service.service_id, location.location_id, day)
        slots.extend(slot for slot in plan.slots if member.staff_id in slot.staff_ids)
    rng.shuffle(slots)  # ties between services at one start time go to a random one
    slots.sort(key=lambda slot: slot.start_ts)
    return iter(slots)
