"""Line charts of a snapshot history: lead time, fill curves and booking pace.

Each function takes a frame of :mod:`trends`, draws one line per service @ location (and
date, for fill curves) on ``ax`` when given, else on a new ``matplotlib.figure.Figure`` that
belongs to no pyplot state, and returns the Axes. Lines take the Okabe-Ito colours, then
dashes; a missing value is a gap, never a zero. Save with :func:`plots.save_figure`; all three
are importable from :mod:`plots` too.

This module also holds the few helpers the heatmaps of :mod:`plots` share (input checks, a
new Axes, tick text), so that the import runs one way, ``plots`` -> ``trendplots``, and
either module can be imported first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, SupportsInt

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from .analysis import WEEKDAY_NAMES
from .errors import InputError

__all__ = ["booking_pace_plot", "fill_curve_plot", "lead_time_plot"]

MAX_LEGEND_ENTRIES = 12
LINE_FIGSIZE = (9.0, 4.5)  # inches
# Okabe & Ito (2008), told apart with any colour vision (black left out); then dashes
LINE_COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
LINE_STYLES = ("-", "--", ":", "-.")


# -- helpers shared with plots -----------------------------------------------------------------
def _require_rows(frame: pd.DataFrame, what: str, needed: Sequence[str]) -> None:
    """Raise InputError for an empty frame or one lacking columns."""
    if frame is None or len(frame) == 0:
        raise InputError(f"{what} is empty: nothing to plot; fetch or select some data first")
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks the columns {', '.join(missing)}")


def _own_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """The caller's Axes, or one on a new pyplot-free Figure; either shows in notebooks."""
    if ax is not None:
        _show_figures_in_notebooks()  # a caller's Figure() shows as well as one of ours
        return ax
    return _new_figure(size).add_subplot()


def _new_figure(size: tuple[float, float]) -> Figure:
    """A Figure of ``size`` inches that belongs to no pyplot state and shows in notebooks."""
    _show_figures_in_notebooks()
    return Figure(figsize=size, layout="constrained")


# -- notebooks ---------------------------------------------------------------------------------
def _show_figures_in_notebooks() -> None:
    """Make IPython show a Figure, or an Axes on one, as an image; a no-op outside IPython.

    Our figures belong to no pyplot state, so matplotlib's inline backend (switched on when
    pyplot is imported, or by ``%matplotlib inline``) never registers them, and a cell ending in
    one showed ``<Axes: ...>`` as text. Where no Figure printer is registered, this registers
    what the inline backend would (IPython's ``print_figure``: PNG, tight box) in the running
    shell's display formatter, which JupyterLab, Notebook, VS Code, Colab, Voila and nbclient
    all use. An Axes then shows through whatever Figure printer each format has, ours or the
    user's (``%config InlineBackend.figure_formats = ["svg"]`` gives SVG Axes too). Figures
    that pyplot manages are left to pyplot's backend, which shows them at the cell's end, so
    nothing is shown twice. Called whenever a figure is made or drawn on, so a format the user
    chose since is followed.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: nothing displays rich output
        return
    shell = get_ipython()
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters or "image/png" not in formatters:
        return  # a plain IPython terminal shows text only
    pictures = [f for mime, f in formatters.items() if mime.startswith("image/")]
    if not any(_printer(formatter, Figure) for formatter in pictures):
        formatters["image/png"].for_type(Figure, _figure_png)
    for formatter in pictures:
        figure_printer, axes_printer = _printer(formatter, Figure), _printer(formatter, Axes)
        if figure_printer is not None:
            if getattr(axes_printer, "prints_with", None) is not figure_printer:
                formatter.for_type(Axes, _axes_printer(figure_printer))
        elif getattr(axes_printer, "prints_with", None) is not None:
            formatter.pop(Axes)  # ours, for a format the user has since switched off


def _printer(formatter: Any, kind: type) -> Any:
    """The formatter's printer for ``kind`` (or a base class of it), None if it has none."""
    try:
        return formatter.lookup_by_type(kind)
    except KeyError:
        return None


def _figure_png(figure: Figure) -> str | None:
    """A base64 PNG of a figure pyplot does not manage (None: IPython shows the text form)."""
    if figure.canvas.manager is not None:  # pyplot's: its backend shows it at the cell's end
        return None
    from IPython.core.pylabtools import print_figure

    png: str | None = print_figure(figure, fmt="png", base64=True)  # type: ignore[no-untyped-call]
    return png


def _axes_printer(figure_printer: Any) -> Any:
    """Show an Axes as its figure, with the format's Figure printer; pyplot's are declined."""

    def print_axes(ax: Axes) -> Any:
        figure = ax.get_figure(root=True)
        if not isinstance(figure, Figure) or figure.canvas.manager is not None:
            return None
        return figure_printer(figure)

    print_axes.prints_with = figure_printer  # type: ignore[attr-defined]
    return print_axes


def _tick_text(axis_name: str, label: object) -> str:
    """Text of one value of an axis: ``Mon``, ``Mon 30 Mar``, ``09``, else ``str(label)``."""
    if axis_name == "weekday":
        return WEEKDAY_NAMES[_whole(label)]
    if axis_name == "local_date":
        text: str = pd.Timestamp(label).strftime("%a %d %b")
        return text
    if axis_name == "local_hour":
        return f"{_whole(label):02d}"
    return str(label)


def _whole(label: object) -> int:
    """A weekday or hour label (an int, a numpy integer) as an int."""
    if not isinstance(label, SupportsInt):
        raise TypeError(f"expected a whole number as weekday or hour, got {label!r}")
    return int(label)


# -- history -----------------------------------------------------------------------------------
def _history_plot(
    frame: pd.DataFrame, what: str, keys: list[str], xy: tuple[str, str], ax: Axes | None
) -> Axes:
    """One line per group of ``keys`` (Okabe-Ito colours, then dashes), with a legend."""
    _require_rows(frame, what, [*keys, *xy])
    ax = _own_axes(ax, LINE_FIGSIZE)
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
    texts = [_tick_text(name, value) for name, value in zip(keys, key, strict=True)]
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
    keys = ["service_id", "location_id"]
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
    keys = ["service_id", "location_id"]
    ax = _history_plot(pace, "pace", keys, ("to_fetched_at", "taken_per_day"), ax)
    ax.set(
        xlabel="interval end: fetched at (UTC)", ylabel="booking pace (appointments taken per day)"
    )
    ax.set_ylim(bottom=_floor_at_zero(pace["taken_per_day"]))
    ax.set_title("Booking pace between snapshots")
    return ax
