"""Camera tracking: ground truth, or RGB-D odometry with a motion model, recovery and relocalisation.

Every tracker has one call, ``track(depth, rgb, camera, map=None, frame_index=None, timestamp=None,
initial_pose=None) -> TrackingResult``, and says per frame what it did (:class:`TrackStatus`):

- ``tracked``: odometry against the reference was accepted;
- ``recovered``: accepted after one or more rejected frames (against the reference, or by relocalisation
  against a stored keyframe);
- ``predicted``: rejected; the pose is the constant-velocity motion model's (the frame should not be fused);
- ``lost``: rejected for longer than the motion model is trusted and relocalisation failed: no pose.

:class:`RGBDTracker` tracks at a reduced resolution (every ``scale``-th pixel) against one of three references:
``"keyframe"`` (the nearest stored keyframe: drift grows only when new keyframes are made), ``"frame"`` (the last
tracked frame) or ``"model"`` (the map rendered at the motion model's pose, KinectFusion / ElasticFusion style,
with no label mixture). The motion model's pose is the initial guess. When the reference fails, the nearest
keyframe (or the last frame) is tried; while rejected, every frame tries to relocalise against the keyframes
nearest to the predicted pose, so a camera that comes back to mapped space is found again.

Acceptance does not rely on Open3D's fitness (its meaning differs between photometric and geometric odometry):
the new view's points are projected into the reference (:func:`~slamseg.fusion.odometry.check_alignment`), and
the overlap, depth-inlier ratio, inlier RMSE, the information matrix's smallest eigenvalue and the correction to
the motion model's guess are checked (:class:`FailureThresholds`).

Lens distortion is ignored: frames are expected undistorted (the readers undistort TUM freiburg1/2 by default).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from slamseg.fusion.keyframes import Keyframe, KeyframeStore, pose_distance
from slamseg.fusion.odometry import (
    METHODS,
    OdometryEstimate,
    TrackingImage,
    check_alignment,
    make_tracking_image,
    odometry_between,
    rgbd_odometry,
)
from slamseg.fusion.tracking_types import (
    REFERENCES,
    FailureThresholds,
    GroundTruthTracker,
    Tracker,
    TrackerConfig,
    TrackingResult,
    TrackStatus,
)
from slamseg.sequences import Camera

log = logging.getLogger(__name__)
__all__ = ["METHODS", "REFERENCES", "FailureThresholds", "GroundTruthTracker", "OdometryEstimate", "RGBDTracker",
           "TrackStatus", "Tracker", "TrackerConfig", "TrackingResult", "rgbd_odometry"]


def scale_motion(motion: np.ndarray, factor: float) -> np.ndarray:
    """The rigid motion ``motion`` (4 x 4) repeated ``factor`` times (rotation vector and translation scaled)."""
    out = np.eye(4)
    out[:3, :3] = Rotation.from_rotvec(Rotation.from_matrix(motion[:3, :3]).as_rotvec() * factor).as_matrix()
    out[:3, 3] = motion[:3, 3] * factor
    return out


class RGBDTracker(Tracker):
    """RGB-D odometry tracking with a motion model, keyframes and relocalisation (see the module docstring).

    Args:
        config: :class:`TrackerConfig`.
        render_kwargs: keyword arguments of ``map.render`` for model tracking (e.g. ``{"with_labels": False}``
            for a semantic TSDF).
    """

    def __init__(self, config: TrackerConfig | None = None, render_kwargs: dict[str, Any] | None = None) -> None:
        self.config = config or TrackerConfig()
        self.render_kwargs = dict(render_kwargs or {})
        self.keyframes = KeyframeStore(self.config.keyframe_translation, self.config.keyframe_rotation_deg)
        self.reset()

    def reset(self) -> None:
        """Forget the trajectory and the last frame (keyframes stay: they serve relocalisation)."""
        self._last: TrackingImage | None = None  # last accepted view, reference of "frame" tracking
        self._last_pose: np.ndarray | None = None  # pose of the last frame that has one (accepted or predicted)
        self._last_pose_ok: np.ndarray | None = None  # pose of the last accepted frame (_last)
        self._last_stamp: float | None = None
        self._velocity = np.eye(4)  # motion per frame interval of _velocity_dt seconds
        self._velocity_dt: float | None = None
        self._failures = 0  # consecutive rejected frames
        self._keyframe: Keyframe | None = None  # the keyframe the last accepted frame was tracked against
        self._sweep = -1  # relocalisation's turn over all keyframes

    # ------------------------------------------------------------------------------------------ helpers
    def _scale(self, camera: Camera) -> int:
        """The downsampling factor for frames of ``camera``."""
        return self.config.scale or max(1, round(camera.width / 320))

    def _predict(self, timestamp: float | None) -> np.ndarray:
        """The motion model's pose for a frame at ``timestamp``."""
        assert self._last_pose is not None
        if not self.config.motion_model:
            return self._last_pose.copy()
        factor = 1.0
        if timestamp is not None and self._last_stamp is not None and self._velocity_dt:
            # Scale the per-interval velocity to this interval, but extrapolate at most two intervals: a hand-held
            # camera does not keep its velocity through a gap of dropped frames.
            factor = float(np.clip((timestamp - self._last_stamp) / self._velocity_dt, 0.0, 2.0))
        return self._last_pose @ scale_motion(self._velocity, factor)

    def _align(self, image: TrackingImage, ref: TrackingImage, ref_pose: np.ndarray, guess: np.ndarray,
               label: str, iterations: tuple[int, ...] | None = None) -> TrackingResult:
        """Odometry from ``image`` to ``ref`` starting at ``guess``; accepted or rejected with a reason."""
        cfg, th = self.config, self.config.thresholds
        init = np.linalg.inv(ref_pose) @ guess
        try:
            est = odometry_between(image, ref, init, cfg.odometry_method, cfg.depth_max, cfg.depth_outlier_trunc,
                                   iterations or cfg.iterations)
        except RuntimeError as exc:  # Open3D: no correspondences, or a singular system
            return TrackingResult(None, TrackStatus.LOST, reference=label,
                                  reason=f"odometry failed: {str(exc).splitlines()[0][-80:]}")
        if not np.all(np.isfinite(est.motion)):
            return TrackingResult(None, TrackStatus.LOST, reference=label, reason="non-finite motion")
        pose = ref_pose @ est.motion
        check = check_alignment(image, ref, est.motion, th.inlier_distance)
        eig = est.min_info_eig(image.depth.size)
        corr_m, corr_deg = pose_distance(guess, pose)
        info = {"overlap": round(check.overlap, 4), "min_info_eig": eig, "correction_m": round(corr_m, 4),
                "correction_deg": round(corr_deg, 3)}
        reason = th.rejection(check, eig, corr_m, corr_deg)
        status = TrackStatus.LOST if reason else TrackStatus.TRACKED
        return TrackingResult(None if reason else pose, status, check.inlier_ratio, check.rmse, label, reason, info)

    def _references(self, image: TrackingImage, guess: np.ndarray, map: Any  # noqa: A002
                    ) -> Iterator[tuple[TrackingImage, np.ndarray, str, Keyframe | None]]:
        """(view, its pose, label, keyframe) to try in order: the configured reference first, then the fallbacks;
        each is made only when the one before it was rejected."""
        cfg = self.config

        def keyframe() -> Iterator[tuple[TrackingImage, np.ndarray, str, Keyframe | None]]:
            for kf in self.keyframes.nearest(guess):
                yield kf.image(), kf.pose, f"keyframe {kf.id}", kf

        def last() -> Iterator[tuple[TrackingImage, np.ndarray, str, Keyframe | None]]:
            if self._last is not None:
                yield self._last, self._last_pose_ok, "frame", None

        if cfg.reference == "model" and map is not None:
            view = map.render(image.camera, guess, **self.render_kwargs)
            if float(np.mean(view.depth > 0)) >= cfg.min_model_fraction:
                yield TrackingImage(np.ascontiguousarray(view.depth, np.float32), view.colour, image.camera), \
                    guess, "model", None
        first, second = (last, keyframe) if cfg.reference == "frame" else (keyframe, last)
        yield from first()
        yield from second()

    def _relocalise(self, image: TrackingImage, guess: np.ndarray) -> TrackingResult | None:
        """Try the keyframes nearest to ``guess`` (each from the guess and from its own pose); the best accepted."""
        best: TrackingResult | None = None
        cfg = self.config
        chosen = self.keyframes.nearest(guess, cfg.relocalisation_candidates)
        # The camera may have come back anywhere in the map: besides the keyframes near the last known pose,
        # each frame also tries the next few of all keyframes in turn, so every keyframe is tried within a few
        # frames.
        others = [kf for kf in self.keyframes.keyframes if kf not in chosen]
        for _ in range(min(cfg.relocalisation_sweep, len(others))):
            self._sweep = (self._sweep + 1) % len(others)
            chosen.append(others[self._sweep])
        candidates: list[tuple[TrackingImage, np.ndarray, str, Keyframe | None]] = [
            (kf.image(), kf.pose, f"relocalised on keyframe {kf.id}", kf) for kf in chosen]
        if self._last is not None and self._last_pose_ok is not None:
            candidates.append((self._last, self._last_pose_ok, "relocalised on the last tracked frame", None))
        for ref, ref_pose, label, kf in candidates:
            for start in (guess, ref_pose):
                # one more, coarser pyramid level: a wider basin of convergence for a camera far from its guess
                result = self._align(image, ref, ref_pose, start, label, (*cfg.iterations, cfg.iterations[-1]))
                if result.pose is not None and (best is None or result.fitness > best.fitness):
                    best = result
                    best.info["keyframe"] = kf
                if best is not None:
                    break
        return best

    # ------------------------------------------------------------------------------------------ tracking
    def track(self, depth: np.ndarray, rgb: np.ndarray, camera: Camera, map: Any = None,  # noqa: A002
              frame_index: int | None = None, timestamp: float | None = None,
              initial_pose: np.ndarray | None = None) -> TrackingResult:
        """Track one frame (see the module docstring for what each status means)."""
        cfg = self.config
        image = make_tracking_image(depth, rgb, camera, self._scale(camera), cfg.depth_max, cfg.max_relative_jump)
        index = -1 if frame_index is None else int(frame_index)
        stamp = None if timestamp is None else float(timestamp)
        if self._last_pose is None and image.valid_fraction < cfg.thresholds.min_valid_fraction:
            # nothing to start from: the next frame with depth will be the first
            return TrackingResult(None, TrackStatus.LOST, reference="-",
                                  reason=f"no depth to start from (valid {image.valid_fraction:.3f})")
        if self._last_pose is None:  # first frame: it defines the world frame (or takes the given pose)
            pose = np.eye(4) if initial_pose is None else np.asarray(initial_pose, np.float64).copy()
            return self._accept(TrackingResult(pose, TrackStatus.TRACKED, 1.0, 0.0, "first frame"), image, index,
                                stamp, None)
        guess = self._predict(stamp)
        result: TrackingResult | None = None
        if image.valid_fraction < cfg.thresholds.min_valid_fraction:
            reason = f"valid depth {image.valid_fraction:.3f} < {cfg.thresholds.min_valid_fraction}"
            result = TrackingResult(None, TrackStatus.LOST, reference="-", reason=reason)
        else:
            for ref, ref_pose, label, kf in self._references(image, guess, map):
                result = self._align(image, ref, ref_pose, guess, label)
                if result.pose is not None:
                    result.info["keyframe"] = kf
                    break
            if (result is None or result.pose is None) and len(self.keyframes):
                result = self._relocalise(image, guess) or result
        if result is not None and result.pose is not None:
            if self._failures:
                result.status = TrackStatus.RECOVERED
            return self._accept(result, image, index, stamp, result.info.pop("keyframe", None))
        return self._reject(result, guess, index, stamp)

    def _accept(self, result: TrackingResult, image: TrackingImage, index: int, stamp: float | None,
                keyframe: Keyframe | None) -> TrackingResult:
        pose = result.pose
        assert pose is not None
        if self._last_pose is not None and self._failures == 0:
            dt = None if stamp is None or self._last_stamp is None else stamp - self._last_stamp
            self._velocity = np.linalg.inv(self._last_pose) @ pose
            self._velocity_dt = dt if dt and dt > 0 else None
        elif self._failures:
            self._velocity = np.eye(4)  # after a gap the old velocity means nothing
        self._last, self._last_pose, self._last_pose_ok, self._last_stamp = image, pose, pose, stamp
        self._failures = 0
        if keyframe is None and len(self.keyframes):
            # Tracked against a frame or the model: the pose hangs on the chain since the newest keyframe.
            keyframe = self.keyframes.keyframes[-1]
        if self.keyframes.is_new_view(pose):
            keyframe = self.keyframes.add(index, stamp if stamp is not None else float(index), pose, image)
        self._keyframe = keyframe
        result.info["keyframe_id"] = None if keyframe is None else keyframe.id
        return result

    def _reject(self, result: TrackingResult | None, guess: np.ndarray, index: int, stamp: float | None
                ) -> TrackingResult:
        self._failures += 1
        reason = result.reason if result is not None else "no reference to track against"
        info = dict(result.info) if result is not None else {}
        info.pop("keyframe", None)
        self._last_stamp = stamp
        if self._failures <= self.config.max_predicted:
            self._last_pose = guess
            log.warning("frame %d: tracking rejected (%s); motion model's pose kept (%d in a row)", index, reason,
                        self._failures)
            return TrackingResult(guess, TrackStatus.PREDICTED, reference="motion model", reason=reason, info=info)
        # Lost: stop extrapolating; relocalisation keeps searching around the last pose it had.
        self._velocity = np.eye(4)
        log.warning("frame %d: camera lost (%s; %d frames rejected in a row)", index, reason, self._failures)
        return TrackingResult(None, TrackStatus.LOST, reference=result.reference if result else "-", reason=reason,
                              info=info)

    def restore(self, keyframes: list[Keyframe], pose: np.ndarray, depth: np.ndarray, rgb: np.ndarray,
                camera: Camera, timestamp: float | None, keyframe_id: int | None) -> None:
        """Continue an interrupted run: its keyframes, and its last fused frame (pose, images) as the reference."""
        self.reset()
        self.keyframes.keyframes = list(keyframes)
        cfg = self.config
        self._last = make_tracking_image(depth, rgb, camera, self._scale(camera), cfg.depth_max,
                                         cfg.max_relative_jump)
        self._last_pose = self._last_pose_ok = np.asarray(pose, np.float64).copy()
        self._last_stamp = timestamp
        if keyframe_id is not None and 0 <= keyframe_id < len(keyframes):
            self._keyframe = keyframes[keyframe_id]

    @property
    def current_keyframe(self) -> Keyframe | None:
        """The keyframe the last accepted frame was anchored to (None before any)."""
        return self._keyframe
