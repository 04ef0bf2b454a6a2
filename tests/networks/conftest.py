"""Shared fixtures of the networks tests: the copied reference files (tests/data/authors_net/) and one ONNX + pt2
export of the released-layout model (tracing with dynamic shapes takes seconds, so it is done once)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

AUTHORS = Path(__file__).resolve().parent.parent / "data" / "authors_net"
RANDOM_CKPT = AUTHORS / "ExpNYUD_joint_random.ckpt"
VECTORS = AUTHORS / "ExpNYUD_joint_vectors.npz"


@pytest.fixture(scope="session")
def vectors() -> dict[str, np.ndarray]:
    with np.load(VECTORS) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="session")
def released_state_dict() -> dict[str, torch.Tensor]:
    return torch.load(RANDOM_CKPT, map_location="cpu", weights_only=True)["state_dict"]


# (N, H, W): the example's size, then a batch of 1 at odd sizes that are not multiples of 32, then the smallest
SHAPES = [(2, 96, 128), (1, 97, 131), (3, 33, 40)]


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The random-weight release model exported once to ONNX and pt2 (one trace), the warnings raised while
    exporting, and eager reference outputs at ``SHAPES``."""
    import warnings

    from slamseg.networks import load_model
    from slamseg.networks.export import export_onnx, export_program, export_pt2

    pytest.importorskip("onnxscript")
    model = load_model(RANDOM_CKPT)
    out = tmp_path_factory.mktemp("export")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        program = export_program(model, size=(128, 96))
        onnx_path = export_onnx(model, out / "net.onnx", program=program)
        pt2_path = export_pt2(model, out / "net.pt2", program=program)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((n, 3, h, w)).astype(np.float32) for n, h, w in SHAPES]
    with torch.inference_mode():
        refs = [model(torch.from_numpy(x)) for x in inputs]
    return {"model": model, "onnx": onnx_path, "pt2": pt2_path, "inputs": inputs, "refs": refs, "warnings": caught,
            "folder": out}


def rel_err(actual: np.ndarray | torch.Tensor, expected: np.ndarray | torch.Tensor) -> float:
    """max |actual - expected| / max |expected| (the issue's 'relative error')."""
    a = np.asarray(actual.detach().cpu().float() if isinstance(actual, torch.Tensor) else actual, np.float64)
    e = np.asarray(expected.detach().cpu().float() if isinstance(expected, torch.Tensor) else expected, np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    return float(np.abs(a - e).max() / max(np.abs(e).max(), 1e-12))
