"""Figures of availability: heatmaps of one snapshot; line charts of a history, re-exported.

Every function draws on ``ax`` when given, else on a new ``matplotlib.figure.Figure`` that
belongs to no pyplot state (nothing to close, safe headless), and returns the Axes; the small
multiples return their Figure. Heatmaps keep the conventions of :mod:`analysis`: "no capacity
offered" (NaN) is left uncoloured over a light dotted hatch with a legend entry, while "capacity
used up" (0) is a real colour of the colour-blind-safe ``cividis`` map. Holidays and closed days
of a calendar are hatched and named on their row. Save with :func:`save_figure`.

"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Colormap, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.transforms import offset_copy

from .._errors import InputError
from .._schema import AvailabilitySnapshot, Slots, slots_of
from ..analysis import AXES, HeatmapGrid, default_value, heatmap_grid
from ._figures import new_axes, new_figure, require_rows, root_figure, tick_text

CMAP = "cividis"  # colour-blind safe and readable in greyscale
# One colour language: "scarce" is the light (yellow) end of every map and "plenty" the dark
# end, so free appointments run the map reversed and utilization runs it forward. A cell with
# nothing left (0 free, 100 % booked, on every date) is vermillion (Okabe-Ito), a colour the map
# never takes, so 0 and 1 free are told apart at a glance.
FULL_COLOR = "#D55E00"
PAST_COLOR = "0.8"  # today's hours that had begun when the slots were fetched
NO_CAPACITY_HATCH = "..."  # cells with no capacity offered: the hatch shows through
DAY_OFF_HATCH = "///"  # holiday and closed rows of a calendar
# where the API omits fully booked slots, a missing cell may be full as well as unoffered
NOT_LISTED = "no slots listed (closed, or full and not listed)"
UNLISTED_NOTE = "no fully booked slot is listed: the API may omit them"
HATCH_COLOR = "0.7"
DAY_OFF_COLOR = "0.45"
MAX_ANNOTATED_ROWS = 31  # a month of dates ...
MAX_ANNOTATED_COLS = 24  # ... by every hour of the day: beyond that numbers are unreadable
MAX_ANNOTATED_CELLS = 250  # about three weeks x opening hours; more numbers crowd the picture
# (and each costs ~1 ms to render: the colours carry the message)
MAX_PANEL_CELLS = 7 * 16  # small multiples: a week by opening hours still takes numbers
MAX_TICKS = 31  # more axis labels than this collide; label every n-th instead
MAX_NAMED = 3  # a subtitle names up to this many locations, then counts them
CELL_IN = 0.42  # inches per heatmap cell of a figure made here
TITLE_IN_PER_CHAR = 0.085  # a title line of the default font needs about this much width

AXIS_LABELS = {
    "weekday": "weekday",
    "local_hour": "local hour",
    "local_date": "local date",
    "service": "service",
    "location": "location",
}
# what a cell counts, in units that exist (see analysis.VALUES)
_NOUNS = {
    "available": "free appointments",
    "capacity": "offered appointments",
    "utilization": "share of offered capacity booked",
    "slots": "listed slots",
}
_PER_DATE = {
    "mean": "mean per date",
    "sum": "total over the window",
    "min": "least on any date",
    "max": "most on any date",
}


# -- shared helpers ----------------------------------------------------------------------------
def _by_date(grid: HeatmapGrid) -> bool:
    """True when each cell is one date, so how dates were combined goes without saying."""
    return "local_date" in (grid.table.index.name, grid.table.columns.name)


def _value_label(grid: HeatmapGrid) -> str:
    """Colour-bar label with its unit, e.g. ``free appointments, mean per date``."""
    noun = _NOUNS[grid.value]
    if _by_date(grid):
        return noun
    if grid.value == "utilization" and grid.agg == "sum":
        return f"{noun}, pooled over the window"
    return f"{noun}, {_PER_DATE[grid.agg]}"


def _default_title(grid: HeatmapGrid, subject: str) -> str:
    """E.g. ``Free appointments by weekday and local hour, mean per date``, then the subject."""
    rows, cols = str(grid.table.index.name), str(grid.table.columns.name)
    noun = "Utilization" if grid.value == "utilization" else _NOUNS[grid.value].capitalize()
    title = f"{noun} by {AXIS_LABELS[rows]} and {AXIS_LABELS[cols]}"
    if not _by_date(grid):
        title += f", {_PER_DATE[grid.agg]}" if grid.agg != "sum" else ", total over the window"
    return f"{title}\n{subject}" if subject else title


def _days_of(data: Slots) -> pd.DataFrame | None:
    """A snapshot's days (the window it covers); a bare slots frame has none."""
    return data.days if isinstance(data, AvailabilitySnapshot) else None


