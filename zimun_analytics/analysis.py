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

import pandas as pd
import pyarrow as pa

from .errors import InputError
from .schema import DIFF, DIFF_KEYS, DIFF_SLOT_COLUMNS, AvailabilitySnapshot, frame_from_arrow

__all__ = [
    "AGGREGATIONS",
    "AXES",
    "VALUES",
    "WEEKDAY_NAMES",
    "HeatmapGrid",
    "Slots",
    "daily_capacity",
    "default_value",
    "diff_snapshots",
    "heatmap_grid",
    "heatmap_table",
    "next_available",
    "service_overview",
    "slots_of",
    "snapshot_summary",
]

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
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_RANGES = {"weekday": range(7)}

Slots: TypeAlias = pd.DataFrame | AvailabilitySnapshot  # what the helpers take as slots


def _check_choice(name: str, value: str, allowed: Collection[str]) -> None:
    if value not in allowed:
        raise InputError(f"{name}={value!r} is not one of: {', '.join(map(str, allowed))}")


def slots_of(data: Slots) -> pd.DataFrame:
    """The slots frame of a snapshot, or the frame itself."""
    return data.slots if isinstance(data, AvailabilitySnapshot) else data


def default_value(slots: pd.DataFrame, axes: Collection[str]) -> str:
    """``available`` if each cell of a grid over ``axes`` holds one service, else ``utilization``.

    Free appointments of services that share staff cannot be added; the share of offered
    capacity that is booked can be pooled across any services.
    """
    return "utilization" if _mixes_services(slots, axes) else "available"


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
    """

    table: pd.DataFrame
    value: str
    agg: str
    dates_per_row: pd.Series
    past: pd.DataFrame


def heatmap_grid(
    slots: Slots,
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str | None = None,
    agg: str = "mean",
) -> HeatmapGrid:
    """Aggregate slots into a rows x cols grid, ready to draw; see :func:`heatmap_table`."""
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
    keys = [AXES[rows], AXES[cols]]
    per_date = _per_date(slots, keys, value)
    if value == "utilization":
        by_cell = per_date.groupby(level=keys, observed=True)
        if agg == "sum":  # the whole window pooled: booked over offered, every date together
            pooled = by_cell[["available", "capacity"]].sum()
            cells = 1 - pooled["available"] / pooled["capacity"]
        else:
            cells = by_cell["utilization"].agg(agg)
    else:
        cells = per_date.groupby(level=keys, observed=True).agg(agg)
    table = cells.unstack(AXES[cols]).astype("float64")
    table = _complete_axis(table, rows, axis=0)
    table = _complete_axis(table, cols, axis=1)
    table.index.name, table.columns.name = rows, cols
    dates = per_date.index.to_frame(index=False)
    dates_per_row = (
        dates.groupby(AXES[rows], observed=True)["local_date"]
        .nunique()
        .reindex(table.index, fill_value=0)
        .rename("dates")
    )
    past = table.isna() & _elapsed_cells(slots, rows, cols, table)
    return HeatmapGrid(table, value, agg, dates_per_row, past)


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
        A slots frame (columns of ``schema.SLOTS``), e.g. ``snapshot.slots`` or a history, or
        an ``AvailabilitySnapshot``.
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
        had passed when the slots were fetched), which is never the same as 0 (used up).
        :func:`heatmap_grid` gives the same table with the dates behind each row and the
        elapsed cells.
    """
    return heatmap_grid(slots, rows, cols, value, agg).table


def _per_date(slots: pd.DataFrame, keys: list[str], value: str) -> pd.Series | pd.DataFrame:
    """The value of each (row, column, local date), summed over its slots."""
    by_date = list(dict.fromkeys([*keys, "local_date"]))
    frame = slots[[*by_date, "available", "capacity"]]
    if value == "slots":
        return frame.groupby(by_date, observed=True).size()
    if value == "utilization":
        known = frame.dropna(subset=["available", "capacity"])
        known = known[known["capacity"] > 0]
        if known.empty:
            raise InputError(
                "utilization needs capacity, and no slot here reports it; "
                "use value='slots', or value='available' for one service"
            )
        sums = known.groupby(by_date, observed=True)[["available", "capacity"]].sum()
        sums = sums.astype("float64")
        return sums.assign(utilization=1 - sums["available"] / sums["capacity"])
    column = frame[[*by_date, value]].dropna(subset=[value])
    return column.groupby(by_date, observed=True)[value].sum().astype("float64")


