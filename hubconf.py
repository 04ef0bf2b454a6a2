"""torch.hub entry points: ``torch.hub.load(REPO, "nyud_joint", pretrained=True)``.

One entry per registered architecture (``nyud_joint``, ``kitti_joint``, ``nyudkitti_joint``, ``nyud_three``) and
one per set of bundled weights (``synthetic_nyu40``). The entries import the installed ``slamseg`` package
(``pip install -e .`` in this repository), since its four folders install under one import root; nothing is
downloaded: a local clone is loaded with ``torch.hub.load(path, name, source="local")``.
"""

from __future__ import annotations

import typing

# torch.hub checks these import before loading an entry point.
dependencies = ["torch", "slamseg"]


def _build(arch: str, pretrained: bool, weights: typing.Any, **kwargs: typing.Any) -> typing.Any:
    """A JointNet of ``arch``: random (training mode, like torchvision builders) or, with ``pretrained`` or
    ``weights`` (a name, enum member or Weights of this architecture), loaded and in eval mode."""
    from slamseg.networks import build_model, get_model_weights, get_weights

    if weights is None and pretrained:
        weights = get_model_weights(arch).DEFAULT  # NetworkError naming the architectures that have weights
    if weights is None:
        return build_model(arch, **kwargs)
    chosen = get_weights(weights)
    if chosen.arch != arch:
        from slamseg.networks.errors import NetworkError

        raise NetworkError(f"weights {chosen.name!r} are for {chosen.arch!r}, not {arch!r}")
    if kwargs:
        from slamseg.networks.errors import NetworkError

        raise NetworkError(f"{arch}: {sorted(kwargs)} cannot change a model loaded with weights")
    return chosen.load()


def nyud_joint(pretrained: bool = False, weights: typing.Any = None, **kwargs: typing.Any) -> typing.Any:
    """MobileNet-v2 Light-Weight RefineNet, 40 NYU classes + depth. ``pretrained``: the bundled weights
    trained on synthetic rooms (``synthetic_nyu40``). ``kwargs``: ``num_classes``, ``tasks`` (random init only)."""
    return _build("nyud_joint", pretrained, weights, **kwargs)


def kitti_joint(pretrained: bool = False, weights: typing.Any = None, **kwargs: typing.Any) -> typing.Any:
    """6 KITTI classes + depth. No bundled weights: load the authors' checkpoint with slamseg's load_model."""
    return _build("kitti_joint", pretrained, weights, **kwargs)


def nyudkitti_joint(pretrained: bool = False, weights: typing.Any = None, **kwargs: typing.Any) -> typing.Any:
    """46 classes (NYU 40 then KITTI 6) + depth. No bundled weights."""
    return _build("nyudkitti_joint", pretrained, weights, **kwargs)


def nyud_three(pretrained: bool = False, weights: typing.Any = None, **kwargs: typing.Any) -> typing.Any:
    """40 NYU classes + depth + surface normals. No bundled weights."""
    return _build("nyud_three", pretrained, weights, **kwargs)


def synthetic_nyu40(**kwargs: typing.Any) -> typing.Any:
    """``nyud_joint`` with the bundled weights trained on synthetic rooms, in eval mode (``model.meta``: label
    set, normalisation, metrics)."""
    return nyud_joint(weights="synthetic_nyu40", **kwargs)
