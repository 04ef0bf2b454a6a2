"""Export the joint network for serving without slamseg: ONNX (default), ``torch.export`` programs (.pt2) and,
deprecated, TorchScript.

Every format takes the BatchNorm-folded eval model. Input: N x 3 x H x W float32 normalised RGB,
``(RGB / 255 - mean) / std`` with the checkpoint's ``mean`` / ``std`` (ImageNet for the released models).
Outputs: the raw network outputs at 1/4 resolution (ceil(H/4) x ceil(W/4), :data:`OUTPUT_STRIDE`), named by task
(``segm`` N x K logits, ``depth`` N x 1 raw depth (x ``depth_scale`` = metres, up to sign), ``normals`` N x 3)
in ``model.tasks`` order. ONNX and .pt2 exports have a dynamic batch (1..:data:`MAX_BATCH`) and dynamic height
and width (any integer in :data:`MIN_SIDE`..:data:`MAX_SIDE`, not only multiples of 32). Sides of 32 pixels or
fewer are outside the exported range: their deepest features are 1 x 1, a size ``torch.export`` specialises on.

Metadata (:func:`export_metadata`): ONNX ``metadata_props`` (every value JSON text); .pt2 the ``slamseg.json``
entry of ``extra_files`` (``torch.export.load(path, extra_files={"slamseg.json": ""})`` fills it in). Files are
written atomically.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slamseg.networks.errors import NetworkError
from slamseg.networks.fast import fold_batchnorm
from slamseg.sequences.atomic import atomic_path, strict_json_data

log = logging.getLogger(__name__)

OUTPUT_STRIDE = 4  # outputs are ceil(H/4) x ceil(W/4): the decoder ends at the encoder's stride-4 features
MIN_SIDE, MAX_SIDE = 33, 8192  # pixels per side the dynamic exports accept (see the module docstring)
MAX_BATCH = 1024
PT2_METADATA = "slamseg.json"  # the extra_files entry of .pt2 exports holding export_metadata()
FORMATS = ("onnx", "pt2", "torchscript")
SUFFIXES = {"onnx": ".onnx", "pt2": ".pt2", "torchscript": ".torchscript.pt"}


class _TupleOutputs(nn.Module):
    """Dict outputs -> tuple in task order (ONNX and TorchScript graphs prefer positional outputs)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.tasks = tuple(model.tasks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x)
        return tuple(out[t] for t in self.tasks)


def serving_net(model: nn.Module) -> _TupleOutputs:
    """The folded float32 CPU copy every exporter traces; ``model`` is left untouched."""
    net = _TupleOutputs(fold_batchnorm(copy.deepcopy(model).to("cpu", torch.float32))).eval()
    for module in net.modules():
        # In-place hardtanh_ has no ONNX translation, so the exporter re-derives it through clamp's reference
        # implementation, which under symbolic shapes doubled the export time; the out-of-place op maps to Clip.
        if isinstance(module, nn.ReLU6):
            module.inplace = False
    return net


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise NetworkError(f"export size {width}x{height}: width and height must be {MIN_SIDE}..{MAX_SIDE} pixels")
    return width, height


def export_metadata(model: nn.Module) -> dict[str, Any]:
    """What a served model needs besides its graph (plain JSON data).

    Keys: ``arch``, ``tasks``, ``num_classes``, ``label_set`` (name or None), ``class_names`` (one per ``segm``
    channel; None when unknown), ``class_slices``, ``mean`` / ``std`` (normalisation of RGB/255, RGB order),
    ``depth_scale`` (metres per raw depth unit), ``output_stride``, ``input`` / ``outputs`` (layout in words),
    ``slamseg_version``.
    """
    from slamseg.networks.checkpoints import default_meta
    from slamseg.sequences.labelsets import get_label_set

    meta = {**default_meta(model), **(getattr(model, "meta", None) or {})}
    names: list[str] | None = None
    if meta.get("label_set"):
        names = list(get_label_set(meta["label_set"]).class_names)
    elif meta.get("class_slices"):
        names = [n for name, first, end in meta["class_slices"] for n in get_label_set(name).class_names[: end - first]]
    return strict_json_data({
        "arch": model.arch,
        "tasks": list(model.tasks),
        "num_classes": model.num_classes,
        "label_set": meta.get("label_set"),
        "class_names": names,
        "class_slices": meta.get("class_slices") or [],
        "mean": meta["mean"],
        "std": meta["std"],
        "depth_scale": meta.get("depth_scale", 1.0),
        "output_stride": OUTPUT_STRIDE,
        "input": "input: N x 3 x H x W float32, (RGB / 255 - mean) / std",
        "outputs": "per task, N x C x ceil(H / output_stride) x ceil(W / output_stride): segm logits (class id = "
                   "channel + 1), depth x depth_scale = metres (slamseg reads negative values as invalid; the "
                   "authors' demo takes the absolute value), normals unnormalised",
        "slamseg_version": _version(),
    })


def _version() -> str:
    # networks may not import the application package (slamseg._version): ask the installed distribution.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("slamseg")
    except PackageNotFoundError:
        return "unknown"


