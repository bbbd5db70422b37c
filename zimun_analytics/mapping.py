"""The one wire → table mapping: availability responses to the ``slots`` and ``days`` tables.

:mod:`.wire` reads every response body into Arrow at once against a declared wire schema;
here every column is computed from that with vectorized Arrow kernels: no Python loop runs per
slot. Unknown fields are ignored, missing optional ones (``end``, ``capacity``, ``available``,
``holidays``) become nulls, and a missing or malformed required one raises one
:class:`ResponseFormatError` naming the endpoint, the field and the request id. Adapting to
the real service's shapes is a change to these two files only.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ResponseFormatError
from .schema import DAYS, SLOTS, frame_from_arrow
from .wire import ENDPOINT, Call, HolidayNames, Payload, read_wire
from .wire import problem as _problem

__all__ = ["Call", "Payload", "Wire", "parse_payloads", "tables_from_payloads", "tables_from_wire"]

_US_PER_HOUR = 3_600_000_000
_UTC = pa.timestamp("us", tz="UTC")


def _require(
    values: pa.Array, payload_of: pa.Array, payloads: Sequence[Payload], field: str
) -> None:
    """Raise for the first row whose required ``field`` is null, naming its payload."""
    if values.null_count:
        first = pc.index(pc.is_null(values), True).as_py()
        raise _problem(payloads[payload_of[first].as_py()], field, "is missing")


@dataclass
class Wire:
    """Parsed payloads: their nested arrays flattened, with each row's payload index.

    Made by :func:`parse_payloads`; ``sources`` are the payloads themselves, in order.
    """

    sources: Sequence[Payload]
    payloads: pa.StructArray
    holidays: HolidayNames
    days: pa.StructArray
    day_payload: pa.Array
    slots: pa.StructArray
    slot_day: pa.Array
    slot_payload: pa.Array

    def observed_at(self) -> datetime | None:
        """The earliest ``generated_at`` (UTC) of the payloads: when the service saw them."""
        instants = []
        for raw in self.payloads.field("generated_at").to_pylist():
            try:
                moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            except ValueError:
                continue
            if moment.tzinfo is not None:
                instants.append(moment.astimezone(UTC))
        return min(instants) if instants else None


def parse_payloads(payloads: Sequence[Payload]) -> Wire:
    """Parse and check every body at once (one ResponseFormatError for the first bad one)."""
    wire, holidays = read_wire(payloads)
    wire = _lift_nulls(wire)
    index = pa.array(range(len(payloads)), pa.int32())
    _require(wire.field("days"), index, payloads, "days")
    _require(wire.field("timezone"), index, payloads, "timezone")
    _check_zones(wire.field("timezone"), payloads)
    day_lists = wire.field("days")
    day_payload = pc.list_parent_indices(day_lists)
    days = _lift_nulls(pc.list_flatten(day_lists))
    for name in ("date", "status"):
        _require(days.field(name), day_payload, payloads, f"days[].{name}")
    slot_lists = days.field("slots")
    slot_day = pc.list_parent_indices(slot_lists)
    slots = _lift_nulls(pc.list_flatten(slot_lists))
    slot_payload = day_payload.take(slot_day)
    _require(slots.field("start"), slot_payload, payloads, "days[].slots[].start")
    return Wire(payloads, wire, holidays, days, day_payload, slots, slot_day, slot_payload)


def _lift_nulls(struct: pa.StructArray) -> pa.StructArray:
    """The same rows, a null row's fields null too (``field()`` ignores the row's own null)."""
    if not struct.null_count:
        return struct
    return pa.StructArray.from_arrays(struct.flatten(), fields=list(struct.type))


def _check_zones(zones: pa.Array, payloads: Sequence[Payload]) -> None:
    """Refuse a zone name that is not IANA's (one per payload: cheap to check each)."""
    for payload, zone in zip(payloads, zones.to_pylist(), strict=True):
        if not _is_zone(zone):
            raise _problem(payload, "timezone", f"is {zone!r}, not an IANA time zone")


@functools.cache
def _is_zone(name: str) -> bool:
    try:
        pa.scalar(0, pa.timestamp("us", tz=name)).cast(pa.timestamp("us"))  # Arrow's own tz db
        ZoneInfo(name)
    except (pa.ArrowInvalid, ZoneInfoNotFoundError, ValueError):
        return False
    return True


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


