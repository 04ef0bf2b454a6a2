"""Other runtimes for the joint network's forward pass: OpenVINO (fp32, bf16 where the CPU has it) and ONNX
Runtime (fp32, int8 post-training quantisation).

A backend is a callable with the contract of the PyTorch network inside a :class:`~slamseg.networks.Predictor`:
N x 3 x H x W float32 normalised images in, a dict of raw float32 outputs at a quarter of the input size out
(``segm``, ``depth``, ``normals`` as the model has them). The Predictor's pre- and post-processing are the same for
every backend, so a backend only changes how the network's arithmetic is done.

Reduced precision is refused where the CPU lacks the instructions: without AVX-512 BF16 or AMX, bfloat16 is
emulated (slower than float32), which no user asks for.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from slamseg.networks.errors import NetworkError

log = logging.getLogger(__name__)

BACKENDS = ("torch", "openvino", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8")


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bfloat16 natively (AVX-512 BF16 or AMX tiles), as PyTorch's CPU dispatch sees it."""
    cpu = torch.cpu
    return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                or getattr(cpu, "_is_amx_tile_supported", lambda: False)())


def require_bf16_cpu() -> None:
    """NetworkError unless the CPU has bfloat16 instructions (see :func:`cpu_has_bf16`)."""
    if not cpu_has_bf16():
        raise NetworkError(
            f"bfloat16 on this CPU ({torch.backends.cpu.get_cpu_capability()}): it has neither AVX-512 BF16 nor "
            "AMX, so bfloat16 would be emulated and slower than float32; use float32 (or int8)")


def _output_index(onnx_file: str | Path, names: list[set[str]], task: str) -> int:
    """Index of the graph output named ``task`` (exports name their outputs by task); NetworkError otherwise."""
    for i, output_names in enumerate(names):
        if task in output_names:
            return i
    raise NetworkError(f"{onnx_file}: no output named {task!r} (outputs: {sorted(set().union(*names))}); expected "
                       "an export of this model (slamseg export-model)")


def check_export(onnx_file: str | Path, model: nn.Module, network: Any, tolerance: float = 1e-3) -> None:
    """NetworkError unless ``network`` (built from ``onnx_file``) gives ``model``'s outputs on a small fixed input,
    within ``tolerance`` relative to each output's largest magnitude: an export of another checkpoint would
    otherwise serve other weights under this model's label set."""
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32))
    with torch.inference_mode():
        expected = model.eval()(x)
    got = network(x)
    for task in model.tasks:
        ref = expected[task].float().numpy()
        err = float(np.abs(got[task].numpy() - ref).max() / max(np.abs(ref).max(), 1e-12))
        if not err <= tolerance:
            raise NetworkError(f"{onnx_file}: its {task} output differs from the model's by {err:.2g} (relative); "
                               "expected an export of this same checkpoint")


def _existing(onnx_file: str | Path) -> Path:
    if not Path(onnx_file).is_file():
        raise NetworkError(f"{onnx_file}: no such ONNX file")
    return Path(onnx_file)


