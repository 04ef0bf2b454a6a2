"""Rigid poses: quaternions, slerp interpolation and trajectory files (TUM, Redwood .log, ICL-NUIM .gt.sim).

Conventions: a pose is a 4 x 4 float64 camera-to-world matrix; quaternions are scalar-last ``(qx, qy, qz, qw)``
as in TUM files. Trajectory readers raise :class:`SequenceFormatError` naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm < 1e-12):
        raise ValueError("zero quaternion")
    x, y, z, w = np.moveaxis(q / norm, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def matrix_to_quat(rotation: np.ndarray) -> np.ndarray:
    """Quaternions ``(qx, qy, qz, qw)`` with ``qw >= 0`` from (..., 3, 3) rotation matrices (Shepperd's method)."""
    m = np.asarray(rotation, dtype=np.float64)
    batch = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    out = np.empty((m.shape[0], 4))
    for i, r in enumerate(m):
        trace = r[0, 0] + r[1, 1] + r[2, 2]
        # Pick the largest of w, x, y, z to divide by: numerically stable for every rotation angle.
        if trace > 0:
            s = 2.0 * np.sqrt(trace + 1.0)
            q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, 0.25 * s]
        elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
            s = 2.0 * np.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
            q = [0.25 * s, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s]
        elif r[1, 1] > r[2, 2]:
            s = 2.0 * np.sqrt(1.0 + r[1, 1] - r[0, 0] - r[2, 2])
            q = [(r[0, 1] + r[1, 0]) / s, 0.25 * s, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s]
        else:
            s = 2.0 * np.sqrt(1.0 + r[2, 2] - r[0, 0] - r[1, 1])
            q = [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, 0.25 * s, (r[1, 0] - r[0, 1]) / s]
        q = np.array(q) / np.linalg.norm(q)
        out[i] = -q if q[3] < 0 else q
    return out.reshape(*batch, 4)


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical linear interpolation between unit quaternions (scalar-last), shortest arc; t in [0, 1]."""
    q0 = np.asarray(q0, dtype=np.float64) / np.linalg.norm(q0)
    q1 = np.asarray(q1, dtype=np.float64) / np.linalg.norm(q1)
    dot = float(np.dot(q0, q1))
    if dot < 0.0:  # q and -q are the same rotation: take the short way round
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly parallel: lerp is exact to 1e-7 and avoids dividing by sin(~0)
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = np.arccos(min(dot, 1.0))
    return (np.sin((1 - t) * theta) * q0 + np.sin(t * theta) * q1) / np.sin(theta)


def pose_from_tum(values: np.ndarray) -> np.ndarray:
    """4 x 4 pose from TUM values ``(tx, ty, tz, qx, qy, qz, qw)`` (metres; camera-to-world)."""
    values = np.asarray(values, dtype=np.float64)
    pose = np.eye(4)
    pose[:3, :3] = quat_to_matrix(values[3:7])
    pose[:3, 3] = values[:3]
    return pose


def pose_to_tum(pose: np.ndarray) -> np.ndarray:
    """``(tx, ty, tz, qx, qy, qz, qw)`` of a 4 x 4 pose."""
    pose = np.asarray(pose, dtype=np.float64)
    return np.concatenate([pose[:3, 3], matrix_to_quat(pose[:3, :3])])


def interpolate_pose(
    timestamps: np.ndarray, poses: np.ndarray, query: float, max_gap: float = 0.1
) -> np.ndarray | None:
    """Pose at time ``query`` by linear (translation) + slerp (rotation) interpolation of a trajectory.

    Args:
        timestamps: (N,) sorted seconds.
        poses: (N, 4, 4) camera-to-world.
        query: seconds.
        max_gap: seconds; the two bracketing samples must be at most this far apart (an exact hit always counts).
    Returns:
        4 x 4 float64 pose, or None outside the trajectory or across a gap larger than ``max_gap``.
    """
    n = len(timestamps)
    if n == 0:
        return None
    j = int(np.searchsorted(timestamps, query, side="left"))
    if j < n and abs(timestamps[j] - query) < 1e-9:
        return poses[j].copy()
    if j == 0 or j == n:
        return None
    t0, t1 = timestamps[j - 1], timestamps[j]
    if t1 - t0 > max_gap:
        return None
    a = (query - t0) / (t1 - t0)
    q = slerp(matrix_to_quat(poses[j - 1][:3, :3]), matrix_to_quat(poses[j][:3, :3]), a)
    out = np.eye(4)
    out[:3, :3] = quat_to_matrix(q)
    out[:3, 3] = (1 - a) * poses[j - 1][:3, 3] + a * poses[j][:3, 3]
    return out


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
    for t, pose in zip(timestamps, poses):
        lines.append(f"{t:.6f} " + " ".join(f"{v:.9f}" for v in pose_to_tum(pose)))
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
