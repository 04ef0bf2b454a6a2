"""Options of ``slamseg reconstruct`` (a light module: validated before torch or open3d load)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from slamseg.fusion.params import SurfelParams, TSDFParams
from slamseg.pipelines.options import NetworkOptions, SequenceSource


@dataclass
class TrackingOptions:
    """How the camera is tracked when the poses are not the sequence's (``tracking`` odometry, keyframe, model).

    Attributes:
        method: odometry: "hybrid" (depth + photometric), "intensity" or "point_to_plane"; None chooses:
            intensity on predicted depth (photometric; the depth only warps), else hybrid (point-to-plane against
            the model).
        scale: track on every Nth pixel (2: 640x480 frames are tracked at 320x240); None: about 320 wide.
        keyframe_translation: metres, keyframe_rotation_deg: degrees: a frame this far from every keyframe
            becomes a keyframe.
        max_predicted: rejected frames in a row that keep the motion model's pose before the camera is "lost".
        max_relative_jump: depth pixels at discontinuities of more than this fraction of their depth are not
            tracked on (flying pixels of upsampled predicted depth, mixed Kinect pixels).
        loop_closure: close loops over the keyframes at the end (pose-graph optimisation).
        rebuild: fuse the map again from the optimised poses: "auto" (when the 90th percentile of the frames'
            pose changes is more than a voxel), "always" or "never".
    """

    method: Literal["hybrid", "intensity", "point_to_plane"] | None = None
    scale: int | None = None
    keyframe_translation: float = 0.1
    keyframe_rotation_deg: float = 5.0
    max_predicted: int = 5
    max_relative_jump: float = 0.1
    loop_closure: bool = True
    rebuild: Literal["auto", "always", "never"] = "auto"

    def __post_init__(self) -> None:
        if self.scale is not None and self.scale < 1:
            raise ValueError(f"tracker.scale must be >= 1, got {self.scale}")
        if self.keyframe_translation <= 0 or self.keyframe_rotation_deg <= 0:
            raise ValueError("tracker.keyframe_translation and tracker.keyframe_rotation_deg must be > 0")
        if self.max_predicted < 0:
            raise ValueError(f"tracker.max_predicted must be >= 0, got {self.max_predicted}")


@dataclass
class EvaluationOptions:
    """Ground truth from elsewhere than the sequence to evaluate a reconstruction against.

    Attributes:
        nyu_labeled: NYU Depth v2 ``nyu_depth_v2_labeled.mat``: evaluate the map against the labelled frames
            of this raw scene (SemanticFusion's protocol: the map rendered at those frames' poses vs their
            labels mapped to 13 classes, beside the network's single-frame labels); None = no such evaluation.
    """

    nyu_labeled: str | None = None


@dataclass
class ReconstructConfig:
    """A semantic reconstruction job.

    Attributes:
        sequence: frames to reconstruct.
        network: how the joint network runs (needed for predicted depth and network labels).
        depth: "predicted" (the network's depth replaces the sensor's, as in the paper) or "sensor".
        labels: "network" (fused class probabilities of the network), "gt" (the sequence's own labels, as
            one-hot with the map's hard-label confidence: an upper bound for the fusion) or "none".
        map: "tsdf" (semantic TSDF, marching-cubes mesh) or "surfel" (SemanticFusion-style surfels).
        tracking: "gt" (the sequence's poses), "keyframe" (RGB-D odometry against the nearest keyframe, with
            loop closure: for recordings without poses), "odometry" (against the last frame) or "model"
            (against the map rendered at the motion model's pose, KinectFusion style).
        tracker: options of the three tracked modes.
        labels_every: fuse class probabilities on every Nth frame (SemanticFusion fuses every 10th); the one
            label cadence (the maps fuse labels whenever they are given them).
        depth_edge_jump: predicted depth only: pixels interpolated across a jump of more than this fraction of
            depth in the network's output are not fused (flying pixels between objects); None fuses them.
        classes: 13 (NYU-13 as SemanticFusion) or 40 classes in the map (NYU network labels are mapped).
        tsdf, surfel: map parameters.
        save_predictions: also write per-frame predicted depth/labels PNGs.
        snapshot_every: frames between map snapshots that ``--resume`` continues from (0 = none).
        evaluate: compute metrics against the sequence's ground truth where it has some.
        evaluation: ground truth from other files (the NYU labelled set for a NYU raw scene).
        viz: "rerun" records frames, depth, labels, the camera path and the map for rerun (extra [viz]) into
            the run folder's viz.rrd (``rerun viz.rrd`` opens it).
        viz_connect: with viz "rerun", also stream live to a running rerun viewer.
    """

    sequence: SequenceSource = field(default_factory=SequenceSource)
    network: NetworkOptions = field(default_factory=NetworkOptions)
    depth: Literal["predicted", "sensor"] = "predicted"
    labels: Literal["network", "gt", "none"] = "network"
    map: Literal["tsdf", "surfel"] = "tsdf"
    tracking: Literal["gt", "odometry", "keyframe", "model"] = "gt"
    tracker: TrackingOptions = field(default_factory=TrackingOptions)
    labels_every: int = 1
    depth_edge_jump: float | None = 0.2
    classes: Literal[13, 40] = 13
    tsdf: TSDFParams = field(default_factory=TSDFParams)
    surfel: SurfelParams = field(default_factory=SurfelParams)
    save_predictions: bool = False
    snapshot_every: int = 100
    evaluate: bool = True
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    viz: Literal["none", "rerun"] = "none"
    viz_connect: bool = False

    def __post_init__(self) -> None:
        if self.labels_every < 1:
            raise ValueError(f"labels_every must be >= 1, got {self.labels_every}")
        if self.depth_edge_jump is not None and not self.depth_edge_jump > 0:
            raise ValueError(f"depth_edge_jump must be > 0 or null, got {self.depth_edge_jump}")
        if self.snapshot_every < 0:
            raise ValueError(f"snapshot_every must be >= 0, got {self.snapshot_every}")

    @property
    def needs_network(self) -> bool:
        """Whether the network must run at all."""
        return self.depth == "predicted" or self.labels == "network"
