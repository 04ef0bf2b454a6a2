"""What every tracker shares: per-frame statuses and results, acceptance thresholds, the tracker interface, and the
ground-truth "tracker". The RGB-D tracker itself is in fusion/tracking.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from slamseg.fusion.errors import TrackingError
from slamseg.fusion.odometry import METHODS, AlignmentCheck
from slamseg.sequences import Camera

REFERENCES = ("keyframe", "frame", "model")


class TrackStatus(str, Enum):
    """What tracking did for a frame (see the module docstring)."""

    TRACKED = "tracked"
    RECOVERED = "recovered"
    PREDICTED = "predicted"
    LOST = "lost"


@dataclass
class TrackingResult:
    """Outcome of tracking one frame.

    Attributes:
        pose: 4 x 4 float64 camera-to-world, or None when ``status`` is lost.
        status: :class:`TrackStatus`.
        fitness: inlier ratio of the accepted alignment (1.0 for ground truth, 0 when nothing was accepted).
        rmse: metres, inlier depth RMSE of the accepted alignment.
        reference: what the frame was aligned to ("model", "frame", "keyframe 3", "relocalised on keyframe 3",
            "motion model", "ground truth", "first frame").
        reason: why the frame was rejected (None when accepted).
        info: details of the last attempt: ``overlap``, ``min_info_eig``, ``correction_m``, ``correction_deg``.
    """

    pose: np.ndarray | None
    status: TrackStatus
    fitness: float = 0.0
    rmse: float = 0.0
    reference: str = ""
    reason: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the pose was measured (tracked or recovered), so the frame may be fused."""
        return self.status in (TrackStatus.TRACKED, TrackStatus.RECOVERED)


@dataclass
class FailureThresholds:
    """When an odometry estimate is rejected (metres, degrees; fractions of pixels).

    Attributes:
        min_valid_fraction: pixels with valid depth in the new frame.
        min_overlap: of the new frame's valid pixels, the fraction that land on valid reference pixels.
        min_inlier_ratio: of those, the fraction whose depth agrees (within ``inlier_distance`` + 2 % of z).
        inlier_distance: metres.
        max_rmse: inlier depth RMSE in metres.
        min_info_eig_per_pixel: smallest eigenvalue of the 6 x 6 information matrix per pixel (degenerate,
            under-constrained geometry such as one plane).
        max_correction: metres, max_correction_deg: degrees: how far the estimate may move from the motion
            model's guess (a hand-held camera at 30 Hz changes its velocity by a few cm per frame).
    """

    min_valid_fraction: float = 0.1
    min_overlap: float = 0.3
    min_inlier_ratio: float = 0.6
    inlier_distance: float = 0.03
    max_rmse: float = 0.05
    min_info_eig_per_pixel: float = 1e-3
    max_correction: float = 0.3
    max_correction_deg: float = 30.0

    def rejection(self, check: AlignmentCheck, min_info_eig: float, correction_m: float,
                  correction_deg: float) -> str | None:
        """Why an alignment fails these thresholds, or None when it passes.

        Args:
            check: the projective check of the alignment. min_info_eig: smallest information eigenvalue per pixel.
            correction_m, correction_deg: how far the estimate moved from its initial guess.
        """
        if check.overlap < self.min_overlap:
            return f"overlap {check.overlap:.2f} < {self.min_overlap}"
        if check.inlier_ratio < self.min_inlier_ratio:
            return f"depth inliers {check.inlier_ratio:.2f} < {self.min_inlier_ratio}"
        if check.rmse > self.max_rmse:
            return f"inlier rmse {check.rmse:.4f} m > {self.max_rmse}"
        if min_info_eig < self.min_info_eig_per_pixel:
            return f"information min eigenvalue per pixel {min_info_eig:.2e} < {self.min_info_eig_per_pixel}"
        if correction_m > self.max_correction or correction_deg > self.max_correction_deg:
            return f"jump of {correction_m:.3f} m / {correction_deg:.1f} deg from the motion model"
        return None


def thresholds_for(depth_source: str) -> FailureThresholds:
    """Acceptance thresholds for sensor depth, or for a network's (predicted) depth."""
    if depth_source == "predicted":
        return FailureThresholds(inlier_distance=0.1, max_rmse=0.15)
    return FailureThresholds()


