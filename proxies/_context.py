"""The passes proxies share, computed once per (model, batch) and cached.

A :class:`ProxyContext` owns a deep copy of the caller's model. Its *main
pass* is one forward pass in train mode (the setting of Abdelfattah et al.
2021) with hooks, followed by gradient computations on the same graph:

* ``grads``: gradients of the cross-entropy loss w.r.t. every weight matrix
  or kernel (parameters with ``ndim >= 2``), shared by grad_norm, snip,
  plain, grasp (its first-order term), fisher, zico-free rules;
* ``activations``: each weight layer's output (conv, linear, PyG linear),
  reduced at once to what rules read (Fisher's per-channel saliency, the
  first sample's feature map, the channel covariance) so the full maps are
  not kept;
* ``jacobian``: the gradient of the summed selected outputs w.r.t. the
  input representation (the float input, or the first embedding's output
  for token models), one row per sample: jacob_cov and epe_nas;
* ``relu``: ReLU-family on/off codes per sample: NASWOT's kernel and SWAP's
  distinct activation patterns;
* ``hessian``: the weight gradients keep their graph, so grasp's
  Hessian-gradient product needs only one more backward pass.

Only the parts some requested proxy needs are computed. Every pass re-seeds
torch from the context seed, so a proxy's score does not depend on which
other proxies ran with it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from nas.errors import NotApplicable
from search_spaces import Batch

__all__ = ["ProxyContext", "MainPass", "isolated_rng", "family_of", "weight_params",
           "weight_layers", "relu_kernel", "relu_patterns", "ACTIVATION_TYPES", "MAX_SAMPLES"]

#: modules whose outputs define activation patterns (NASWOT, SWAP)
ACTIVATION_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU)
#: per-sample statistics (kernels, Jacobian correlations) use at most this many samples
MAX_SAMPLES = 64


@contextmanager
def isolated_rng(seed: int) -> Iterator[None]:
    """Seed torch for the block and restore the caller's RNG state afterwards."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def family_of(batch: Batch) -> str:
    """"graph", "image" or "sequence", from the shape of ``batch.inputs`` (the Batch contract)."""
    first = batch.inputs[0]
    if len(batch.inputs) >= 2:
        return "graph"
    if not first.is_floating_point():
        return "sequence"
    return "image"


