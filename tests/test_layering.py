"""The import graph is layered: errors and options at the bottom, the engine above them,
the settings and the feedback store above those, the HTTP layer and the commands on top.

A lower layer never imports a higher one, so the engine runs without the web service (the
CLI, batch jobs, training) and the settings can be read without loading the engine.
Imports inside functions and under TYPE_CHECKING count too: they are dependencies all the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[1] / "service"

# Each layer, and the newstag modules it may import (besides its own package's).
ALLOWED = {
    "service.errors": set(),
    "service.options": {"service.errors"},
    "service.engine": {"service.errors", "service.options"},
    # The settings build the engine's options, and nothing of the engine itself.
    "service.config": {"service.errors", "service.options"},
    "service.feedback": {"service.errors"},
}
# Outside service/http, only these may import it: the app factory, and bulk tagging, which
# reads its input with the API's own document schema.
HTTP_IMPORTERS = {"service", "service.batch"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVICE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as absolute names (``from . import x`` gives both the package and x)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


SOURCES = sorted(p for p in SERVICE.rglob("*.py"))


def test_the_walk_finds_every_layer():
    names = {_module_name(p) for p in SOURCES}
    for layer in ALLOWED:
        assert any(_within(n, layer) for n in names), layer
    assert "service.engine.tagger" in names and "service.http.api" in names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SERVICE.parent)))
def test_no_module_imports_a_layer_above_it(path):
    name = _module_name(path)
    ours = {m for m in _imports(path) if _within(m, "service")}
    for layer, allowed in ALLOWED.items():
        if not _within(name, layer):
            continue
        wrong = sorted(m for m in ours if not _within(m, layer) and not any(_within(m, a) for a in allowed))
        assert not wrong, f"{name} ({layer}) may import only {sorted(allowed) or 'nothing of newstag'}: {wrong}"
    if not _within(name, "service.http") and name not in HTTP_IMPORTERS:
        assert not any(_within(m, "service.http") for m in ours), f"{name} imports the HTTP layer"


@pytest.mark.parametrize("path", [p for p in SOURCES if _within(_module_name(p), "service.engine")],
                         ids=lambda p: p.name)
def test_the_engine_never_imports_the_web_framework(path):
    web = {m for m in _imports(path) if m.split(".")[0] in {"flask", "werkzeug", "gunicorn", "sqlalchemy"}}
    assert not web, f"{path.name} imports {sorted(web)}"


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    """The rule bites: an engine module importing the settings is reported."""
    fake = SERVICE / "engine" / "tagger.py"
    monkeypatch.setattr(Path, "read_text", lambda self, **_: "from ..config import Settings\n")
    with pytest.raises(AssertionError, match="service.config"):
        test_no_module_imports_a_layer_above_it(fake)
