"""Availability across services and locations → tidy frames: the one wire → table mapping.

:func:`fetch_availability` plans one call per service × location × 60-day window, runs them
concurrently through the client (which paces them to the rate limit), and maps the payloads
to the tables declared in :mod:`.schema` with vectorized Arrow operations. A call that fails
lands in ``errors`` as one row, whether the API refused it (an error status, a 2xx other than
200/201/204) or its body fails a check of :mod:`.mapping` (malformed, truncated, absurd, or
not the answer to the call made: a ResponseFormatError naming the field and request id); the
rest completes. With a ``deadline`` the whole fetch ends in time: the pairs still unfinished
then land in ``errors`` as ``APITimeoutError`` rows.
"""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import pyarrow as pa

from .._config import DEFAULT_WINDOW_DAYS, MAX_DAYS_AHEAD, MAX_FETCH_DAYS
from .._errors import APIError, APITimeoutError, InputError, ResponseFormatError
from .._models import Location, Service, check_days, check_start_date
from .._schema import ERRORS, SCHEMA_VERSION, AvailabilitySnapshot
from .._version import __version__
from ..client import AsyncZimunClient, ZimunClient
from ._mapping import Wire, arrow_tables_from_wire, parse_payloads
from ._wire import Call, Payload, problem

if TYPE_CHECKING:
    pass


DEFAULT_CONCURRENCY = 32  # calls in flight; the client paces them to the rate limit
_US_PER_HOUR = 3_600_000_000


@dataclass
class _Run:
    payloads: list[Payload] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


# -- planning ----------------------------------------------------------------------------------


def _check_arguments(
    days_ahead: object, start_date: object, concurrency: object, deadline: object
) -> None:
    check_days(days_ahead, MAX_FETCH_DAYS)
    check_start_date(start_date)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"concurrency must be a whole number >= 1, got {concurrency!r}")
    if deadline is not None and (
        isinstance(deadline, bool) or not isinstance(deadline, int | float) or not deadline > 0
    ):
        raise InputError(f"deadline must be a positive number of seconds or None, got {deadline!r}")


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
        inactive = [s.service_id for s in chosen if not s.active]
        if inactive:  # it takes no bookings: its days would read "open" with nothing to book
            active = [s.service_id for s in catalogue if s.active]
            raise InputError(
                f"inactive services take no bookings: {', '.join(inactive)}; "
                f"active ones include: {', '.join(active[:8])}"
            )
    if not chosen:
        raise InputError("the catalogue has no active service: there is nothing to fetch")
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


def _deadline_error(
    client: AsyncZimunClient, deadline: float, what: str, endpoint: str = "availability"
) -> APITimeoutError:
    """What a fetch's deadline ended: ``what`` (of ``endpoint``) had not finished in time."""
    return APITimeoutError(
        f"{what} when the fetch's {deadline:g} s deadline passed (allow more time with "
        "deadline= or --deadline, or fetch fewer services)",
        method="GET",
        url=f"{client.base_url}/api/v1/{endpoint}",
    )


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
        body, request_id = await client.availability_body(
            service.service_id, length, location_id, start
        )
        payload = Payload(call, body, request_id)
        if first_start is None and offset + length < days_ahead:
            # the server chose "today" in the zone; a body without it is this pair's one error
            first_start = _payload_start(payload)
        run.payloads.append(payload)


def _payload_start(payload: Payload) -> date:
    """The first window's ``start_date``, which the later windows continue from."""
    data = payload.decoded()
    try:
        return date.fromisoformat(data["start_date"])
    except (TypeError, KeyError, ValueError):
        raise problem(payload, "start_date", "is missing or not a YYYY-MM-DD date") from None


