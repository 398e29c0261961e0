"""Plugins from outside the package: a study file's ``plugins`` and the ``nas.plugins`` entry points.

A plugin is a Python module that registers spaces, tasks, proxies, evaluators
or samplers with the decorators the built-ins use (``@register_space``,
``@TASKS.register``, ...). A study names its plugins as file paths (relative
to the study file; :func:`nas.config.load_study_file` makes them absolute) or
as importable module names::

    plugins = ["my_space.py", "mypkg.nas_plugins"]

Installed packages may instead declare an entry point in the group
``nas.plugins``; those load wherever plugins load. The study stores its
plugin list, so ``nas worker``, ``nas validate``, ``nas export`` and
``nas.load`` import the same modules. A plugin that fails to import is one
:class:`~nas.errors.ConfigError` line naming it and its error.

>>> load_plugins([])  # nothing to load, entry points aside
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from nas.config import is_file_plugin
from nas.errors import ConfigError, NasError, first_line

__all__ = ["ENTRY_POINT_GROUP", "is_file_plugin", "load_plugin", "load_plugins", "load_entry_points",
           "plugin_sources", "materialise"]

ENTRY_POINT_GROUP = "nas.plugins"


def load_plugins(specs: Iterable[str]) -> list[ModuleType]:
    """Import the entry-point plugins, then each of ``specs`` (once per process)."""
    specs = list(specs)
    if specs:
        _discover_builtins()
    load_entry_points()
    return [load_plugin(spec) for spec in specs]


def load_plugin(spec: str) -> ModuleType:
    """Import one plugin, a file path or a module name; errors name the plugin."""
    try:
        if is_file_plugin(spec):
            return _import_file(Path(spec))
        return importlib.import_module(spec)
    except NasError as exc:
        raise ConfigError(f"plugins: plugin '{spec}' failed: {first_line(exc, 300)}") from None
    except ModuleNotFoundError as exc:
        if exc.name and spec.startswith(exc.name):
            raise ConfigError(f"plugins: plugin '{spec}': no module named '{exc.name}' "
                              "(a file path needs a .py suffix)") from None
        raise _import_error(spec, exc) from None
    except Exception as exc:  # noqa: BLE001 - any error in the user's module is one line
        raise _import_error(spec, exc) from None


def load_entry_points() -> list[str]:
    """Import every installed ``nas.plugins`` entry point; return their names."""
    from importlib.metadata import entry_points

    names = []
    points = list(entry_points(group=ENTRY_POINT_GROUP))
    if points:
        _discover_builtins()
    for point in points:
        try:
            point.load()
        except Exception as exc:  # noqa: BLE001
            raise ConfigError(f"plugins: entry point '{point.name}' ({point.value}) failed to "
                              f"import: {type(exc).__name__}: {first_line(exc, 300)}") from None
        names.append(point.name)
    return names


def plugin_sources(specs: Iterable[str]) -> dict[str, str]:
    """The text of each file plugin, by its path: stored with a study for other machines."""
    sources = {}
    for spec in specs:
        path = Path(spec)
        if is_file_plugin(spec) and path.is_file():
            sources[spec] = path.read_text(encoding="utf-8")
    return sources


def materialise(specs: Iterable[str], sources: dict[str, str]) -> tuple[str, ...]:
    """``specs`` with each file plugin missing here replaced by a copy of its stored source.

    A worker on another machine (or after the file moved) then imports exactly the code the
    study was created with. The copies live in ``$NAS_PLUGIN_CACHE`` (default
    ``~/.cache/nas/plugins``), one folder per content hash. A plugin that imports sibling
    files of its own must be installed as a package (entry point) instead.
    """
    cache = Path(os.environ.get("NAS_PLUGIN_CACHE") or Path.home() / ".cache" / "nas" / "plugins")
    out = []
    for spec in specs:
        if is_file_plugin(spec) and not Path(spec).is_file() and spec in sources:
            text = sources[spec]
            copy = cache / hashlib.sha256(text.encode()).hexdigest()[:16] / Path(spec).name
            if not copy.is_file():
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_text(text, encoding="utf-8")
            spec = str(copy)
        out.append(spec)
    return tuple(out)


def _import_file(path: Path) -> ModuleType:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"file not found: {path}")
    # One module per file and process: importing it twice would register its names twice.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    module_name = f"nas_plugin_{_identifier(path.stem)}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"not a Python module: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _discover_builtins() -> None:
    """Register the built-ins first, so a plugin reusing a built-in name fails on its own import."""
    from nas.evaluators import EVALUATORS
    from nas.samplers import SAMPLERS
    from nas.tasks import TASKS
    from proxies import PROXIES
    from search_spaces import SPACES

    for registry in (SPACES, TASKS, EVALUATORS, SAMPLERS, PROXIES):
        registry.names()


def _import_error(spec: str, exc: BaseException) -> ConfigError:
    return ConfigError(
        f"plugins: plugin '{spec}' failed to import: {type(exc).__name__}: {first_line(exc, 300)}"
    )


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)
