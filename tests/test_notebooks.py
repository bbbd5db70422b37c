"""Every notebook in notebooks/ runs top to bottom against the sandbox, shows its pictures, and
stays clean; a figure of the plotting helpers shows as an image however a cell ends."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from zimun_analytics import plots

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300
SECRETS = ["demo-secret", "readonly-secret", "other-secret", "zt_"]  # sandbox secrets, tokens
# a cell that calls one of these draws a picture, and a person expects to see it
_DRAWING = "|".join(name for name in plots.__all__ if name != "save_figure")
PLOTTING = re.compile(rf"\b({_DRAWING})\(")
IMAGE_TYPES = {"image/png", "image/svg+xml"}


def _run(notebook: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    return notebook


def _images(cell: nbformat.NotebookNode) -> list[str]:
    """The image outputs of a cell, one entry per output that carries an image."""
    return [
        kind
        for output in cell.get("outputs", [])
        for kind in IMAGE_TYPES & set(output.get("data", {}))
    ]


def test_there_are_notebooks():
    assert NOTEBOOKS


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, encoding="utf-8"
        )
    except FileNotFoundError:  # no git on this machine
        return None


def _what_git_holds(path: Path) -> dict[str, str]:
    """The notebook as committed (HEAD) and as staged for the next commit (the index).

    The nbstripout filter (``.gitattributes``, set up by make) strips outputs on ``git add``,
    so a notebook run and saved in place keeps its outputs on disk only. Outside a git
    checkout, or for a notebook git does not know yet, this is the file itself.
    """
    top = _git(path.parent, "rev-parse", "--show-toplevel")
    if top is None or top.returncode != 0:
        return {"the working file (no git checkout)": path.read_text(encoding="utf-8")}
    relative = path.resolve().relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    held = {}
    for where, spec in (("HEAD", f"HEAD:{relative}"), ("the index", f":{relative}")):
        shown = _git(path.parent, "show", spec)
        if shown is not None and shown.returncode == 0:
            held[where] = shown.stdout
    return held or {"the working file (not in git yet)": path.read_text(encoding="utf-8")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for where, text in _what_git_holds(path).items():
        notebook = nbformat.reads(text, as_version=4)
        fix = (
            "clear its outputs and save it"
            if where.startswith("the working file")
            else "run make once (it sets up the nbstripout git filter), then git add it again"
        )
        for number, cell in enumerate(notebook.cells):
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, (
                    f"{path.name} has outputs in cell {number} in {where}: {fix}"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_shows_its_pictures_and_no_secrets(path, tmp_path):
    notebook = _run(nbformat.read(path, as_version=4), tmp_path)
    shown = json.dumps([cell.get("outputs", []) for cell in notebook.cells])
    assert "Traceback" not in shown
    for secret in SECRETS:
        assert secret not in shown
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and PLOTTING.search(cell.source):
            assert _images(cell), f"cell {number} draws a figure but shows no image:\n{cell.source}"


def test_every_way_a_cell_ends_shows_the_figure_once_and_pyplot_stays_out(tmp_path):
    """Axes or Figure as a cell's value, display(ax), display(fig): one image each."""
    cells = {
        "setup": (
            "import sys\n"
            "import pandas as pd\n"
            "from IPython.display import display\n"
            "from zimun_analytics.plots import capacity_heatmap, small_multiples, lead_time_plot\n"
            "slots = pd.DataFrame({'service_id': ['s_a'] * 3, 'service_name': ['A'] * 3,\n"
            "    'location_id': ['l_x'] * 3, 'timezone': ['Europe/Berlin'] * 3,\n"
            "    'weekday': pd.array([0, 1, 2], dtype='Int8'),\n"
            "    'local_hour': pd.array([9, 10, 11], dtype='Int8'),\n"
            "    'local_date': pd.to_datetime(['2026-03-23', '2026-03-24', '2026-03-25']),\n"
            "    'available': pd.array([0, 1, 2], dtype='Int16'),\n"
            "    'capacity': pd.array([2, 2, 2], dtype='Int16')})"
        ),
        "axes": "capacity_heatmap(slots)",
        "figure": "ax = capacity_heatmap(slots)\nax.figure",
        "display both": "display(ax)\ndisplay(ax.figure)",
        "small multiples": "small_multiples(slots, by='location')",
        "assigned, not shown": "ax2 = capacity_heatmap(slots)",
        "no pyplot": (
            "import matplotlib._pylab_helpers as helpers\n"
            "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot',\n"
            "      helpers.Gcf.get_num_fig_managers(), 'managers')"
        ),
        # a pyplot figure of the user's is shown by pyplot's inline backend, once
        "user's pyplot": (
            "import matplotlib.pyplot as plt\nfig, own = plt.subplots()\nown.plot([1, 2])\nown"
        ),
        "ours after pyplot": "capacity_heatmap(slots)",
    }
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells.values()]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    _run(notebook, tmp_path)
    images = {name: _images(cell) for name, cell in zip(cells, notebook.cells, strict=True)}
    assert images == {
        "setup": [],
        "axes": ["image/png"],
        "figure": ["image/png"],
        "display both": ["image/png", "image/png"],
        "small multiples": ["image/png"],
        "assigned, not shown": [],
        "no pyplot": [],
        "user's pyplot": ["image/png"],
        "ours after pyplot": ["image/png"],
    }
    assert notebook.cells[6].outputs[0]["text"] == "no pyplot 0 managers\n"
