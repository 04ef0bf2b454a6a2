"""ScanNet scans as exported by ScanNet's SensReader (``reader.py --export_color_images --export_depth_images
--export_poses --export_intrinsics``).

Layout of a scan folder (file names are frame numbers, ordered numerically: 0, 1, 2, ..., 10):

- ``color/0.jpg``: colour, 1296 x 968 in real ScanNet;
- ``depth/0.png``: uint16 millimetres, 0 = invalid, 640 x 480;
- ``pose/0.txt`` (optional): 4 x 4 camera-to-world; rows of ``-inf`` mark frames where ScanNet's tracking failed:
  those frames get ``pose=None``;
- ``intrinsic/intrinsic_depth.txt``, ``intrinsic_color.txt`` (4 x 4, K in the top-left block), and
  ``extrinsic_depth.txt`` / ``extrinsic_color.txt`` (4 x 4).

Frames are at the DEPTH resolution: the camera is ``intrinsic_depth.txt`` (else ``intrinsic_color.txt`` scaled to
the depth size, else the ``camera`` option) and colour is resized bilinearly to the depth size. This is what
ScanNet's own depth/colour pairing amounts to (the exported depth is registered to colour up to that scale; its
intrinsics are the colour ones scaled to 640 x 480 within a pixel). The extrinsics are identity in ScanNet's
exports and are not applied (a warning says when they are not). Timestamps are frame number / 30 s (the export
keeps the original frame numbers, so ``--frame_skip`` exports keep their spacing). Label images (``label/``,
``label-filt/``, ScanNet ids) and instance images are not read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.imageio_utils import image_size
from slamseg.sequences.readers.rgbd_list import FrameEntry, RgbdListSequence
from slamseg.sequences.readers.sevenscenes import read_intrinsics_txt, read_pose_file

log = logging.getLogger(__name__)

DEPTH_SCALE = 1000.0
FPS = 30.0
_COLOUR_SUFFIXES = (".jpg", ".jpeg", ".png")


def _numbered(folder: Path, suffixes: tuple[str, ...]) -> dict[int, Path]:
    """Frame number -> file for the files of ``folder`` named ``<integer><suffix>``."""
    out = {}
    for p in folder.iterdir():
        if p.suffix.lower() in suffixes and p.stem.isdigit():
            out[int(p.stem)] = p
    return out


def _check_extrinsics(folder: Path) -> None:
    for name in ("extrinsic_depth.txt", "extrinsic_color.txt"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            matrix = np.array([float(v) for v in path.read_text().split()]).reshape(4, 4)
        except ValueError as err:
            raise SequenceFormatError(f"{path}: expected the 16 numbers of a 4x4 matrix: {err}") from err
        if not np.allclose(matrix, np.eye(4), atol=1e-6):
            log.warning("%s is not identity; slamseg does not apply ScanNet's extrinsics (poses are used as "
                        "stored, depth and colour as registered)", path)


def _scannet_camera(root: Path, width: int, height: int, colour_size: tuple[int, int]) -> Camera:
    folder = root / "intrinsic"
    if (folder / "intrinsic_depth.txt").is_file():
        return read_intrinsics_txt(folder / "intrinsic_depth.txt", width, height)
    if (folder / "intrinsic_color.txt").is_file():
        log.info("%s: no intrinsic_depth.txt; using intrinsic_color.txt scaled to the depth size", folder)
        colour_camera = read_intrinsics_txt(folder / "intrinsic_color.txt", colour_size[1], colour_size[0])
        return colour_camera.scaled(width, height)
    raise SequenceFormatError(
        f"{folder / 'intrinsic_depth.txt'}: intrinsics file is missing (expected ScanNet's intrinsic/"
        "intrinsic_depth.txt or intrinsic_color.txt; or pass camera=...)")


def open_scannet(path: Path, camera: Camera | dict | None = None, strict: bool = True) -> RgbdListSequence:
    """Open a ScanNet scan exported by SensReader (see module doc).

    Args:
        path: the scan folder holding color/, depth/ (pose/, intrinsic/).
        camera: intrinsics of the depth images, overriding intrinsic/.
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
    """
    root = Path(path)
    for sub in ("color", "depth"):
        if not (root / sub).is_dir():
            raise SequenceFormatError(f"{root / sub}: folder is missing (a ScanNet export has color/ and depth/)")
    colours = _numbered(root / "color", _COLOUR_SUFFIXES)
    if not colours:
        raise SequenceFormatError(f"{root / 'color'}: no colour images named <frame number>.jpg")
    depths = _numbered(root / "depth", (".png",))
    numbers = sorted(colours)
    missing = [n for n in numbers if n not in depths]
    if missing:
        raise SequenceFormatError(
            f"{root / 'depth' / f'{missing[0]}.png'}: depth image is missing ({len(missing)} of {len(numbers)} "
            "colour frames have no depth/<frame number>.png)")
    poses: dict[int, np.ndarray | None] = {}
    if (root / "pose").is_dir():
        pose_files = _numbered(root / "pose", (".txt",))
        poses = {n: read_pose_file(pose_files[n]) for n in numbers if n in pose_files}
        invalid = sum(1 for p in poses.values() if p is None)
        if invalid or len(poses) < len(numbers):
            log.info("%s: %d frames without a valid pose (-inf rows or no pose file)", root,
                     invalid + len(numbers) - len(poses))
    entries = [FrameEntry(timestamp=n / FPS, rgb=colours[n], depth=depths[n], pose=poses.get(n),
                          meta={"frame_number": n}) for n in numbers]
    height, width = image_size(entries[0].depth)
    colour_size = image_size(entries[0].rgb)
    if isinstance(camera, dict):
        camera = Camera.from_dict(camera)
    if camera is None:
        camera = _scannet_camera(root, width, height, colour_size)
    if (root / "intrinsic").is_dir():
        _check_extrinsics(root / "intrinsic")
    return RgbdListSequence(root.name, entries, camera, DEPTH_SCALE, strict=strict,
                            resize_rgb=colour_size != (height, width))


def detect_scannet(path: Path) -> bool:
    """A folder with color/ and depth/ plus pose/ or intrinsic/ (SensReader's export folders)."""
    return (path.is_dir() and (path / "color").is_dir() and (path / "depth").is_dir()
            and ((path / "pose").is_dir() or (path / "intrinsic").is_dir()))