def _location_names(data: Slots) -> dict[str, str]:
    """Location id -> display name, from a snapshot's meta (a bare frame has ids only)."""
    if isinstance(data, AvailabilitySnapshot):
        return {str(k): str(v) for k, v in data.meta.get("location_names", {}).items()}
    return {}


def _where(slots: pd.DataFrame, names: dict[str, str]) -> str:
    """``Berlin Mitte (Europe/Berlin)``, or ``4 locations: Berlin, London, ...``."""
    places = slots.groupby("location_id", observed=True)["timezone"].first()
    labels = [f"{names.get(str(i), str(i))} ({zone})" for i, zone in places.items()]
    if len(labels) <= 1:
        return labels[0] if labels else ""
    if len(labels) <= MAX_NAMED:
        return f"{len(labels)} locations: {', '.join(labels)}"
    return f"{len(labels)} locations"


def _subject(
    slots: pd.DataFrame,
    names: dict[str, str],
    days: pd.DataFrame | None = None,
    grid: HeatmapGrid | None = None,
) -> str:
    """What, where and when: services, locations with zones, the date window and as-of time.

    E.g. ``Haircut at Berlin Mitte (Europe/Berlin)`` then
    ``Mon 23 Mar - Sun 05 Apr 2026, as of 2026-03-23 08:00 UTC``.
    """
    ids = sorted(map(str, slots["service_id"].dropna().unique()))
    labels = ids
    if "service_name" in slots and len(ids) <= MAX_NAMED:  # names only where they are shown
        named = slots.groupby("service_id", observed=True)["service_name"].first()
        labels = [str(named[i]) if pd.notna(named.get(i)) else i for i in ids]
    if len(labels) == 1:
        what = labels[0]
    elif len(labels) <= MAX_NAMED:
        what = f"{len(labels)} services: {', '.join(labels)}"
    else:
        what = f"{len(labels)} services"
    where = _where(slots, names) if {"location_id", "timezone"} <= set(slots.columns) else ""
    lines = [f"{what} at {where}" if where else what]
    when = []
    dated = days if days is not None and len(days) else slots  # days reach past the last slot
    if "local_date" in dated and dated["local_date"].notna().any():
        first, last = (
            pd.Timestamp(dated["local_date"].min()),
            pd.Timestamp(dated["local_date"].max()),
        )
        when.append(f"{first:%a %d %b} - {last:%a %d %b %Y}")
    if "fetched_at" in slots and slots["fetched_at"].notna().any():
        early, late = slots["fetched_at"].min(), slots["fetched_at"].max()
        stamp = f"{late.tz_convert('UTC'):%Y-%m-%d %H:%M} UTC"
        when.append(f"as of {stamp}" if early == late else f"fetched {early:%Y-%m-%d} to {stamp}")
    if when:
        lines.append(", ".join(when))
    if grid is not None and not grid.full_slots_listed:
        lines.append(UNLISTED_NOTE)
    return "\n".join(lines)


def _tick_label(axis_name: str, label: object, names: dict[str, str]) -> str:
    """A tick's text: weekday and hour as words and digits, services and locations by name."""
    if axis_name in ("service", "location"):
        return names.get(str(label), str(label))
    return tick_text(axis_name, label)


def _set_ticks(axis: Axis, axis_name: str, labels: Sequence[object], texts: Sequence[str]) -> None:
    """One tick per row/column, or every n-th when there are too many to read."""
    step = max(1, math.ceil(len(labels) / MAX_TICKS))
    positions = range(0, len(labels), step)
    axis.set_ticks(list(positions), [texts[i] for i in positions])


def _colour_map(value: str) -> Colormap:
    """The cividis map with scarce at its light end: utilization forward, every count reversed."""
    cmap = colormaps[CMAP]
    return cmap if value == "utilization" else cmap.reversed()


def _norm(grids: Sequence[HeatmapGrid], value: str, vmax: float | None = None) -> Normalize:
    """0 to the largest cell (0 to 1 for utilization), one scale for every grid given."""
    if value == "utilization":
        return Normalize(0.0, 1.0)
    if vmax is not None:
        return Normalize(0.0, float(vmax))
    tables = [g.table for g in grids]
    finite = [np.nanmax(t.to_numpy(dtype="float64")) for t in tables if t.notna().any(axis=None)]
    return Normalize(0.0, max(max(finite, default=0.0), 1.0))


