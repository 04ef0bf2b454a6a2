"""Lens undistortion with remap tables computed once per camera, shared by every reader that needs it.

Model: Bouguet / OpenCV (Brown-Conrady) with coefficients ``(k1, k2, p1, p2[, k3])`` acting on normalised image
coordinates ``x = (u - cx) / fx``, ``y = (v - cy) / fy`` (0-based pixel centres, as OpenCV):

    r^2 = x^2 + y^2
    x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6) + 2 p1 x y + p2 (r^2 + 2 x^2)
    y_d = y (1 + k1 r^2 + k2 r^4 + k3 r^6) + p1 (r^2 + 2 y^2) + 2 p2 x y

Undistorting is a remap in the forward direction, so no iteration is needed: each pixel of the undistorted image
(same K) samples the distorted image at ``(x_d fx + cx, y_d fy + cy)``. What is sampled, and how:

- colour: bilinear, in 8-bit fixed point (weights summing to 256, the whole remap in uint16; <= 1 grey level from
  float bilinear), about 4x faster than float32 here;
- depth, labels, normals: nearest neighbour. Blending depths across an object edge would invent "flying" points
  between foreground and background, and blending labels is meaningless. Values are not changed: a pixel's z
  and its camera-frame normal do not depend on where it lands in the image.

Samples outside the distorted image give 0 (black colour, invalid depth, void label).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError


def _coefficients(dist: tuple[float, ...]) -> tuple[float, float, float, float, float]:
    if len(dist) == 4:
        return (*dist, 0.0)  # type: ignore[return-value]
    if len(dist) == 5:
        return tuple(dist)  # type: ignore[return-value]
    raise SequenceFormatError(
        f"distortion must be (k1, k2, p1, p2) or (k1, k2, p1, p2, k3) (Bouguet/OpenCV order), got {len(dist)} "
        f"coefficients {tuple(dist)}"
    )


def has_distortion(camera: Camera) -> bool:
    """True when ``camera.distortion`` holds at least one non-zero coefficient."""
    return camera.distortion is not None and any(float(k) != 0.0 for k in camera.distortion)


def distort_points(x: np.ndarray, y: np.ndarray, dist: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Apply Bouguet/OpenCV distortion to normalised image coordinates (see the module doc for the formula).

    Args:
        x, y: arrays of normalised coordinates (unitless, any equal shapes).
        dist: ``(k1, k2, p1, p2[, k3])``.
    Returns:
        (x_d, y_d): distorted normalised coordinates, same shapes.
    """
    k1, k2, p1, p2, k3 = _coefficients(dist)
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd, yd


