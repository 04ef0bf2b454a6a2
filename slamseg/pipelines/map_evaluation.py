"""Evaluation of a semantic map against a sequence's ground truth (used by reconstruct and evaluate-map).

- trajectory: ATE (Umeyama-aligned) and RPE per frame, evo's conventions (slamseg.fusion.metrics);
- 2D labels, SemanticFusion's protocol: the fused map rendered into labelled frames at the estimated poses,
  against the ground-truth labels; the network's single-frame labels on the same frames for comparison; all in
  the map's label set (NYU-13 by default), void ignored;
- depth: the network's depth against the sequence's depth, pooled over all frames;
- mesh: accuracy / completeness against the sequence's ground-truth mesh (``mesh.ply``, synthetic sequences).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.networks.metrics import DepthMetrics
from slamseg.sequences import Frame, LabelSet, get_mapping

log = logging.getLogger(__name__)

MAX_LABEL_FRAMES = 60  # labelled frames kept for the 2D evaluation (evenly spread by the caller's stride)


@dataclass
class GroundTruthCollector:
    """Gathers, frame by frame, what the evaluation needs (memory bounded: depth metrics are running sums).

    Args:
        map_label_set: the map's label set; label comparisons happen in it.
        gt_label_set: the sequence's label set (None when it has no labels).
        label_stride: keep every Nth labelled frame for the 2D evaluation (at most MAX_LABEL_FRAMES).
    """

    map_label_set: LabelSet
    gt_label_set: LabelSet | None
    label_stride: int = 1
    gt_poses: dict[int, np.ndarray] = field(default_factory=dict)
    labelled: list[tuple[int, np.ndarray, np.ndarray | None, Any]] = field(default_factory=list)
    depth: DepthMetrics = field(default_factory=lambda: DepthMetrics(max_depth=10.0))
    depth_rmse: list[tuple[int, float]] = field(default_factory=list)
    depth_pixels: list[int] = field(default_factory=lambda: [0, 0])  # [ground truth valid, of those predicted]
    _seen_labelled: int = 0

    def _to_map_labels(self, labels: np.ndarray, label_set: LabelSet | str) -> np.ndarray:
        return get_mapping(label_set, self.map_label_set).map_labels(labels).astype(np.uint8)

    def wants_labels(self) -> bool:
        """Whether the next labelled frame passed to :meth:`add` will be kept (so callers can skip work)."""
        return self._seen_labelled % self.label_stride == 0 and len(self.labelled) < MAX_LABEL_FRAMES

    def add(self, frame: Frame, prediction: Any, with_depth: bool = True) -> None:
        """Record one frame and (optionally) the network's prediction for it (its depth too if ``with_depth``)."""
        if frame.pose is not None:
            self.gt_poses[frame.index] = np.asarray(frame.pose, dtype=np.float64)
        if frame.labels is not None and self.gt_label_set is not None:
            if self.wants_labels():
                gt = self._to_map_labels(frame.labels, self.gt_label_set)
                single = None if prediction is None else self._to_map_labels(prediction.labels,
                                                                             prediction.label_set)
                self.labelled.append((frame.index, gt, single, frame.camera))
            self._seen_labelled += 1
        if with_depth and prediction is not None and frame.depth is not None and (frame.depth > 0).any():
            # Only where the network gave a depth: pixels it leaves out (0, e.g. across depth edges) are counted
            # in ``depth_pixels`` (the fraction predicted) instead of as errors.
            predicted = prediction.depth > 0
            valid = (frame.depth > 0) & predicted
            self.depth_pixels[0] += int((frame.depth > 0).sum())
            self.depth_pixels[1] += int(valid.sum())
            if valid.any():
                err = prediction.depth[valid] - frame.depth[valid]
                self.depth_rmse.append((frame.index, float(np.sqrt(np.mean(err**2)))))
                self.depth.update(prediction.depth, frame.depth, mask=predicted)


    def save(self, path: Path) -> None:
        """Write the collected state (for resumable runs) to an .npz, atomically."""
        from slamseg.sequences.atomic import atomic_path

        arrays: dict[str, np.ndarray] = {
            "pose_index": np.array(sorted(self.gt_poses), dtype=np.int64),
            "poses": np.array([self.gt_poses[i] for i in sorted(self.gt_poses)]).reshape(-1, 4, 4),
            "depth_sums": np.array([self.depth.n, *self.depth.sums.values()], dtype=np.float64),
            "depth_rmse": np.array(self.depth_rmse, dtype=np.float64).reshape(-1, 2),
            "depth_pixels": np.array(self.depth_pixels, dtype=np.int64),
            "seen_labelled": np.array(self._seen_labelled),
            "labelled_index": np.array([item[0] for item in self.labelled], dtype=np.int64),
        }
        for k, (_, gt, single, camera) in enumerate(self.labelled):
            arrays[f"gt_{k}"] = gt
            if single is not None:
                arrays[f"single_{k}"] = single
            arrays[f"camera_{k}"] = np.array([camera.fx, camera.fy, camera.cx, camera.cy, camera.width,
                                              camera.height])
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    def load(self, path: Path) -> None:
        """Restore what :meth:`save` wrote."""
        from slamseg.sequences import Camera

        with np.load(path) as data:
            self.gt_poses = {int(i): p for i, p in zip(data["pose_index"], data["poses"])}
            sums = data["depth_sums"]
            self.depth.n = int(sums[0])
            self.depth.sums = dict(zip(self.depth.sums, (float(v) for v in sums[1:])))
            self.depth_rmse = [(int(i), float(r)) for i, r in data["depth_rmse"]]
            if "depth_pixels" in data.files:
                self.depth_pixels = [int(v) for v in data["depth_pixels"]]
            self._seen_labelled = int(data["seen_labelled"])
            self.labelled = []
            for k, index in enumerate(data["labelled_index"]):
                fx, fy, cx, cy, w, h = data[f"camera_{k}"]
                single = data[f"single_{k}"] if f"single_{k}" in data.files else None
                self.labelled.append((int(index), data[f"gt_{k}"], single, Camera(fx, fy, cx, cy, int(w), int(h))))


