"""The one wire → table mapping: availability responses to the ``slots`` and ``days`` tables.

:mod:`.wire` reads every response body into Arrow at once against a declared wire schema;
here every body is checked and every column computed from that with vectorized Arrow and
numpy kernels: no Python loop runs per slot. Unknown fields are ignored; missing optional ones
(``end``, ``capacity``, ``available``, ``holidays``, and header fields the call already knows)
become nulls or the call's values. A body that fails a check is *refused*: its rows are left
out, the other bodies map as if it were absent, and :attr:`Wire.refused` keeps one
:class:`ResponseFormatError` for it that names the endpoint, the field, the value and the
request id. The checks (fields, kinds and bounds declared once in
``_models.AVAILABILITY_BODY``; limits in ``_config``):

- the body is one JSON object whose fields have the wire types (:mod:`.wire`);
- it answers the call that was made: ``service_id``, ``location_id``, ``start_date`` and
  ``days_ahead``, where the body has them, equal the request's (``start_date`` when one was
  asked for), and ``organization_id`` the organization's;
- ``days`` and ``timezone`` are present, the zone is in ``zoneinfo.available_timezones()``,
  ``generated_at`` (if present) is an ISO-8601 instant with an offset, and
  ``slot_duration_minutes`` is 1..``MAX_SLOT_MINUTES``;
- ``days`` has exactly the ``days_ahead`` entries asked for, each with a ``status`` and a
  ``YYYY-MM-DD`` ``date`` inside the window, no date twice;
- every slot has a ``start``; ``start`` and ``end`` are instants with an offset, ``end`` after
  ``start`` by at most ``MAX_SLOT_MINUTES``; ``capacity`` is 0..``MAX_SLOT_CAPACITY`` and
  ``available`` 0..``capacity``; the start's local date lies inside the window.

The window is ``start_date`` (the request's, else the body's) and the ``days_ahead`` days
after it, in the location's zone. Adapting to the real service's shapes is a change to the
declaration and, for relations between fields, to this file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._config import MAX_SLOT_MINUTES
from .._errors import ResponseFormatError
from .._models import AVAILABILITY_BODY, AVAILABILITY_DAY, AVAILABILITY_SLOT, WireField
from .._schema import DAY_KEY, DAYS, SLOT_KEY, SLOTS, UTC_INSTANT, frame_from_arrow
from ._wire import HolidayNames, Payload, Refused, read_wire
from ._wire import problem as _problem

_US_PER_HOUR = 3_600_000_000
_US_PER_MINUTE = 60_000_000
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError)
_NO_BOUND = 2**40  # a window edge far beyond any date, for payloads whose window is unknown
_BODY = {spec.name: spec for spec in AVAILABILITY_BODY}
_SLOT = {spec.name: spec for spec in AVAILABILITY_SLOT}


def _required(specs: Sequence[WireField]) -> list[str]:
    return [spec.name for spec in specs if spec.required]


def _bounds(spec: WireField) -> tuple[int, int]:
    assert spec.bounds is not None, spec.name
    return spec.bounds


@dataclass
class Wire:
    """Parsed and checked payloads: their nested arrays flattened, with each row's payload index.

    Made by :func:`parse_payloads`. ``sources`` are the payloads that passed every check, in
    order, and every array holds only their rows; ``refused`` are the others, each with the
    first error found in it. Row indices (``day_payload``, ``slot_day``, ``slot_payload``)
    are numpy arrays; instants are UTC, local parts in each payload's zone.
    """

    sources: Sequence[Payload]
    payloads: pa.StructArray
    holidays: HolidayNames
    generated_at: pa.Array
    window: tuple[np.ndarray, np.ndarray]  # first and last-plus-one day (days since 1970)
    days: pa.StructArray
    day_payload: np.ndarray
    day_date: pa.Array
    slots: pa.StructArray
    slot_day: np.ndarray
    slot_payload: np.ndarray
    slot_start: pa.Array
    slot_end: pa.Array
    local: tuple[pa.Array, pa.Array, pa.Array] | None = None  # date, hour, weekday
    refused: list[tuple[Payload, ResponseFormatError]] = field(default_factory=list)

    def observed_at(self) -> datetime | None:
        """The earliest ``generated_at`` (UTC) of the payloads: when the service saw them."""
        earliest = pc.min(self.generated_at).as_py()
        return None if earliest is None else earliest.astimezone(UTC)


# -- refusing a payload: the first failed check of each, found in vectorized form -------------


class _Verdicts:
    """The first error of each refused payload of a batch, by the payload's index in it."""

    def __init__(self, payloads: Sequence[Payload], refused: Refused | None = None) -> None:
        self.payloads = payloads
        self.errors: Refused = dict(refused or {})

    def refuse(self, index: int, field: str, what: str) -> None:
        if index not in self.errors:
            self.errors[index] = _problem(self.payloads[index], field, what)

    def flag(
        self,
        bad: pa.Array | np.ndarray,
        owner: np.ndarray | None,
        say: Callable[[int], tuple[str, str]],
    ) -> None:
        """Refuse the payload (``owner[row]``, else ``row``) of every row where ``bad`` holds.

        A null in ``bad`` is no fault (the value is missing: other checks see to that).
        ``say(row)`` gives the field and what is wrong with it, for the first such row only.
        """
        rows = _true_rows(bad)
        if not len(rows):
            return
        owners = rows if owner is None else owner[rows]
        firsts, at = np.unique(owners, return_index=True)
        for index, row in zip(firsts.tolist(), rows[at].tolist(), strict=True):
            if index not in self.errors:
                self.refuse(index, *say(row))

    def missing(
        self,
        values: pa.Array,
        owner: np.ndarray | None,
        name: str,
        path: Callable[[int], str] | None = None,
    ) -> None:
        """Refuse the payload of every row where the required ``values`` are null."""

        def say(row: int) -> tuple[str, str]:
            return (f"{path(row)}.{name}" if path else name), "is missing"

        self.flag(pc.is_null(values), owner, say)


