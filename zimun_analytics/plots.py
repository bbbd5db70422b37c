"""Figures of availability: heatmaps of one snapshot; line charts of a history, re-exported.

Every function draws on ``ax`` when given, else on a new ``matplotlib.figure.Figure`` that
belongs to no pyplot state (nothing to close, safe headless), and returns the Axes; the small
multiples return their Figure. Heatmaps keep the conventions of :mod:`analysis`: "no capacity
offered" (NaN) is left uncoloured over a light dotted hatch with a legend entry, while "capacity
used up" (0) is a real colour of the colour-blind-safe ``cividis`` map. Holidays and closed days
of a calendar are hatched and named on their row. Save with :func:`save_figure`.

The line charts of a snapshot history (``lead_time_plot``, ``fill_curve_plot``,
``booking_pace_plot``) live in :mod:`trendplots` and are importable from here as well.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.transforms import offset_copy

from .analysis import AXES, heatmap_table
from .errors import InputError

# The trend plots and line constants stay importable from here. trendplots holds the helpers
# both modules share, so the import runs one way (plots -> trendplots), never in a circle.
from .trendplots import LINE_COLORS as LINE_COLORS
from .trendplots import LINE_FIGSIZE as LINE_FIGSIZE
from .trendplots import LINE_STYLES as LINE_STYLES
from .trendplots import MAX_LEGEND_ENTRIES as MAX_LEGEND_ENTRIES
from .trendplots import (
    _new_figure,
    _own_axes,
    _require_rows,
    _tick_text,
    booking_pace_plot,
    fill_curve_plot,
    lead_time_plot,
)

__all__ = [
    "booking_pace_plot",
    "calendar_heatmap",
    "capacity_heatmap",
    "fill_curve_plot",
    "lead_time_plot",
    "save_figure",
    "small_multiples",
]

CMAP = "cividis"  # colour-blind safe and readable in greyscale
NO_CAPACITY_HATCH = "..."  # cells with no capacity offered: the hatch shows through
DAY_OFF_HATCH = "///"  # holiday and closed rows of a calendar
HATCH_COLOR = "0.7"
DAY_OFF_COLOR = "0.45"
MAX_ANNOTATED_ROWS = 31  # a month of dates ...
MAX_ANNOTATED_COLS = 24  # ... by every hour of the day: beyond that numbers are unreadable
MAX_ANNOTATED_CELLS = 250  # about three weeks x opening hours; more numbers crowd the picture
# (and each costs ~1 ms to render: the colours carry the message)
MAX_PANEL_CELLS = 7 * 16  # small multiples: a week by opening hours still takes numbers
MAX_TICKS = 31  # more axis labels than this collide; label every n-th instead
CELL_IN = 0.42  # inches per heatmap cell of a figure made here
SAVE_DPI = 110  # sharp on screens and in reports; 150 cost ~40 % more time to render
SAVE_FORMATS = ("png", "svg")

AXIS_LABELS = {
    "weekday": "weekday",
    "local_hour": "local hour",
    "local_date": "local date",
    "service": "service",
    "location": "location",
}
_NOUNS = {"available": "free capacity", "capacity": "offered capacity"}


# -- shared helpers ----------------------------------------------------------------------------
def _root_figure(ax: Axes) -> Figure:
    """The Figure an Axes is drawn on; every Axes made by a Figure has one."""
    figure = ax.get_figure(root=True)
    if figure is None:
        raise InputError("the Axes belongs to no Figure; draw on one made by Figure.add_subplot")
    return figure


def _value_label(value: str, agg: str) -> str:
    """Colour-bar label with its unit, e.g. ``free capacity (staff-slots)``."""
    if value == "utilization":
        return "utilization (share of capacity used)"
    if value == "slots":
        return "slots (count)"
    if agg == "sum":
        return f"{_NOUNS[value]} (staff-slots)"
    return f"{agg} {_NOUNS[value]} per slot (staff-slots)"


def _subject(slots: pd.DataFrame) -> str:
    """``Haircut at l_berlin`` when the frame holds one service at one location, else ``""``."""
    names = slots["service_name"].unique() if "service_name" in slots else slots["service_id"]
    locations = slots["location_id"].unique() if "location_id" in slots else []
    if len(set(names)) == 1 and len(locations) == 1:
        return f"{names[0]} at {locations[0]}"
    return ""


def _default_title(value: str, agg: str, rows: str, cols: str, subject: str = "") -> str:
    """E.g. ``Free capacity by weekday and local hour``, the subject on a second line."""
    noun = _value_label(value, agg).split(" (")[0]
    title = f"{noun[0].upper()}{noun[1:]} by {AXIS_LABELS[rows]} and {AXIS_LABELS[cols]}"
    return f"{title}\n{subject}" if subject else title


def _set_ticks(axis: Axis, axis_name: str, labels: Sequence[object]) -> None:
    """One tick per row/column, or every n-th when there are too many to read."""
    step = max(1, math.ceil(len(labels) / MAX_TICKS))
    positions = range(0, len(labels), step)
    axis.set_ticks(list(positions), [_tick_text(axis_name, labels[i]) for i in positions])


def _norm(tables: Sequence[pd.DataFrame], value: str) -> Normalize:
    """0 to the largest cell (0 to 1 for utilization), one scale for every table given."""
    if value == "utilization":
        return Normalize(0.0, 1.0)
    finite = [np.nanmax(t.to_numpy(dtype="float64")) for t in tables if t.notna().any(axis=None)]
    return Normalize(0.0, max(max(finite, default=0.0), 1.0))


def _cell_text(number: float, value: str, agg: str) -> str:
    if value == "utilization":
        return f"{number:.0%}"
    return f"{number:.1f}" if agg == "mean" and value != "slots" else f"{number:.0f}"


# -- heatmaps ----------------------------------------------------------------------------------
def _draw_table(
    ax: Axes, table: pd.DataFrame, value: str, agg: str, norm: Normalize, annotate: bool
) -> ScalarMappable:
    """Draw a heatmap_table: masked NaN cells over a dotted background, labelled ticks."""
    grid = np.ma.masked_invalid(table.to_numpy(dtype="float64"))
    n_rows, n_cols = grid.shape
    _hatch(ax, (0, n_rows), n_cols, NO_CAPACITY_HATCH, HATCH_COLOR, zorder=-1)  # under the image
    image = ax.imshow(grid, cmap=CMAP, norm=norm, aspect="auto", interpolation="nearest")
    _set_ticks(ax.yaxis, str(table.index.name), list(table.index))
    _set_ticks(ax.xaxis, str(table.columns.name), list(table.columns))
    row_name, col_name = str(table.index.name), str(table.columns.name)
    ax.set(ylabel=AXIS_LABELS.get(row_name, row_name), xlabel=AXIS_LABELS.get(col_name, col_name))
    ax.tick_params(axis="x", labelrotation=90 if table.columns.name == "local_date" else 0)
    small = n_rows <= MAX_ANNOTATED_ROWS and n_cols <= MAX_ANNOTATED_COLS
    if annotate and small and n_rows * n_cols <= MAX_ANNOTATED_CELLS:
        _annotate(ax, grid, image.get_cmap(), norm, lambda v: _cell_text(v, value, agg))
    return image


def _annotate(
    ax: Axes, grid: np.ma.MaskedArray, cmap: Colormap, norm: Normalize, text: Callable[[float], str]
) -> None:
    """Write each coloured cell's value, dark on light cells and light on dark ones."""
    size = 7 if grid.shape[1] <= 16 else 5.5
    rgba = cmap(norm(grid.filled(np.nan)))  # every cell's colour at once, not one call per cell
    dark = rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722]) < 0.5
    for (row, col), number in np.ndenumerate(grid.filled(np.nan)):
        if not np.isnan(number):
            color = "white" if dark[row, col] else "black"
            label = ax.text(
                col, row, text(number), ha="center", va="center", fontsize=size, color=color
            )
            label.set_in_layout(False)  # inside its cell: layout need not measure hundreds of these


