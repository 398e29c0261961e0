"""Node-classification tasks: Cora and CiteSeer (Planetoid public split) and a synthetic graph.

Full-batch training on the whole graph, the standard setting for these data
sets. Features are row-normalised, as in Kipf & Welling (2017). The training
batch carries the features as a *sparse* tensor: Cora's 2708×1433 matrix is
1.3% non-zero, so input dropout and the first projection on the non-zeros
only are ~50× cheaper than on the dense matrix (DESIGN.md, "Costs"); models
accept dense features too, which is what evaluation and export use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from nas.errors import ConfigError
from nas.tasks import TASKS
from nas.tasks._base import Task, require_file
from search_spaces import Batch, TaskSpec

if TYPE_CHECKING:
    import torch

    from nas.tasks._inputs import RawInputs

__all__ = ["NodeClassificationTask", "PlanetoidTask", "SyntheticGraphTask"]

_PLANETOID_FILES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


class NodeClassificationTask(Task):
    """Shared logic: one graph, boolean split masks, accuracy on a split."""

    family: ClassVar[str] = "graph"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graph: Any = None

    def prepare(self, device: Any = "cpu") -> TaskSpec:
        if self._graph is None or self.device != device:
            graph = self._load()
            self._raw_x = graph.x.float().to(device)  # what a user has: exports take it
            graph.x = graph.x / graph.x.sum(dim=1, keepdim=True).clamp(min=1e-12)
            self._graph = graph.to(device)
            self._sparse_x = self._graph.x.to_sparse_coo().coalesce()
            self.device = device
            self._spec = TaskSpec(
                family="graph",
                input_dim=int(graph.num_features),
                num_classes=int(graph.y.max()) + 1,
                extra={"num_nodes": int(graph.num_nodes), "num_edges": int(graph.edge_index.size(1))},
            )
        assert self._spec is not None
        return self._spec

    def _load(self) -> Any:
        raise NotImplementedError

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

    def raw_inputs(self) -> RawInputs:
        """Raw (un-normalised) features and edges; the export row-normalises them itself."""
        from nas.tasks._inputs import RawInputs, RowNormalize, induced_subgraph

        g = self._graph

        def split(name: str) -> Batch:
            return Batch((self._raw_x, g.edge_index), g.y, self._mask(name))

        return RawInputs(
            names=("x", "edge_index"),
            dynamic_axes={"x": {0: "nodes"}, "edge_index": {1: "edges"}, "logits": {0: "nodes"}},
            transform=RowNormalize(),
            example=lambda batch_size, seed: split("train"),
            smaller=induced_subgraph,
            split=split,
            recipe="`x`: the raw node features, float32 `(nodes, features)`, *not* normalised "
            "(the model divides each row by its sum, as training did); `edge_index`: int64 "
            "`(2, edges)`, row 0 the source and row 1 the target node of each edge; "
            "any number of nodes and edges",
        )

    def _mask(self, split: str) -> Any:
        masks = {"train": self._graph.train_mask, "val": self._graph.val_mask,
                 "test": self._graph.test_mask}
        if split not in masks:
            raise ConfigError(f"unknown split '{split}'; splits: train, val, test")
        return masks[split]


class PlanetoidTask(NodeClassificationTask):
    """A Planetoid citation graph from the raw files (public split 140/500/1000 for Cora)."""

    dataset: ClassVar[str] = ""

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
