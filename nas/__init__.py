"""nas: neural architecture search with SQL-stored studies.

Kept import-light (no torch) so ``nas --help``, the store and the dashboard
start fast; heavy pieces are imported from their modules.
"""

from __future__ import annotations

from typing import Any

from nas._version import __version__
from nas.architecture import Architecture
from nas.errors import NasError

__all__ = ["Architecture", "NasError", "__version__", "best", "load", "pareto", "run", "trials"]


def run(study: Any, **overrides: Any) -> Any:
    """Run (or resume) a search; ``study`` is a TOML path, a mapping or a ``StudyConfig``.

    Returns a :class:`nas.api.StudyResult` (``.trials()``, ``.pareto()``,
    ``.best()``, ``.export(...)``). ``overrides`` are the CLI's (``storage``,
    ``n_trials``, ``n_jobs``, ``data_dir``, ...).

    >>> result = nas.run("studies/quickstart.toml", storage="sqlite:///nas.db")  # doctest: +SKIP
    """
    from nas.api import run as run_study

    return run_study(study, **overrides)


def trials(name: str, storage: str | None = None) -> Any:
    """Every trial of study ``name`` as a pandas DataFrame (torch-free)."""
    from nas.api import trials as read_trials

    return read_trials(name, storage)


def best(name: str, storage: str | None = None, metric: str | None = None) -> Any:
    """The best complete trial (a pandas Series) by ``metric`` (default: the only objective)."""
    from nas.api import best as best_trial

    return best_trial(name, storage, metric)


def pareto(name: str, storage: str | None = None) -> Any:
    """The complete, non-dominated trials of study ``name`` as a DataFrame."""
    from nas.api import pareto as pareto_trials

    return pareto_trials(name, storage)


def load(path: Any) -> Any:
    """``(model, arch)`` from an export folder written by ``nas export``.

    ``model`` is a ready ``torch.nn.Module`` in eval mode (rebuilt from the
    search space, weights loaded strictly from ``model.pt`` with
    ``weights_only=True``); ``arch`` its :class:`Architecture`. The folder is
    validated first (files, checksums, arch.json against model.pt); a damaged
    one raises :class:`nas.errors.ExportError` with a one-line message.

    >>> model, arch = nas.load("exported/quickstart/3")  # doctest: +SKIP
    >>> logits = model(x, edge_index)                      # doctest: +SKIP
    """
    from nas.export import load_export

    return load_export(path)
