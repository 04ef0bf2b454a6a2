"""Options of ``slamseg synth`` (a synthetic indoor sequence with full ground truth, written in TUM layout)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SynthConfig:
    """Synthetic sequence options.

    Attributes:
        seed: seed of the room layout, colours, trajectory and depth noise.
        frames: number of frames (30 per second of trajectory time).
        width, height: image size in pixels (a Kinect-like camera, fx = fy = 525 px at 640 px width).
        noise: add Kinect-like depth noise, quantisation and holes to the written depth.
        furniture: furnish the room (False: walls, floor, ceiling, door, windows and pictures only).
        speed: scale of the per-frame camera motion (1.0: ~1 cm and ~1.5-2 degrees per frame).
        depth_scale: stored depth PNG units per metre (5000 as TUM, 1000 for millimetres).
    """

    seed: int = 0
    frames: int = 300
    width: int = 640
    height: int = 480
    noise: bool = False
    furniture: bool = True
    speed: float = 1.0
    depth_scale: float = 5000.0

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")
        if self.width < 16 or self.height < 16:
            raise ValueError(f"image size must be at least 16x16, got {self.width}x{self.height}")
        if not self.speed > 0 or self.speed == float("inf"):  # NaN fails "> 0" too
            raise ValueError(f"speed must be a finite number > 0, got {self.speed}")
        if not 0 < self.depth_scale <= 65535 / 10:
            raise ValueError(f"depth_scale must be in (0, 6553.5] so that 10 m fits in uint16, got {self.depth_scale}")
