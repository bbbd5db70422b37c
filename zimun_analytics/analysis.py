"""Capacity metrics of one snapshot: pure pandas, no plotting, no HTTP.

Conventions: "no capacity offered" (a closed day, a holiday, an hour outside opening times)
is missing (NaN) in every table here, while "capacity used up" is 0, so the two are never
confused. Bucketing uses the local wall-clock columns (``local_date``, ``local_hour``,
``weekday``), which are right on DST days.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pandas as pd
import pyarrow as pa

from .errors import InputError
from .schema import DIFF, DIFF_KEYS, DIFF_SLOT_COLUMNS, AvailabilitySnapshot, frame_from_arrow

__all__ = [
    "AXES",
    "VALUES",
    "WEEKDAY_NAMES",
    "daily_capacity",
    "diff_snapshots",
    "heatmap_table",
    "next_available",
    "service_overview",
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
VALUES = ("available", "capacity", "utilization", "slots")
AGGREGATIONS = ("sum", "mean", "min", "max")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_RANGES = {"weekday": range(7)}


def _check_choice(name: str, value: str, allowed: Collection[str]) -> None:
    if value not in allowed:
        raise InputError(f"{name}={value!r} is not one of: {', '.join(map(str, allowed))}")


def heatmap_table(
    slots: pd.DataFrame,
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str = "available",
    agg: str = "sum",
) -> pd.DataFrame:
    """Aggregate slots into a rows x cols grid, ready to draw.

    Parameters
    ----------
    slots
        A slots frame (columns of ``schema.SLOTS``), e.g. ``snapshot.slots`` or a history.
    rows, cols
        Each one of ``weekday`` (0 = Monday), ``local_hour``, ``local_date``, ``service``
        (service_id) or ``location`` (location_id).
    value
        ``available`` (free capacity), ``capacity``, ``utilization`` (1 - available /
        capacity over the cell's slots whose capacity is known) or ``slots`` (count).
    agg
        For ``available`` and ``capacity``: ``sum``, ``mean``, ``min`` or ``max`` over the
        cell's slots. Ignored for ``utilization`` (a ratio of sums) and ``slots``.

    Returns
    -------
    pandas.DataFrame
        Index: the ``rows`` values (sorted; all seven weekdays for ``weekday``); columns: the
        ``cols`` values; float cells. NaN where no slot exists (no capacity offered), which is
        never the same as 0 (capacity used up).
    """
    _check_choice("rows", rows, AXES)
    _check_choice("cols", cols, AXES)
    _check_choice("value", value, VALUES)
    _check_choice("agg", agg, AGGREGATIONS)
    if rows == cols:
        raise InputError(f"rows and cols must differ, both are {rows!r}")
    keys = [AXES[rows], AXES[cols]]
    grouped = _cell_values(slots, keys, value, agg)
    table = grouped.unstack(AXES[cols]).astype("float64")
    table = _complete_axis(table, rows, axis=0)
    table = _complete_axis(table, cols, axis=1)
    table.index.name, table.columns.name = rows, cols
    return table


def _cell_values(slots: pd.DataFrame, keys: list[str], value: str, agg: str) -> pd.Series:
    frame = slots[keys + ["available", "capacity"]]
    if value == "slots":
        return frame.groupby(keys, observed=True).size()
    if value == "utilization":
        known = frame.dropna(subset=["available", "capacity"])
        known = known[known["capacity"] > 0]
        if known.empty:
            raise InputError(
                "utilization needs capacity, and no slot here reports it; "
                "use value='available' or value='slots'"
            )
        sums = known.groupby(keys, observed=True)[["available", "capacity"]].sum()
        return 1 - sums["available"].astype("float64") / sums["capacity"].astype("float64")
    column = frame[keys + [value]].dropna(subset=[value])
    return column.groupby(keys, observed=True)[value].agg(agg)


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
    """Headline numbers of a snapshot: rows, services, locations, free capacity, failures."""
    return {
        "slots": len(slots),
        "days": len(days),
        "services": int(slots["service_id"].nunique()),
        "locations": int(slots["location_id"].nunique()),
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
