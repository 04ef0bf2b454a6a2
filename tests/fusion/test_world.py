"""World up axis from camera poses, and the rotations that make it glTF's +Y."""

from __future__ import annotations

import numpy as np
import pytest

from slamseg.fusion.errors import MapError
from slamseg.fusion.world import UP_AXES, rotation_to_y_up, up_axis_from_poses
from slamseg.sequences.synthetic.trajectory import look_at_rotation


@pytest.mark.parametrize("up_axis", UP_AXES)
def test_rotations_are_proper_and_take_up_to_plus_y(up_axis: str) -> None:
    rotation = rotation_to_y_up(up_axis)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    up = np.zeros(3)
    up["xyz".index(up_axis[1])] = 1.0 if up_axis[0] == "+" else -1.0
    np.testing.assert_allclose(rotation @ up, [0, 1, 0], atol=1e-12)


def test_up_axis_of_camera_trajectories() -> None:
    # the first camera's own frame (OpenCV axes: y down)
    assert up_axis_from_poses(np.eye(4)[None]) == "-y"
    # a z-up world (the synthetic rooms): a camera looking around, pitched down and up, rolled a little
    poses = np.tile(np.eye(4), (5, 1, 1))
    for pose, yaw, pitch in zip(poses, np.linspace(0, 6, 5), (-0.6, -0.3, 0.0, 0.3, 0.5)):
        pose[:3, :3] = look_at_rotation(yaw, pitch, roll=0.1)
    assert up_axis_from_poses(poses) == "+z"
    with pytest.raises(MapError, match="at least one camera pose"):
        up_axis_from_poses(np.zeros((0, 4, 4)))
