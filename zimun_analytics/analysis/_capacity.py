"""Capacity metrics of one snapshot: pure pandas, no plotting, no HTTP.

Conventions: "no capacity offered" (a closed day, a holiday, an hour outside opening times)
is missing (NaN) in every table here, while "capacity used up" is 0, so the two are never
confused. Bucketing uses the local wall-clock columns (``local_date``, ``local_hour``,
``weekday``), which are right on DST days.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from .._errors import InputError
from .._schema import (
    DIFF,
    DIFF_SLOT_COLUMNS,
    PAIR_KEY,
    SLOT_KEY,
    AvailabilitySnapshot,
    Slots,
    frame_from_arrow,
    slots_of,
)

# heatmap axes -> slots column; labels are ids (service_id, location_id), weekday 0 = Monday
AXES = {
    "weekday": "weekday",
    "local_hour": "local_hour",
    "local_date": "local_date",
    "service": "service_id",
    "location": "location_id",
}
# What a cell can count, each in a unit that exists. ``available`` and ``capacity`` count
# appointments of one service (staff free, staff able); added across services they would count
# a person who serves several services once per service, so they are refused there.
VALUES = ("available", "capacity", "utilization", "slots")
_ADDITIVE_PER_SERVICE = ("available", "capacity")
# How a cell's dates are combined: each (row, column, local date) is first summed over its
# slots, then these combine the dates that offer it. A mean per date keeps a weekday seen twice
# in the window from outweighing one seen once, and today's elapsed hours out of the picture.
AGGREGATIONS = ("mean", "sum", "min", "max")
_FULL_RANGES = {"weekday": range(7)}


def _check_choice(name: str, value: str, allowed: Collection[str]) -> None:
    if value not in allowed:
        raise InputError(f"{name}={value!r} is not one of: {', '.join(map(str, allowed))}")


def default_value(slots: pd.DataFrame, axes: Collection[str]) -> str:
    """What a grid over ``axes`` shows unless told: the truest value the data supports.

    ``available`` (free appointments) where each cell holds one service, ``utilization``
    where a cell would mix services (free appointments of services that share staff cannot be
    added; the share of offered capacity booked can be pooled); ``slots`` where the API did not
    report the numbers that either needs.
    """
    numbers = slots[["available", "capacity"]].notna()
    if _mixes_services(slots, axes):
        return "utilization" if numbers.all(axis=1).any() else "slots"
    return "available" if numbers["available"].any() else "slots"


def _mixes_services(slots: pd.DataFrame, axes: Collection[str]) -> bool:
    """True when a cell could hold slots of more than one service."""
    return "service" not in axes and slots["service_id"].nunique(dropna=True) > 1


@dataclass(frozen=True)
class HeatmapGrid:
    """A rows x cols grid of one value, with what a picture of it must say.

    Attributes
    ----------
    table : pandas.DataFrame
        Index: the ``rows`` values (sorted; all seven weekdays for ``weekday``); columns: the
        ``cols`` values; float cells. NaN where no slot exists (no capacity offered), which is
        never the same as 0 (capacity used up).
    value, agg : str
        What the cells are and how each cell's dates were combined.
    dates_per_row : pandas.Series
        Per row label: how many local dates offer at least one of its cells (0 for a weekday
        the window does not hold), so a reader sees what a mean stands on.
    past : pandas.DataFrame
        Booleans shaped like ``table``: True where a cell has no slots because its hour had
        already begun when the slots were fetched (today's elapsed hours), not because no
        capacity is offered.
    full : pandas.DataFrame
        Booleans shaped like ``table``: True where nothing was left on any date of the cell
        (0 free, or all offered capacity booked), whatever ``agg`` made of the dates.
    full_slots_listed : bool
        False when no slot with ``available == 0`` is in the data although capacity is
        reported: the API then probably omits fully booked slots, so a missing cell may be
        full rather than unoffered (and utilization counts listed slots only).
    """

    table: pd.DataFrame
    value: str
    agg: str
    dates_per_row: pd.Series
    past: pd.DataFrame
    full: pd.DataFrame
    full_slots_listed: bool = True

    def reindex(self, index: Any = None, columns: Any = None) -> HeatmapGrid:
        """The same grid on other rows and/or columns (new cells: NaN, not past, not full)."""
        index = self.table.index if index is None else index
        columns = self.table.columns if columns is None else columns
        names = {"index": self.table.index.name, "columns": self.table.columns.name}

        def flags(frame: pd.DataFrame) -> pd.DataFrame:
            moved = frame.reindex(index=index, columns=columns, fill_value=False)
            return moved.astype(bool).rename_axis(**names)

        return HeatmapGrid(
            self.table.reindex(index=index, columns=columns).rename_axis(**names),
            self.value,
            self.agg,
            self.dates_per_row.reindex(index, fill_value=0),
            flags(self.past),
            flags(self.full),
            self.full_slots_listed,
        )


@dataclass(frozen=True)
class _ZoneClock:
    """One time zone at the (earliest) fetch: today, the last hour begun, the window's dates."""

    today: pd.Timestamp
    hour: int
    first: pd.Timestamp
    last: pd.Timestamp

    def dates(self) -> pd.DatetimeIndex:
        """Every local date of the window."""
        return pd.date_range(self.first, self.last, freq="D")


MAX_GRID_ROWS = 200  # a taller picture is unreadable: filter, or draw small multiples


def heatmap_grid(
    slots: Slots,
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str | None = None,
    agg: str = "mean",
    days: pd.DataFrame | None = None,
) -> HeatmapGrid:
    """Aggregate slots into a rows x cols grid, ready to draw; see :func:`heatmap_table`.

    ``days`` (a snapshot's, taken from it when ``slots`` is one) tells the window and today's
    date where no slot is left to tell them, e.g. late in the evening.
    """
    if days is None and isinstance(slots, AvailabilitySnapshot):
        days = slots.days
    slots = slots_of(slots)
    _check_choice("rows", rows, AXES)
    _check_choice("cols", cols, AXES)
    if rows == cols:
        raise InputError(f"rows and cols must differ, both are {rows!r}")
    value = default_value(slots, (rows, cols)) if value is None else value
    _check_choice("value", value, VALUES)
    _check_choice("agg", agg, AGGREGATIONS)
    if value in _ADDITIVE_PER_SERVICE and _mixes_services(slots, (rows, cols)):
        raise InputError(
            f"value={value!r} would add appointments of {slots['service_id'].nunique()} "
            "services, counting staff who serve several of them once per service; choose one "
            "service (slots[slots.service_id == 's_...']), put services on an axis "
            "(rows='service'), draw small_multiples(..., by='service'), or use "
            "value='utilization' (the share of offered capacity booked)"
        )
    if value in _ADDITIVE_PER_SERVICE and slots[value].isna().all():
        raise InputError(
            f"no slot here reports {value!r} (the API listed them without numbers); "
            "use value='slots'"
        )
    keys = [AXES[rows], AXES[cols]]
    slots = _latest_observations(slots)
    zones = pd.factorize(slots["timezone"]) if "timezone" in slots else None
    clocks = _zone_clocks(slots, days, zones)
    per_date = _per_date(slots, keys, value, _not_begun(slots, clocks, zones))
    by_cell = per_date.groupby(level=keys, observed=True)
    if value == "utilization":
        if agg == "sum":  # the whole window pooled: booked over offered, every date together
            pooled = by_cell[["available", "capacity"]].sum()
            cells = 1 - pooled["available"] / pooled["capacity"]
        else:
            cells = by_cell["utilization"].agg(agg)
        full_cells = by_cell["utilization"].min() >= 1 - 1e-12
    else:
        cells = by_cell.agg(agg)
        no_left = by_cell.max() == 0  # free appointments: none left on any date
        full_cells = no_left if value == "available" else pd.Series(False, index=cells.index)
    table = _grid(cells, rows, cols)
    if days is not None and "local_date" in (rows, cols) and "local_date" in days:
        # every date of the window, so that today's row exists even when nothing is left
        axis = 0 if rows == "local_date" else 1
        labels = table.index if axis == 0 else table.columns
        wanted = pd.Index(sorted(set(labels) | set(days["local_date"].dropna())), name="local_date")
        table = table.reindex(wanted, axis=axis)
    if len(table) > MAX_GRID_ROWS:
        raise InputError(
            f"{len(table)} {rows} rows are too many to read in one picture "
            f"(at most {MAX_GRID_ROWS}); narrow the data (snapshot.select(...)), swap rows and "
            "cols, or draw small_multiples"
        )
    full = _grid(full_cells.astype("float64"), rows, cols).reindex_like(table) == 1
    dates = per_date.index.to_frame(index=False)
    dates_per_row = (
        dates.groupby(AXES[rows], observed=True)["local_date"]
        .nunique()
        .reindex(table.index, fill_value=0)
        .rename("dates")
    )
    past = table.isna() & _elapsed_cells(clocks, rows, cols, table)
    listed = bool((slots["available"] == 0).any()) or slots["capacity"].isna().all()
    return HeatmapGrid(table, value, agg, dates_per_row, past, full, listed)


def _grid(cells: pd.Series, rows: str, cols: str) -> pd.DataFrame:
    """A (row, col) series as a float table, weekdays complete, labels sorted."""
    table = cells.unstack(AXES[cols]).astype("float64")
    table = _complete_axis(table, rows, axis=0)
    table = _complete_axis(table, cols, axis=1)
    table.index.name, table.columns.name = rows, cols
    return table


def heatmap_table(
    slots: Slots,
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str | None = None,
    agg: str = "mean",
) -> pd.DataFrame:
    """Aggregate slots into a rows x cols grid, ready to draw.

    Each (row, column, local date) is first summed over its slots; ``agg`` then combines the
    dates that offer that cell. The default, a mean per date, answers "on a Tuesday at 10, how
    much is free?", where a sum would let a weekday seen twice in the window outweigh one seen
    once, and would add today's half-elapsed hours to next week's.

    Parameters
    ----------
    slots
        A slots frame (columns of ``schema.SLOTS``), e.g. ``snapshot.slots``, or an
        ``AvailabilitySnapshot``. A history (several snapshots) counts each slot once, as it
        was last observed; for how capacity changed across snapshots use :mod:`trends`.
    rows, cols
        Each one of ``weekday`` (0 = Monday), ``local_hour``, ``local_date``, ``service``
        (service_id) or ``location`` (location_id).
    value
        ``available``: free appointments (staff still free, summed over the cell's slots), of
        one service per cell; ``capacity``: offered appointments, likewise; ``utilization``:
        the share of offered capacity booked, 1 - available / capacity over slots whose
        capacity is known, which may pool services; ``slots``: listed slots. Both per-service
        counts are refused where a cell would mix services (staff shared by services would be
        counted once per service). None (the default) picks ``available`` when each cell holds
        one service and ``utilization`` otherwise.
    agg
        ``mean`` (default) over the dates that offer the cell, ``sum`` over the window (for
        utilization: booked over offered, pooled), ``min`` or ``max`` over those dates.

    Returns
    -------
    pandas.DataFrame
        Index: the ``rows`` values (sorted; all seven weekdays for ``weekday``); columns: the
        ``cols`` values; float cells. NaN where no slot exists (no capacity offered, or the hour
        had begun when the slots were fetched: today's begun hours are left out, so that a
        half-elapsed hour does not count as a date), which is never the same as 0 (used up).
        :func:`heatmap_grid` gives the same table with the dates behind each row and the
        elapsed cells.
    """
    return heatmap_grid(slots, rows, cols, value, agg).table


def _factor(column: pd.Series, name: str) -> Factor:
    """Codes and labels of a key column, like ``pd.factorize`` (-1 for a missing value).

    Hours and weekdays are their own codes, and dates are days from the first: no hashing of
    a million values for what is already a small integer.
    """
    if name in ("local_hour", "weekday"):
        codes = column.to_numpy(dtype=np.int64, na_value=-1)  # already 0-23 and 0-6
        return codes, pd.array(np.arange(int(codes.max(initial=-1)) + 1), dtype=column.dtype)
    if name == "local_date":
        days = _day_numbers(column)
        known = days >= 0
        if not known.any():
            return np.full(len(days), -1), pd.DatetimeIndex([])
        first = int(days[known].min())
        codes = days - first  # a missing date (-1) comes out negative: no cell
        span = np.arange(first, int(days.max()) + 1).astype("datetime64[D]")
        unit = column.dtype if isinstance(column.dtype, np.dtype) else np.dtype("datetime64[ns]")
        return codes, pd.DatetimeIndex(span.astype(unit))
    codes, labels = pd.factorize(column)
    return np.asarray(codes), labels


def _per_date(
    slots: pd.DataFrame, keys: list[str], value: str, keep: npt.NDArray[np.bool_]
) -> pd.Series | pd.DataFrame:
    """The value of each (row, column, local date), summed over the kept slots.

    Sums by integer codes (``np.bincount``) rather than a pandas groupby of the frame: the
    same numbers at about a fifth of the time on a million slots, and no copy of the frame.
    """
    by_date = list(dict.fromkeys([*keys, "local_date"]))
    factors = [_factor(slots[name], name) for name in by_date]
    valid = keep.copy()
    for codes, _ in factors:
        valid &= codes >= 0  # a slot without a row or column label belongs to no cell
    available = slots["available"].to_numpy(dtype="float64", na_value=np.nan)
    capacity = slots["capacity"].to_numpy(dtype="float64", na_value=np.nan)
    if value == "utilization":
        valid &= ~np.isnan(available) & (capacity > 0)  # NaN capacity compares False
        if not valid.any():
            raise InputError(
                "utilization needs capacity and available, and no slot here reports both; "
                "use value='slots', or value='available' for one service"
            )
    elif value != "slots":
        valid &= ~np.isnan(available if value == "available" else capacity)
    dims = [len(labels) for _, labels in factors]
    cell = np.zeros(len(slots), dtype=np.int64)  # row-major: one in-place pass per key
    for (codes, _), n in zip(factors, dims, strict=True):
        np.multiply(cell, n, out=cell)
        np.add(cell, codes, out=cell)
    cell = cell[valid]
    size = int(np.prod(dims, dtype=np.int64))
    counts = np.bincount(cell, minlength=size)
    present = np.flatnonzero(counts)
    positions = np.unravel_index(present, dims)
    index = pd.MultiIndex.from_arrays(
        [labels.take(at) for (_, labels), at in zip(factors, positions, strict=True)],
        names=by_date,
    )

    def summed(numbers: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        sums = np.bincount(cell, numbers[valid], minlength=size)  # float with weights
        return np.asarray(sums[present], dtype=np.float64)

    if value == "slots":
        return pd.Series(counts[present].astype(np.float64), index=index)
    if value == "utilization":
        free, offered = summed(available), summed(capacity)
        return pd.DataFrame(
            {"available": free, "capacity": offered, "utilization": 1 - free / offered},
            index=index,
        )
    return pd.Series(summed(available if value == "available" else capacity), index=index)


def _latest_observations(slots: pd.DataFrame) -> pd.DataFrame:
    """Each slot once: a history holds it once per snapshot; keep what was seen last."""
    if "fetched_at" not in slots or slots.empty:
        return slots
    fetched = slots["fetched_at"]
    if fetched.min() == fetched.max() or fetched.isna().all():  # one fetch: nothing repeats
        return slots
    latest = slots.sort_values("fetched_at", kind="stable")
    return latest.drop_duplicates(SLOT_KEY, keep="last")


def _day_numbers(dates: pd.Series) -> npt.NDArray[np.int64]:
    """Local dates as whole days since 1970 (-1 for a missing one): cheap to compare."""
    days: npt.NDArray[np.int64] = (
        dates.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    )
    days[dates.isna().to_numpy()] = -1
    return days


Factor: TypeAlias = tuple[npt.NDArray[np.intp], Any]  # pd.factorize: codes, then labels


def _zone_clocks(
    slots: pd.DataFrame, days: pd.DataFrame | None, zones_of_slots: Factor | None
) -> dict[str, _ZoneClock]:
    """Per time zone: today's date and the last hour begun at the earliest fetch, and the window.

    From ``days`` when given (they cover the window even where no slot is left), else from the
    slots; empty when the data does not say when it was fetched.
    """
    source = days if days is not None and len(days) else slots
    needed = {"fetched_at", "timezone", "local_date"}
    if not needed <= set(source.columns) or source.empty or source["fetched_at"].isna().all():
        return {}
    fetched_at = pd.Timestamp(source["fetched_at"].min())
    if source is slots and zones_of_slots is not None:
        codes, zones = zones_of_slots
    else:
        codes, zones = pd.factorize(source["timezone"])
    dates = _day_numbers(source["local_date"])
    clocks = {}
    for code, zone in enumerate(zones):  # a handful of zones: a pass each beats a groupby
        here = dates[(codes == code) & (dates >= 0)]
        if not len(here):
            continue
        local = fetched_at.tz_convert(str(zone))
        today = pd.Timestamp(local.date())
        # the hour has begun once any of it has gone: at 09:00:00 sharp, 09 is still whole
        into_hour = (local.minute, local.second, local.microsecond) != (0, 0, 0)
        hour = local.hour if into_hour else local.hour - 1
        first, last = (pd.Timestamp(np.datetime64(int(d), "D")) for d in (here.min(), here.max()))
        clocks[str(zone)] = _ZoneClock(today, hour, first, last)
    return clocks


def _not_begun(
    slots: pd.DataFrame, clocks: dict[str, _ZoneClock], zones_of_slots: Factor | None
) -> npt.NDArray[np.bool_]:
    """True for the slots of hours that had not begun at the fetch.

    The hour under way lists only its remaining slots; counted as a date of its own it would
    pull a mean down. It is past, like the hours before it.
    """
    keep = np.ones(len(slots), dtype=bool)
    if not clocks or zones_of_slots is None:
        return keep
    codes, zones = zones_of_slots
    # per zone code: today (as a day number) and the last hour begun; -1s never match
    today = np.array(
        [
            clocks[z].today.to_datetime64().astype("datetime64[D]").astype(np.int64)
            if z in clocks
            else -2
            for z in zones
        ]
        + [-2],
        dtype=np.int64,
    )
    last_hour = np.array([clocks[z].hour if z in clocks else -1 for z in zones] + [-1])
    hours = slots["local_hour"].to_numpy(dtype=np.int64, na_value=99)
    begun = (_day_numbers(slots["local_date"]) == today[codes]) & (hours <= last_hour[codes])
    keep &= ~begun  # codes of -1 (no zone) index the trailing "never" entries
    return keep


def _elapsed_cells(
    clocks: dict[str, _ZoneClock], rows: str, cols: str, table: pd.DataFrame
) -> pd.DataFrame:
    """True at cells whose every (date, hour) had begun when the slots were fetched.

    Such a cell has no slots because it is past, not because nothing is offered: today's hours
    up to and including the one under way, for a weekday or date the window holds only today.
    A zone counts for a cell when its window covers the cell's dates, so New York's Sunday is
    past while Berlin's Monday is not. A cell without an hour axis spans the whole day and is
    never past; a later holiday on the same weekday keeps a cell "no capacity offered".
    """
    out = pd.DataFrame(False, index=table.index, columns=table.columns)
    if "local_hour" not in (rows, cols) or not clocks or not table.isna().any(axis=None):
        return out
    other = rows if cols == "local_hour" else cols
    hours = table.columns if other == rows else table.index
    for label in table.index if other == rows else table.columns:
        last_hour = None  # the latest hour begun in every zone that spans this label
        for clock in clocks.values():
            if other == "local_date":
                spanned = {pd.Timestamp(label)} & set(clock.dates())
            elif other == "weekday":
                spanned = {d for d in clock.dates() if d.day_of_week == label}
            else:  # a service or location spans every date of the window
                spanned = set(clock.dates())
            if not spanned:
                continue
            if spanned != {clock.today}:
                last_hour = None
                break
            last_hour = clock.hour if last_hour is None else min(last_hour, clock.hour)
        if last_hour is None:
            continue
        begun = [h for h in hours if h <= last_hour]
        if other == rows:
            out.loc[label, begun] = True
        else:
            out.loc[begun, label] = True
    return out


def _complete_axis(table: pd.DataFrame, axis_name: str, axis: int) -> pd.DataFrame:
    """Sorted labels; every weekday present so weekday grids always have seven rows."""
    labels = table.index if axis == 0 else table.columns
    wanted = sorted(set(labels) | set(_FULL_RANGES.get(axis_name, ())))
    return table.reindex(wanted, axis=axis)


def daily_capacity(slots: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """Free and offered capacity per service x location x local date, with the day's status.

    Returns
    -------
    pandas.DataFrame
        One row per row of ``days``: service_id, service_name, location_id, local_date,
        status (open/closed/holiday), holiday_name, n_slots, free_capacity, capacity (offered,
        summed over listed slots; NaN if not reported), fully_booked (open, capacity offered
        and none free; False on closed days and holidays: no capacity is not used-up capacity).
    """
    keys = ["service_id", "location_id", "local_date"]
    offered = slots.groupby(keys, observed=True)["capacity"].sum(min_count=1).rename("capacity")
    out = days[
        keys[:2]
        + ["service_name", "local_date", "status", "holiday_name", "n_slots", "free_capacity"]
    ].merge(offered.reset_index(), on=keys, how="left")
    out["capacity"] = out["capacity"].astype("Float64")
    open_with_capacity = (out["status"] == "open") & (out["n_slots"] > 0)
    out["fully_booked"] = (open_with_capacity & (out["free_capacity"] == 0)).fillna(False)
    return out.sort_values(keys, ignore_index=True)


def _saturated_share(slots: pd.DataFrame) -> pd.Series:
    """Per service x location: share of offered local hours with no free capacity left."""
    hours = slots.groupby(["service_id", "location_id", "local_date", "local_hour"], observed=True)[
        "available"
    ].sum(min_count=1)
    saturated = (hours == 0).groupby(PAIR_KEY, observed=True).mean()
    return saturated.astype("float64").rename("saturated_hours_share")


def service_overview(slots: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """Per service x location: free capacity per open day, next free slot, saturation.

    Returns
    -------
    pandas.DataFrame
        service_id, service_name, location_id, open_days, free_capacity_per_open_day,
        next_slot_start (UTC; NaT if nothing is free), next_local_start, lead_time_hours,
        saturated_hours_share (offered local hours with nothing free, 0-1).
    """
    daily = daily_capacity(slots, days)
    open_days = daily[daily["status"] == "open"]
    per_pair = open_days.groupby(["service_id", "service_name", "location_id"], observed=True).agg(
        open_days=("local_date", "nunique"),
        free_capacity_per_open_day=("free_capacity", "mean"),
    )
    nexts = (
        next_available(slots)
        .set_index(PAIR_KEY)[["slot_start", "local_start", "lead_time_hours"]]
        .rename(columns={"slot_start": "next_slot_start", "local_start": "next_local_start"})
    )
    out = per_pair.reset_index().join(nexts, on=PAIR_KEY)
    out = out.join(_saturated_share(slots), on=PAIR_KEY)
    out["free_capacity_per_open_day"] = out["free_capacity_per_open_day"].astype("float64")
    return out.sort_values(PAIR_KEY, ignore_index=True)


def next_available(slots: pd.DataFrame) -> pd.DataFrame:
    """The earliest bookable slot of each service at each location.

    Parameters
    ----------
    slots
        A slots frame (columns of ``schema.SLOTS``).

    Returns
    -------
    pandas.DataFrame
        One row per service x location that has a free slot, sorted by service: service_id,
        service_name, location_id, timezone, slot_start (UTC), local_start (wall-clock text in
        the location's zone, e.g. ``2026-03-23 09:15``), lead_time_hours, available.
    """
    # available unknown (null) counts as bookable: the API listed the slot without numbers
    bookable = slots[slots["available"].fillna(1) > 0]
    first = bookable.sort_values("slot_start").groupby(PAIR_KEY).head(1)
    local = [
        start.tz_convert(zone).strftime("%Y-%m-%d %H:%M")
        for start, zone in zip(first["slot_start"], first["timezone"], strict=True)
    ]
    out = first.assign(local_start=pd.array(local, dtype=pd.StringDtype("pyarrow")))
    columns = [
        "service_id",
        "service_name",
        "location_id",
        "timezone",
        "slot_start",
        "local_start",
        "lead_time_hours",
        "available",
    ]
    return out[columns].sort_values(PAIR_KEY, ignore_index=True)


def snapshot_summary(
    slots: pd.DataFrame, days: pd.DataFrame, errors: pd.DataFrame
) -> dict[str, Any]:
    """Headline numbers of a snapshot: rows, services, locations, what is free, failures.

    ``bookable_slots`` counts slots with at least one place free (or no numbers given);
    ``utilization`` is the share of offered capacity booked, over slots whose capacity is
    known (None if none is). ``free_capacity`` adds ``available`` over every slot of every
    service: staff who serve several services count once per service, so it is no head
    count; it stays for scripts that read it.
    """
    known = slots.dropna(subset=["available", "capacity"])
    offered = int(known["capacity"].sum())
    booked = offered - int(known["available"].sum())
    return {
        "slots": len(slots),
        "bookable_slots": int((slots["available"].fillna(1) > 0).sum()),
        "days": len(days),
        "services": int(slots["service_id"].nunique()),
        "locations": int(slots["location_id"].nunique()),
        "utilization": round(booked / offered, 4) if offered else None,
        "free_capacity": int(slots["available"].sum()),
        "failed": len(errors),
    }


def diff_snapshots(first: AvailabilitySnapshot, second: AvailabilitySnapshot) -> pd.DataFrame:
    """Slots that changed from ``first`` to ``second`` (see ``SnapshotStore.diff``).

    Returns
    -------
    pandas.DataFrame
        Columns of ``schema.DIFF``: service_id, location_id, slot_start, change (vanished,
        appeared or capacity_changed), available_a/_b, capacity_a/_b, local_date, local_hour,
        timezone, service_name; ordered by service, location and slot start.
    """
    left, right = _comparable(first, second), _comparable(second, first)
    merged = left.merge(right, on=SLOT_KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    for name in DIFF_SLOT_COLUMNS:
        merged[name] = merged[f"{name}_a"].fillna(merged[f"{name}_b"])
    merged["change"] = merged["_merge"].map(
        {"left_only": "vanished", "right_only": "appeared", "both": "capacity_changed"}
    )
    same = _same(merged, "available") & _same(merged, "capacity")
    changed = merged[(merged["_merge"] != "both") | ~same]
    table = pa.Table.from_pandas(changed[DIFF.names], preserve_index=False)
    return frame_from_arrow(table.sort_by([(k, "ascending") for k in SLOT_KEY]), DIFF)


def _comparable(snapshot: AvailabilitySnapshot, other: AvailabilitySnapshot) -> pd.DataFrame:
    """Slots of ``snapshot`` inside the window both fetches cover, failed pairs left out."""
    slots = snapshot.slots
    since = max(pd.Timestamp(s.meta["fetched_at"]) for s in (snapshot, other))
    keep = slots["slot_start"] >= since
    last_days = [s.days["local_date"].max() for s in (snapshot, other) if len(s.days)]
    if last_days:
        keep &= slots["local_date"] <= min(last_days)
    for errors in (snapshot.errors, other.errors):
        whole = errors["location_id"].isna()
        keep &= ~slots["service_id"].isin(errors.loc[whole, "service_id"])
        failed = pd.MultiIndex.from_frame(errors.loc[~whole, PAIR_KEY])
        keep &= ~pd.MultiIndex.from_frame(slots[PAIR_KEY]).isin(failed)
    return slots.loc[keep, [*SLOT_KEY, "available", "capacity", *DIFF_SLOT_COLUMNS]]


def _same(merged: pd.DataFrame, name: str) -> pd.Series:
    """Equal in a and b, counting two nulls as equal."""
    a, b = merged[f"{name}_a"], merged[f"{name}_b"]
    return (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())
