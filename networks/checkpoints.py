"""Checkpoints: the authors' released format and slamseg's own format with metadata.

Released format (../shared/reference/authors_net/): ``{"state_dict": {...}}`` with the keys of
:class:`~slamseg.networks.refinenet.JointNet`, no ``module.`` prefix. The architecture is recognised from the
keys and shapes.

slamseg format: the same ``state_dict`` plus ``"slamseg"``: a dict of metadata (:data:`META_KEYS`):
``format_version``, ``arch`` (registry name), ``tasks``, ``num_classes``, ``label_set`` (e.g. "nyu40", "kitti6",
None for multi-dataset models), ``class_slices``, ``mean`` / ``std`` (input normalisation of image/255, RGB),
``depth_scale`` (metres per raw depth unit), ``training`` (the training config) and ``metrics``. Only plain
Python values are stored, so every file loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from slamseg.networks.errors import CheckpointError
from slamseg.networks.refinenet import HEAD_NAMES, KNOWN_TASKS, JointNet
from slamseg.networks.registry import ARCHITECTURES, IMAGENET_MEAN, IMAGENET_STD, build_model, get_spec
from slamseg.sequences.atomic import atomic_path

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_KEYS = ("format_version", "arch", "tasks", "num_classes", "label_set", "class_slices", "mean", "std",
             "depth_scale", "training", "metrics")


def default_meta(model: JointNet) -> dict[str, Any]:
    """The metadata a model has when nothing else is known: its registry entry's label set, ImageNet
    normalisation, depth in metres."""
    spec = ARCHITECTURES.get(model.arch)
    same_classes = spec is not None and spec.num_classes == model.num_classes
    return {
        "format_version": FORMAT_VERSION,
        "arch": model.arch,
        "tasks": list(model.tasks),
        "num_classes": model.num_classes,
        "label_set": spec.label_set if same_classes else None,
        "class_slices": [list(s) for s in spec.class_slices] if same_classes else [],
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "depth_scale": 1.0,
        "training": None,
        "metrics": None,
    }


def _abbrev(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _shapes(state: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def infer_layout(state: Mapping[str, torch.Tensor]) -> tuple[tuple[str, ...], int]:
    """(tasks, num_classes) that a state_dict's head keys imply (num_classes 0 without a segm head)."""
    tasks = tuple(t for t in KNOWN_TASKS if f"{HEAD_NAMES[t]}.weight" in state)
    num_classes = int(state["segm.weight"].shape[0]) if "segm.weight" in state else 0
    return tasks, num_classes


def best_fit(state: Mapping[str, torch.Tensor]) -> tuple[str, float]:
    """The registered architecture whose layout shares the most (key, shape) pairs with ``state``, and that
    fraction (of the union of both key sets)."""
    given = set(_shapes(state).items())
    scores = {}
    for name in ARCHITECTURES:
        ref = set(_shapes(build_model(name).state_dict()).items())
        scores[name] = len(given & ref) / max(len(given | ref), 1)
    name = max(scores, key=scores.__getitem__)
    return name, scores[name]


