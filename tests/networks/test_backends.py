"""Other runtimes behind the Predictor: parity with PyTorch float32 (OpenVINO, ONNX Runtime), int8 close to it,
bfloat16 only where the CPU has the instructions, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slamseg.networks import Predictor
from slamseg.networks.backends import calibration_batches, cpu_has_bf16
from slamseg.networks.errors import NetworkError

from .conftest import rel_err


@pytest.fixture(scope="module")
def model(exported: dict) -> torch.nn.Module:
    return exported["model"]


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (64, 96, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def onnx_file(exported: dict):
    return exported["onnx"]  # the session's one ONNX export of ``model`` (conftest)


@pytest.fixture(scope="module")
def reference(model: torch.nn.Module, image: np.ndarray):
    return Predictor(model).predict(image, probs=True)


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_float32_runtimes_match_pytorch(model: torch.nn.Module, image: np.ndarray, reference, onnx_file,
                                        backend: str) -> None:
    predictor = Predictor(model, backend=backend, num_threads=2, onnx_file=onnx_file)
    assert predictor.settings["backend"] == backend and predictor.settings["cpu_kernels"] is False
    out = predictor.predict(image, probs=True)
    assert rel_err(out.depth, reference.depth) <= 1e-4
    assert np.abs(out.probs - reference.probs).max() <= 1e-4
    other = predictor.predict(np.ascontiguousarray(image[:32, :64]))  # another input size works too
    assert other.labels.shape == (32, 64)


def test_int8_computes_the_same_function(model: torch.nn.Module, image: np.ndarray, onnx_file) -> None:
    """int8 on the random-weight release model: its many near-equal classes make rounding flip labels (a trained
    model keeps 97.7 % of them and its held-out mIoU within 0.5 point: benchmarks/precision.py), so this checks that
    the quantised network computes the same function, far from what a broken graph or calibration would give."""
    reference = Predictor(model)
    x = reference.preprocess(image)
    calibration = [x.numpy(), np.ascontiguousarray(x.numpy()[..., ::-1])]  # the image and its mirror
    predictor = Predictor(model, backend="onnxruntime", dtype="int8", calibration=calibration, num_threads=2,
                          onnx_file=onnx_file)
    assert predictor.settings["dtype"] == "int8"
    ref, out = reference.forward(x), predictor.forward(x)
    for task in ("segm", "depth"):
        assert np.corrcoef(out[task].numpy().ravel(), ref[task].numpy().ravel())[0, 1] > 0.7
    agree = (out["segm"].argmax(1) == ref["segm"].argmax(1)).float().mean().item()
    assert agree > 0.25  # chance is 1 in 40
    assert predictor.predict(image).labels.shape == image.shape[:2]


def test_calibration_frames_are_normalised_synthetic_rooms() -> None:
    batches = calibration_batches((0.5, 0.5, 0.5), (0.25, 0.25, 0.25), frames=2, size=(32, 24))
    assert len(batches) == 2 and batches[0].shape == (1, 3, 24, 32) and batches[0].dtype == np.float32
    assert batches[0].min() >= -2.0 - 1e-6 and batches[0].max() <= 2.0 + 1e-6 and batches[0].std() > 0.05


def test_bfloat16_only_where_the_cpu_has_it(model: torch.nn.Module, image: np.ndarray, reference) -> None:
    if cpu_has_bf16():
        out = Predictor(model, dtype="bfloat16").predict(image)
        assert rel_err(out.depth, reference.depth) <= 3e-2
    else:
        for backend in ("torch", "openvino"):
            with pytest.raises(NetworkError, match="neither AVX-512 BF16 nor AMX"):
                Predictor(model, backend=backend, dtype="bfloat16")


def test_an_export_of_another_checkpoint_is_refused(exported: dict, onnx_file) -> None:
    from slamseg.networks import build_model
    from slamseg.networks.backends import OnnxRuntimeNetwork

    torch.manual_seed(1)
    other = build_model("nyud_joint").eval()  # same architecture, other weights
    with pytest.raises(NetworkError, match="differs from the model's"):
        OnnxRuntimeNetwork(other, onnx_file=onnx_file)
    three = build_model("nyud_three").eval()  # a task the file has no output for
    with pytest.raises(NetworkError, match="no output named 'normals'"):
        OnnxRuntimeNetwork(three, onnx_file=onnx_file)


def test_bad_backend_options(model: torch.nn.Module) -> None:
    with pytest.raises(NetworkError, match="backend 'tensorrt'"):
        Predictor(model, backend="tensorrt")
    with pytest.raises(NetworkError, match="int8 runs on backend 'onnxruntime'"):
        Predictor(model, dtype="int8")
    with pytest.raises(NetworkError, match="without compile or jit"):
        Predictor(model, backend="openvino", jit=True)
    with pytest.raises(NetworkError, match="no such ONNX file"):
        Predictor(model, backend="onnxruntime", onnx_file="missing.onnx")
