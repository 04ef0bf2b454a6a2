"""KITTI raw drive folders: ``image_02/data/*.png`` with velodyne scans projected into sparse depth.

Layout (KITTI raw "sync" release): ``<date>/<date>_drive_XXXX_sync/image_02/data/<10 digits>.png``,
``.../velodyne_points/data/<10 digits>.bin`` (float32 N x 4: x, y, z, reflectance, metres, velodyne frame),
``.../image_02/timestamps.txt`` (optional), and ``calib_cam_to_cam.txt`` / ``calib_velo_to_cam.txt`` in the drive
folder or its parent. A scan point X goes to the image as ``P_rect_02 @ R_rect_00 @ [R|T]_velo_to_cam @ X``; its
depth is the third homogeneous coordinate (z in the rectified camera 2 frame); several points on one pixel keep the
nearest (z-buffer). ``depth_source="png"`` reads ``proj_depth/<name>/image_02/<frame>.png`` in the KITTI
depth-completion encoding instead (uint16, metres x 256, 0 = invalid; :func:`decode_kitti_depth_png`).
Camera: fx, fy, cx, cy of ``P_rect_02`` (rectified, no distortion). Poses: None (OXTS is not read).

Semantic labels (optional): single-channel 8-bit PNGs with the frame's name in ``semantic/image_02/`` or
``label_02/data/`` (first folder found, also searched as ``semantic/`` and ``label_02/``), holding KITTI-11 ids in
the order of Ros et al. 2015 as slamseg's ``kitti11`` set: 0 void, 1 sky, 2 building, 3 road, 4 sidewalk, 5 fence,
6 vegetation, 7 pole, 8 car, 9 sign, 10 pedestrian, 11 cyclist. They are mapped to ``label_set`` ("kitti6" by
default, via ``get_mapping("kitti11", "kitti6")``: fence, pole, sign, pedestrian, cyclist become void; or
"kitti11" to keep them). Only some frames of a drive are annotated: a frame without a label image gets
``labels=None``. Colour-coded label images must be converted to ids first (their palettes differ between releases).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.imageio_utils import image_size, read_label_image, read_rgb, read_uint16
from slamseg.sequences.labelsets import get_label_set, get_mapping
from slamseg.sequences.readers.nyu_kinect import zbuffer_splat
from slamseg.sequences.sequence import Sequence

KITTI_DEPTH_SCALE = 256.0
# Folders searched for semantic label PNGs, relative to the drive folder, in order.
LABEL_DIRS = ("semantic/image_02", "semantic", "label_02/data", "label_02")
KITTI_LABEL_SETS = ("kitti11", "kitti6")


def decode_kitti_depth_png(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """KITTI depth-completion PNG -> H x W float32 metres (uint16 / 256; 0 = invalid)."""
    return read_uint16(path, size).astype(np.float32) / np.float32(KITTI_DEPTH_SCALE)


def read_calib_file(path: Path) -> dict[str, np.ndarray]:
    """KITTI ``key: numbers`` calibration file -> {key: float64 array}; non-numeric lines (dates) are skipped."""
    if not path.is_file():
        raise SequenceFormatError(f"{path}: calibration file is missing")
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if ":" not in line:
            continue
        key, _, values = line.partition(":")
        try:
            out[key.strip()] = np.array([float(v) for v in values.split()])
        except ValueError:
            if key.strip() in ("P_rect_02", "R_rect_00", "R", "T"):
                raise SequenceFormatError(f"{path}:{number}: expected numbers for {key.strip()}") from None
    return out


def project_velodyne(points: np.ndarray, velo_to_image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Sparse depth image from lidar points.

    Args:
        points: N x >=3 float, metres in the velodyne frame.
        velo_to_image: 3 x 4 (or 4 x 4) matrix to homogeneous pixel coordinates; row 3 gives depth in metres.
        shape: (H, W).
    Returns:
        H x W float32 metres, 0 where no point lands; nearest point per pixel.
    """
    h, w = shape
    homog = np.c_[points[:, :3].astype(np.float64), np.ones(len(points))]
    p = homog @ np.asarray(velo_to_image, dtype=np.float64)[:3].T
    z = p[:, 2]
    front = z > 0
    u = np.rint(p[front, 0] / z[front]).astype(np.int64)  # nearest pixel centre: reproduces the KITTI-format PNG
    v = np.rint(p[front, 1] / z[front]).astype(np.int64)
    ok = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    return zbuffer_splat(v[ok] * w + u[ok], z[front][ok], shape)


def find_label_dir(root: Path) -> Path | None:
    """The first of ``LABEL_DIRS`` under a drive folder that holds PNG files, or None."""
    for rel in LABEL_DIRS:
        folder = root / rel
        if folder.is_dir() and any(folder.glob("*.png")):
            return folder
    return None


