"""Trajectory metrics of a run equal evo's (the reference tool) on the real TUM frames; coverage is honest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from evo.core import metrics as evo_metrics
from evo.core import sync
from evo.tools import file_interface

from slamseg.fusion.metrics import match_nearest_stamps
from slamseg.pipelines.trajectory_evaluation import trajectory_metrics, write_status_csv
from slamseg.sequences import open_sequence
from slamseg.sequences.poses import write_tum_trajectory
from slamseg.slam import FrameRecord, SemanticSLAM, make_tracker

TUM = Path(__file__).resolve().parent.parent / "data" / "tum_fr1_rpy"


@pytest.fixture(scope="module")
def tracked_tum() -> tuple[list[FrameRecord], tuple[np.ndarray, np.ndarray]]:
    """The 10 real frames tracked with the keyframe tracker (geometry-only map)."""
    from slamseg.fusion.tsdf import SemanticTSDF

    seq = open_sequence(TUM)
    slam = SemanticSLAM(SemanticTSDF(), make_tracker("keyframe"))
    for frame in seq:
        slam.step(frame)
    assert seq.ground_truth is not None and len(seq.ground_truth[0]) > len(seq)  # the dataset's own rate
    return slam.records, seq.ground_truth


def _evo_ape(gt_file: Path, est_file: Path, correct_scale: bool) -> float:
    ref = file_interface.read_tum_trajectory_file(str(gt_file))
    est = file_interface.read_tum_trajectory_file(str(est_file))
    ref, est = sync.associate_trajectories(ref, est, max_diff=0.01)
    est.align(ref, correct_scale=correct_scale)
    ape = evo_metrics.APE(evo_metrics.PoseRelation.translation_part)
    ape.process_data((ref, est))
    return float(ape.get_statistic(evo_metrics.StatisticsType.rmse))


@pytest.mark.parametrize("with_scale", [False, True])
def test_ate_equals_evo_ape_on_real_tum_frames(tracked_tum, tmp_path: Path, with_scale: bool) -> None:
    records, raw_gt = tracked_tum
    # Perturb the estimate so that the error is not the tracker's few millimetres alone.
    rng = np.random.default_rng(0)
    records = [FrameRecord(**r.__dict__) for r in records]
    for r in records:
        r.pose = r.pose.copy()
        r.pose[:3, 3] += rng.normal(0.0, 0.05, 3)
    path = tmp_path / "trajectory.txt"
    write_tum_trajectory(path, np.array([r.timestamp for r in records]), np.stack([r.pose for r in records]))
    ours = trajectory_metrics(records, {}, raw_gt, predicted_depth=with_scale)
    value = ours["sim3"]["ate"]["rmse"] if with_scale else ours["ate"]["rmse"]
    reference = _evo_ape(TUM / "groundtruth.txt", path, correct_scale=with_scale)
    # (a similarity shrinks a noisy estimate of a nearly static camera: less error left, still far from 0)
    assert value > (0.002 if with_scale else 0.01)
    assert abs(value - reference) < 1e-6
    assert ours["association"].startswith("nearest ground-truth stamp within 0.01 s")


def test_nearest_stamp_matching_equals_evo(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    long = np.cumsum(rng.uniform(0.005, 0.015, 400))
    short = np.sort(rng.uniform(-0.05, long[-1] + 0.05, 80))
    short[:5] = long[10:15] + 0.5 * (long[11:16] - long[10:15])  # exact ties between two neighbours
    ours = match_nearest_stamps(short, long, 0.01)
    theirs = sync.matching_time_indices(short, long, 0.01)
    assert ours[0].tolist() == list(theirs[0]) and ours[1].tolist() == list(theirs[1])


def test_coverage_and_measured_only_metrics_count_every_frame(tracked_tum, tmp_path: Path) -> None:
    records, raw_gt = tracked_tum
    records = [FrameRecord(**r.__dict__) for r in records]
    records[3].status, records[3].fused = "predicted", False
    records[6].status, records[6].fused, records[6].pose = "lost", False, None
    out = trajectory_metrics(records, {}, raw_gt)
    assert out["status_counts"] == {"tracked": 8, "recovered": 0, "predicted": 1, "lost": 1}
    assert out["coverage"] == 0.8
    assert out["frames_compared"] == 9 and out["measured_only"]["frames_compared"] == 8
    write_status_csv(tmp_path / "status.csv", records)
    lines = (tmp_path / "status.csv").read_text().splitlines()
    assert lines[0].startswith("timestamp,frame,status") and len(lines) == 11
    assert lines[7].split(",")[2:4] == ["lost", "0"]