def _colorbar(
    fig: Figure, mappable: ScalarMappable, axes: Axes | Sequence[Axes], value: str, agg: str
) -> None:
    bar = fig.colorbar(mappable, ax=axes, label=_value_label(value, agg), shrink=0.9)
    if value == "utilization":
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    elif agg != "mean" or value == "slots":
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _legend(ax: Axes, handles: list[Patch]) -> None:
    """Key for the hatches, below the x axis label (a fixed distance) so it covers no cell."""
    rotated = any(label.get_rotation() for label in ax.get_xticklabels())
    shift = -80 if rotated else -36
    below = offset_copy(ax.transAxes, ax.get_figure(root=True), y=shift, units="points")
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.0, 0.0),
        bbox_transform=below,
        frameon=False,
        fontsize="small",
        ncols=len(handles),
        borderaxespad=0.0,
    )


def _hatch(
    ax: Axes, rows: tuple[int, int], n_cols: int, hatch: str, color: str, zorder: int
) -> None:
    """Hatch grid rows ``rows[0]`` to ``rows[1] - 1`` over all columns."""
    box = Rectangle(
        (-0.5, rows[0] - 0.5),
        n_cols,
        rows[1] - rows[0],
        facecolor="white",
        edgecolor=color,
        hatch=hatch,
        linewidth=0,
        zorder=zorder,
    )
    ax.add_patch(box)


