"""What every elastic layer shares: max-size storage and slicing to a static layer's shapes.

An elastic layer (Once-for-All, Cai et al. 2020; AutoFormer, Chen et al. 2021)
is the static layer at its largest size; a smaller subnet's layer takes a
slice of its weights. Here each elastic layer subclasses the static layer it
stands for (``ElasticLinear`` is an ``nn.Linear``), is built from the largest
shapes any architecture needs, and hands out, for a *template* layer of the
same kind (the layer ``space.build`` made for one architecture), that layer's
parameters and buffers as slices of its own: differentiable views, so
training a subnet trains the shared weights.

The slicing rules themselves are small pure functions in each kind's module;
:func:`slice_leading` is the default (the first ``n`` channels, rows, heads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn as nn

__all__ = ["Elastic", "ElasticParameters", "slice_leading", "own_state", "Shapes"]

#: tensor name (``weight``, ``running_mean``) -> shape, for one layer
Shapes = Mapping[str, tuple[int, ...]]


def slice_leading(full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """The leading block of ``full`` with ``shape`` (a view): the first channels/rows/heads."""
    if len(shape) != full.dim():
        raise ValueError(f"cannot slice a {tuple(full.shape)} tensor to {shape}")
    return full[tuple(slice(0, size) for size in shape)]


def own_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors ``module`` itself stores in a state dict (not its children's)."""
    state = {name: p for name, p in module._parameters.items() if p is not None}
    for name, buffer in module._buffers.items():
        if buffer is not None and name not in module._non_persistent_buffers_set:
            state[name] = buffer
    return state


class Elastic:
    """Mixin of every elastic layer: ``subnet_state`` slices, ``paste`` initialises."""

    def slice_tensor(self, name: str, full: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """The slice of ``full`` (this layer's tensor ``name``) a template needs; kinds override."""
        return slice_leading(full, shape)

    def subnet_state(self, template: nn.Module) -> dict[str, torch.Tensor]:
        """``template``'s own tensors, as slices of this layer's (same names, same shapes)."""
        mine = own_state(self)  # type: ignore[arg-type]
        out = {}
        for name, tensor in own_state(template).items():
            if name not in mine:
                raise KeyError(name)
            out[name] = self.slice_tensor(name, mine[name], tuple(tensor.shape))
        return out

    @torch.no_grad()
    def paste(self, template: nn.Module) -> None:
        """Copy ``template``'s values into the slices it maps to (initialisation)."""
        for name, view in self.subnet_state(template).items():
            self.write_slice(name, view, own_state(template)[name])

    def write_slice(self, name: str, view: torch.Tensor, value: torch.Tensor) -> None:
        view.copy_(value)


class ElasticParameters(Elastic, nn.Module):
    """Any layer without a dedicated elastic kind: its tensors at their largest, sliced leading.

    Used for PReLU slopes, GIN's epsilon and similar; buffers stay buffers.
    """

    def __init__(self, shapes: Shapes, buffers: tuple[str, ...] = ()) -> None:
        super().__init__()
        for name, shape in shapes.items():
            if name in buffers:
                self.register_buffer(name, torch.zeros(shape))
            else:
                setattr(self, name, nn.Parameter(torch.zeros(shape)))

    @classmethod
    def from_shapes(cls, shapes: Shapes, like: nn.Module) -> ElasticParameters:
        return cls(shapes, buffers=tuple(n for n in own_state(like) if n in like._buffers))


def dims(shapes: Shapes, name: str, default: Any = None) -> Any:
    """``shapes[name]`` or ``default`` (a layer without bias has no ``bias`` shape)."""
    return shapes.get(name, default)