def _import(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise NetworkError(f"backend needs the {module!r} package: pip install 'slamseg[{extra}]'") from err


class OpenVINONetwork:
    """The network on OpenVINO's CPU plugin: converted once from the (BatchNorm-folded) PyTorch model, compiled
    once per input shape (a few seconds each, on the first call at that shape).

    Args:
        model: a JointNet in eval mode.
        num_threads: inference threads (None: OpenVINO's default, all cores).
        precision: "fp32" or "bf16" (refused without AVX-512 BF16 / AMX).
        onnx_file: an ONNX export of this same model to read instead of converting the PyTorch model (reading it
            takes a fraction of a second; the conversion traces the model, seconds). Its outputs are matched to
            the tasks by name and checked against the model on a small input (see :func:`check_export`).

    Compiled models are kept for the last few input shapes (``MAX_SHAPES``); calls are serialised, since one
    infer request per shape is shared.
    """

    MAX_SHAPES = 4

    def __init__(self, model: nn.Module, num_threads: int | None = None, precision: str = "fp32",
                 onnx_file: str | Path | None = None) -> None:
        if precision not in ("fp32", "bf16"):
            raise NetworkError(f"OpenVINO precision {precision!r}: expected fp32 or bf16 (int8: onnxruntime)")
        if precision == "bf16":
            require_bf16_cpu()
        ov = _import("openvino", "openvino")
        from slamseg.networks.export import serving_net

        self.tasks = tuple(model.tasks)
        if onnx_file is not None:
            self._model = ov.convert_model(str(_existing(onnx_file)))
            names = [set(out.get_names()) for out in self._model.outputs]
            self._order = [_output_index(onnx_file, names, task) for task in self.tasks]
        else:
            with torch.no_grad():
                self._model = ov.convert_model(serving_net(model), example_input=torch.zeros(1, 3, 64, 64))
            self._order = list(range(len(self.tasks)))  # the serving net returns the tasks in order
        self._core = ov.Core()
        self._config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY",
                                        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        if num_threads is not None:
            self._config["INFERENCE_NUM_THREADS"] = int(num_threads)
        self._compiled: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        if onnx_file is not None and precision == "fp32":
            check_export(onnx_file, model, self)

    def _request(self, shape: tuple[int, ...]) -> Any:
        if shape in self._compiled:
            self._compiled.move_to_end(shape)
        else:
            self._model.reshape({self._model.input(0): list(shape)})
            compiled = self._core.compile_model(self._model, "CPU", self._config)
            self._compiled[shape] = compiled.create_infer_request()
            if len(self._compiled) > self.MAX_SHAPES:
                self._compiled.popitem(last=False)
            log.debug("OpenVINO: compiled for input %s", shape)
        return self._compiled[shape]

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """N x 3 x H x W float32 (CPU) -> raw outputs by task."""
        with self._lock:
            request = self._request(tuple(x.shape))
            request.infer({0: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)})
            return {task: torch.from_numpy(np.array(request.get_output_tensor(i).data))
                    for task, i in zip(self.tasks, self._order)}


