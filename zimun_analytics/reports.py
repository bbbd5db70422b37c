"""Ready-made report files of a snapshot: the heatmaps an export leaves next to its data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .plots import calendar_heatmap, capacity_heatmap, save_figure

__all__ = ["write_heatmap_reports"]


def write_heatmap_reports(
    slots: pd.DataFrame, days: pd.DataFrame, directory: str | Path, prefix: str = ""
) -> list[Path]:
    """Write the weekday x hour heatmap of all slots and a calendar heatmap per location.

    Parameters
    ----------
    slots, days
        A snapshot's frames (``snapshot.slots``, ``snapshot.days``).
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
    if slots.empty:
        return []
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ax = capacity_heatmap(slots, title="Free capacity by weekday and local hour, all services")
    written = [save_figure(ax, folder / f"{prefix}weekday_hour.png")]
    for location_id in sorted(days["location_id"].unique()):
        here = slots[slots["location_id"] == location_id]
        if here.empty:
            continue  # nothing offered there in the window: no calendar to draw
        title = f"Free capacity at {location_id}, all services"
        ax = calendar_heatmap(here, days[days["location_id"] == location_id], title=title)
        written.append(save_figure(ax, folder / f"{prefix}calendar_{location_id}.png"))
    return written
