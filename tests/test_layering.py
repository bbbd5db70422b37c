"""The house picture holds: each module imports only from its own layer or below."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zimun_analytics"
LAYERS = {
    "config": 1, "errors": 1, "models": 1, "schema": 1,
    "client": 2, "sync_client": 2, "auth": 2, "retries": 2, "timeouts": 2, "pacing": 2,
    "transport": 2,
    "fetch": 3, "mapping": 3, "wire": 3, "demo": 3,
    "snapshots": 4, "snapshotfiles": 4, "storelock": 4, "analysis": 4, "trends": 4,
    "plots": 4, "trendplots": 4, "reports": 4, "slotgrid": 4,
    "cli": 5, "widgets": 5, "pickerparts": 5, "pickergrid": 5, "__main__": 5,
}  # fmt: skip
CLIENT_SIDE = {name for name, layer in LAYERS.items() if layer <= 5} - {"__main__", "cli"}


def _first_party_imports(path: Path) -> set[str]:
    """Top-level modules of zimun_analytics that ``path`` imports (relative or absolute)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 1 and path.parent == PACKAGE:
                names.add(parts[0] if parts[0] else node.names[0].name)
            elif node.level == 0 and parts[0] == "zimun_analytics" and len(parts) > 1:
                names.add(parts[1])
            elif node.level >= 2:
                names.add(parts[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "zimun_analytics" and len(parts) > 1:
                    names.add(parts[1])
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_module_imports_only_lower_layers(path):
    layer = LAYERS.get(path.stem)
    if layer is None:
        assert path.stem == "__init__", f"{path.name} has no layer; add it to LAYERS"
        return
    for name in _first_party_imports(path) - {"sandbox", "__init__"}:
        assert LAYERS.get(name, 0) <= layer, f"{path.stem} (L{layer}) imports {name}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "sandbox").glob("*.py")), ids=lambda p: p.name)
def test_sandbox_imports_nothing_from_the_client_side(path):
    assert not _first_party_imports(path) & CLIENT_SIDE


def test_only_edges_import_the_sandbox():
    for path in PACKAGE.glob("*.py"):
        if "sandbox" in _first_party_imports(path):
            assert path.stem in {"cli", "widgets", "__main__"}, path.name
