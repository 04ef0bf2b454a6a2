"""Options of ``slamseg demo`` (a synthetic room, the bundled model, a semantic reconstruction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class DemoConfig:
    """Zero set-up demo options.

    Attributes:
        seed: seed of the synthetic room and trajectory.
        frames: number of frames rendered and reconstructed.
        width, height: image size in pixels.
        network_width, network_height: network input size (the bundled model was trained at 160 x 120).
        checkpoint: model file; None uses the model bundled with slamseg.
        map: map type.
        tracking: the second run's pose source on the predicted depth: "keyframe" (odometry against keyframes,
            loop closure), "model" (against the rendered map), "odometry" (frame to frame), or "gt" (no second
            run). The first run always uses the room's poses.
        voxel_size: TSDF voxel size in metres.
        labels_every: fuse class probabilities every Nth frame.
        device: torch device of the network ("cpu", "cuda").
        data_dir: where the synthetic sequence is written (and reused on later runs).
    """

    seed: int = 0
    frames: int = 60
    width: int = 320
    height: int = 240
    network_width: int = 160
    network_height: int = 120
    checkpoint: str | None = None
    map: Literal["tsdf", "surfel"] = "tsdf"
    tracking: Literal["keyframe", "model", "odometry", "gt"] = "keyframe"
    voxel_size: float = 0.03
    labels_every: int = 1
    device: str = "cpu"
    data_dir: str = "runs/demo-data"

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"frames must be >= 2, got {self.frames}")
        if self.width < 32 or self.height < 32:
            raise ValueError(f"image size must be at least 32x32, got {self.width}x{self.height}")
        if self.voxel_size <= 0:
            raise ValueError(f"voxel_size must be > 0, got {self.voxel_size}")
        if self.labels_every < 1:
            raise ValueError(f"labels_every must be >= 1, got {self.labels_every}")
