"""Map metrics: trajectory ATE / RPE (evo's conventions), mesh accuracy / completeness, 2D label accuracy.

Trajectories are N x 4 x 4 float64 camera-to-world poses (DESIGN.md), paired by index unless associated by
timestamps first with :func:`associate_timestamps`. Distances are in the trajectories' / meshes' units (metres).

evo conventions followed here:
- ATE ("APE, translation part"): the estimate is aligned to the reference with Umeyama's method on the positions
  (rigid, or similarity with ``with_scale``), then the error of pose i is ``|t_ref_i - t_est_i|``.
- RPE with an index delta: pairs ``(i, i + delta)`` for ``i = 0, delta, 2 delta, ...`` (evo's default, not all
  overlapping pairs unless ``all_pairs``); the error pose is ``E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j)`` with Q the
  reference and P the estimate; translation part ``|trans(E)|``, rotation part the angle of ``rot(E)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from slamseg.fusion.association import (  # noqa: F401 - re-exported: metrics users pair stamps too
    associate_timestamps,
    associate_trajectories,
    match_nearest_stamps,
)
from slamseg.fusion.errors import MapError
from slamseg.sequences.label_metrics import (
    confusion_matrix,
    per_class_accuracy,
    per_class_iou,
    pixel_accuracy,
)
from slamseg.sequences.poses import rotation_angle

# ----------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class ErrorStats:
    """Summary statistics of a vector of non-negative errors (evo's set, same names)."""

    rmse: float
    mean: float
    median: float
    std: float
    min: float
    max: float
    sse: float
    count: int

    @classmethod
    def of(cls, errors: np.ndarray) -> ErrorStats:
        """Statistics of a 1-D array of errors; raises MapError for an empty array."""
        e = np.asarray(errors, dtype=np.float64).ravel()
        if e.size == 0:
            raise MapError("cannot compute error statistics of zero errors (no poses or pairs to compare)")
        return cls(
            rmse=float(np.sqrt(np.mean(e**2))),
            mean=float(e.mean()),
            median=float(np.median(e)),
            std=float(e.std()),
            min=float(e.min()),
            max=float(e.max()),
            sse=float(np.sum(e**2)),
            count=int(e.size),
        )

    def to_dict(self) -> dict:
        """JSON-friendly dict."""
        return dict(self.__dict__)


# ------------------------------------------------------------------------------------------------ alignment


def umeyama_alignment(x: np.ndarray, y: np.ndarray, with_scale: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    """Least-squares similarity (or rigid) transform mapping points ``x`` onto ``y`` (Umeyama 1991).

    Args:
        x: N x 3 source points (e.g. estimated positions).
        y: N x 3 target points (e.g. reference positions), same order.
        with_scale: estimate a scale too (similarity); otherwise the scale is 1.
    Returns:
        (R 3 x 3, t 3, s) with ``y_i ~= s R x_i + t`` minimising the sum of squared residuals.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3:
        raise MapError(f"umeyama_alignment needs two N x 3 arrays of the same shape, got {x.shape} and {y.shape}")
    if x.shape[0] < 3:
        raise MapError(f"umeyama_alignment needs at least 3 point pairs, got {x.shape[0]}")
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mean_x, y - mean_y
    var_x = np.mean(np.sum(xc**2, axis=1))
    cov = yc.T @ xc / x.shape[0]
    u, d, vt = np.linalg.svd(cov)
    # Reflection guard: force det(R) = +1 by flipping the weakest singular direction.
    s_mat = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s_mat[2, 2] = -1.0
    rot = u @ s_mat @ vt
    scale = float(np.trace(np.diag(d) @ s_mat) / var_x) if with_scale else 1.0
    if with_scale and var_x == 0:
        raise MapError("umeyama_alignment with scale: the source points are all identical")
    trans = mean_y - scale * rot @ mean_x
    return rot, trans, scale


def _check_trajectories(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(ref, dtype=np.float64)
    est = np.asarray(est, dtype=np.float64)
    if ref.ndim != 3 or ref.shape[1:] != (4, 4) or ref.shape != est.shape:
        raise MapError(
            f"trajectories must be two N x 4 x 4 pose arrays of equal length, got {ref.shape} and {est.shape}"
        )
    return ref, est


def align_trajectory(ref: np.ndarray, est: np.ndarray, with_scale: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Align the estimate onto the reference (Umeyama on the positions, as evo's ``--align``).

    Args:
        ref, est: N x 4 x 4 camera-to-world poses, paired by index.
        with_scale: similarity alignment (monocular trajectories); the rotation parts are unaffected by scale.
    Returns:
        (aligned N x 4 x 4 estimate, 4 x 4 similarity matrix ``S`` with ``aligned = S @ est`` for the positions).
    """
    ref, est = _check_trajectories(ref, est)
    rot, trans, scale = umeyama_alignment(est[:, :3, 3], ref[:, :3, 3], with_scale=with_scale)
    aligned = est.copy()
    aligned[:, :3, :3] = rot @ est[:, :3, :3]
    aligned[:, :3, 3] = scale * est[:, :3, 3] @ rot.T + trans
    sim = np.eye(4)
    sim[:3, :3] = scale * rot
    sim[:3, 3] = trans
    return aligned, sim


# ---------------------------------------------------------------------------------------------- ATE and RPE


def absolute_trajectory_error(
    ref: np.ndarray, est: np.ndarray, align: bool = True, with_scale: bool = False
) -> tuple[ErrorStats, np.ndarray]:
    """ATE as evo's APE translation part.

    Args:
        ref, est: N x 4 x 4 poses paired by index (associate by timestamps first).
        align: Umeyama-align the estimate first (rigid; ``with_scale`` for a similarity).
    Returns:
        (statistics in metres, N per-pose translational errors in metres).
    """
    ref, est = _check_trajectories(ref, est)
    if align:
        est, _ = align_trajectory(ref, est, with_scale=with_scale)
    errors = np.linalg.norm(ref[:, :3, 3] - est[:, :3, 3], axis=1)
    return ErrorStats.of(errors), errors


def absolute_rotation_error(
    ref: np.ndarray, est: np.ndarray, align: bool = True, degrees: bool = True
) -> tuple[ErrorStats, np.ndarray]:
    """ATE rotation part (evo's APE ``rotation_angle_deg``): angle of ``Q_i^-1 P_i`` after the same Umeyama
    alignment as :func:`absolute_trajectory_error`.

    Returns:
        (statistics, N per-pose angles), in degrees unless ``degrees`` is False.
    """
    ref, est = _check_trajectories(ref, est)
    if align:
        est, _ = align_trajectory(ref, est)
    angles = rotation_angle(np.swapaxes(ref[:, :3, :3], 1, 2) @ est[:, :3, :3])
    if degrees:
        angles = np.degrees(angles)
    return ErrorStats.of(angles), angles


def relative_pose_error(
    ref: np.ndarray, est: np.ndarray, delta: int = 1, all_pairs: bool = False, degrees: bool = True
) -> tuple[ErrorStats, ErrorStats]:
    """RPE with an index delta, as evo's ``evo_rpe --delta N --delta_unit f``.

    Args:
        ref, est: N x 4 x 4 poses paired by index.
        delta: frame distance of each pair.
        all_pairs: every ``(i, i + delta)``; otherwise consecutive pairs ``(0, d), (d, 2d), ...`` (evo's default).
        degrees: rotation errors in degrees (else radians).
    Returns:
        (translation-part statistics in metres, rotation-part statistics in degrees or radians).
    """
    ref, est = _check_trajectories(ref, est)
    if delta < 1:
        raise MapError(f"RPE delta must be a positive number of frames, got {delta}")
    n = ref.shape[0]
    if all_pairs:
        first = np.arange(0, n - delta)
    else:
        first = np.arange(0, n, delta)[:-1]
        first = first[first + delta < n]
    second = first + delta
    rel_ref = np.linalg.inv(ref[first]) @ ref[second]
    rel_est = np.linalg.inv(est[first]) @ est[second]
    err = np.linalg.inv(rel_ref) @ rel_est
    trans = np.linalg.norm(err[:, :3, 3], axis=1)
    ang = rotation_angle(err[:, :3, :3])
    if degrees:
        ang = np.degrees(ang)
    return ErrorStats.of(trans), ErrorStats.of(ang)


# ------------------------------------------------------------------------------------------------ mesh metrics


@dataclass(frozen=True)
class MeshMetrics:
    """Reconstruction quality against a ground-truth surface (metres).

    accuracy: mean distance from reconstructed points to the ground truth (lower is better).
    completeness: mean distance from ground-truth points to the reconstruction.
    completion_ratio: fraction of ground-truth points within ``threshold`` of the reconstruction.
    precision: fraction of reconstructed points within ``threshold`` of the ground truth.
    """

    accuracy: float
    completeness: float
    completion_ratio: float
    precision: float
    threshold: float

    def to_dict(self) -> dict:
        """JSON-friendly dict."""
        return dict(self.__dict__)


def sample_surface(geometry: object, num_points: int = 100_000, seed: int = 0) -> np.ndarray:
    """Points on a surface: a trimesh.Trimesh is sampled uniformly by area; an N x 3 array is returned as is.

    Returns:
        M x 3 float64 points.
    """
    if isinstance(geometry, np.ndarray):
        if geometry.ndim != 2 or geometry.shape[1] != 3:
            raise MapError(f"point array must be N x 3, got {geometry.shape}")
        return geometry.astype(np.float64)
    import trimesh  # only needed for meshes

    if isinstance(geometry, trimesh.Trimesh):
        if len(geometry.faces) == 0:
            return np.asarray(geometry.vertices, dtype=np.float64)
        points, _ = trimesh.sample.sample_surface(geometry, num_points, seed=seed)
        return np.asarray(points, dtype=np.float64)
    raise MapError(f"expected a trimesh.Trimesh or an N x 3 array, got {type(geometry).__name__}")


def mesh_metrics(
    reconstruction: object, ground_truth: object, threshold: float = 0.05, num_points: int = 100_000, seed: int = 0
) -> MeshMetrics:
    """Accuracy / completeness / completion ratio of a reconstruction (mesh or points) against a ground truth.

    Both surfaces are sampled (meshes uniformly by area, ``num_points`` each, seeded) and compared with
    nearest-neighbour distances (scipy cKDTree).
    """
    rec = sample_surface(reconstruction, num_points, seed)
    gt = sample_surface(ground_truth, num_points, seed + 1)
    if rec.shape[0] == 0 or gt.shape[0] == 0:
        raise MapError(f"mesh metrics need non-empty surfaces, got {rec.shape[0]} and {gt.shape[0]} points")
    # compact_nodes=False: with scipy's default (boxes shrunk to their points) a query far from a thin, partial
    # reconstruction visited most of the tree: 34 s instead of 0.4 s for 100k ground-truth points of a small room.
    d_rec_to_gt, _ = cKDTree(gt, compact_nodes=False, balanced_tree=False).query(rec)
    d_gt_to_rec, _ = cKDTree(rec, compact_nodes=False, balanced_tree=False).query(gt)
    return MeshMetrics(
        accuracy=float(d_rec_to_gt.mean()),
        completeness=float(d_gt_to_rec.mean()),
        completion_ratio=float(np.mean(d_gt_to_rec <= threshold)),
        precision=float(np.mean(d_rec_to_gt <= threshold)),
        threshold=float(threshold),
    )


# ----------------------------------------------------------------------------------------------- label metrics


@dataclass(frozen=True)
class LabelMetrics:
    """2D label accuracy (SemanticFusion's protocol); void pixels of the ground truth are ignored.

    pixel_accuracy: correct / labelled pixels. class_average_accuracy: mean recall over classes present in the
    ground truth. per_class_iou: class id -> IoU for classes present in the ground truth or the prediction;
    mean_iou: their mean. A prediction of void (nothing rendered) on a labelled pixel counts as wrong.
    """

    pixel_accuracy: float
    class_average_accuracy: float
    mean_iou: float
    per_class_accuracy: dict[int, float]
    per_class_iou: dict[int, float]
    labelled_pixels: int

    def to_dict(self) -> dict:
        """JSON-friendly dict (class ids as string keys)."""
        d = dict(self.__dict__)
        d["per_class_accuracy"] = {str(k): v for k, v in self.per_class_accuracy.items()}
        d["per_class_iou"] = {str(k): v for k, v in self.per_class_iou.items()}
        return d


def label_metrics(pred: np.ndarray, gt: np.ndarray, num_ids: int | None = None, void_id: int = 0) -> LabelMetrics:
    """Pixel accuracy, class-average accuracy and IoU of predicted (rendered) labels against ground truth.

    Args:
        pred, gt: H x W integer class ids (or stacks of them); ``void_id`` in gt is ignored.
        num_ids: number of ids including void (default: 1 + the largest id seen).
    Raises:
        LabelSetError: shapes differ or an id is outside 0..num_ids-1. MapError: no labelled pixel.
    """
    if num_ids is None:
        num_ids = int(max(np.max(pred, initial=0), np.max(gt, initial=0))) + 1
    cm = confusion_matrix(pred, gt, num_ids, void_id)
    total = int(cm.sum())
    if total == 0:
        raise MapError("label metrics need at least one non-void ground-truth pixel")
    # void is never a class: its column holds labelled pixels the map left unlabelled (counted as wrong)
    acc = per_class_accuracy(cm)
    iou = per_class_iou(cm)
    per_acc = {c: float(acc[c]) for c in range(num_ids) if c != void_id and not np.isnan(acc[c])}
    per_iou = {c: float(iou[c]) for c in range(num_ids) if c != void_id and not np.isnan(iou[c])}
    return LabelMetrics(
        pixel_accuracy=pixel_accuracy(cm),
        class_average_accuracy=float(np.mean(list(per_acc.values()))),
        mean_iou=float(np.mean(list(per_iou.values()))),
        per_class_accuracy=per_acc,
        per_class_iou=per_iou,
        labelled_pixels=total,
    )