async def _fetch_all(
    client: AsyncZimunClient,
    pairs: list[tuple[Service, str]],
    start_date: date | None,
    days_ahead: int,
    concurrency: int,
    strict: bool,
    progress: Any,
    deadline: float | None,
    deadline_at: float,
) -> _Run:
    run = _Run()
    slots = anyio.Semaphore(concurrency)
    unfinished = {(service.service_id, location_id) for service, location_id in pairs}

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
            unfinished.discard((service.service_id, location_id))  # not reached if cancelled

    with anyio.CancelScope(deadline=deadline_at) as scope:
        try:
            async with anyio.create_task_group() as group:
                for service, location_id in pairs:
                    group.start_soon(one, service, location_id)
        except BaseExceptionGroup as group:  # strict: the caller wants the error, not the group
            raise _first_leaf(group) from None
    if scope.cancelled_caught and deadline is not None:
        for service, location_id in pairs:
            if (service.service_id, location_id) in unfinished:
                error = _deadline_error(client, deadline, "unfinished")
                if strict:
                    raise error
                run.errors.append(_error_row(Call(service, location_id, start_date, 0), error))
    return run


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def _organization_and_catalogue(
    client: AsyncZimunClient,
) -> tuple[Any, list[Service], list[Location]]:
    """All three at once: each is a round trip that the others need not wait for."""
    found: dict[str, Any] = {}

    async def organization() -> None:
        found["organization"] = await client.organization()

    async def catalogue() -> None:
        found["catalogue"] = [service async for service in client.services()]

    async def locations() -> None:  # their names label pictures and reports
        found["locations"] = await client.locations()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(organization)
            group.start_soon(catalogue)
            group.start_soon(locations)
    except BaseExceptionGroup as group:  # callers want the error itself, e.g. bad credentials
        raise _first_leaf(group) from None
    return found["organization"], found["catalogue"], found["locations"]


def _call_order(payload: Payload) -> tuple[str, str, date]:
    call = payload.call
    return call.service.service_id, call.location_id, call.start_date or date.min


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm  # imported here: notebooks get a widget bar, scripts text

    return tqdm(total=total, disable=not enabled, desc="availability", unit="call", leave=False)


async def fetch_availability_async(
    client: AsyncZimunClient,
    services: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    days_ahead: int = DEFAULT_WINDOW_DAYS,
    start_date: date | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = True,
    strict: bool = False,
    deadline: float | None = None,
) -> AvailabilitySnapshot:
    """Async form of :func:`fetch_availability`, for code that already runs an event loop."""
    _check_arguments(days_ahead, start_date, concurrency, deadline)
    started_at = datetime.now(UTC).replace(microsecond=0)
    deadline_at = math.inf if deadline is None else anyio.current_time() + deadline
    with anyio.CancelScope(deadline=deadline_at) as scope:
        organization, catalogue, places = await _organization_and_catalogue(client)
    if scope.cancelled_caught:
        assert deadline is not None  # nothing else cancels this scope
        what = "the catalogue (organization, services, locations) had not arrived"
        raise _deadline_error(client, deadline, what, "services")
    pairs = _select(catalogue, services, locations)
    connections = client.max_connections
    if connections is not None and concurrency > connections:
        # more in flight would only queue for a connection, spending the pool timeout
        warnings.warn(
            f"concurrency={concurrency} is more than the client's {connections} connections, so "
            f"{connections} calls are in flight at once; for more, make the client with "
            f"max_connections={concurrency}",
            stacklevel=2,
        )
        concurrency = connections
    bar = _progress_bar(len(pairs), progress)
    try:
        run = await _fetch_all(
            client, pairs, start_date, days_ahead, concurrency, strict, bar, deadline, deadline_at
        )
    finally:
        bar.close()
    # calls finish in any order; sorted, the same fetch always gives the same frames
    run.payloads.sort(key=_call_order)
    wire = parse_payloads(run.payloads, organization.organization_id)
    _record_refused(wire, run, strict)
    # the service's clock, not ours: lead times then match what the service saw, and a
    # sandbox with a frozen clock gives the same snapshot however long the fetch took
    fetched_at = wire.observed_at() or started_at
    snapshot_id = f"{fetched_at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    parameters = {
        "services": list(services) if services is not None else None,
        "locations": list(locations) if locations is not None else None,
        "days_ahead": days_ahead,
        "start_date": start_date.isoformat() if start_date else None,
    }
    slots, days = arrow_tables_from_wire(
        wire, snapshot_id, fetched_at, organization.organization_id
    )
    errors = _errors_table(run.errors, snapshot_id)
    meta = {
        "snapshot_id": snapshot_id,
        "fetched_at": fetched_at.isoformat().replace("+00:00", "Z"),
        "api_host": _host_of(client.base_url),
        "organization_id": organization.organization_id,
        "parameters": parameters,
        "location_names": {place.location_id: place.name for place in places},
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "counts": {
            "slots": len(slots),
            "days": len(days),
            "errors": len(errors),
            "calls": len(run.payloads),  # refused ones too: each is a call that was answered
        },
    }
    return AvailabilitySnapshot(slots, days, errors, meta)


