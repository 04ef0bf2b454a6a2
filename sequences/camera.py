"""Pinhole camera model shared by every reader, network and map (OpenCV axes: x right, y down, z forward)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from slamseg.sequences.errors import SequenceFormatError


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics in pixels, for an image of ``width`` x ``height`` pixels.

    ``distortion`` holds OpenCV/Bouguet coefficients ``(k1, k2, p1, p2, k3)`` when the images are NOT yet
    undistorted; readers that undistort their images return a camera with ``distortion=None``.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise SequenceFormatError(f"camera size must be positive, got {self.width}x{self.height}")
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(math.isfinite(float(v)) for v in values):
            raise SequenceFormatError(f"camera intrinsics must be finite, got fx={self.fx} fy={self.fy} "
                                      f"cx={self.cx} cy={self.cy}")
        if self.fx <= 0 or self.fy <= 0:
            raise SequenceFormatError(f"camera focal lengths must be positive, got fx={self.fx} fy={self.fy}")
        # The principal point lies in the image (within a pixel of its border).
        if not (-1.0 <= self.cx <= self.width and -1.0 <= self.cy <= self.height):
            raise SequenceFormatError(f"camera principal point ({self.cx}, {self.cy}) is outside the "
                                      f"{self.width}x{self.height} image")
        if self.distortion is not None and not all(math.isfinite(float(v)) for v in self.distortion):
            raise SequenceFormatError(f"camera distortion must be finite, got {self.distortion}")

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - K is the universal name of the intrinsic matrix
        """3 x 3 float64 intrinsic matrix."""
        return np.array(
            [[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=np.float64
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), the numpy shape of this camera's images."""
        return (self.height, self.width)

    def scaled(self, width: int, height: int) -> Camera:
        """The same camera for images resized to ``width`` x ``height`` (pixel-centre convention)."""
        sx, sy = width / self.width, height / self.height
        return replace(
            self,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            width=int(width),
            height=int(height),
        )

    def backproject(self, depth: np.ndarray) -> np.ndarray:
        """Lift a depth image to camera-frame points.

        Args:
            depth: H x W float depth in metres (0 = invalid); H, W must match the camera.
        Returns:
            H x W x 3 float32 points in metres, camera frame; invalid pixels give (0, 0, 0).
        """
        if depth.shape != self.shape:
            raise SequenceFormatError(f"depth of shape {depth.shape} does not fit camera {self.shape}")
        v, u = np.indices(self.shape, dtype=np.float32)
        z = depth.astype(np.float32)
        x = (u - self.cx) * z / self.fx
        y = (v - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=-1)

    def to_dict(self) -> dict:
        """JSON-friendly dict (round-trips through :meth:`from_dict`)."""
        d = {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy, "width": self.width, "height": self.height}
        if self.distortion is not None:
            d["distortion"] = list(self.distortion)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Camera:
        """Inverse of :meth:`to_dict`."""
        dist = d.get("distortion")
        return cls(
            fx=float(d["fx"]),
            fy=float(d["fy"]),
            cx=float(d["cx"]),
            cy=float(d["cy"]),
            width=int(d["width"]),
            height=int(d["height"]),
            distortion=tuple(float(x) for x in dist) if dist is not None else None,
        )