def trajectory_metrics(estimated: dict[int, np.ndarray], ground_truth: dict[int, np.ndarray]) -> dict[str, Any]:
    """ATE and RPE over the frames both trajectories have (empty dict when fewer than 3)."""
    from slamseg.fusion.metrics import absolute_trajectory_error, relative_pose_error

    common = sorted(set(estimated) & set(ground_truth))
    if len(common) < 3:
        return {}
    gt = np.stack([ground_truth[i] for i in common])
    est = np.stack([np.asarray(estimated[i], dtype=np.float64) for i in common])
    ate, _ = absolute_trajectory_error(gt, est)
    rpe_translation, rpe_rotation = relative_pose_error(gt, est)
    return {"ate": ate.to_dict(), "rpe_translation": rpe_translation.to_dict(),
            "rpe_rotation_deg": rpe_rotation.to_dict(), "frames_compared": len(common)}


def rendered_label_metrics(semantic_map: Any, estimated: dict[int, np.ndarray],
                           labelled: list[tuple[int, np.ndarray, np.ndarray | None, Any]]) -> dict[str, Any]:
    """The fused map rendered into each labelled frame vs its ground truth (and the single-frame labels)."""
    from slamseg.fusion.metrics import label_metrics

    gts, fused, single = [], [], []
    for index, gt, single_labels, camera in labelled:
        if index not in estimated:
            continue
        view = semantic_map.render(camera, np.asarray(estimated[index], dtype=np.float64))
        gts.append(gt)
        fused.append(view.labels.astype(np.uint8))
        if single_labels is not None:
            single.append(single_labels)
    if not gts:
        return {}
    num_ids = len(semantic_map.label_set.names)
    out = {"frames": len(gts), "fused_map": label_metrics(np.stack(fused), np.stack(gts), num_ids).to_dict()}
    if len(single) == len(gts):
        out["single_frame"] = label_metrics(np.stack(single), np.stack(gts), num_ids).to_dict()
    return out


def mesh_accuracy(geometry: Any, gt_mesh_path: Path) -> dict[str, Any]:
    """Accuracy / completeness of a SemanticMesh against a ground-truth mesh file (empty dict if none)."""
    from slamseg.fusion.metrics import mesh_metrics

    if not gt_mesh_path.exists() or len(geometry.vertices) == 0:
        return {}
    import trimesh

    gt = trimesh.load(gt_mesh_path, process=False)
    return mesh_metrics(geometry.to_trimesh(), gt).to_dict()


def evaluate(semantic_map: Any, estimated: dict[int, np.ndarray], collected: GroundTruthCollector,
             geometry: Any = None, gt_mesh_path: Path | None = None,
             trajectory: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every evaluation the ground truth allows; sections without ground truth are left out.

    ``trajectory``: metrics computed by the caller (a run's records, see trajectory_evaluation.py); by default
    ATE/RPE of ``estimated`` against the collected per-frame poses."""
    result = {
        "trajectory": trajectory if trajectory is not None else trajectory_metrics(estimated, collected.gt_poses),
        "labels_2d": rendered_label_metrics(semantic_map, estimated, collected.labelled),
        "depth": (collected.depth.compute() | {"predicted_fraction": collected.depth_pixels[1]
                                                / max(collected.depth_pixels[0], 1)}) if collected.depth.n else {},
        "mesh": mesh_accuracy(geometry, gt_mesh_path) if geometry is not None and gt_mesh_path else {},
    }
    return {k: v for k, v in result.items() if v}
