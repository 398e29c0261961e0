"""The import rules of docs/architecture.md: every import of the project's own modules runs
down the layers, nothing imports the CLI, and the torch-free entry points stay torch-free.

Every ``import`` statement counts, at the top of a file or inside a function (a lazy
import is still a dependency), ``if TYPE_CHECKING:`` blocks included. A module belongs
to the most specific unit of :data:`UNITS` its name starts with; a unit may import itself
and the units :data:`MAY_IMPORT` lists, nothing else. A new module in a listed package is
checked the day it is added; a new top-level module of ``nas`` must be given a unit here
(and a place in docs/architecture.md).
"""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "search_spaces", "proxies", "supernets", "dashboard")

#: leaf modules: import no other module of the project but each other
LEAVES = ("nas.errors", "nas.architecture", "nas.registry", "nas._version", "nas.device",
          "nas.units")

#: unit -> the units it may import (besides itself and the leaves); lower layers first
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "leaves": (),
    "search_spaces": (),
    "proxies": ("search_spaces",),
    "supernets": ("search_spaces",),
    "nas.config": (),
    # the one dominance/hypervolume module is pure numpy: the store may use it
    "nas.dominance": (),
    "nas.store": ("nas.dominance",),
    "nas.pruners": (),
    "nas.tasks": ("search_spaces",),
    # zero-cost architecture features (no model built) and the predictors fitted on them
    "nas.features": ("search_spaces",),
    "nas.predictors": ("nas.features", "search_spaces"),
    "nas.latency": ("search_spaces",),
    "nas.train": ("nas.tasks", "search_spaces"),
    "nas.metrics": ("nas.latency", "proxies", "search_spaces"),
    "nas.supernet": ("nas.config", "nas.store", "nas.tasks", "search_spaces", "supernets"),
    # the predictor fidelity scores by a model fitted on the study's results
    "nas.evaluators": ("nas.config", "nas.store", "nas.tasks", "nas.train", "nas.metrics",
                       "nas.latency", "nas.supernet", "nas.features", "nas.predictors",
                       "search_spaces", "proxies", "supernets"),
    # samplers read a study's trials through the store (the one door to Optuna)
    "nas.samplers": ("nas.store", "nas.features", "nas.predictors", "nas.dominance", "search_spaces", "proxies"),
    # a study's plugins: imported after the built-in registries, so a clash is named
    "nas.plugins": ("nas.config", "nas.tasks", "nas.evaluators", "nas.samplers", "proxies",
                    "search_spaces"),
    "nas.search": ("nas.plugins", "nas.config", "nas.store", "nas.pruners", "nas.dominance",
                   "nas.tasks", "nas.latency", "nas.evaluators", "nas.samplers",
                   "search_spaces"),
    "nas.export": ("nas.plugins", "nas.config", "nas.store", "nas.search", "nas.tasks", "nas.train",
                   "nas.metrics", "nas.evaluators", "nas.supernet", "search_spaces", "supernets"),
    "nas.bench": ("nas.config", "nas.store", "nas.features", "nas.predictors", "nas.dominance", "nas.tasks",
                  "nas.train", "nas.metrics", "nas.latency", "nas.evaluators", "nas.samplers",
                  "nas.supernet", "nas.search", "search_spaces", "proxies", "supernets"),
    # the package itself is the user's API (nas.run, nas.load, ...): it may reach everything
    # below it, and only the CLI may import it
    "nas": ("nas.api", "nas.plugins", "nas.config", "nas.store", "nas.dominance", "nas.tasks",
            "nas.search", "nas.export", "nas.supernet", "nas.evaluators", "nas.samplers",
            "search_spaces"),
    # `nas check-plugin`: the registry contracts run on a plugin's components
    "nas.plugin_contract": ("nas.plugins", "nas.tasks", "nas.evaluators", "nas.samplers",
                            "proxies", "search_spaces"),
    # the Python API behind nas.run/trials/best/pareto
    "nas.api": ("nas.config", "nas.store", "nas.search", "nas.export"),
    "nas.cli": ("nas", "nas.plugin_contract", "nas.api", "nas.plugins", "nas.config", "nas.store", "nas.pruners", "nas.dominance",
                "nas.tasks", "nas.train", "nas.metrics", "nas.latency",
                "nas.evaluators", "nas.samplers", "nas.supernet", "nas.search", "nas.export",
                "nas.bench", "search_spaces", "proxies", "supernets"),
    "nas.__main__": ("nas.cli",),
    "dashboard": ("nas.store", "nas.dominance"),
}

