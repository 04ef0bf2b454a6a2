"""slamseg.networks: the joint depth + segmentation (+ normals) network, checkpoints, serving, training.

Depends on torch, numpy and slamseg.sequences; never open3d. Heavy submodules load lazily (PEP 562), so
``import slamseg.networks`` and ``import slamseg.networks.errors`` do not import torch.
"""

from __future__ import annotations

from slamseg.sequences.lazy import lazy_exports

# public name -> submodule that defines it
_LAZY: dict[str, str] = {
    "build_model": "registry",
    "list_models": "registry",
    "get_spec": "registry",
    "ARCHITECTURES": "registry",
    "JointNet": "refinenet",
    "load_model": "checkpoints",
    "save_checkpoint": "checkpoints",
    "Weights": "weights_meta",
    "NyudJointWeights": "weights_meta",
    "get_weights": "weights_meta",
    "get_model_weights": "weights_meta",
    "list_weights": "weights_meta",
    "resolve_checkpoint": "weights_meta",
    "export_onnx": "export",
    "export_pt2": "export",
    "export_model": "export",
    "Predictor": "predictor",
    "Prediction": "predictor",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
