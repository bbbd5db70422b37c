"""The public surface: what `import zimun_analytics` offers, and what it does not drag in."""

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import zimun_analytics
import zimun_analytics.sandbox as sandbox


def _public_names(module):
    return {name for name in vars(module) if not name.startswith("_")}


def test_package_all_matches_its_public_names():
    public = {
        name
        for name in _public_names(zimun_analytics)
        if not inspect.ismodule(getattr(zimun_analytics, name))  # submodules appear once loaded
    }
    lazy = set(zimun_analytics._LAZY)
    assert set(zimun_analytics.__all__) == (public - lazy) | lazy | {"__version__"}
    for name in lazy:
        assert getattr(zimun_analytics, name).__name__ == name
    assert zimun_analytics.__version__


def test_package_exports_the_client_errors_and_records():
    from zimun_analytics import NotFoundError, Slot, ZimunClient, ZimunError

    assert issubclass(NotFoundError, ZimunError)
    assert ZimunClient.__module__ == "zimun_analytics.client._sync_client"
    assert Slot.__module__ == "zimun_analytics._models"


# The public API beside zimun_analytics itself: each face and every name it offers. A name
# added or dropped here is an API change; module paths behind the faces are not API.
FACES = {
    "client": {"AsyncZimunClient", "ZimunClient", "new_idempotency_key"},
    "fetch": {"fetch_availability", "fetch_availability_async"},
    "store": {"SnapshotStore", "secrets_in"},
    "analysis": {
        "AGGREGATIONS", "AXES", "VALUES", "HeatmapGrid", "booking_pace", "daily_capacity",
        "default_value", "diff_snapshots", "fill_curves", "heatmap_grid", "heatmap_table",
        "lead_time_trend", "next_available", "service_overview", "snapshot_summary",
    },
    "plots": {
        "booking_pace_plot", "calendar_heatmap", "capacity_heatmap", "fill_curve_plot",
        "heatmap_report", "lead_time_plot", "save_figure", "small_multiples",
        "write_heatmap_reports",
    },
    "widgets": {"SlotPicker"},
    "cli": {"main"},
    "sandbox": {"Sandbox", "SandboxSettings", "create_app", "serve_forever"},
}  # fmt: skip


@pytest.mark.parametrize("face", FACES)
def test_each_face_offers_exactly_its_listed_names(face):
    loaded = importlib.import_module(f"zimun_analytics.{face}")
    assert set(loaded.__all__) == FACES[face]
    assert len(loaded.__all__) == len(FACES[face])
    for name in loaded.__all__:
        assert getattr(loaded, name) is not None


def test_the_package_ships_its_type_information():
    assert (Path(zimun_analytics.__file__).parent / "py.typed").is_file()


def test_version_lives_in_a_leaf_module():
    from zimun_analytics import _version

    assert zimun_analytics.__version__ == _version.__version__
    tree = ast.parse(Path(_version.__file__).read_text())
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("import sys; sys.modules['matplotlib'] = None; import zimun_analytics.plots", "plots"),
        ("import sys; sys.modules['starlette'] = None; import zimun_analytics.sandbox", "sandbox"),
        (
            "import sys; sys.modules['ipywidgets'] = None\n"
            "from zimun_analytics.widgets import SlotPicker\n"
            "SlotPicker(None)",  # refused before it touches the client
            "widgets",
        ),
    ],
)
def test_a_missing_extra_names_itself(code, extra):
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1
    assert f"pip install 'zimun-analytics[{extra}]'" in run.stderr


def test_sandbox_all_lists_what_it_exports():
    assert set(sandbox.__all__) == {"Sandbox", "SandboxSettings", "create_app", "serve_forever"}
    for name in sandbox.__all__:
        assert getattr(sandbox, name)


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, zimun_analytics; "
        "heavy = {'matplotlib', 'ipywidgets', 'uvicorn', 'starlette', 'pandas', 'aiohttp'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_the_cli_says_which_extra_a_sandbox_run_needs(tmp_path):
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from zimun_analytics.cli import main\n"
        f"sys.exit(main(['snapshot', '--sandbox', '--out', {str(tmp_path / 'out')!r}]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "error: starlette is not installed" in run.stderr
    assert "pip install 'zimun-analytics[sandbox]'" in run.stderr
    assert not (tmp_path / "out").exists()  # nothing made before the refusal
