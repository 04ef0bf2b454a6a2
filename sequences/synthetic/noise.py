"""Kinect-like depth noise for synthetic depth images.

Models (structured-light sensors such as the Kinect v1; Nguyen et al. 2012, Khoshelham & Elberink 2012):
- axial Gaussian noise with sigma(z) = 1.2 mm + 1.9 mm * (z - 0.4 m)^2 (grows with z^2);
- quantisation of the disparity in 1/8 pixel steps (baseline 7.5 cm, focal 580 px), so depth steps grow with z^2;
- no depth outside the working range [0.4, 8] m;
- missing pixels at depth discontinuities (the projector's shadow) and at grazing angles;
- random holes (blobs) and sparse dropouts.
Every random draw comes from the generator passed in, so a seeded generator gives a reproducible image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from slamseg.sequences.camera import Camera


@dataclass(frozen=True)
class KinectNoise:
    """Parameters of :func:`add_kinect_noise` (lengths in metres)."""

    sigma_base: float = 0.0012
    sigma_quadratic: float = 0.0019
    baseline_focal: float = 0.075 * 580.0  # m * px: disparity = baseline_focal / z
    disparity_step: float = 1.0 / 8.0  # px
    min_depth: float = 0.4
    max_depth: float = 8.0
    edge_jump: float = 0.06  # relative depth jump that marks a discontinuity
    grazing_cos: float = 0.2  # |cos| between ray and normal below which depth is lost (~78 degrees)
    holes_per_megapixel: float = 20.0
    hole_radius_px: float = 0.012  # fraction of the image width
    dropout: float = 0.003


def add_kinect_noise(
    depth: np.ndarray,
    normals: np.ndarray | None,
    camera: Camera,
    rng: np.random.Generator,
    params: KinectNoise | None = None,
) -> np.ndarray:
    """Noisy copy of a clean depth image.

    Args:
        depth: H x W float32 z-depth in metres (0 = invalid).
        normals: H x W x 3 camera-frame unit normals, or None to skip the grazing-angle dropout.
        camera: intrinsics of the image (for viewing rays and hole sizes).
        rng: source of every random draw.
        params: noise parameters; default :class:`KinectNoise`.
    Returns:
        H x W float32 depth in metres with 0 where the sensor would report nothing.
    """
    p = params or KinectNoise()
    h, w = depth.shape
    valid = depth > 0
    z = depth.astype(np.float64)
    sigma = p.sigma_base + p.sigma_quadratic * np.square(np.maximum(z - 0.4, 0.0))
    z = z + rng.standard_normal(z.shape) * sigma
    with np.errstate(divide="ignore", invalid="ignore"):
        disparity = np.round(p.baseline_focal / z / p.disparity_step) * p.disparity_step
        z = np.where(disparity > 0, p.baseline_focal / disparity, 0.0)
    valid &= (z >= p.min_depth) & (z <= p.max_depth)

    # depth discontinuities: a neighbour more than edge_jump (relative) nearer or farther
    near = ndimage.minimum_filter(np.where(depth > 0, depth, np.inf), size=3)
    far = ndimage.maximum_filter(depth, size=3)
    edge = (far - depth > p.edge_jump * depth) | (depth - near > p.edge_jump * depth)
    valid &= ~(edge & (rng.random(depth.shape) < 0.8))

    if normals is not None:
        v, u = np.indices((h, w), dtype=np.float64)
        rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], axis=-1)
        cos = np.abs(np.einsum("hwc,hwc->hw", rays, normals)) / np.linalg.norm(rays, axis=-1)
        valid &= cos >= p.grazing_cos

    holes = np.zeros((h, w), bool)
    n_holes = rng.poisson(p.holes_per_megapixel * h * w / 1e6)
    radius = max(1.0, p.hole_radius_px * w)
    for cy, cx, r in zip(rng.uniform(0, h, n_holes), rng.uniform(0, w, n_holes), rng.uniform(0.5, 2.0, n_holes)):
        y0, y1 = int(max(0, cy - r * radius)), int(min(h, cy + r * radius + 1))
        x0, x1 = int(max(0, cx - r * radius)), int(min(w, cx + r * radius + 1))
        yy, xx = np.ogrid[y0:y1, x0:x1]
        holes[y0:y1, x0:x1] |= (yy - cy) ** 2 + (xx - cx) ** 2 <= (r * radius) ** 2
    valid &= ~holes
    valid &= rng.random(depth.shape) >= p.dropout
    return np.where(valid, z, 0.0).astype(np.float32)
