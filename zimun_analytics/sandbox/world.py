"""The sandbox's static world: organizations, locations, staff, services and API clients.

Everything here is built once, deterministically from the seed, and never changes while the
sandbox runs; bookings live in :mod:`.engine`. Times of day are minutes after local midnight,
so a location's hours mean the same wall-clock times on 23- and 25-hour DST days.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays as holiday_data

__all__ = [
    "ApiClient",
    "Location",
    "Organization",
    "Service",
    "StaffMember",
    "World",
    "build_world",
]

Interval = tuple[int, int]  # [start, end) in minutes after local midnight
WeeklyHours = dict[int, tuple[Interval, ...]]  # weekday (Mon=0) -> intervals
# id, name, zone, country, subdivision, address, {weekdays: hours} (see _hours)
LocationRow = tuple[str, str, str, str, str | None, str, dict[str, str]]
# id, name, category, duration, buffer, location ids, active
ServiceRow = tuple[str, str, str, int, int, tuple[str, ...], bool]

ALL_SCOPES = frozenset({"org:read", "availability:read", "appointments:read", "appointments:write"})
READ_SCOPES = ALL_SCOPES - {"appointments:write"}


@dataclass(frozen=True)
class Organization:
    """A business that uses Zimun; every other id belongs to one."""

    organization_id: str
    name: str
    timezone: str
    country: str


@dataclass(frozen=True)
class Location:
    """A place with an IANA zone, a country/subdivision and opening hours."""

    location_id: str
    organization_id: str
    name: str
    timezone: str
    country: str
    subdivision: str | None
    address: str
    opening: WeeklyHours
    closed_days: dict[date, str] = field(default_factory=dict)
    active: bool = True

    @cached_property
    def tz(self) -> ZoneInfo:
        """The location's IANA zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class StaffMember:
    """Someone at one location, skilled in some categories, on weekly shifts."""

    staff_id: str
    location_id: str
    name: str
    categories: frozenset[str]
    shifts: WeeklyHours


@dataclass(frozen=True)
class Service:
    """Something bookable, with a duration, a buffer and the locations offering it."""

    service_id: str
    organization_id: str
    name: str
    category: str
    duration_minutes: int
    buffer_minutes: int
    location_ids: tuple[str, ...]
    active: bool = True

    @property
    def step_minutes(self) -> int:
        """Distance between slot starts: the appointment plus its buffer."""
        return self.duration_minutes + self.buffer_minutes


@dataclass(frozen=True)
class ApiClient:
    """OAuth2 client credentials, bound to one organization and a set of scopes."""

    client_id: str
    client_secret: str
    organization_id: str
    scopes: frozenset[str]


@dataclass
class World:
    """Every static object of the sandbox, indexed by id."""

    organizations: dict[str, Organization]
    locations: dict[str, Location]
    services: dict[str, Service]
    staff: dict[str, tuple[StaffMember, ...]]  # by location_id
    clients: dict[str, ApiClient]

    def locations_of(self, organization_id: str) -> list[Location]:
        """Locations of one organization, in id order."""
        return [loc for loc in self.locations.values() if loc.organization_id == organization_id]

    def services_of(self, organization_id: str) -> list[Service]:
        """Services of one organization, in catalogue order."""
        return [s for s in self.services.values() if s.organization_id == organization_id]

    @cached_property
    def services_by_location(self) -> dict[str, tuple[Service, ...]]:
        """Active services offered at each location."""
        index: dict[str, list[Service]] = {loc: [] for loc in self.locations}
        for service in self.services.values():
            if service.active:
                for location_id in service.location_ids:
                    index[location_id].append(service)
        return {loc: tuple(items) for loc, items in index.items()}


