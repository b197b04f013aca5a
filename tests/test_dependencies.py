"""Imports flow one way: a package may import the ones below it in the chain, never one above.

    ground → extract → transform → load → quality → alerts → website → stack → piawatch → dags, plugins

``stack`` (the native Celery stack's processes) sits under ``piawatch``, whose doctor reports on it.
``ground`` (errors, settings, the record schema, text) imports nothing of the project; ``demo``
(the corpus generator and the demo websites) stands beside the chain and may use the packages
below ``piawatch``, which runs it for ``make run``. Every import counts, also the ones inside
functions: an import deferred to call time is still a dependency.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from ground.settings import PROJECT_ROOT

CHAIN = ("ground", "extract", "transform", "load", "quality", "alerts", "website", "stack", "piawatch",
         "dags", "plugins")
LEVEL = {package: level for level, package in enumerate(CHAIN)}
# demo sits beside the chain, just under piawatch (piawatch.demo_run serves it).
LEVEL["demo"] = LEVEL["piawatch"] - 0.5


def _imports(path: Path) -> set[str]:
    """The project packages a module imports (absolute imports; relative ones stay in the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LEVEL)


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (PROJECT_ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("package", sorted(LEVEL, key=LEVEL.get))
def test_imports_flow_down_the_chain(package):
    upward = [f"{path.relative_to(PROJECT_ROOT)} imports {imported}"
              for path in _modules(package)
              for imported in sorted(_imports(path))
              if LEVEL[imported] > LEVEL[package]]
    assert not upward, "imports against the chain " + " → ".join(CHAIN) + ":\n" + "\n".join(upward)


def test_the_ground_imports_nothing_of_the_project():
    outside = {str(path.relative_to(PROJECT_ROOT)): sorted(_imports(path) - {"ground"})
               for path in _modules("ground")}
    assert not {module: names for module, names in outside.items() if names}


def test_the_rule_sees_a_deferred_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from alerts.send import send_alerts\n    import load.backend\n")
    assert _imports(module) == {"alerts", "load"}


def test_every_package_of_the_chain_is_installed():
    """`make install` installs the project (pip install -e .): a package its list leaves out is
    missing from the `piawatch` command, while the tests (run from the checkout) still pass."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = {pattern.rstrip("*") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    packages = {package for package in LEVEL if (PROJECT_ROOT / package / "__init__.py").exists()}
    assert packages - included == set()
