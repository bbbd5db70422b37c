"""The analysis room: capacity tables of one snapshot and trends of a history, pure pandas.

Imports only the foundations; no plotting, no HTTP.
"""

from ._capacity import (
    AGGREGATIONS,
    AXES,
    VALUES,
    HeatmapGrid,
    daily_capacity,
    default_value,
    diff_snapshots,
    heatmap_grid,
    heatmap_table,
    next_available,
    service_overview,
    snapshot_summary,
)
from ._trends import booking_pace, fill_curves, lead_time_trend

__all__ = [
    "AGGREGATIONS",
    "AXES",
    "VALUES",
    "HeatmapGrid",
    "booking_pace",
    "daily_capacity",
    "default_value",
    "diff_snapshots",
    "fill_curves",
    "heatmap_grid",
    "heatmap_table",
    "lead_time_trend",
    "next_available",
    "service_overview",
    "snapshot_summary",
]
