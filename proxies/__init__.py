"""Zero-cost proxies: score an untrained network from one minibatch.

Each proxy is one module and one ``@register_proxy``; look them up in
:data:`PROXIES` (discovered lazily) and call one as ``PROXIES.get("snip")(model,
batch)``, or run several sharing their passes with :func:`score`. Importing
this package does not import torch.

>>> from proxies import PROXIES
>>> "synflow" in PROXIES
True
"""

from __future__ import annotations

from typing import Any

from proxies._registry import PROXIES, Proxy, register_proxy

__all__ = ["PROXIES", "Proxy", "ProxyResult", "register_proxy", "score"]


def __getattr__(name: str) -> Any:
    if name in ("score", "ProxyResult"):
        from proxies import _score

        return getattr(_score, name)
    raise AttributeError(f"module 'proxies' has no attribute '{name}'")
