"""Allocator setting of the CPU fast path: a forward pass reuses the previous one's freed activations instead of
faulting fresh pages in."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import resource, sys, torch
from slamseg.networks import build_model
from slamseg.networks.fast import prepare, retain_freed_memory
torch.set_num_threads(1)
if sys.argv[1] == "retain":
    assert retain_freed_memory() and retain_freed_memory()  # idempotent
net = prepare(build_model("nyud_joint"), cpu_kernels=True)
x = torch.zeros(1, 3, 240, 320).contiguous(memory_format=torch.channels_last)
with torch.inference_mode():
    for _ in range(3):
        net(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        net(x)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 3)
"""


def _faults_per_pass(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def test_forward_passes_reuse_retained_memory() -> None:
    default, retained = _faults_per_pass("default"), _faults_per_pass("retain")
    assert default > 1000  # glibc's default gives large freed blocks back: ~4 MB of activations fault in again
    assert retained < default / 10
