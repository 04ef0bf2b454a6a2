"""A Sequence over a list of RGB(-D) image files: the common core of the TUM, ICL-NUIM and Redwood readers.

A format reader parses its index files into :class:`FrameEntry` rows (paths, timestamp, pose) once, up front;
images are decoded lazily in ``_load_frame`` so that a missing or corrupt file raises
:class:`SequenceFormatError` for that frame only (``strict=False`` skips it).

Lens distortion: when the camera has distortion coefficients (TUM freiburg1/2), frames are undistorted by default
(``undistort=None`` means "when the camera has distortion"): colour bilinearly, depth, labels and normals by
nearest neighbour, with remap tables built once per sequence (:mod:`slamseg.sequences.undistort`). The sequence's
camera is then the same K with ``distortion=None``, which is what the maps and the tracker expect.

Two dataset quirks are options: ``invalid_depth`` (a raw value that means "no measurement", e.g. 65535 in
7-Scenes, read as 0) and ``resize_rgb`` (colour stored at another size than depth, e.g. ScanNet's 1296x968 colour
with 640x480 depth: colour is resized to the camera's size, the depth's, with :func:`resize_rgb`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.imageio_utils import read_label_image, read_png_rgb16, read_rgb, read_uint16
from slamseg.sequences.labelsets import LabelSet
from slamseg.sequences.sequence import Sequence
from slamseg.sequences.undistort import Undistorter, has_distortion
from slamseg.sequences.writers import decode_normals

log = logging.getLogger(__name__)

# Frames decoded ahead during iteration. PNG decoding (zlib) dominates reading and releases the GIL, so two
# threads nearly double the rate on 2 cores; a small window bounds memory (~1 MB per 640x480 frame).
PREFETCH_THREADS = 2
PREFETCH_WINDOW = 4


def resize_rgb(rgb: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """H x W x 3 uint8 colour resized to ``shape`` = (height, width), bilinear; Pillow widens the filter when
    shrinking, so a 2x reduction averages instead of aliasing. Returns the input when it has that size already."""
    if rgb.shape[:2] == tuple(shape):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


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
        undistort: undistort every frame and return a camera without distortion (True), return the images as
            stored with the distorted camera (False), or None: True exactly when ``camera`` has non-zero
            distortion coefficients.
        invalid_depth: a raw stored depth value that marks a missing measurement (read as 0), or None.
        resize_rgb: resize colour images of any size to the camera's (bilinear) instead of refusing them.
    """

    def __init__(
        self,
        name: str,
        entries: list[FrameEntry],
        camera: Camera,
        depth_scale: float,
        label_set: LabelSet | None = None,
        strict: bool = True,
        undistort: bool | None = None,
        invalid_depth: int | None = None,
        resize_rgb: bool = False,
    ) -> None:
        super().__init__()
        if not depth_scale > 0 or not np.isfinite(depth_scale):  # NaN fails "> 0" too
            raise SequenceFormatError(f"{name}: depth_scale must be a finite number > 0, got {depth_scale}")
        self.name = name
        self.entries = entries
        self.stored_camera = camera  # intrinsics of the files as stored (with their distortion, if any)
        self.undistort = has_distortion(camera) if undistort is None else bool(undistort and has_distortion(camera))
        self.camera = replace(camera, distortion=None) if self.undistort else camera
        self._undistorter: Undistorter | None = None
        self.depth_scale = float(depth_scale)
        self.label_set = label_set
        self.strict = strict
        self.invalid_depth = invalid_depth
        self.resize_rgb = resize_rgb

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def undistorter(self) -> Undistorter | None:
        """Remap tables of the stored camera (built on first use, ~0.1 s at 640x480), or None without undistortion.

        Two prefetch threads may both build them on the first frames; the tables are identical and one assignment
        wins, so no lock is needed (a lock would also make the sequence unpicklable for DataLoader workers).
        """
        if self.undistort and self._undistorter is None:
            self._undistorter = Undistorter(self.stored_camera)
        return self._undistorter

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
        undistorter = self.undistorter
        rgb = resize_rgb(read_rgb(entry.rgb), size) if self.resize_rgb else read_rgb(entry.rgb, size)
        if undistorter is not None:
            rgb = undistorter.rgb(rgb)
        depth = None
        if entry.depth is not None:
            raw = read_uint16(entry.depth, size)
            if self.invalid_depth is not None:
                raw = np.where(raw == self.invalid_depth, np.uint16(0), raw)
            if undistorter is not None:  # nearest on the stored uint16: half the bytes to gather of float32
                raw = undistorter.depth(raw)
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
            if undistorter is not None:
                labels = undistorter.labels(labels, self.label_set.void_id if self.label_set is not None else 0)
        normals = decode_normals(read_png_rgb16(entry.normals, size)) if entry.normals is not None else None
        if normals is not None and undistorter is not None:
            normals = undistorter.normals(normals)
        meta = {"source": str(entry.rgb), "undistorted": undistorter is not None, **entry.meta}
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
