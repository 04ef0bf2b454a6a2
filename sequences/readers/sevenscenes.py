"""Microsoft 7-Scenes, 3DMatch RGB-D and tsdf-fusion frame folders (``frame-NNNNNN.*`` files).

A sequence folder holds, per frame:

- ``frame-000000.color.png`` (7-Scenes, 3DMatch) or ``.color.jpg`` (tsdf-fusion): 8-bit colour;
- ``frame-000000.depth.png``: uint16 millimetres, 65535 = no measurement (read as 0 = invalid);
- ``frame-000000.pose.txt`` (optional): 4 x 4 camera-to-world (KinectFusion's). Some 7-Scenes frames hold
  ``inf`` / ``nan`` rows where tracking failed: those frames get ``pose=None``.

Intrinsics, first match wins: the ``camera`` option; ``camera-intrinsics.txt`` (a 3 x 3 K, 3DMatch and
tsdf-fusion) in the folder or its parent; else 7-Scenes' documented KinectFusion defaults fx = fy = 585,
cx = 320, cy = 240 for 640 x 480 (scaled to another depth size), logged. The camera is the DEPTH image's; a colour
image of another size is resized to it. 7-Scenes ships no colour-depth calibration: its colour and depth are
NOT registered, and frames pair them as stored (colour is a few pixels off the depth; labels fused from colour
land that far off). 3DMatch / tsdf-fusion fuse colour with the depth intrinsics, as done here.

Timestamps are frame number / 30 s (Kinect v1 rate; the files carry none). A 7-Scenes or 3DMatch scene folder
holds ``seq-01``, ``seq-02``...: with exactly one sequence subfolder it is opened; with several, opening fails
with an error listing them (pass one of them).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.imageio_utils import image_size
from slamseg.sequences.readers.rgbd_list import FrameEntry, RgbdListSequence

log = logging.getLogger(__name__)

SEVEN_SCENES_INTRINSICS = (585.0, 585.0, 320.0, 240.0)  # for 640 x 480, 7-Scenes' documented defaults
SEVEN_SCENES_SIZE = (640, 480)
DEPTH_SCALE = 1000.0
INVALID_DEPTH = 65535
FPS = 30.0
_COLOUR = re.compile(r"^frame-(\d+)\.color\.(png|jpg|jpeg)$", re.IGNORECASE)


def _colour_frames(folder: Path) -> dict[int, Path]:
    """Frame number -> colour image of a sequence folder (empty when it holds none)."""
    out = {}
    for p in folder.iterdir():
        m = _COLOUR.match(p.name)
        if m:
            out[int(m.group(1))] = p
    return out


def _sequence_subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_dir() and (any(p.glob("frame-*.color.png")) or any(p.glob("frame-*.color.jp*g"))))


def read_pose_file(path: Path) -> np.ndarray | None:
    """A 4 x 4 camera-to-world pose from a ``frame-*.pose.txt`` (16 numbers); None when it holds inf / nan."""
    try:
        values = [float(v) for v in path.read_text(encoding="utf-8-sig").split()]
    except (UnicodeDecodeError, ValueError) as err:
        raise SequenceFormatError(f"{path}: expected 16 numbers of a 4x4 camera-to-world pose: {err}") from err
    if len(values) != 16:
        raise SequenceFormatError(f"{path}: expected 16 numbers of a 4x4 camera-to-world pose, got {len(values)}")
    pose = np.array(values, dtype=np.float64).reshape(4, 4)
    return pose if np.all(np.isfinite(pose)) else None


def read_intrinsics_txt(path: Path, width: int, height: int) -> Camera:
    """Camera of ``width`` x ``height`` images from a 3 x 3 K text file (``camera-intrinsics.txt``).

    ScanNet's 4 x 4 ``intrinsic_*.txt`` files are accepted too (their top-left 3 x 3 block).
    """
    try:
        values = [float(v) for v in path.read_text(encoding="utf-8-sig").split()]
    except (UnicodeDecodeError, ValueError) as err:
        raise SequenceFormatError(f"{path}: expected the 9 numbers of a 3x3 intrinsic matrix: {err}") from err
    if len(values) == 16:
        k = np.array(values).reshape(4, 4)[:3, :3]
    elif len(values) == 9:
        k = np.array(values).reshape(3, 3)
    else:
        raise SequenceFormatError(f"{path}: expected the 9 numbers of a 3x3 intrinsic matrix, got {len(values)}")
    try:
        return Camera(k[0, 0], k[1, 1], k[0, 2], k[1, 2], width, height)
    except SequenceFormatError as err:
        raise SequenceFormatError(f"{path}: {err}") from None


def open_seven_scenes(path: Path, camera: Camera | dict | None = None, strict: bool = True,
                      undistort: bool | None = None) -> RgbdListSequence:
    """Open a 7-Scenes / 3DMatch / tsdf-fusion sequence folder (see module doc).

    Args:
        path: the folder holding ``frame-*.color.*`` (or a scene folder with exactly one such subfolder).
        camera: intrinsics of the depth images, overriding ``camera-intrinsics.txt`` and the defaults.
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
        undistort: as :class:`RgbdListSequence` (only a given ``camera`` can carry distortion).
    """
    root = Path(path)
    colours = _colour_frames(root)
    if not colours:
        subs = _sequence_subfolders(root)
        if not subs:
            raise SequenceFormatError(
                f"{root}: expected frame-000000.color.png (or .jpg) files, or seq-XX subfolders holding them")
        if len(subs) > 1:
            raise SequenceFormatError(
                f"{root}: a 7-Scenes/3DMatch scene folder with {len(subs)} sequences "
                f"({', '.join(p.name for p in subs)}); open one of them, e.g. {subs[0]}")
        log.info("%s: opening its only sequence %s", root, subs[0].name)
        root, colours = subs[0], _colour_frames(subs[0])
    numbers = sorted(colours)
    depth = {n: root / f"{colours[n].name.split('.')[0]}.depth.png" for n in numbers}
    missing = [n for n in numbers if not depth[n].is_file()]
    if missing:
        raise SequenceFormatError(
            f"{depth[missing[0]]}: depth image is missing ({len(missing)} of {len(numbers)} frames lack the "
            f"frame-NNNNNN.depth.png expected beside frame-NNNNNN.color.*)")
    pose_files = {n: depth[n].with_name(depth[n].name.replace(".depth.png", ".pose.txt")) for n in numbers}
    have_pose = [n for n in numbers if pose_files[n].is_file()]
    if have_pose and len(have_pose) < len(numbers):
        log.warning("%s: %d of %d frames have no pose file; they get no pose", root, len(numbers) - len(have_pose),
                    len(numbers))
    poses = {n: read_pose_file(pose_files[n]) for n in have_pose}
    unknown = sum(1 for p in poses.values() if p is None)
    if unknown:
        log.info("%s: %d pose files hold inf/nan (tracking lost); those frames get no pose", root, unknown)
    entries = [FrameEntry(timestamp=n / FPS, rgb=colours[n], depth=depth[n], pose=poses.get(n),
                          meta={"frame_number": n}) for n in numbers]

    height, width = image_size(entries[0].depth)
    if isinstance(camera, dict):
        camera = Camera.from_dict(camera)
    if camera is None:
        camera = _find_camera(root, width, height)
    colour_size = image_size(entries[0].rgb)
    if colour_size != (height, width):
        log.info("%s: colour is %dx%d, depth %dx%d; colour is resized to the depth size", root, colour_size[1],
                 colour_size[0], width, height)
    name = f"{root.parent.name}_{root.name}" if root.name.startswith("seq") else root.name
    return RgbdListSequence(name, entries, camera, DEPTH_SCALE, strict=strict, undistort=undistort,
                            invalid_depth=INVALID_DEPTH, resize_rgb=colour_size != (height, width))


def _find_camera(root: Path, width: int, height: int) -> Camera:
    for folder in (root, root.parent):
        if (folder / "camera-intrinsics.txt").is_file():
            return read_intrinsics_txt(folder / "camera-intrinsics.txt", width, height)
    log.info("%s: no camera-intrinsics.txt here or in the parent folder; using 7-Scenes' KinectFusion intrinsics "
             "fx=fy=585, cx=320, cy=240 (at 640x480)", root)
    camera = Camera(*SEVEN_SCENES_INTRINSICS, *SEVEN_SCENES_SIZE)
    return camera if (width, height) == SEVEN_SCENES_SIZE else camera.scaled(width, height)


def detect_seven_scenes(path: Path) -> bool:
    """A folder with ``frame-*.color.png|jpg`` files, or with subfolders holding them (a scene)."""
    if not path.is_dir():
        return False
    if any(_COLOUR.match(p.name) for p in path.iterdir()):
        return True
    return bool(_sequence_subfolders(path))
