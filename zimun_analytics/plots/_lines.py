"""Line charts of a snapshot history: lead time, fill curves and booking pace.

Each function takes a frame of the history trends of :mod:`zimun_analytics.analysis`, draws
one line per service @ location (and date, for fill curves) on ``ax`` when given, else on a
new ``matplotlib.figure.Figure`` that belongs to no pyplot state, and returns the Axes. Lines
take the Okabe-Ito colours, then dashes; a missing value is a gap, never a zero. Save with
:func:`save_figure`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

from .._schema import PAIR_KEY
from ._figures import new_axes, require_rows, tick_text

MAX_LEGEND_ENTRIES = 12
LINE_FIGSIZE = (9.0, 4.5)  # inches
# Okabe & Ito (2008), told apart with any colour vision (black left out); then dashes
LINE_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
LINE_STYLES = ("-", "--", ":", "-.")


# -- history -----------------------------------------------------------------------------------
def _history_plot(
    frame: pd.DataFrame, what: str, keys: list[str], xy: tuple[str, str], ax: Axes | None
) -> Axes:
    """One line per group of ``keys`` (Okabe-Ito colours, then dashes), with a legend."""
    require_rows(frame, what, [*keys, *xy])
    ax = new_axes(ax, LINE_FIGSIZE)
    x, y = xy
    groups = frame.sort_values(x).groupby(keys, observed=True, sort=True)
    for i, (key, part) in enumerate(groups):
        ax.plot(
            _naive_utc(part[x]) if x.endswith("_at") else part[x].to_numpy(dtype="float64"),
            part[y].to_numpy(dtype="float64", na_value=np.nan),  # NaN: a gap, never a zero
            marker="o",
            markersize=3,
            label=_line_label(keys, key),
            color=LINE_COLORS[i % len(LINE_COLORS)],
            linestyle=LINE_STYLES[(i // len(LINE_COLORS)) % len(LINE_STYLES)],
        )
    if groups.ngroups <= MAX_LEGEND_ENTRIES:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    else:
        note = f"{groups.ngroups} lines:\ntoo many to label;\nfilter {what} to fewer"
        ax.text(1.01, 1.0, note, transform=ax.transAxes, va="top", fontsize="small")
    if x.endswith("_at"):
        _date_axis(ax)
    return ax


def _date_axis(ax: Axes) -> None:
    """Concise date ticks on the x axis, e.g. ``Mar`` then ``21 22 23``."""
    # matplotlib.dates is not annotated (no stub, untyped __init__): the calls are untyped
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _naive_utc(times: pd.Series) -> npt.NDArray[np.datetime64]:
    """UTC instants as naive datetime64, which matplotlib dates natively (no pandas converters)."""
    naive: npt.NDArray[np.datetime64] = (
        pd.to_datetime(times, utc=True).dt.tz_localize(None).to_numpy()
    )
    return naive


def _line_label(keys: list[str], key: tuple[object, ...]) -> str:
    """``s_haircut @ l_berlin``, then any further key: ``s_haircut @ l_berlin, Mon 30 Mar``."""
    texts = [tick_text(name, value) for name, value in zip(keys, key, strict=True)]
    return ", ".join([" @ ".join(texts[:2]), *texts[2:]])


def _floor_at_zero(values: pd.Series) -> float:
    """0, or the lowest value if it is below 0 (NaN ignored)."""
    numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    return min(0.0, float(np.nanmin(numbers))) if np.isfinite(numbers).any() else 0.0


def lead_time_plot(trend: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Hours to the next free slot at each fetch, one line per service @ location.

    Parameters
    ----------
    trend : pandas.DataFrame
        ``trends.lead_time_trend``: fetched_at (UTC), service_id, location_id,
        next_lead_time_hours (NaN when nothing was free, drawn as a gap).
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new Figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    keys = PAIR_KEY
    ax = _history_plot(trend, "trend", keys, ("fetched_at", "next_lead_time_hours"), ax)
    ax.set_ylim(bottom=0)
    ax.set(xlabel="fetched at (UTC)", ylabel="lead time to the next free slot (hours)")
    ax.set_title("Lead time to the next free slot")
    return ax


def fill_curve_plot(curves: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Free capacity of each target date as it approaches, one line per service @ location, date.

    Parameters
    ----------
    curves : pandas.DataFrame
        ``trends.fill_curves``: service_id, location_id, local_date, days_before, free_capacity.
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new Figure.

    Returns
    -------
    matplotlib.axes.Axes
        The x axis runs from many days before down to the date itself (0) at the right.
    """
    keys = ["service_id", "location_id", "local_date"]
    ax = _history_plot(curves, "curves", keys, ("days_before", "free_capacity"), ax)
    ax.invert_xaxis()  # time runs toward the date, which sits at the right edge
    ax.set_xlim(right=_floor_at_zero(curves["days_before"]))
    ax.set_ylim(bottom=0)
    ax.set(xlabel="days before the date", ylabel="free appointments")
    ax.set_title("Fill curves: free capacity as the date approaches")
    return ax


def booking_pace_plot(pace: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Appointments taken per day between fetches, one line per service @ location.

    Parameters
    ----------
    pace : pandas.DataFrame
        ``trends.booking_pace``: service_id, location_id, to_fetched_at (UTC; each point sits
        at its interval's end), taken_per_day.
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new Figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    keys = PAIR_KEY
    ax = _history_plot(pace, "pace", keys, ("to_fetched_at", "taken_per_day"), ax)
    ax.set(
        xlabel="interval end: fetched at (UTC)", ylabel="booking pace (appointments taken per day)"
    )
    ax.set_ylim(bottom=_floor_at_zero(pace["taken_per_day"]))
    ax.set_title("Booking pace between snapshots")
    return ax