@dataclass
class TrackerConfig:
    """How :class:`RGBDTracker` tracks.

    Attributes:
        reference: "keyframe", "frame" or "model" (see the module docstring).
        method: Open3D odometry: "intensity" (photometric), "point_to_plane" or "hybrid". None: "hybrid" against
            frames and keyframes, "point_to_plane" against the model (a TSDF's rendered colour is a blurred
            average, and the edges of its holes give the photometric term false gradients).
        scale: track on every ``scale``-th pixel (2: 640x480 -> 320x240); None: about 320 pixels wide (the
            odometry's three pyramid levels then end at 80x60, wide enough to converge, small enough to be fast).
        iterations: per pyramid level, finest first.
        depth_max: metres. depth_outlier_trunc: metres, Open3D's correspondence cut-off.
        max_relative_jump: drop depth pixels at discontinuities larger than this fraction of their depth.
        motion_model: constant-velocity initial guess (else the last pose).
        max_predicted: consecutive rejected frames given the motion model's pose before the tracker is lost.
        keyframe_translation, keyframe_rotation_deg: a frame this far from every keyframe becomes one.
        relocalisation_candidates: keyframes nearest to the predicted pose tried per frame when relocalising.
        relocalisation_sweep: further keyframes per frame, in turn over all of them.
        min_model_fraction: with reference "model", the rendered fraction below which the keyframe is used.
        depth_source: "sensor" or "predicted": a network's depth errs by centimetres to decimetres from frame to
            frame, so with "predicted" the default method is photometric ("intensity": depth only warps the image)
            and the default thresholds accept depth disagreement of 10 cm + 2 % (RMSE 15 cm).
        thresholds: :class:`FailureThresholds` (None: the defaults of ``depth_source``).
    """

    reference: str = "keyframe"
    method: str | None = None
    scale: int | None = None
    iterations: tuple[int, ...] = (10, 5, 3)
    depth_max: float = 4.0
    depth_outlier_trunc: float = 0.07
    max_relative_jump: float = 0.1
    motion_model: bool = True
    max_predicted: int = 5
    keyframe_translation: float = 0.1
    keyframe_rotation_deg: float = 5.0
    relocalisation_candidates: int = 3
    relocalisation_sweep: int = 3
    min_model_fraction: float = 0.3
    depth_source: str = "sensor"
    thresholds: FailureThresholds | None = None

    def __post_init__(self) -> None:
        if self.reference not in REFERENCES:
            raise TrackingError(f"tracking reference must be one of {REFERENCES}, got {self.reference!r}")
        if self.depth_source not in ("sensor", "predicted"):
            raise TrackingError(f"depth_source must be 'sensor' or 'predicted', got {self.depth_source!r}")
        if self.thresholds is None:
            self.thresholds = thresholds_for(self.depth_source)
        if self.method is not None and self.method not in METHODS:
            raise TrackingError(f"odometry method must be one of {METHODS}, got {self.method!r}")
        if self.scale is not None and self.scale < 1:
            raise TrackingError(f"tracking scale must be >= 1, got {self.scale}")
        self.iterations = tuple(int(n) for n in self.iterations)

    @property
    def odometry_method(self) -> str:
        """``method``, or the default for the reference when it is None."""
        if self.method is not None:
            return self.method
        if self.depth_source == "predicted":
            return "intensity"
        return "point_to_plane" if self.reference == "model" else "hybrid"


class Tracker(ABC):
    """Common tracker interface."""

    @abstractmethod
    def track(
        self,
        depth: np.ndarray,
        rgb: np.ndarray,
        camera: Camera,
        map: Any = None,  # noqa: A002 - the map being built
        frame_index: int | None = None,
        timestamp: float | None = None,
        initial_pose: np.ndarray | None = None,
    ) -> TrackingResult:
        """Estimate the camera-to-world pose of the next frame.

        Args:
            depth: H x W float32 metres (0 = invalid); rgb: H x W x 3 uint8; camera: intrinsics.
            map: anything with ``render(camera, pose, **kwargs)`` (model tracking).
            frame_index: for logs and ground-truth look-up. timestamp: seconds (scales the motion model).
            initial_pose: the first frame's pose (identity when None); ignored afterwards.
        """

    def reset(self) -> None:  # noqa: B027 - optional hook, stateless trackers need nothing
        """Forget internal state (the next frame starts again)."""


class GroundTruthTracker(Tracker):
    """Poses from the sequence: ``poses[frame_index]`` (a mapping or a list; None entries mean "no pose")."""

    def __init__(self, poses: Mapping[int, np.ndarray | None] | Sequence[np.ndarray | None]) -> None:
        self.poses = poses

    def track(self, depth: np.ndarray, rgb: np.ndarray, camera: Camera, map: Any = None,  # noqa: A002
              frame_index: int | None = None, timestamp: float | None = None,
              initial_pose: np.ndarray | None = None) -> TrackingResult:
        """Look the pose up; a frame without one is lost."""
        if frame_index is None:
            raise TrackingError("GroundTruthTracker needs frame_index to look up the ground-truth pose")
        try:
            pose = self.poses[frame_index]
        except (IndexError, KeyError):
            pose = None
        if pose is None:
            return TrackingResult(None, TrackStatus.LOST, reference="ground truth", reason="no ground-truth pose")
        return TrackingResult(np.asarray(pose, np.float64).copy(), TrackStatus.TRACKED, 1.0, 0.0, "ground truth")
