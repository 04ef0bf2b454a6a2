"""TUM RGB-D sequences (Sturm et al. 2012) and slamseg's TUM-style layout (+ labels/, normals/, camera.json).

- ``rgb.txt`` / ``depth.txt``: ``timestamp relative/path`` lines, ``#`` comments.
- Association as TUM's ``associate.py``: every (rgb, depth) pair closer than ``max_difference`` (0.02 s) is a
  candidate; candidates are taken greedily by increasing time difference, each stamp used at most once.
- Depth: uint16 / 5000 m (``camera.json``'s ``depth_scale`` or the ``depth_scale`` option override it).
- Intrinsics, first match wins: the ``camera`` option; ``camera.json``; ``freiburg1/2/3`` (or ``fr1/2/3``) in
  the folder name (ORB-SLAM2's calibration; freiburg1/2 have lens distortion); else the ROS default
  fx = fy = 525, cx = 319.5, cy = 239.5.
- Undistortion (``undistort``, default None = whenever the camera has distortion, i.e. freiburg1/2): the stored
  TUM images are distorted (depth is registered pixel-for-pixel to the distorted colour image by OpenNI), so
  colour is undistorted bilinearly and depth / labels / normals by nearest neighbour with the same remap tables,
  built once per sequence; the sequence's camera is the same K with ``distortion=None``. ``undistort=False``
  returns the stored images with the distorted camera (``Camera.distortion`` set; the semantic TSDF refuses it).
- Ground truth: ``groundtruth.txt`` interpolated at each colour stamp (linear + slerp); None outside the
  trajectory or across a gap of more than ``max_pose_gap`` seconds.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from slamseg.sequences.association import associate_stamps
from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.imageio_utils import image_size
from slamseg.sequences.labelsets import get_label_set
from slamseg.sequences.poses import interpolate_poses, read_tum_trajectory
from slamseg.sequences.readers.rgbd_list import FrameEntry, RgbdListSequence

log = logging.getLogger(__name__)

# ORB-SLAM2 Examples/RGB-D/TUM{1,2,3}.yaml: fx, fy, cx, cy, (k1, k2, p1, p2, k3).
TUM_INTRINSICS: dict[str, tuple[tuple[float, float, float, float], tuple[float, ...] | None]] = {
    "freiburg1": ((517.306408, 516.469215, 318.643040, 255.313989),
                  (0.262383, -0.953104, -0.005358, 0.002628, 1.163314)),
    "freiburg2": ((520.908620, 521.007327, 325.141442, 249.701764),
                  (0.231222, -0.784899, -0.003257, -0.000105, 0.917205)),
    "freiburg3": ((535.4, 539.2, 320.1, 247.6), None),
}
# The ROS/OpenNI default (gradslam's TUM loader uses it for every sequence).
ROS_DEFAULT_INTRINSICS = (525.0, 525.0, 319.5, 239.5)
TUM_DEPTH_SCALE = 5000.0


def read_tum_list(path: Path) -> list[tuple[float, str]]:
    """Parse a TUM file list: ``(timestamp_seconds, relative_path)`` per data line, in file order."""
    if not path.is_file():
        raise SequenceFormatError(f"{path}: list file is missing")
    out = []
    # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the first line
    for number, line in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 2:
            raise SequenceFormatError(f"{path}:{number}: expected 'timestamp filename', got {line!r}")
        try:
            stamp = float(fields[0])
        except ValueError as err:
            raise SequenceFormatError(f"{path}:{number}: unparsable timestamp {fields[0]!r}") from err
        if not np.isfinite(stamp):
            raise SequenceFormatError(f"{path}:{number}: non-finite timestamp {fields[0]!r}")
        out.append((stamp, fields[1]))
    return out


def associate(
    first: np.ndarray, second: np.ndarray, max_difference: float = 0.02, offset: float = 0.0
) -> list[tuple[int, int]]:
    """Associate two timestamp lists as TUM's ``associate.py`` does (its 0.02 s default and strict ``<``).

    Args:
        first, second: (N,), (M,) seconds; ``offset`` (seconds) is added to ``second``.
    Returns:
        (index into first, index into second) pairs sorted by the first index; see
        :func:`~slamseg.sequences.association.associate_stamps` for the rule.
    """
    index_first, index_second = associate_stamps(first, second, max_difference, offset)
    return list(zip(index_first.tolist(), index_second.tolist()))


def intrinsics_from_name(name: str) -> tuple[tuple[float, float, float, float], tuple[float, ...] | None] | None:
    """ORB-SLAM2 intrinsics for a folder name containing freiburg1/2/3 or fr1/2/3 (None if none does)."""
    m = re.search(r"(?:freiburg|fr)([123])(?![0-9])", name.lower())
    return TUM_INTRINSICS[f"freiburg{m.group(1)}"] if m else None


def _read_camera_json(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
        for key in ("fx", "fy", "cx", "cy", "width", "height"):
            float(meta[key])
    except (ValueError, KeyError, TypeError) as err:
        raise SequenceFormatError(
            f"{path}: expected JSON with fx, fy, cx, cy, width, height (+ depth_scale, label_set): {err}"
        ) from err
    return meta


def _by_stamp(entries: list[tuple[float, str]], root: Path) -> dict[int, Path]:
    # Annotation images share their colour frame's stamp; key on microseconds (the "%.6f" names).
    return {round(t * 1e6): root / rel for t, rel in entries}


def open_tum(
    path: Path,
    camera: Camera | None = None,
    depth_scale: float | None = None,
    max_difference: float = 0.02,
    max_pose_gap: float = 0.1,
    label_set: str | None = None,
    strict: bool = True,
    undistort: bool | None = None,
) -> RgbdListSequence:
    """Open a TUM RGB-D folder (or slamseg TUM-style folder) as a Sequence.

    Args:
        path: the folder holding rgb.txt.
        camera: intrinsics overriding every other source.
        depth_scale: stored units per metre (default: camera.json's, else 5000).
        max_difference: seconds, colour-depth association threshold.
        max_pose_gap: seconds, the largest ground-truth gap to interpolate across.
        label_set: label set of labels/ (default: camera.json's ``label_set``).
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
        undistort: undistort frames (True), keep them as stored (False), or None: when the camera has distortion.
    """
    root = Path(path)
    rgb_list = read_tum_list(root / "rgb.txt")
    if not rgb_list:
        raise SequenceFormatError(f"{root / 'rgb.txt'}: lists no frames")
    meta = _read_camera_json(root / "camera.json") if (root / "camera.json").is_file() else {}

    rgb_stamps = np.array([t for t, _ in rgb_list])
    depth_list = read_tum_list(root / "depth.txt") if (root / "depth.txt").is_file() else None
    if depth_list is None:
        pairs = [(i, None) for i in range(len(rgb_list))]
    else:
        pairs = associate(rgb_stamps, np.array([t for t, _ in depth_list]), max_difference)
        if not pairs:
            raise SequenceFormatError(
                f"{root}: no rgb.txt/depth.txt stamps within {max_difference} s of each other"
            )
        log.debug("%s: associated %d of %d colour frames", root, len(pairs), len(rgb_list))

    gt_stamps, gt_poses = (read_tum_trajectory(root / "groundtruth.txt") if (root / "groundtruth.txt").is_file()
                           else (np.zeros(0), np.zeros((0, 4, 4))))
    labels = _by_stamp(read_tum_list(root / "labels.txt"), root) if (root / "labels.txt").is_file() else {}
    normals = _by_stamp(read_tum_list(root / "normals.txt"), root) if (root / "normals.txt").is_file() else {}

    gt_at_frames = interpolate_poses(gt_stamps, gt_poses, np.array([rgb_list[i][0] for i, _ in pairs]), max_pose_gap)
    entries = []
    for (i, j), pose in zip(pairs, gt_at_frames):
        t, rel = rgb_list[i]
        key = round(t * 1e6)
        entry = FrameEntry(
            timestamp=t,
            rgb=root / rel,
            pose=pose,
            labels=labels.get(key),
            normals=normals.get(key),
        )
        if j is not None:
            entry.depth = root / depth_list[j][1]
            entry.meta["time_diff"] = abs(depth_list[j][0] - t)
            entry.meta["depth_timestamp"] = depth_list[j][0]
        entries.append(entry)

    if camera is None:
        camera = _tum_camera(root, meta, entries[0].rgb)
    scale = depth_scale if depth_scale is not None else float(meta.get("depth_scale", TUM_DEPTH_SCALE))
    set_name = label_set if label_set is not None else meta.get("label_set")
    sequence = RgbdListSequence(
        name=root.name,
        entries=entries,
        camera=camera,
        depth_scale=scale,
        label_set=get_label_set(set_name) if set_name else None,
        strict=strict,
        undistort=undistort,
    )
    if len(gt_stamps):
        sequence.ground_truth = (gt_stamps, gt_poses)
    return sequence


def _tum_camera(root: Path, meta: dict, first_rgb: Path) -> Camera:
    if meta:
        return Camera.from_dict(meta)
    height, width = image_size(first_rgb)
    known = intrinsics_from_name(root.resolve().name)
    if known is not None:
        (fx, fy, cx, cy), dist = known
        return Camera(fx, fy, cx, cy, width, height, distortion=dist)
    fx, fy, cx, cy = ROS_DEFAULT_INTRINSICS
    log.info("%s: no camera.json and no freiburg1/2/3 in the name; using the ROS default intrinsics", root)
    return Camera(fx, fy, cx, cy, width, height)


def detect_tum(path: Path) -> bool:
    """A folder with rgb.txt (TUM RGB-D or slamseg TUM-style)."""
    return path.is_dir() and (path / "rgb.txt").is_file()
