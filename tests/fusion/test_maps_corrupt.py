"""Corrupt or foreign map files are one MapError naming the file, never a numpy / zipfile traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slamseg.fusion.errors import MapError
from slamseg.fusion.maps import load_map
from slamseg.fusion.tsdf import SemanticTSDF


def _good_map(tmp_path: Path) -> Path:
    tsdf = SemanticTSDF()
    depth = np.full((48, 64), 1.5, np.float32)
    from slamseg.sequences import Camera

    tsdf.integrate(depth, np.zeros((48, 64, 3), np.uint8), None, Camera(50.0, 50.0, 31.5, 23.5, 64, 48), np.eye(4))
    return tsdf.save(tmp_path / "good.npz")


@pytest.mark.parametrize("kind", ["empty", "truncated", "random", "npy", "missing"])
def test_corrupt_maps_are_one_line_errors(tmp_path: Path, kind: str) -> None:
    good = _good_map(tmp_path).read_bytes()
    bad = tmp_path / f"{kind}.npz"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        bad.write_bytes(good[: len(good) // 2])
    elif kind == "random":
        bad.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind == "npy":
        np.save(tmp_path / "array.npy", np.zeros(3))
        bad = tmp_path / "array.npy"
    with pytest.raises(MapError) as info:
        load_map(bad)
    message = str(info.value)
    assert str(bad) in message and "\n" not in message