def _true_rows(bad: pa.Array | np.ndarray) -> np.ndarray:
    if isinstance(bad, np.ndarray):
        return np.flatnonzero(bad)
    if not pc.any(bad).as_py():  # the usual case: one pass over the mask, nothing more
        return np.empty(0, np.int64)
    rows: np.ndarray = pc.indices_nonzero(pc.fill_null(bad, False)).to_numpy()
    return rows


def _shown(value: object) -> str:
    return f"{value!r:.80}"


def _cast_rows(
    values: pa.Array, to: pa.DataType, owner: np.ndarray, count: int
) -> tuple[pa.Array, dict[int, int]]:
    """``values`` cast to ``to``; rows of owners that Arrow cannot cast become null.

    Returns the cast values and, for each such owner, its first row that does not cast. Rows
    of one owner are contiguous (flattened lists), so the culprits are found by casting each
    owner's rows alone, and only when the whole column does not cast.
    """
    try:
        return values.cast(to), {}
    except _CAST_ERRORS:
        pass
    bounds = np.searchsorted(owner, np.arange(count + 1))
    culprits: dict[int, int] = {}
    for index in range(count):
        start, stop = int(bounds[index]), int(bounds[index + 1])
        try:
            values.slice(start, stop - start).cast(to)
        except _CAST_ERRORS:
            culprits[index] = next(r for r in range(start, stop) if not _casts(values[r], to))
    blanked = pa.array(np.isin(owner, list(culprits)))
    return pc.if_else(blanked, pa.nulls(len(values), values.type), values).cast(to), culprits


def _casts(value: pa.Scalar, to: pa.DataType) -> bool:
    try:
        pa.array([value.as_py()], value.type).cast(to)
    except _CAST_ERRORS:
        return False
    return True


@functools.cache
def _is_zone(name: str) -> bool:
    """Whether ``name`` is an IANA zone known here and to Arrow's own time zone database."""
    if name not in _known_zones():
        return False
    try:
        pa.scalar(0, pa.timestamp("us", tz=name)).cast(pa.timestamp("us"))
        ZoneInfo(name)
    except (pa.ArrowInvalid, ZoneInfoNotFoundError, ValueError):
        return False
    return True


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())  # reads the tz database once per process


