"""Config sections shared by several commands: where frames come from and how the network runs.

Light module (no torch/open3d import) so configs load fast and validate before any heavy work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class SequenceSource:
    """A sequence on disk and the frames of it to use.

    Attributes:
        path: dataset folder or file (NYU raw scene, NYU .mat, TUM, ICL-NUIM, Redwood, KITTI, 7-Scenes / 3DMatch,
            ScanNet export, ROS 1 .bag or ROS 2 bag folder, image folder).
        format: format name; None detects it (see ``slamseg.sequences.known_formats``).
        start, stop, step: frame range (Python slice semantics; stop None = to the end).
        options: reader options, e.g. ``{strict: false}`` or ``{max_time_diff: 0.02}``.
    """

    path: str = ""
    format: str | None = None
    start: int = 0
    stop: int | None = None
    step: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.step < 1:
            raise ValueError(f"sequence.step must be >= 1, got {self.step}")
        if self.start < 0:
            raise ValueError(f"sequence.start must be >= 0, got {self.start}")


@dataclass
class NetworkOptions:
    """How the joint network runs.

    Attributes:
        checkpoint: slamseg or released checkpoint file; None = the model bundled with slamseg.
        device: torch device ("cpu", "cuda", "cuda:1").
        input_width, input_height: network input size in pixels (images are resized; outputs come back at the
            image's size); None = the image's own size.
        batch_size: frames per forward pass.
        precision: "fp32"; "fp16" (GPU); "bf16" (GPU, or a CPU with AVX-512 BF16 / AMX); "int8" (backend
            onnxruntime, calibrated on synthetic rooms at start-up).
        backend: runtime of the network on CPU: "torch", "openvino" or "onnxruntime".
        threads: CPU threads for torch; None = torch's default.
        class_slice: for a multi-dataset model, the label set (e.g. "nyu40") whose channels to use.
    """

    checkpoint: str | None = None
    device: str = "cpu"
    input_width: int | None = 320
    input_height: int | None = 240
    batch_size: int = 4
    precision: Literal["fp32", "fp16", "bf16", "int8"] = "fp32"
    backend: Literal["torch", "openvino", "onnxruntime"] = "torch"
    threads: int | None = None
    class_slice: str | None = None

    def __post_init__(self) -> None:
        if (self.input_width is None) != (self.input_height is None):
            raise ValueError("network.input_width and network.input_height must be given together")
        if self.input_width is not None and (self.input_width < 32 or self.input_height < 32):
            raise ValueError(f"network input must be at least 32x32, got {self.input_width}x{self.input_height}")
        if self.batch_size < 1:
            raise ValueError(f"network.batch_size must be >= 1, got {self.batch_size}")

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(width, height) or None."""
        return None if self.input_width is None else (self.input_width, self.input_height)
