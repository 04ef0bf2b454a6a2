"""Serving: RGB images in, depth in metres, class probabilities, labels and unit normals out, at the image size.

``Predictor(model_or_path).predict(rgb)`` does what the authors' demo does: image/255, ImageNet normalisation,
network, class scores resized to the image size (bicubic) and their argmax labels (id = channel + 1, 0 = void is
never predicted), depth resized (bilinear; bicubic with the absolute value as released), unit normals; softmax
probabilities when asked for. ``mode="fast"`` (default) serves the network through the fast paths of
:mod:`slamseg.networks.fast` and resizes the class scores and takes their argmax in one pass
(:mod:`slamseg.networks.postprocess`); ``mode="naive"`` is the plain eager float32 NCHW model the benchmark
compares against; ``mode="release"`` is the authors' demo operator by operator (naive network, PyTorch's bicubic
resize of the logits and of the depth with ``abs``, full-resolution softmax).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from slamseg.networks.backends import BACKENDS, build_backend
from slamseg.networks.checkpoints import default_meta, load_model
from slamseg.networks.errors import NetworkError
from slamseg.networks.fast import prepare, resolve_dtype
from slamseg.networks.postprocess import class_outputs, resize_depth
from slamseg.networks.refinenet import JointNet
from slamseg.networks.registry import IMAGENET_MEAN, IMAGENET_STD
from slamseg.sequences.runtime import retain_freed_memory

log = logging.getLogger(__name__)

RESIZE_MODES = ("bicubic", "bilinear")
# Fast-path settings per mode; explicit Predictor arguments override them. "fast" is the fastest CPU path
# measured by benchmarks/network.py (channels-last + folded BatchNorm, eager, plus the decoder's CPU kernels
# wherever they apply: CPU, float32, neither compile nor jit).
# "fused" and "depth_resize" are the post-processing settings (see postprocess.py).
MODES: dict[str, dict[str, Any]] = {
    "naive": {"fold_bn": False, "channels_last": False, "fused": True, "depth_resize": "bilinear"},
    "fast": {"fold_bn": True, "channels_last": True, "fused": True, "depth_resize": "bilinear"},
    "release": {"fold_bn": False, "channels_last": False, "fused": False, "depth_resize": "bicubic"},
}


@dataclass
class Prediction:
    """One image's network outputs at the image's size H x W.

    depth: H x W float32 metres, 0 = invalid (negative network depth; with ``depth_resize="bicubic"`` the absolute
        value, as released), or None without a depth task.
    probs: H x W x K float32 softmax class probabilities; None unless asked for (``predict(..., probs=True)``) or
        without a segm task.
    labels: H x W int32 ids of ``label_set`` (argmax channel + 1; 0 = void never predicted), or None.
    normals: H x W x 3 float32 unit vectors (camera frame of the network's training data), or None.
    label_set: name of the label set of ``probs``/``labels`` (e.g. "nyu40"), or None if unknown.
    """

    depth: np.ndarray | None
    probs: np.ndarray | None
    labels: np.ndarray | None
    normals: np.ndarray | None
    label_set: str | None


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """H x W (grey), H x W x 1, H x W x 3 or H x W x 4 (RGBA, alpha dropped) uint8 -> H x W x 3 uint8."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise NetworkError(f"image of dtype {image.dtype}: expected uint8 RGB (0-255)")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise NetworkError(f"image of shape {image.shape}: expected H x W, H x W x 1, H x W x 3 or H x W x 4")
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image[:, :, :3]


T = TypeVar("T")

MIN_INPUT_SIZE = 32  # pixels per side the network runs at: its encoder has an output stride of 32


class Predictor:
    """Per-frame inference with the joint network.

    Args:
        model_or_path: a :class:`JointNet` or a checkpoint path (released or slamseg format).
        device: "cpu", "cuda", "cuda:1"...
        mode: "fast" (default), "naive" or "release" (see the module docstring); the options below override the
            mode's settings.
        fold_bn, channels_last: fast paths (see :mod:`slamseg.networks.fast`).
        cpu_kernels: the decoder's CPU stand-ins (networks/cpu_kernels.py); None = on in "fast" mode wherever
            they apply (CPU, float32, channels-last, neither compile nor jit).
        retain_memory: on CPU, keep freed memory in the process for the next frame (glibc malloc setting, process-
            wide; see :func:`slamseg.sequences.runtime.retain_freed_memory`): ~20 % faster at 640 x 480. Off by
            default: a library does not change the process unless asked; the ``slamseg`` command and
            :func:`slamseg.configure_runtime` turn it on.
        dtype: "float32" (default), "bfloat16" (CUDA, or a CPU with AVX-512 BF16 / AMX), "float16" (CUDA only) or
            "int8" (backend "onnxruntime": post-training quantisation). Outputs are float32 either way.
        backend: "torch" (default), "openvino" or "onnxruntime": which runtime does the network's arithmetic, on
            CPU (:mod:`slamseg.networks.backends`); pre- and post-processing are the same for all.
        calibration: int8 only: normalised N x 3 x H x W float32 batches to calibrate on; None = 16 synthetic
            indoor frames (:func:`slamseg.networks.backends.calibration_batches`).
        onnx_file: backends "openvino" and "onnxruntime": an ONNX export of this model (``slamseg export-model``) to
            start from instead of converting or exporting the model again (seconds saved at start-up).
        compile: serve through ``torch.compile`` (first call per input size compiles: seconds to minutes).
        jit: serve through a frozen TorchScript trace (traced at the first call's input size).
        input_size: (width, height) to run the network at (e.g. (320, 240)); outputs are still resized to the
            image's size. None: the image's own size.
        resize: "bicubic" (as the released demo) or "bilinear" for resizing outputs to the image size.
        class_slice: (first, end) channels, or the name of a label set among the model's class slices
            (e.g. "nyu40" for channels 0-39 of the 46-class model): probabilities and labels over that slice.
        label_set: label set name of the (sliced) classes; default from the checkpoint's metadata.
        num_threads: torch CPU threads (process-wide: ``torch.set_num_threads``).
        fused: resize the class scores and take their argmax (and the softmax when asked) in one CPU pass; None = as
            the mode says, on CPU only (CUDA always runs PyTorch's operators). Labels equal the operator-by-operator
            path's except on float32 near-ties; probabilities agree to ~1e-6.
        depth_resize: how depth is resized to the image: "bilinear" (default: it never overshoots, so no depth
            appears between a foreground and a background that was never predicted; negative outputs become 0 =
            invalid) or "bicubic" (the released demo, with ``abs``); None = as the mode says.
        depth_edge_jump: when set (e.g. 0.1), depth pixels whose bilinear footprint spans a discontinuity of the
            network's output (neighbours differing by more than this fraction of their depth) become 0: the
            "flying pixels" between foreground and background that a map should not fuse. None keeps them.

    The Predictor never changes after construction. Probabilities and labels come in the model's own label set,
    unless ``predict`` is asked for another (see there).
    """

    def __init__(self, model_or_path: JointNet | str | Path, device: str | torch.device = "cpu", *,
                 mode: str = "fast", fold_bn: bool | None = None, channels_last: bool | None = None,
                 dtype: str = "float32", compile: bool = False, jit: bool = False,  # noqa: A002
                 input_size: tuple[int, int] | None = None, resize: str = "bicubic",
                 class_slice: tuple[int, int] | str | None = None, label_set: str | None = None,
                 num_threads: int | None = None, depth_resize: str | None = None,
                 depth_edge_jump: float | None = None, fused: bool | None = None,
                 cpu_kernels: bool | None = None, retain_memory: bool = False, backend: str = "torch",
                 calibration: Iterable[np.ndarray] | None = None, onnx_file: str | Path | None = None) -> None:
        if mode not in MODES:
            raise NetworkError(f"mode {mode!r}: expected one of {sorted(MODES)}")
        if resize not in RESIZE_MODES:
            raise NetworkError(f"resize {resize!r}: expected one of {list(RESIZE_MODES)}")
        if depth_resize is None:
            depth_resize = MODES[mode]["depth_resize"] if mode in MODES else "bilinear"
        if depth_resize not in RESIZE_MODES:
            raise NetworkError(f"depth_resize {depth_resize!r}: expected one of {list(RESIZE_MODES)}")
        if depth_edge_jump is not None and not depth_edge_jump > 0:
            raise NetworkError(f"depth_edge_jump {depth_edge_jump!r}: expected a positive fraction of depth or None")
        if input_size is not None and (len(input_size) != 2 or min(input_size) < MIN_INPUT_SIZE):
            raise NetworkError(f"input_size {input_size!r}: expected (width, height), each at least "
                               f"{MIN_INPUT_SIZE} pixels (the encoder downsamples 32 times)")
        if num_threads is not None:
            if int(num_threads) < 1:
                raise NetworkError(f"threads {num_threads!r}: expected a positive number of CPU threads")
            torch.set_num_threads(int(num_threads))
        try:
            torch.device(device)
        except (RuntimeError, TypeError):
            raise NetworkError(f"device {device!r}: expected cpu, cuda or cuda:N") from None
        model = load_model(model_or_path) if isinstance(model_or_path, (str, Path)) else model_or_path
        # A TorchScript module (e.g. an expert teacher exported elsewhere) is served as it is: its forward returns
        # the joint network's dict or a logits tensor; it has ImageNet normalisation and no fast paths.
        scripted = isinstance(model, torch.jit.ScriptModule)
        if not isinstance(model, JointNet) and not scripted:
            raise NetworkError(f"expected a JointNet, a TorchScript module or a checkpoint path, got "
                               f"{type(model).__name__}")
        self.model = model.eval()
        self.meta: dict[str, Any] = ({"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "label_set": None}
                                     if scripted else {**default_meta(model), **getattr(model, "meta", {})})
        if scripted:  # no network fast paths; a "release" mode keeps its operator-by-operator post-processing
            fused = False if mode == "release" and fused is None else fused
            mode, fold_bn, channels_last, cpu_kernels, jit = "naive", False, False, False, False
            compile = False  # noqa: A001  (the parameter of that name: no torch.compile either)
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise NetworkError(f"device {device!r}: CUDA is not available here")
        if backend not in BACKENDS:
            raise NetworkError(f"backend {backend!r}: expected one of {list(BACKENDS)}")
        if backend != "torch" and (scripted or self.device.type != "cpu" or compile or jit):
            raise NetworkError(f"backend {backend!r} serves a JointNet on the CPU, without compile or jit")
        if dtype == "int8" and backend != "onnxruntime":
            raise NetworkError("dtype int8 runs on backend 'onnxruntime' (its static post-training quantisation)")
        self.backend = backend
        self.dtype = torch.float32 if backend != "torch" else resolve_dtype(dtype, self.device)
        settings = {key: MODES[mode][key] for key in ("fold_bn", "channels_last")}
        if fold_bn is not None:
            settings["fold_bn"] = fold_bn
        if channels_last is not None:
            settings["channels_last"] = channels_last
        if retain_memory and self.device.type == "cpu":
            retain_freed_memory()
        if cpu_kernels is None:
            cpu_kernels = (mode == "fast" and self.device.type == "cpu" and self.dtype == torch.float32
                           and settings["channels_last"] and not compile and not jit)
        self.fused = (MODES[mode]["fused"] if fused is None else bool(fused)) and self.device.type == "cpu"
        self.settings = {**settings, "dtype": str(self.dtype).removeprefix("torch."), "compile": compile,
                         "jit": jit, "cpu_kernels": cpu_kernels, "mode": mode, "fused": self.fused,
                         "backend": backend}
        self._compile, self._jit = compile, jit
        if scripted:
            self._net: Any = model.to(self.device)
        elif backend != "torch":
            settings = {"fold_bn": True, "channels_last": False}  # the runtimes choose their own layouts
            self.settings.update(settings, dtype=str(dtype), cpu_kernels=False)
            self._net = build_backend(model, backend, str(dtype), num_threads, calibration,
                                      self.meta["mean"], self.meta["std"], onnx_file)
        else:
            self._net = None if jit else prepare(model, self.device, dtype=self.dtype, compile=compile,
                                                 cpu_kernels=cpu_kernels, **settings)
        self.channels_last = settings["channels_last"]
        self._fold_bn = settings["fold_bn"]
        self.input_size = tuple(input_size) if input_size is not None else None
        self.resize = resize
        self.tasks = ("segm", "depth") if scripted else model.tasks
        self.class_slice, self.label_set = self._resolve_slice(class_slice, label_set)
        self.depth_resize = depth_resize
        self.depth_edge_jump = depth_edge_jump
        self.depth_scale = float(self.meta.get("depth_scale") or 1.0)
        self._mappings: dict[str, tuple[torch.Tensor, bool]] = {}
        self._mean = torch.tensor(self.meta["mean"], dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(self.meta["std"], dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    @property
    def num_classes(self) -> int | None:
        """Classes of the labels and probabilities in the model's own label set (after ``class_slice``); None
        without a segm task or when the model does not say (TorchScript)."""
        if "segm" not in self.tasks:
            return None
        if self.class_slice is not None:
            return self.class_slice[1] - self.class_slice[0]
        return getattr(self.model, "num_classes", None)

    def _resolve_slice(self, class_slice: tuple[int, int] | str | None,
                       label_set: str | None) -> tuple[tuple[int, int] | None, str | None]:
        if "segm" not in self.tasks:
            return None, None
        if class_slice is None:
            return None, label_set or self.meta.get("label_set")
        k = getattr(self.model, "num_classes", None)
        if k is None:
            raise NetworkError("class_slice needs a model whose number of classes is known (not TorchScript)")
        if isinstance(class_slice, str):
            for name, first, end in self.meta.get("class_slices") or []:
                if name == class_slice:
                    return (int(first), int(end)), label_set or name
            known = [s[0] for s in self.meta.get("class_slices") or []]
            raise NetworkError(f"class_slice {class_slice!r}: the model's class slices are {known or 'none'}")
        first, end = (int(v) for v in class_slice)
        if not 0 <= first < end <= k:
            raise NetworkError(f"class_slice {class_slice!r}: expected 0 <= first < end <= {k} channels")
        return (first, end), label_set

    def _mapping(self, target: str) -> tuple[torch.Tensor, bool]:
        """(Ks x Kt class-summing matrix on the device, whether some classes map to void) for label set ``target``;
        the same :class:`~slamseg.sequences.labelsets.LabelMapping` the maps use, cached per target."""
        from slamseg.sequences.errors import LabelSetError
        from slamseg.sequences.labelsets import get_mapping

        if target not in self._mappings:
            if self.label_set is None:
                raise NetworkError(f"label_set={target!r}: the model's classes have no label set to map from")
            try:
                matrix = get_mapping(self.label_set, target).matrix
            except LabelSetError as err:
                raise NetworkError(f"label_set={target!r}: {err}") from None
            self._mappings[target] = (torch.from_numpy(matrix).to(self.device), bool((matrix.sum(1) == 0).any()))
        return self._mappings[target]

    # -- preprocessing ---------------------------------------------------------------------------------------
    def preprocess(self, images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
        """One H x W x C uint8 image, an N x H x W x C array or a list of same-size images -> N x 3 x H x W
        float32 normalised tensor on the device: (image / 255 - mean) / std."""
        batch = [images] if isinstance(images, np.ndarray) and images.ndim in (2, 3) else list(images)
        rgb = [to_rgb_uint8(im) for im in batch]
        if not rgb:
            raise NetworkError("empty batch: expected at least one image")
        if len({im.shape for im in rgb}) != 1:
            raise NetworkError(f"batch of images of sizes {sorted({im.shape for im in rgb})}: stack same-size "
                               "images only (predict() handles mixed sizes one by one)")
        x = torch.from_numpy(np.stack(rgb)).to(self.device).permute(0, 3, 1, 2).float()
        return x.div_(255.0).sub_(self._mean).div_(self._std)

    # -- network -----------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Normalised N x 3 x H x W -> raw float32 outputs at 1/4 of the network's input size (after the optional
        ``input_size`` resize)."""
        if self.input_size is not None:
            width, height = self.input_size
            x = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", align_corners=False,
                                                antialias=True)
        x = x.to(self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self._net is None:  # jit: trace at the first input's size
            self._net = prepare(self.model, self.device, fold_bn=self._fold_bn, channels_last=self.channels_last,
                                dtype=self.dtype, jit=True, example=x)
        with torch.inference_mode():
            out = self._net(x)
        if isinstance(out, torch.Tensor):  # a TorchScript segmentation module
            out = {"segm": out}
        if not isinstance(out, dict) or not out:
            raise NetworkError("the network's output must be a dict of outputs or a logits tensor")
        return {k: v.float() for k, v in out.items()}

    def postprocess(self, raw: dict[str, torch.Tensor], size: tuple[int, int], label_set: str | None = None,
                    probs: bool = False) -> list[Prediction]:
        """Raw outputs -> one :class:`Prediction` per batch item at ``size`` = (H, W) (see :meth:`predict`)."""
        out_set = self.label_set if label_set is None else label_set
        with torch.inference_mode():
            depth = normals = None
            if "depth" in raw:
                depth = resize_depth(raw["depth"], size, scale=self.depth_scale, mode=self.depth_resize,
                                     edge_jump=self.depth_edge_jump).cpu().numpy()
            labels = probabilities = None
            if "segm" in raw:
                logits = raw["segm"]
                if self.class_slice is not None:
                    logits = logits[:, self.class_slice[0]:self.class_slice[1]]
                mapping = None if label_set is None else self._mapping(label_set)
                labels, probabilities = class_outputs(logits, size, resize=self.resize, probs=probs,
                                                      fused=self.fused, mapping=mapping)
            if "normals" in raw:
                up = torch.nn.functional.interpolate(raw["normals"], size=size, mode=self.resize, align_corners=False)
                normals = torch.nn.functional.normalize(up, dim=1, eps=1e-12).permute(0, 2, 3, 1).cpu().numpy()

        def item(a: np.ndarray | None, i: int) -> np.ndarray | None:
            return None if a is None else np.ascontiguousarray(a[i])

        n = next(iter(raw.values())).shape[0]
        return [Prediction(depth=item(depth, i), probs=item(probabilities, i), labels=item(labels, i),
                           normals=item(normals, i), label_set=out_set) for i in range(n)]

    def predict_frames(self, items: Iterable[T], batch_size: int = 4, label_set: str | None = None,
                       image: Callable[[T], np.ndarray] | None = None,
                       timer: Callable[[int, float], None] | None = None,
                       probs: bool = False) -> Iterator[tuple[T, Prediction]]:
        """(item, prediction) for every item, in order, same-size images going through the network together.

        The one batching loop of every pipeline (reconstruct, compare-depth, expert labelling): items are read
        lazily, so a long sequence never sits in memory.

        Args:
            items: Frames (their ``rgb`` is the image), or anything ``image`` picks an image from.
            batch_size: images per forward pass (a size change starts a new batch).
            label_set, probs: as in :meth:`predict`.
            image: item -> H x W x 3 uint8 image; default ``item.rgb``.
            timer: told ``(images, seconds)`` of each batch's network time.
        """
        if batch_size < 1:
            raise NetworkError(f"batch_size {batch_size}: expected a positive number of images")
        pick = image or (lambda item: item.rgb)
        pending: list[T] = []

        def run() -> list[tuple[T, Prediction]]:
            t0 = time.perf_counter()
            predictions = self.predict([pick(item) for item in pending], label_set=label_set, probs=probs)
            if timer is not None:
                timer(len(pending), time.perf_counter() - t0)
            done = list(zip(pending, predictions))
            pending.clear()
            return done

        for item in items:
            if pending and (len(pending) >= batch_size or np.shape(pick(item))[:2] != np.shape(pick(pending[0]))[:2]):
                yield from run()
            pending.append(item)
        if pending:
            yield from run()

    def predict(self, images: np.ndarray | Sequence[np.ndarray], label_set: str | None = None,
                probs: bool = False) -> Prediction | list[Prediction]:
        """One image (H x W [x C] uint8) -> a Prediction; a batch (N x H x W x C array or list) -> a list.

        Same-size images of a batch run through the network together; mixed sizes run one by one.

        Args:
            label_set: None (default): probabilities and labels in the model's set, as the released demo computes
                them (logits resized to the image with ``resize``, softmax, argmax). Or a label set name (e.g.
                "nyu13", or the model's own): softmax at the network's output resolution, classes summed into
                that set there with the same mapping the maps use, and only those probabilities resized,
                bilinearly; labels are their argmax. At 640 x 480 this is about ten times cheaper than resizing
                40 logit channels, which is why pipelines that fuse probabilities ask for their map's set.
            probs: also return the class probabilities (``Prediction.probs``). Labels alone need no
                full-resolution softmax, so they cost a fraction of the probabilities.
        """
        single = isinstance(images, np.ndarray) and images.ndim in (2, 3)
        batch = [images] if single else list(images)
        if not batch:
            return []
        shapes = {np.asarray(im).shape[:2] for im in batch}
        if len(shapes) == 1:
            x = self.preprocess(batch)
            results = self.postprocess(self.forward(x), size=tuple(x.shape[-2:]), label_set=label_set, probs=probs)
        else:
            results = [self.predict(im, label_set=label_set, probs=probs) for im in batch]
        return results[0] if single else results
