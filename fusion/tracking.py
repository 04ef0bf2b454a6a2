"""Camera tracking (issue 6 item 4): ground truth, frame-to-frame RGB-D odometry and frame-to-model tracking.

Every tracker has one call, ``track(depth, rgb, camera, previous_pose, map=None, frame_index=None)``, returning a
:class:`TrackingResult`. When tracking fails the result has ``ok=False`` and ``pose = previous_pose``; the caller
skips the frame (does not integrate it), so a bad frame never corrupts the map. Failures are logged with the
frame index and the reason.

Odometry is Open3D's tensor multi-scale RGB-D odometry (``open3d.t.pipelines.odometry``): point-to-plane ICP,
photometric, or both ("hybrid"). Its result is the source-to-target transform; with the new frame as source and
the reference (previous frame, or the map rendered at the previous pose) as target, that is the motion
``T_prev_cur`` and the new pose is ``previous_pose @ T_prev_cur``.

Failure is declared when any of these holds (thresholds in :class:`FailureThresholds`): too few valid depth
pixels; Open3D raised (no correspondences); fitness (inlier fraction) too low; inlier RMSE too high; the
smallest eigenvalue of the 6 x 6 information matrix per valid pixel too low (a degenerate, under-constrained
alignment); or an implausible jump (translation or rotation per frame too large).

Lens distortion is ignored: frames are expected undistorted (the sequence readers undistort TUM freiburg1/2
frames by default).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slamseg.fusion.errors import TrackingError
from slamseg.sequences import Camera

log = logging.getLogger(__name__)

METHODS = ("hybrid", "point_to_plane", "intensity")


@dataclass
class TrackingResult:
    """Outcome of tracking one frame.

    Attributes:
        pose: 4 x 4 float64 camera-to-world of the frame; equals the previous pose when ``ok`` is False.
        ok: False when tracking failed (the caller should skip the frame).
        fitness: inlier fraction of the alignment (1.0 for ground truth, 0 when nothing was estimated).
        rmse: inlier RMSE in metres (0 for ground truth).
        info: details: ``reason`` of a failure, ``motion`` 4 x 4 relative transform, ``translation_m``,
            ``rotation_deg``, ``min_info_eig``, ``reference`` ("frame" or "model") ...
    """

    pose: np.ndarray
    ok: bool
    fitness: float
    rmse: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class FailureThresholds:
    """When a tracking estimate is rejected (per frame; metres, degrees).

    Attributes:
        min_valid_fraction: fraction of pixels with valid depth in the new frame.
        min_fitness: Open3D's fitness (fraction of pixels with an inlier correspondence).
        max_rmse: inlier RMSE in metres.
        min_info_eig_per_pixel: smallest eigenvalue of the information matrix divided by the pixel count
            (normalised so the threshold does not depend on the image size).
        max_translation: metres per frame (a hand-held camera at 30 Hz moves a few cm).
        max_rotation_deg: degrees per frame.
    """

    min_valid_fraction: float = 0.1
    min_fitness: float = 0.3
    max_rmse: float = 0.05
    min_info_eig_per_pixel: float = 1e-3
    max_translation: float = 0.3
    max_rotation_deg: float = 30.0


def rotation_angle_deg(rot: np.ndarray) -> float:
    """Angle in degrees of a 3 x 3 rotation matrix."""
    return float(np.degrees(np.arccos(np.clip((np.trace(rot) - 1.0) / 2.0, -1.0, 1.0))))


class Tracker(ABC):
    """Common tracker interface."""

    @abstractmethod
    def track(
        self,
        depth: np.ndarray,
        rgb: np.ndarray,
        camera: Camera,
        previous_pose: np.ndarray,
        map: Any = None,  # noqa: A002 - the issue's interface name
        frame_index: int | None = None,
    ) -> TrackingResult:
        """Estimate the camera-to-world pose of a new frame.

        Args:
            depth: H x W float32 metres (0 = invalid); rgb: H x W x 3 uint8; camera: intrinsics.
            previous_pose: 4 x 4 float64 camera-to-world of the last successfully tracked frame.
            map: the map (anything with ``render(camera, pose)``), used by frame-to-model tracking.
            frame_index: for log messages (and for ground-truth lookup).
        """

    def reset(self) -> None:  # noqa: B027 - optional hook, stateless trackers need nothing
        """Forget internal state (reference frames)."""


class GroundTruthTracker(Tracker):
    """Poses from the sequence: ``poses[frame_index]`` (a mapping or a list; None entries mean "no pose")."""

    def __init__(self, poses: Mapping[int, np.ndarray | None] | Sequence[np.ndarray | None]) -> None:
        self.poses = poses

    def track(
        self,
        depth: np.ndarray,
        rgb: np.ndarray,
        camera: Camera,
        previous_pose: np.ndarray,
        map: Any = None,  # noqa: A002
        frame_index: int | None = None,
    ) -> TrackingResult:
        """Look the pose up; a frame without one fails (ok=False, previous pose kept)."""
        if frame_index is None:
            raise TrackingError("GroundTruthTracker needs frame_index to look up the ground-truth pose")
        try:
            pose = self.poses[frame_index]
        except (IndexError, KeyError):
            pose = None
        if pose is None:
            log.warning("frame %s: no ground-truth pose; frame skipped", frame_index)
            return TrackingResult(np.asarray(previous_pose, np.float64), False, 0.0, 0.0, {"reason": "no ground truth"})
        return TrackingResult(np.asarray(pose, np.float64).copy(), True, 1.0, 0.0, {"reference": "ground_truth"})


@dataclass
class OdometryEstimate:
    """Raw output of one odometry call: ``motion`` is source-to-target 4 x 4, ``info`` the 6 x 6 information."""

    motion: np.ndarray
    fitness: float
    rmse: float
    info: np.ndarray


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
        iterations: per pyramid level, coarse last (Open3D's order: finest level first).
    Returns:
        OdometryEstimate; raises RuntimeError from Open3D when no correspondences exist.
    """
    import open3d as o3d  # deferred: importing slamseg.fusion.tracking must stay cheap

    od = o3d.t.pipelines.odometry
    if method not in METHODS:
        raise TrackingError(f"odometry method must be one of {METHODS}, got {method!r}")
    o3d_method = {
        "hybrid": od.Method.Hybrid,
        "point_to_plane": od.Method.PointToPlane,
        "intensity": od.Method.Intensity,
    }

    def image(a: np.ndarray) -> Any:
        return o3d.t.geometry.Image(o3d.core.Tensor(np.ascontiguousarray(a)))

    src = o3d.t.geometry.RGBDImage(image(source_rgb), image(source_depth.astype(np.float32, copy=False)))
    dst = o3d.t.geometry.RGBDImage(image(target_rgb), image(target_depth.astype(np.float32, copy=False)))
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


