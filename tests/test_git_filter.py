"""A notebook run and saved in place is stored by git without its outputs.

`.gitattributes` names the nbstripout filter for ``*.ipynb``; ``make git-filter`` (part of
every make target's set-up) configures it in the checkout's git config. Here both act on a
throwaway repository: ``git add`` of a notebook with outputs stages it as it was before the
run, cell ids kept, so committed notebooks do not churn.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent

if shutil.which("git") is None or shutil.which("make") is None:
    pytest.skip("needs git and make", allow_module_level=True)


def _run(*command: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}  # not a hook's repo
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8"
    )
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout


def _clean_notebook() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A picture", id="cafe0001"),
        nbformat.v4.new_code_cell("print('hello')", id="cafe0002"),
    ]
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return notebook


def _as_run_and_saved(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What JupyterLab saves after Run All: outputs, counts, widget state, kernel details."""
    ran = nbformat.from_dict(json.loads(json.dumps(notebook)))
    code = ran.cells[1]
    code.execution_count = 1
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    code.metadata["execution"] = {"iopub.status.busy": "2026-03-23T08:00:00.000Z"}
    ran.metadata["language_info"].update(
        codemirror_mode={"name": "ipython", "version": 3},
        file_extension=".py",
        mimetype="text/x-python",
        nbconvert_exporter="python",
        pygments_lexer="ipython3",
        version="3.11.7",
    )
    ran.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return ran


def test_git_add_stages_a_run_notebook_without_its_outputs(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _run("git", "init", "-q", cwd=repo)
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    # the Makefile's own set-up step, pointed at this interpreter (which has nbstripout)
    shown = _run(
        "make", "-f", str(ROOT / "Makefile"), "git-filter", f"PY={sys.executable}", cwd=repo
    )
    assert "stripped on commit" in shown
    clean = _clean_notebook()
    nbformat.write(_as_run_and_saved(clean), repo / "picture.ipynb")

    _run("git", "add", "picture.ipynb", cwd=repo)

    staged = _run("git", "show", ":picture.ipynb", cwd=repo)
    assert json.loads(staged) == json.loads(nbformat.writes(clean))
    assert "hello\\n" in (repo / "picture.ipynb").read_text()  # the outputs stay on disk
    assert _run("git", "status", "--porcelain", "picture.ipynb", cwd=repo).startswith("A ")
    diff = _run("git", "diff", "picture.ipynb", cwd=repo)
    assert diff == ""  # the saved outputs are no change to git


def test_make_leaves_a_folder_that_is_no_checkout_alone(tmp_path):
    shown = _run(
        "make", "-f", str(ROOT / "Makefile"), "git-filter", f"PY={sys.executable}", cwd=tmp_path
    )
    assert "stripped" not in shown
