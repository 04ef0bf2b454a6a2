"""Map metrics against hand-computed cases (no outputs of the code pasted in)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from slamseg.fusion.errors import MapError
from slamseg.fusion.metrics import (
    ErrorStats,
    absolute_trajectory_error,
    associate_timestamps,
    label_metrics,
    mesh_metrics,
    relative_pose_error,
    umeyama_alignment,
)


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _trajectory(n: int = 20) -> np.ndarray:
    """A non-degenerate trajectory: a helix with a turning camera."""
    poses = np.tile(np.eye(4), (n, 1, 1))
    for i in range(n):
        t = i / n
        poses[i, :3, :3] = _rot_z(0.3 * i) @ _rot_x(0.1 * i)
        poses[i, :3, 3] = [np.cos(2 * t), np.sin(2 * t), 0.5 * t]
    return poses


def _apply(transform: np.ndarray, poses: np.ndarray) -> np.ndarray:
    return transform[None] @ poses


def test_umeyama_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    rot = _rot_z(0.7) @ _rot_x(-0.4)
    y = 2.5 * x @ rot.T + np.array([1.0, -2.0, 3.0])
    r, t, s = umeyama_alignment(x, y, with_scale=True)
    np.testing.assert_allclose(r, rot, atol=1e-10)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-10)
    assert s == pytest.approx(2.5)


def test_umeyama_never_returns_a_reflection() -> None:
    x = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    y = x * np.array([1, 1, -1.0])  # a mirror image: best proper rotation must still have det +1
    r, _, _ = umeyama_alignment(x, y)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_ate_is_zero_after_a_rigid_motion_of_the_whole_trajectory() -> None:
    ref = _trajectory()
    motion = np.eye(4)
    motion[:3, :3] = _rot_z(1.1) @ _rot_x(0.3)
    motion[:3, 3] = [5.0, -1.0, 2.0]
    stats, errors = absolute_trajectory_error(ref, _apply(motion, ref))
    assert stats.rmse == pytest.approx(0.0, abs=1e-9)
    assert errors.shape == (20,)
    # Without alignment the error is the displacement of each position under the motion.
    _, errors_raw = absolute_trajectory_error(ref, _apply(motion, ref), align=False)
    expected = np.linalg.norm(ref[:, :3, 3] @ motion[:3, :3].T + motion[:3, 3] - ref[:, :3, 3], axis=1)
    np.testing.assert_allclose(errors_raw, expected, atol=1e-12)


def test_ate_of_a_known_offset_without_alignment() -> None:
    ref = _trajectory()
    est = ref.copy()
    est[:, :3, 3] += [0.03, 0.04, 0.0]  # |offset| = 5 cm at every pose
    stats, _ = absolute_trajectory_error(ref, est, align=False)
    assert stats.rmse == pytest.approx(0.05)
    assert stats.max == pytest.approx(0.05)
    # Alignment removes a constant offset entirely.
    assert absolute_trajectory_error(ref, est)[0].rmse == pytest.approx(0.0, abs=1e-9)


def test_ate_with_error_that_alignment_cannot_remove() -> None:
    # Unit square at z=0; the estimate lifts the corners by +d, -d, -d, +d (a saddle). The error is mean-free and
    # uncorrelated with the centred positions (sum e_z * x_c = sum e_z * y_c = 0), so the best rigid alignment is
    # the identity and every pose keeps an error of exactly d.
    d = 0.02
    ref = np.tile(np.eye(4), (4, 1, 1))
    ref[:, :2, 3] = [[0, 0], [1, 0], [0, 1], [1, 1]]
    est = ref.copy()
    est[:, 2, 3] = [d, -d, -d, d]
    stats, errors = absolute_trajectory_error(ref, est)
    np.testing.assert_allclose(errors, d, rtol=1e-9)
    assert stats.rmse == pytest.approx(d)


def test_ate_with_scale_recovers_a_scaled_trajectory() -> None:
    ref = _trajectory()
    est = ref.copy()
    est[:, :3, 3] *= 0.5
    assert absolute_trajectory_error(ref, est, with_scale=True)[0].rmse == pytest.approx(0.0, abs=1e-9)
    assert absolute_trajectory_error(ref, est)[0].rmse > 0.1


def test_rpe_of_a_constant_drift_per_frame() -> None:
    # Reference: 1 m steps along x; estimate: 1.1 m steps -> 0.1 m translation error per pair, no rotation error.
    n = 11
    ref = np.tile(np.eye(4), (n, 1, 1))
    ref[:, 0, 3] = np.arange(n)
    est = ref.copy()
    est[:, 0, 3] = 1.1 * np.arange(n)
    trans, rot = relative_pose_error(ref, est, delta=1)
    assert trans.count == 10
    assert trans.rmse == pytest.approx(0.1)
    assert rot.max == pytest.approx(0.0, abs=1e-9)
    # delta=2 with evo's consecutive pairs: (0,2),(2,4),...,(8,10) -> 5 pairs of 0.2 m.
    trans2, _ = relative_pose_error(ref, est, delta=2)
    assert trans2.count == 5
    assert trans2.mean == pytest.approx(0.2)
    trans_all, _ = relative_pose_error(ref, est, delta=2, all_pairs=True)
    assert trans_all.count == 9


def test_rpe_rotation_part_in_degrees() -> None:
    n = 5
    ref = np.tile(np.eye(4), (n, 1, 1))
    est = ref.copy()
    for i in range(n):
        est[i, :3, :3] = _rot_z(np.radians(3.0 * i))  # 3 degrees more yaw per frame than the reference
    _, rot = relative_pose_error(ref, est, delta=1)
    assert rot.mean == pytest.approx(3.0)
    _, rot_rad = relative_pose_error(ref, est, delta=1, degrees=False)
    assert rot_rad.mean == pytest.approx(np.radians(3.0))


def test_error_stats_of_a_known_vector() -> None:
    s = ErrorStats.of(np.array([3.0, 4.0]))
    assert s.rmse == pytest.approx(np.sqrt(12.5))
    assert s.mean == 3.5 and s.median == 3.5 and s.max == 4.0 and s.min == 3.0 and s.sse == 25.0
    with pytest.raises(MapError, match="zero errors"):
        ErrorStats.of(np.array([]))


def test_associate_timestamps_pairs_closest_within_tolerance() -> None:
    a = np.array([0.0, 1.0, 2.0, 3.0])
    b = np.array([0.004, 0.996, 1.003, 2.5, 3.009])
    ia, ib = associate_timestamps(a, b, max_diff=0.005)
    # 0<->0.004, 1<->1.003 (0.003 beats 0.004 of 0.996), 2 has nothing within 5 ms, 3.009 is 9 ms away.
    assert ia.tolist() == [0, 1]
    assert ib.tolist() == [0, 2]
    ia, ib = associate_timestamps(a, b, max_diff=0.01)
    assert ia.tolist() == [0, 1, 3] and ib.tolist() == [0, 2, 4]


def test_mismatched_trajectories_raise() -> None:
    with pytest.raises(MapError, match="equal length"):
        absolute_trajectory_error(_trajectory(5), _trajectory(6))


def test_mesh_metrics_of_a_plane_shifted_by_a_known_distance() -> None:
    # Ground truth: the unit square at z=0; reconstruction: the same square at z=0.02 -> every distance ~2 cm
    # (slightly less at sample level because nearest neighbours may be diagonal; bounded by 2 cm + spacing).
    square = trimesh.Trimesh(vertices=[[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], faces=[[0, 1, 2], [0, 2, 3]])
    shifted = square.copy()
    shifted.apply_translation([0, 0, 0.02])
    m = mesh_metrics(shifted, square, threshold=0.05, num_points=20_000)
    assert 0.02 <= m.accuracy < 0.025
    assert 0.02 <= m.completeness < 0.025
    assert m.completion_ratio == 1.0 and m.precision == 1.0
    strict = mesh_metrics(shifted, square, threshold=0.01, num_points=20_000)
    assert strict.completion_ratio == 0.0


def test_mesh_metrics_half_missing_reconstruction() -> None:
    # Reconstruction covers only the left half of the ground-truth square: accurate, half complete.
    gt = trimesh.Trimesh(vertices=[[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], faces=[[0, 1, 2], [0, 2, 3]])
    rec = trimesh.Trimesh(vertices=[[0, 0, 0], [0.5, 0, 0], [0.5, 1, 0], [0, 1, 0]], faces=[[0, 1, 2], [0, 2, 3]])
    m = mesh_metrics(rec, gt, threshold=0.05, num_points=40_000)
    assert m.accuracy < 0.01
    # GT points with x in (0.55, 1] are farther than 5 cm: completion ~ 0.55; the mean distance of the right half
    # is 0.25, so completeness ~ 0.5 * 0.25 = 0.125.
    assert m.completion_ratio == pytest.approx(0.55, abs=0.02)
    assert m.completeness == pytest.approx(0.125, abs=0.01)


def test_label_metrics_on_a_tiny_hand_made_image() -> None:
    gt = np.array([[1, 1, 2, 2], [1, 1, 2, 0], [3, 3, 3, 0]])
    pred = np.array([[1, 1, 2, 1], [1, 2, 2, 2], [3, 3, 0, 1]])
    m = label_metrics(pred, gt, num_ids=4)
    # Labelled pixels: 10 (two void). Correct: class 1: 3/4, class 2: 2/3, class 3: 2/3 -> 7/10.
    assert m.labelled_pixels == 10
    assert m.pixel_accuracy == pytest.approx(0.7)
    assert m.per_class_accuracy == pytest.approx({1: 0.75, 2: 2 / 3, 3: 2 / 3})
    assert m.class_average_accuracy == pytest.approx((0.75 + 2 / 3 + 2 / 3) / 3)
    # IoU: class 1: tp 3, gt 4, pred (non-void gt) 4 -> 3/5; class 2: tp 2, gt 3, pred 3 -> 2/4; class 3: 2/3.
    assert m.per_class_iou == pytest.approx({1: 0.6, 2: 0.5, 3: 2 / 3})
    assert m.mean_iou == pytest.approx((0.6 + 0.5 + 2 / 3) / 3)


def test_label_metrics_ignore_absent_classes_in_class_average() -> None:
    gt = np.array([[1, 1], [1, 1]])
    pred = np.array([[1, 1], [1, 5]])
    m = label_metrics(pred, gt, num_ids=6)
    assert m.class_average_accuracy == pytest.approx(0.75)  # only class 1 present in gt
    assert m.per_class_iou == pytest.approx({1: 0.75, 5: 0.0})


def test_ate_rotation_part_of_a_constant_rotation_offset() -> None:
    from slamseg.fusion.metrics import absolute_rotation_error

    ref = _trajectory()
    est = ref.copy()
    est[:, :3, :3] = est[:, :3, :3] @ _rot_x(np.radians(5.0))  # every camera turned 5 degrees about its own x
    stats, angles = absolute_rotation_error(ref, est, align=False)
    np.testing.assert_allclose(angles, 5.0, rtol=1e-9)
    assert stats.rmse == pytest.approx(5.0)
