"""Options of ``slamseg reconstruct`` (a light module: validated before torch or open3d load)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from slamseg.fusion.params import SurfelParams, TSDFParams
from slamseg.pipelines.options import NetworkOptions, SequenceSource


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
        tracking: "gt" (the sequence's poses), "odometry" (frame-to-frame RGB-D odometry) or "model"
            (frame-to-model: odometry against the map rendered at the last pose).
        labels_every: fuse class probabilities on every Nth frame (SemanticFusion fuses every 10th).
        classes: 13 (NYU-13 as SemanticFusion) or 40 classes in the map (NYU network labels are mapped).
        tsdf, surfel: map parameters.
        save_predictions: also write per-frame predicted depth/labels PNGs.
        snapshot_every: frames between map snapshots that ``--resume`` continues from (0 = none).
        evaluate: compute metrics against the sequence's ground truth where it has some.
        viz: "rerun" records frames, depth, labels, the camera path and the map for rerun (extra [viz]) into
            the run folder's viz.rrd (``rerun viz.rrd`` opens it).
        viz_connect: with viz "rerun", also stream live to a running rerun viewer.
    """

    sequence: SequenceSource = field(default_factory=SequenceSource)
    network: NetworkOptions = field(default_factory=NetworkOptions)
    depth: Literal["predicted", "sensor"] = "predicted"
    labels: Literal["network", "gt", "none"] = "network"
    map: Literal["tsdf", "surfel"] = "tsdf"
    tracking: Literal["gt", "odometry", "model"] = "gt"
    labels_every: int = 1
    classes: Literal[13, 40] = 13
    tsdf: TSDFParams = field(default_factory=TSDFParams)
    surfel: SurfelParams = field(default_factory=SurfelParams)
    save_predictions: bool = False
    snapshot_every: int = 20
    evaluate: bool = True
    viz: Literal["none", "rerun"] = "none"
    viz_connect: bool = False

    def __post_init__(self) -> None:
        if self.labels_every < 1:
            raise ValueError(f"labels_every must be >= 1, got {self.labels_every}")
        if self.snapshot_every < 0:
            raise ValueError(f"snapshot_every must be >= 0, got {self.snapshot_every}")

    @property
    def needs_network(self) -> bool:
        """Whether the network must run at all."""
        return self.depth == "predicted" or self.labels == "network"
