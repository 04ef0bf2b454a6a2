"""Options of ``slamseg compare-depth`` (light module)."""

from __future__ import annotations

from dataclasses import dataclass, field

from slamseg.pipelines.options import NetworkOptions, SequenceSource


@dataclass
class CompareDepthConfig:
    """Predicted depth against sensor (e.g. Kinect) depth, frame by frame.

    Attributes:
        sequence: frames with sensor depth.
        network: the network predicting depth.
        max_depth: metres; sensor depth beyond it is not evaluated and predictions are clipped to it (NYU: 10).
        min_depth: metres; predictions are clipped below to it so that log metrics stay finite.
        nyu_crop: evaluate only inside the NYU evaluation crop (scaled to the image size).
        median_scaling: also report metrics after scaling each prediction by median(sensor) / median(predicted).
        panel_frames: how many frames get an RGB | sensor | predicted | error panel.
    """

    sequence: SequenceSource = field(default_factory=SequenceSource)
    network: NetworkOptions = field(default_factory=NetworkOptions)
    max_depth: float = 10.0
    min_depth: float = 1e-3
    nyu_crop: bool = False
    median_scaling: bool = True
    panel_frames: int = 4

    def __post_init__(self) -> None:
        if not 0 < self.min_depth < self.max_depth:
            raise ValueError(f"need 0 < min_depth < max_depth, got {self.min_depth}, {self.max_depth}")
        if self.panel_frames < 0:
            raise ValueError(f"panel_frames must be >= 0, got {self.panel_frames}")
