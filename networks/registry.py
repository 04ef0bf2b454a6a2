"""Registry of joint-network builders by name (torchvision style: ``build_model("nyud_joint")``).

Each entry records what the released checkpoint of that name holds: class count, tasks and label set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slamseg.networks.errors import NetworkError

# ImageNet normalisation used by the released models (image/255 - mean) / std, RGB order.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ArchSpec:
    """What a registered architecture is: the JointNet arguments plus the label set of its classes.

    ``release`` is the authors' checkpoint file name (never downloaded; documented for users who have it).
    ``label_set`` is the name known to :func:`slamseg.sequences.labelsets.get_label_set`, or None when the
    classes span several sets (the 46-class model: 0-39 nyu40, 40-45 kitti6; see ``class_slices``).
    """

    name: str
    num_classes: int
    tasks: tuple[str, ...]
    label_set: str | None
    release: str | None = None
    class_slices: tuple[tuple[str, int, int], ...] = ()  # (label set, first channel, end channel)


ARCHITECTURES: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in (
        ArchSpec("nyud_joint", 40, ("segm", "depth"), "nyu40", "ExpNYUD_joint.ckpt"),
        ArchSpec("kitti_joint", 6, ("segm", "depth"), "kitti6", "ExpKITTI_joint.ckpt"),
        ArchSpec("nyudkitti_joint", 46, ("segm", "depth"), None, "ExpNYUDKITTI_joint.ckpt",
                 class_slices=(("nyu40", 0, 40), ("kitti6", 40, 46))),
        ArchSpec("nyud_three", 40, ("segm", "depth", "normals"), "nyu40", "ExpNYUD_three.ckpt"),
    )
}


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(ARCHITECTURES)


def get_spec(name: str) -> ArchSpec:
    """The :class:`ArchSpec` of a registered name; NetworkError naming the known ones otherwise."""
    if name not in ARCHITECTURES:
        raise NetworkError(f"unknown architecture {name!r}; known: {', '.join(list_models())}")
    return ARCHITECTURES[name]


def build_model(name: str = "nyud_joint", *, num_classes: int | None = None, tasks: Sequence[str] | None = None,
                **overrides: Any) -> Any:
    """Build a randomly initialised joint network by registry name, optionally overriding classes/tasks.

    ``build_model("nyud_joint")`` is the 40-class segmentation + depth model; ``build_model("nyud_joint",
    num_classes=13, tasks=("segm", "depth", "normals"))`` any variant. Returns a
    :class:`slamseg.networks.refinenet.JointNet` in training mode (as torchvision builders do).
    """
    from slamseg.networks.refinenet import JointNet

    if overrides:
        raise NetworkError(f"build_model({name!r}): unknown options {sorted(overrides)}; "
                           "expected num_classes and/or tasks")
    spec = get_spec(name)
    return JointNet(num_classes=spec.num_classes if num_classes is None else num_classes,
                    tasks=spec.tasks if tasks is None else tuple(tasks), arch=name)