def _instants(
    strings: pa.Array, field: str, payload_of: pa.Array, payloads: Sequence[Payload]
) -> pa.Array:
    try:
        return strings.cast(_UTC)
    except pa.ArrowInvalid:  # e.g. no UTC offset: we never guess a zone
        bad = [i for i, s in enumerate(strings.to_pylist()) if s is not None and not _is_instant(s)]
        raise _problem(
            payloads[payload_of[bad[0]].as_py()] if bad else payloads[0],
            field,
            "is not an ISO-8601 instant with an offset",
        ) from None


def _is_instant(text: str) -> bool:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _local_parts(starts: pa.Array, zones: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Local date, hour and weekday of UTC instants, each in its own row's zone."""
    local = np.empty(len(starts), dtype="datetime64[us]")
    encoded = zones.dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    for code, zone in enumerate(encoded.dictionary.to_pylist()):
        rows = np.flatnonzero(codes == code)  # a few zones: convert each zone's rows once
        in_zone = starts.take(pa.array(rows)).cast(pa.timestamp("us", tz=zone))
        local[rows] = pc.local_timestamp(in_zone).to_numpy(zero_copy_only=False)
    wall = pa.array(local, pa.timestamp("us"))
    return (
        wall.cast(pa.date32()),
        pc.hour(wall).cast(pa.int8()),
        pc.day_of_week(wall).cast(pa.int8()),
    )


def _keys(
    per_payload: dict[str, pa.Array], index: pa.Array, snapshot_id: str, fetched_at: datetime
) -> dict[str, pa.Array]:
    n = len(index)
    columns = {
        "snapshot_id": pa.repeat(pa.scalar(snapshot_id, pa.string()), n),
        "fetched_at": pa.repeat(pa.scalar(fetched_at, _UTC), n),
    }
    for name in ["organization_id", "location_id", "service_id", "service_name", "timezone"]:
        columns[name] = per_payload[name].take(index)
    return columns


def _slots_table(
    wire: Wire,
    per_payload: dict[str, pa.Array],
    payloads: Sequence[Payload],
    snapshot_id: str,
    fetched_at: datetime,
) -> pa.Table:
    data = _keys(per_payload, wire.slot_payload, snapshot_id, fetched_at)
    starts = _instants(
        wire.slots.field("start"), "days[].slots[].start", wire.slot_payload, payloads
    )
    data["slot_start"] = starts
    data["slot_end"] = _instants(
        wire.slots.field("end"), "days[].slots[].end", wire.slot_payload, payloads
    )
    data["local_date"], data["local_hour"], data["weekday"] = _local_parts(starts, data["timezone"])
    data["duration_minutes"] = per_payload["duration_minutes"].take(wire.slot_payload)
    data["capacity"] = wire.slots.field("capacity")
    data["available"] = wire.slots.field("available")
    lead_us = pc.subtract(starts.cast(pa.int64()), data["fetched_at"].cast(pa.int64()))
    data["lead_time_hours"] = pc.divide(lead_us.cast(pa.float64()), _US_PER_HOUR)
    return pa.table(data, schema=SLOTS.arrow_schema)


def _holiday_names(wire: Wire) -> pa.Array:
    """Each day's holiday or closed-day name, from its payload's holidays map (else null)."""
    keys = zip(wire.day_payload.to_pylist(), wire.days.field("date").to_pylist(), strict=True)
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
    try:
        data["local_date"] = wire.days.field("date").cast(pa.date32())
    except pa.ArrowInvalid:
        raise ResponseFormatError(f"{ENDPOINT}: days[].date is not a YYYY-MM-DD date") from None
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
    """
    return tables_from_wire(parse_payloads(payloads), snapshot_id, fetched_at, organization_id)


def tables_from_wire(
    wire: Wire, snapshot_id: str, fetched_at: datetime, organization_id: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`tables_from_payloads` for payloads already parsed by :func:`parse_payloads`."""
    payloads = wire.sources
    per_payload = _per_payload(wire, payloads, organization_id)
    slots = frame_from_arrow(
        _slots_table(wire, per_payload, payloads, snapshot_id, fetched_at), SLOTS
    )
    days = frame_from_arrow(_days_table(wire, per_payload, snapshot_id, fetched_at), DAYS)
    if _windows_overlap(per_payload):
        slots = slots.drop_duplicates(
            ["service_id", "location_id", "slot_start"], ignore_index=True
        )
        days = days.drop_duplicates(["service_id", "location_id", "local_date"], ignore_index=True)
    return slots, days
