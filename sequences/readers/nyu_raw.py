"""NYU Depth v2 raw scene folders: ``d-<t>-<n>.pgm`` depth, ``r-<t>-<n>.ppm`` colour, ``a-<t>-<n>.dump`` accel.

Synchronisation follows the toolbox's ``get_synched_frames.m``: files are sorted by name, depth is primary
(every depth frame is a Frame, its timestamp is the depth stamp), each takes the nearest RGB frame found by a
monotone pointer (advanced while the next RGB stamp is at least as close). ``Frame.meta["time_diff"]`` is
|t_depth - t_rgb| in seconds; ``max_time_diff`` (seconds, default None = keep all, like the toolbox) drops the
frames whose nearest RGB is further away.

Depth PGMs hold 11-bit raw disparity. The toolbox byte-swaps what ``imread`` returns, i.e. the payload is really
little-endian despite the PGM standard; we read little-endian, fall back to big-endian if that gives values
>= 2048, and refuse a frame that is impossible either way. Depth = 351.3 / (1092.5 - raw) clipped to [0, 10] m,
raw 2047 = invalid. With ``register=True`` (default) depth is undistorted and registered into the undistorted
RGB camera (z-buffer, nearest wins); with ``register=False`` the depth camera image is returned as it is, only
converted to metres (about 2.5 cm baseline and different intrinsics from the RGB: NOT pixel-aligned).
The colour image is always undistorted; the returned camera is the RGB camera without distortion.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.imageio_utils import read_pnm_raw
from slamseg.sequences.readers.nyu_kinect import (
    HEIGHT,
    INVALID_RAW,
    RGB_INTRINSICS,
    WIDTH,
    NyuRegistration,
    raw_to_metres,
)
from slamseg.sequences.sequence import Sequence

log = logging.getLogger(__name__)


def parse_kinect_time(path: Path) -> float:
    """Seconds from a toolbox name ``x-<unix_time>-<counter>.ext`` (only the first field counts, as the toolbox)."""
    try:
        return float(path.name[2:].split("-")[0])
    except ValueError as err:
        raise SequenceFormatError(f"{path}: expected a name '<d|r|a>-<unix_time>-<counter>.<ext>'") from err


def synchronise(depth_times: np.ndarray, rgb_times: np.ndarray) -> np.ndarray:
    """The toolbox's monotone nearest-RGB pointer: for each depth stamp, the index of its RGB frame.

    Args:
        depth_times: (N,) seconds in file order.
        rgb_times: (M,) seconds in file order, M >= 1.
    Returns:
        (N,) int64 indices into ``rgb_times``.
    """
    out = np.empty(len(depth_times), dtype=np.int64)
    j = 0
    for i, t in enumerate(depth_times):
        while j + 1 < len(rgb_times) and abs(t - rgb_times[j + 1]) <= abs(t - rgb_times[j]):
            j += 1
        out[i] = j
    return out


def read_raw_disparity(path: str | Path) -> tuple[np.ndarray, str]:
    """Read a NYU raw depth PGM as H x W uint16 11-bit disparity.

    Returns:
        (raw, byte_order): byte_order is "little" (the NYU data) or "big" (a standard-conforming re-save).
    """
    path = Path(path)
    data, maxval = read_pnm_raw(path)
    if data.ndim != 3 or data.shape[-1] != 2:
        raise SequenceFormatError(f"{path}: expected a 16-bit PGM (P5, maxval 65535) of raw disparity, "
                                  f"got {'PPM' if data.ndim == 3 else 'PGM'} with maxval {maxval}")
    raw = data[..., 0].astype(np.uint16) | (data[..., 1].astype(np.uint16) << 8)
    if raw.max() < 2048:
        return raw, "little"
    swapped = (data[..., 1].astype(np.uint16)) | (data[..., 0].astype(np.uint16) << 8)
    if swapped.max() < 2048:
        return swapped, "big"
    raise SequenceFormatError(
        f"{path}: impossible raw disparity: Kinect values are 11-bit (< 2048) but this file holds "
        f"{int(raw.max())} read little-endian and {int(swapped.max())} read big-endian"
    )


class NyuRawSequence(Sequence):
    """A NYU Depth v2 raw scene folder as Frames (see module doc).

    Args:
        root: the scene folder.
        register: undistort and register depth into the RGB camera (True) or return the depth image as it is.
        max_time_diff: seconds; drop depth frames whose nearest RGB frame is further away (None keeps all).
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
    """

    def __init__(self, root: Path, register: bool = True, max_time_diff: float | None = None,
                 strict: bool = True) -> None:
        super().__init__()
        self.root = Path(root)
        self.name = self.root.name
        self.register = register
        self.strict = strict
        names = sorted(p.name for p in self.root.iterdir())
        depth_files = [self.root / n for n in names if n.startswith("d-") and n.endswith(".pgm")]
        rgb_files = [self.root / n for n in names if n.startswith("r-") and n.endswith(".ppm")]
        accel_files = [self.root / n for n in names if n.startswith("a-") and n.endswith(".dump")]
        if not depth_files or not rgb_files:
            raise SequenceFormatError(
                f"{self.root}: a NYU raw scene folder needs d-*.pgm and r-*.ppm files, found "
                f"{len(depth_files)} depth and {len(rgb_files)} colour files"
            )
        depth_t = np.array([parse_kinect_time(p) for p in depth_files])
        rgb_t = np.array([parse_kinect_time(p) for p in rgb_files])
        rgb_of = synchronise(depth_t, rgb_t)
        accel_of = synchronise(depth_t, np.array([parse_kinect_time(p) for p in accel_files])) if accel_files else None
        self.frames: list[dict] = []
        for i, (d, t) in enumerate(zip(depth_files, depth_t)):
            diff = float(abs(t - rgb_t[rgb_of[i]]))
            if max_time_diff is not None and diff > max_time_diff:
                continue
            self.frames.append({"timestamp": float(t), "depth": d, "rgb": rgb_files[rgb_of[i]], "time_diff": diff,
                                "accel": accel_files[accel_of[i]] if accel_of is not None else None})
        dropped = len(depth_files) - len(self.frames)
        if dropped:
            log.info("%s: dropped %d depth frames with no RGB within %s s", self.root, dropped, max_time_diff)
        if not self.frames:
            raise SequenceFormatError(f"{self.root}: no depth frame has an RGB frame within {max_time_diff} s")
        fx, fy, cx, cy = RGB_INTRINSICS
        self.camera = Camera(fx, fy, cx, cy, WIDTH, HEIGHT)
        self._tables: NyuRegistration | None = None

    @property
    def tables(self) -> NyuRegistration:
        """Undistortion/registration tables, built on first use (about 0.1 s) and reused for every frame."""
        if self._tables is None:
            self._tables = NyuRegistration(HEIGHT, WIDTH)
        return self._tables

    def __len__(self) -> int:
        return len(self.frames)

    def _load_frame(self, i: int) -> Frame:
        info = self.frames[i]
        rgb_data, maxval = read_pnm_raw(info["rgb"])
        if rgb_data.shape != (HEIGHT, WIDTH, 3) or maxval > 255:
            raise SequenceFormatError(f"{info['rgb']}: expected an 8-bit P6 PPM of {WIDTH}x{HEIGHT}, got "
                                      f"array {rgb_data.shape} with maxval {maxval}")
        raw, byte_order = read_raw_disparity(info["depth"])
        if raw.shape != (HEIGHT, WIDTH):
            raise SequenceFormatError(f"{info['depth']}: expected {WIDTH}x{HEIGHT} depth, got "
                                      f"{raw.shape[1]}x{raw.shape[0]} (depth/RGB size mismatch)")
        tables = self.tables
        rgb = tables.undistort_rgb(rgb_data)
        depth = tables.register(raw) if self.register else raw_to_metres(raw)
        meta = {
            "source": str(info["depth"]),
            "rgb_source": str(info["rgb"]),
            "accel_source": None if info["accel"] is None else str(info["accel"]),
            "time_diff": info["time_diff"],
            "byte_order": byte_order,
            "registered": self.register,
            "invalid_raw_pixels": int(np.count_nonzero(raw == INVALID_RAW)),
        }
        return Frame(index=i, timestamp=info["timestamp"], rgb=rgb, camera=self.camera, depth=depth,
                     meta=meta).validate()


def open_nyu_raw(path: Path, register: bool = True, max_time_diff: float | None = None,
                 strict: bool = True) -> NyuRawSequence:
    """Open a NYU Depth v2 raw scene folder (see :class:`NyuRawSequence`)."""
    return NyuRawSequence(path, register=register, max_time_diff=max_time_diff, strict=strict)


def detect_nyu_raw(path: Path) -> bool:
    """A folder holding at least one ``d-*.pgm`` and one ``r-*.ppm``."""
    if not path.is_dir():
        return False
    return any(path.glob("d-*.pgm")) and any(path.glob("r-*.ppm"))
