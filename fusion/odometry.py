"""RGB-D odometry between two views: Open3D's multi-scale solver, plus the tracking-resolution images it runs on.

Odometry is Open3D's tensor multi-scale RGB-D odometry (``open3d.t.pipelines.odometry``): point-to-plane ICP,
photometric, or both ("hybrid"). Its result is the source-to-target transform: with the new frame as source and a
reference view as target, that is ``T_ref_cur`` and the new camera-to-world pose is ``pose_ref @ T_ref_cur``.

Tracking runs at a reduced resolution (``TrackingImage``): every ``factor``-th pixel of depth and colour, so that
a pixel of the small image is exactly a pixel of the full one and the intrinsics scale by ``1 / factor``.
Depth discontinuities are removed before tracking: a pixel whose neighbour is much nearer or farther is a
"flying pixel" of an upsampled (predicted) depth or a mixed Kinect pixel, and pulls ICP towards no surface.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from slamseg.fusion.errors import TrackingError
from slamseg.sequences import Camera

METHODS = ("hybrid", "point_to_plane", "intensity")


@dataclass
class OdometryEstimate:
    """Raw output of one odometry call: ``motion`` is source-to-target 4 x 4, ``info`` the 6 x 6 information."""

    motion: np.ndarray
    fitness: float
    rmse: float
    info: np.ndarray

    def min_info_eig(self, pixels: int) -> float:
        """Smallest eigenvalue of ``info`` per pixel (0 when it is not finite): small for a degenerate alignment."""
        if not np.all(np.isfinite(self.info)):
            return 0.0
        return float(np.linalg.eigvalsh(self.info)[0]) / max(pixels, 1)


@dataclass
class TrackingImage:
    """One view at tracking resolution.

    Attributes:
        depth: h x w float32 metres (0 = invalid); rgb: h x w x 3 uint8; camera: intrinsics of this size.
    """

    depth: np.ndarray
    rgb: np.ndarray
    camera: Camera

    @property
    def valid_fraction(self) -> float:
        """Fraction of pixels with depth."""
        return float(np.count_nonzero(self.depth > 0)) / max(self.depth.size, 1)


def tracking_camera(camera: Camera, factor: int) -> Camera:
    """Intrinsics of every ``factor``-th pixel of ``camera``'s images (pixel (i, j) is full pixel (f i, f j))."""
    if factor < 1:
        raise TrackingError(f"tracking downsampling factor must be >= 1, got {factor}")
    return replace(camera, fx=camera.fx / factor, fy=camera.fy / factor, cx=camera.cx / factor,
                   cy=camera.cy / factor, width=(camera.width + factor - 1) // factor,
                   height=(camera.height + factor - 1) // factor)


def remove_depth_edges(depth: np.ndarray, max_relative_jump: float) -> np.ndarray:
    """Depth with pixels at discontinuities set to 0.

    A pixel is dropped when one of its 4 neighbours differs from it by more than ``max_relative_jump`` times
    its depth (a relative threshold, since Kinect and predicted depth errors grow with depth).

    Args:
        depth: H x W float32 metres (0 = invalid). max_relative_jump: e.g. 0.1; <= 0 returns ``depth`` as is.
    Returns:
        H x W float32 (a copy when anything was dropped).
    """
    if max_relative_jump <= 0:
        return depth
    d = depth
    valid = d > 0
    jump = np.zeros(d.shape, dtype=bool)
    for first, second in (((slice(None, -1),), (slice(1, None),)),
                          ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
        a, b = d[first], d[second]
        gap = np.abs(a - b)
        both = valid[first] & valid[second]
        jump[first] |= both & (gap > max_relative_jump * a)
        jump[second] |= both & (gap > max_relative_jump * b)
    if not jump.any():
        return depth
    out = depth.copy()
    out[jump] = 0.0
    return out


def make_tracking_image(depth: np.ndarray, rgb: np.ndarray, camera: Camera, factor: int = 2,
                        depth_max: float = 4.0, max_relative_jump: float = 0.0) -> TrackingImage:
    """The view tracking works on: every ``factor``-th pixel, depth outside (0, depth_max] and at
    discontinuities set to 0.

    Args:
        depth: H x W float32 metres; rgb: H x W x 3 uint8; camera: their intrinsics.
        factor: downsampling factor (1 = full resolution).
        depth_max: metres. max_relative_jump: see :func:`remove_depth_edges` (0 = keep every pixel).
    """
    if depth.shape != camera.shape or rgb.shape[:2] != camera.shape:
        raise TrackingError(f"depth {depth.shape} / rgb {rgb.shape} do not fit camera {camera.width}x{camera.height}")
    d = np.ascontiguousarray(depth[::factor, ::factor], dtype=np.float32)
    d = np.where(np.isfinite(d) & (d > 0) & (d <= depth_max), d, np.float32(0.0))
    d = remove_depth_edges(d, max_relative_jump)
    return TrackingImage(d, np.ascontiguousarray(rgb[::factor, ::factor]), tracking_camera(camera, factor))


def _o3d_image(array: np.ndarray) -> Any:
    """``array`` (made contiguous) as an Open3D tensor image."""
    import open3d as o3d

    return o3d.t.geometry.Image(o3d.core.Tensor(np.ascontiguousarray(array)))


def rgbd_odometry(
    source_depth: np.ndarray,
    source_rgb: np.ndarray,
    target_depth: np.ndarray,
    target_rgb: np.ndarray,
    camera: Camera,
    init: np.ndarray | None = None,
    method: str = "hybrid",
    depth_max: float = 4.0,
    depth_outlier_trunc: float = 0.07,
    iterations: tuple[int, ...] = (10, 5, 3),
) -> OdometryEstimate:
    """Open3D multi-scale RGB-D odometry between two H x W frames of the same camera.

    Args:
        source_depth, target_depth: H x W float32 metres (0 = invalid); source_rgb, target_rgb: H x W x 3 uint8.
        init: 4 x 4 initial source-to-target guess (identity by default).
        method: "hybrid" (point-to-plane + photometric), "point_to_plane" or "intensity".
        depth_max: metres; deeper pixels are ignored.
        depth_outlier_trunc: correspondences farther apart than this (metres) are outliers (also the distance
            threshold of the information matrix).
        iterations: per pyramid level, finest first (Open3D's order).
    Returns:
        OdometryEstimate; raises RuntimeError from Open3D when a level has no correspondences or its system is
        singular.
    """
    import open3d as o3d  # deferred: importing this module must stay cheap

    od = o3d.t.pipelines.odometry
    if method not in METHODS:
        raise TrackingError(f"odometry method must be one of {METHODS}, got {method!r}")
    o3d_method = {
        "hybrid": od.Method.Hybrid,
        "point_to_plane": od.Method.PointToPlane,
        "intensity": od.Method.Intensity,
    }

    src = o3d.t.geometry.RGBDImage(_o3d_image(source_rgb), _o3d_image(source_depth.astype(np.float32, copy=False)))
    dst = o3d.t.geometry.RGBDImage(_o3d_image(target_rgb), _o3d_image(target_depth.astype(np.float32, copy=False)))
    intr = o3d.core.Tensor(camera.K)
    init_t = o3d.core.Tensor(np.eye(4) if init is None else np.asarray(init, np.float64))
    criteria = [od.OdometryConvergenceCriteria(int(n)) for n in iterations]
    params = od.OdometryLossParams(depth_outlier_trunc=depth_outlier_trunc)
    res = od.rgbd_odometry_multi_scale(
        src, dst, intr, init_t, depth_scale=1.0, depth_max=depth_max, criteria_list=criteria,
        method=o3d_method[method], params=params,
    )  # fmt: skip
    info = od.compute_odometry_information_matrix(
        src.depth, dst.depth, intr, res.transformation, depth_outlier_trunc, 1.0, depth_max
    )
    return OdometryEstimate(res.transformation.numpy().copy(), float(res.fitness), float(res.inlier_rmse), info.numpy())


def odometry_between(source: TrackingImage, target: TrackingImage, init: np.ndarray | None, method: str,
                     depth_max: float, depth_outlier_trunc: float, iterations: tuple[int, ...]) -> OdometryEstimate:
    """:func:`rgbd_odometry` from ``source`` to ``target`` (same tracking camera)."""
    return rgbd_odometry(source.depth, source.rgb, target.depth, target.rgb, source.camera, init, method,
                         depth_max, depth_outlier_trunc, iterations)


@dataclass
class AlignmentCheck:
    """How well a source view agrees with a target view under a motion (measured by projecting, not by Open3D).

    Attributes:
        overlap: fraction of the source's valid pixels that land on a valid target pixel.
        inlier_ratio: fraction of those whose depth agrees within the inlier distance.
        rmse: metres, RMS depth difference of the inliers.
    """

    overlap: float
    inlier_ratio: float
    rmse: float


def check_alignment(source: TrackingImage, target: TrackingImage, motion: np.ndarray,
                    inlier_distance: float) -> AlignmentCheck:
    """Project the source's points by ``motion`` (source-to-target 4 x 4) into the target and compare depths.

    Method-independent acceptance for odometry: Open3D's fitness and RMSE mean different things for the
    photometric and geometric methods. ``inlier_distance`` in metres grows with depth by 2 % of z (Kinect noise).
    """
    cam = source.camera
    v, u = np.nonzero(source.depth > 0)
    if v.size == 0:
        return AlignmentCheck(0.0, 0.0, 0.0)
    z = source.depth[v, u].astype(np.float64)
    pts = np.stack([(u - cam.cx) * z / cam.fx, (v - cam.cy) * z / cam.fy, z], axis=1) @ motion[:3, :3].T + motion[:3, 3]
    tc = target.camera
    zt = pts[:, 2]
    front = zt > 1e-6
    ut = np.full(zt.shape, -1, dtype=np.int64)
    vt = np.full(zt.shape, -1, dtype=np.int64)
    ut[front] = np.rint(pts[front, 0] / zt[front] * tc.fx + tc.cx).astype(np.int64)
    vt[front] = np.rint(pts[front, 1] / zt[front] * tc.fy + tc.cy).astype(np.int64)
    inside = front & (ut >= 0) & (ut < tc.width) & (vt >= 0) & (vt < tc.height)
    ref = np.zeros(zt.shape)
    ref[inside] = target.depth[vt[inside], ut[inside]]
    landed = inside & (ref > 0)
    n_landed = int(np.count_nonzero(landed))
    if n_landed == 0:
        return AlignmentCheck(0.0, 0.0, 0.0)
    diff = np.abs(zt[landed] - ref[landed])
    inlier = diff <= inlier_distance + 0.02 * ref[landed]
    n_in = int(np.count_nonzero(inlier))
    rmse = float(np.sqrt(np.mean(diff[inlier] ** 2))) if n_in else 0.0
    return AlignmentCheck(n_landed / v.size, n_in / n_landed, rmse)


def information_matrix(source: TrackingImage, target: TrackingImage, motion: np.ndarray, distance: float,
                       depth_max: float) -> np.ndarray:
    """6 x 6 information matrix of the source-to-target ``motion`` between two views (Open3D's, from the depth
    correspondences within ``distance`` metres): the weight of a pose-graph edge."""
    import open3d as o3d

    src, dst = (_o3d_image(view.depth.astype(np.float32, copy=False)) for view in (source, target))
    info = o3d.t.pipelines.odometry.compute_odometry_information_matrix(
        src, dst, o3d.core.Tensor(source.camera.K), o3d.core.Tensor(np.asarray(motion, np.float64)), distance, 1.0,
        depth_max)
    return info.numpy().astype(np.float64)
