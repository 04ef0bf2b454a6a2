"""End-to-end jobs that run the bundled network: reconstruct with predicted depth, compare-depth, the demo."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import open_sequence

pytestmark = pytest.mark.slow


def test_reconstruct_with_predicted_depth_and_network_labels(synthetic_room: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "pred"
    res = run_cli("reconstruct", str(synthetic_room), "--depth", "predicted", "--labels", "network",
                  "--input-size", "128x96", "--save-predictions", "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    ev = metrics["evaluation"]
    assert {"depth", "labels_2d", "trajectory"} <= set(ev)
    assert "single_frame" in ev["labels_2d"] and "fused_map" in ev["labels_2d"]
    assert 0.0 < ev["depth"]["rmse"] < 3.0  # a trained model in a room a few metres wide
    assert metrics["timings"]["stages"]["network"]["calls"] == 14
    assert len(list((out / "predictions" / "depth").glob("*.png"))) == 14


def test_compare_depth_pooled_rmse_matches_an_independent_computation(synthetic_room: Path, tmp_path: Path,
                                                                       run_cli) -> None:
    from slamseg.networks import Predictor
    from slamseg.pipelines.common import bundled_checkpoint

    out = tmp_path / "cmp"
    res = run_cli("compare-depth", str(synthetic_room), "--input-size", "64x48", "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    with open(out / "per_frame.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == metrics["frames"] == 14
    # Plain numpy over every valid pixel of every frame, with the command's defaults (cap 10 m).
    predictor = Predictor(bundled_checkpoint(), input_size=(64, 48))
    sq, n = 0.0, 0
    for frame in open_sequence(synthetic_room):
        pred = predictor.predict(frame.rgb).depth
        valid = (frame.depth > 0) & (frame.depth <= 10.0)
        err = np.clip(pred[valid], 1e-3, 10.0) - frame.depth[valid]
        sq, n = sq + float(np.sum(err.astype(np.float64) ** 2)), n + int(valid.sum())
    assert metrics["pooled"]["rmse"] == pytest.approx(np.sqrt(sq / n), rel=1e-4)
    for fig in ("metrics_over_frames.png", "error_histogram.png", "error_vs_distance.png", "panels.png"):
        assert (out / "figures" / fig).stat().st_size > 1000


def test_demo_runs_without_arguments_but_size(tmp_path: Path, run_cli) -> None:
    res = run_cli("demo", "--frames", "8", "--set", "width=96", "--set", "height=72", "--set",
                  f"data_dir={tmp_path / 'data'}", "--set", "tracking=odometry", "--out", str(tmp_path / "demo"),
                  "--no-progress")
    assert res.returncode == 0, res.stderr
    for key in ("predicted depth RMSE", "single-frame labels", "fused-map labels", "ATE", "frames per second"):
        assert key in res.stdout
    assert (tmp_path / "demo" / "mesh.ply").exists() and (tmp_path / "demo" / "report.html").exists()
    assert (tmp_path / "demo" / "tracking" / "metrics.json").exists()


def test_evaluate_writes_the_papers_tables(tmp_path: Path, run_cli) -> None:
    from slamseg.pipelines.common import bundled_checkpoint

    out = tmp_path / "ev"
    res = run_cli("evaluate", str(bundled_checkpoint()), "synthetic:1000", "--synthetic-frames", "3",
                  "--synthetic-size", "64x48", "--out", str(out))
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    result = metrics["results"]["synthetic:1000"]
    assert result["frames"] == 3 and 0.0 <= result["segm"]["miou"] <= 1.0 and result["depth"]["rmse"] > 0
    tables = (out / "tables.md").read_text()
    assert "mIoU" in tables and "RMSE (lin)" in tables and "δ < 1.25" in tables
    assert (out / "config.yaml").exists()


def test_label_fills_missing_labels_and_resumes(synthetic_room: Path, tmp_path: Path, run_cli) -> None:
    """Expert labelling of a folder of plain images: one PNG per frame, with the teacher's NYU-40 ids; a second
    run finds every file done and writes nothing."""
    import shutil

    import imageio.v3 as iio

    from slamseg.pipelines.common import bundled_checkpoint

    images = tmp_path / "images"
    images.mkdir()
    for name in sorted((synthetic_room / "rgb").iterdir())[:3]:
        shutil.copy(name, images / name.name)
    out = tmp_path / "labels"
    res = run_cli("label", "--teacher", str(bundled_checkpoint()), "--images", str(images), "--out", str(out))
    assert res.returncode == 0, res.stderr
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 3
    labels = iio.imread(pngs[0])
    assert labels.shape == (96, 128) and labels.min() >= 1 and labels.max() <= 40
    stamps = [p.stat().st_mtime_ns for p in pngs]
    assert run_cli("label", "--teacher", str(bundled_checkpoint()), "--images", str(images),
                   "--out", str(out)).returncode == 0
    assert [p.stat().st_mtime_ns for p in pngs] == stamps
