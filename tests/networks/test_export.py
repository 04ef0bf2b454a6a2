"""TorchScript and ONNX exports give the eager model's outputs, at a size other than the traced one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from slamseg.networks import load_model
from slamseg.networks.export import export_onnx, export_torchscript

from .conftest import RANDOM_CKPT, rel_err


@pytest.fixture(scope="module")
def model_and_reference() -> tuple:
    model = load_model(RANDOM_CKPT)
    x = np.random.default_rng(0).standard_normal((2, 3, 97, 131)).astype(np.float32)
    with torch.inference_mode():
        ref = model(torch.from_numpy(x))
    return model, x, ref


def test_torchscript_parity(tmp_path: Path, model_and_reference: tuple) -> None:
    model, x, ref = model_and_reference
    path = export_torchscript(model, tmp_path / "net.pt", size=(160, 120))
    loaded = torch.jit.load(str(path))
    with torch.inference_mode():
        out = loaded(torch.from_numpy(x))
    assert len(out) == len(model.tasks)
    for task, tensor in zip(model.tasks, out):
        assert rel_err(tensor, ref[task]) <= 1e-4


def test_onnx_parity(tmp_path: Path, model_and_reference: tuple) -> None:
    ort = pytest.importorskip("onnxruntime")
    model, x, ref = model_and_reference
    path = export_onnx(model, tmp_path / "net.onnx", size=(160, 120))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == list(model.tasks)
    out = session.run(None, {"input": x})
    for task, array in zip(model.tasks, out):
        assert array.shape == tuple(ref[task].shape)
        assert rel_err(array, ref[task]) <= 1e-4
