"""A Sequence over a list of RGB(-D) image files: the common core of the TUM, ICL-NUIM and Redwood readers.

A format reader parses its index files into :class:`FrameEntry` rows (paths, timestamp, pose) once, up front;
images are decoded lazily in ``_load_frame`` so that a missing or corrupt file raises
:class:`SequenceFormatError` for that frame only (``strict=False`` skips it).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.imageio_utils import read_label_image, read_png_rgb16, read_rgb, read_uint16
from slamseg.sequences.labelsets import LabelSet
from slamseg.sequences.sequence import Sequence
from slamseg.sequences.writers import decode_normals

log = logging.getLogger(__name__)

# Frames decoded ahead during iteration. PNG decoding (zlib) dominates reading and releases the GIL, so two
# threads nearly double the rate on 2 cores; a small window bounds memory (~1 MB per 640x480 frame).
PREFETCH_THREADS = 2
PREFETCH_WINDOW = 4


@dataclass
class FrameEntry:
    """Files and metadata of one frame, before decoding.

    Attributes:
        timestamp: seconds (of the colour image).
        rgb: colour image path.
        depth: uint16 depth image path (value / depth_scale = metres), or None.
        pose: 4 x 4 camera-to-world, or None.
        labels / normals: annotation image paths, or None.
        meta: extras copied into ``Frame.meta`` (e.g. ``time_diff`` between colour and depth stamps).
    """

    timestamp: float
    rgb: Path
    depth: Path | None = None
    pose: np.ndarray | None = None
    labels: Path | None = None
    normals: Path | None = None
    meta: dict = field(default_factory=dict)


class RgbdListSequence(Sequence):
    """Frames from a list of :class:`FrameEntry`; depth decoded as ``uint16 / depth_scale`` metres.

    Args:
        name: sequence name.
        entries: frames in order.
        camera: intrinsics of the colour images (size checked for every frame).
        depth_scale: stored depth units per metre (TUM 5000, millimetres 1000).
        label_set: the set the label images use, or None.
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
    """

    def __init__(
        self,
        name: str,
        entries: list[FrameEntry],
        camera: Camera,
        depth_scale: float,
        label_set: LabelSet | None = None,
        strict: bool = True,
    ) -> None:
        super().__init__()
        if depth_scale <= 0:
            raise SequenceFormatError(f"{name}: depth_scale must be positive, got {depth_scale}")
        self.name = name
        self.entries = entries
        self.camera = camera
        self.depth_scale = float(depth_scale)
        self.label_set = label_set
        self.strict = strict

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Frame]:
        """Frames in order, decoded ahead by a small thread pool; corrupt frames raise or are skipped (strict)."""
        with ThreadPoolExecutor(max_workers=PREFETCH_THREADS) as pool:
            pending: deque = deque()
            next_index = 0
            while pending or next_index < len(self):
                while next_index < len(self) and len(pending) < PREFETCH_WINDOW:
                    pending.append((next_index, pool.submit(self._load_frame, next_index)))
                    next_index += 1
                i, future = pending.popleft()
                try:
                    frame = future.result()
                except SequenceFormatError as err:
                    if self.strict:
                        for _, other in pending:
                            other.cancel()
                        raise
                    log.warning("skipping corrupt frame %d of %s: %s", i, self.name, err)
                    self.skipped.append((i, str(err)))
                    continue
                yield frame

    def _load_frame(self, i: int) -> Frame:
        entry = self.entries[i]
        size = self.camera.shape
        rgb = read_rgb(entry.rgb, size)
        depth = None
        if entry.depth is not None:
            raw = read_uint16(entry.depth, size)
            # Multiply by the reciprocal in float32: exact for the integer/5000 case to float32 rounding.
            depth = raw.astype(np.float32) * np.float32(1.0 / self.depth_scale)
        labels = None
        if entry.labels is not None:
            labels = read_label_image(entry.labels, size)
            if self.label_set is not None and labels.max(initial=0) >= len(self.label_set.names):
                raise SequenceFormatError(
                    f"{entry.labels}: label id {int(labels.max())} outside label set {self.label_set.name} "
                    f"(ids 0..{len(self.label_set.names) - 1})"
                )
        normals = decode_normals(read_png_rgb16(entry.normals, size)) if entry.normals is not None else None
        meta = {"source": str(entry.rgb), **entry.meta}
        if entry.depth is not None:
            meta["depth_source"] = str(entry.depth)
        frame = Frame(
            index=i,
            timestamp=entry.timestamp,
            rgb=rgb,
            camera=self.camera,
            depth=depth,
            pose=None if entry.pose is None else entry.pose.copy(),
            labels=labels,
            normals=normals,
            meta=meta,
        )
        return frame.validate()
