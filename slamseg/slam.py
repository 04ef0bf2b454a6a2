"""``SemanticSLAM``: the algorithm of a semantic reconstruction, with no files, progress bars or CLI types.

One object holds the map, the tracker (with its keyframes) and the loop-closure settings. Per frame,
:meth:`SemanticSLAM.step` tracks the camera and fuses the frame when its pose was measured (tracked or recovered;
a frame carried by the motion model or lost is recorded but not fused, so a bad frame never corrupts the map).
:meth:`SemanticSLAM.finish` closes loops over the keyframes, moves every frame with its keyframe, and says whether
the map should be rebuilt from the optimised poses (:meth:`SemanticSLAM.rebuild`, which the caller feeds with the
frames again: only it knows where they come from).

Runners (``slamseg.pipelines``) own sequences, the network, snapshots and outputs; see kiss-icp's split between
its ``KissICP`` and ``OdometryPipeline``.

Example::

    from slamseg.fusion.posegraph import LoopClosureConfig
    from slamseg.fusion.tsdf import SemanticTSDF
    slam = SemanticSLAM(SemanticTSDF(), make_tracker("keyframe"), LoopClosureConfig())
    for frame in open_sequence("rgbd_dataset_freiburg1_desk"):
        slam.step(frame)                      # sensor depth; or depth= / probs= of predict(rgb, probs=True)
    result = slam.finish()                    # loop closure; result.poses(), result.counts()
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slamseg.fusion.keyframes import pose_distance
from slamseg.fusion.posegraph import LoopClosureConfig, close_loops, correct_pose
from slamseg.fusion.tracking import RGBDTracker, Tracker, TrackerConfig, TrackingResult, TrackStatus
from slamseg.fusion.types import SemanticMap
from slamseg.sequences import Frame

log = logging.getLogger(__name__)


@dataclass
class FrameRecord:
    """What happened to one frame (JSON-friendly once ``pose`` is a list).

    Attributes:
        index: the sequence's frame index. timestamp: seconds.
        pose: 4 x 4 camera-to-world, or None when lost.
        status: "tracked", "recovered", "predicted" or "lost". fused: integrated into the map.
        fitness: depth-inlier ratio of the accepted alignment. reference: what it was aligned to.
        reason: why tracking was rejected (None when accepted).
        keyframe: id of the keyframe the pose is anchored to (None before any).
        anchor: that keyframe's pose when this frame was tracked (for moving the frame with it).
    """

    index: int
    timestamp: float
    pose: np.ndarray | None
    status: str
    fused: bool
    fitness: float = 0.0
    reference: str = ""
    reason: str | None = None
    keyframe: int | None = None
    anchor: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (poses as nested lists)."""
        out = dict(self.__dict__)
        for key in ("pose", "anchor"):
            out[key] = None if out[key] is None else np.asarray(out[key]).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameRecord:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        for key in ("pose", "anchor"):
            data[key] = None if data.get(key) is None else np.asarray(data[key], np.float64)
        return cls(**data)


NO_USABLE_DEPTH = "no usable depth"  # the reason recorded for a frame whose depth is all zero or invalid


def status_counts(records: list[FrameRecord]) -> dict[str, int]:
    """Frames per tracking status (every status present, in TrackStatus order)."""
    out = {s.value: 0 for s in TrackStatus}
    for r in records:
        out[r.status] += 1
    return out


def coverage(records: list[FrameRecord]) -> float:
    """Fraction of the frames whose pose was measured (tracked or recovered), rounded to 4 digits; 0 for none."""
    counts = status_counts(records)
    return round((counts["tracked"] + counts["recovered"]) / len(records), 4) if records else 0.0


@dataclass
class StepResult:
    """One :meth:`SemanticSLAM.step`: the frame's record, the tracker's full result, and seconds per stage."""

    record: FrameRecord
    tracking: TrackingResult
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def pose(self) -> np.ndarray | None:
        """4 x 4 camera-to-world, or None when lost."""
        return self.record.pose


