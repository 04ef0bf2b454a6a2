"""Write any Sequence (or iterable of Frames) to slamseg's TUM-style folder layout.

Layout (read back by the ``tum`` reader)::

    rgb.txt, depth.txt           "# comments", then "timestamp relative/path" per line
    rgb/<ts>.png                 8-bit RGB
    depth/<ts>.png               uint16, depth_m * depth_scale (0 = invalid)
    groundtruth.txt              "timestamp tx ty tz qx qy qz qw" camera-to-world (frames with a pose only)
    labels.txt + labels/<ts>.png uint8 (uint16 when ids > 255) class ids
    normals.txt + normals/<ts>.png  uint16 RGB, v = round((n + 1) / 2 * 65535), (0,0,0) = invalid
    camera.json                  {"fx","fy","cx","cy","width","height","depth_scale","label_set"}

``<ts>`` is the frame timestamp formatted ``%.6f``. Every file is written atomically; the list files and
camera.json are written last, so an interrupted write leaves no list pointing at a missing image.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from slamseg.sequences.atomic import atomic_write_text
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.imageio_utils import write_png, write_png_rgb16
from slamseg.sequences.poses import format_tum_trajectory

log = logging.getLogger(__name__)

TUM_DEPTH_SCALE = 5000.0
MM_DEPTH_SCALE = 1000.0


def encode_depth(depth: np.ndarray, depth_scale: float) -> np.ndarray:
    """Metres (H x W float, 0 = invalid) -> H x W uint16 ``round(depth * depth_scale)``.

    Depths too far for uint16 (> 65535 / depth_scale m, 13.1 m at 5000) and non-finite values become 0 (invalid).
    """
    scaled = np.rint(np.nan_to_num(depth.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0) * depth_scale)
    too_far = scaled > 65535
    if too_far.any():
        log.warning("%d depth pixels beyond %.2f m cannot be stored at scale %g; written as 0 (invalid)",
                    int(too_far.sum()), 65535 / depth_scale, depth_scale)
        scaled[too_far] = 0
    scaled[scaled < 0] = 0
    return scaled.astype(np.uint16)


def encode_normals(normals: np.ndarray) -> np.ndarray:
    """H x W x 3 unit normals in [-1, 1] (zero vector = invalid) -> H x W x 3 uint16 (invalid -> 0, 0, 0)."""
    n = np.clip(normals.astype(np.float64), -1.0, 1.0)
    encoded = np.rint((n + 1.0) * 0.5 * 65535).astype(np.uint16)
    encoded[~np.any(normals != 0, axis=-1)] = 0
    return encoded


def decode_normals(encoded: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_normals`: H x W x 3 uint16 -> float32 normals, (0,0,0) pixels -> zero vectors."""
    n = encoded.astype(np.float32) / np.float32(65535) * 2 - 1
    n[~np.any(encoded != 0, axis=-1)] = 0
    return n


def _list_text(title: str, entries: list[tuple[str, str]]) -> str:
    lines = [f"# {title}", "# timestamp filename"] + [f"{ts} {rel}" for ts, rel in entries]
    return "\n".join(lines) + "\n"


def write_tum_sequence(
    frames: Iterable[Frame],
    out_dir: str | Path,
    depth_scale: float = TUM_DEPTH_SCALE,
    label_set: str | None = None,
    write_labels: bool = True,
    write_normals: bool = True,
    extra_camera: dict | None = None,
) -> Path:
    """Write frames in slamseg's TUM-style layout (see module doc).

    Args:
        frames: a Sequence or any iterable of Frames, all with the same camera; timestamps must be distinct at
            microsecond precision.
        out_dir: target folder (created; existing files of the same names are replaced).
        depth_scale: stored value per metre: 5000 (TUM) or 1000 (depth in millimetres, ``MM_DEPTH_SCALE``).
        label_set: label set name for camera.json; defaults to the sequence's ``label_set`` if it has one.
        write_labels / write_normals: write these annotations when frames carry them.
        extra_camera: extra keys merged into camera.json (e.g. the synthetic generator's seed).
    Returns:
        ``out_dir`` as a Path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if label_set is None and getattr(frames, "label_set", None) is not None:
        label_set = frames.label_set.name  # type: ignore[union-attr]
    lists: dict[str, list[tuple[str, str]]] = {"rgb": [], "depth": [], "labels": [], "normals": []}
    stamps, poses = [], []
    camera = None
    seen: set[str] = set()
    for frame in frames:
        frame.validate()
        if camera is None:
            camera = frame.camera
        elif frame.camera.shape != camera.shape:
            raise SequenceFormatError(
                f"frame {frame.index}: camera size {frame.camera.shape} differs from the first frame's {camera.shape}"
            )
        ts = f"{frame.timestamp:.6f}"
        if ts in seen:
            raise SequenceFormatError(f"frame {frame.index}: duplicate timestamp {ts}; TUM file names need unique ones")
        seen.add(ts)
        write_png(out / "rgb" / f"{ts}.png", frame.rgb)
        lists["rgb"].append((ts, f"rgb/{ts}.png"))
        if frame.depth is not None:
            write_png(out / "depth" / f"{ts}.png", encode_depth(frame.depth, depth_scale))
            lists["depth"].append((ts, f"depth/{ts}.png"))
        if write_labels and frame.labels is not None:
            if frame.labels.min(initial=0) < 0 or frame.labels.max(initial=0) > 65535:
                raise SequenceFormatError(f"frame {frame.index}: label ids outside 0..65535")
            dtype = np.uint8 if frame.labels.max(initial=0) <= 255 else np.uint16
            write_png(out / "labels" / f"{ts}.png", frame.labels.astype(dtype))
            lists["labels"].append((ts, f"labels/{ts}.png"))
        if write_normals and frame.normals is not None:
            write_png_rgb16(out / "normals" / f"{ts}.png", encode_normals(frame.normals))
            lists["normals"].append((ts, f"normals/{ts}.png"))
        if frame.pose is not None:
            stamps.append(frame.timestamp)
            poses.append(frame.pose)
    if camera is None:
        raise SequenceFormatError(f"{out}: no frames to write")

    titles = {"rgb": "color images", "depth": f"depth maps (uint16, depth_m * {depth_scale:g})",
              "labels": f"label images ({label_set or 'unknown label set'})",
              "normals": "normals (uint16 RGB, n = v / 65535 * 2 - 1, camera frame)"}
    for key, entries in lists.items():
        if entries:
            atomic_write_text(out / f"{key}.txt", _list_text(titles[key], entries))
    if poses:
        text = format_tum_trajectory(np.array(stamps), np.array(poses), "ground-truth trajectory")
        atomic_write_text(out / "groundtruth.txt", text)
    meta = {**camera.to_dict(), "depth_scale": float(depth_scale), "label_set": label_set, **(extra_camera or {})}
    atomic_write_text(out / "camera.json", json.dumps(meta, indent=2) + "\n")
    log.info("wrote %d frames to %s", len(lists["rgb"]), out)
    return out