class _Calibration:
    """ONNX Runtime calibration reader over normalised N x 3 x H x W float32 arrays."""

    def __init__(self, name: str, batches: Iterable[np.ndarray]) -> None:
        self._items = iter([{name: b} for b in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


class OnnxRuntimeNetwork:
    """The network on ONNX Runtime's CPU provider, exported with PyTorch's ONNX exporter; int8 through ONNX
    Runtime's static post-training quantisation (QDQ, per-channel weights, activations calibrated on ``calibration``).

    Args:
        model: a JointNet in eval mode.
        num_threads: intra-op threads (None: ONNX Runtime's default).
        precision: "fp32" or "int8".
        calibration: normalised N x 3 x H x W float32 batches for int8 (e.g. :func:`calibration_batches`).
        keep_float: int8 only: node names left in float32 (ONNX Runtime's ``nodes_to_exclude``); None keeps each
            task head's last convolution in float32, so that depth keeps its float resolution.
        onnx_file: an ONNX export of this same model (``slamseg export-model``) to serve instead of exporting it
            again here (the export takes seconds); outputs are matched to the tasks by name and checked against
            the model on a small input (see :func:`check_export`).
    """

    def __init__(self, model: nn.Module, num_threads: int | None = None, precision: str = "fp32",
                 calibration: Iterable[np.ndarray] | None = None, keep_float: list[str] | None = None,
                 onnx_file: str | Path | None = None) -> None:
        if precision not in ("fp32", "int8"):
            raise NetworkError(f"ONNX Runtime precision {precision!r}: expected fp32 or int8")
        ort = _import("onnxruntime", "onnx")
        from slamseg.networks.export import export_onnx

        self.tasks = tuple(model.tasks)
        with tempfile.TemporaryDirectory(prefix="slamseg-ort-") as tmp:
            path = _existing(onnx_file) if onnx_file else export_onnx(model, Path(tmp) / "model.onnx", size=(64, 64))
            if onnx_file:
                self._set_session(ort, path, num_threads)
                check_export(onnx_file, model, self)
            if precision == "int8":
                if calibration is None:
                    raise NetworkError("int8 needs calibration images (normalised N x 3 x H x W batches)")
                path = _quantize(path, Path(tmp) / "model.int8.onnx", calibration, keep_float)
            self._set_session(ort, path, num_threads)

    def _set_session(self, ort: Any, path: Path, num_threads: int | None) -> None:
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        names = [{o.name} for o in self._session.get_outputs()]
        self._outputs = [self._session.get_outputs()[_output_index(path, names, t)].name for t in self.tasks]

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """N x 3 x H x W float32 (CPU) -> raw outputs by task."""
        feed = {self._input: np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)}
        outs = self._session.run(self._outputs, feed)
        return {task: torch.from_numpy(out) for task, out in zip(self.tasks, outs)}


def _quantize(src: Path, dst: Path, calibration: Iterable[np.ndarray], keep_float: list[str] | None) -> Path:
    """Static int8 quantisation of the ONNX model ``src`` into ``dst`` (QDQ: x86 CPUs run the int8 convolutions).

    Activation ranges are the 99.999th percentiles of the calibration activations: on the bundled weights' held-out
    rooms int8 then keeps mIoU within 0.5 point of float32 (benchmarks/precision.py), where plain min/max ranges
    lost up to 1 point on a shorter run."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    graph = onnx.load(str(src)).graph
    if keep_float is None:  # each head's final convolution: the last Conv node feeding each output
        keep_float = _last_convs(graph)
    quantize_static(str(src), str(dst), _Calibration(graph.input[0].name, calibration),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True, calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=keep_float)
    log.info("int8: %d nodes kept in float32: %s", len(keep_float), keep_float)
    return dst


def _last_convs(graph: Any) -> list[str]:
    """Names of the last Conv node upstream of each graph output."""
    producer = {out: node for node in graph.node for out in node.output}
    names = []
    for output in graph.output:
        node = producer.get(output.name)
        while node is not None and node.op_type != "Conv":
            node = producer.get(node.input[0]) if node.input else None
        if node is not None:
            names.append(node.name)
    return names


def calibration_batches(mean: tuple[float, ...], std: tuple[float, ...], frames: int = 16,
                        size: tuple[int, int] = (320, 240), seed: int = 500) -> list[np.ndarray]:
    """Normalised 1 x 3 x H x W float32 synthetic indoor frames (``size`` = (width, height)) for calibration:
    rendered rooms of the synthetic generator, never the held-out seeds the bundled weights are scored on."""
    from slamseg.sequences.synthetic import SyntheticSequence

    width, height = size
    m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    out: list[np.ndarray] = []
    rooms = max(1, frames // 4)
    for room in range(rooms):
        seq = SyntheticSequence(seed=seed + room, num_frames=frames // rooms, width=width, height=height, speed=4.0)
        for frame in seq:
            rgb = frame.rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255.0
            out.append(((rgb - m) / s).astype(np.float32))
    return out


def build_backend(model: nn.Module, backend: str, dtype: str, num_threads: int | None,
                  calibration: Iterable[np.ndarray] | None, mean: Sequence[float], std: Sequence[float],
                  onnx_file: str | Path | None = None) -> Any:
    """The callable network of ``backend`` ("openvino" or "onnxruntime") for a Predictor's ``dtype`` name
    ("float32", "bfloat16", "int8"); int8 calibrates on ``calibration`` or, when None, on synthetic frames
    normalised with ``mean``/``std``; ``onnx_file``: an ONNX export of the model to start from (see the classes)."""
    precision = {"float32": "fp32", "bfloat16": "bf16", "int8": "int8"}.get(dtype)
    if backend == "openvino" and precision in ("fp32", "bf16"):
        return OpenVINONetwork(model, num_threads, precision, onnx_file=onnx_file)
    if backend == "onnxruntime" and precision in ("fp32", "int8"):
        if precision == "int8" and calibration is None:
            calibration = calibration_batches(tuple(mean), tuple(std))
        return OnnxRuntimeNetwork(model, num_threads, precision, calibration, onnx_file=onnx_file)
    raise NetworkError(f"dtype {dtype!r} on backend {backend!r}: openvino runs float32 and bfloat16, "
                       "onnxruntime float32 and int8")
