"""Figures in a real kernel the ways users set one up: their own Figure, their chosen format."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

SLOTS = (
    "import pandas as pd\n"
    "from IPython.display import display\n"
    "from matplotlib.figure import Figure\n"
    "from zimun_analytics.plots import capacity_heatmap\n"
    "slots = pd.DataFrame({'service_id': ['s_a'] * 2, 'service_name': ['A'] * 2,\n"
    "    'location_id': ['l_x'] * 2, 'timezone': ['Europe/Berlin'] * 2,\n"
    "    'weekday': pd.array([0, 1], dtype='Int8'),\n"
    "    'local_hour': pd.array([9, 10], dtype='Int8'),\n"
    "    'local_date': pd.to_datetime(['2026-03-23', '2026-03-24']),\n"
    "    'available': pd.array([0, 1], dtype='Int16'),\n"
    "    'capacity': pd.array([2, 2], dtype='Int16')})"
)


def _outputs(tmp_path, cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in [SLOTS, *cells]]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    return [
        [sorted(set(o.get("data", {})) - {"text/plain"}) for o in cell.outputs]
        for cell in notebook.cells[1:]
    ]


def test_a_figure_of_the_user_drawn_on_by_a_helper_shows(tmp_path):
    shown = _outputs(
        tmp_path,
        [
            "fig = Figure()\nax = fig.add_subplot()\ncapacity_heatmap(slots, ax=ax)",
            "fig",
        ],
    )
    assert shown == [[["image/png"]], [["image/png"]]]


def test_the_format_the_user_chose_is_followed_by_axes_too(tmp_path):
    shown = _outputs(
        tmp_path,
        [
            "%matplotlib inline\n%config InlineBackend.figure_formats = ['svg']",
            "ax = capacity_heatmap(slots)\nax",
            "ax.figure",
        ],
    )
    assert shown == [[], [["image/svg+xml"]], [["image/svg+xml"]]]
