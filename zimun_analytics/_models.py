"""Records the client returns: frozen dataclasses parsed from the service's JSON.

Each record has ``from_json(data, *, endpoint, request_id=None)`` and keeps the decoded JSON in
``raw`` so fields not modelled here stay reachable. Parsing follows the contract's tolerance
rules: unknown fields are ignored (but kept in ``raw``); a missing optional field degrades to
None or a default; a missing or malformed required field raises one `ResponseFormatError`
naming the endpoint, the field's path (``days[3].slots[0].start``) and the request id.
Timestamps must carry a UTC offset (``Z`` accepted); a naive one is an error, never guessed.

Records that can hold a whole window of slots (`Availability`, `AvailabilityDay`) print a
one-line summary instead of every field, and `Availability` renders a small table in notebooks.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._config import MAX_DAYS_AHEAD, MAX_SLOT_CAPACITY, MAX_SLOT_MINUTES
from ._errors import InputError, ResponseFormatError

_T = TypeVar("_T")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}$")


def check_email(value: object) -> str:
    """Return ``value`` if it looks like an email address, else raise InputError."""
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise InputError("contact_email is not an email address such as dana@example.com")
    return value


def check_days(days_ahead: object, maximum: int, hint: str = "") -> int:
    """Return ``days_ahead`` if it is a whole number of days in 1..maximum, else raise.

    The one check of a window's length: one API call's (``MAX_DAYS_AHEAD``) and a fetch's
    (``MAX_FETCH_DAYS``) differ only in the maximum and the hint.
    """
    if isinstance(days_ahead, bool) or not isinstance(days_ahead, int):
        raise InputError(f"days_ahead must be a whole number of days, got {days_ahead!r}")
    if not 1 <= days_ahead <= maximum:
        raise InputError(f"days_ahead must be between 1 and {maximum}, got {days_ahead}{hint}")
    return days_ahead


def check_start_date(start_date: object) -> date | None:
    """Return ``start_date`` if it is None or a ``datetime.date`` (not a datetime), else raise."""
    if start_date is not None and (
        not isinstance(start_date, date) or isinstance(start_date, datetime)
    ):
        raise InputError(f"start_date must be a datetime.date, got {start_date!r}")
    return start_date


# -- the availability body, declared once ------------------------------------------------------
# Everything that reads GET /availability derives from these fields: the records below (one
# call), the fetch's Arrow wire schema, its type check of a body and its refusals (many calls).


@dataclass(frozen=True)
class WireField:
    """One field of an availability body as the contract has it.

    ``kind`` is what the JSON value must be: ``string``, ``zone`` (an IANA zone name), ``date``
    (``YYYY-MM-DD``), ``instant`` (ISO-8601 with an offset), ``whole`` (a whole number, within
    ``bounds`` when given), ``list`` or ``map`` (an object keyed by date) of ``items``.
    ``presence``: ``required``; ``asked`` (the call knows it: a missing one is the request's,
    a present one must equal it); or ``optional`` (missing gives null).
    """

    name: str
    kind: str
    presence: str = "optional"
    bounds: tuple[int, int] | None = None
    items: tuple[WireField, ...] = ()

    @property
    def required(self) -> bool:
        return self.presence == "required"


AVAILABILITY_SLOT = (
    WireField("start", "instant", "required"),
    WireField("end", "instant"),  # checked after start by 1..MAX_SLOT_MINUTES
    WireField("capacity", "whole", bounds=(0, MAX_SLOT_CAPACITY)),
    WireField("available", "whole", bounds=(0, MAX_SLOT_CAPACITY)),  # and at most capacity
)
AVAILABILITY_DAY = (
    WireField("date", "date", "required"),  # inside the window, no date twice
    WireField("status", "string", "required"),
    WireField("slots", "list", items=AVAILABILITY_SLOT),
)
HOLIDAY_ENTRY = (WireField("name", "string"), WireField("kind", "string"))
AVAILABILITY_BODY = (
    WireField("organization_id", "string", "asked"),
    WireField("service_id", "string", "asked"),
    WireField("location_id", "string", "asked"),
    WireField("timezone", "zone", "required"),
    WireField("start_date", "date", "asked"),
    WireField("days_ahead", "whole", "asked", bounds=(1, MAX_DAYS_AHEAD)),  # = len(days)
    WireField("generated_at", "instant"),
    WireField("slot_duration_minutes", "whole", bounds=(1, MAX_SLOT_MINUTES)),
    WireField("days", "list", "required", items=AVAILABILITY_DAY),
    WireField("holidays", "map", items=HOLIDAY_ENTRY),
)
# the fields a record reads one by one (lists and maps are records of their own)
_SCALARS_OF = {
    level: tuple(spec for spec in level if spec.kind not in ("list", "map"))
    for level in (AVAILABILITY_BODY, AVAILABILITY_DAY)
}


@dataclass(frozen=True)
class _Ctx:
    endpoint: str
    request_id: str | None
    path: str = ""

    def at(self, key: str | int) -> _Ctx:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if self.path else key
        return _Ctx(self.endpoint, self.request_id, path)

    def fail(self, problem: str) -> ResponseFormatError:
        return ResponseFormatError(
            problem, endpoint=self.endpoint, field=self.path, request_id=self.request_id
        )


_Kind = Callable[[Any, _Ctx], _T]


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _typed(types: type | tuple[type, ...], label: str) -> _Kind[Any]:
    """A ``_Kind`` that accepts values of ``types`` as they are."""

    def check(value: object, ctx: _Ctx) -> Any:
        if not isinstance(value, types):
            raise ctx.fail(f"should be {label}, got {_type_name(value)}")
        return value

    return check


_object = _typed(Mapping, "a JSON object")
_str = _typed(str, "a string")
_bool = _typed(bool, "true or false")
_list = _typed(list, "a JSON array")


def _int(value: object, ctx: _Ctx) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ctx.fail(f"should be an integer, got {_type_name(value)}")
    return value


def _instant(value: object, ctx: _Ctx) -> datetime:
    """An ISO-8601 timestamp with a UTC offset; a naive one is rejected, never guessed."""
    text = _str(value, ctx)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ctx.fail(f"should be an ISO-8601 timestamp, got {text!r}") from None
    if moment.utcoffset() is None:
        raise ctx.fail(f"has no UTC offset ({text!r}); timestamps must carry one")
    return moment


def _date(value: object, ctx: _Ctx) -> date:
    text = _str(value, ctx)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ctx.fail(f"should be a YYYY-MM-DD date, got {text!r}") from None


def _strs(value: object, ctx: _Ctx) -> tuple[str, ...]:
    return tuple(_str(item, ctx.at(i)) for i, item in enumerate(_list(value, ctx)))


def _require(data: Mapping[str, Any], key: str, kind: _Kind[_T], ctx: _Ctx) -> _T:
    """The field ``key`` converted by ``kind``; missing or null raises."""
    if data.get(key) is None:
        raise ctx.at(key).fail("is null" if key in data else "is missing")
    return kind(data[key], ctx.at(key))


def _optional(
    data: Mapping[str, Any], key: str, kind: _Kind[_T], ctx: _Ctx, default: Any = None
) -> Any:
    """The field ``key`` converted by ``kind``; missing or null gives ``default``.

    A present but malformed value still raises: a wrong type means the contract changed.
    """
    if data.get(key) is None:
        return default
    return kind(data[key], ctx.at(key))


def _zone_name(value: object, ctx: _Ctx) -> str:
    name: str = _str(value, ctx)
    if _zone(name) is None:
        raise ctx.fail(f"is {name!r:.80}, not an IANA time zone")
    return name


_SCALAR_KINDS: dict[str, Callable[[object, _Ctx], Any]] = {
    "string": _str,
    "zone": _zone_name,
    "date": _date,
    "instant": _instant,
    "whole": _int,
}


def _wire_value(
    data: Mapping[str, Any], spec: WireField, ctx: _Ctx, asked: Mapping[str, Any] | None = None
) -> Any:
    """The field ``spec`` of a body, converted by its kind and checked against its bounds.

    An ``asked`` field takes the call's value when missing and must equal it when present;
    with no call's value it is required, as a ``required`` one is.
    """
    convert = _SCALAR_KINDS[spec.kind]
    wanted = (asked or {}).get(spec.name)
    if spec.presence == "required" or (spec.presence == "asked" and wanted is None):
        value = _require(data, spec.name, convert, ctx)
    else:
        value = _optional(data, spec.name, convert, ctx, default=wanted)
    if spec.bounds is not None and value is not None:
        low, high = spec.bounds
        if not low <= value <= high:
            raise ctx.at(spec.name).fail(f"is {value}, not {low}..{high}")
    if wanted is not None and value != wanted:
        raise ctx.at(spec.name).fail(f"is {value!r:.80}, not the one asked for ({wanted})")
    return value


class _Record:
    """Shared ``from_json`` entry point; subclasses implement ``_parse``."""

    @classmethod
    def from_json(
        cls,
        data: object,
        *,
        endpoint: str,
        request_id: str | None = None,
        path: str = "",
    ) -> Self:
        """Parse one record from decoded JSON.

        Parameters
        ----------
        data : object
            The decoded JSON object.
        endpoint : str
            The endpoint that answered, e.g. ``"GET /api/v1/availability"``; used in errors.
        request_id : str or None
            The response's ``X-Request-Id``; used in errors.
        path : str
            Where ``data`` sits in the body, e.g. ``"items[3]"``; prefixes field paths in errors.

        Returns
        -------
        Self
            The record, with ``raw`` holding ``data``.

        Raises
        ------
        ResponseFormatError
            If a required field is missing or a field is malformed.
        """
        ctx = _Ctx(endpoint, request_id, path)
        return cls._parse(_object(data, ctx), ctx)

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        raise NotImplementedError


_R = TypeVar("_R", bound=_Record)


def _each(data: Mapping[str, Any], key: str, record: type[_R], ctx: _Ctx) -> tuple[_R, ...]:
    """Parse every item of the optional array ``key`` as a ``record``; missing gives ``()``."""
    here = ctx.at(key)
    items = _optional(data, key, _list, ctx, default=[])
    return tuple(record._parse(_object(v, here.at(i)), here.at(i)) for i, v in enumerate(items))


def _raw() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=False)
class Organization(_Record):
    """The organization the token belongs to (``GET /api/v1/organization``)."""

    organization_id: str
    name: str
    timezone: str | None
    country: str | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls(
            organization_id=_require(data, "organization_id", _str, ctx),
            name=_require(data, "name", _str, ctx),
            timezone=_optional(data, "timezone", _str, ctx),
            country=_optional(data, "country", _str, ctx),
            raw=data,
        )


@dataclass(frozen=True, slots=False)
class Location(_Record):
    """A place where services are offered (items of ``GET /api/v1/locations``).

    ``country`` is ISO 3166-1 alpha-2, ``subdivision`` ISO 3166-2 (``DE-BE``) or None.
    """

    location_id: str
    name: str
    timezone: str
    country: str | None
    subdivision: str | None
    address: str | None
    active: bool
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls(
            location_id=_require(data, "location_id", _str, ctx),
            name=_require(data, "name", _str, ctx),
            timezone=_require(data, "timezone", _str, ctx),
            country=_optional(data, "country", _str, ctx),
            subdivision=_optional(data, "subdivision", _str, ctx),
            address=_optional(data, "address", _str, ctx),
            active=_optional(data, "active", _bool, ctx, default=True),
            raw=data,
        )


@dataclass(frozen=True, slots=False)
class Service(_Record):
    """A bookable service (items of ``GET /api/v1/services``); durations in minutes."""

    service_id: str
    name: str
    duration_minutes: int
    buffer_minutes: int
    location_ids: tuple[str, ...]
    active: bool
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls(
            service_id=_require(data, "service_id", _str, ctx),
            name=_require(data, "name", _str, ctx),
            duration_minutes=_require(data, "duration_minutes", _int, ctx),
            buffer_minutes=_optional(data, "buffer_minutes", _int, ctx, default=0),
            location_ids=_optional(data, "location_ids", _strs, ctx, default=()),
            active=_optional(data, "active", _bool, ctx, default=True),
            raw=data,
        )


@dataclass(frozen=True, slots=False)
class Slot(_Record):
    """One start time; ``capacity``/``available`` count staff (None when not reported)."""

    start: datetime
    end: datetime | None
    capacity: int | None
    available: int | None
    raw: Mapping[str, Any] = _raw()

    @property
    def is_bookable(self) -> bool:
        """True unless the service says no staff is left (``available`` < 1)."""
        return self.available is None or self.available >= 1

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        fields = {spec.name: _wire_value(data, spec, ctx) for spec in AVAILABILITY_SLOT}
        capacity, available = fields["capacity"], fields["available"]
        if capacity is not None and available is not None and available > capacity:
            raise ctx.at("available").fail(f"is {available}, more than capacity ({capacity})")
        return cls(**fields, raw=data)


def _free_count(slots: Iterable[Slot]) -> int:
    """How many of ``slots`` can still be held."""
    return sum(slot.is_bookable for slot in slots)


def _free_capacity(slots: Iterable[Slot]) -> int | None:
    """Sum of ``available`` over ``slots``; None if any slot does not report it.

    The same rule as ``free_capacity`` of the days table: a partial sum would pass for a
    smaller number than the real one.
    """
    total = 0
    for slot in slots:
        if slot.available is None:
            return None
        total += slot.available
    return total


@dataclass(frozen=True, slots=False)
class AvailabilityDay(_Record):
    """One day of the window: ``status`` is ``open``, ``closed`` or ``holiday``."""

    date: date
    status: str
    slots: tuple[Slot, ...]
    raw: Mapping[str, Any] = _raw()

    def __repr__(self) -> str:
        # Counts, not the slots: a day can have dozens, each a long repr; ``.slots`` has them.
        return (
            f"AvailabilityDay(date={self.date}, status={self.status!r}, slots={len(self.slots)}, "
            f"free_slots={_free_count(self.slots)}, free_capacity={_free_capacity(self.slots)})"
        )

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls(
            **{spec.name: _wire_value(data, spec, ctx) for spec in _SCALARS_OF[AVAILABILITY_DAY]},
            slots=_each(data, "slots", Slot, ctx),
            raw=data,
        )


@dataclass(frozen=True, slots=False)
class Holiday(_Record):
    """A public holiday or closed override in the window; ``kind`` e.g. ``public_holiday``."""

    date: date
    name: str | None
    kind: str | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls(
            date=_require(data, "date", _date, ctx),  # the map's key, folded in
            **{spec.name: _wire_value(data, spec, ctx) for spec in HOLIDAY_ENTRY},
            raw=data,
        )


def _holidays(value: object, ctx: _Ctx) -> tuple[Holiday, ...]:
    """The map ``{"YYYY-MM-DD": {"name": ..., "kind": ...}}``, sorted by date."""
    holidays = []
    for day, entry in _object(value, ctx).items():
        here = ctx.at(day)
        _date(day, here)  # the key is the date: report a bad one at the key itself
        # Fold the date in so a holiday parsed from the map looks like any other record.
        holidays.append(Holiday._parse({**_object(entry, here), "date": day}, here))
    return tuple(sorted(holidays, key=lambda holiday: holiday.date))


_STATUSES = ("open", "closed", "holiday")
_HTML_DAYS = 7  # days listed in the notebook table: enough to see the pattern, short to scroll
_NONE = "\N{EM DASH}"


def _status_counts(days: Iterable[AvailabilityDay]) -> dict[str, int]:
    """Days per status: the contract's three always (0 too), then any other, never dropped."""
    counts = Counter(day.status for day in days)
    return {status: counts.pop(status, 0) for status in _STATUSES} | dict(counts)


