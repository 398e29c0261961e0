"""Time forward passes in the allocator's steady state, whatever the process did before.

glibc's ``malloc`` serves a large block (above its *mmap threshold*, 128 KiB at
start, raised to the size of any mmapped block freed since, at most 32 MiB) with a
fresh ``mmap``, and gives the top of its heap back to the OS once more than the
*trim threshold* (twice the mmap threshold) is free. A CNN's activations at 32x32
and a batch of 64 are 4 MiB each, so in a fresh process every pass maps, faults in
and zeroes them again: ResNet-20 took 23,000 minor page faults per pass and read
1.4-1.8x slower than in a process that had loaded a data set first (whose large
frees had raised both thresholds), where it took none. The faults weigh on the
high-resolution stages, so they also moved ratios between networks (0.47x
against 0.64x for the same pair), which a latency cap or a "<= 0.5x" claim
cannot survive.

:func:`steady_allocator` fixes both thresholds for the process (mmap at its 32 MiB
maximum, trim at 1 GiB), so a measurement sees compute, not page faults, in every
process alike. Deployments get the same from jemalloc or tcmalloc, which PyTorch's
CPU performance guide recommends. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["steady_allocator"]

#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit
_TRIM_THRESHOLD = 1024 * 1024 * 1024

_steady = False


def steady_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds once per process; True where they are fixed.

    Memory the process frees stays mapped for reuse (up to 1 GiB free at the heap
    top), which is what a long-running inference server wants too.
    """
    global _steady
    if _steady:
        return True
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt, Windows)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _steady = (mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
               and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1)
    return _steady
