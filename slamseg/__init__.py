"""slamseg: dense semantic SLAM with one real-time joint depth + segmentation network.

This module stays import-light on purpose: importing ``slamseg.sequences`` (or ``networks``/``fusion``)
imports it first, and the CLI's ``--help`` must not pay for torch or open3d.
"""

from typing import Any

from slamseg._version import __version__

__all__ = ["__version__", "configure_runtime"]


def configure_runtime(retain_memory: bool = True) -> dict[str, bool]:
    """Set up the process for slamseg's kernels (numba's threading layer, malloc); see slamseg/runtime.py."""
    from slamseg.runtime import configure_runtime as configure

    return configure(retain_memory)


def __getattr__(name: str) -> Any:  # pragma: no cover - nothing else is exported
    raise AttributeError(f"module 'slamseg' has no attribute {name!r}")