def _h(text: str) -> int:
    """'09:30' -> minutes after midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _hours(spec: dict[str, str]) -> WeeklyHours:
    """Build weekly hours from {'0-4': '08:00-20:00', '5': '09:00-16:00'}; '-' breaks are gaps."""
    weekly: WeeklyHours = {}
    for days, ranges in spec.items():
        first, _, last = days.partition("-")
        intervals = []
        for part in ranges.split(","):
            start, end = part.split("-")
            intervals.append((_h(start), _h(end)))
        for weekday in range(int(first), int(last or first) + 1):
            weekly[weekday] = tuple(intervals)
    return weekly


# Opening hours: Berlin and Munich close on Sundays (German shop law); London and New York
# open on Sundays, which is what puts slots on the DST Sundays.
_LOCATIONS = [
    (
        "l_berlin",
        "Berlin Mitte",
        "Europe/Berlin",
        "DE",
        "DE-BE",
        "Torstraße 1, 10119 Berlin",
        {"0-4": "08:00-20:00", "5": "09:00-16:00"},
    ),
    (
        "l_munich",
        "München Schwabing",
        "Europe/Berlin",
        "DE",
        "DE-BY",
        "Leopoldstraße 20, 80802 München",
        {"0-4": "08:00-19:00", "5": "09:00-15:00"},
    ),
    (
        "l_london",
        "London Soho",
        "Europe/London",
        "GB",
        "GB-ENG",
        "12 Dean Street, London W1D",
        {"0-5": "09:00-19:00", "6": "10:00-16:00"},
    ),
    (
        "l_newyork",
        "New York Chelsea",
        "America/New_York",
        "US",
        "US-NY",
        "210 W 19th St, New York, NY 10011",
        {"0-4": "08:00-20:00", "5": "09:00-17:00", "6": "11:00-17:00"},
    ),
]
_OTHER_LOCATION = (
    "l_telaviv",
    "Tel Aviv Rothschild",
    "Asia/Jerusalem",
    "IL",
    None,
    "Rothschild Blvd 1, Tel Aviv",
    {"6": "09:00-18:00", "0-3": "09:00-18:00", "4": "08:00-13:00"},
)

# id, name, category, duration, buffer, locations, active
_CATALOGUE = [
    ("s_quick_trim", "Quick trim", "hair", 15, 0, ("l_berlin", "l_munich", "l_london"), True),
    (
        "s_haircut",
        "Haircut",
        "hair",
        30,
        10,
        ("l_berlin", "l_munich", "l_london", "l_newyork"),
        True,
    ),
    ("s_color", "Colour treatment", "hair", 90, 15, ("l_berlin", "l_newyork"), True),
    ("s_beard", "Beard styling", "hair", 20, 5, ("l_london",), True),
    ("s_massage_30", "Massage, 30 minutes", "body", 30, 10, ("l_munich",), True),
    ("s_massage_60", "Massage, 60 minutes", "body", 60, 15, ("l_munich", "l_newyork"), True),
    ("s_physio", "Physiotherapy assessment", "body", 45, 15, ("l_berlin",), True),
    ("s_consult", "Style consultation", "hair", 15, 5, ("l_newyork",), True),
    ("s_manicure", "Manicure", "beauty", 45, 15, ("l_london", "l_newyork"), True),
    ("s_facial", "Facial", "beauty", 60, 0, ("l_berlin",), True),
    ("s_eyebrow", "Eyebrow shaping", "beauty", 15, 0, ("l_berlin",), True),
    ("s_kids_cut", "Kids' haircut", "hair", 20, 10, ("l_munich",), True),
    ("s_legacy_perm", "Perm (discontinued)", "hair", 60, 15, ("l_berlin",), False),
]
_OTHER_CATALOGUE = [
    ("s_tlv_consult", "Consultation", "hair", 30, 0, ("l_telaviv",), True),
    ("s_tlv_massage", "Massage", "body", 60, 15, ("l_telaviv",), True),
]

# Shift patterns: breaks are the gaps between intervals.
_SHIFTS = [
    {"0-4": "08:00-12:00,12:30-16:00", "5": "09:00-13:00"},
    {"0-4": "12:00-16:00,16:30-20:00"},
    {"1-5": "09:00-13:00,13:45-17:30", "6": "11:00-17:00"},
    {"0-3": "10:00-14:00,14:30-19:00", "6": "10:00-16:00"},
    {"2-6": "09:00-12:30,13:15-17:00", "0": "09:00-17:00"},
]
_FIRST_NAMES = [
    "Ada",
    "Ben",
    "Chen",
    "Dana",
    "Emre",
    "Fatima",
    "Gil",
    "Hana",
    "Ivo",
    "Jo",
    "Kemal",
    "Lea",
    "Mina",
    "Noam",
    "Olu",
    "Priya",
    "Rosa",
    "Sami",
    "Tal",
    "Uma",
]

_CLIENTS = [
    ("demo", "demo-secret", "o_demo", ALL_SCOPES),
    ("readonly", "readonly-secret", "o_demo", READ_SCOPES),
    ("other", "other-secret", "o_other", ALL_SCOPES),
]


def _location(row: LocationRow, organization_id: str) -> Location:
    location_id, name, tz, country, subdivision, address, opening = row
    return Location(
        location_id, organization_id, name, tz, country, subdivision, address, _hours(opening)
    )


def _staff_for(location: Location, rng: random.Random) -> tuple[StaffMember, ...]:
    """Two people per category, some with a second skill, on rotating shift patterns."""
    members = []
    patterns = rng.sample(_SHIFTS, len(_SHIFTS))
    for number, category in enumerate(["hair", "hair", "body", "body", "beauty", "beauty"]):
        skills = {category}
        if rng.random() < 0.35:
            skills.add(rng.choice(["hair", "body", "beauty"]))
        pattern = _hours(patterns[number % len(patterns)])
        shifts = {
            day: _clip(intervals, location.opening.get(day, ()))
            for day, intervals in pattern.items()
        }
        members.append(
            StaffMember(
                staff_id=f"st_{location.location_id[2:]}_{number + 1}",
                location_id=location.location_id,
                name=rng.choice(_FIRST_NAMES),
                categories=frozenset(skills),
                shifts={day: ivs for day, ivs in shifts.items() if ivs},
            )
        )
    return tuple(members)


def _clip(intervals: tuple[Interval, ...], opening: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """Intersect a shift with the location's opening hours of that day."""
    clipped = []
    for start, end in intervals:
        for open_start, open_end in opening:
            lo, hi = max(start, open_start), min(end, open_end)
            if hi - lo >= 15:
                clipped.append((lo, hi))
    return tuple(clipped)


