"""The house holds: each room imports only the rooms below it that the house allows.

Every import of every module of the package is resolved to the module it names (relative
levels, ``from . import x`` and ``from .. import x`` included, in function bodies and under
``TYPE_CHECKING`` too) and then to its room. ARCHITECTURE.md draws the same picture.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "zimun_analytics"
NAME = "zimun_analytics"
FOUNDATIONS = {"_config", "_errors", "_models", "_schema", "_version"}
# which rooms each room may import (its own always); foundations may import foundations only
ALLOWED = {
    "foundations": set(),
    "client": {"foundations"},
    "fetch": {"foundations", "client"},
    "store": {"foundations"},
    "analysis": {"foundations"},
    "plots": {"foundations", "analysis"},
    "widgets": {"foundations", "client"},
    "cli": {"foundations", "client", "fetch", "store", "analysis", "plots", "sandbox"},
    "sandbox": set(),  # apart: shares no code with the client side
    "top": {"foundations", "client", "fetch", "store", "cli"},  # __init__, __main__
}
ROOMS = set(ALLOWED) - {"foundations", "top"}


def _module_name(path: Path) -> str:
    parts = [NAME, *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    """The room of a dotted module name inside the package."""
    parts = module.split(".")[1:]
    if not parts:
        return "top"
    if parts[0] in FOUNDATIONS:
        return "foundations"
    if parts[0] == "__main__":
        return "top"
    assert parts[0] in ROOMS, f"{module} is in no room; add it to ALLOWED and ARCHITECTURE.md"
    return parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) for every first-party module ``path`` imports."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                assert base, f"{path}: import beyond the package"
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != NAME:
                continue
            found.append((node.lineno, target))
            for alias in node.names:  # from . import x: x may be a module
                candidate = f"{target}.{alias.name}"
                relative = candidate.split(".")[1:]
                if (PACKAGE.joinpath(*relative).with_suffix(".py")).exists() or (
                    PACKAGE.joinpath(*relative) / "__init__.py"
                ).exists():
                    found.append((node.lineno, candidate))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == NAME]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_house(path):
    room = _room(_module_name(path))
    for line, target in _imports(path):
        other = _room(target)
        if other == room:
            continue
        assert other in ALLOWED[room], f"{path.name}:{line}: {room} imports {target} ({other})"
        face = target.split(".")[:2]
        if room != "top" and other != "foundations":  # another room: only through its face
            assert target == ".".join(face), f"{path.name}:{line}: {target} is behind a face"


def test_the_resolver_sees_what_the_old_test_missed():
    """`from . import __version__` at the top once hid an upward import; now it is resolved."""
    fake = PACKAGE / "client" / "_client.py"
    resolved = {target for _, target in _imports(fake)}
    assert f"{NAME}._version" in resolved and f"{NAME}._config" in resolved
    assert _room(f"{NAME}.client._auth") == "client" and _room(NAME) == "top"


def test_foundations_import_only_foundations_and_no_heavy_rooms():
    for name in FOUNDATIONS:
        for line, target in _imports(PACKAGE / f"{name}.py"):
            assert _room(target) == "foundations", f"{name}.py:{line} imports {target}"


def test_every_module_outside_faces_is_private():
    """Module paths are not API: inside a room, every module but its face starts with _."""
    for path in MODULES:
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "sandbox" or path.name in {"__init__.py", "__main__.py"}:
            continue
        assert path.name.startswith("_"), f"{relative} is public; make it _{path.name}"
