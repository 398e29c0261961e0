"""A per-device latency lookup table: measure each layer once, sum to predict any architecture.

Once-for-All (Cai et al. 2020) and HAT (Wang et al. 2020) predict a
sub-network's latency from a table of per-layer latencies measured once on
the target device, keyed by the layer's configuration and input shape.
Here every architecture decomposes into *units* (the stem, each block, the
head), each with a key such as ``mbconv|24x16|40|k5|e4.0|s2|se1|relu``.
:func:`calibrate` measures every unit any architecture of the space can
contain (median of repeated forward passes, threads pinned, eval mode), then
measures a few whole architectures and fits ``measured ≈ scale * sum + offset``
by least squares: the offset absorbs what isolated units do not see (the
model's own call overhead, cache effects), as in the "calibrated" variant of
HAT's look-up predictor. :func:`predict_latency` sums the table in
microseconds; no model is built.

Tables live at ``$NAS_CACHE_DIR/latency/<device>/<space>-<task shape>-b<batch>.json``
(default cache dir ``~/.cache/nas``); the device name includes the CPU model
or GPU name and the thread count, so a table is never used on another machine
kind. Each space defines its own units (:meth:`search_spaces.SearchSpace.latency_keys` and
its three companions); :func:`latency_spaces` lists the spaces that do (``charlm``,
``mobilenet``, ``vit``).

>>> table = calibrate("charlm", spec)                # doctest: +SKIP
>>> predict_latency("charlm", arch, spec)            # doctest: +SKIP
1234.5
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas.architecture import Architecture
from nas.errors import ConfigError, NotApplicable
from nas.latency.allocator import steady_allocator
from search_spaces import SPACES, SearchSpace, TaskSpec

__all__ = [
    "LatencyTable",
    "calibrate",
    "predict_latency",
    "predict_latency_if_calibrated",
    "ensure_table",
    "table_covers",
    "load_table",
    "table_path",
    "device_name",
    "measure_arch_latency_us",
    "measure_archs_latency_us",
    "unit_keys",
    "latency_spaces",
]

log = logging.getLogger(__name__)

#: measured whole architectures used to fit the scale/offset correction
_REFERENCE_ARCHS = 12


@dataclass
class LatencyTable:
    """Per-unit latencies (µs) for one space, task shape, batch size and device."""

    space: str
    device: str
    spec_key: str
    batch_size: int
    units: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0
    offset_us: float = 0.0
    #: "cpu" (the measuring thread's CPU time) or "wall"; see :func:`calibrate`
    clock: str = "cpu"
    #: "median" of the timed passes, or "min" (timeit's advice on a shared machine)
    statistic: str = "median"

    def predict(self, keys: Iterable[str]) -> float:
        total = 0.0
        for key in keys:
            if key not in self.units:
                raise ConfigError(
                    f"latency table for '{self.space}' on {self.device} has no entry '{key}'; "
                    f"recalibrate with `nas latency calibrate --space {self.space}`"
                )
            total += self.units[key]
        return self.scale * total + self.offset_us

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=1, sort_keys=True))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path) -> LatencyTable:
        return cls(**json.loads(path.read_text()))


def device_name(device: str = "cpu", threads: int = 1) -> str:
    """A file-name-safe name of the measuring hardware, e.g. ``cpu-amd-epyc-t1``."""
    if device.startswith("cuda"):
        import torch

        name = torch.cuda.get_device_name(torch.device(device))
    else:
        name = _cpu_model() + f"-t{threads}"
    return re.sub(r"[^a-z0-9.]+", "-", f"{device.split(':')[0]}-{name}".lower()).strip("-")


def table_path(space: str, spec: TaskSpec, *, batch_size: int = 1, device: str = "cpu",
               threads: int = 1, cache_dir: str | Path | None = None) -> Path:
    root = Path(cache_dir or os.environ.get("NAS_CACHE_DIR") or Path.home() / ".cache" / "nas")
    return root / "latency" / device_name(device, threads) / f"{space}-{_spec_key(spec)}-b{batch_size}.json"


def load_table(space: str, spec: TaskSpec, **where: Any) -> LatencyTable | None:
    """The calibrated table for this space, task shape and device, or None."""
    path = table_path(space, spec, **where)
    return LatencyTable.load(path) if path.is_file() else None


def predict_latency(space: SearchSpace | str, arch: Architecture, spec: TaskSpec, *,
                    table: LatencyTable | None = None, **where: Any) -> float:
    """Predicted latency of ``arch`` in microseconds, from the calibrated table.

    ``where`` (batch_size, device, threads, cache_dir) picks the table when
    ``table`` is not given; a missing table is a :class:`ConfigError` saying
    how to calibrate.
    """
    name = _space_name(space)
    if table is None:
        table = load_table(name, spec, **where)
        if table is None:
            raise ConfigError(
                f"no latency table for space '{name}' at {table_path(name, spec, **where)}; "
                f"run `nas latency calibrate --space {name}`"
            )
    return table.predict(unit_keys(space, arch, spec))


def predict_latency_if_calibrated(space: SearchSpace | str, arch: Architecture,
                                  spec: TaskSpec, **where: Any) -> float | None:
    """:func:`predict_latency`, or None when the space has no decomposition or no table."""
    name = _space_name(space)
    if not _space(space).has_latency_units() or load_table(name, spec, **where) is None:
        return None
    return predict_latency(space, arch, spec, **where)


def ensure_table(space: SearchSpace | str, spec: TaskSpec, *, repeats: int = 30,
                 **where: Any) -> LatencyTable:
    """The cached table, calibrated now (once, then cached) when there is none.

    Called before a study with a ``predicted_latency`` objective starts, so a
    study file with that objective runs as it is; ``nas latency calibrate``
    does the same ahead of time. A space without a decomposition is a
    one-line :class:`ConfigError`.
    """
    name = _space_name(space)
    if not _space(space).has_latency_units():
        raise ConfigError(
            f"objectives: predicted_latency needs a per-layer latency decomposition, which "
            f"space '{name}' lacks; supported: {', '.join(latency_spaces())}"
        )
    table = load_table(name, spec, **where)
    if table is None or not table_covers(table, space, spec):
        log.warning("no latency table for '%s' (covering this study's choices) at %s: "
                    "calibrating it now (once)", name, table_path(name, spec, **where))
        table = calibrate(space, spec, repeats=repeats, **where)
    return table


def calibrate(space: SearchSpace | str, spec: TaskSpec, *, batch_size: int = 1,
              device: str = "cpu", threads: int = 1, repeats: int = 30, warmup: int = 5,
              reference_archs: int = _REFERENCE_ARCHS, seed: int = 0, clock: str = "cpu",
              statistic: str = "min",
              cache_dir: str | Path | None = None,
              progress: Callable[[int, int], None] | None = None) -> LatencyTable:
    """Measure every unit of ``space`` on this device, fit the correction, save the table.

    Each unit is timed *inside* forward passes of a few covering architectures
    (the units chained in forward order, each call timed), so its caches are
    as warm as in a real pass; a unit met in several covering archs keeps the
    median of all its times. Passes of the different models are interleaved
    (round robin, ``repeats`` rounds), so a burst of load from other processes
    touches every model alike instead of a few. ``clock="cpu"`` (the default
    on CPU) times the measuring thread's CPU time, which on one pinned thread
    equals the wall time of an idle machine and is not inflated while other
    processes hold the core; ``"wall"`` uses ``time.perf_counter``. CUDA always
    uses the wall clock. ``statistic`` summarises each unit's timed passes:
    the minimum (default), which other processes can only push up (Python's
    ``timeit`` advice; measured in ``benchmarks/README.md``, "Latency tables"),
    or the median.
    """
    import torch

    if clock not in ("cpu", "wall"):
        raise ConfigError(f"clock: {clock!r} is not allowed; allowed: cpu, wall")
    if statistic not in ("median", "min"):
        raise ConfigError(f"statistic: {statistic!r} is not allowed; allowed: median, min")
    name = _space_name(space)
    # The base choices, so one table serves every narrowing override; a space instance
    # whose overrides pick other values adds its own covering archs.
    full_space = _units_of(name)
    spaces = [full_space]
    if not isinstance(space, str) and space.choices() != full_space.choices():
        spaces.append(space)
    table = LatencyTable(name, device_name(device, threads), _spec_key(spec), batch_size,
                         clock=clock, statistic=statistic)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        example = full_space.latency_input(spec, batch_size).to(device)
        chains, seen = [], set()
        for each in spaces:
            for arch in each.latency_covering():
                if arch.key not in seen:
                    seen.add(arch.key)
                    model = each.build(arch, spec).to(device).eval()
                    chains.append(each.latency_units(model, arch, spec))
        timed = _round_robin_us([_chain_pass(units, example, device, clock) for units in chains],
                                repeats, warmup, statistic, progress)
        samples: dict[str, list[float]] = {}
        for units, medians in zip(chains, timed):
            for (key, _run), value in zip(units, medians):
                samples.setdefault(key, []).append(value)
        table.units = {key: float(statistics.median(v)) for key, v in samples.items()}
        _fit_correction(table, full_space, spec, batch_size, device, reference_archs, seed,
                        repeats, warmup)
    finally:
        torch.set_num_threads(previous_threads)
    path = table.save(table_path(name, spec, batch_size=batch_size, device=device,
                                 threads=threads, cache_dir=cache_dir))
    log.info("latency table for %s: %d units, saved to %s", name, len(table.units), path)
    return table


def measure_archs_latency_us(space: SearchSpace, archs: list[Architecture], spec: TaskSpec, *,
                             batch_size: int = 1, device: str = "cpu", repeats: int = 30,
                             warmup: int = 5, clock: str = "cpu",
                             statistic: str = "min") -> list[float]:
    """Median latency of each whole built model, in µs (what the table predicts).

    The models' passes are interleaved round robin (see :func:`calibrate`).
    Call it with torch's thread count pinned, as :func:`calibrate` does.
    """
    inputs = space.latency_input(spec, batch_size).to(device)
    passes = [_chain_pass([("model", space.build(arch, spec).to(device).eval())], inputs,
                          device, clock) for arch in archs]
    return [medians[0] for medians in _round_robin_us(passes, repeats, warmup, statistic)]


def measure_arch_latency_us(space: SearchSpace, arch: Architecture, spec: TaskSpec,
                            **options: Any) -> float:
    """:func:`measure_archs_latency_us` of one architecture."""
    return measure_archs_latency_us(space, [arch], spec, **options)[0]


def unit_keys(space: SearchSpace | str, arch: Architecture, spec: TaskSpec) -> list[str]:
    """The table keys ``arch`` decomposes into (no model is built)."""
    return _units_of(space).latency_keys(arch, spec)


def latency_spaces() -> list[str]:
    """The registered spaces that define latency-table units."""
    return [name for name, cls in SPACES.items() if cls.has_latency_units()]


def _space(space: SearchSpace | str) -> SearchSpace:
    """``space``, or the registered space of that name with its base choices."""
    return SPACES.get(space)() if isinstance(space, str) else space


def _units_of(space: SearchSpace | str) -> SearchSpace:
    """:func:`_space`, or :class:`NotApplicable` when it defines no latency units."""
    found = _space(space)
    if not found.has_latency_units():
        raise NotApplicable(
            f"space '{found.name}' has no per-layer latency decomposition; "
            f"supported: {', '.join(latency_spaces())}"
        )
    return found


# -- helpers --------------------------------------------------------------------

def _fit_correction(table: LatencyTable, space: SearchSpace, spec: TaskSpec, batch_size: int,
                    device: str, count: int, seed: int, repeats: int, warmup: int) -> None:
    """Least-squares ``measured = scale * summed + offset`` over a few reference archs."""
    archs = [space.smallest(), space.largest(), *_seeded_archs(space, max(0, count - 2), seed)]
    summed = [sum(table.units[k] for k in space.latency_keys(arch, spec)) for arch in archs]
    measured = measure_archs_latency_us(space, archs, spec, batch_size=batch_size, device=device,
                                        repeats=repeats, warmup=warmup, clock=table.clock,
                                        statistic=table.statistic)
    design = np.stack([np.asarray(summed), np.ones(len(summed))], axis=1)
    (scale, offset), *_ = np.linalg.lstsq(design, np.asarray(measured), rcond=None)
    table.scale, table.offset_us = float(scale), float(offset)


def table_covers(table: LatencyTable, space: SearchSpace | str, spec: TaskSpec) -> bool:
    """Whether every unit of every architecture of ``space`` has an entry in ``table``."""
    if isinstance(space, str):
        return True  # the base space: what calibrate always measures
    return all(key in table.units for arch in _units_of(space).latency_covering()
               for key in space.latency_keys(arch, spec))


def _seeded_archs(space: SearchSpace, count: int, seed: int) -> list[Architecture]:
    """``count`` random valid architectures of ``space`` (uniform per choice), seeded."""
    rng = random.Random(seed)
    archs: list[Architecture] = []
    while len(archs) < count:
        arch = Architecture({n: rng.choice(c.grid()) for n, c in space.choices().items()})
        try:
            archs.append(space.validate(arch))
        except Exception:  # noqa: BLE001 - an invalid combination: draw again
            continue
    return archs



def _chain_pass(units: list[tuple[str, Any]], example: Any, device: str,
                clock: str) -> Callable[[], list[float]]:
    """One forward pass through ``units`` in order, returning each unit's time in µs."""
    import torch

    on_cuda = device.startswith("cuda")
    now = time.perf_counter if on_cuda or clock == "wall" else time.thread_time

    def run_once() -> list[float]:
        times = []
        x = example
        for _key, run in units:
            if on_cuda:
                torch.cuda.synchronize()
            start = now()
            x = run(x)
            if on_cuda:
                torch.cuda.synchronize()
            times.append((now() - start) * 1e6)
        return times

    return run_once


def _round_robin_us(passes: list[Callable[[], list[float]]], repeats: int, warmup: int,
                    statistic: str = "median", progress: Callable[[int, int], None] | None = None) -> list[list[float]]:
    """Per pass, the median of each of its timed parts over ``repeats`` interleaved rounds."""
    import torch

    steady_allocator()  # compute, not page faults: see nas.latency.allocator

    with torch.inference_mode():
        for run_once in passes:
            for _ in range(warmup):
                run_once()
        samples: list[list[list[float]]] = [[] for _ in passes]
        for round_index in range(repeats):
            for slot, run_once in zip(samples, passes):
                slot.append(run_once())
            if progress:
                progress(round_index + 1, repeats)
    summary = min if statistic == "min" else statistics.median
    return [[float(summary(part)) for part in zip(*slot)] for slot in samples]


def _spec_key(spec: TaskSpec) -> str:
    return f"{spec.family}-in{spec.input_dim}-c{spec.num_classes}-s{spec.input_size}"


def _space_name(space: SearchSpace | str) -> str:
    return space if isinstance(space, str) else space.name


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"
