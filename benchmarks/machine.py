"""What the benchmark scripts record about the machine they ran on: the CPU's model name and its instruction-set
flags that matter to the network's runtimes (read from /proc/cpuinfo; empty where there is none)."""

from __future__ import annotations

import platform
from pathlib import Path

# AVX-512 / VNNI / BF16 / AMX decide which int8 and bf16 kernels a CPU runtime can use
RELEVANT_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_bf16", "amx_int8",
                  "amx_tile")


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def cpu_model() -> str:
    """The CPU's model name (e.g. "AMD EPYC"), or what the platform module says where /proc/cpuinfo is missing."""
    for line in _cpuinfo_lines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The :data:`RELEVANT_FLAGS` this CPU has."""
    flags = next((line.split(":", 1)[1].split() for line in _cpuinfo_lines() if line.startswith("flags")), [])
    return [f for f in RELEVANT_FLAGS if f in flags]
