"""What every figure of the plots room shares.

A new pyplot-free Axes that shows in notebooks, input checks, tick text, and saving to PNG
or SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, SupportsInt

import pandas as pd
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._errors import InputError
from .._schema import WEEKDAY_NAMES

SAVE_DPI = 110  # sharp on screens and in reports; 150 cost ~40 % more time to render
SAVE_FORMATS = ("png", "svg")
SVG_SALT = "zimun-analytics"  # fixed ids in SVG files, so the same figure gives the same bytes


def require_rows(frame: pd.DataFrame, what: str, needed: Sequence[str]) -> None:
    """Raise InputError for an empty frame or one lacking columns."""
    if frame is None or len(frame) == 0:
        raise InputError(f"{what} is empty: nothing to plot; fetch or select some data first")
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise InputError(f"{what} lacks the columns {', '.join(missing)}")


def new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """The caller's Axes, or one on a new pyplot-free Figure; either shows in notebooks."""
    if ax is not None:
        _show_figures_in_notebooks()  # a caller's Figure() shows as well as one of ours
        return ax
    return new_figure(size).add_subplot()


def new_figure(size: tuple[float, float]) -> Figure:
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


def tick_text(axis_name: str, label: object) -> str:
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


def root_figure(ax: Axes) -> Figure:
    """The Figure an Axes is drawn on; every Axes made by a Figure has one."""
    figure = ax.get_figure(root=True)
    if figure is None:
        raise InputError("the Axes belongs to no Figure; draw on one made by Figure.add_subplot")
    return figure


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
    figure = figure_or_ax if isinstance(figure_or_ax, Figure) else root_figure(figure_or_ax)
    metadata = {"Date": None} if fmt == "svg" else None  # reproducible SVG files: no date ...
    with rc_context({"svg.hashsalt": SVG_SALT}):  # ... and no random ids of clips and hatches
        figure.savefig(path, format=fmt, dpi=SAVE_DPI, metadata=metadata)
    return path