def fetch_availability(
    client: ZimunClient,
    services: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    days_ahead: int = DEFAULT_WINDOW_DAYS,
    start_date: date | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = True,
    strict: bool = False,
    deadline: float | None = None,
) -> AvailabilitySnapshot:
    """Fetch availability of many services and locations into tidy frames.

    Parameters
    ----------
    client
        A :class:`~zimun_analytics.ZimunClient` (the sandbox's or the real service's).
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
        Calls in flight at once; the client still paces them to the server's rate limit. At
        most the client's ``max_connections`` (256 by default): more is capped, with a warning.
    progress
        Show a progress bar (``tqdm.auto``: a widget in notebooks, text in terminals).
    strict
        Raise the first error instead of recording failed calls in ``errors``: an API error
        (a status other than 200/201/204 included) as it happens, a refused body (a
        ResponseFormatError: malformed, absurd, or not the answer to its call; the checks are
        listed in :mod:`zimun_analytics.fetch._mapping`) once every call has answered.
    deadline
        Seconds the whole fetch may take; ``None`` (the default) for no limit beyond each
        call's own (``call_deadline`` of the client). If the catalogue has not arrived by then,
        ``APITimeoutError`` is raised; service/locations still unfinished become
        ``APITimeoutError`` rows of ``errors`` (or, with ``strict``, the error raised), and the
        snapshot is returned incomplete.

    Returns
    -------
    AvailabilitySnapshot
        ``.slots`` (columns of :data:`zimun_analytics._schema.SLOTS`: snapshot_id, fetched_at,
        organization_id, location_id, service_id, service_name, timezone, slot_start, slot_end,
        local_date, local_hour, weekday, duration_minutes, capacity, available,
        lead_time_hours), ``.days`` (columns of ``DAYS``: keys, local_date, status,
        holiday_name, n_slots, free_capacity), ``.errors`` (columns of ``ERRORS``: one row
        per failed call, whose rows are in no other table) and ``.meta``.
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
        deadline,
    )


def _record_refused(wire: Wire, run: _Run, strict: bool) -> None:
    """Bodies that failed a check: raised if ``strict`` (the first), else one error row each."""
    if strict and wire.refused:
        raise wire.refused[0][1]
    run.errors += [_error_row(payload.call, error) for payload, error in wire.refused]
    # sorted like the payloads, so the same fetch gives the same table
    run.errors.sort(key=lambda row: (row["service_id"], row["location_id"] or ""))


def _host_of(base_url: str) -> str:
    """``host[:port]`` of a URL: never the ``user:password@`` a URL may carry."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def _errors_table(rows: list[dict[str, Any]], snapshot_id: str) -> pa.Table:
    return pa.Table.from_pylist(
        [{"snapshot_id": snapshot_id, **row} for row in rows], schema=ERRORS.arrow_schema
    )
