"""Any folder of images (+ an optional folder of depth images) for standalone network runs.

Colour images are the folder's .png/.jpg/.jpeg/.ppm/.bmp files in name order; timestamps are index / ``fps``.
Depth (optional): ``depth_dir`` holding uint16 images with the same file stem, value / ``depth_scale`` metres.
Camera, first match wins: ``camera``; ``fov_deg`` (horizontal field of view, square pixels, principal point at
the image centre); else a DEFAULT GUESS: the Kinect/ROS focal length 525 px scaled to the image width
(fx = fy = 525 * width / 640, about 63 degrees horizontal), principal point at the centre. Depth back-projected
with a guessed camera is only roughly metric in x and y.
"""

from __future__ import annotations

import math
from pathlib import Path

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.imageio_utils import image_size
from slamseg.sequences.readers.rgbd_list import FrameEntry, RgbdListSequence

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp"}
DEFAULT_FOCAL_AT_640 = 525.0


def guess_camera(width: int, height: int, fov_deg: float | None = None) -> Camera:
    """Pinhole camera for an image of unknown calibration (see module doc); principal point at the centre."""
    if fov_deg is not None:
        if not 0 < fov_deg < 180:
            raise SequenceFormatError(f"fov_deg must be in (0, 180), got {fov_deg}")
        focal = 0.5 * width / math.tan(math.radians(fov_deg) / 2)
    else:
        focal = DEFAULT_FOCAL_AT_640 * width / 640.0
    return Camera(focal, focal, (width - 1) / 2, (height - 1) / 2, width, height)


def open_image_folder(path: Path, depth_dir: str | Path | None = None, depth_scale: float = 1000.0,
                      camera: Camera | None = None, fov_deg: float | None = None, fps: float = 30.0,
                      strict: bool = True, undistort: bool | None = None) -> RgbdListSequence:
    """Open a folder of images (see module doc). ``depth_dir`` is relative to ``path`` or absolute.

    A given ``camera`` with distortion coefficients makes the frames undistorted (``undistort=None``, the
    default; see :class:`RgbdListSequence`); ``undistort=False`` keeps them as stored.
    """
    root = Path(path)
    images = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise SequenceFormatError(f"{root}: no images (.png, .jpg, .jpeg, .ppm, .bmp) in this folder")
    depth_by_stem = {}
    if depth_dir is not None:
        depth_root = root / depth_dir
        if not depth_root.is_dir():
            raise SequenceFormatError(f"{depth_root}: depth folder is missing")
        depth_by_stem = {p.stem: p for p in depth_root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    entries = []
    for k, image in enumerate(images):
        depth = None
        if depth_dir is not None:
            depth = depth_by_stem.get(image.stem)
            if depth is None:  # lazily reported per frame, like any missing listed file
                depth = root / depth_dir / f"{image.stem}.png"
        entries.append(FrameEntry(timestamp=k / fps, rgb=image, depth=depth))
    if camera is None:
        camera = guess_camera(*image_size(images[0])[::-1], fov_deg=fov_deg)
    return RgbdListSequence(root.name, entries, camera, depth_scale, strict=strict, undistort=undistort)


def detect_image_folder(path: Path) -> bool:
    """Any folder holding image files directly (the fallback format: register it last)."""
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
