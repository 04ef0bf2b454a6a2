"""Other runtimes behind the Predictor: parity with PyTorch float32 (OpenVINO, ONNX Runtime), int8 close to it,
bfloat16 only where the CPU has the instructions, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slamseg.networks import Predictor, build_model
from slamseg.networks.backends import calibration_batches, cpu_has_bf16
from slamseg.networks.errors import NetworkError

from .conftest import rel_err


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)  # a fresh model keeps activations well-scaled, so rounding says something
    return build_model("nyud_joint").eval()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (64, 96, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def onnx_file(model: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory):
    from slamseg.networks.export import export_onnx

    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx", size=(96, 64))


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


def test_int8_stays_close_to_float32(model: torch.nn.Module, image: np.ndarray, reference, onnx_file) -> None:
    rng = np.random.default_rng(4)
    calibration = [rng.normal(0, 1, (1, 3, 64, 96)).astype(np.float32) for _ in range(4)]
    predictor = Predictor(model, backend="onnxruntime", dtype="int8", calibration=calibration, num_threads=2,
                          onnx_file=onnx_file)
    out = predictor.predict(image)
    assert predictor.settings["dtype"] == "int8"
    # a fresh model's classes are close to one another, so this only says that int8 computes the same function
    assert np.mean(out.labels == reference.labels) > 0.5
    assert np.median(np.abs(out.depth - reference.depth) / np.maximum(reference.depth, 1e-6)) < 0.05


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


def test_bad_backend_options(model: torch.nn.Module) -> None:
    with pytest.raises(NetworkError, match="backend 'tensorrt'"):
        Predictor(model, backend="tensorrt")
    with pytest.raises(NetworkError, match="int8 runs on backend 'onnxruntime'"):
        Predictor(model, dtype="int8")
    with pytest.raises(NetworkError, match="without compile or jit"):
        Predictor(model, backend="openvino", jit=True)
    with pytest.raises(NetworkError, match="no such ONNX file"):
        Predictor(model, backend="onnxruntime", onnx_file="missing.onnx")
