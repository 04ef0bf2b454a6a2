"""Smooth look-around camera trajectories inside a room.

The camera moves on an ellipse around the room centre at 1.25-1.55 m height while its heading sweeps round
(faster than the orbit, with a slow sway), its pitch nods a few degrees below the horizon and it rolls a
little. Per frame it moves about 1 cm and turns about 1.5-2 degrees, so frame-to-frame tracking stays easy.
Poses are 4 x 4 float64 camera-to-world with OpenCV camera axes (x right, y down, z forward) in a z-up world.
"""

from __future__ import annotations

import numpy as np


def look_at_rotation(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """Camera-to-world rotation of an OpenCV camera in a z-up world.

    Args:
        yaw: heading in radians, 0 looks along +x, pi/2 along +y.
        pitch: radians above the horizon (negative looks down).
        roll: radians about the viewing direction (positive turns the image clockwise).
    Returns:
        3 x 3 float64 matrix whose columns are the camera's x (right), y (down), z (forward) axes in the world.
    """
    forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    down = np.cross(forward, right)
    if roll:
        c, s = np.cos(roll), np.sin(roll)
        right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, forward], axis=1)


def ellipse_poses(centre: tuple[float, float], radii: tuple[float, float], theta: np.ndarray, z: np.ndarray,
                  yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """N x 4 x 4 camera-to-world poses at angles ``theta`` (radians) on the ellipse, heights ``z`` (metres), with
    the views of :func:`look_at_rotation` (all arrays of length N)."""
    poses = np.tile(np.eye(4), (len(theta), 1, 1))
    poses[:, 0, 3] = centre[0] + radii[0] * np.cos(theta)
    poses[:, 1, 3] = centre[1] + radii[1] * np.sin(theta)
    poses[:, 2, 3] = z
    for k in range(len(theta)):
        poses[k, :3, :3] = look_at_rotation(yaw[k], pitch[k], roll[k])
    return poses


def look_around_trajectory(
    num_frames: int,
    centre: tuple[float, float],
    radii: tuple[float, float],
    seed: int = 0,
    height: float = 1.4,
    speed: float = 1.0,
) -> np.ndarray:
    """Camera-to-world poses of a smooth path looking around a room.

    Args:
        num_frames: number of poses N.
        centre: (x, y) in metres of the ellipse the camera moves on.
        radii: (rx, ry) in metres of that ellipse.
        seed: random seed of the phases and directions (a pose depends only on the seed and its index).
        height: mean camera height in metres (varies by +-0.15 m).
        speed: scales the per-frame motion (1.0: ~1 cm and ~1.5-2 degrees per frame).
    Returns:
        N x 4 x 4 float64 camera-to-world poses.
    """
    rng = np.random.default_rng(seed)
    orbit_dir, yaw_dir = rng.choice([-1.0, 1.0], size=2)
    theta0, yaw0, ph_h, ph_p, ph_r, ph_y = rng.uniform(0, 2 * np.pi, size=6)
    i = np.arange(num_frames, dtype=np.float64) * speed
    theta = theta0 + orbit_dir * np.deg2rad(0.8) * i
    yaw = yaw0 + yaw_dir * np.deg2rad(1.5) * i + np.deg2rad(20.0) * np.sin(0.021 * i + ph_y)
    pitch = np.deg2rad(-10.0) + np.deg2rad(7.0) * np.sin(0.017 * i + ph_p)
    roll = np.deg2rad(2.0) * np.sin(0.011 * i + ph_r)
    z = height + 0.15 * np.sin(0.013 * i + ph_h)
    return ellipse_poses(centre, radii, theta, z, yaw, pitch, roll)


def loop_trajectory(
    num_frames: int,
    centre: tuple[float, float],
    radii: tuple[float, float],
    seed: int = 0,
    height: float = 1.4,
) -> np.ndarray:
    """Camera-to-world poses of one closed lap around a room, looking outwards at the walls.

    The camera goes once round the ellipse (the last pose is one step before the first, so the sequence can be
    looped) with its view turned 30 degrees from the outward direction, a slow pitch and height wave that also
    close. Made for loop-closure tests: odometry drifts along the lap, and the end sees what the start saw.

    Args:
        num_frames: number of poses N (per-frame motion is 2 pi / N of the lap).
        centre, radii: the ellipse in metres. seed: direction and phase. height: metres.
    Returns:
        N x 4 x 4 float64 camera-to-world poses.
    """
    rng = np.random.default_rng(seed)
    direction = rng.choice([-1.0, 1.0])
    theta0 = rng.uniform(0, 2 * np.pi)
    phase = np.arange(num_frames, dtype=np.float64) * 2 * np.pi / num_frames
    theta = theta0 + direction * phase
    yaw = theta + direction * np.deg2rad(30.0)
    pitch = np.deg2rad(-10.0 + 5.0 * np.sin(3 * phase))
    return ellipse_poses(centre, radii, theta, height + 0.1 * np.sin(2 * phase), yaw, pitch, np.zeros(num_frames))
