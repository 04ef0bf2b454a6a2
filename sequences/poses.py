"""Rigid poses: quaternions, slerp, rotation angles and trajectory files (TUM, Redwood .log, ICL-NUIM .gt.sim).

Conventions: a pose is a 4 x 4 float64 camera-to-world matrix; quaternions are scalar-last ``(qx, qy, qz, qw)``
as in TUM files. Trajectory readers raise :class:`SequenceFormatError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from slamseg.sequences.atomic import atomic_write_text
from slamseg.sequences.errors import SequenceFormatError


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices from quaternions.

    Args:
        q: (..., 4) quaternions ``(qx, qy, qz, qw)``; normalised here (must be non-zero).
    Returns:
        (..., 3, 3) float64 rotation matrices.
    """
    q = np.asarray(q, dtype=np.float64)
    # scipy refuses only exact zeros; a norm this small is a broken file, not a rotation
    if np.any(np.linalg.norm(q, axis=-1) < 1e-12):
        raise ValueError("zero quaternion")
    batch = q.shape[:-1]
    if q.size == 0:
        return np.zeros((*batch, 3, 3))
    # scipy's default order is scalar-last, TUM's
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(*batch, 3, 3)


def matrix_to_quat(rotation: np.ndarray) -> np.ndarray:
    """Quaternions ``(qx, qy, qz, qw)`` with ``qw >= 0`` from (..., 3, 3) rotation matrices.

    A matrix that is not exactly orthonormal is taken as its nearest rotation. Raises ValueError for non-finite
    matrices and for ones with a non-positive determinant (reflections).
    """
    m = np.asarray(rotation, dtype=np.float64)
    batch = m.shape[:-2]
    if m.size == 0:
        return np.zeros((*batch, 4))
    if not np.all(np.isfinite(m)):
        raise ValueError("non-finite rotation matrix")
    q = Rotation.from_matrix(m.reshape(-1, 3, 3)).as_quat()
    # q and -q are the same rotation; files keep the half with a non-negative scalar part
    q[q[:, 3] < 0] *= -1.0
    return q.reshape(*batch, 4)


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions (scalar-last), shortest arc; t in [0, 1].

    Returns the (4,) unit quaternion on the same side as ``q0`` (non-negative dot product with it); scipy raises
    ValueError for a zero quaternion or t outside [0, 1].
    """
    q0 = np.asarray(q0, dtype=np.float64)
    ends = Rotation.from_quat(np.stack([q0, np.asarray(q1, dtype=np.float64)]))
    # scipy interpolates the rotations, which always takes the shorter of the two arcs
    q = Slerp([0.0, 1.0], ends)(t).as_quat()
    return -q if np.dot(q, q0) < 0 else q


def rotation_angle(rot: np.ndarray) -> np.ndarray:
    """Angle in radians of rotation matrices (... x 3 x 3), in [0, pi].

    From the trace (``cos = (tr R - 1) / 2``, clipped to [-1, 1] against rounding), so any matrix gets an angle,
    NaN for non-finite ones. arccos is flat near 0 and pi: there the angle is good to about 1e-8 rad.
    """
    cos = (np.trace(rot, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def pose_to_tum(pose: np.ndarray) -> np.ndarray:
    """``(tx, ty, tz, qx, qy, qz, qw)`` of (..., 4, 4) poses: (..., 7) float64."""
    pose = np.asarray(pose, dtype=np.float64)
    return np.concatenate([pose[..., :3, 3], matrix_to_quat(pose[..., :3, :3])], axis=-1)


def interpolate_poses(
    timestamps: np.ndarray, poses: np.ndarray, queries: np.ndarray, max_gap: float = 0.1
) -> list[np.ndarray | None]:
    """Poses at times ``queries`` by linear (translation) + slerp (rotation) interpolation of a trajectory.

    Args:
        timestamps: (N,) sorted seconds.
        poses: (N, 4, 4) camera-to-world.
        queries: (M,) seconds.
        max_gap: seconds; the two bracketing samples must be at most this far apart (an exact hit always counts).
    Returns:
        M entries: a 4 x 4 float64 pose, or None outside the trajectory or across a gap larger than ``max_gap``.
    """
    stamps = np.asarray(timestamps, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64).reshape(-1)
    out: list[np.ndarray | None] = [None] * len(queries)
    n = len(stamps)
    if n == 0 or len(queries) == 0:
        return out
    poses = np.asarray(poses, dtype=np.float64)
    j = np.searchsorted(stamps, queries, side="left")
    # only the sample at or after the query counts as an exact hit
    exact = (j < n) & (np.abs(stamps[np.minimum(j, n - 1)] - queries) < 1e-9)
    for k in np.flatnonzero(exact):
        out[k] = poses[j[k]].copy()
    inside = np.flatnonzero(~exact & (j > 0) & (j < n))
    inside = inside[stamps[j[inside]] - stamps[j[inside] - 1] <= max_gap]
    if inside.size == 0:
        return out
    hi = j[inside]
    lo = hi - 1
    a = (queries[inside] - stamps[lo]) / (stamps[hi] - stamps[lo])
    # scipy's Slerp computes exactly this (r0 * exp(a log(r0^-1 r1))); written out because each query has its own
    # pair of samples and Slerp needs strictly increasing key times, which duplicated stamps in a file break
    r0 = Rotation.from_matrix(poses[lo, :3, :3])
    step = (r0.inv() * Rotation.from_matrix(poses[hi, :3, :3])).as_rotvec()
    interpolated = np.tile(np.eye(4), (len(inside), 1, 1))
    interpolated[:, :3, :3] = (r0 * Rotation.from_rotvec(a[:, None] * step)).as_matrix()
    interpolated[:, :3, 3] = (1 - a)[:, None] * poses[lo, :3, 3] + a[:, None] * poses[hi, :3, 3]
    for k, pose in zip(inside, interpolated):
        out[k] = pose
    return out


def interpolate_pose(
    timestamps: np.ndarray, poses: np.ndarray, query: float, max_gap: float = 0.1
) -> np.ndarray | None:
    """Pose at one time ``query`` (seconds): :func:`interpolate_poses` for a single query; None where it has none."""
    return interpolate_poses(timestamps, poses, np.array([query]), max_gap)[0]


def _data_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(1-based line number, fields) of the non-empty, non-comment lines of a text file."""
    if not path.is_file():
        raise SequenceFormatError(f"{path}: file is missing")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the first line
    except UnicodeDecodeError as err:
        raise SequenceFormatError(f"{path}: expected a text file: {err}") from err
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append((number, stripped.replace(",", " ").split()))
    return out