@dataclass
class SLAMResult:
    """The end of a run: every frame's record (with optimised poses) and what loop closure did.

    Attributes:
        records: one per stepped frame, in order.
        keyframes: number of keyframes. loops_found / loops_kept: verified loop edges, and those that survived
            the optimisation's pruning.
        max_correction_m / max_correction_deg: the largest change of a frame pose by the optimisation;
            p90_correction_m: the 90th percentile of the changes.
        rebuild_advised: the 90th percentile exceeds the map resolution: :meth:`SemanticSLAM.rebuild` pays.
    """

    records: list[FrameRecord]
    keyframes: int = 0
    loops_found: int = 0
    loops_kept: int = 0
    max_correction_m: float = 0.0
    max_correction_deg: float = 0.0
    p90_correction_m: float = 0.0
    rebuild_advised: bool = False

    def poses(self) -> dict[int, np.ndarray]:
        """Frame index -> 4 x 4 camera-to-world of every frame that has a pose (tracked, recovered, predicted)."""
        return {r.index: r.pose for r in self.records if r.pose is not None}

    def counts(self) -> dict[str, int]:
        """Frames per status."""
        return status_counts(self.records)


def make_tracker(kind: str, config: TrackerConfig | None = None, map_kind: str = "tsdf") -> Tracker | None:
    """A tracker by name: None for "gt" (each frame's own pose), or an :class:`RGBDTracker` whose reference is
    "keyframe", "odometry" (the last frame) or "model" (the map rendered at the predicted pose)."""
    if kind == "gt":
        return None
    reference = {"odometry": "frame", "frame": "frame", "keyframe": "keyframe", "model": "model"}.get(kind)
    if reference is None:
        raise ValueError(f"tracking must be gt, odometry, keyframe or model, got {kind!r}")
    cfg = dataclasses.replace(config or TrackerConfig(), reference=reference)
    # Tracking renders need geometry and colour only; a surfel map draws every surfel it has, stable or not.
    render_kwargs = {"with_labels": False} if map_kind == "tsdf" else {"min_confidence": 0.0, "with_probs": False}
    return RGBDTracker(cfg, render_kwargs=render_kwargs)


