"""Synthetic indoor scenes with exact ground truth: procedural rooms furnished with NYU-40 furniture, rendered by
ray casting along look-around trajectories (rgb, depth, labels, normals, poses, the scene mesh).

The one place in ``slamseg.sequences`` that uses open3d (for ray casting, imported only when rendering).
Names are loaded lazily so that importing this package stays cheap.
"""

from __future__ import annotations

from slamseg.sequences.lazy import lazy_exports

_EXPORTS = {
    "SyntheticSequence": "sequence",
    "default_camera": "sequence",
    "SceneMesh": "geometry",
    "Texture": "geometry",
    "Room": "room",
    "generate_room": "room",
    "look_around_trajectory": "trajectory",
    "look_at_rotation": "trajectory",
    "KinectNoise": "noise",
    "add_kinect_noise": "noise",
    "SceneRenderer": "render",
    "Rendering": "render",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
