"""The MobileNetV3 supernet: Once-for-All's elastic depth, kernel, expand ratio and width.

One weight set for the largest network (OFA, Cai et al. 2020): a block of
kernel ``k`` takes the centre ``k x k`` of the 7x7 depthwise kernel (elastic
kernel), a smaller expand ratio or width multiplier the leading channels
(elastic width), a shallower stage its first blocks (elastic depth). Every
layer keeps its position as its slot (``stages.2.1.depthwise.conv``), so the
largest architecture alone spans all shapes. OFA's progressive shrinking and
kernel-transformation matrices are left out; training uses the trainer's
sandwich rule with in-place distillation, as in BigNAS (Yu et al. 2020).
"""

from __future__ import annotations

from supernets._base import Supernet
from supernets._registry import register_supernet

__all__ = ["MobileNetSupernet"]


@register_supernet("mobilenet")
class MobileNetSupernet(Supernet):
    """Slots are the standalone model's module names; ``largest()`` covers every shape."""