class SemanticSLAM:
    """Tracking + semantic map + loop closure for one camera (see the module docstring).

    Args:
        map: an empty (or resumed) :class:`~slamseg.fusion.types.SemanticMap`.
        tracker: a :class:`~slamseg.fusion.tracking.Tracker` (``make_tracker``), or None: each frame's own pose
            (ground truth; a frame without one is lost).
        loop_closure: settings; None or ``enabled=False`` skips loop closure.
        rebuild_threshold: metres; ``finish`` advises a rebuild when the 90th percentile of the frames' pose
            changes is above it.
    """

    def __init__(self, map: SemanticMap, tracker: Tracker | None,  # noqa: A002 - the map being built
                 loop_closure: LoopClosureConfig | None = None, rebuild_threshold: float = 0.01) -> None:
        self.map = map
        self.tracker = tracker
        self.loop_closure = loop_closure
        self.rebuild_threshold = rebuild_threshold
        self.records: list[FrameRecord] = []

    @property
    def keyframes(self) -> list[Any]:
        """The tracker's keyframes ([] for ground-truth poses)."""
        return self.tracker.keyframes.keyframes if isinstance(self.tracker, RGBDTracker) else []

    def step(self, frame: Frame, depth: np.ndarray | None = None, probs: np.ndarray | None = None) -> StepResult:
        """Track ``frame`` and fuse it when its pose was measured.

        Args:
            frame: rgb, camera, index, timestamp (and pose: the first frame starts there when it has one).
            depth: H x W float32 metres to track and fuse (default ``frame.depth``; the network's for predicted
                depth).
            probs: H x W x K class probabilities (or H x W labels) to fuse, or None for geometry only.
        """
        depth = frame.depth if depth is None else depth
        if depth is None:
            raise ValueError(f"frame {frame.index} has no depth and none was given")
        usable = bool(np.any((depth > 0) & np.isfinite(depth)))
        t0 = time.perf_counter()
        if self.tracker is None:
            result = (TrackingResult(np.asarray(frame.pose, np.float64), TrackStatus.TRACKED, 1.0, 0.0, "ground truth")
                      if frame.pose is not None else
                      TrackingResult(None, TrackStatus.LOST, reference="ground truth", reason="no ground-truth pose"))
        else:
            # The tracker starts at the pose of its first frame (when the sequence has one) and ignores it after.
            result = self.tracker.track(depth, frame.rgb, frame.camera, self.map, frame.index, frame.timestamp,
                                        initial_pose=frame.pose)
        t1 = time.perf_counter()
        fused = result.ok and usable
        if fused:
            self.map.integrate(depth, frame.rgb, probs, frame.camera, result.pose)
        elif not usable:
            log.warning("frame %d: no usable depth (all zero or invalid): not fused", frame.index)
        t2 = time.perf_counter()
        kf = getattr(self.tracker, "current_keyframe", None) if result.ok else None
        record = FrameRecord(
            index=int(frame.index), timestamp=float(frame.timestamp), pose=result.pose, status=result.status.value,
            fused=fused, fitness=round(float(result.fitness), 4), reference=result.reference,
            reason=result.reason if usable else NO_USABLE_DEPTH, keyframe=None if kf is None else kf.id,
            anchor=None if kf is None else kf.pose.copy(),
        )
        self.records.append(record)
        return StepResult(record, result, {"tracking": t1 - t0, "fusion": t2 - t1})

    def finish(self) -> SLAMResult:
        """Close loops over the keyframes and move every anchored frame with its keyframe."""
        keyframes = self.keyframes
        result = SLAMResult(self.records, keyframes=len(keyframes))
        if self.loop_closure is None or not self.loop_closure.enabled or len(keyframes) < 3:
            return result
        optimised, result.loops_found, result.loops_kept = close_loops(keyframes, self.loop_closure)
        if not result.loops_found:
            return result
        for kf in keyframes:
            kf.pose = optimised[kf.id]
        moved = []
        for rec in self.records:
            if rec.pose is None or rec.keyframe is None or rec.anchor is None:
                continue
            new = correct_pose(rec.pose, rec.anchor, optimised[rec.keyframe])
            moved_m, moved_deg = pose_distance(rec.pose, new)
            moved.append(moved_m)
            result.max_correction_m = max(result.max_correction_m, moved_m)
            result.max_correction_deg = max(result.max_correction_deg, moved_deg)
            rec.pose, rec.anchor = new, optimised[rec.keyframe]
        # Fusing again pays when many frames moved by more than the map's resolution, not when a few did.
        result.p90_correction_m = float(np.percentile(moved, 90)) if moved else 0.0
        result.rebuild_advised = result.p90_correction_m > self.rebuild_threshold
        log.info("loop closure: %d loop edges (%d kept) over %d keyframes; poses moved up to %.3f m / %.2f deg",
                 result.loops_found, result.loops_kept, len(keyframes), result.max_correction_m,
                 result.max_correction_deg)
        return result

    def rebuild(self, new_map: SemanticMap, frames: Iterable[tuple[Frame, np.ndarray | None, np.ndarray | None]]
                ) -> SemanticMap:
        """Fuse the given frames again into ``new_map`` at their (optimised) poses; it becomes the map.

        Args:
            new_map: an empty map of the same kind.
            frames: (frame, depth or None for frame.depth, probs or None) for the frames that were fused.
        """
        fused = {r.index: r.pose for r in self.records if r.fused and r.pose is not None}
        for frame, depth, probs in frames:
            pose = fused.get(int(frame.index))
            if pose is None:
                continue
            new_map.integrate(frame.depth if depth is None else depth, frame.rgb, probs, frame.camera, pose)
        self.map = new_map
        return new_map