class _OdometryTracker(Tracker):
    """Shared odometry + failure checks of the frame-to-frame and frame-to-model trackers."""

    def __init__(
        self,
        method: str = "hybrid",
        depth_max: float = 4.0,
        thresholds: FailureThresholds | None = None,
        iterations: tuple[int, ...] = (10, 5, 3),
    ) -> None:
        if method not in METHODS:
            raise TrackingError(f"odometry method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.depth_max = depth_max
        self.thresholds = thresholds or FailureThresholds()
        self.iterations = iterations
        # The last successfully tracked frame (depth, rgb): the reference of frame-to-frame odometry, and the
        # fallback of frame-to-model odometry while the model shows too little.
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def reset(self) -> None:
        """Forget the last tracked frame."""
        self._last = None

    def _initialise(self, depth: np.ndarray, rgb: np.ndarray, previous_pose: np.ndarray) -> TrackingResult:
        """No reference yet: this frame becomes it and keeps ``previous_pose``."""
        self._last = (depth.copy(), rgb.copy())
        return TrackingResult(np.asarray(previous_pose, np.float64).copy(), True, 1.0, 0.0, {"initialised": True})

    def _track_against(self, depth: np.ndarray, rgb: np.ndarray, ref: tuple[np.ndarray, np.ndarray],
                       camera: Camera, previous_pose: np.ndarray, frame_index: int | None,
                       reference: str) -> TrackingResult:
        """Odometry against ``ref``; on success this frame becomes the last tracked frame."""
        result = self._estimate(depth, rgb, *ref, camera, previous_pose, frame_index, reference)
        if result.ok:
            self._last = (depth.copy(), rgb.copy())
        return result

    def _estimate(
        self,
        depth: np.ndarray,
        rgb: np.ndarray,
        ref_depth: np.ndarray,
        ref_rgb: np.ndarray,
        camera: Camera,
        previous_pose: np.ndarray,
        frame_index: int | None,
        reference: str,
    ) -> TrackingResult:
        th = self.thresholds
        previous_pose = np.asarray(previous_pose, np.float64)
        n_pixels = depth.size
        valid = float(np.count_nonzero((depth > 0) & (depth < self.depth_max))) / n_pixels
        info: dict[str, Any] = {"reference": reference, "valid_fraction": valid}
        reason = None
        est = None
        if valid < th.min_valid_fraction:
            reason = f"valid depth fraction {valid:.3f} < {th.min_valid_fraction}"
        else:
            try:
                est = rgbd_odometry(
                    depth, rgb, ref_depth, ref_rgb, camera, None, self.method, self.depth_max,
                    iterations=self.iterations,
                )  # fmt: skip
            except RuntimeError as exc:  # Open3D raises when a pyramid level has no correspondences
                reason = f"odometry failed: {exc}"
        fitness = rmse = 0.0
        if est is not None:
            fitness, rmse = est.fitness, est.rmse
            trans = float(np.linalg.norm(est.motion[:3, 3]))
            rot = rotation_angle_deg(est.motion[:3, :3])
            eig = float(np.linalg.eigvalsh(est.info)[0]) / n_pixels if np.all(np.isfinite(est.info)) else 0.0
            info.update(motion=est.motion, translation_m=trans, rotation_deg=rot, min_info_eig=eig)
            if not np.all(np.isfinite(est.motion)):
                reason = "non-finite motion"
            elif fitness < th.min_fitness:
                reason = f"fitness {fitness:.3f} < {th.min_fitness}"
            elif rmse > th.max_rmse:
                reason = f"inlier rmse {rmse:.4f} m > {th.max_rmse}"
            elif eig < th.min_info_eig_per_pixel:
                reason = f"information min eigenvalue per pixel {eig:.2e} < {th.min_info_eig_per_pixel}"
            elif trans > th.max_translation:
                reason = f"jump of {trans:.3f} m > {th.max_translation} m"
            elif rot > th.max_rotation_deg:
                reason = f"jump of {rot:.1f} deg > {th.max_rotation_deg} deg"
        if reason is not None:
            info["reason"] = reason
            log.warning("frame %s: tracking against %s failed (%s); previous pose kept", frame_index, reference, reason)
            return TrackingResult(previous_pose.copy(), False, fitness, rmse, info)
        return TrackingResult(previous_pose @ est.motion, True, fitness, rmse, info)


class FrameToFrameTracker(_OdometryTracker):
    """RGB-D odometry against the last successfully tracked frame (the first frame keeps ``previous_pose``).

    Args:
        method: "hybrid" (default), "point_to_plane" or "intensity".
        depth_max: metres. thresholds: :class:`FailureThresholds`. iterations: per pyramid level.
    """

    def track(
        self,
        depth: np.ndarray,
        rgb: np.ndarray,
        camera: Camera,
        previous_pose: np.ndarray,
        map: Any = None,  # noqa: A002
        frame_index: int | None = None,
    ) -> TrackingResult:
        """Odometry from this frame to the reference frame; on success this frame becomes the reference."""
        if self._last is None:
            return self._initialise(depth, rgb, previous_pose)
        return self._track_against(depth, rgb, self._last, camera, previous_pose, frame_index, "frame")


class FrameToModelTracker(_OdometryTracker):
    """Odometry against the map rendered at the previous pose (KinectFusion / ElasticFusion style).

    While the map renders too little at the previous pose (fewer than ``min_model_fraction`` of the pixels, e.g.
    in the first frames before surfels become stable), the last successfully tracked frame is the reference.

    Args:
        render_kwargs: extra keyword arguments of ``map.render`` (e.g. ``{"min_confidence": 0.0}`` for a surfel
            map whose surfels are not yet stable).
        min_model_fraction: fraction of pixels the rendered model must cover.
        method, depth_max, thresholds, iterations: as :class:`FrameToFrameTracker`.
    """

    def __init__(
        self, *args: Any, render_kwargs: dict[str, Any] | None = None, min_model_fraction: float = 0.3, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.render_kwargs = dict(render_kwargs or {})
        self.min_model_fraction = min_model_fraction

    def track(
        self,
        depth: np.ndarray,
        rgb: np.ndarray,
        camera: Camera,
        previous_pose: np.ndarray,
        map: Any = None,  # noqa: A002
        frame_index: int | None = None,
    ) -> TrackingResult:
        """Odometry from this frame to the model view at ``previous_pose`` (or to the last frame, see above)."""
        ref = None
        reference = "model"
        if map is not None:
            view = map.render(camera, np.asarray(previous_pose, np.float64), **self.render_kwargs)
            if float(np.mean(view.depth > 0)) >= self.min_model_fraction:
                ref = (view.depth.astype(np.float32), view.colour)
        if ref is None:
            reference = "frame"
            if self._last is None:
                return self._initialise(depth, rgb, previous_pose)
            ref = self._last
        return self._track_against(depth, rgb, ref, camera, previous_pose, frame_index, reference)
