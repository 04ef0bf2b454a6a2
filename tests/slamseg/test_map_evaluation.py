"""The ground-truth collector of reconstruct's evaluation: depth metrics over the pixels the network predicted."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from slamseg.pipelines.map_evaluation import GroundTruthCollector
from slamseg.sequences import Camera, Frame, get_label_set


def _frame(depth: np.ndarray) -> Frame:
    h, w = depth.shape
    return Frame(index=0, timestamp=0.0, rgb=np.zeros((h, w, 3), np.uint8),
                 camera=Camera(50.0, 50.0, (w - 1) / 2, (h - 1) / 2, w, h), depth=depth)


def test_pixels_without_a_predicted_depth_are_counted_not_scored(tmp_path: Path) -> None:
    gt = np.full((20, 30), 2.0, np.float32)
    gt[:, :3] = 0.0  # no ground truth in three columns
    pred = np.full((20, 30), 2.5, np.float32)
    pred[:10] = 0.0  # the network dropped the top half (e.g. flying pixels across an edge)
    collector = GroundTruthCollector(get_label_set("nyu13"), None)
    collector.add(_frame(gt), SimpleNamespace(depth=pred, labels=None, label_set="nyu13"))
    metrics = collector.depth.compute()
    assert metrics["rmse"] == pytest.approx(0.5)  # the dropped pixels are not errors of 2 m
    assert collector.depth_pixels == [20 * 27, 10 * 27]
    assert collector.depth_rmse == [(0, pytest.approx(0.5))]
    collector.save(tmp_path / "state.npz")
    restored = GroundTruthCollector(get_label_set("nyu13"), None)
    restored.load(tmp_path / "state.npz")
    assert restored.depth_pixels == [540, 270] and restored.depth.n == collector.depth.n