# -- the checks of each body's header: one value per payload ----------------------------------


def _asked(payloads: Sequence[Payload]) -> dict[str, pa.Array]:
    """What each call asked for: service, location, start date (or null) and day count."""
    calls = [payload.call for payload in payloads]
    return {
        "service_id": pa.array([c.service.service_id for c in calls], pa.string()),
        "location_id": pa.array([c.location_id for c in calls], pa.string()),
        "start_date": pa.array([c.start_date for c in calls], pa.date32()),
        "days_ahead": pa.array([c.days_ahead for c in calls], pa.int32()),
    }


def _check_header(
    wire: pa.StructArray, verdicts: _Verdicts, organization_id: str | None
) -> tuple[pa.Array, pa.Array]:
    """Check one body's own fields; return its generated_at (UTC) and first day of the window."""
    payloads = verdicts.payloads
    index = np.arange(len(payloads))
    for name in _required(AVAILABILITY_BODY):
        verdicts.missing(wire.field(name), None, name)
    for zone_field in (spec.name for spec in AVAILABILITY_BODY if spec.kind == "zone"):
        for i, zone in enumerate(wire.field(zone_field).to_pylist()):  # one per payload: cheap
            if zone is not None and not _is_zone(zone):
                verdicts.refuse(i, zone_field, f"is {_shown(zone)}, not an IANA time zone")
    asked = _asked(payloads)
    if organization_id:
        asked["organization_id"] = pa.array([organization_id] * len(payloads), pa.string())
    for spec in AVAILABILITY_BODY:  # the asked texts; start_date and days_ahead are cast first
        if spec.presence == "asked" and spec.kind == "string" and spec.name in asked:
            _check_same(wire.field(spec.name), asked[spec.name], spec.name, verdicts)
    starts, culprits = _cast_rows(wire.field("start_date"), pa.date32(), index, len(payloads))
    for i in culprits:
        what = f"is {_shown(wire.field('start_date')[i].as_py())}, not a YYYY-MM-DD date"
        verdicts.refuse(i, "start_date", what)
    _check_same(starts, asked["start_date"], "start_date", verdicts, wire.field("start_date"))
    _check_same(
        wire.field("days_ahead").cast(pa.int32()), asked["days_ahead"], "days_ahead", verdicts
    )
    counts = pc.list_value_length(wire.field("days")).cast(pa.int32())
    verdicts.flag(
        pc.not_equal(counts, asked["days_ahead"]),
        None,
        lambda i: (
            "days",
            f"has {counts[i]} entries, not the {asked['days_ahead'][i]} days asked for",
        ),
    )
    minutes = wire.field("slot_duration_minutes")
    shortest, longest = _bounds(_BODY["slot_duration_minutes"])
    verdicts.flag(
        _outside(minutes, shortest, longest),
        None,
        lambda i: ("slot_duration_minutes", f"is {minutes[i]}, not {shortest}..{longest} minutes"),
    )
    generated, culprits = _cast_rows(wire.field("generated_at"), UTC_INSTANT, index, len(payloads))
    for i in culprits:
        what = f"is {_shown(wire.field('generated_at')[i].as_py())}, not an ISO-8601 instant"
        verdicts.refuse(i, "generated_at", f"{what} with an offset")
    return generated, pc.coalesce(asked["start_date"], starts)


def _check_same(
    got: pa.Array, asked: pa.Array, name: str, verdicts: _Verdicts, sent: pa.Array | None = None
) -> None:
    """Refuse a body whose ``name`` is not what the call asked for (where both are known).

    ``sent`` are the values as the body spelled them, for the message (default ``got``).
    """
    whose = "the organization's" if name == "organization_id" else "the one asked for"
    shown = got if sent is None else sent
    verdicts.flag(
        pc.not_equal(got, asked),
        None,
        lambda i: (name, f"is {_shown(shown[i].as_py())}, not {whose} ({asked[i].as_py()})"),
    )


