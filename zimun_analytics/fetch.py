"""Availability across services and locations → tidy frames: the one wire → table mapping.

:func:`fetch_availability` plans one call per service × location × 60-day window, runs them
concurrently through the client (which paces them to the rate limit), and maps the payloads
to the tables declared in :mod:`.schema` with vectorized Arrow operations. A service that fails
lands in ``errors``; the rest completes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import anyio
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__
from .client import AsyncZimunClient, ZimunClient
from .config import MAX_DAYS_AHEAD
from .errors import APIError, InputError, ResponseFormatError
from .models import Service
from .schema import DAYS, ERRORS, SCHEMA_VERSION, SLOTS, AvailabilitySnapshot, frame_from_arrow

__all__ = ["fetch_availability", "fetch_availability_async", "tables_from_payloads"]

DEFAULT_FETCH_DAYS = 14
DEFAULT_CONCURRENCY = 16
MAX_FETCH_DAYS = 366
_US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class Call:
    """One availability request of the plan."""

    service: Service
    location_id: str
    start_date: date | None
    days_ahead: int


@dataclass
class Payload:
    """An availability response and the call that produced it."""

    call: Call
    data: Any
    request_id: str | None


@dataclass
class _Run:
    payloads: list[Payload] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


# -- planning ----------------------------------------------------------------------------------


def _check_arguments(days_ahead: object, concurrency: object) -> None:
    if isinstance(days_ahead, bool) or not isinstance(days_ahead, int):
        raise InputError(f"days_ahead must be a whole number of days, got {days_ahead!r}")
    if not 1 <= days_ahead <= MAX_FETCH_DAYS:
        raise InputError(f"days_ahead must be between 1 and {MAX_FETCH_DAYS}, got {days_ahead}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"concurrency must be a whole number >= 1, got {concurrency!r}")


def _select(
    catalogue: list[Service], services: Sequence[str] | None, locations: Sequence[str] | None
) -> list[tuple[Service, str]]:
    """(service, location) pairs to fetch; unknown ids are bad input, listed in the error."""
    by_id = {s.service_id: s for s in catalogue}
    if services is None:
        chosen = [s for s in catalogue if s.active]
    else:
        unknown = [sid for sid in services if sid not in by_id]
        if unknown:
            raise InputError(
                f"unknown service ids: {', '.join(unknown)}; "
                f"known ones include: {', '.join(list(by_id)[:8])}"
            )
        chosen = [by_id[sid] for sid in dict.fromkeys(services)]
    pairs = [(s, loc) for s in chosen for loc in s.location_ids]
    if locations is not None:
        offered = {loc for _, loc in pairs}
        unknown = [loc for loc in locations if loc not in offered]
        if unknown:
            raise InputError(
                f"no chosen service is offered at: {', '.join(unknown)}; "
                f"locations in play: {', '.join(sorted(offered))}"
            )
        pairs = [(s, loc) for s, loc in pairs if loc in set(locations)]
    return pairs


# -- fetching ----------------------------------------------------------------------------------


def _error_row(call: Call, error: Exception) -> dict[str, Any]:
    return {
        "service_id": call.service.service_id,
        "location_id": call.location_id,
        "error_class": type(error).__name__,
        "status_code": getattr(error, "status_code", None),
        "code": getattr(error, "code", None),
        "message": str(error),
        "request_id": getattr(error, "request_id", None),
    }


async def _fetch_pair(
    client: AsyncZimunClient,
    service: Service,
    location_id: str,
    start_date: date | None,
    days_ahead: int,
    run: _Run,
) -> None:
    """All windows of one service at one location; later windows start where the first did."""
    first_start = start_date
    for offset in range(0, days_ahead, MAX_DAYS_AHEAD):
        length = min(MAX_DAYS_AHEAD, days_ahead - offset)
        start = first_start + timedelta(offset) if first_start is not None else None
        call = Call(service, location_id, start, length)
        data, request_id = await client.availability_payload(
            service.service_id, length, location_id, start
        )
        run.payloads.append(Payload(call, data, request_id))
        if first_start is None:  # the server chose "today" in the location's zone
            first_start = _payload_start(data, request_id)


def _payload_start(data: Any, request_id: str | None) -> date:
    try:
        return date.fromisoformat(data["start_date"])
    except (TypeError, KeyError, ValueError):
        raise ResponseFormatError(
            f"GET /availability: field 'start_date' is missing or not a "
            f"date (request_id {request_id})"
        ) from None


async def _fetch_all(
    client: AsyncZimunClient,
    pairs: list[tuple[Service, str]],
    start_date: date | None,
    days_ahead: int,
    concurrency: int,
    strict: bool,
    progress: Any,
) -> _Run:
    run = _Run()
    slots = anyio.Semaphore(concurrency)

    async def one(service: Service, location_id: str) -> None:
        async with slots:
            try:
                await _fetch_pair(client, service, location_id, start_date, days_ahead, run)
            except (APIError, ResponseFormatError) as error:
                if strict:
                    raise
                run.errors.append(_error_row(Call(service, location_id, start_date, 0), error))
            finally:
                progress.update(1)

    try:
        async with anyio.create_task_group() as group:
            for service, location_id in pairs:
                group.start_soon(one, service, location_id)
    except BaseExceptionGroup as group:  # strict: the caller wants the error, not the group
        raise _first_leaf(group) from None
    return run


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


def _observed_at(payloads: list[Payload]) -> datetime | None:
    """When the service observed the availability: its earliest ``generated_at``.

    The service's clock, not ours: lead times then match what the service saw, and a
    sandbox with a frozen clock gives the same snapshot however long the fetch took.
    """
    instants = []
    for payload in payloads:
        raw = payload.data.get("generated_at") if isinstance(payload.data, dict) else None
        try:
            moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            continue
        if moment.tzinfo is not None:
            instants.append(moment.astimezone(UTC))
    return min(instants) if instants else None


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm  # imported here: notebooks get a widget bar, scripts text

    return tqdm(total=total, disable=not enabled, desc="availability", unit="call", leave=False)


async def fetch_availability_async(
    client: AsyncZimunClient,
    services: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    days_ahead: int = DEFAULT_FETCH_DAYS,
    start_date: date | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = True,
    strict: bool = False,
) -> AvailabilitySnapshot:
    """Async form of :func:`fetch_availability`, for code that already runs an event loop."""
    _check_arguments(days_ahead, concurrency)
    if start_date is not None and (
        not isinstance(start_date, date) or isinstance(start_date, datetime)
    ):
        raise InputError(f"start_date must be a datetime.date, got {start_date!r}")
    started_at = datetime.now(UTC).replace(microsecond=0)
    organization = await client.organization()
    catalogue = [service async for service in client.services()]
    pairs = _select(catalogue, services, locations)
    bar = _progress_bar(len(pairs), progress)
    try:
        run = await _fetch_all(client, pairs, start_date, days_ahead, concurrency, strict, bar)
    finally:
        bar.close()
    fetched_at = _observed_at(run.payloads) or started_at
    snapshot_id = f"{fetched_at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    parameters = {
        "services": list(services) if services is not None else None,
        "locations": list(locations) if locations is not None else None,
        "days_ahead": days_ahead,
        "start_date": start_date.isoformat() if start_date else None,
    }
    slots, days = tables_from_payloads(
        run.payloads, snapshot_id, fetched_at, organization.organization_id
    )
    errors = _errors_table(run.errors, snapshot_id)
    meta = {
        "snapshot_id": snapshot_id,
        "fetched_at": fetched_at.isoformat().replace("+00:00", "Z"),
        "api_host": urlsplit(client.base_url).netloc,
        "organization_id": organization.organization_id,
        "parameters": parameters,
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "counts": {
            "slots": len(slots),
            "days": len(days),
            "errors": len(errors),
            "calls": len(run.payloads),
        },
    }
    return AvailabilitySnapshot(slots, days, errors, meta)


def fetch_availability(
    client: ZimunClient,
    services: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    days_ahead: int = DEFAULT_FETCH_DAYS,
    start_date: date | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = True,
    strict: bool = False,
) -> AvailabilitySnapshot:
    """Fetch availability of many services and locations into tidy frames.

    Parameters
    ----------
    client
        A :class:`~zimun_analytics.client.ZimunClient` (the sandbox's or the real service's).
    services
        Service ids; ``None`` means every active service (all catalogue pages).
    locations
        Keep only these location ids; ``None`` means every location of each service.
    days_ahead
        Days to cover (1-366). Spans over the API's 60-day cap are split into windows by
        ``start_date`` and stitched without duplicates.
    start_date
        First day (in each location's zone); ``None`` means today there.
    concurrency
        Calls in flight at once; the client still paces them to the server's rate limit.
    progress
        Show a progress bar (``tqdm.auto``: a widget in notebooks, text in terminals).
    strict
        Raise the first error instead of recording failed service/locations in ``errors``.

    Returns
    -------
    AvailabilitySnapshot
        ``.slots`` (columns of :data:`zimun_analytics.schema.SLOTS`: snapshot_id, fetched_at,
        organization_id, location_id, service_id, service_name, timezone, slot_start, slot_end,
        local_date, local_hour, weekday, duration_minutes, capacity, available,
        lead_time_hours), ``.days`` (columns of ``DAYS``: keys, local_date, status,
        holiday_name, n_slots, free_capacity), ``.errors`` (columns of ``ERRORS``) and
        ``.meta``.
    """
    if isinstance(client, AsyncZimunClient):
        raise InputError(
            "fetch_availability takes a ZimunClient; with an AsyncZimunClient "
            "use: await fetch_availability_async(client, ...)"
        )
    return client.run(
        fetch_availability_async,
        services,
        locations,
        days_ahead,
        start_date,
        concurrency,
        progress,
        strict,
    )


# -- the wire → table mapping --------------------------------------------------------------


@dataclass
class _Columns:
    """Column lists gathered from payloads before they become Arrow arrays."""

    slot_rows: list[dict] = field(default_factory=list)
    slot_payload: list[int] = field(default_factory=list)  # payload index of each slot
    day_rows: list[dict] = field(default_factory=list)
    day_payload: list[int] = field(default_factory=list)
    day_holiday: list[str | None] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)  # per payload


def _require_days(payload: Payload) -> list:
    days = payload.data.get("days") if isinstance(payload.data, dict) else None
    if not isinstance(days, list):
        raise ResponseFormatError(
            f"GET /availability: field 'days' is missing or not a list "
            f"(request_id {payload.request_id})"
        )
    return days


def _payload_keys(payload: Payload, organization_id: str) -> dict[str, Any]:
    data, call = payload.data, payload.call
    timezone = data.get("timezone")
    if not isinstance(timezone, str):
        raise ResponseFormatError(
            f"GET /availability: field 'timezone' is missing (request_id {payload.request_id})"
        )
    return {
        "organization_id": data.get("organization_id") or organization_id,
        "location_id": data.get("location_id") or call.location_id,
        "service_id": data.get("service_id") or call.service.service_id,
        "service_name": call.service.name,
        "timezone": timezone,
        "duration_minutes": data.get("slot_duration_minutes") or call.service.duration_minutes,
    }


def _gather(payloads: Iterable[Payload], organization_id: str) -> _Columns:
    columns = _Columns()
    for index, payload in enumerate(payloads):
        days = _require_days(payload)
        columns.keys.append(_payload_keys(payload, organization_id))
        holidays = payload.data.get("holidays") or {}
        for day in days:
            slots = day.get("slots") or ()
            columns.day_rows.append(day)
            columns.day_payload.append(index)
            columns.day_holiday.append((holidays.get(day.get("date")) or {}).get("name"))
            columns.slot_rows.extend(slots)
            columns.slot_payload.extend([index] * len(slots))
    return columns


def _field(rows: list[dict], name: str, kind: pa.DataType, where: str) -> pa.Array:
    """One field of every row as an Arrow array; a missing required field is one clear error."""
    values = [row.get(name) for row in rows]
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise ResponseFormatError(
            f"GET /availability: {where}.{name} is malformed ({exc})"
        ) from None


def _instants(rows: list[dict], name: str, required: bool) -> pa.Array:
    strings = _field(rows, name, pa.string(), "days[].slots[]")
    if required and strings.null_count:
        raise ResponseFormatError(
            f"GET /availability: days[].slots[].{name} is missing in {strings.null_count} slots"
        )
    try:
        return strings.cast(pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid as exc:  # e.g. a timestamp without an offset: never guess a zone
        raise ResponseFormatError(
            f"GET /availability: days[].slots[].{name} is not an "
            f"ISO-8601 instant with an offset ({exc})"
        ) from None


def _repeat(
    keys: list[dict[str, Any]], name: str, index: np.ndarray, kind: pa.DataType
) -> pa.Array:
    per_payload = pa.array([k[name] for k in keys], type=kind)
    return per_payload.take(pa.array(index, type=pa.int32())) if len(index) else per_payload[:0]


def _local_parts(starts: pa.Array, zones: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Local date, hour and weekday of UTC instants, zone by zone (few distinct zones)."""
    local = pa.nulls(len(starts), pa.timestamp("us"))
    for zone in pc.unique(zones).to_pylist():
        mask = pc.equal(zones, zone)
        in_zone = pc.local_timestamp(starts.cast(pa.timestamp("us", tz=zone)))
        local = pc.if_else(mask, in_zone, local)
    return (
        local.cast(pa.date32()),
        pc.hour(local).cast(pa.int8()),
        pc.day_of_week(local).cast(pa.int8()),
    )


def _key_columns(
    columns: _Columns, index: np.ndarray, snapshot_id: str, fetched_at: datetime
) -> dict[str, pa.Array]:
    n = len(index)
    keys = {
        "snapshot_id": pa.array([snapshot_id] * n, pa.string()),
        "fetched_at": pa.array([fetched_at] * n, pa.timestamp("us", tz="UTC")),
    }
    for name in ["organization_id", "location_id", "service_id", "service_name", "timezone"]:
        keys[name] = _repeat(columns.keys, name, index, pa.string())
    return keys


def _slots_table(columns: _Columns, snapshot_id: str, fetched_at: datetime) -> pa.Table:
    index = np.asarray(columns.slot_payload, dtype=np.int32)
    data = _key_columns(columns, index, snapshot_id, fetched_at)
    starts = _instants(columns.slot_rows, "start", required=True)
    data["slot_start"], data["slot_end"] = starts, _instants(columns.slot_rows, "end", False)
    data["local_date"], data["local_hour"], data["weekday"] = _local_parts(starts, data["timezone"])
    data["duration_minutes"] = _repeat(columns.keys, "duration_minutes", index, pa.int16())
    data["capacity"] = _field(columns.slot_rows, "capacity", pa.int16(), "days[].slots[]")
    data["available"] = _field(columns.slot_rows, "available", pa.int16(), "days[].slots[]")
    lead_us = pc.subtract(starts.cast(pa.int64()), data["fetched_at"].cast(pa.int64()))
    data["lead_time_hours"] = pc.divide(lead_us.cast(pa.float64()), _US_PER_HOUR)
    return pa.table(data, schema=SLOTS.arrow_schema)


def _days_table(columns: _Columns, snapshot_id: str, fetched_at: datetime) -> pa.Table:
    index = np.asarray(columns.day_payload, dtype=np.int32)
    data = _key_columns(columns, index, snapshot_id, fetched_at)
    where = "days[]"
    dates = _field(columns.day_rows, "date", pa.string(), where)
    status = _field(columns.day_rows, "status", pa.string(), where)
    if dates.null_count or status.null_count:
        raise ResponseFormatError("GET /availability: a day lacks its 'date' or 'status'")
    data["local_date"] = dates.cast(pa.date32())
    data["status"] = status
    data["holiday_name"] = pa.array(columns.day_holiday, pa.string())
    data["n_slots"], data["free_capacity"] = _day_counts(columns.day_rows)
    return pa.table(data, schema=DAYS.arrow_schema)


def _day_counts(day_rows: list[dict]) -> tuple[pa.Array, pa.Array]:
    counts, free = [], []
    for day in day_rows:
        slots = day.get("slots") or ()
        counts.append(len(slots))
        available = [slot.get("available") for slot in slots]
        free.append(None if None in available else sum(available))  # unknown stays unknown
    return pa.array(counts, pa.int32()), pa.array(free, pa.int32())


def tables_from_payloads(
    payloads: Sequence[Payload], snapshot_id: str, fetched_at: datetime, organization_id: str = ""
):
    """Map availability payloads to the ``slots`` and ``days`` frames of :mod:`.schema`.

    Works whether fully booked slots are listed (``available: 0``) or omitted, ignores
    unknown fields, degrades on missing optional ones (``end``, ``capacity``, ``available``,
    ``holidays``) and raises one :class:`ResponseFormatError` for a missing required one.
    Windows that overlap are stitched: each slot and day appears once.
    """
    columns = _gather(payloads, organization_id)
    slots = frame_from_arrow(_slots_table(columns, snapshot_id, fetched_at), SLOTS)
    days = frame_from_arrow(_days_table(columns, snapshot_id, fetched_at), DAYS)
    slots = slots.drop_duplicates(["service_id", "location_id", "slot_start"], ignore_index=True)
    days = days.drop_duplicates(["service_id", "location_id", "local_date"], ignore_index=True)
    return slots, days


def _errors_table(rows: list[dict[str, Any]], snapshot_id: str):
    table = pa.Table.from_pylist(
        [{"snapshot_id": snapshot_id, **row} for row in rows], schema=ERRORS.arrow_schema
    )
    return frame_from_arrow(table, ERRORS)
