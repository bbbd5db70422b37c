"""Capacity metrics from snapshot frames: pure pandas, no plotting, no HTTP."""

from __future__ import annotations

import pandas as pd

__all__ = ["next_available", "snapshot_summary"]


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
