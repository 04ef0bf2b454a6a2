"""Quaternions, slerp, pose interpolation and trajectory files (analytic expectations)."""

from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import SequenceFormatError
from slamseg.sequences.poses import (
    interpolate_pose,
    interpolate_poses,
    matrix_to_quat,
    pose_to_tum,
    quat_to_matrix,
    read_gt_sim,
    read_log_trajectory,
    read_tum_trajectory,
    rotation_angle,
    slerp,
    write_tum_trajectory,
)

S = np.sqrt(0.5)


def rot_z(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def test_quaternion_of_quarter_turn_about_z():
    assert np.allclose(quat_to_matrix([0, 0, S, S]), rot_z(90))
    assert np.allclose(matrix_to_quat(rot_z(90)), [0, 0, S, S])


def test_matrix_to_quat_handles_half_turns_and_keeps_w_non_negative():
    # 180 degrees about x: trace = -1, the branch that divides by x.
    r = np.diag([1.0, -1.0, -1.0])
    q = matrix_to_quat(r)
    assert np.allclose(np.abs(q), [1, 0, 0, 0])
    assert np.allclose(quat_to_matrix(q), r)
    q = matrix_to_quat(rot_z(-170))
    assert q[3] >= 0 and np.allclose(quat_to_matrix(q), rot_z(-170))


def test_slerp_halfway_is_half_the_angle_and_takes_short_arc():
    q = slerp([0, 0, 0, 1], [0, 0, S, S], 0.5)
    assert np.allclose(quat_to_matrix(q), rot_z(45))
    # -q1 is the same rotation: the result must still be 45 degrees, not the long way round.
    q = slerp([0, 0, 0, 1], [0, 0, -S, -S], 0.5)
    assert np.allclose(quat_to_matrix(q), rot_z(45))


def axis_angle(axis: list[float], angle: float) -> tuple[np.ndarray, np.ndarray]:
    """(quaternion (x, y, z, w), Rodrigues matrix) of a rotation by ``angle`` radians about ``axis``."""
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    skew = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    matrix = np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew
    return np.append(np.sin(angle / 2) * k, np.cos(angle / 2)), matrix


KNOWN = [([1, 0, 0], 0.0), ([0, 0, 1], np.pi / 2), ([1, 0, 0], np.pi), ([0, 1, 1], np.pi - 1e-7),
         ([1, 2, 3], 0.7), ([-3, 1, 0.5], 2.9), ([0.2, -1, 0.1], 1e-6)]


@pytest.mark.parametrize(("axis", "angle"), KNOWN)
def test_quaternions_and_angles_of_known_rotations_to_1e_12(axis, angle):
    q, r = axis_angle(axis, angle)
    np.testing.assert_allclose(quat_to_matrix(q), r, rtol=0, atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(-3.0 * q), r, rtol=0, atol=1e-12)  # any scale, either sign
    back = matrix_to_quat(r)
    assert back[3] >= 0
    np.testing.assert_allclose(back, q if q[3] > 0 or angle == np.pi else -q, rtol=0, atol=1e-12)
    # the angle comes from arccos of the trace, which resolves ~1e-8 rad where sin(angle) ~ 0
    assert abs(rotation_angle(r) - angle) < (1e-12 if np.sin(angle) > 1e-3 else 2e-8)


def test_quaternion_batches_keep_their_shape_and_zero_quaternions_raise():
    qs = np.stack([axis_angle(a, t)[0] for a, t in KNOWN]).reshape(7, 1, 4)
    assert quat_to_matrix(qs).shape == (7, 1, 3, 3)
    assert matrix_to_quat(quat_to_matrix(qs)).shape == (7, 1, 4)
    assert pose_to_tum(np.tile(np.eye(4), (2, 3, 1, 1))).shape == (2, 3, 7)
    with pytest.raises(ValueError, match="zero quaternion"):
        quat_to_matrix([0.0, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="non-finite"):
        matrix_to_quat(np.full((3, 3), np.nan))


@pytest.mark.parametrize("angle", [np.radians(170.0), 1e-3, 1e-6])
@pytest.mark.parametrize("t", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_slerp_is_exact_between_rotations_about_one_axis(angle, t):
    # slerp from identity to R(axis, angle) at t is R(axis, t * angle) exactly, at small angles too
    axis = [1.0, -2.0, 0.5]
    q1, _ = axis_angle(axis, angle)
    q_t, r_t = axis_angle(axis, t * angle)
    np.testing.assert_allclose(slerp([0, 0, 0, 1], q1, t), q_t, rtol=0, atol=1e-12)
    # -q1 is the same rotation: same result, on the side of q0 (non-negative w here)
    np.testing.assert_allclose(slerp([0, 0, 0, 1], -q1, t), q_t, rtol=0, atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(slerp([0, 0, 0, 1], q1, t)), r_t, rtol=0, atol=1e-12)


def test_slerp_keeps_the_side_of_the_first_quaternion():
    q0 = -axis_angle([0, 0, 1], 0.3)[0]  # negative w
    q = slerp(q0, axis_angle([0, 0, 1], 0.9)[0], 0.5)
    np.testing.assert_allclose(q, -axis_angle([0, 0, 1], 0.6)[0], rtol=0, atol=1e-12)


def test_interpolate_poses_equals_one_query_at_a_time():
    rng = np.random.default_rng(0)
    stamps = np.cumsum(rng.uniform(0.01, 0.03, 40))
    stamps[20:] += 0.5  # one gap larger than max_gap
    poses = np.tile(np.eye(4), (40, 1, 1))
    poses[:, :3, :3] = quat_to_matrix(rng.normal(size=(40, 4)))
    poses[:, :3, 3] = rng.normal(size=(40, 3))
    queries = np.concatenate([rng.uniform(stamps[0] - 0.05, stamps[-1] + 0.05, 60), stamps[::5]])
    batch = interpolate_poses(stamps, poses, queries, max_gap=0.1)
    assert len(batch) == len(queries) and any(p is None for p in batch) and any(p is not None for p in batch)
    for t, pose in zip(queries, batch):
        one = interpolate_pose(stamps, poses, t, max_gap=0.1)
        assert (one is None) == (pose is None)
        if pose is not None:
            np.testing.assert_array_equal(pose, one)
    assert interpolate_poses(np.zeros(0), np.zeros((0, 4, 4)), queries) == [None] * len(queries)


def test_interpolate_pose_translation_rotation_and_gaps():
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[1, :3, :3] = rot_z(90)
    poses[1, :3, 3] = [2.0, 0, 0]
    stamps = np.array([0.0, 1.0, 5.0])
    mid = interpolate_pose(stamps, poses, 0.25, max_gap=2.0)
    assert np.allclose(mid[:3, 3], [0.5, 0, 0])
    assert np.allclose(mid[:3, :3], rot_z(22.5))
    assert np.allclose(interpolate_pose(stamps, poses, 1.0, max_gap=0.1), poses[1])  # exact hit
    assert interpolate_pose(stamps, poses, 3.0, max_gap=2.0) is None  # 4 s gap
    assert interpolate_pose(stamps, poses, -0.1) is None
    assert interpolate_pose(stamps, poses, 5.1) is None


def test_tum_trajectory_round_trip(tmp_path: Path):
    poses = np.tile(np.eye(4), (2, 1, 1))
    poses[1, :3, :3] = rot_z(30)
    poses[1, :3, 3] = [1.5, -2.0, 0.25]
    write_tum_trajectory(tmp_path / "gt.txt", np.array([10.5, 11.0]), poses)
    stamps, back = read_tum_trajectory(tmp_path / "gt.txt")
    assert np.allclose(stamps, [10.5, 11.0])
    assert np.allclose(back, poses, atol=1e-8)


def test_tum_trajectory_errors_name_file_and_line(tmp_path: Path):
    p = tmp_path / "groundtruth.txt"
    p.write_text("# header\n1.0 0 0 0 0 0 0 1\n2.0 0 0 zero 0 0 0 1\n")
    with pytest.raises(SequenceFormatError, match=r"groundtruth.txt:3"):
        read_tum_trajectory(p)
    p.write_text("1.0 0 0 0 0 0 1\n")
    with pytest.raises(SequenceFormatError, match=r"groundtruth.txt:1: expected 8 fields"):
        read_tum_trajectory(p)
    p.write_text("1.0 0 0 0 0 0 0 0\n")
    with pytest.raises(SequenceFormatError, match="zero quaternion"):
        read_tum_trajectory(p)


def test_log_and_gt_sim_readers(tmp_path: Path):
    log = tmp_path / "trajectory.log"
    log.write_text("0 0 1\n1 0 0 2\n0 1 0 3\n0 0 1 4\n0 0 0 1\n7 7 8\n1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")
    ids, poses = read_log_trajectory(log)
    assert list(ids) == [0, 7]
    assert np.allclose(poses[0][:3, 3], [2, 3, 4])
    log.write_text("0 0 1\n1 0 0 2\n0 1 0 3\n")
    with pytest.raises(SequenceFormatError, match="blocks of 5 lines"):
        read_log_trajectory(log)
    sim = tmp_path / "x.gt.sim"
    sim.write_text("1 0 0 0.5\n0 1 0 0\n0 0 1 0\n\n1 0 0 1\n0 1 0 1\n0 0 1 x\n")
    with pytest.raises(SequenceFormatError, match=r"x.gt.sim:7"):
        read_gt_sim(sim)
    sim.write_text("1 0 0 0.5\n0 1 0 0\n0 0 1 0\n")
    assert np.allclose(read_gt_sim(sim)[0][:3, 3], [0.5, 0, 0])
