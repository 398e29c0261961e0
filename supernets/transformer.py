"""Supernets of the transformer spaces, ``vit`` and ``charlm`` (AutoFormer, Chen et al. 2021).

AutoFormer's weight entanglement: one block per depth position holds the
largest embedding dim, heads and MLP width; a subnet takes the leading
features of every layer (``ElasticLinear``, ``ElasticLayerNorm``), the leading
rows of each of q, k and v (``ElasticQKVLinear``), and its first blocks
(elastic depth). Heads change no shape, so all head counts share one
projection. Positional embeddings and token embeddings are sliced on the
embedding dim.

The ViT's patch embedding and positions differ in kind between patch sizes
(a 4x4 kernel is not the centre of an 8x8 one; 64 positions are not 16), so
the ViT supernet keeps one ``patch_embed`` and one ``pos_embed`` per patch
size (slots ``patch<p>/…``), sharing every block behind them.
"""

from __future__ import annotations

from nas.architecture import Architecture
from supernets._base import Supernet
from supernets._registry import register_supernet

__all__ = ["ViTSupernet", "CharLMSupernet"]


@register_supernet("vit")
class ViTSupernet(Supernet):
    """Shared blocks; ``patch<p>/patch_embed`` and ``patch<p>/root`` (``pos_embed``) per patch size."""

    def slot(self, arch: Architecture, layer: str) -> str:
        if layer in ("", "patch_embed"):
            return f"patch{arch['patch_size']}/{layer or 'root'}"
        return layer

    def covering_archs(self) -> list[Architecture]:
        largest = self.space.largest()
        patches = sorted(self.space.choices()["patch_size"].grid())
        return [largest, *(largest.replace(patch_size=p) for p in patches
                           if p != largest["patch_size"])]


@register_supernet("charlm")
class CharLMSupernet(Supernet):
    """Slots are the standalone model's module names; ``largest()`` covers every shape."""
