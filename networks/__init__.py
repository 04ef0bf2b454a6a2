"""slamseg.networks: the joint depth + segmentation (+ normals) network, checkpoints, serving, training.

Depends on torch, numpy and slamseg.sequences; never open3d. Heavy submodules load lazily (PEP 562), so
``import slamseg.networks`` and ``import slamseg.networks.errors`` do not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule that defines it
_LAZY: dict[str, str] = {
    "build_model": "registry",
    "list_models": "registry",
    "get_spec": "registry",
    "ARCHITECTURES": "registry",
    "JointNet": "refinenet",
    "load_model": "checkpoints",
    "save_checkpoint": "checkpoints",
    "load_checkpoint": "checkpoints",
    "Predictor": "predictor",
    "Prediction": "predictor",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"slamseg.networks.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'slamseg.networks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
