"""The plots room: matplotlib figures of the analysis tables, and reports made of them.

Every function draws on a ``matplotlib.figure.Figure`` of its own (no pyplot state).
Imports the foundations and the analysis room; matplotlib loads with this package only.
"""

try:
    from ._figures import save_figure
    from ._heatmaps import calendar_heatmap, capacity_heatmap, small_multiples
    from ._lines import booking_pace_plot, fill_curve_plot, lead_time_plot
    from ._reports import heatmap_report, write_heatmap_reports
except ModuleNotFoundError as exc:  # matplotlib is an extra: say which
    exc.add_note("the plots need their extra: pip install 'zimun-analytics[plots]'")
    raise

__all__ = [
    "booking_pace_plot",
    "calendar_heatmap",
    "capacity_heatmap",
    "fill_curve_plot",
    "heatmap_report",
    "lead_time_plot",
    "save_figure",
    "small_multiples",
    "write_heatmap_reports",
]
