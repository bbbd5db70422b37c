"""How capacity changes across snapshots: booking pace, lead-time trend and fill curves.

All three take a *history*: slots rows of several snapshots, as ``SnapshotStore.history()``
returns them (columns of ``schema.SLOTS``; at least the ones each function names).
Pure pandas: no plotting, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from .._errors import InputError
from .._schema import PAIR_KEY, SLOT_KEY

_DAY = pd.Timedelta(days=1)


def _require(history: pd.DataFrame, columns: Iterable[str], function: str) -> None:
    missing = [c for c in columns if c not in history.columns]
    if missing:
        raise InputError(
            f"{function} needs the history columns {missing}; "
            f"call store.history() without columns=, or include them"
        )


def _snapshots(history: pd.DataFrame) -> pd.DataFrame:
    """One row per snapshot, in fetch order: snapshot_id, fetched_at."""
    snaps = history[["snapshot_id", "fetched_at"]].drop_duplicates("snapshot_id")
    return snaps.sort_values("fetched_at", ignore_index=True)


def _interval_changes(
    before: pd.DataFrame, after: pd.DataFrame, since: pd.Timestamp
) -> pd.DataFrame:
    """Slots taken and released per service x location between two snapshots.

    Only slots both could see are compared: starting after the later fetch and no later than
    either snapshot's last slot for that pair (so a longer window is not read as releases).
    """
    horizon = pd.concat(
        [before.groupby(PAIR_KEY)["slot_start"].max(), after.groupby(PAIR_KEY)["slot_start"].max()],
        axis=1,
    ).min(axis=1)
    merged = before[[*SLOT_KEY, "available"]].merge(
        after[[*SLOT_KEY, "available"]], on=SLOT_KEY, how="outer", suffixes=("_a", "_b")
    )
    merged = merged.join(horizon.rename("horizon"), on=PAIR_KEY)
    merged = merged[(merged["slot_start"] > since) & (merged["slot_start"] <= merged["horizon"])]
    a = merged["available_a"].astype("Float64")
    b = merged["available_b"].astype("Float64")
    # a slot that vanished was booked (APIs that omit full slots); one that appeared, freed
    merged["taken"] = (a - b.fillna(0)).clip(lower=0).fillna(0)
    merged["released"] = (b - a.fillna(0)).clip(lower=0).fillna(0)
    return merged.groupby(PAIR_KEY)[["taken", "released"]].sum()


def booking_pace(history: pd.DataFrame) -> pd.DataFrame:
    """Slots taken (and released) per day between consecutive snapshots.

    Returns
    -------
    pandas.DataFrame
        One row per service x location x interval: service_id, location_id, from_snapshot,
        to_snapshot, from_fetched_at, to_fetched_at (UTC), days_elapsed, slots_taken,
        slots_released, taken_per_day.
    """
    _require(history, [*SLOT_KEY, "snapshot_id", "fetched_at", "available"], "booking_pace")
    snaps = _snapshots(history)
    by_snapshot = dict(tuple(history.groupby("snapshot_id", observed=True)))
    rows = []
    for first, second in zip(snaps.itertuples(), snaps.iloc[1:].itertuples(), strict=False):
        changes = _interval_changes(
            by_snapshot[first.snapshot_id], by_snapshot[second.snapshot_id], second.fetched_at
        )
        days = (second.fetched_at - first.fetched_at) / _DAY
        rows.append(
            changes.reset_index().assign(
                from_snapshot=first.snapshot_id,
                to_snapshot=second.snapshot_id,
                from_fetched_at=first.fetched_at,
                to_fetched_at=second.fetched_at,
                days_elapsed=days,
            )
        )
    columns = [
        *PAIR_KEY,
        "from_snapshot",
        "to_snapshot",
        "from_fetched_at",
        "to_fetched_at",
        "days_elapsed",
        "slots_taken",
        "slots_released",
        "taken_per_day",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.concat(rows, ignore_index=True).rename(
        columns={"taken": "slots_taken", "released": "slots_released"}
    )
    out["taken_per_day"] = (out["slots_taken"] / out["days_elapsed"]).astype("float64")
    return out[columns]


def lead_time_trend(history: pd.DataFrame) -> pd.DataFrame:
    """How far ahead the next free slot is, snapshot after snapshot.

    Returns
    -------
    pandas.DataFrame
        One row per snapshot x service x location: snapshot_id, fetched_at (UTC), service_id,
        location_id, next_lead_time_hours (NaN when nothing was free).
    """
    _require(
        history,
        [*PAIR_KEY, "snapshot_id", "fetched_at", "available", "lead_time_hours"],
        "lead_time_trend",
    )
    keys = ["snapshot_id", "fetched_at", *PAIR_KEY]
    every = history[keys].drop_duplicates()
    free = history[history["available"].fillna(1) > 0]
    nearest = free.groupby(keys, observed=True)["lead_time_hours"].min()
    out = every.join(nearest.rename("next_lead_time_hours"), on=keys)
    out["next_lead_time_hours"] = out["next_lead_time_hours"].astype("float64")
    return out.sort_values(["fetched_at", *PAIR_KEY], ignore_index=True)


def _local_midnight_utc(frame: pd.DataFrame) -> pd.Series:
    """Start of each row's local_date in its own zone, as a UTC instant (DST-correct)."""
    out = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    for zone, rows in frame.groupby("timezone", observed=True):
        local = rows["local_date"].dt.tz_localize(str(zone), nonexistent="shift_forward")
        out.loc[rows.index] = local.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return out


def fill_curves(
    history: pd.DataFrame,
    dates: Iterable[Any] | None = None,
    services: Iterable[str] | None = None,
    locations: Iterable[str] | None = None,
) -> pd.DataFrame:
    """How the free capacity of target days falls as they approach.

    Parameters
    ----------
    history
        Slots of several snapshots.
    dates, services, locations
        Optional lists of target local dates (``date``/``str``), service ids, location ids.

    Returns
    -------
    pandas.DataFrame
        One row per service x location x target date x snapshot: service_id, location_id,
        local_date, snapshot_id, fetched_at, days_before (days from the fetch to the target
        date's local midnight), free_capacity, capacity.
    """
    _require(
        history,
        [*PAIR_KEY, "local_date", "timezone", "snapshot_id", "fetched_at", "available", "capacity"],
        "fill_curves",
    )
    rows = history
    if dates is not None:
        rows = rows[rows["local_date"].isin(pd.to_datetime(list(dates)))]
    if services is not None:
        rows = rows[rows["service_id"].isin(list(services))]
    if locations is not None:
        rows = rows[rows["location_id"].isin(list(locations))]
    keys = [*PAIR_KEY, "local_date", "timezone", "snapshot_id", "fetched_at"]
    sums = rows.groupby(keys, observed=True)[["available", "capacity"]].sum(min_count=1)
    out = sums.reset_index().rename(columns={"available": "free_capacity"})
    out["days_before"] = ((_local_midnight_utc(out) - out["fetched_at"]) / _DAY).astype("float64")
    columns = [
        *PAIR_KEY,
        "local_date",
        "snapshot_id",
        "fetched_at",
        "days_before",
        "free_capacity",
        "capacity",
    ]
    return out[columns].sort_values([*PAIR_KEY, "local_date", "fetched_at"], ignore_index=True)