def _check_fit(path: Path | str, model: JointNet, state: Mapping[str, torch.Tensor]) -> None:
    """CheckpointError listing missing / unexpected keys and shape mismatches, with the best-fitting
    architecture, unless ``state`` fits ``model`` exactly."""
    own = _shapes(model.state_dict())
    given = _shapes(state)
    missing = [k for k in own if k not in given]
    unexpected = [k for k in given if k not in own]
    wrong = [f"{k} {list(given[k])} (expected {list(own[k])})" for k in own if k in given and own[k] != given[k]]
    if not (missing or unexpected or wrong):
        return
    parts = [f"{path}: does not fit architecture {model.arch!r} "
             f"(tasks {list(model.tasks)}, {model.num_classes} classes)"]
    if "segm.weight" in given and "segm.weight" in own and given["segm.weight"][0] != own["segm.weight"][0]:
        parts.append(f"class count mismatch: checkpoint has {given['segm.weight'][0]} classes, "
                     f"the model {own['segm.weight'][0]}")
    if missing:
        parts.append(f"missing keys: {_abbrev(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {_abbrev(unexpected)}")
    if wrong:
        parts.append(f"shape mismatches: {_abbrev(wrong, 3)}")
    name, score = best_fit(state)
    parts.append(f"best-fitting known architecture: {name} ({score:.0%} of keys and shapes match)")
    raise CheckpointError("; ".join(parts))


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """(state_dict, slamseg metadata or None for the released format) of a checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors for a damaged or foreign file
        first = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else "truncated or empty"
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {first})") from err
    return unpack_checkpoint(blob, str(path))


def unpack_checkpoint(blob: Any, where: str = "checkpoint") -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """(state_dict, slamseg metadata or None) of a loaded checkpoint: ``{"state_dict": ..., "slamseg": ...}``
    (slamseg format), ``{"state_dict": ...}`` (released) or a bare ``{name: tensor}`` state_dict. ``where`` names
    the source in errors."""
    if isinstance(blob, Mapping) and "state_dict" in blob:
        state, meta = blob["state_dict"], blob.get("slamseg")
    elif isinstance(blob, Mapping) and blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
        state, meta = blob, None  # a bare state_dict
    else:
        raise CheckpointError(f"{where}: expected a dict with a 'state_dict' entry (released or slamseg format) "
                              "or a state_dict of names to tensors")
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{where}: 'state_dict' is not a mapping of names to tensors")
    # Checkpoints saved from nn.DataParallel carry a "module." prefix; the release has none.
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if meta is not None and not isinstance(meta, Mapping):
        raise CheckpointError(f"{where}: 'slamseg' metadata is {type(meta).__name__}, expected a dict")
    return state, dict(meta) if meta is not None else None


def load_model(source: str | Path | Mapping[str, Any], arch: str | None = None,
               map_location: str | torch.device = "cpu") -> JointNet:
    """Load a released or slamseg checkpoint into a :class:`JointNet` in eval mode.

    ``source``: a checkpoint file, or the checkpoint already in memory: a state_dict (``{name: tensor}``, e.g.
    ``Weights.get_state_dict()`` or ``model.state_dict()``) or a whole checkpoint dict (``{"state_dict": ...,
    "slamseg": {...}}``). The architecture comes from ``arch`` if given, else from the metadata, else from the
    released layout (a registered name whose layout it matches, or a custom one with its head keys' tasks and
    classes).
    The model carries ``model.meta`` (see :data:`META_KEYS`). Raises CheckpointError when the weights do not fit.
    """
    if isinstance(source, Mapping):
        path: Path | str = "state_dict"  # names the source in errors
        state, meta = unpack_checkpoint(source, "state_dict")
    else:
        path = Path(source)
        state, meta = read_checkpoint(path)
    tasks, num_classes = infer_layout(state)
    if not tasks:
        name, score = best_fit(state)
        raise CheckpointError(f"{path}: no task head (segm/depth/normal) among its {len(state)} keys; "
                              f"best-fitting known architecture: {name} ({score:.0%} of keys and shapes match)")
    if arch is not None:
        get_spec(arch)
        model = build_model(arch)
    elif meta is not None and meta.get("arch") in ARCHITECTURES:
        model = build_model(meta["arch"], num_classes=int(meta.get("num_classes") or num_classes or 1),
                            tasks=tuple(meta.get("tasks") or tasks))
    else:
        # Released: a registered name if one matches exactly, otherwise the layout the heads imply.
        matches = [n for n, s in ARCHITECTURES.items() if s.tasks == tasks and s.num_classes == num_classes]
        model = build_model(matches[0]) if matches else build_model(
            "nyud_joint", num_classes=num_classes or 1, tasks=tasks)
        if not matches:
            model.arch = "custom"
    _check_fit(path, model, state)
    model.load_state_dict(state, strict=True)
    full_meta = default_meta(model)
    if meta:
        full_meta.update({k: v for k, v in meta.items() if v is not None or k in ("training", "metrics")})
    named = full_meta.get("label_set")
    if named and "segm" in model.tasks:
        from slamseg.sequences import LabelSetError, get_label_set

        try:
            expected = get_label_set(named).num_classes
        except LabelSetError as err:
            raise CheckpointError(f"{path}: its metadata names an unknown label set ({err})") from None
        if expected != model.num_classes:
            raise CheckpointError(f"{path}: its metadata names label set {named} ({expected} classes) but its "
                                  f"segmentation head has {model.num_classes} classes")
    model.meta = full_meta
    log.debug("loaded %s as %s (%s, %d classes)", path, model.arch, model.tasks, model.num_classes)
    return model.to(map_location).eval()


def save_checkpoint(path: str | Path, model: JointNet, **meta: Any) -> Path:
    """Write ``model`` in slamseg's format, atomically.

    ``meta`` overrides the model's metadata (``model.meta`` if it has one, else :func:`default_meta`): e.g.
    ``label_set="nyu13"``, ``mean=[...]``, ``std=[...]``, ``depth_scale=1.0``, ``training={...}``,
    ``metrics={...}``. Unknown keys are refused so that typos do not vanish silently.
    """
    unknown = sorted(set(meta) - set(META_KEYS))
    if unknown:
        raise CheckpointError(f"save_checkpoint: unknown metadata {unknown}; known: {list(META_KEYS)}")
    full = {**default_meta(model), **getattr(model, "meta", {}), **meta}
    # The architecture facts always come from the model itself, never from stale metadata.
    full.update(format_version=FORMAT_VERSION, arch=model.arch, tasks=list(model.tasks),
                num_classes=model.num_classes)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, "slamseg": full}, tmp)
    return path


def export_half(model: torch.nn.Module, path: str | Path, **meta: Any) -> Path:
    """Write the weights in half precision (slamseg format) plus ``<name>.json`` with its metadata/metrics."""
    import copy

    from slamseg.sequences.atomic import atomic_write_json

    path = Path(path)
    half = copy.deepcopy(model).cpu().half()
    save_checkpoint(path, half, **meta)
    atomic_write_json(path.with_suffix(".json"), {k: meta.get(k) for k in ("metrics", "training")})
    return path