def _key(label: str, hatch: str = NO_CAPACITY_HATCH, edgecolor: str = HATCH_COLOR) -> Patch:
    """A legend entry for a hatch."""
    return Patch(facecolor="white", edgecolor=edgecolor, hatch=hatch, label=label)


def _grid_size(table: pd.DataFrame) -> tuple[float, float]:
    n_rows, n_cols = table.shape
    return (max(6.0, CELL_IN * n_cols + 3.0), max(4.0, 0.32 * n_rows + 2.4))


def capacity_heatmap(
    slots: pd.DataFrame,
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str = "available",
    agg: str = "sum",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Heatmap of :func:`analysis.heatmap_table`, e.g. free capacity by weekday and local hour.

    Parameters
    ----------
    slots : pandas.DataFrame
        Slots (columns of ``schema.SLOTS``), e.g. ``snapshot.slots``.
    rows, cols, value, agg : str
        As for :func:`analysis.heatmap_table`; weekday rows or columns read Mon..Sun.
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new Figure.
    title : str or None
        None names the value and the axes (and the service and location, if only one).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0]`` holds the table, its NaN cells (no capacity offered) masked.
    """
    _require_rows(slots, "slots", [AXES[name] for name in (rows, cols) if name in AXES])
    table = heatmap_table(slots, rows, cols, value, agg)
    ax = _own_axes(ax, _grid_size(table))
    norm = _norm([table], value)
    image = _draw_table(ax, table, value, agg, norm, annotate=True)
    _colorbar(_root_figure(ax), image, ax, value, agg)
    if table.isna().any(axis=None):
        _legend(ax, [_key("no capacity offered")])
    default = _default_title(value, agg, rows, cols, _subject(slots))
    ax.set_title(default if title is None else title)
    return ax


def _mark_days_off(ax: Axes, days: pd.DataFrame, dates: pd.Index, n_cols: int) -> int:
    """Hatch and label dates open nowhere in ``days``: the holiday's name, else "closed"."""
    box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"}
    marked = 0
    for row, date in enumerate(dates):
        that_day = days[days["local_date"] == date]
        if (that_day["status"] == "open").any():
            continue
        label = ", ".join(sorted(map(str, that_day["holiday_name"].dropna().unique())))
        _hatch(ax, (row, row + 1), n_cols, DAY_OFF_HATCH, DAY_OFF_COLOR, zorder=2)
        ax.text((n_cols - 1) / 2, row, label or "closed", ha="center", va="center", bbox=box)
        marked += 1
    return marked


