"""Honest trajectory metrics of a run: coverage, and ATE / RPE over every frame that has a pose.

- Coverage: frames whose pose was measured (tracked or recovered) over all frames processed.
- ATE as ``evo_ape tum GROUNDTRUTH trajectory.txt -a`` computes it by default when the sequence ships its own
  ground-truth trajectory (TUM's groundtruth.txt): each estimated pose is paired with the ground-truth pose of
  the nearest stamp within 0.01 s, the estimate is aligned with SE(3) Umeyama, and the error is the translation
  difference. Sequences whose frames carry exact poses (synthetic rooms, ICL-NUIM) pair frame by frame.
- The same over the measured (tracked / recovered) frames only, and with ground truth interpolated at the frame
  stamps (linear + slerp, named as such), and Sim(3)-aligned where depth is predicted (its scale is learnt).
- RPE between consecutive paired poses (evo's default delta of one pose).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slamseg.fusion.metrics import absolute_trajectory_error, associate_trajectories, relative_pose_error
from slamseg.slam import FrameRecord, coverage, status_counts

MAX_DIFF = 0.01  # seconds, evo_ape's default association tolerance
MEASURED = ("tracked", "recovered")


def _errors(ref: np.ndarray, est: np.ndarray, with_scale: bool = False) -> dict[str, Any]:
    if len(ref) < 3:
        return {}
    ate, _ = absolute_trajectory_error(ref, est, with_scale=with_scale)
    out: dict[str, Any] = {"ate": ate.to_dict(), "frames_compared": len(ref)}
    if not with_scale:
        rpe_t, rpe_r = relative_pose_error(ref, est)
        out.update(rpe_translation=rpe_t.to_dict(), rpe_rotation_deg=rpe_r.to_dict())
    return out


def _paired(records: list[FrameRecord], frame_gt: dict[int, np.ndarray],
            raw_gt: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """(ground truth, estimate) N x 4 x 4 of the records, paired as the module docstring says."""
    if not records:
        return np.zeros((0, 4, 4)), np.zeros((0, 4, 4))
    est = np.stack([r.pose for r in records])
    if raw_gt is not None:
        stamps, poses = raw_gt
        i_ref, i_est = associate_trajectories(stamps, np.array([r.timestamp for r in records]), MAX_DIFF)
        return poses[i_ref], est[i_est]
    keep = [k for k, r in enumerate(records) if r.index in frame_gt]
    if not keep:
        return np.zeros((0, 4, 4)), np.zeros((0, 4, 4))
    return np.stack([frame_gt[records[k].index] for k in keep]), est[keep]


def trajectory_metrics(records: list[FrameRecord], frame_gt: dict[int, np.ndarray],
                       raw_gt: tuple[np.ndarray, np.ndarray] | None, predicted_depth: bool = False
                       ) -> dict[str, Any]:
    """Coverage and ATE/RPE of a run (see the module docstring); empty where nothing can be compared.

    Args:
        records: every processed frame, with the (final, optimised) poses.
        frame_gt: frame index -> 4 x 4 ground-truth pose of the frame (interpolated where the dataset's rate
            differs). raw_gt: the dataset's own (stamps, poses), or None.
        predicted_depth: also report the Sim(3)-aligned ATE.
    """
    posed = [r for r in records if r.pose is not None]
    measured = [r for r in posed if r.status in MEASURED]
    out: dict[str, Any] = {"frames": len(records), "status_counts": status_counts(records),
                           "coverage": coverage(records)}
    ref, est = _paired(posed, frame_gt, raw_gt)
    main = _errors(ref, est)
    if not main:
        return out if (frame_gt or raw_gt is not None) else {}
    out.update(main)
    out["association"] = (f"nearest ground-truth stamp within {MAX_DIFF} s (evo_ape default)" if raw_gt is not None
                          else "per frame (the sequence's pose of each frame)")
    out["alignment"] = "SE(3) Umeyama (evo_ape -a)"
    out["over"] = "every frame with a pose (tracked, recovered, predicted)"
    ref_m, est_m = _paired(measured, frame_gt, raw_gt)
    if len(measured) != len(posed):
        out["measured_only"] = _errors(ref_m, est_m)
    if raw_gt is not None:
        ref_i, est_i = _paired(posed, frame_gt, None)
        out["interpolated_ground_truth"] = _errors(ref_i, est_i) | {
            "association": "ground truth interpolated at each frame stamp (linear + slerp)"}
    if predicted_depth:
        out["sim3"] = _errors(ref, est, with_scale=True) | {"alignment": "Sim(3) Umeyama (evo_ape -as)"}
    return out


def write_status_csv(path: Any, records: list[FrameRecord]) -> None:
    """trajectory_status.csv: one row per processed frame (timestamp, index, status, fused, fitness, reference,
    reason), written atomically."""
    import csv
    import io

    from slamseg.sequences.atomic import atomic_write_text

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["timestamp", "frame", "status", "fused", "fitness", "reference", "reason"])
    for r in records:
        writer.writerow([f"{r.timestamp:.6f}", r.index, r.status, int(r.fused), r.fitness, r.reference, r.reason or ""])
    atomic_write_text(path, buf.getvalue())
