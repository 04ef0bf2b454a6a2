"""Shared fixtures of the end-to-end tests: a small synthetic room on disk and a real (random-weight) network."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slamseg.pipelines.synth import write_synthetic_sequence
from slamseg.pipelines.synth_config import SynthConfig
from slamseg.runs import RunFolder

SLAMSEG = shutil.which("slamseg") or str(Path(sys.executable).parent / "slamseg")


def _run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([SLAMSEG, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def slamseg_exe() -> str:
    """Path of the installed ``slamseg`` console script."""
    return SLAMSEG


@pytest.fixture(scope="session")
def run_cli():
    """Run the installed ``slamseg`` console script as a user would: ``run_cli("reconstruct", ...)``."""
    return _run_cli


@pytest.fixture(scope="session")
def synthetic_room(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 14-frame, 128 x 96 synthetic room in slamseg's TUM layout, with its ground-truth mesh."""
    out = tmp_path_factory.mktemp("rooms") / "room"
    run = RunFolder("synth", out=out)
    write_synthetic_sequence(SynthConfig(seed=3, frames=14, width=128, height=96), run, progress=False)
    return run.finish()


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A nyud_joint checkpoint in slamseg's format with seeded random weights (a real model, untrained)."""
    import torch

    from slamseg.networks.checkpoints import save_checkpoint
    from slamseg.networks.registry import build_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "random_nyu40.pt"
    return save_checkpoint(path, build_model("nyud_joint"))