def _generated_services(count: int, rng: random.Random) -> list[Service]:
    """Extra catalogue entries for scale tests: mostly one location, some several."""
    location_ids = [row[0] for row in _LOCATIONS]
    kinds = {"hair": "Styling", "body": "Treatment", "beauty": "Care"}
    services = []
    for number in range(1, count + 1):
        category = rng.choice(sorted(kinds))
        spread = 1 if rng.random() < 0.7 else rng.randint(2, len(location_ids))
        services.append(
            Service(
                service_id=f"s_g{number:04d}",
                organization_id="o_demo",
                name=f"{kinds[category]} variant {number}",
                category=category,
                duration_minutes=rng.choice([15, 20, 30, 45, 60, 90]),
                buffer_minutes=rng.choice([0, 5, 10, 15]),
                location_ids=tuple(sorted(rng.sample(location_ids, spread))),
            )
        )
    return services


def _catalogue(rows: Sequence[ServiceRow], organization_id: str) -> list[Service]:
    return [Service(r[0], organization_id, r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]


def public_holidays(location: Location, year: int) -> dict[date, str]:
    """The public holidays of ``location``'s country and subdivision in ``year``, by date."""
    subdiv = location.subdivision.split("-", 1)[1] if location.subdivision else None
    try:
        table = holiday_data.country_holidays(
            location.country, subdiv=subdiv, years=year, language="en_US"
        )
    except (NotImplementedError, KeyError, ValueError):  # no English names for this country
        table = holiday_data.country_holidays(location.country, subdiv=subdiv, years=year)
    return {day: name for day, name in table.items()}


def _all_locations(closed_day: date) -> dict[str, Location]:
    """Both organizations' locations by id, Berlin closed on a working day from ``closed_day``.

    The first weekday from ``closed_day`` that Berlin is open and that is no public holiday,
    so the closure visibly removes slots and never hides a holiday.
    """
    berlin, *others = [_location(row, "o_demo") for row in _LOCATIONS]
    while (
        closed_day.weekday() >= 5
        or not berlin.opening.get(closed_day.weekday())
        or closed_day in public_holidays(berlin, closed_day.year)
    ):
        closed_day += timedelta(days=1)
    berlin = replace(berlin, closed_days={closed_day: "Closed for staff training"})
    locations = {loc.location_id: loc for loc in [berlin, *others]}
    other_location = _location(_OTHER_LOCATION, "o_other")
    locations[other_location.location_id] = other_location
    return locations


def build_world(seed: int, services: int | None, closed_day: date) -> World:
    """Build the sandbox world.

    Parameters
    ----------
    seed
        Drives staff names, skills and shift patterns and any generated services.
    services
        Size of ``o_demo``'s catalogue; ``None`` keeps the built-in 13.
    closed_day
        The date of Berlin's "closed" override day (a local date).
    """
    rng = random.Random(f"world:{seed}")
    locations = _all_locations(closed_day)
    catalogue = _catalogue(_CATALOGUE, "o_demo")
    if services is not None:
        catalogue = catalogue[:services] + _generated_services(services - len(catalogue), rng)
    catalogue += _catalogue(_OTHER_CATALOGUE, "o_other")
    return World(
        organizations={
            "o_demo": Organization("o_demo", "Zimun Demo Studios", "Europe/Berlin", "DE"),
            "o_other": Organization("o_other", "Other Org Ltd", "Asia/Jerusalem", "IL"),
        },
        locations=locations,
        services={s.service_id: s for s in catalogue},
        staff={loc_id: _staff_for(loc, rng) for loc_id, loc in locations.items()},
        clients={c[0]: ApiClient(*c) for c in _CLIENTS},
    )
