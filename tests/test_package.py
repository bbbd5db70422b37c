"""The public surface: what `import zimun_analytics` offers, and what it does not drag in."""

import subprocess
import sys

import zimun_analytics
import zimun_analytics.sandbox as sandbox


def _public_names(module):
    return {name for name in vars(module) if not name.startswith("_")}


def test_package_all_matches_its_public_names():
    assert set(zimun_analytics.__all__) == {"__version__"}
    assert zimun_analytics.__version__


def test_sandbox_all_lists_what_it_exports():
    assert set(sandbox.__all__) == {"Sandbox", "SandboxSettings", "create_app", "serve_forever"}
    for name in sandbox.__all__:
        assert getattr(sandbox, name)


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, zimun_analytics; "
        "heavy = {'matplotlib', 'ipywidgets', 'uvicorn', 'starlette', 'pandas'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"