def export_program(model: nn.Module, size: tuple[int, int] = (640, 480)) -> torch.export.ExportedProgram:
    """``torch.export`` of the folded model with dynamic batch, height and width (see the module docstring).

    ``size`` = (width, height) of the example input, each :data:`MIN_SIDE`..:data:`MAX_SIDE`; the program takes
    other sizes too. The program returns a tuple in ``model.tasks`` order. Pass it to :func:`export_onnx` and
    :func:`export_pt2` to write both from one trace.
    """
    width, height = _check_size(size)
    # A batch of 2: torch.export specialises on sizes 0 and 1, so a batch-1 example would fix the batch to 1.
    example = torch.zeros(2, 3, height, width)
    with torch.no_grad():
        return torch.export.export(serving_net(model), (example,), dynamic_shapes=_dynamic_shapes())


def _dynamic_shapes() -> dict[str, dict[int, Any]]:
    """The input's dynamic axes (``x`` is the name of the traced forward's argument)."""
    return {"x": {0: torch.export.Dim("batch", min=1, max=MAX_BATCH),
                  2: torch.export.Dim("height", min=MIN_SIDE, max=MAX_SIDE),
                  3: torch.export.Dim("width", min=MIN_SIDE, max=MAX_SIDE)}}


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence two things torch's ONNX exporter emits that are no fault of the caller: torch's own deprecation
    of ``LeafSpec``, raised when it deep-copies its own pytree specs while decomposing, and the log lines about
    torchvision operators it skips when torchvision is absent."""
    quiet = {"torch.onnx._internal.exporter._registration": logging.ERROR,
             "onnx_ir.passes": logging.WARNING}  # onnx_ir's optimiser logs each initializer it merges at INFO
    levels = {name: logging.getLogger(name).level for name in quiet}
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                    category=FutureWarning)
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def export_onnx(model: nn.Module, path: str | Path, size: tuple[int, int] = (640, 480), opset: int | None = None,
                program: torch.export.ExportedProgram | None = None) -> Path:
    """Export to ONNX with ``torch.onnx.export(dynamo=True)``: dynamic batch, height and width, output names =
    ``model.tasks``, weights inside the one file, :func:`export_metadata` in ``metadata_props`` (JSON values).

    The input's axes are named ``batch``, ``height``, ``width``. ``size`` = (width, height) of the example input;
    ``opset`` None = torch's recommended opset; ``program``: an :func:`export_program` of the same model, to skip
    tracing it again. Needs the ``onnx`` and ``onnxscript`` packages (extra ``slamseg[onnx]``). Returns the path.
    """
    missing = [name for name in ("onnx", "onnxscript") if not _importable(name)]
    if missing:
        raise NetworkError(f"ONNX export needs {' and '.join(missing)}: pip install 'slamseg[onnx]'")
    program = program if program is not None else export_program(model, size)
    with torch.no_grad(), _quiet_exporter():
        # dynamic_shapes only names the ONNX axes here (batch, height, width): the program already has them.
        onnx_program = torch.onnx.export(program, dynamo=True, input_names=["input"], dynamic_shapes=_dynamic_shapes(),
                                         output_names=list(model.tasks), opset_version=opset, verbose=False)
    if onnx_program is None:  # torch returns None only for the legacy exporter
        raise NetworkError("torch.onnx.export returned no ONNX program")
    onnx_program.model.metadata_props.update({k: json.dumps(v) for k, v in export_metadata(model).items()})
    path = Path(path)
    with atomic_path(path) as tmp:
        onnx_program.save(tmp, external_data=False)
    log.info("wrote ONNX model %s", path)
    return path


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def export_pt2(model: nn.Module, path: str | Path, size: tuple[int, int] = (640, 480),
               program: torch.export.ExportedProgram | None = None) -> Path:
    """Save :func:`export_program` with ``torch.export.save`` (.pt2) and :func:`export_metadata` as its
    ``slamseg.json`` extra file. Load with ``torch.export.load(path).module()``; returns the path."""
    program = program if program is not None else export_program(model, size)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.export.save(program, tmp, extra_files={PT2_METADATA: json.dumps(export_metadata(model))})
    log.info("wrote torch.export program %s", path)
    return path


def read_pt2_metadata(path: str | Path) -> dict[str, Any]:
    """The :func:`export_metadata` saved in a .pt2 export (loads the program: seconds for the joint network)."""
    extra = {PT2_METADATA: ""}
    torch.export.load(Path(path), extra_files=extra)
    if not extra[PT2_METADATA]:
        raise NetworkError(f"{path}: no {PT2_METADATA} entry; expected a .pt2 written by slamseg")
    return json.loads(extra[PT2_METADATA])


def export_torchscript(model: nn.Module, path: str | Path, size: tuple[int, int] = (640, 480)) -> Path:
    """Trace (at ``size`` = (width, height); other sizes work too), freeze and save; returns the path.

    The saved module returns a tuple in ``model.tasks`` order. TorchScript is deprecated by PyTorch; it stays
    for users who serve TorchScript, such as expert teachers saved that way (networks/expert.py loads them). Prefer
    ONNX or .pt2."""
    width, height = size
    net = serving_net(model)
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(net, torch.zeros(1, 3, height, width)))
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.jit.save(frozen, str(tmp))
    return path


def export_model(model: nn.Module, path: str | Path, fmt: str = "onnx", size: tuple[int, int] = (640, 480)) -> Path:
    """Export ``model`` to ``path`` in ``fmt`` (one of :data:`FORMATS`); ``size`` = (width, height)."""
    if fmt == "onnx":
        return export_onnx(model, path, size)
    if fmt == "pt2":
        return export_pt2(model, path, size)
    if fmt == "torchscript":
        log.warning("TorchScript is deprecated by PyTorch: prefer --format onnx or pt2")
        return export_torchscript(model, path, size)
    raise NetworkError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
