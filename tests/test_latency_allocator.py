"""Latency is timed in the allocator's steady state: a fresh process's passes do not
page-fault their activations in again each time (nas.latency.allocator)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="the page-fault behaviour is glibc malloc's")

# A fresh interpreter: a conv whose activations (4 MiB at a batch of 64) are above glibc's
# starting mmap threshold; minor page faults per pass, before and after measure_latency.
_SCRIPT = textwrap.dedent("""
    import json, resource, torch
    from nas.metrics import Batch, measure_latency
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Conv2d(16, 16, 3, padding=1)).eval()
    batch = Batch((torch.randn(64, 3, 32, 32),), None)

    def faults_per_pass():
        with torch.inference_mode():
            for _ in range(3):
                model(*batch.inputs)
            start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(5):
                model(*batch.inputs)
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / 5

    before = faults_per_pass()
    measure_latency(model, batch, repeats=3)
    print(json.dumps({"before": before, "after": faults_per_pass()}))
""")


def test_a_fresh_process_stops_faulting_its_activations_in_once_it_measures_latency() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    faults = json.loads(done.stdout.strip().splitlines()[-1])
    # glibc's defaults: each pass maps its 4 MiB activations afresh (about 1,000 pages each)
    assert faults["before"] > 500, faults
    # fixed thresholds: freed activations are reused, nothing is faulted in again
    assert faults["after"] < 50, faults
