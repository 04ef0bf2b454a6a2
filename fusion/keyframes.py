"""Keyframes: downsampled views with poses, the references for tracking, relocalisation and loop closure.

A keyframe keeps its view at tracking resolution with depth as uint16 millimetres (320x240: ~0.38 MB), so a
long recording's keyframes cost a few MB per hundred, never full frames. Poses are camera-to-world 4 x 4 float64
and are updated in place when the pose graph is optimised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slamseg.fusion.odometry import TrackingImage
from slamseg.sequences import Camera
from slamseg.sequences.poses import rotation_angle

MM = 1000.0


def pose_distance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(metres between the camera centres, degrees between the orientations) of two 4 x 4 poses."""
    rel = np.linalg.inv(a) @ b
    return float(np.linalg.norm(rel[:3, 3])), float(np.degrees(rotation_angle(rel[:3, :3])))


@dataclass
class Keyframe:
    """One keyframe.

    Attributes:
        id: position in the store (0, 1, ...). frame_index: the sequence's frame index. timestamp: seconds.
        pose: 4 x 4 camera-to-world (optimised in place by the pose graph).
        depth_mm: h x w uint16 millimetres (0 = invalid); rgb: h x w x 3 uint8; camera: their intrinsics.
    """

    id: int
    frame_index: int
    timestamp: float
    pose: np.ndarray
    depth_mm: np.ndarray
    rgb: np.ndarray
    camera: Camera

    @classmethod
    def from_image(cls, id: int, frame_index: int, timestamp: float, pose: np.ndarray,  # noqa: A002
                   image: TrackingImage) -> Keyframe:
        """Store ``image`` (depth rounded to millimetres, clipped to 65.5 m)."""
        depth_mm = np.clip(np.rint(image.depth * MM), 0, 65535).astype(np.uint16)
        return cls(id, frame_index, float(timestamp), np.asarray(pose, np.float64).copy(), depth_mm,
                   image.rgb.copy(), image.camera)

    def image(self) -> TrackingImage:
        """The keyframe as a :class:`TrackingImage` (float32 metres)."""
        return TrackingImage(self.depth_mm.astype(np.float32) / np.float32(MM), self.rgb, self.camera)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored images."""
        return int(self.depth_mm.nbytes + self.rgb.nbytes)


class KeyframeStore:
    """Keyframes in creation order, selected by motion from the nearest existing keyframe.

    Args:
        min_translation: metres, min_rotation_deg: degrees: a tracked frame becomes a keyframe when it is at least
            this far (either) from every stored keyframe; otherwise the nearest keyframe stays the reference.
    """

    def __init__(self, min_translation: float = 0.1, min_rotation_deg: float = 8.0) -> None:
        self.min_translation = float(min_translation)
        self.min_rotation_deg = float(min_rotation_deg)
        self.keyframes: list[Keyframe] = []

    def __len__(self) -> int:
        return len(self.keyframes)

    def __getitem__(self, i: int) -> Keyframe:
        return self.keyframes[i]

    def _score(self, kf: Keyframe, pose: np.ndarray) -> tuple[float, float, float]:
        """(normalised distance, metres, degrees): distance in units of the keyframe thresholds."""
        trans, rot = pose_distance(kf.pose, pose)
        return max(trans / self.min_translation, rot / self.min_rotation_deg), trans, rot

    def nearest(self, pose: np.ndarray, count: int = 1, exclude: set[int] | None = None) -> list[Keyframe]:
        """Up to ``count`` keyframes nearest to ``pose`` (translation and rotation in units of the thresholds)."""
        exclude = exclude or set()
        scored = sorted((self._score(kf, pose)[0], kf.id) for kf in self.keyframes if kf.id not in exclude)
        return [self.keyframes[i] for _, i in scored[:count]]

    def is_new_view(self, pose: np.ndarray) -> bool:
        """Whether a frame at ``pose`` is far enough from every keyframe to become one."""
        near = self.nearest(pose)
        return not near or self._score(near[0], pose)[0] >= 1.0

    def add(self, frame_index: int, timestamp: float, pose: np.ndarray, image: TrackingImage) -> Keyframe:
        """Append a keyframe; returns it."""
        kf = Keyframe.from_image(len(self.keyframes), frame_index, timestamp, pose, image)
        self.keyframes.append(kf)
        return kf

    @property
    def nbytes(self) -> int:
        """Bytes of every stored keyframe image."""
        return sum(kf.nbytes for kf in self.keyframes)


def keyframes_to_arrays(keyframes: list[Keyframe]) -> dict[str, np.ndarray]:
    """The keyframes as arrays for an ``.npz`` (all of one camera); :func:`keyframes_from_arrays` reads them."""
    if not keyframes:
        return {"kf_count": np.array(0)}
    cam = keyframes[0].camera
    return {
        "kf_count": np.array(len(keyframes)),
        "kf_frame_index": np.array([kf.frame_index for kf in keyframes], dtype=np.int64),
        "kf_timestamp": np.array([kf.timestamp for kf in keyframes], dtype=np.float64),
        "kf_pose": np.stack([kf.pose for kf in keyframes]),
        "kf_depth_mm": np.stack([kf.depth_mm for kf in keyframes]),
        "kf_rgb": np.stack([kf.rgb for kf in keyframes]),
        "kf_camera": np.array([cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height], dtype=np.float64),
    }


def keyframes_from_arrays(data: dict[str, np.ndarray] | np.lib.npyio.NpzFile) -> list[Keyframe]:
    """Inverse of :func:`keyframes_to_arrays`."""
    n = int(data["kf_count"])
    if n == 0:
        return []
    fx, fy, cx, cy, w, h = (float(v) for v in data["kf_camera"])
    cam = Camera(fx, fy, cx, cy, int(w), int(h))
    return [Keyframe(i, int(data["kf_frame_index"][i]), float(data["kf_timestamp"][i]), data["kf_pose"][i].copy(),
                     data["kf_depth_mm"][i].copy(), data["kf_rgb"][i].copy(), cam) for i in range(n)]