def _floats(path: Path, number: int, fields: list[str], expected: str) -> list[float]:
    try:
        values = [float(f) for f in fields]
    except ValueError as err:
        raise SequenceFormatError(f"{path}:{number}: expected {expected}, got {' '.join(fields)!r}") from err
    if not np.all(np.isfinite(values)):
        raise SequenceFormatError(f"{path}:{number}: non-finite value in {' '.join(fields)!r}")
    return values


def read_tum_trajectory(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a TUM trajectory file (``timestamp tx ty tz qx qy qz qw`` lines, ``#`` comments).

    Returns:
        (timestamps, poses): (N,) float64 seconds sorted ascending, (N, 4, 4) float64 camera-to-world.
    """
    path = Path(path)
    stamps, values = [], []
    for number, fields in _data_lines(path):
        if len(fields) != 8:
            raise SequenceFormatError(
                f"{path}:{number}: expected 8 fields 'timestamp tx ty tz qx qy qz qw', got {len(fields)}"
            )
        row = _floats(path, number, fields, "'timestamp tx ty tz qx qy qz qw' numbers")
        if np.linalg.norm(row[4:8]) < 1e-9:
            raise SequenceFormatError(f"{path}:{number}: zero quaternion")
        stamps.append(row[0])
        values.append(row[1:])
    if not stamps:
        return np.zeros(0), np.zeros((0, 4, 4))
    stamps_arr = np.array(stamps)
    values_arr = np.array(values)
    order = np.argsort(stamps_arr, kind="stable")
    poses = np.tile(np.eye(4), (len(stamps), 1, 1))
    poses[:, :3, :3] = quat_to_matrix(values_arr[:, 3:7])
    poses[:, :3, 3] = values_arr[:, :3]
    return stamps_arr[order], poses[order]


def format_tum_trajectory(timestamps: np.ndarray, poses: np.ndarray, title: str = "trajectory") -> str:
    """Text of a TUM trajectory file (timestamps ``%.6f``, values ``%.9f``) with a header comment naming it."""
    timestamps = np.asarray(timestamps, dtype=np.float64)
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (4, 4) or len(poses) != len(timestamps):
        raise SequenceFormatError(f"need N timestamps and N x 4 x 4 poses, got {timestamps.shape} and {poses.shape}")
    lines = [f"# {title} (camera-to-world)", "# timestamp tx ty tz qx qy qz qw"]
    for t, values in zip(timestamps, pose_to_tum(poses)):  # all quaternions at once: scipy is slow per call
        lines.append(f"{t:.6f} " + " ".join(f"{v:.9f}" for v in values))
    return "\n".join(lines) + "\n"


def write_tum_trajectory(path: str | Path, timestamps: np.ndarray, poses: np.ndarray,
                         title: str = "trajectory") -> None:
    """Write (N,) timestamps (s) and (N, 4, 4) camera-to-world poses as a TUM trajectory file, atomically."""
    atomic_write_text(path, format_tum_trajectory(timestamps, poses, title))


def read_log_trajectory(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Redwood/Open3D ``.log`` trajectory: per pose a line ``i j n`` then 4 lines of a 4 x 4 matrix.

    Returns:
        (frame_ids, poses): (N,) int64 from the first header field, (N, 4, 4) float64 camera-to-world.
    """
    path = Path(path)
    lines = _data_lines(path)
    if len(lines) % 5 != 0:
        raise SequenceFormatError(
            f"{path}: expected blocks of 5 lines ('i j n' + 4 matrix rows), got {len(lines)} data lines"
        )
    ids, poses = [], []
    for b in range(0, len(lines), 5):
        number, head = lines[b]
        if len(head) != 3:
            raise SequenceFormatError(f"{path}:{number}: expected a header 'i j n' of 3 integers, got {head}")
        try:
            ids.append(int(head[0]))
        except ValueError as err:
            raise SequenceFormatError(f"{path}:{number}: expected integer frame ids, got {head}") from err
        rows = []
        for number, fields in lines[b + 1:b + 5]:
            if len(fields) != 4:
                raise SequenceFormatError(f"{path}:{number}: expected 4 numbers of a matrix row, got {len(fields)}")
            rows.append(_floats(path, number, fields, "4 numbers of a matrix row"))
        poses.append(rows)
    return np.array(ids, dtype=np.int64), np.array(poses, dtype=np.float64).reshape(-1, 4, 4)


def read_gt_sim(path: str | Path) -> np.ndarray:
    """Read an ICL-NUIM ``.gt.sim`` file: per frame 3 lines of 4 numbers ([R | t]); returns (N, 4, 4) float64.

    The poses are in ICL-NUIM's own (negative-fy) camera convention; see ``readers.icl`` for the conversion.
    """
    path = Path(path)
    lines = _data_lines(path)
    if len(lines) % 3 != 0:
        raise SequenceFormatError(f"{path}: expected 3 lines of 4 numbers per pose, got {len(lines)} data lines")
    poses = np.tile(np.eye(4), (len(lines) // 3, 1, 1))
    for k, (number, fields) in enumerate(lines):
        if len(fields) != 4:
            raise SequenceFormatError(f"{path}:{number}: expected 4 numbers of a 3x4 [R|t] row, got {len(fields)}")
        poses[k // 3, k % 3] = _floats(path, number, fields, "4 numbers of a 3x4 [R|t] row")
    return poses
