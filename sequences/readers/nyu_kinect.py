"""NYU Depth v2 Kinect geometry: raw disparity -> metres, undistortion and depth -> RGB registration.

Constants are the toolbox's ``camera_params.m`` (../shared/reference/nyu/nyu_constants.md, section 1.5). The
toolbox's reflected rotation ``R`` (det = -1, its sign cancels in the projection) is replaced by the equivalent
proper transform ``p_rgb = R0 @ p_depth + t0`` derived there.

Pixel convention: the RGBDemo calibration is OpenCV's (0-based pixel centres) and we use it as such; the MATLAB
toolbox feeds the same numbers 1-based pixel coordinates, so its output is shifted by about one pixel from ours.

Everything per-pixel is precomputed once (:class:`NyuRegistration`): the undistortion remaps of
``slamseg.sequences.undistort`` (bilinear for RGB, nearest for depth) and back-projection rays for depth. Per frame
it is gathers, a few multiply-adds and a z-buffer by ``np.minimum.at`` (nearest surface wins).
"""

from __future__ import annotations

import numpy as np

from slamseg.sequences.undistort import BilinearRemap, NearestRemap, undistort_sources

WIDTH, HEIGHT = 640, 480
MAX_DEPTH = 10.0
DEPTH_PARAM_1, DEPTH_PARAM_2 = 351.3, 1092.5
INVALID_RAW = 2047

RGB_INTRINSICS = (5.1885790117450188e02, 5.1946961112127485e02, 3.2558244941119034e02, 2.5373616633400465e02)
RGB_DISTORTION = (2.0796615318809061e-01, -5.8613825163911781e-01, 7.2231363135888329e-04,
                  1.0479627195765181e-03, 4.9856986684705107e-01)
DEPTH_INTRINSICS = (5.8262448167737955e02, 5.8269103270988637e02, 3.1304475870804731e02, 2.3844389626620386e02)
DEPTH_DISTORTION = (-9.9897236553084481e-02, 3.9065324602765344e-01, 1.9290592870229277e-03,
                    -1.9422022475975055e-03, -5.1031725053400578e-01)
# Depth camera -> RGB camera, metres (nyu_constants.md 1.5 "derived": reproduces the toolbox projection).
_R_TOOLBOX = np.array([9.9997798940829263e-01, 5.0518419386157446e-03, 4.3011152014118693e-03,
                       -5.0359919480810989e-03, 9.9998051861143999e-01, -3.6879781309514218e-03,
                       -4.3196624923060242e-03, 3.6662365748484798e-03, 9.9998394948385538e-01])
# MATLAB reshape is column-major: reshape(v, [3 3]) == v.reshape(3, 3).T, so R0 = inv(reshape(v)') is
# inv(v.reshape(3, 3)) in numpy.
DEPTH_TO_RGB_ROTATION = np.linalg.inv(_R_TOOLBOX.reshape(3, 3))
DEPTH_TO_RGB_TRANSLATION = -np.array([2.5031875059141302e-02, -2.9342312935846411e-04, 6.6238747008330102e-04])


def raw_to_metres(raw: np.ndarray) -> np.ndarray:
    """Raw 11-bit Kinect disparity -> depth in metres: 351.3 / (1092.5 - raw) clipped to [0, 10]; 2047 -> 0.

    Args:
        raw: H x W integer disparity (< 2048).
    Returns:
        H x W float32 metres, 0 = invalid.
    """
    raw_f = raw.astype(np.float32)
    with np.errstate(divide="ignore"):
        depth = np.float32(DEPTH_PARAM_1) / (np.float32(DEPTH_PARAM_2) - raw_f)
    depth = np.clip(depth, 0.0, MAX_DEPTH)  # raw > 1092.5 gives negative depth -> 0 (the toolbox's clip)
    depth[raw >= INVALID_RAW] = 0.0
    return depth.astype(np.float32)