# -- the checks of days and slots: one value per row ------------------------------------------


@dataclass(frozen=True)
class _Paths:
    """Field paths of flattened rows in their bodies, ``days[3].slots[0]``, for messages.

    Parent indices are sorted (lists flatten in order), so a row's position in its list is
    its distance from its parent's first row.
    """

    day_payload: np.ndarray
    slot_day: np.ndarray

    def day(self, row: int) -> str:
        first = np.searchsorted(self.day_payload, self.day_payload[row])
        return f"days[{row - first}]"

    def slot(self, row: int) -> str:
        day = self.slot_day[row]
        return f"{self.day(day)}.slots[{row - np.searchsorted(self.slot_day, day)}]"


def _window_bounds(
    first_day: pa.Array, payloads: Sequence[Payload]
) -> tuple[np.ndarray, np.ndarray]:
    """Per payload, the window's first day and the day after its last (days since 1970)."""
    low = first_day.cast(pa.int32()).cast(pa.int64()).fill_null(-_NO_BOUND).to_numpy()
    lengths = np.array([payload.call.days_ahead for payload in payloads], np.int64)
    return low, np.where(low == -_NO_BOUND, _NO_BOUND, low + lengths)


def _day_text(days_since_1970: int) -> str:
    return str(date.fromordinal(date(1970, 1, 1).toordinal() + int(days_since_1970)))


def _check_days(
    days: pa.StructArray,
    day_payload: np.ndarray,
    window: tuple[np.ndarray, np.ndarray],
    paths: _Paths,
    verdicts: _Verdicts,
) -> pa.Array:
    """Check each day's date and status; return the dates."""
    for name in _required(AVAILABILITY_DAY):
        verdicts.missing(days.field(name), day_payload, name, paths.day)
    texts = days.field("date")
    dates, culprits = _cast_rows(texts, pa.date32(), day_payload, len(verdicts.payloads))
    for index, row in culprits.items():
        what = f"is {_shown(texts[row].as_py())}, not a YYYY-MM-DD date"
        verdicts.refuse(index, f"{paths.day(row)}.date", what)
    number = dates.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
    low, high = window[0][day_payload], window[1][day_payload]
    verdicts.flag(
        (number < low) | (number >= high),
        day_payload,
        lambda r: (
            f"{paths.day(r)}.date",
            f"is {texts[r].as_py()}, outside the window asked for "
            f"({_day_text(low[r])} to {_day_text(high[r] - 1)})",
        ),
    )
    keys = (day_payload << 32) | (number & 0xFFFFFFFF)
    if len(keys) > 1 and not np.all(keys[1:] > keys[:-1]):  # days in order: none twice
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        verdicts.flag(
            counts[inverse] > 1,
            day_payload,
            lambda r: (f"{paths.day(r)}.date", f"is {texts[r].as_py()}, a date listed twice"),
        )
    return dates


def _check_slots(
    slots: pa.StructArray, slot_payload: np.ndarray, paths: _Paths, verdicts: _Verdicts
) -> tuple[pa.Array, pa.Array]:
    """Check each slot's times and counts; return its start and end instants (UTC)."""
    count = len(verdicts.payloads)
    for name in _required(AVAILABILITY_SLOT):
        verdicts.missing(slots.field(name), slot_payload, name, paths.slot)
    instants = []
    for name in ("start", "end"):
        texts = slots.field(name)
        moments, culprits = _cast_rows(texts, UTC_INSTANT, slot_payload, count)
        for index, row in culprits.items():
            what = f"is {_shown(texts[row].as_py())}, not an ISO-8601 instant with an offset"
            verdicts.refuse(index, f"{paths.slot(row)}.{name}", what)
        instants.append(moments)
    starts, ends = instants
    capacity, available = slots.field("capacity"), slots.field("available")
    low, high = _bounds(_SLOT["capacity"])
    verdicts.flag(
        _outside(capacity, low, high),
        slot_payload,
        lambda r: (f"{paths.slot(r)}.capacity", f"is {capacity[r]}, not {low}..{high}"),
    )
    least, most = _bounds(_SLOT["available"])
    verdicts.flag(
        pc.or_kleene(_outside(available, least, most), pc.greater(available, capacity)),
        slot_payload,
        lambda r: (
            f"{paths.slot(r)}.available",
            f"is {available[r]}, not {least}..{'capacity ' if capacity[r].is_valid else ''}"
            f"{capacity[r] if capacity[r].is_valid else most}",
        ),
    )
    length = pc.subtract(ends.cast(pa.int64()), starts.cast(pa.int64()))  # null without end
    verdicts.flag(
        _outside(length, 1, MAX_SLOT_MINUTES * _US_PER_MINUTE),
        slot_payload,
        lambda r: (
            f"{paths.slot(r)}.end",
            f"is {slots.field('end')[r].as_py()!r}, not after start "
            f"({slots.field('start')[r].as_py()!r}) by 1..{MAX_SLOT_MINUTES} minutes",
        ),
    )
    return starts, ends