def calendar_heatmap(
    slots: pd.DataFrame,
    days: pd.DataFrame,
    value: str = "available",
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Calendar of capacity: one row per local date of ``days``, one column per local hour.

    Dates open nowhere in ``days`` (holidays, closed days) are hatched and labelled with the
    holiday's name or "closed"; fully booked open hours are 0, a colour; an hour without slots
    is uncoloured (no capacity offered). Best for one service at one location.

    Parameters
    ----------
    slots, days : pandas.DataFrame
        Slots and days of one fetch (``schema.SLOTS``, ``schema.DAYS``); each day is a row.
    value : str
        ``available``, ``capacity``, ``utilization`` or ``slots``, summed per cell.
    ax, title
        As for :func:`capacity_heatmap`.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0]`` holds the date x hour table.
    """
    _require_rows(slots, "slots", ["local_date", "local_hour"])
    _require_rows(days, "days", ["local_date", "status", "holiday_name"])
    table = heatmap_table(slots, "local_date", "local_hour", value, "sum")
    dates = pd.Index(sorted(set(days["local_date"]) | set(table.index)), name="local_date")
    table = table.reindex(dates)
    ax = _own_axes(ax, _grid_size(table))
    image = _draw_table(ax, table, value, "sum", _norm([table], value), annotate=True)
    days_off = _mark_days_off(ax, days, dates, table.shape[1])
    _colorbar(_root_figure(ax), image, ax, value, "sum")
    keys = [_key("no capacity offered")] if table.isna().any(axis=None) else []
    keys += [_key("holiday/closed", DAY_OFF_HATCH, DAY_OFF_COLOR)] if days_off else []
    if keys:
        _legend(ax, keys)
    default = _default_title(value, "sum", "local_date", "local_hour", _subject(slots))
    ax.set_title(default if title is None else title)
    return ax


def small_multiples(
    slots: pd.DataFrame,
    by: str = "service",
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str = "available",
    ncols: int = 3,
    max_panels: int = 12,
    agg: str = "sum",
) -> Figure:
    """One heatmap per service (or location) on a shared colour scale and shared axes.

    Parameters
    ----------
    slots : pandas.DataFrame
        Slots (columns of ``schema.SLOTS``).
    by : str
        ``service`` or ``location``: one panel per value, in id order.
    rows, cols, value, agg : str
        As for :func:`capacity_heatmap`; every panel shows the union of rows and columns.
    ncols, max_panels : int
        Panels per row; more panels than ``max_panels`` is an InputError (filter first).

    Returns
    -------
    matplotlib.figure.Figure
        The panels and one colour bar for all of them.
    """
    _check_panels(by, rows, cols, ncols)
    _require_rows(slots, "slots", [AXES[by]])
    groups = {key: part for key, part in slots.groupby(AXES[by], observed=True, sort=True)}
    if len(groups) > max_panels:
        raise InputError(
            f"slots hold {len(groups)} {by}s, more panels than max_panels={max_panels}; "
            f"filter slots to fewer {by}s or raise max_panels"
        )
    tables = _aligned([heatmap_table(part, rows, cols, value, agg) for part in groups.values()])
    norm = _norm(tables, value)
    fig, axes = _panel_grid(len(tables), ncols, tables[0])
    for i, (ax, (key, part), table) in enumerate(zip(axes, groups.items(), tables, strict=True)):
        _draw_table(ax, table, value, agg, norm, annotate=table.size <= MAX_PANEL_CELLS)
        ax.set_title(_panel_title(by, key, part), fontsize="medium")
        _label_outer(ax, i, min(ncols, len(axes)), len(axes))
    _colorbar(fig, ScalarMappable(norm, CMAP), list(axes), value, agg)
    if any(t.isna().any(axis=None) for t in tables):
        fig.legend(handles=[_key("no capacity offered")], loc="outside lower left", frameon=False)
    fig.suptitle(f"{_default_title(value, agg, rows, cols)}, per {by}")
    return fig


def _panel_title(by: str, key: object, part: pd.DataFrame) -> str:
    """``Haircut (s_haircut)`` or ``l_berlin (Europe/Berlin)``."""
    column = "service_name" if by == "service" else "timezone"
    names = part[column].dropna().unique() if column in part else []
    if len(names) != 1:
        return str(key)
    return f"{names[0]} ({key})" if by == "service" else f"{key} ({names[0]})"


def _check_panels(by: str, rows: str, cols: str, ncols: int) -> None:
    if by not in ("service", "location"):
        raise InputError(f"by={by!r} is not one of: service, location")
    if by in (rows, cols):
        raise InputError(f"by={by!r} is already an axis of each panel; choose other rows/cols")
    if ncols < 1:
        raise InputError(f"ncols must be at least 1, got {ncols}")


def _aligned(tables: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Every table on the union of all rows and columns, so panels share their axes."""
    index = sorted(set().union(*(t.index for t in tables)))
    columns = sorted(set().union(*(t.columns for t in tables)))
    return [
        t.reindex(index=index, columns=columns).rename_axis(
            index=t.index.name, columns=t.columns.name
        )
        for t in tables
    ]


def _label_outer(ax: Axes, i: int, ncols: int, n: int) -> None:
    """Axis labels on the left column and on the lowest panel of each column only."""
    bottom, left = i + ncols >= n, i % ncols == 0  # sharex hid labels above an empty cell
    ax.tick_params(labelbottom=bottom, labelleft=left)
    ax.set(xlabel=ax.get_xlabel() if bottom else "", ylabel=ax.get_ylabel() if left else "")


def _panel_grid(n: int, ncols: int, table: pd.DataFrame) -> tuple[Figure, list[Axes]]:
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    width, height = CELL_IN * 0.8 * table.shape[1] + 1.2, 0.3 * table.shape[0] + 1.3
    fig = _new_figure((width * ncols + 1.5, height * nrows + 1.2))
    grid = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    for extra in grid[n:]:
        extra.set_visible(False)
    return fig, list(grid[:n])


def save_figure(figure_or_ax: Figure | Axes, path: str | Path) -> Path:
    """Write a figure, or an Axes' figure, as PNG or SVG by the path's suffix; close nothing.

    Parameters
    ----------
    figure_or_ax : matplotlib.figure.Figure or matplotlib.axes.Axes
        What to save.
    path : str or pathlib.Path
        Ends in ``.png`` or ``.svg``.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path, fmt = Path(path), Path(path).suffix.lower().lstrip(".")
    if fmt not in SAVE_FORMATS:
        raise InputError(f"cannot save {path.name!r}: the suffix must be .png or .svg")
    figure = figure_or_ax if isinstance(figure_or_ax, Figure) else _root_figure(figure_or_ax)
    metadata = {"Date": None} if fmt == "svg" else None  # reproducible SVG files
    figure.savefig(path, format=fmt, dpi=SAVE_DPI, metadata=metadata)
    return path