def zbuffer_splat(flat_index: np.ndarray, z: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Scatter depths into an image keeping the nearest per pixel.

    Args:
        flat_index: (N,) target pixel indices (row * W + col), all inside the image.
        z: (N,) positive depths in metres.
        shape: (H, W).
    Returns:
        H x W float32 depth, 0 where nothing landed.
    """
    out = np.full(shape[0] * shape[1], np.inf, dtype=np.float32)
    np.minimum.at(out, flat_index, z.astype(np.float32))
    out[np.isinf(out)] = 0.0
    return out.reshape(shape)


class NyuRegistration:
    """Per-sequence tables for undistorting the Kinect images and registering depth to the RGB camera."""

    def __init__(self, height: int = HEIGHT, width: int = WIDTH) -> None:
        self.shape = (height, width)
        # RGB: bilinear sampling of the distorted image at the undistorted pixel's source position.
        self._rgb_remap = BilinearRemap(*undistort_sources(RGB_INTRINSICS, RGB_DISTORTION, height, width),
                                        (height, width))
        # Depth: nearest sampling (interpolating disparity across an edge would invent flying pixels).
        self._depth_remap = NearestRemap(*undistort_sources(DEPTH_INTRINSICS, DEPTH_DISTORTION, height, width),
                                         (height, width))
        # Rays of the undistorted depth pixels, already rotated into the RGB camera: p_rgb = z * ray + t0.
        fxd, fyd, cxd, cyd = DEPTH_INTRINSICS
        v, u = np.indices((height, width), dtype=np.float64)
        rays = np.stack([(u - cxd) / fxd, (v - cyd) / fyd, np.ones_like(u)], -1).reshape(-1, 3)
        rays_rgb = rays @ DEPTH_TO_RGB_ROTATION.T
        # Separate contiguous components: 1-D gathers are much faster than gathering N x 3 rows.
        self._ray_x, self._ray_y, self._ray_z = (np.ascontiguousarray(rays_rgb[:, k], dtype=np.float32)
                                                 for k in range(3))

    def undistort_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """H x W x 3 uint8 distorted Kinect RGB -> undistorted (bilinear), same shape and dtype; black outside."""
        return self._rgb_remap(rgb)

    def undistort_raw_depth(self, raw: np.ndarray) -> np.ndarray:
        """Undistort raw disparity (nearest) and mark the toolbox's noise as invalid (2047).

        As ``project_depth_map.m``: pixels equal to the frame's maximum raw value (saturation) and raw < 600
        (closer than 0.71 m, artefacts of the undistortion there) become 2047.
        """
        out = self._depth_remap(raw, INVALID_RAW)
        invalid = (out == raw.max()) | (out < 600)
        out[invalid] = INVALID_RAW
        return out

    def register(self, raw: np.ndarray) -> np.ndarray:
        """Raw distorted disparity (H x W) -> H x W float32 metres in the undistorted RGB camera (0 = invalid)."""
        h, w = self.shape
        depth = raw_to_metres(self.undistort_raw_depth(raw)).ravel()
        valid = np.flatnonzero(depth > 0)
        z = depth[valid]
        tx, ty, tz = (np.float32(c) for c in DEPTH_TO_RGB_TRANSLATION)
        fx, fy, cx, cy = (np.float32(c) for c in RGB_INTRINSICS)
        zr = self._ray_z[valid] * z + tz
        inv_z = np.float32(1.0) / zr  # zr > 0: the cameras are 2.5 cm apart and valid depth is >= 0.71 m
        u = np.rint((self._ray_x[valid] * z + tx) * inv_z * fx + cx)
        v = np.rint((self._ray_y[valid] * z + ty) * inv_z * fy + cy)
        ok = (u >= 0) & (u < w) & (v >= 0) & (v < h)
        flat_index = v[ok].astype(np.int64) * w + u[ok].astype(np.int64)
        out = zbuffer_splat(flat_index, zr[ok], self.shape)
        return np.minimum(out, np.float32(MAX_DEPTH))