def _cell_text(number: float, value: str) -> str:
    if value == "utilization":
        return f"{number:.0%}"
    return f"{number:.0f}" if float(number).is_integer() else f"{number:.1f}"


# -- heatmaps ----------------------------------------------------------------------------------
def _draw_grid(
    ax: Axes, grid: HeatmapGrid, norm: Normalize, annotate: bool, names: dict[str, str]
) -> AxesImage:
    """Draw a grid: the value's colours, fully booked and past cells over them, NaN hatched.

    ``ax.images[0]`` is the table itself (NaN masked); the overlays come after it.
    """
    table = grid.table
    values = np.ma.masked_invalid(table.to_numpy(dtype="float64"))
    n_rows, n_cols = values.shape
    _hatch(ax, (0, n_rows), n_cols, NO_CAPACITY_HATCH, HATCH_COLOR, zorder=-1)  # under the image
    image = ax.imshow(
        values, cmap=_colour_map(grid.value), norm=norm, aspect="auto", interpolation="nearest"
    )
    for mask, color in (
        (grid.full.to_numpy(dtype=bool), FULL_COLOR),
        (grid.past.to_numpy(dtype=bool), PAST_COLOR),
    ):
        if mask.any():
            overlay = np.ma.masked_array(np.ones(mask.shape), mask=~mask)
            ax.imshow(overlay, cmap=ListedColormap([color]), aspect="auto", interpolation="nearest")
    row_name, col_name = str(table.index.name), str(table.columns.name)
    row_texts = [_tick_label(row_name, label, names) for label in table.index]
    _set_ticks(ax.yaxis, row_name, list(table.index), row_texts)
    col_texts = [_tick_label(col_name, label, names) for label in table.columns]
    _set_ticks(ax.xaxis, col_name, list(table.columns), col_texts)
    ax.set(ylabel=AXIS_LABELS.get(row_name, row_name), xlabel=AXIS_LABELS.get(col_name, col_name))
    ax.tick_params(axis="x", labelrotation=90 if col_name in ("local_date", "service") else 0)
    if not _by_date(grid):
        _date_counts(ax, grid)
    small = n_rows <= MAX_ANNOTATED_ROWS and n_cols <= MAX_ANNOTATED_COLS
    if annotate and small and n_rows * n_cols <= MAX_ANNOTATED_CELLS:
        _annotate(ax, values, image.get_cmap(), norm, grid.full.to_numpy(dtype=bool), grid.value)
    return image


def _date_counts(ax: Axes, grid: HeatmapGrid) -> None:
    """How many dates each row's mean or sum stands on, in a column right of the grid."""
    x = grid.table.shape[1] - 0.4  # just right of the last column
    ax.text(x, -0.5, "dates", ha="left", va="bottom", fontsize="x-small", clip_on=False)
    for row, count in enumerate(grid.dates_per_row.reindex(grid.table.index, fill_value=0)):
        ax.text(x, row, f"{count}", ha="left", va="center", fontsize="x-small", clip_on=False)


def _annotate(
    ax: Axes,
    values: np.ma.MaskedArray,
    cmap: Colormap,
    norm: Normalize,
    full: npt.NDArray[np.bool_],
    value: str,
) -> None:
    """Write each coloured cell's value, dark on light cells and light on dark ones."""
    size = 7 if values.shape[1] <= 16 else 5.5
    rgba = cmap(norm(values.filled(np.nan)))  # every cell's colour at once, not one per cell
    dark = (rgba[..., :3] @ np.array([0.2126, 0.7152, 0.0722]) < 0.5) | full
    for (row, col), number in np.ndenumerate(values.filled(np.nan)):
        if not np.isnan(number):
            color = "white" if dark[row, col] else "black"
            label = ax.text(
                col,
                row,
                _cell_text(number, value),
                ha="center",
                va="center",
                fontsize=size,
                color=color,
            )
            label.set_in_layout(False)  # inside its cell: layout need not measure hundreds of these