def _outside(values: pa.Array, low: int, high: int) -> pa.Array:
    """Where ``values`` lie outside ``low..high`` (null where null).

    Decided at a glance, with no mask built, when the minimum and maximum are inside, as they
    are in a sound batch.
    """
    extremes = pc.min_max(values)
    smallest, largest = extremes["min"].as_py(), extremes["max"].as_py()
    if smallest is None or (low <= smallest and largest <= high):
        return pa.nulls(len(values), pa.bool_())
    return pc.or_(pc.less(values, low), pc.greater(values, high))


def _check_local_dates(wire: Wire, verdicts: _Verdicts) -> None:
    """Refuse a body with a slot whose local date lies outside the window asked for.

    Compared per payload (its slots are contiguous rows): its earliest and latest local date
    against its window, so a sound batch costs two reductions, not a comparison per slot.
    """
    assert wire.local is not None
    number = wire.local[0].cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
    first = np.searchsorted(wire.slot_payload, np.arange(len(wire.sources) + 1))
    owners = np.flatnonzero(first[1:] > first[:-1])  # payloads with slots
    if not len(owners):
        return
    low, high = wire.window[0][owners], wire.window[1][owners]
    earliest = np.minimum.reduceat(number, first[owners])
    latest = np.maximum.reduceat(number, first[owners])
    paths = _Paths(wire.day_payload, wire.slot_day)
    for k in np.flatnonzero((earliest < low) | (latest >= high)).tolist():
        rows = np.arange(first[owners[k]], first[owners[k] + 1])
        row = int(rows[(number[rows] < low[k]) | (number[rows] >= high[k])][0])
        verdicts.refuse(
            int(owners[k]),
            f"{paths.slot(row)}.start",
            f"is {wire.slots.field('start')[row].as_py()!r}, on {_day_text(number[row])} in the "
            f"location's zone, outside the window asked for "
            f"({_day_text(low[k])} to {_day_text(high[k] - 1)})",
        )


# -- parsing -----------------------------------------------------------------------------------


def parse_payloads(payloads: Sequence[Payload], organization_id: str | None = None) -> Wire:
    """Parse and check every body at once; a body that fails a check is refused, not raised.

    Parameters
    ----------
    payloads
        The responses and the calls they answer.
    organization_id
        The organization the bodies must belong to; None (or "") checks nothing there.

    Returns
    -------
    Wire
        The payloads that passed every check, flattened; ``refused`` holds the others, each
        with its ResponseFormatError, in the order of ``payloads``.
    """
    order = {id(payload): i for i, payload in enumerate(payloads)}
    struct, holidays, refused = read_wire(payloads)
    verdicts = _Verdicts(payloads, refused)
    generated, first_day = _check_header(struct, verdicts, organization_id)
    done = [(payloads[i], error) for i, error in verdicts.errors.items()]
    if verdicts.errors:  # dropped before the days are read: those need days, zones, windows
        keep = _keep_mask(len(payloads), verdicts.errors)
        struct, generated, first_day = (a.filter(keep) for a in (struct, generated, first_day))
        holidays = _kept_holidays(holidays, keep)
        payloads = [payload for payload, kept in zip(payloads, keep, strict=True) if kept]
    wire, verdicts = _flatten(payloads, struct, holidays, generated, first_day)
    wire = _drop_refused(wire, verdicts, done)
    wire.local = _local_parts(wire.slot_start, wire.payloads.field("timezone"), wire.slot_payload)
    verdicts = _Verdicts(wire.sources)
    _check_local_dates(wire, verdicts)
    wire = _drop_refused(wire, verdicts, done)
    wire.refused = sorted(done, key=lambda item: order[id(item[0])])
    return wire


