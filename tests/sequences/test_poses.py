"""Quaternions, slerp, pose interpolation and trajectory files (analytic expectations)."""

from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import SequenceFormatError
from slamseg.sequences.poses import (
    interpolate_pose,
    matrix_to_quat,
    quat_to_matrix,
    read_gt_sim,
    read_log_trajectory,
    read_tum_trajectory,
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