def _colorbar(
    fig: Figure, mappable: ScalarMappable, axes: Axes | Sequence[Axes], grid: HeatmapGrid
) -> None:
    bar = fig.colorbar(mappable, ax=axes, label=_value_label(grid), shrink=0.9)
    if grid.value == "utilization":
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        return
    bar.ax.invert_yaxis()  # scarce (0 free) on top, where a utilization bar has 100 %
    if grid.agg != "mean" or _by_date(grid):
        bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _keys(grids: Sequence[HeatmapGrid], days_off: bool = False) -> list[Patch]:
    """Legend entries for what the colours of the map do not say, in the order of scarcity."""
    keys = []
    if any(g.full.to_numpy().any() for g in grids):
        keys.append(Patch(facecolor=FULL_COLOR, label="fully booked"))
    if any(g.past.to_numpy().any() for g in grids):
        keys.append(Patch(facecolor=PAST_COLOR, label="past (before the fetch)"))
    if any((g.table.isna() & ~g.past).to_numpy().any() for g in grids):
        unlisted = not all(g.full_slots_listed for g in grids)
        keys.append(_key(NOT_LISTED if unlisted else "no capacity offered"))
    if days_off:
        keys.append(_key("holiday/closed", DAY_OFF_HATCH, DAY_OFF_COLOR))
    return keys


def _legend(ax: Axes, handles: list[Patch]) -> None:
    """Key for the hatches, below the x axis label (a fixed distance) so it covers no cell."""
    if not handles:
        return
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


def _grid_size(table: pd.DataFrame, long_labels: bool, title: str = "") -> tuple[float, float]:
    """Inches for a grid: its cells, the labels, and a title that must not be cut off."""
    n_rows, n_cols = table.shape
    width = CELL_IN * n_cols + (4.2 if long_labels else 3.0)
    widest = max((len(line) for line in title.splitlines()), default=0)
    return (max(6.0, width, TITLE_IN_PER_CHAR * widest), max(4.0, 0.32 * n_rows + 2.9))


def capacity_heatmap(
    slots: Slots,
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str | None = None,
    agg: str = "mean",
    ax: Axes | None = None,
    title: str | None = None,
    vmax: float | None = None,
) -> Axes:
    """Heatmap of :func:`analysis.heatmap_table`, e.g. free appointments by weekday and hour.

    Parameters
    ----------
    slots : pandas.DataFrame or AvailabilitySnapshot
        Slots (columns of ``schema.SLOTS``), e.g. ``snapshot.slots``, or the snapshot itself
        (its location names then label the picture).
    rows, cols, value, agg : str
        As for :func:`analysis.heatmap_table`: by default free appointments of one service, or
        utilization of several, as a mean per date; weekday rows read Mon..Sun, each with the
        number of dates it stands on.
    ax : matplotlib.axes.Axes or None
        Where to draw; None makes a new Figure, which a notebook shows as an image.
    title : str or None
        None names the value, the axes, the services and locations (with time zones), the
        date window and when the slots were fetched.
    vmax : float or None
        Top of the colour scale, to share one scale between pictures; None: the largest cell.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0]`` holds the table, its NaN cells (no capacity offered, or past) masked.
    """
    frame = slots_of(slots)
    require_rows(frame, "slots", [AXES[name] for name in (rows, cols) if name in AXES])
    grid = heatmap_grid(slots, rows, cols, value, agg)
    names = _names(frame, slots, rows, cols)
    subject = _subject(frame, _location_names(slots), _days_of(slots), grid)
    text = _default_title(grid, subject) if title is None else title
    made_here = ax is None
    ax = new_axes(ax, _grid_size(grid.table, not _by_date(grid), text))
    image = _draw_grid(ax, grid, _norm([grid], grid.value, vmax), annotate=True, names=names)
    _finish(ax, image, grid, _keys([grid]), text, made_here)
    return ax


def _finish(
    ax: Axes, image: AxesImage, grid: HeatmapGrid, keys: list[Patch], title: str, own: bool
) -> None:
    """Colour bar, key and title of a one-grid picture.

    On a figure made here the key goes below everything (the layout makes room, whatever the
    tick labels' length); on the caller's Axes it goes just under the axis label.
    """
    figure = root_figure(ax)
    _colorbar(figure, image, ax, grid)
    if own and keys:
        figure.legend(
            handles=keys, loc="outside lower left", frameon=False, fontsize="small", ncols=len(keys)
        )
    else:
        _legend(ax, keys)
    ax.set_title(title)