def _tally(days: Iterable[AvailabilityDay]) -> str:
    """``11 open, 1 closed, 2 holiday``; a status outside the contract is quoted (one line)."""
    return ", ".join(
        f"{n} {status if status in _STATUSES else repr(status)}"
        for status, n in _status_counts(days).items()
    )


def _window(days: tuple[AvailabilityDay, ...]) -> str:
    return f"{days[0].date}..{days[-1].date}" if days else "none"


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return "unknown"
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _zone(name: str | None) -> tzinfo | None:
    """The IANA zone ``name``; None when it is missing or unknown here (slots keep their offset)."""
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(moment: datetime, zone: tzinfo | None) -> datetime:
    # astimezone(None) would mean this machine's zone: keep the API's offset instead.
    return moment if zone is None else moment.astimezone(zone)


def _cells(tag: str, values: Iterable[object]) -> str:
    # Escape every cell: ids, statuses and holiday notes are whatever the API sent.
    return "".join(f"<{tag}>{html.escape(str(value))}</{tag}>" for value in values)


def _html_table(caption: str, header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """An HTML table with a caption and a header row."""
    body = "".join(f"<tr>{_cells('td', row)}</tr>" for row in rows)
    head = f"<tr>{_cells('th', header)}</tr>"
    return f"<table><caption>{html.escape(caption)}</caption>{head}{body}</table>"


def _html_summary(caption: str, rows: Mapping[str, object]) -> str:
    """An HTML table of name/value rows, laid out like ``AvailabilitySnapshot``'s."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(name)}</th>{_cells('td', [value])}</tr>"
        for name, value in rows.items()
    )
    return f"<table><caption>{html.escape(caption)}</caption>{body}</table>"


@dataclass(frozen=True, slots=False)
class Availability(_Record):
    """Slots of one service at one location (``GET /api/v1/availability``).

    ``days_ahead`` falls back to the number of days when the service omits it. The repr is a
    one-line summary (counts, not slots); in a notebook it shows as a table of the window and
    its first days.
    """

    organization_id: str
    service_id: str
    location_id: str | None
    timezone: str
    start_date: date
    days_ahead: int
    generated_at: datetime | None
    slot_duration_minutes: int | None
    days: tuple[AvailabilityDay, ...]
    holidays: tuple[Holiday, ...]
    raw: Mapping[str, Any] = _raw()

    def slots(self) -> Iterator[Slot]:
        """Iterate over every slot of every day, in order."""
        for day in self.days:
            yield from day.slots

    def free_slots(self) -> Iterator[Slot]:
        """Iterate over the slots that can still be held (`Slot.is_bookable`)."""
        return (slot for slot in self.slots() if slot.is_bookable)

    def __repr__(self) -> str:
        # A summary: the dataclass repr printed every slot (~91,000 characters for 14 days of
        # a 15-minute service) and flooded notebook cells. The fields are all attributes.
        slots = tuple(self.slots())
        return (
            f"Availability({self.service_id!r}, location_id={self.location_id!r}, "
            f"timezone={self.timezone!r}, dates={_window(self.days)}, "
            f"days={len(self.days)} ({_tally(self.days)}), slots={len(slots)}, "
            f"free_slots={_free_count(slots)}, free_capacity={_free_capacity(slots)}, "
            f"generated_at={_utc(self.generated_at)})"
        )

    def _repr_html_(self) -> str:
        """A summary table and the first days, for notebooks."""
        slots = tuple(self.slots())
        free_capacity = _free_capacity(slots)
        summary = {
            "service": self.service_id,
            "location": self.location_id or _NONE,
            "time zone": self.timezone or "unknown",
            "dates": _window(self.days),
            "days": len(self.days),
            **{f"{status} days": n for status, n in _status_counts(self.days).items()},
            "slots": len(slots),
            "free slots": _free_count(slots),
            "free capacity": "unknown" if free_capacity is None else free_capacity,
            "generated at (UTC)": _utc(self.generated_at),
        }
        shown = self.days[:_HTML_DAYS]
        caption = f"{len(shown)} days"
        if len(shown) < len(self.days):
            caption = f"first {len(shown)} of {len(self.days)} days"
        header = ["date", "status", "slots", "free slots", "free capacity", "first free (local)"]
        return _html_summary("Availability", summary) + _html_table(
            caption, header, self._day_rows(shown)
        )

    def _day_rows(self, days: Iterable[AvailabilityDay]) -> Iterator[list[object]]:
        """Rows of the notebook table: holiday names beside their status, local start times."""
        notes = {holiday.date: holiday.name for holiday in self.holidays if holiday.name}
        zone = _zone(self.timezone)
        for day in days:
            status = f"{day.status}: {notes[day.date]}" if day.date in notes else day.status
            first = next((slot.start for slot in day.slots if slot.is_bookable), None)
            free_capacity = _free_capacity(day.slots)
            yield [
                day.date,
                status,
                len(day.slots),
                _free_count(day.slots),
                "unknown" if free_capacity is None else free_capacity,
                _NONE if first is None else _local(first, zone).strftime("%H:%M"),
            ]

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls._parse_answer(data, ctx, {})

    @classmethod
    def from_response(
        cls, data: object, asked: Mapping[str, Any], *, request_id: str | None = None
    ) -> Self:
        """The answer to one call, checked against what the call ``asked`` for.

        ``asked`` holds the query's values (``service_id``, ``location_id``, ``start_date``,
        ``days_ahead``, ``organization_id``; None or absent where the call did not say): a
        field the body omits is taken from it, one it gives must equal it.
        """
        ctx = _Ctx("GET /availability", request_id)
        return cls._parse_answer(_object(data, ctx), ctx, asked)

    @classmethod
    def _parse_answer(cls, data: Mapping[str, Any], ctx: _Ctx, asked: Mapping[str, Any]) -> Self:
        _require(data, "days", _list, ctx)
        days = _each(data, "days", AvailabilityDay, ctx)
        # what nothing else says: no location (a service at one), the days listed
        known = {"location_id": None, "days_ahead": len(days)} | {
            name: value for name, value in asked.items() if value is not None
        }
        fields = {}
        for spec in _SCALARS_OF[AVAILABILITY_BODY]:
            if spec.presence == "asked" and spec.name not in data and spec.name in known:
                fields[spec.name] = known[spec.name]
            else:
                fields[spec.name] = _wire_value(data, spec, ctx, asked)
        if fields["days_ahead"] != len(days):
            raise ctx.at("days").fail(
                f"has {len(days)} entries, not the {fields['days_ahead']} days of days_ahead"
            )
        return cls(
            **fields,
            days=days,
            holidays=_optional(data, "holidays", _holidays, ctx, default=()),
            raw=data,
        )


def _aware(now: datetime) -> datetime:
    if now.utcoffset() is None:
        raise InputError(
            "is a naive datetime", argument="now", allowed="an aware one, e.g. datetime.now(UTC)"
        )
    return now


@dataclass(frozen=True, slots=False)
class Hold(_Record):
    """A 10-minute hold on a slot (``POST /api/v1/appointments/hold``)."""

    hold_id: str
    status: str
    organization_id: str
    service_id: str
    location_id: str | None
    appointment_time: datetime
    appointment_duration: int
    expires_at: datetime
    raw: Mapping[str, Any] = _raw()

    def remaining(self, now: datetime) -> timedelta:
        """Time left before the hold expires, never negative.

        Parameters
        ----------
        now : datetime
            The current time, timezone-aware.

        Returns
        -------
        timedelta
            ``expires_at - now``, clipped at zero.
        """
        return max(self.expires_at - _aware(now), timedelta(0))

    def is_expired(self, now: datetime) -> bool:
        """Whether the hold has expired at ``now`` (timezone-aware)."""
        return _aware(now) >= self.expires_at

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls(
            hold_id=_require(data, "hold_id", _str, ctx),
            status=_require(data, "status", _str, ctx),
            organization_id=_require(data, "organization_id", _str, ctx),
            service_id=_require(data, "service_id", _str, ctx),
            location_id=_optional(data, "location_id", _str, ctx),
            appointment_time=_require(data, "appointment_time", _instant, ctx),
            appointment_duration=_require(data, "appointment_duration", _int, ctx),
            expires_at=_require(data, "expires_at", _instant, ctx),
            raw=data,
        )


@dataclass(frozen=True, slots=False)
class Appointment(_Record):
    """A booked appointment; contact details are kept out of ``repr`` (personal data)."""

    appointment_id: str
    status: str
    hold_id: str | None
    organization_id: str
    service_id: str
    location_id: str | None
    appointment_time: datetime
    appointment_duration: int
    contact_name: str | None = field(repr=False)
    contact_email: str | None = field(repr=False)
    contact_phone: str | None = field(repr=False)
    notes: str | None = field(repr=False)
    created_at: datetime | None
    updated_at: datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def _parse(cls, data: Mapping[str, Any], ctx: _Ctx) -> Self:
        return cls(
            appointment_id=_require(data, "appointment_id", _str, ctx),
            status=_require(data, "status", _str, ctx),
            hold_id=_optional(data, "hold_id", _str, ctx),
            organization_id=_require(data, "organization_id", _str, ctx),
            service_id=_require(data, "service_id", _str, ctx),
            location_id=_optional(data, "location_id", _str, ctx),
            appointment_time=_require(data, "appointment_time", _instant, ctx),
            appointment_duration=_require(data, "appointment_duration", _int, ctx),
            contact_name=_optional(data, "contact_name", _str, ctx),
            contact_email=_optional(data, "contact_email", _str, ctx),
            contact_phone=_optional(data, "contact_phone", _str, ctx),
            notes=_optional(data, "notes", _str, ctx),
            created_at=_optional(data, "created_at", _instant, ctx),
            updated_at=_optional(data, "updated_at", _instant, ctx),
            raw=data,
        )
