"""The supernet contract and the weight-sharing machinery every space's supernet reuses.

A supernet holds one elastic layer per *slot* (a layer position of the
standalone models, e.g. ``encoder.0``; spaces whose models swap layer types
name slots by type, e.g. ``gat/convs.0``). To run architecture ``a`` it
builds ``space.build(a)`` once as a *template*, and calls it with
:func:`torch.func.functional_call` on parameters and buffers that are slices
of the elastic layers. Three things follow from that design:

* ``extract(a)`` is exact by construction: it is ``space.build(a)`` with the
  same slices loaded by ``load_state_dict(strict=True)``;
* gradients of a subnet's loss flow into the shared weights (slices are views);
* a new space needs no hand-written elastic forward pass, only a name for each
  slot and the architectures that span the largest shapes
  (:meth:`Supernet.covering_archs`).

Example::

    supernet = create_supernet("gnn", space, spec, seed=0)
    with supernet.activated(arch):
        logits = supernet(*batch.inputs)
    model = supernet.extract(arch)       # a GNNModel, as space.build(arch) returns
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import torch
import torch.nn as nn
from torch.func import functional_call

from nas.architecture import Architecture
from nas.errors import ConfigError, InvalidArchitecture
from search_spaces import Batch, SearchSpace, TaskSpec
from supernets.elastic import Elastic, elastic_kind, is_batch_norm, own_state

__all__ = ["Supernet"]

_TEMPLATE_CACHE = 64


class Supernet(nn.Module):
    """Weight-sharing network over one search space; subclasses name slots and covering archs."""

    space_name: ClassVar[str] = ""

    def __init__(self, space: SearchSpace, spec: TaskSpec, seed: int = 0) -> None:
        super().__init__()
        self.space = space
        self.spec = spec
        self.layers = nn.ModuleDict()
        self._templates: OrderedDict[str, nn.Module] = OrderedDict()
        self._active: Architecture | None = None
        self._build_layers(seed)

    # -- what a space's supernet says ----------------------------------------
    def covering_archs(self) -> list[Architecture]:
        """Architectures whose layers, together, have every slot at its largest shape.

        Listed largest first; the initial shared weights are theirs, the first
        one's winning where they overlap.
        """
        return [self.space.largest()]

    def slot(self, arch: Architecture, layer: str) -> str:
        """The shared-weight slot of ``layer`` (a module name in the standalone model)."""
        return layer

    def fair_archs(self, rng: Any) -> list[Architecture]:
        """One architecture per weight set, for the ``fair`` sampling rule (numpy ``rng``)."""
        raise ConfigError(f"supernet.sampling: 'fair' needs a supernet with weight sets; "
                          f"'{self.space_name}' has none (use uniform or sandwich)")

    # -- the contract --------------------------------------------------------
    def set_active(self, arch: Architecture | dict[str, Any]) -> Architecture:
        """Make ``arch`` the subnet that :meth:`forward` runs; returns it validated."""
        arch = self.space.validate(arch)
        self._template(arch)  # fails early if the supernet does not cover it
        self._active = arch
        return arch

    @contextlib.contextmanager
    def activated(self, arch: Architecture | dict[str, Any]) -> Iterator[Architecture]:
        """``with supernet.activated(arch):`` runs ``arch`` inside, restores the previous one after."""
        previous = self._active
        try:
            yield self.set_active(arch)
        finally:
            self._active = previous

    @property
    def active(self) -> Architecture:
        if self._active is None:
            raise RuntimeError("no active architecture: call set_active(arch) first")
        return self._active

    def forward(self, *inputs: Any) -> Any:
        """Logits of the active subnet on ``batch.inputs``."""
        template = self._template(self.active)
        template.train(self.training)
        return functional_call(template, self.subnet_state(self.active), inputs)

    def subnet_state(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """The standalone model's state dict for ``arch``, as views into the shared weights."""
        template = self._template(arch)
        state: dict[str, torch.Tensor] = {}
        for name, module in _layers_with_state(template):
            layer = self.layers[_key(self.slot(arch, name))]
            for tensor_name, tensor in layer.subnet_state(module).items():  # type: ignore[operator]
                state[f"{name}.{tensor_name}" if name else tensor_name] = tensor
        return state

    def extract(self, arch: Architecture | dict[str, Any]) -> nn.Module:
        """``space.build(arch)`` holding the shared weights (a copy; loaded strictly)."""
        arch = self.space.validate(arch)
        with _seeded(0):
            model = self.space.build(arch, self.spec)
        state = {k: v.detach().clone() for k, v in self.subnet_state(arch).items()}
        model.load_state_dict(state, strict=True)
        return model.to(self._device())

    @torch.no_grad()
    def recalibrate_bn(self, batches: Iterable[Batch]) -> int:
        """Re-estimate the active subnet's BN statistics on ``batches`` (SPOS, Guo et al. 2020).

        Statistics are reset and averaged over all batches (momentum ``None``),
        in train mode for BN only (dropout stays off). Returns the batch count.
        """
        arch = self.active
        template = self._template(arch)
        state = self.subnet_state(arch)
        norms = [(n, m) for n, m in template.named_modules() if is_batch_norm(m)]
        if not norms:
            return 0
        saved = [m.momentum for _, m in norms]
        for name, module in norms:
            prefix = f"{name}." if name else ""
            state[prefix + "running_mean"].zero_()
            state[prefix + "running_var"].fill_(1.0)
            state[prefix + "num_batches_tracked"].zero_()
            module.momentum = None
        template.eval()
        for _, module in norms:
            module.train()
        count = 0
        try:
            for batch in batches:
                functional_call(template, state, tuple(batch.inputs))
                count += 1
        finally:
            for (_, module), momentum in zip(norms, saved):
                module.momentum = momentum
        return count

    @torch.no_grad()
    def inherit(self, parent: Supernet) -> int:
        """Start from ``parent``'s weights: the warm start of few-shot NAS (Zhao et al. 2021).

        ``parent`` is a supernet of the same space over wider choices (the one-shot
        supernet a few-shot group split from). Each tensor of this supernet takes the
        leading slice of the parent's tensor of the same name; tensors the parent lacks
        or holds smaller keep their own initial values. Returns how many were copied.
        """
        if parent.space_name != self.space_name:
            raise ConfigError(f"supernet '{self.space_name}' cannot inherit the weights of "
                              f"a '{parent.space_name}' supernet")
        theirs = parent.state_dict()
        copied = 0
        for key, tensor in self.state_dict().items():
            source = theirs.get(key)
            if source is None or source.dim() != tensor.dim() or any(
                s < t for s, t in zip(source.shape, tensor.shape)
            ):
                continue
            tensor.copy_(source[tuple(slice(0, n) for n in tensor.shape)])
            copied += 1
        return copied

    def shapes(self) -> dict[str, list[int]]:
        """Every shared tensor's shape, by state-dict key (checkpoints record it)."""
        return {k: list(v.shape) for k, v in self.state_dict().items()}

    # -- machinery -----------------------------------------------------------
    def _build_layers(self, seed: int) -> None:
        covering = [self.space.validate(a) for a in self.covering_archs()]
        templates = []
        largest: dict[str, dict[str, tuple[int, ...]]] = {}
        like: dict[str, tuple[str, nn.Module]] = {}
        with _seeded(seed):
            for arch in covering:
                template = self.space.build(arch, self.spec)
                templates.append((arch, template))
                for name, module in _layers_with_state(template):
                    slot = self.slot(arch, name)
                    if slot in like and type(like[slot][1]) is not type(module):
                        raise TypeError(f"slot '{slot}' holds a {type(like[slot][1]).__name__} "
                                        f"and a {type(module).__name__}; name slots by layer type")
                    like.setdefault(slot, (name, module))
                    shapes = largest.setdefault(slot, {})
                    for tensor_name, tensor in own_state(module).items():
                        old = shapes.get(tensor_name, tuple(tensor.shape))
                        if len(old) != tensor.dim():
                            raise TypeError(f"slot '{slot}': '{tensor_name}' changes rank")
                        shapes[tensor_name] = tuple(max(a, b) for a, b in zip(old, tensor.shape))
        for slot, shapes in largest.items():
            name, module = like[slot]
            kind = elastic_kind(module, name)
            self.layers[_key(slot)] = kind.from_shapes(shapes, module)  # type: ignore[attr-defined]
        for arch, template in reversed(templates):
            for name, module in _layers_with_state(template):
                self.layers[_key(self.slot(arch, name))].paste(module)  # type: ignore[operator]

    def _template(self, arch: Architecture) -> nn.Module:
        key = arch.key
        template = self._templates.get(key)
        if template is not None:
            self._templates.move_to_end(key)
            return template
        # Building consumes random numbers; a private generator keeps training reproducible.
        with _seeded(0):
            template = self.space.build(arch, self.spec)
        self._check_covered(arch, template)
        template.requires_grad_(False)
        template.to(self._device())
        self._templates[key] = template
        if len(self._templates) > _TEMPLATE_CACHE:
            self._templates.popitem(last=False)
        return template

    def _check_covered(self, arch: Architecture, template: nn.Module) -> None:
        for name, module in _layers_with_state(template):
            slot = self.slot(arch, name)
            layer = self.layers[_key(slot)] if _key(slot) in self.layers else None
            mine: dict[str, torch.Tensor] = own_state(layer) if isinstance(layer, Elastic) else {}
            for tensor_name, tensor in own_state(module).items():
                big = mine.get(tensor_name)
                if big is None or big.dim() != tensor.dim() or any(
                    s > b for s, b in zip(tensor.shape, big.shape)
                ):
                    raise InvalidArchitecture(
                        f"supernet '{self.space_name}' does not cover {name}.{tensor_name} "
                        f"{tuple(tensor.shape)} of this architecture (slot '{slot}'); "
                        "its covering_archs() miss a shape"
                    )

    def _device(self) -> torch.device:
        for tensor in self.state_dict().values():
            return tensor.device
        return torch.device("cpu")


def _layers_with_state(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if own_state(module):
            yield name, module


def _key(slot: str) -> str:
    # The model's own tensors (a ViT's ``pos_embed``) sit on the root module, named "".
    return slot.replace(".", "__") or "root"


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
