"""Options of the commands that act on files they are given: ``predict``, ``evaluate``, ``evaluate-map``,
``export`` and ``export-model`` (light module: validated before torch or open3d load). Their flags are derived
from these classes (slamseg/commands/options.py), and the ``config.yaml`` each run writes reloads with
``--config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class PredictConfig:
    """``slamseg predict``.

    Attributes:
        inputs: image files, image folders or sequence paths.
        checkpoint: network checkpoint (released or slamseg format); None = the bundled model.
        device: "cpu" or "cuda[:N]".
        mode: serving path: "fast", "naive" (eager float32 network) or "release" (the authors' demo operator by
            operator: bicubic logits and depth, full-resolution softmax).
        dtype: network precision: "float16" (CUDA only), "bfloat16" (CUDA, or a CPU with AVX-512 BF16 / AMX),
            "int8" (backend onnxruntime).
        backend: runtime of the network on CPU: "torch", "openvino" or "onnxruntime".
        input_width, input_height: run the network at this size (outputs keep the image size); None = as is.
        class_slice: label set name (e.g. "nyu40") or "FIRST:END" channels of a multi-dataset model.
        depth_factor: depth PNG value per metre (1000: millimetres).
        save_probs: also write probs/<name>.npz (float16).
        threads: torch CPU threads; None = torch's default.
        max_pixels: refuse images larger than this many pixels; None = 50 000 000 or SLAMSEG_MAX_IMAGE_PIXELS.
    """

    inputs: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    device: str = "cpu"
    mode: Literal["fast", "naive", "release"] = "fast"
    dtype: Literal["float32", "bfloat16", "float16", "int8"] = "float32"
    backend: Literal["torch", "openvino", "onnxruntime"] = "torch"
    input_width: int | None = None
    input_height: int | None = None
    class_slice: str | None = None
    depth_factor: float = 1000.0
    save_probs: bool = False
    threads: int | None = None
    max_pixels: int | None = None


@dataclass
class EvaluateConfig:
    """``slamseg evaluate``: the paper's metrics of a model on datasets.

    Attributes:
        checkpoint: model file (slamseg or released format).
        data: dataset paths, or ``synthetic:SEEDS`` (e.g. synthetic:1000,1001).
        format: sequence format name; None detects it.
        split: reader split option (e.g. "test" for the NYU labelled .mat).
        synthetic_frames, synthetic_size, synthetic_speed: frames per synthetic scene, its size "WxH" and
            camera speed factor.
        class_slice: "FIRST:END" channels of a multi-dataset model.
        nyu_crop: evaluate depth inside Eigen's NYU crop.
        max_depth: metres; ground-truth depth beyond it is ignored; None = no cap.
        batch_size: frames per forward pass.
        device: torch device.
    """

    checkpoint: str = ""
    data: list[str] = field(default_factory=list)
    format: str | None = None
    split: str | None = None
    synthetic_frames: int = 20
    synthetic_size: str = "160x120"
    synthetic_speed: float = 4.0
    class_slice: str | None = None
    nyu_crop: bool = False
    max_depth: float | None = None
    batch_size: int = 4
    device: str = "cpu"


@dataclass
class EvaluateMapConfig:
    """``slamseg evaluate-map``.

    Attributes:
        run: run folder of ``slamseg reconstruct``.
        sequence: the sequence's path, if it moved since the run; None = the run's.
        single_frame: also run the network for the single-frame label comparison.
    """

    run: str = ""
    sequence: str | None = None
    single_frame: bool = True


@dataclass
class ExportConfig:
    """``slamseg export``.

    Attributes:
        map: map file (map.npz) or reconstruct run folder.
        format: "ply", "glb" or "obj".
        palette: vertex colours: "nyu13" (SemanticFusion's colours), "nyu40", "labels" (the map's classes), "rgb".
        per_class: also write one file per class under classes/.
        min_confidence: vertices whose label probability is below this become void (0..1).
        with_probs: PLY: add per-vertex class probabilities.
    """

    map: str = ""
    format: Literal["ply", "glb", "obj"] = "ply"
    palette: Literal["nyu13", "nyu40", "labels", "rgb"] = "nyu13"
    per_class: bool = False
    min_confidence: float = 0.0
    with_probs: bool = False


@dataclass
class ExportModelConfig:
    """``slamseg export-model``.

    Attributes:
        checkpoint: checkpoint file (released or slamseg format) or the name of bundled weights (synthetic_nyu40).
        format: "onnx" (torch.onnx's dynamo exporter; ONNX Runtime, TensorRT...), "pt2" (a torch.export program,
            torch.export.load) or "torchscript" (deprecated by PyTorch: a frozen trace, kept for old deployments).
        output: file to write; None = the checkpoint's name with .onnx, .pt2 or .torchscript.pt, in the current
            folder.
        input_width, input_height: example input size; ONNX and pt2 exports take any batch and any size from 33 to
            8192 pixels a side, a TorchScript trace other sizes too.
    """

    checkpoint: str = ""
    format: Literal["onnx", "pt2", "torchscript"] = "onnx"
    output: str | None = None
    input_width: int = 640
    input_height: int = 480
