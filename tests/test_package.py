"""The public surface: what `import zimun_analytics` offers, and what it does not drag in."""

import importlib
import inspect
import subprocess
import sys

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
    assert ZimunClient.__module__ == "zimun_analytics.sync_client"
    assert Slot.__module__ == "zimun_analytics.models"


@pytest.mark.parametrize(
    "module",
    ["client", "sync_client", "errors", "models", "config", "auth", "retries", "schema", "fetch"],
)
def test_every_module_has_an_all(module):
    loaded = importlib.import_module(f"zimun_analytics.{module}")
    assert set(loaded.__all__) <= _public_names(loaded)


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