def _elapsed_cells(slots: pd.DataFrame, rows: str, cols: str, table: pd.DataFrame) -> pd.DataFrame:
    """True at cells whose every (date, hour) had begun when the slots were fetched.

    Such a cell has no slots because it is past, not because nothing is offered: the hours of
    "today" up to the fetch, for a weekday or date that the window holds only today. "Today"
    and the hour are each location's wall clock at the earliest ``fetched_at`` of its service,
    so a history marks only what none of its snapshots could have listed. A cell without an
    hour axis spans the whole day and is never past; the window is the dates from the first to
    the last slot, so a later holiday on the same weekday keeps a cell "no capacity offered".
    """
    out = pd.DataFrame(False, index=table.index, columns=table.columns)
    needed = {"fetched_at", "timezone", "service_id", "location_id", "local_date"}
    if "local_hour" not in (rows, cols) or not needed <= set(slots.columns) or slots.empty:
        return out
    other = rows if cols == "local_hour" else cols
    firsts = slots.groupby(["service_id", "location_id", "timezone"], observed=True)[
        "fetched_at"
    ].min()
    # per service and location: today's date and the hour under way at the fetch (its slots
    # have begun, so it counts as elapsed too)
    nows = []
    for (service_id, location_id, zone), fetched_at in firsts.items():
        if pd.notna(fetched_at):
            local = pd.Timestamp(fetched_at).tz_convert(str(zone))
            nows.append((service_id, location_id, pd.Timestamp(local.date()), local.hour))
    if not nows:
        return out
    window = pd.date_range(slots["local_date"].min(), slots["local_date"].max(), freq="D")
    labels = table.index if other == rows else table.columns
    for label in labels:
        here = [n for n in nows if other not in ("service", "location") or _of(n, other) == label]
        if not here:
            continue
        if other == "local_date":
            spanned = {pd.Timestamp(label)}
        elif other == "weekday":
            spanned = {d for d in window if d.day_of_week == label}
        else:
            spanned = set(window)
        if any(spanned != {today} for _, _, today, _ in here):
            continue
        last_hour = min(hour for *_, hour in here)
        hours = [h for h in table.columns if h <= last_hour] if other == rows else None
        if other == rows:
            out.loc[label, hours] = True
        else:
            out.loc[[h for h in table.index if h <= last_hour], label] = True
    return out


def _of(now: tuple[str, str, pd.Timestamp, int], axis: str) -> str:
    """The service or location id of a (service, location, today, hour) entry."""
    return now[0] if axis == "service" else now[1]


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
    saturated = (hours == 0).groupby(["service_id", "location_id"], observed=True).mean()
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
        .set_index(["service_id", "location_id"])[["slot_start", "local_start", "lead_time_hours"]]
        .rename(columns={"slot_start": "next_slot_start", "local_start": "next_local_start"})
    )
    out = per_pair.reset_index().join(nexts, on=["service_id", "location_id"])
    out = out.join(_saturated_share(slots), on=["service_id", "location_id"])
    out["free_capacity_per_open_day"] = out["free_capacity_per_open_day"].astype("float64")
    return out.sort_values(["service_id", "location_id"], ignore_index=True)


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
    first = bookable.sort_values("slot_start").groupby(["service_id", "location_id"]).head(1)
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
    return out[columns].sort_values(["service_id", "location_id"], ignore_index=True)


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
    merged = left.merge(right, on=DIFF_KEYS, how="outer", suffixes=("_a", "_b"), indicator=True)
    for name in DIFF_SLOT_COLUMNS:
        merged[name] = merged[f"{name}_a"].fillna(merged[f"{name}_b"])
    merged["change"] = merged["_merge"].map(
        {"left_only": "vanished", "right_only": "appeared", "both": "capacity_changed"}
    )
    same = _same(merged, "available") & _same(merged, "capacity")
    changed = merged[(merged["_merge"] != "both") | ~same]
    table = pa.Table.from_pandas(changed[DIFF.names], preserve_index=False)
    return frame_from_arrow(table.sort_by([(k, "ascending") for k in DIFF_KEYS]), DIFF)


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
        failed = pd.MultiIndex.from_frame(errors.loc[~whole, ["service_id", "location_id"]])
        keep &= ~pd.MultiIndex.from_frame(slots[["service_id", "location_id"]]).isin(failed)
    return slots.loc[keep, [*DIFF_KEYS, "available", "capacity", *DIFF_SLOT_COLUMNS]]


def _same(merged: pd.DataFrame, name: str) -> pd.Series:
    """Equal in a and b, counting two nulls as equal."""
    a, b = merged[f"{name}_a"], merged[f"{name}_b"]
    return (a == b).fillna(False).astype(bool) | (a.isna() & b.isna())
