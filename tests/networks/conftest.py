"""Shared fixtures of the networks tests: the copied reference files (tests/data/authors_net/)."""

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


def rel_err(actual: np.ndarray | torch.Tensor, expected: np.ndarray | torch.Tensor) -> float:
    """max |actual - expected| / max |expected| (the issue's 'relative error')."""
    a = np.asarray(actual.detach().cpu().float() if isinstance(actual, torch.Tensor) else actual, np.float64)
    e = np.asarray(expected.detach().cpu().float() if isinstance(expected, torch.Tensor) else expected, np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    return float(np.abs(a - e).max() / max(np.abs(e).max(), 1e-12))
