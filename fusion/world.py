"""World frame axes: which world axis is up, and the rotation that makes it glTF's +Y.

A map's world frame is whatever frame its poses are in (a dataset's ground-truth frame, or the first tracked
camera's frame with OpenCV axes: x right, y down, z forward). Neither says which way is up, so it is estimated
from the cameras: an OpenCV camera's up direction is its -y axis, and the mean of those over a trajectory of a
roughly level, hand-held or mounted camera points up (pitching up and down cancels; roll is small). The mean is
snapped to the nearest signed world axis.
"""

from __future__ import annotations

import numpy as np

from slamseg.fusion.errors import MapError

UP_AXES = ("+x", "-x", "+y", "-y", "+z", "-z")

# world -> glTF (y up) rotations, proper (det +1), each the smallest turn taking the up axis onto +Y:
# v_gltf = R @ v_world.
_TO_Y_UP = {
    "+y": np.eye(3),
    "-y": np.diag([1.0, -1.0, -1.0]),  # 180 degrees about x
    "+z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),  # -90 degrees about x
    "-z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),  # +90 degrees about x
    "+x": np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),  # +90 degrees about z
    "-x": np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),  # -90 degrees about z
}


def check_up_axis(up_axis: str) -> str:
    """``up_axis`` when it is one of UP_AXES; a MapError naming the value otherwise."""
    if up_axis not in _TO_Y_UP:
        raise MapError(f"unknown up axis {up_axis!r}; expected one of {', '.join(UP_AXES)}")
    return up_axis


def rotation_to_y_up(up_axis: str) -> np.ndarray:
    """3 x 3 float64 rotation taking world vectors to a frame whose +Y is the world's ``up_axis`` (glTF's up)."""
    return _TO_Y_UP[check_up_axis(up_axis)].copy()


def camera_up_vector(poses: np.ndarray) -> np.ndarray:
    """Mean up direction (-y camera axis) of N x 4 x 4 camera-to-world poses (OpenCV axes), a unit 3-vector.

    Raises:
        MapError: no pose, or the up directions cancel out.
    """
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4)
    if len(poses) == 0:
        raise MapError("the up axis needs at least one camera pose")
    mean = -poses[:, :3, 1].mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if not norm > 1e-6:
        raise MapError("the cameras' up directions cancel out: no up axis")
    return mean / norm


def up_axis_from_poses(poses: np.ndarray) -> str:
    """The signed world axis (one of UP_AXES) nearest to the cameras' mean up direction (see module doc)."""
    up = camera_up_vector(poses)
    axis = int(np.argmax(np.abs(up)))
    return ("+" if up[axis] > 0 else "-") + "xyz"[axis]
