"""Node classification on the user's graph, and the Cora/CiteSeer/synthetic presets over it.

``node-classification`` reads one graph: ``path`` to a PyG ``Data`` saved
with ``torch.save`` (or a dict of tensors) or an ``.npz``, with ``x``
(nodes × features), ``edge_index`` (2 × edges), ``y`` (one label per node)
and optional boolean ``train_mask``/``val_mask``/``test_mask``; or a PyG
dataset class by name with a local root (``dataset = "Planetoid"``,
``root = "..."``, ``args = { name = "PubMed" }``), which must not download.
Without masks, a seeded stratified split (task ``seed``) takes
``val_fraction`` (0.2) and ``test_fraction`` (0.2) of each class; train is
the rest.

Full-batch training on the whole graph, the standard setting for these data
sets. Features are row-normalised, as in Kipf & Welling (2017)
(``normalize = false`` keeps them). The training batch carries the features
as a *sparse* tensor: Cora's 2708×1433 matrix is 1.3% non-zero, so input
dropout and the first projection on the non-zeros only are ~50× cheaper than
on the dense matrix (DESIGN.md, "Costs"); models accept dense features too,
which is what export uses.

``cora`` and ``citeseer`` read the raw Planetoid files (public split
140/500/1000); ``synthetic-graph`` generates a seeded graph. Both are this
task with another source, so the same checks, normalisation and metrics apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from nas.errors import ConfigError, DataError, NasError
from nas.tasks import TASKS
from nas.tasks._base import Task, require_file
from nas.tasks._files import check_labels, existing, seeded_split
from search_spaces import Batch, TaskSpec

if TYPE_CHECKING:
    import torch

__all__ = ["NodeClassificationTask", "PlanetoidTask", "SyntheticGraphTask"]

_PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_MASKS = ("train_mask", "val_mask", "test_mask")
_PARAMS = ("path", "dataset", "root", "args", "val_fraction", "test_fraction", "normalize")


@TASKS.register("node-classification")
class NodeClassificationTask(Task):
    """One graph, boolean split masks, accuracy on a split."""

    name = "node-classification"
    family: ClassVar[str] = "graph"
    #: the parameters a study file may set
    known_params: ClassVar[tuple[str, ...]] = _PARAMS

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        unknown = sorted(set(self.params) - set(self.known_params))
        if unknown:
            raise ConfigError(f"task.params: unknown parameter '{unknown[0]}' for task "
                              f"'{self.name}'; known: {', '.join(self.known_params) or 'none'}")
        for key, default in (("val_fraction", 0.2), ("test_fraction", 0.2)):
            value = self.params.get(key, default)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
                raise ConfigError(f"task.params.{key}: must be a number in (0, 1), got {value!r}")
        self._graph: Any = None

    def prepare(self, device: Any = "cpu") -> TaskSpec:
        if self._graph is None or self.device != device:
            graph = self._checked(self._load())
            if self.params.get("normalize", True):
                graph.x = graph.x / graph.x.sum(dim=1, keepdim=True).clamp(min=1e-12)
            self._graph = graph.to(device)
            self._sparse_x = self._graph.x.to_sparse_coo().coalesce()
            self.device = device
            self._spec = TaskSpec(
                family="graph",
                input_dim=int(graph.num_features),
                num_classes=int(graph.y.max()) + 1,
                extra={"num_nodes": int(graph.num_nodes), "num_edges": int(graph.edge_index.size(1)),
                       "normalize": bool(self.params.get("normalize", True))},
            )
        assert self._spec is not None
        return self._spec

    def _load(self) -> Any:
        """The graph as a PyG ``Data``; presets override it."""
        if self.params.get("dataset") is not None:
            return _pyg_dataset(self.params)
        path = existing("task.params.path", self.params.get("path"))
        return _read_graph_file(path)

    def _checked(self, graph: Any) -> Any:
        """Shapes, label range and masks checked; a seeded stratified split where masks are missing."""
        import torch

        key = "task.params.path"
        for name in ("x", "edge_index", "y"):
            if getattr(graph, name, None) is None:
                raise DataError(f"{key}: the graph has no '{name}'")
        x, edge_index, y = graph.x, graph.edge_index, graph.y
        if x.dim() != 2 or x.size(0) < 2:
            raise DataError(f"{key}: x has shape {tuple(x.shape)}; expected nodes × features")
        n = x.size(0)
        graph.x = x.float()
        if edge_index.dim() != 2 or edge_index.size(0) != 2 or edge_index.is_floating_point():
            raise DataError(f"{key}: edge_index has shape {tuple(edge_index.shape)} "
                            f"({edge_index.dtype}); expected 2 × edges integer node indices")
        if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= n):
            raise DataError(f"{key}: edge_index refers to node {int(edge_index.max())}; the graph "
                            f"has {n} nodes (0..{n - 1})")
        graph.edge_index = edge_index.long()
        if y.dim() != 1 or y.size(0) != n or y.is_floating_point():
            raise DataError(f"{key}: y has shape {tuple(y.shape)} ({y.dtype}); expected ({n},) "
                            "integer class labels, one per node")
        graph.y = y.long()
        check_labels(key, y.numpy() if y.device.type == "cpu" else y.cpu().numpy(),
                     max(int(y.max()) + 1, 1) if y.min() >= 0 else 0)
        present = [getattr(graph, m, None) is not None for m in _MASKS]
        if any(present) and not all(present):
            missing = _MASKS[present.index(False)]
            raise DataError(f"{key}: the graph has some split masks but no '{missing}'")
        if not all(present):
            split = seeded_split(graph.y.numpy(), {"val": float(self.params.get("val_fraction", 0.2)),
                                                   "test": float(self.params.get("test_fraction", 0.2))},
                                 self.seed)
            for name, mask_name in zip(("train", "val", "test"), _MASKS):
                mask = torch.zeros(n, dtype=torch.bool)
                mask[torch.from_numpy(split[name])] = True
                graph[mask_name] = mask
        for mask_name in _MASKS:
            mask = graph[mask_name]
            if mask.dtype != torch.bool or mask.shape != (n,):
                raise DataError(f"{key}: {mask_name} has shape {tuple(mask.shape)} ({mask.dtype}); "
                                f"expected ({n},) booleans")
            if not bool(mask.any()):
                raise DataError(f"{key}: the {mask_name.split('_')[0]} split is empty")
        return graph

    def train_batches(self, epoch: int) -> Iterable[Batch]:
        g = self._graph
        yield Batch((self._sparse_x, g.edge_index), g.y, g.train_mask)

    def evaluate(self, model: torch.nn.Module, split: str) -> dict[str, float]:
        return self.evaluate_splits(model, (split,))[split]

    def evaluate_splits(self, model: torch.nn.Module, splits: Iterable[str]) -> dict[str, dict[str, float]]:
        """Metrics of several splits from one forward pass (full-batch graphs)."""
        import torch
        import torch.nn.functional as F

        g = self._graph
        was_training = model.training
        model.eval()
        with torch.no_grad():
            # Sparse features here too: a model trained on them accepts them, and on Cora
            # the dense first projection would cost more than the rest of the epoch.
            logits = model(self._sparse_x, g.edge_index)
        model.train(was_training)
        out = {}
        for split in splits:
            mask = self._mask(split)
            selected = logits[mask]
            out[split] = {
                "accuracy": float((selected.argmax(-1) == g.y[mask]).float().mean()),
                "loss": float(F.cross_entropy(selected, g.y[mask])),
            }
        return out

    def example_batch(self, batch_size: int = 64, seed: int = 0) -> Batch:
        """The whole graph with dense features (a GNN's natural batch); loss on train nodes."""
        g = self._graph
        return Batch((g.x, g.edge_index), g.y, g.train_mask)

    def _mask(self, split: str) -> Any:
        masks = {"train": self._graph.train_mask, "val": self._graph.val_mask,
                 "test": self._graph.test_mask}
        if split not in masks:
            raise ConfigError(f"unknown split '{split}'; splits: train, val, test")
        return masks[split]




class PlanetoidTask(NodeClassificationTask):
    """A Planetoid citation graph from the raw files (public split 140/500/1000 for Cora)."""

    dataset: ClassVar[str] = ""
    known_params: ClassVar[tuple[str, ...]] = ()

    def _load(self) -> Any:
        from torch_geometric.io import read_planetoid_data

        folder = self.data_dir / "planetoid" / self.dataset / "raw"
        prefix = self.dataset.lower()
        for suffix in _PLANETOID_FILES:
            require_file(folder / f"ind.{prefix}.{suffix}", self.name)
        return read_planetoid_data(str(folder), prefix)


@TASKS.register("cora")
class CoraTask(PlanetoidTask):
    """Cora: 2,708 papers, 7 classes, 1,433 bag-of-words features."""

    name = "cora"
    dataset = "Cora"


@TASKS.register("citeseer")
class CiteSeerTask(PlanetoidTask):
    """CiteSeer: 3,327 papers, 6 classes, 3,703 features."""

    name = "citeseer"
    dataset = "CiteSeer"


@TASKS.register("synthetic-graph")
class SyntheticGraphTask(NodeClassificationTask):
    """A seeded stochastic-block-model graph whose features hint at the class.

    Learnable in a few epochs on one core: for fast tests and examples.
    Params: ``num_nodes`` (600), ``num_classes`` (4), ``num_features`` (32).
    """

    name = "synthetic-graph"
    known_params: ClassVar[tuple[str, ...]] = ("num_nodes", "num_classes", "num_features")

    def _load(self) -> Any:
        import torch
        from torch_geometric.data import Data

        n = int(self.params.get("num_nodes", 600))
        k = int(self.params.get("num_classes", 4))
        f = int(self.params.get("num_features", 32))
        if n < 10 * k or k < 2 or f < 2:
            raise ConfigError("task.params: synthetic-graph needs num_nodes >= 10*num_classes, "
                              "num_classes >= 2, num_features >= 2")
        gen = torch.Generator().manual_seed(self.seed)
        y = torch.randint(0, k, (n,), generator=gen)
        centers = torch.randn(k, f, generator=gen)
        x = (0.6 * centers[y] + torch.randn(n, f, generator=gen)).clamp(min=0)
        # Edges: mostly within a class (homophily, as in citation graphs).
        src = torch.randint(0, n, (6 * n,), generator=gen)
        same = torch.rand(6 * n, generator=gen) < 0.8
        by_class = [torch.nonzero(y == c).flatten() for c in range(k)]
        dst = torch.randint(0, n, (6 * n,), generator=gen)
        for c in range(k):
            pick = same & (y[src] == c)
            members = by_class[c]
            dst[pick] = members[torch.randint(0, len(members), (int(pick.sum()),), generator=gen)]
        edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
        edge_index = torch.unique(edge_index[:, edge_index[0] != edge_index[1]], dim=1)
        order = torch.randperm(n, generator=gen)
        masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
        masks[0][order[: n // 5]] = True
        masks[1][order[n // 5 : 2 * n // 5]] = True
        masks[2][order[2 * n // 5 :]] = True
        return Data(x=x, edge_index=edge_index, y=y, train_mask=masks[0], val_mask=masks[1],
                    test_mask=masks[2])


def _read_graph_file(path: Any) -> Any:
    """A PyG ``Data`` (or dict of tensors) saved with ``torch.save``, or an ``.npz`` of arrays."""
    import numpy as np
    import torch
    from torch_geometric.data import Data

    key = "task.params.path"
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: torch.from_numpy(data[k]) for k in data.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"{key}: {path} is not a readable .npz file ({exc})") from None
        return Data(**arrays)
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    try:
        # weights_only: a PyG Data is plain tensors; nothing in the file runs as code.
        with torch.serialization.safe_globals([Data, DataEdgeAttr, DataTensorAttr, GlobalStorage]):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle/zip errors of a foreign file
        raise DataError(f"{key}: {path} is not a torch.save'd PyG Data or .npz "
                        f"({str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__})") from None
    if isinstance(loaded, dict):
        loaded = Data(**loaded)
    if not isinstance(loaded, Data):
        raise DataError(f"{key}: {path} holds a {type(loaded).__name__}; expected a PyG Data")
    return loaded


def _pyg_dataset(params: dict[str, Any]) -> Any:
    """The first graph of a PyG dataset class read from a local ``root`` (never downloaded)."""
    import torch_geometric.datasets as datasets

    name = params["dataset"]
    cls = getattr(datasets, str(name), None)
    if not isinstance(cls, type):
        raise ConfigError(f"task.params.dataset: '{name}' is not a torch_geometric.datasets class")
    root = existing("task.params.root", params.get("root"), folder_ok=True)
    args = params.get("args") or {}
    if not isinstance(args, dict):
        raise ConfigError("task.params.args: must be a table of the dataset's arguments")

    def no_download(self: Any) -> None:
        raise DataError(f"task.params.root: {root} lacks the raw files of {name} "
                        f"({', '.join(map(str, self.raw_file_names))}); nothing is downloaded")

    local = type(cls.__name__, (cls,), {"download": no_download})
    try:
        return local(str(root), **args)[0]
    except NasError:
        raise
    except Exception as exc:  # noqa: BLE001 - the dataset's own errors, one line
        raise DataError(f"task.params.dataset: {name}({', '.join(f'{k}={v!r}' for k, v in args.items())}) "
                        f"failed: {type(exc).__name__}: {str(exc).strip()[:200]}") from None