def undistort_sources(
    intrinsics: tuple[float, float, float, float], dist: tuple[float, ...], height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel of the undistorted image, the position to sample in the distorted one.

    Args:
        intrinsics: (fx, fy, cx, cy) in pixels, shared by both images.
        dist: distortion coefficients ``(k1, k2, p1, p2[, k3])``.
        height, width: image size in pixels.
    Returns:
        (src_x, src_y): H x W float64 pixel coordinates (0-based centres) in the distorted image.
    """
    fx, fy, cx, cy = intrinsics
    v, u = np.indices((height, width), dtype=np.float64)
    xd, yd = distort_points((u - cx) / fx, (v - cy) / fy, dist)
    return xd * fx + cx, yd * fy + cy


class BilinearRemap:
    """Bilinear sampling of uint8 images at fixed source positions, in 8-bit fixed point.

    Args:
        src_x, src_y: H x W float source pixel positions (0-based centres) in the input image.
        src_shape: (height, width) of the input images.
    """

    def __init__(self, src_x: np.ndarray, src_y: np.ndarray, src_shape: tuple[int, int]) -> None:
        self.shape = src_x.shape
        height, width = src_shape
        self.src_shape = (height, width)
        n = src_x.size
        x0, y0 = np.floor(src_x), np.floor(src_y)
        fx_, fy_ = (src_x - x0).astype(np.float32), (src_y - y0).astype(np.float32)
        x0i, y0i = x0.astype(np.int64), y0.astype(np.int64)
        inside = ((x0i >= 0) & (y0i >= 0) & (x0i + 1 < width) & (y0i + 1 < height)).ravel()
        x0i, y0i = np.clip(x0i, 0, width - 2), np.clip(y0i, 0, height - 2)
        base = (y0i * width + x0i).ravel()
        self._index = np.stack([base, base + 1, base + width, base + width + 1])  # 4 x N
        weights = np.stack([(1 - fx_) * (1 - fy_), fx_ * (1 - fy_), (1 - fx_) * fy_, fx_ * fy_]).reshape(4, n)
        weights[:, ~inside] = 0.0  # outside the sensor: black
        # 8-bit fixed-point weights summing to 256 per pixel (0 outside): 4 x 255 x 256 fits uint16; the rounding
        # remainder goes to the largest weight so that a flat image stays exactly flat.
        fixed = np.floor(weights * 256).astype(np.int64)
        remainder = np.where(inside, 256 - fixed.sum(0), 0)
        fixed[np.argmax(weights, axis=0), np.arange(n)] += remainder
        self._weights = fixed.astype(np.uint16)  # 4 x N

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """H_src x W_src (x C) uint8 -> H x W (x C) uint8 sampled bilinearly (rounded to nearest)."""
        if image.shape[:2] != self.src_shape or image.dtype != np.uint8:
            raise ValueError(f"expected a {self.src_shape} uint8 image, got {image.shape} {image.dtype}")
        channels = 1 if image.ndim == 2 else image.shape[2]
        # Per channel on contiguous planes: 1-D uint8 gathers are ~10x faster than gathering N x C rows.
        planes = image.reshape(1, -1) if image.ndim == 2 else np.ascontiguousarray(image.transpose(2, 0, 1))
        planes = planes.reshape(channels, -1)
        out = np.empty((self._index.shape[1], channels), dtype=np.uint8)
        for c in range(channels):
            plane = planes[c]
            acc = plane[self._index[0]] * self._weights[0]
            for k in range(1, 4):
                acc += plane[self._index[k]] * self._weights[k]
            acc += 128  # round to nearest; the sum is <= 255 * 256 + 128 < 65536
            out[:, c] = acc >> 8
        return out.reshape(self.shape) if image.ndim == 2 else out.reshape((*self.shape, channels))


class NearestRemap:
    """Nearest-neighbour sampling at fixed source positions, for any dtype (depth, raw disparity, labels...).

    Attributes:
        index: (N,) int64 flat source index per output pixel (0 where outside).
        inside: (N,) bool, the source position rounds to a pixel inside the input image.
    """

    def __init__(self, src_x: np.ndarray, src_y: np.ndarray, src_shape: tuple[int, int]) -> None:
        self.shape = src_x.shape
        height, width = src_shape
        self.src_shape = (height, width)
        xi, yi = np.rint(src_x).astype(np.int64).ravel(), np.rint(src_y).astype(np.int64).ravel()
        self.inside = (xi >= 0) & (yi >= 0) & (xi < width) & (yi < height)
        self.index = np.where(self.inside, yi.clip(0, height - 1) * width + xi.clip(0, width - 1), 0)
        self._outside = np.flatnonzero(~self.inside)  # usually a thin border: filling it is cheaper than a mask

    def __call__(self, image: np.ndarray, fill: float | int = 0) -> np.ndarray:
        """H_src x W_src (x C) array -> H x W (x C) array of the same dtype; ``fill`` where the source is outside."""
        if image.shape[:2] != self.src_shape:
            raise ValueError(f"expected an image of {self.src_shape}, got {image.shape}")
        flat = image.reshape(self.src_shape[0] * self.src_shape[1], *image.shape[2:])
        out = flat[self.index]
        out[self._outside] = fill
        return out.reshape(*self.shape, *image.shape[2:])


class Undistorter:
    """Remap tables of one distorted camera; build once per sequence, call per frame.

    Args:
        camera: the distorted camera (``camera.distortion`` set); images of ``camera.width x camera.height``.
    Attributes:
        camera: the output camera: same K and size, ``distortion=None``.
    """

    def __init__(self, camera: Camera) -> None:
        if camera.distortion is None:
            raise SequenceFormatError("Undistorter needs a camera with distortion coefficients")
        self.source_camera = camera
        self.camera = replace(camera, distortion=None)
        src_x, src_y = undistort_sources((camera.fx, camera.fy, camera.cx, camera.cy), camera.distortion,
                                         camera.height, camera.width)
        self._bilinear = BilinearRemap(src_x, src_y, camera.shape)
        self._nearest = NearestRemap(src_x, src_y, camera.shape)

    def rgb(self, image: np.ndarray) -> np.ndarray:
        """H x W x 3 uint8 distorted colour -> undistorted (bilinear), same shape; black outside."""
        return self._bilinear(image)

    def depth(self, depth: np.ndarray) -> np.ndarray:
        """H x W depth (any dtype, 0 = invalid) -> undistorted (nearest, values unchanged); 0 outside."""
        return self._nearest(depth, 0)

    def labels(self, labels: np.ndarray, void_id: int = 0) -> np.ndarray:
        """H x W class ids -> undistorted (nearest); ``void_id`` outside."""
        return self._nearest(labels, void_id)

    def normals(self, normals: np.ndarray) -> np.ndarray:
        """H x W x 3 camera-frame normals -> undistorted (nearest; vectors unchanged); zero vectors outside."""
        return self._nearest(normals, 0)