class KittiRawSequence(Sequence):
    """A KITTI raw drive folder (see module doc).

    Args:
        root: the drive folder (``..._drive_XXXX_sync``).
        depth_source: "velodyne" (project the scans), "png" (depth-completion PNGs) or "none".
        label_set: "kitti6" or "kitti11", the set semantic labels are returned in (when the drive has them).
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
    """

    def __init__(self, root: Path, depth_source: str = "velodyne", label_set: str = "kitti6",
                 strict: bool = True) -> None:
        super().__init__()
        self.root = Path(root)
        self.name = self.root.name
        self.strict = strict
        if depth_source not in ("velodyne", "png", "none"):
            raise SequenceFormatError(f"depth_source must be velodyne, png or none, got {depth_source!r}")
        if label_set not in KITTI_LABEL_SETS:
            raise SequenceFormatError(f"label_set must be one of {', '.join(KITTI_LABEL_SETS)}, got {label_set!r}")
        self.depth_source = depth_source
        self.images = sorted((self.root / "image_02" / "data").glob("*.png"))
        if not self.images:
            raise SequenceFormatError(f"{self.root / 'image_02' / 'data'}: no PNG images")
        self.label_dir = find_label_dir(self.root)
        if self.label_dir is not None:
            self.label_set = get_label_set(label_set)
            self._label_lut = get_mapping("kitti11", label_set).lut.astype(np.uint8)
        calib_dir = self.root if (self.root / "calib_cam_to_cam.txt").is_file() else self.root.parent
        cam = read_calib_file(calib_dir / "calib_cam_to_cam.txt")
        velo = read_calib_file(calib_dir / "calib_velo_to_cam.txt")
        try:
            p_rect = cam["P_rect_02"].reshape(3, 4)
            r_rect = np.eye(4)
            r_rect[:3, :3] = cam["R_rect_00"].reshape(3, 3)
            velo_to_cam = np.eye(4)
            velo_to_cam[:3, :3] = velo["R"].reshape(3, 3)
            velo_to_cam[:3, 3] = velo["T"].reshape(3)
        except (KeyError, ValueError) as err:
            raise SequenceFormatError(f"{calib_dir}: calibration needs P_rect_02 (12 numbers), R_rect_00 (9) in "
                                      f"calib_cam_to_cam.txt and R (9), T (3) in calib_velo_to_cam.txt: {err}") from err
        self.velo_to_image = p_rect @ r_rect @ velo_to_cam
        height, width = image_size(self.images[0])
        self.camera = Camera(float(p_rect[0, 0]), float(p_rect[1, 1]), float(p_rect[0, 2]), float(p_rect[1, 2]),
                             width, height)
        self.timestamps = self._read_timestamps()

    def _read_timestamps(self) -> list[float]:
        path = self.root / "image_02" / "timestamps.txt"
        if not path.is_file():
            return [k / 10.0 for k in range(len(self.images))]  # KITTI records at 10 Hz
        stamps = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:  # "2011-09-26 13:02:25.964389445": datetime takes microseconds only
                date, _, frac = line.strip().partition(".")
                t = datetime.strptime(date, "%Y-%m-%d %H:%M:%S").timestamp() + float("0." + (frac or "0"))
            except ValueError as err:
                raise SequenceFormatError(f"{path}:{number}: expected 'YYYY-MM-DD hh:mm:ss.fraction'") from err
            stamps.append(t)
        if len(stamps) != len(self.images):
            raise SequenceFormatError(f"{path}: {len(stamps)} timestamps for {len(self.images)} images")
        return stamps

    def __len__(self) -> int:
        return len(self.images)

    def _load_frame(self, i: int) -> Frame:
        image = self.images[i]
        rgb = read_rgb(image, self.camera.shape)
        depth = None
        if self.depth_source == "velodyne":
            scan = self.root / "velodyne_points" / "data" / f"{image.stem}.bin"
            if not scan.is_file():
                raise SequenceFormatError(f"{scan}: velodyne scan is missing")
            raw = np.fromfile(scan, dtype=np.float32)
            if raw.size % 4:
                raise SequenceFormatError(f"{scan}: expected float32 N x 4 (x, y, z, reflectance), got {raw.size} "
                                          "floats (truncated?)")
            depth = project_velodyne(raw.reshape(-1, 4), self.velo_to_image, self.camera.shape)
        elif self.depth_source == "png":
            matches = sorted(self.root.glob(f"proj_depth/*/image_02/{image.name}"))
            if not matches:
                raise SequenceFormatError(f"{self.root}/proj_depth/*/image_02/{image.name}: depth PNG is missing")
            depth = decode_kitti_depth_png(matches[0], self.camera.shape)
        meta = {"source": str(image)}
        labels = None
        if self.label_dir is not None and (self.label_dir / image.name).is_file():
            labels = self._read_labels(self.label_dir / image.name)
            meta["labels_source"] = str(self.label_dir / image.name)
        return Frame(index=i, timestamp=self.timestamps[i], rgb=rgb, camera=self.camera, depth=depth,
                     labels=labels, meta=meta).validate()

    def _read_labels(self, path: Path) -> np.ndarray:
        """KITTI-11 id PNG -> H x W uint8 ids of ``self.label_set``."""
        ids = read_label_image(path, self.camera.shape)
        top = len(self._label_lut) - 1
        if ids.size and ids.max() > top:
            raise SequenceFormatError(f"{path}: expected KITTI-11 ids 0..{top} (0 = void), found {int(ids.max())}")
        return self._label_lut[ids]


def open_kitti(path: Path, depth_source: str = "velodyne", label_set: str = "kitti6",
               strict: bool = True) -> KittiRawSequence:
    """Open a KITTI raw drive folder (see :class:`KittiRawSequence`)."""
    return KittiRawSequence(path, depth_source=depth_source, label_set=label_set, strict=strict)


def detect_kitti(path: Path) -> bool:
    """A folder with image_02/data/."""
    return path.is_dir() and (path / "image_02" / "data").is_dir()
