"""Capacity metrics from snapshot frames: pure pandas, no plotting, no HTTP."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from .schema import DIFF, DIFF_KEYS, DIFF_SLOT_COLUMNS, AvailabilitySnapshot, frame_from_arrow

__all__ = ["diff_snapshots", "next_available", "snapshot_summary"]


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


def snapshot_summary(slots: pd.DataFrame, days: pd.DataFrame, errors: pd.DataFrame) -> dict:
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