def _names(frame: pd.DataFrame, data: Slots, *axes: str) -> dict[str, str]:
    """Labels for service and location ticks: display names where known."""
    names = _location_names(data) if "location" in axes else {}
    if "service" in axes and "service_name" in frame:
        pairs = frame.groupby("service_id", observed=True)["service_name"].first()
        names |= {str(k): str(v) for k, v in pairs.items() if pd.notna(v)}
    return names


def _mark_days_off(ax: Axes, days: pd.DataFrame, dates: pd.Index, n_cols: int) -> int:
    """Hatch and label dates open nowhere in ``days``: the holiday's name, else "closed"."""
    box = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"}
    open_somewhere = set(days.loc[days["status"] == "open", "local_date"])
    names = (
        days.dropna(subset=["holiday_name"])
        .groupby("local_date")["holiday_name"]
        .agg(lambda found: ", ".join(sorted(map(str, set(found)))))
    )
    marked = 0
    for row, date in enumerate(dates):
        if date in open_somewhere or not (days["local_date"] == date).any():
            continue
        label = str(names.get(date, ""))
        _hatch(ax, (row, row + 1), n_cols, DAY_OFF_HATCH, DAY_OFF_COLOR, zorder=2)
        ax.text((n_cols - 1) / 2, row, label or "closed", ha="center", va="center", bbox=box)
        marked += 1
    return marked


def calendar_heatmap(
    slots: Slots,
    days: pd.DataFrame | None = None,
    value: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    vmax: float | None = None,
) -> Axes:
    """Calendar of capacity: one row per local date of ``days``, one column per local hour.

    Dates open nowhere in ``days`` (holidays, closed days) are hatched and labelled with the
    holiday's name or "closed"; fully booked open hours are vermillion; today's hours that had
    begun at the fetch are grey ("past"); an hour without slots is hatched (no capacity offered).

    Parameters
    ----------
    slots : pandas.DataFrame or AvailabilitySnapshot
        Slots of one fetch (``schema.SLOTS``), or the snapshot itself, whose days are then used.
    days : pandas.DataFrame or None
        Days of the fetch (``schema.DAYS``); each day is a row. None: the snapshot's.
    value : str or None
        ``available``, ``capacity``, ``utilization`` or ``slots`` per date and hour; None:
        free appointments of one service, utilization of several.
    ax, title, vmax
        As for :func:`capacity_heatmap`; give calendars of several locations one ``vmax``.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0]`` holds the date x hour table.
    """
    frame = slots_of(slots)
    if days is None:
        if not isinstance(slots, AvailabilitySnapshot):
            raise InputError("calendar_heatmap needs days: pass the snapshot, or slots and days")
        days = slots.days
    require_rows(frame, "slots", ["local_date", "local_hour"])
    require_rows(days, "days", ["local_date", "status", "holiday_name"])
    grid = heatmap_grid(frame, "local_date", "local_hour", value, "sum", days=days)
    dates = pd.Index(sorted(set(days["local_date"]) | set(grid.table.index)), name="local_date")
    grid = grid.reindex(index=dates)
    text = _default_title(grid, _subject(frame, _location_names(slots), days, grid))
    text = text if title is None else title
    made_here = ax is None
    ax = new_axes(ax, _grid_size(grid.table, False, text))
    image = _draw_grid(ax, grid, _norm([grid], grid.value, vmax), annotate=True, names={})
    days_off = _mark_days_off(ax, days, dates, grid.table.shape[1])
    _finish(ax, image, grid, _keys([grid], days_off=bool(days_off)), text, made_here)
    return ax