def _flatten(
    payloads: Sequence[Payload],
    struct: pa.StructArray,
    holidays: HolidayNames,
    generated: pa.Array,
    first_day: pa.Array,
) -> tuple[Wire, _Verdicts]:
    """Days and slots of the payloads as flat arrays, checked (``verdicts`` has the refusals)."""
    verdicts = _Verdicts(payloads)
    day_lists = struct.field("days")
    day_payload = pc.list_parent_indices(day_lists).to_numpy()
    days = _lift_nulls(pc.list_flatten(day_lists))
    slot_lists = days.field("slots")
    slot_day = pc.list_parent_indices(slot_lists).to_numpy()
    slots = _lift_nulls(pc.list_flatten(slot_lists))
    slot_payload = day_payload[slot_day]
    paths = _Paths(day_payload, slot_day)
    window = _window_bounds(first_day, payloads)
    day_date = _check_days(days, day_payload, window, paths, verdicts)
    starts, ends = _check_slots(slots, slot_payload, paths, verdicts)
    wire = Wire(
        payloads,
        struct,
        holidays,
        generated,
        window,
        days,
        day_payload,
        day_date,
        slots,
        slot_day,
        slot_payload,
        starts,
        ends,
    )
    return wire, verdicts


def _keep_mask(count: int, refused: Collection[int]) -> np.ndarray:
    keep = np.ones(count, dtype=bool)
    keep[list(refused)] = False
    return keep


def _kept_holidays(holidays: HolidayNames, keep: np.ndarray) -> HolidayNames:
    renumber = np.cumsum(keep) - 1
    return {(int(renumber[i]), day): name for (i, day), name in holidays.items() if keep[i]}


def _drop_refused(
    wire: Wire, verdicts: _Verdicts, done: list[tuple[Payload, ResponseFormatError]]
) -> Wire:
    """The wire without the payloads ``verdicts`` refused (added to ``done``)."""
    if not verdicts.errors:
        return wire  # the usual case: nothing to copy
    done += [(wire.sources[i], error) for i, error in verdicts.errors.items()]
    keep = _keep_mask(len(wire.sources), verdicts.errors)
    day_keep, slot_keep = keep[wire.day_payload], keep[wire.slot_payload]
    renumber, renumber_days = np.cumsum(keep) - 1, np.cumsum(day_keep) - 1
    on_days, on_slots = pa.array(day_keep), pa.array(slot_keep)
    local = wire.local
    return Wire(
        sources=[payload for payload, kept in zip(wire.sources, keep, strict=True) if kept],
        payloads=wire.payloads.filter(keep),
        holidays=_kept_holidays(wire.holidays, keep),
        generated_at=wire.generated_at.filter(keep),
        window=(wire.window[0][keep], wire.window[1][keep]),
        days=wire.days.filter(on_days),
        day_payload=renumber[wire.day_payload[day_keep]],
        day_date=wire.day_date.filter(on_days),
        slots=wire.slots.filter(on_slots),
        slot_day=renumber_days[wire.slot_day[slot_keep]],
        slot_payload=renumber[wire.slot_payload[slot_keep]],
        slot_start=wire.slot_start.filter(on_slots),
        slot_end=wire.slot_end.filter(on_slots),
        local=None
        if local is None
        else (local[0].filter(on_slots), local[1].filter(on_slots), local[2].filter(on_slots)),
    )


def _lift_nulls(struct: pa.StructArray) -> pa.StructArray:
    """The same rows, a null row's fields null too (``field()`` ignores the row's own null)."""
    if not struct.null_count:
        return struct
    return pa.StructArray.from_arrays(struct.flatten(), fields=list(struct.type))


