"""Ready-made report files of a snapshot: the heatmaps an export leaves next to its data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._schema import AvailabilitySnapshot
from ..analysis import default_value, heatmap_grid
from ._figures import save_figure
from ._heatmaps import calendar_heatmap, capacity_heatmap, small_multiples

MAX_LOCATION_PANELS = 12  # beyond this the weekday x hour report is one pooled heatmap


def heatmap_report(snapshot: AvailabilitySnapshot) -> dict[str, Figure | Axes]:
    """The pictures of a snapshot's report, by file stem: ``weekday_hour``, ``calendar_<id>``.

    Each picture shows a true unit: free appointments where it holds one service, else the
    share of offered capacity that is booked (free appointments of services that share staff
    cannot be added). The weekday x hour view is a mean per date, one panel per location (one
    heatmap beyond ``MAX_LOCATION_PANELS`` locations); the calendars share one value and one
    colour scale across locations. Titles carry names, time zones, the date window and the
    snapshot's as-of time, so two different snapshots never give the same picture. Empty when
    the snapshot has no slots.
    """
    slots, days = snapshot.slots, snapshot.days
    if slots.empty:
        return {}
    n_locations = slots["location_id"].nunique()
    pictures: dict[str, Figure | Axes] = {}
    if 1 < n_locations <= MAX_LOCATION_PANELS:
        pictures["weekday_hour"] = small_multiples(
            snapshot, by="location", max_panels=MAX_LOCATION_PANELS
        )
    else:
        pictures["weekday_hour"] = capacity_heatmap(snapshot)
    offered = set(slots["location_id"].dropna())
    parts = {
        loc: snapshot.select(locations=loc)
        for loc in sorted(days["location_id"].unique())
        if loc in offered  # nothing offered there in the window: no calendar to draw
    }
    # one value for every calendar: the one the whole snapshot supports across its locations
    value = default_value(slots, ("local_date", "local_hour", "location"))
    needs = {"available": ["available"], "utilization": ["available", "capacity"]}.get(value, [])
    if any(not p.slots[needs].notna().all(axis=1).any() for p in parts.values() if needs):
        value = "slots"  # a location whose API reports no numbers: count slots everywhere
    vmax = None  # utilization: 0 to 100 % everywhere
    if value != "utilization":
        tables = [heatmap_grid(p, "local_date", "local_hour", value).table for p in parts.values()]
        tops = [float(np.nanmax(t.to_numpy())) for t in tables if t.notna().any(axis=None)]
        vmax = max([1.0, *tops])
    for loc, part in parts.items():
        pictures[f"calendar_{loc}"] = calendar_heatmap(part, value=value, vmax=vmax)
    return pictures


def write_heatmap_reports(
    snapshot: AvailabilitySnapshot, directory: str | Path, prefix: str = ""
) -> list[Path]:
    """Write the pictures of :func:`heatmap_report` as PNG files.

    Parameters
    ----------
    snapshot
        A fetched or loaded :class:`~zimun_analytics._schema.AvailabilitySnapshot`.
    directory
        Where to write; created if missing.
    prefix
        Put before each file name, e.g. the snapshot id and a dash.

    Returns
    -------
    list of pathlib.Path
        ``<prefix>weekday_hour.png`` then ``<prefix>calendar_<location_id>.png`` per location
        with slots; empty when the snapshot has no slots at all (every call failed, or
        nothing is offered in the window): there is nothing to draw, and no file is written.
    """
    pictures = heatmap_report(snapshot)
    if not pictures:
        return []
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return [save_figure(p, folder / f"{prefix}{stem}.png") for stem, p in pictures.items()]