def small_multiples(
    slots: Slots,
    by: str = "service",
    rows: str = "weekday",
    cols: str = "local_hour",
    value: str | None = None,
    ncols: int = 3,
    max_panels: int = 12,
    agg: str = "mean",
) -> Figure:
    """One heatmap per service (or location) on a shared colour scale and shared axes.

    Parameters
    ----------
    slots : pandas.DataFrame or AvailabilitySnapshot
        Slots (columns of ``schema.SLOTS``), or the snapshot itself.
    by : str
        ``service`` or ``location``: one panel per value, in id order.
    rows, cols, value, agg : str
        As for :func:`capacity_heatmap`; every panel shows the union of rows and columns. The
        default value is free appointments when each panel holds one service, else utilization.
    ncols, max_panels : int
        Panels per row; more panels than ``max_panels`` is an InputError (filter first).

    Returns
    -------
    matplotlib.figure.Figure
        The panels and one colour bar for all of them.
    """
    _check_panels(by, rows, cols, ncols)
    frame = slots_of(slots)
    require_rows(frame, "slots", [AXES[by]])
    needed = [c for c in _PANEL_COLUMNS if c in frame.columns]  # not every column, copied
    groups = {key: part for key, part in frame[needed].groupby(AXES[by], observed=True, sort=True)}
    days = _days_of(slots)
    if len(groups) > max_panels:
        raise InputError(
            f"slots hold {len(groups)} {by}s, more panels than max_panels={max_panels}; "
            f"filter slots to fewer {by}s or raise max_panels"
        )
    if value is None:  # one choice for every panel: the scale is shared
        picks = {default_value(part, (rows, cols, by)) for part in groups.values()}
        value = next(v for v in ("slots", "utilization", "available") if v in picks)
    grids = _aligned(
        [
            heatmap_grid(part, rows, cols, value, agg, days=_panel_days(days, by, key))
            for key, part in groups.items()
        ]
    )
    norm = _norm(grids, value)
    fig, axes = _panel_grid(len(grids), ncols, grids[0].table)
    names = _names(frame, slots, rows, cols, by)
    for i, (ax, (key, part), grid) in enumerate(zip(axes, groups.items(), grids, strict=True)):
        _draw_grid(ax, grid, norm, annotate=grid.table.size <= MAX_PANEL_CELLS, names=names)
        ax.set_title(_panel_title(by, key, part, names), fontsize="medium")
        _label_outer(ax, i, min(ncols, len(axes)), len(axes))
    _colorbar(fig, ScalarMappable(norm, _colour_map(value)), list(axes), grids[0])
    keys = _keys(grids)
    if keys:
        fig.legend(handles=keys, loc="outside lower left", frameon=False, ncols=len(keys))
    subject = _subject(frame, _location_names(slots), days, grids[0])
    fig.suptitle(f"{_default_title(grids[0], '')}, per {by}\n{subject}")
    return fig


_PANEL_COLUMNS = (
    "service_id",
    "service_name",
    "location_id",
    "timezone",
    "fetched_at",
    "slot_start",
    "local_date",
    "local_hour",
    "weekday",
    "capacity",
    "available",
)


def _panel_days(days: pd.DataFrame | None, by: str, key: object) -> pd.DataFrame | None:
    """The days of one panel's service or location (None when the caller gave no days)."""
    if days is None:
        return None
    return days[days[AXES[by]] == key]


def _panel_title(by: str, key: object, part: pd.DataFrame, names: dict[str, str]) -> str:
    """``Haircut`` or ``Berlin Mitte (Europe/Berlin)``: names where known, else ids."""
    if by == "service":
        return names.get(str(key), str(key))
    zones = part["timezone"].dropna().unique() if "timezone" in part else []
    name = names.get(str(key), str(key))
    return f"{name} ({zones[0]})" if len(zones) == 1 else name


def _check_panels(by: str, rows: str, cols: str, ncols: int) -> None:
    if by not in ("service", "location"):
        raise InputError(f"by={by!r} is not one of: service, location")
    if by in (rows, cols):
        raise InputError(f"by={by!r} is already an axis of each panel; choose other rows/cols")
    if ncols < 1:
        raise InputError(f"ncols must be at least 1, got {ncols}")


def _aligned(grids: list[HeatmapGrid]) -> list[HeatmapGrid]:
    """Every grid on the union of all rows and columns, so panels share their axes."""
    index = sorted(set().union(*(g.table.index for g in grids)))
    columns = sorted(set().union(*(g.table.columns for g in grids)))
    return [grid.reindex(index, columns) for grid in grids]


def _label_outer(ax: Axes, i: int, ncols: int, n: int) -> None:
    """Axis labels on the left column and on the lowest panel of each column only."""
    bottom, left = i + ncols >= n, i % ncols == 0  # sharex hid labels above an empty cell
    ax.tick_params(labelbottom=bottom, labelleft=left)
    ax.set(xlabel=ax.get_xlabel() if bottom else "", ylabel=ax.get_ylabel() if left else "")


def _panel_grid(n: int, ncols: int, table: pd.DataFrame) -> tuple[Figure, list[Axes]]:
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    width, height = CELL_IN * 0.8 * table.shape[1] + 1.2, 0.3 * table.shape[0] + 1.3
    fig = new_figure((width * ncols + 2.5, height * nrows + 1.8))
    grid = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    for extra in grid[n:]:
        extra.set_visible(False)
    return fig, list(grid[:n])
