"""Weights shipped with slamseg, described torchvision style: one enum per architecture whose members are
:class:`Weights` (file, label set, class names, normalisation, tasks, metrics), e.g.
``NyudJointWeights.SYNTHETIC_NYU40`` (alias ``NyudJointWeights.DEFAULT``).

Only ``nyud_joint`` has bundled weights (trained on synthetic rooms, see BENCHMARKS.md); the authors' released
checkpoints (``ArchSpec.release``) are never downloaded: load them with
:func:`slamseg.networks.checkpoints.load_model`. Nothing here downloads anything (``url`` is None). Light module:
torch is imported only to read the weights.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from slamseg.networks.errors import CheckpointError, NetworkError
from slamseg.networks.registry import IMAGENET_MEAN, IMAGENET_STD

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Weights:
    """One set of bundled weights.

    Attributes:
        name: the weights' name (``synthetic_nyu40``), accepted wherever a checkpoint path is.
        arch: registry name of the architecture (:func:`slamseg.networks.build_model`).
        file: file name in ``networks/weights/`` (slamseg checkpoint format, half precision); its metrics and
            training config are in the ``.json`` of the same name.
        url: where to download it; None: shipped inside the package.
        label_set: label set of the segmentation classes (channel c = class id c + 1).
        tasks: network outputs, in order.
        mean, std: input normalisation of RGB / 255, RGB order.
        depth_scale: metres per raw depth output unit.
        description: one line on what the weights are.
    """

    name: str
    arch: str
    file: str
    url: str | None
    label_set: str
    tasks: tuple[str, ...]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    depth_scale: float
    description: str

    @property
    def path(self) -> Path:
        """The weights file; CheckpointError when it is missing from the installation."""
        path = WEIGHTS_DIR / self.file
        if not path.is_file():
            raise CheckpointError(f"the bundled weights {path} are missing: pass a checkpoint file, or train them "
                                  "with 'slamseg train train_synthetic --out runs/train-synthetic' (BENCHMARKS.md)")
        return path

    @property
    def class_names(self) -> tuple[str, ...]:
        """One name per segmentation channel (void excluded)."""
        from slamseg.sequences.labelsets import get_label_set

        return get_label_set(self.label_set).class_names

    @property
    def metrics(self) -> dict[str, Any]:
        """Held-out metrics from the ``.json`` beside the file; undefined values (e.g. the IoU of a class absent
        from the held-out frames), null in the file, are NaN in ``per_class_iou``."""
        return copy.deepcopy(_sidecar(self.path.with_suffix(".json"))["metrics"])

    @property
    def training(self) -> dict[str, Any]:
        """The training config the weights came from (``.json`` beside the file)."""
        return copy.deepcopy(_sidecar(self.path.with_suffix(".json"))["training"])

    @property
    def meta(self) -> dict[str, Any]:
        """The facts above as one dict (torchvision's ``Weights.meta``), metrics included."""
        return {"name": self.name, "arch": self.arch, "url": self.url, "label_set": self.label_set,
                "class_names": list(self.class_names), "tasks": list(self.tasks), "mean": list(self.mean),
                "std": list(self.std), "depth_scale": self.depth_scale, "metrics": self.metrics}

    def get_state_dict(self) -> dict[str, Any]:
        """The state_dict: ``{name: tensor}``, floating tensors as float32 (stored in half precision)."""
        import torch

        from slamseg.networks.checkpoints import read_checkpoint

        state, _ = read_checkpoint(self.path)
        return {k: v.float() if torch.is_floating_point(v) else v for k, v in state.items()}

    def load(self, map_location: Any = "cpu") -> Any:
        """The :class:`~slamseg.networks.refinenet.JointNet` with these weights, in eval mode, with ``.meta``."""
        from slamseg.networks.checkpoints import load_model

        return load_model(self.path, map_location=map_location)


@functools.lru_cache(maxsize=8)
def _sidecar(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: unreadable weights metadata ({err})") from None
    if not isinstance(data, dict) or "metrics" not in data:
        raise CheckpointError(f"{path}: expected a JSON object with 'metrics' and 'training'")
    metrics = data.get("metrics") or {}
    for split in metrics.values():
        if isinstance(split, dict) and isinstance(split.get("per_class_iou"), list):
            split["per_class_iou"] = [math.nan if v is None else float(v) for v in split["per_class_iou"]]
    return data


class NyudJointWeights(Enum):
    """Weights of ``nyud_joint`` (40 NYU classes, segmentation + depth). A member reads as its :class:`Weights`, as
    torchvision's do: ``NyudJointWeights.DEFAULT.load()``, ``.path``, ``.metrics``."""

    def __getattr__(self, name: str) -> Any:
        # only reached for names the enum member itself lacks: forward them to the Weights it holds
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.value, name)

    SYNTHETIC_NYU40 = Weights(
        name="synthetic_nyu40", arch="nyud_joint", file="synthetic_nyu40.pt", url=None, label_set="nyu40",
        tasks=("segm", "depth"), mean=IMAGENET_MEAN, std=IMAGENET_STD, depth_scale=1.0,
        description="trained on slamseg's synthetic furnished rooms only (configs/train_synthetic.yaml): a demo "
                    "model, not the paper's NYUv2 weights")
    DEFAULT = SYNTHETIC_NYU40


# architecture -> its weights enum (architectures without bundled weights have no entry)
MODEL_WEIGHTS: dict[str, type[Enum]] = {"nyud_joint": NyudJointWeights}
BUNDLED: dict[str, Weights] = {m.value.name: m.value for enum in MODEL_WEIGHTS.values() for m in enum}
DEFAULT_WEIGHTS = NyudJointWeights.DEFAULT.value


def list_weights() -> list[str]:
    """Names of the bundled weights (accepted by :func:`get_weights` and wherever a checkpoint path is)."""
    return sorted(BUNDLED)


def get_model_weights(arch: str) -> type[Enum]:
    """The weights enum of architecture ``arch``; NetworkError when it has no bundled weights."""
    if arch not in MODEL_WEIGHTS:
        raise NetworkError(f"architecture {arch!r} has no bundled weights (those with some: "
                           f"{', '.join(sorted(MODEL_WEIGHTS))}); load a checkpoint file with load_model")
    return MODEL_WEIGHTS[arch]


def get_weights(name: str | Weights | Enum) -> Weights:
    """``"synthetic_nyu40"``, ``"NyudJointWeights.SYNTHETIC_NYU40"``, an enum member or a Weights -> Weights."""
    if isinstance(name, Weights):
        return name
    if isinstance(name, Enum) and isinstance(name.value, Weights):
        return name.value
    if isinstance(name, str) and name in BUNDLED:
        return BUNDLED[name]
    if isinstance(name, str) and "." in name:
        enum_name, member = name.split(".", 1)
        for enum in MODEL_WEIGHTS.values():
            if enum.__name__ == enum_name and member in enum.__members__:
                return enum.__members__[member].value
    raise NetworkError(f"unknown weights {name!r}; bundled: {', '.join(list_weights())}")


def resolve_checkpoint(source: str | Path) -> Path:
    """A checkpoint path, or the name of bundled weights -> the file; CheckpointError naming both otherwise."""
    path = Path(source)
    if path.is_file():
        return path
    if str(source) in BUNDLED:
        return BUNDLED[str(source)].path
    if path.exists():
        raise CheckpointError(f"{path}: is a folder, expected a checkpoint file")
    raise CheckpointError(f"{source}: no such checkpoint file, nor bundled weights of that name "
                          f"(bundled: {', '.join(list_weights())})")