def weight_params(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Weight matrices and kernels (``ndim >= 2``): what pruning-based proxies score."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that own a weight matrix/kernel (conv, linear, PyG linear), embeddings excluded."""
    out = []
    for name, module in model.named_modules():
        weight = module._parameters.get("weight")
        if weight is not None and weight.ndim >= 2 and not isinstance(module, nn.Embedding):
            out.append((name, module))
    return out


@dataclass
class MainPass:
    """What the shared pass recorded (``None`` where no proxy needed it)."""

    loss: float
    grads: dict[str, torch.Tensor] | None = None
    #: per weight layer, in execution order: Fisher saliency, first-sample map, channel covariance
    fisher: list[float] = field(default_factory=list)
    first_maps: list[torch.Tensor] = field(default_factory=list)
    covariances: list[torch.Tensor] = field(default_factory=list)
    jacobian: torch.Tensor | None = None
    #: loss gradients of the weights, still attached to their graph (need "hessian")
    graph_grads: list[torch.Tensor | None] | None = None
    #: per ReLU-family layer, its on/off codes (samples x units, bool); see relu_kernel()
    relu_codes: list[torch.Tensor] | None = None
    seconds: float = 0.0


class ProxyContext:
    """A private copy of the model plus the passes computed on it so far."""

    def __init__(self, model: nn.Module, batch: Batch, *, seed: int = 0,
                 needs: frozenset[str] = frozenset(), copy_model: bool = True) -> None:
        self.pristine = copy.deepcopy(model) if copy_model else model
        self.batch = batch
        self.seed = seed
        self.needs = frozenset(needs)
        self.family = family_of(batch)
        self._main: MainPass | None = None
        self.cache: dict[str, Any] = {}

    # -- models ------------------------------------------------------------
    def fresh_model(self) -> nn.Module:
        """Another copy, for passes that change weights (synflow, zen)."""
        return copy.deepcopy(self.pristine)

    @property
    def model(self) -> nn.Module:
        """The context's own copy (passes that only read weights use it)."""
        return self.pristine

    def seeded(self, offset: int = 0) -> None:
        torch.manual_seed(self.seed + offset)

    def loss(self, logits: torch.Tensor, batch: Batch | None = None) -> torch.Tensor:
        selected, targets = (batch or self.batch).selected(logits)
        return F.cross_entropy(selected.float(), targets)

    def sample_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` (shaped like a layer output) as one flat row per sample.

        Images and sequences: one row per batch element; graphs: one row per
        node selected by the mask. Capped at :data:`MAX_SAMPLES` rows.
        """
        if self.family == "graph":
            rows = tensor.reshape(tensor.shape[0], -1)
            if self.batch.mask is not None and rows.shape[0] == self.batch.mask.shape[0]:
                rows = rows[self.batch.mask]
        else:
            rows = tensor.reshape(tensor.shape[0], -1)
        return rows[:MAX_SAMPLES]

    # -- the shared pass ---------------------------------------------------
    def main(self) -> MainPass:
        if self._main is None:
            import time

            started = time.perf_counter()
            self._main = _run_main_pass(self)
            self._main.seconds = time.perf_counter() - started
        return self._main


def _run_main_pass(ctx: ProxyContext) -> MainPass:
    model, batch, needs = ctx.model, ctx.batch, ctx.needs
    ctx.seeded()
    model.train()
    model.zero_grad(set_to_none=True)
    handles: list[Any] = []
    acts: list[torch.Tensor] = []
    relu = _ReluRecorder(ctx) if "relu" in needs else None
    representation: dict[str, torch.Tensor] = {}

    if "activations" in needs:
        for _, layer in weight_layers(model):
            handles.append(layer.register_forward_hook(
                lambda _m, _i, out: acts.append(out) if torch.is_tensor(out) else None))
    if relu is not None:
        for module in model.modules():
            if isinstance(module, ACTIVATION_TYPES):
                handles.append(module.register_forward_hook(relu.hook))
    inputs = list(batch.inputs)
    if "jacobian" in needs:
        if inputs[0].is_floating_point():
            if inputs[0].is_sparse:
                raise NotApplicable("the input Jacobian needs dense input features")
            inputs[0] = inputs[0].detach().clone().requires_grad_(True)
            representation["input"] = inputs[0]
        else:
            embedding = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
            if embedding is None:
                raise NotApplicable("integer inputs and no nn.Embedding: no input to differentiate")

            def keep_first(_m: Any, _i: Any, out: torch.Tensor) -> None:
                representation.setdefault("input", out)

            handles.append(embedding.register_forward_hook(keep_first))
    hessian = "hessian" in needs
    try:
        # Fused attention kernels have no double backward; the math kernel computes the same thing.
        with sdpa_kernel([SDPBackend.MATH]) if hessian else contextlib.nullcontext():
            logits = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    loss = ctx.loss(logits)
    result = MainPass(loss=float(loss.detach()))
    if relu is not None:
        result.relu_codes = relu.codes

    if "jacobian" in needs:
        selected, _ = batch.selected(logits)
        rep = representation.get("input")
        if rep is None or not rep.requires_grad:
            raise NotApplicable("the model's output does not depend on a differentiable input")
        (jac,) = torch.autograd.grad(selected.sum(), rep, retain_graph=True, allow_unused=True)
        jac = torch.zeros_like(rep) if jac is None else jac
        result.jacobian = ctx.sample_rows(jac.detach())

    if "grads" in needs or "activations" in needs or hessian:
        params = weight_params(model)
        targets = [p for _, p in params] + (acts if "activations" in needs else [])
        grads = torch.autograd.grad(loss, targets, allow_unused=True, create_graph=hessian)
        if hessian:  # kept with their graph: grasp differentiates them once more
            result.graph_grads = list(grads[: len(params)])
        grads = [torch.zeros_like(t) if g is None else g for t, g in zip(targets, grads)]
        result.grads = {n: g.detach() for (n, _), g in zip(params, grads[: len(params)])}
        if "activations" in needs:
            for act, grad in zip(acts, grads[len(params):]):
                _reduce_activation(ctx, act.detach(), grad.detach(), result)
    return result


def _reduce_activation(ctx: ProxyContext, act: torch.Tensor, grad: torch.Tensor,
                       out: MainPass) -> None:
    """Keep what fisher, meco and the AZ-NAS rules read from one layer's output."""
    if act.ndim >= 3 and ctx.family == "image":  # (B, C, H, W): channels on dim 1
        channel_sums = (act * grad).flatten(2).sum(-1)
        out.fisher.append(float(0.5 * channel_sums.pow(2).mean(0).sum()))
        out.first_maps.append(act[0].flatten(1))  # (C, H*W)
        feats = act.transpose(0, 1).flatten(1).T  # (B*H*W, C)
    else:  # (..., C): channels last; each leading index is a sample/token/node
        feats = act.reshape(-1, act.shape[-1])
        out.fisher.append(float(0.5 * (feats * grad.reshape(feats.shape)).pow(2).mean(0).sum()))
        if act.ndim >= 3:
            out.first_maps.append(act[0].reshape(-1, act.shape[-1]).T)  # (C, T)
        elif ctx.family == "graph":
            out.first_maps.append(feats.T)  # (C, nodes)
    if feats.shape[0] > 4096:
        idx = torch.linspace(0, feats.shape[0] - 1, 4096, device=feats.device).long()
        feats = feats[idx]
    centred = feats.double() - feats.double().mean(0, keepdim=True)
    out.covariances.append(centred.T @ centred / max(1, feats.shape[0] - 1))


class _ReluRecorder:
    """Keeps each ReLU-family layer's on/off codes (bool, one row per sample) for nwot and swap."""

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.codes: list[torch.Tensor] = []

    def hook(self, _module: Any, _inputs: Any, output: Any) -> None:
        if torch.is_tensor(output):
            self.codes.append(self.ctx.sample_rows(output.detach() > 0))


def relu_kernel(codes: list[torch.Tensor]) -> torch.Tensor | None:
    """NASWOT's kernel: ``K_ij`` = units on which samples i and j agree, summed over layers.

    Float32 matmuls are exact here: every count stays far below 2**24.
    """
    kernel = None
    for layer in codes:
        c = layer.float()
        k = c @ c.T + (1 - c) @ (1 - c).T
        kernel = k if kernel is None else kernel + k
    return None if kernel is None else kernel.double()


def relu_patterns(codes: list[torch.Tensor]) -> torch.Tensor | None:
    """SWAP's distinct per-unit on/off patterns over the (<= 64) samples, each packed in an int64."""
    if not codes:
        return None
    packed = []
    for layer in codes:
        n = layer.shape[0]
        bits = layer.T.long()  # (units, samples)
        weights = torch.ones(n, dtype=torch.long, device=layer.device) << torch.arange(
            n, device=layer.device)
        packed.append(torch.unique(bits @ weights))
    return torch.unique(torch.cat(packed))