# -- the tables --------------------------------------------------------------------------------


def _per_payload(
    wire: Wire, payloads: Sequence[Payload], organization_id: str
) -> dict[str, pa.Array]:
    """Keys of each payload: what the payload says, else what the call asked for."""

    def pick(name: str, fallback: list[str]) -> pa.Array:
        return pc.coalesce(wire.payloads.field(name), pa.array(fallback, pa.string()))

    return {
        "organization_id": pick("organization_id", [organization_id] * len(payloads)),
        "location_id": pick("location_id", [p.call.location_id for p in payloads]),
        "service_id": pick("service_id", [p.call.service.service_id for p in payloads]),
        "service_name": pa.array([p.call.service.name for p in payloads], pa.string()),
        "timezone": wire.payloads.field("timezone"),
        "duration_minutes": pc.coalesce(
            wire.payloads.field("slot_duration_minutes"),
            pa.array([p.call.service.duration_minutes for p in payloads], pa.int16()),
        ),
    }


def _local_parts(
    starts: pa.Array, zones: pa.Array, slot_payload: np.ndarray
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Local date, hour and weekday of UTC instants, each in its payload's zone."""
    local = np.empty(len(starts), dtype="datetime64[us]")
    encoded = zones.dictionary_encode()  # one zone per payload: a few distinct ones
    codes = encoded.indices.to_numpy(zero_copy_only=False)[slot_payload]
    for code, zone in enumerate(encoded.dictionary.to_pylist()):
        rows = np.flatnonzero(codes == code)  # convert each zone's rows once
        in_zone = starts.take(pa.array(rows)).cast(pa.timestamp("us", tz=zone))
        local[rows] = pc.local_timestamp(in_zone).to_numpy(zero_copy_only=False)
    wall = pa.array(local, pa.timestamp("us"))
    return (
        wall.cast(pa.date32()),
        pc.hour(wall).cast(pa.int8()),
        pc.day_of_week(wall).cast(pa.int8()),
    )


def _keys(
    per_payload: dict[str, pa.Array], index: np.ndarray, snapshot_id: str, fetched_at: datetime
) -> dict[str, pa.Array]:
    n = len(index)
    columns = {
        "snapshot_id": pa.repeat(pa.scalar(snapshot_id, pa.string()), n),
        "fetched_at": pa.repeat(pa.scalar(fetched_at, UTC_INSTANT), n),
    }
    for name in ["organization_id", "location_id", "service_id", "service_name", "timezone"]:
        columns[name] = per_payload[name].take(index)
    return columns


def _slots_table(
    wire: Wire, per_payload: dict[str, pa.Array], snapshot_id: str, fetched_at: datetime
) -> pa.Table:
    assert wire.local is not None  # parse_payloads computed them
    data = _keys(per_payload, wire.slot_payload, snapshot_id, fetched_at)
    data["slot_start"], data["slot_end"] = wire.slot_start, wire.slot_end
    data["local_date"], data["local_hour"], data["weekday"] = wire.local
    data["duration_minutes"] = per_payload["duration_minutes"].take(wire.slot_payload)
    data["capacity"] = wire.slots.field("capacity")
    data["available"] = wire.slots.field("available")
    lead_us = pc.subtract(wire.slot_start.cast(pa.int64()), data["fetched_at"].cast(pa.int64()))
    data["lead_time_hours"] = pc.divide(lead_us.cast(pa.float64()), _US_PER_HOUR)
    return pa.table(data, schema=SLOTS.arrow_schema)


def _holiday_names(wire: Wire) -> pa.Array:
    """Each day's holiday or closed-day name, from its payload's holidays map (else null)."""
    keys = zip(wire.day_payload.tolist(), wire.days.field("date").to_pylist(), strict=True)
    return pa.array([wire.holidays.get(key) for key in keys], pa.string())


def _day_counts(wire: Wire) -> tuple[pa.Array, pa.Array]:
    """Slots listed per day, and their free capacity (null if any slot's is unknown)."""
    n_slots = pc.fill_null(pc.list_value_length(wire.days.field("slots")), 0).cast(pa.int32())
    available = wire.slots.field("available")
    per_day = pa.table(
        {"day": wire.slot_day, "free": available, "known": pc.is_valid(available).cast(pa.int32())}
    )
    sums = per_day.group_by("day").aggregate([("free", "sum"), ("known", "sum")])
    free, known = [0] * len(wire.days), [0] * len(wire.days)
    for day, total, count in zip(
        *(sums.column(c).to_pylist() for c in ("day", "free_sum", "known_sum")), strict=True
    ):
        free[day], known[day] = total or 0, count
    free_arr = pa.array(free, pa.int32())
    unknown = pc.not_equal(pa.array(known, pa.int32()), n_slots)
    return n_slots, pc.if_else(unknown, pa.nulls(len(free), pa.int32()), free_arr)


def _days_table(
    wire: Wire, per_payload: dict[str, pa.Array], snapshot_id: str, fetched_at: datetime
) -> pa.Table:
    data = _keys(per_payload, wire.day_payload, snapshot_id, fetched_at)
    data["local_date"] = wire.day_date
    data["status"] = wire.days.field("status")
    data["holiday_name"] = _holiday_names(wire)
    data["n_slots"], data["free_capacity"] = _day_counts(wire)
    return pa.table(data, schema=DAYS.arrow_schema)


def _windows_overlap(per_payload: dict[str, pa.Array]) -> bool:
    """Whether one service x location came in several payloads (windows to stitch)."""
    pairs = list(
        zip(
            per_payload["service_id"].to_pylist(),
            per_payload["location_id"].to_pylist(),
            strict=True,
        )
    )
    return len(pairs) != len(set(pairs))


def tables_from_payloads(
    payloads: Sequence[Payload], snapshot_id: str, fetched_at: datetime, organization_id: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map availability payloads to the ``slots`` and ``days`` frames of :mod:`.schema`.

    Works whether fully booked slots are listed (``available: 0``) or omitted. Windows of one
    service and location (spans over 60 days) are stitched: each slot and day appears once.
    Strict: raises the ResponseFormatError of the first body that fails a check (see the
    module's docstring); :func:`parse_payloads` gives the refusals instead.
    """
    wire = parse_payloads(payloads, organization_id)
    if wire.refused:
        raise wire.refused[0][1]
    return tables_from_wire(wire, snapshot_id, fetched_at, organization_id)


def tables_from_wire(
    wire: Wire, snapshot_id: str, fetched_at: datetime, organization_id: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames of :func:`tables_from_payloads` from the payloads :func:`parse_payloads` kept.

    Refused payloads are not in them: their errors are the caller's to report.
    """
    slots, days = arrow_tables_from_wire(wire, snapshot_id, fetched_at, organization_id)
    return frame_from_arrow(slots, SLOTS), frame_from_arrow(days, DAYS)


def arrow_tables_from_wire(
    wire: Wire, snapshot_id: str, fetched_at: datetime, organization_id: str = ""
) -> tuple[pa.Table, pa.Table]:
    """The ``slots`` and ``days`` tables as Arrow, of the schema's types (no pandas yet)."""
    per_payload = _per_payload(wire, wire.sources, organization_id)
    slots = _slots_table(wire, per_payload, snapshot_id, fetched_at)
    days = _days_table(wire, per_payload, snapshot_id, fetched_at)
    if _windows_overlap(per_payload):
        slots, days = _first_of_each(slots, SLOT_KEY), _first_of_each(days, DAY_KEY)
    return slots, days


def _first_of_each(table: pa.Table, key: list[str]) -> pa.Table:
    """The table's first row of each ``key``, in the order of the rows (stitched windows)."""
    rows = pa.array(np.arange(len(table)))
    firsts = (
        table.select(key)
        .append_column("_row", rows)
        .group_by(key, use_threads=False)
        .aggregate([("_row", "min")])
        .column("_row_min")
    )
    return table.take(pc.take(firsts, pc.sort_indices(firsts)))