#: units whose modules must not import torch, even lazily (nas.device imports it only to
#: resolve "auto", and no torch-free entry point calls it)
TORCH_FREE = ("leaves", "nas.config", "nas.store", "nas.dominance",
              "dashboard")
TORCH_FREE_EXCEPT = ("nas.device",)


def unit_of(module: str) -> str | None:
    """The unit of a module: a leaf, else the longest unit name that prefixes it."""
    if module in LEAVES:
        return "leaves"
    best = None
    for unit in MAY_IMPORT:
        if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best)):
            best = unit
    return best


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path) -> list[tuple[str, int]]:
    """Every module ``module`` imports (absolute names) with its line, at any depth."""
    found = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((name, node.lineno))
            # `from nas import config` imports the module nas.config, not the API
            found += [(f"{name}.{alias.name}", node.lineno) for alias in node.names
                      if f"{name}.{alias.name}" in MODULES]
    return found


MODULES = project_modules()


def test_every_module_has_a_unit():
    assert [m for m in MODULES if unit_of(m) is None] == []


def test_the_rules_are_layers():
    """No two units may import each other, directly or around a loop."""
    graph = {unit: set(allowed) for unit, allowed in MAY_IMPORT.items()}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a loop
    assert all(target in MAY_IMPORT for allowed in graph.values() for target in allowed)


def test_every_import_runs_down_the_layers():
    broken = []
    for module, path in MODULES.items():
        unit = unit_of(module)
        for name, line in imports_of(module, path):
            if name.split(".")[0] not in PACKAGES:
                continue
            target = unit_of(name)
            if target in (unit, "leaves"):
                if unit == "leaves" and name == "nas":
                    broken.append(f"{path.relative_to(REPO)}:{line}: {module} -> {name}")
                continue
            # `from nas import X` where X is a name of the API, not a module
            if name == "nas" and target == "nas" and unit != "nas.cli":
                broken.append(f"{path.relative_to(REPO)}:{line}: {module} -> nas (the API)")
                continue
            if target not in MAY_IMPORT[unit]:
                broken.append(f"{path.relative_to(REPO)}:{line}: {module} ({unit}) -> {name} ({target})")
    assert broken == [], "imports up the layers (docs/architecture.md):\n" + "\n".join(broken)


def test_nothing_imports_the_cli():
    importers = sorted({module for module, path in MODULES.items()
                        for name, _line in imports_of(module, path)
                        if unit_of(name) == "nas.cli" and unit_of(module) != "nas.cli"})
    assert importers == ["nas.__main__"]


def test_the_torch_free_units_import_no_torch():
    found = [f"{path.relative_to(REPO)}:{line}: {name}"
             for module, path in MODULES.items()
             if unit_of(module) in TORCH_FREE and module not in TORCH_FREE_EXCEPT
             for name, line in imports_of(module, path)
             if name.split(".")[0] in ("torch", "torch_geometric", "torchvision")]
    assert found == []


@pytest.mark.parametrize("code", [
    "sys.argv = ['nas', '--help']; import nas.cli; nas.cli.main()",
    "import nas.store",
    "import dashboard.app",
    "import nas, nas.config",
])
def test_entry_points_start_without_torch(code):
    """``nas --help``, the store and the dashboard start without importing torch (slow)."""
    probe = (f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
             "heavy = sorted(m for m in ('torch', 'torch_geometric') if m in sys.modules)\n"
             "print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                            text=True, timeout=120, env=_env())
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout[-2000:]


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env
