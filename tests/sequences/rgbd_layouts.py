"""Shared by the 7-Scenes, ScanNet and ROS bag reader tests: an analytic box room seen from a few poses (exact
colour, depth and camera-to-world poses), and the reconstruction check every reader's frames must pass."""

from __future__ import annotations

import numpy as np

from slamseg.sequences import Camera, Sequence
from tests.fusion.scenes import Plane, look_at, render_planes

# a 4 x 3 x 5 m room (x in [-2, 2], y in [-1.5, 1.5], z in [-2.5, 2.5]), each wall its own colour
ROOM = [
    Plane((1.0, 0.0, 0.0), -2.0, 1, (200, 40, 40)), Plane((1.0, 0.0, 0.0), 2.0, 2, (40, 200, 40)),
    Plane((0.0, 1.0, 0.0), -1.5, 3, (40, 40, 200)), Plane((0.0, 1.0, 0.0), 1.5, 4, (200, 200, 40)),
    Plane((0.0, 0.0, 1.0), -2.5, 5, (200, 40, 200)), Plane((0.0, 0.0, 1.0), 2.5, 6, (40, 200, 200)),
]
CAMERA = Camera(fx=50.0, fy=50.0, cx=31.5, cy=23.5, width=64, height=48)


def room_views(n: int = 4, camera: Camera = CAMERA) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``n`` views of :data:`ROOM`: (H x W x 3 uint8 RGB, H x W float32 depth in metres, 4 x 4 camera-to-world),
    the camera walking 0.3 m along x and turning about 25 degrees in all."""
    views = []
    for k in range(n):
        a = k / max(n - 1, 1)
        eye = np.array([-0.5 + 0.3 * a, 0.2, -0.5])
        target = eye + np.array([np.sin(0.45 * a), 0.1, np.cos(0.45 * a)])
        pose = look_at(eye, target)
        depth, rgb, _ = render_planes(ROOM, camera, pose)
        views.append((rgb, depth, pose))
    return views


def depth_mm(depth: np.ndarray) -> np.ndarray:
    """Metres -> uint16 millimetres, as the datasets store depth."""
    return np.rint(depth * 1000.0).astype(np.uint16)


def reconstruct_and_check(seq: Sequence) -> None:
    """Fuse every frame of ``seq`` at its own pose with the SLAM core and check the map against the frames: the
    map rendered at each frame's pose has that frame's depth (a wrong pose convention, depth scale or camera
    would put the walls elsewhere)."""
    from slamseg.fusion.params import TSDFParams
    from slamseg.fusion.tsdf import SemanticTSDF
    from slamseg.slam import SemanticSLAM, make_tracker

    slam = SemanticSLAM(SemanticTSDF(TSDFParams(voxel_size=0.05, block_count=4000)), make_tracker("gt"))
    frames = list(seq)
    for frame in frames:
        slam.step(frame)
    assert [(r.status, r.fused) for r in slam.records] == [("tracked", True)] * len(frames)
    for frame in (frames[0], frames[-1]):
        view = slam.map.render(frame.camera, frame.pose)
        both = view.valid & (frame.depth > 0)
        assert both.mean() > 0.8
        assert np.median(np.abs(view.depth[both] - frame.depth[both])) < 0.02
