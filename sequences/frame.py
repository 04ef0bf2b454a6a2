"""One RGB(-D) frame with whatever annotations its dataset has."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError


@dataclass
class Frame:
    """A frame as every reader yields it (DESIGN.md conventions).

    Attributes:
        index: position in its sequence (0-based, before slicing).
        timestamp: seconds (dataset clock; frame index / fps where the dataset has none).
        rgb: H x W x 3 uint8 RGB.
        depth: H x W float32 metres, 0 = invalid, registered to ``rgb``; None if the dataset has none.
        pose: 4 x 4 float64 camera-to-world, or None.
        labels: H x W integer class ids of ``label_set`` (0 = void for NYU sets), or None.
        normals: H x W x 3 float32 unit normals in the camera frame (0 vectors = invalid), or None.
        camera: intrinsics of ``rgb`` (and of the registered depth).
        meta: reader-specific extras (e.g. ``time_diff`` of NYU synchronisation, source file names).
    """

    index: int
    timestamp: float
    rgb: np.ndarray
    camera: Camera
    depth: np.ndarray | None = None
    pose: np.ndarray | None = None
    labels: np.ndarray | None = None
    normals: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def validate(self) -> Frame:
        """Check shapes and dtypes against the conventions; returns self, raises SequenceFormatError."""
        h, w = self.camera.shape
        where = self.meta.get("source", f"frame {self.index}")
        if self.rgb.shape != (h, w, 3) or self.rgb.dtype != np.uint8:
            raise SequenceFormatError(
                f"{where}: rgb must be {h}x{w}x3 uint8, got {self.rgb.shape} {self.rgb.dtype}"
            )
        if self.depth is not None and (self.depth.shape != (h, w) or self.depth.dtype != np.float32):
            raise SequenceFormatError(
                f"{where}: depth must be {h}x{w} float32, got {self.depth.shape} {self.depth.dtype}"
            )
        if self.labels is not None and self.labels.shape != (h, w):
            raise SequenceFormatError(f"{where}: labels must be {h}x{w}, got {self.labels.shape}")
        if self.normals is not None and self.normals.shape != (h, w, 3):
            raise SequenceFormatError(f"{where}: normals must be {h}x{w}x3, got {self.normals.shape}")
        if self.pose is not None:
            check_pose(self.pose, where)
        return self


def check_pose(pose: np.ndarray, where: str, tolerance: float = 1e-3) -> None:
    """Raise SequenceFormatError unless ``pose`` is a finite rigid 4 x 4 transform: rotation orthonormal within
    ``tolerance``, determinant +1, last row (0, 0, 0, 1)."""
    pose = np.asarray(pose)
    if pose.shape != (4, 4):
        raise SequenceFormatError(f"{where}: pose must be 4x4, got {pose.shape}")
    if not np.all(np.isfinite(pose)):
        raise SequenceFormatError(f"{where}: pose has non-finite values")
    rot = pose[:3, :3]
    error = float(np.abs(rot @ rot.T - np.eye(3)).max())
    if error > tolerance or np.linalg.det(rot) < 0 or np.abs(pose[3] - (0, 0, 0, 1)).max() > tolerance:
        raise SequenceFormatError(f"{where}: pose is not a rigid transform (rotation off orthonormal by {error:.2g}, "
                                  f"det {np.linalg.det(rot):.3f}, last row {pose[3].tolist()})")
