"""ICL-NUIM (Handa et al. 2014) and the Redwood / Open3D layout with ``.log`` trajectories.

ICL-NUIM, TUM-compatible release (``living_room_trajX_frei_png/``): ``associations.txt`` lines
``timestamp path timestamp path`` (one depth/ and one rgb/ path, in either order), depth uint16 / 5000.
The dataset's intrinsics are fx = 481.20, fy = -480.0, cx = 319.5, cy = 239.5: the NEGATIVE fy means ICL's camera
y axis points up. We return OpenCV axes instead: the Camera has fy = +480 (the images are unchanged; a pixel
row v still means the same ray), and ``.gt.sim`` poses (3 x 4 [R|t] per frame, in ICL's convention) are
converted with ``F @ T @ F``, F = diag(1, -1, 1, 1): flipping the camera y axis (right factor) makes the
camera frame OpenCV's, flipping the world y axis (left factor) keeps the rotation proper (det +1). The returned
world is therefore ICL's world mirrored in y: mirror ICL's ``living-room.ply`` (y -> -y) to compare maps with it.
A ``groundtruth.txt`` TUM trajectory, when present instead, is used as it is (TUM convention, interpolated).

Redwood / Open3D layout (``color/`` or ``image/``, ``depth/`` uint16 millimetres, optional ``rgbd.match``,
``camera*.json`` with Open3D's column-major ``intrinsic_matrix``, ``trajectory.log``): frames pair the sorted
colour and depth files (or ``rgbd.match``); poses come from ``trajectory.log`` (the first header field is the
frame id); timestamps are frame index / 30 s.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.imageio_utils import image_size
from slamseg.sequences.poses import interpolate_poses, read_gt_sim, read_log_trajectory, read_tum_trajectory
from slamseg.sequences.readers.rgbd_list import FrameEntry, RgbdListSequence

log = logging.getLogger(__name__)

ICL_INTRINSICS = (481.20, -480.0, 319.5, 239.5)
ICL_DEPTH_SCALE = 5000.0
REDWOOD_DEPTH_SCALE = 1000.0
REDWOOD_FPS = 30.0
_FLIP_Y = np.diag([1.0, -1.0, 1.0, 1.0])
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp"}


def icl_pose_to_opencv(pose: np.ndarray) -> np.ndarray:
    """An ICL-NUIM (negative-fy) camera-to-world pose -> OpenCV axes in the y-mirrored world (see module doc)."""
    return _FLIP_Y @ pose @ _FLIP_Y


def open_icl(path: Path, max_pose_gap: float = 0.1, strict: bool = True) -> RgbdListSequence:
    """Open an ICL-NUIM TUM-compatible folder (``associations.txt``, rgb/, depth/, optional ``*.gt.sim``)."""
    root = Path(path)
    assoc = root / "associations.txt"
    rows = []
    for number, line in enumerate(assoc.read_text(errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 4:
            raise SequenceFormatError(f"{assoc}:{number}: expected 'timestamp path timestamp path', got {line!r}")
        try:
            stamps = float(fields[0]), float(fields[2])
        except ValueError as err:
            raise SequenceFormatError(f"{assoc}:{number}: unparsable timestamp in {line!r}") from err
        first_is_depth = "depth" in fields[1] and "depth" not in fields[3]
        depth_rel, rgb_rel = (fields[1], fields[3]) if first_is_depth else (fields[3], fields[1])
        rgb_t, depth_t = (stamps[1], stamps[0]) if first_is_depth else stamps
        rows.append((rgb_t, root / rgb_rel, root / depth_rel, abs(rgb_t - depth_t)))
    if not rows:
        raise SequenceFormatError(f"{assoc}: lists no frames")

    sims = sorted(root.glob("*.gt.sim"))
    poses: list[np.ndarray | None] = [None] * len(rows)
    if sims:
        sim_poses = read_gt_sim(sims[0])
        if len(sim_poses) != len(rows):
            # traj0's .gt.sim is one pose short (gradslam drops that frame); frames without a pose get None.
            log.warning("%s: %d poses for %d frames; frames without a pose get None", sims[0], len(sim_poses),
                        len(rows))
        for k in range(min(len(rows), len(sim_poses))):
            poses[k] = icl_pose_to_opencv(sim_poses[k])
    elif (root / "groundtruth.txt").is_file():
        gt_t, gt_p = read_tum_trajectory(root / "groundtruth.txt")
        poses = interpolate_poses(gt_t, gt_p, np.array([row[0] for row in rows]), max_pose_gap)

    entries = [FrameEntry(timestamp=t, rgb=rgb, depth=depth, pose=pose, meta={"time_diff": diff})
               for (t, rgb, depth, diff), pose in zip(rows, poses)]
    height, width = image_size(entries[0].rgb)
    fx, fy, cx, cy = ICL_INTRINSICS
    camera = Camera(fx, abs(fy), cx, cy, 640, 480)  # the release's intrinsics are for 640 x 480
    if (width, height) != (640, 480):
        camera = camera.scaled(width, height)
    return RgbdListSequence(root.name, entries, camera, ICL_DEPTH_SCALE, strict=strict)


def detect_icl(path: Path) -> bool:
    """A folder with associations.txt and no rgb.txt (that one is TUM's)."""
    return path.is_dir() and (path / "associations.txt").is_file() and not (path / "rgb.txt").is_file()


def read_open3d_intrinsics(path: Path) -> Camera:
    """Camera from an Open3D ``PinholeCameraIntrinsic`` JSON (``width``, ``height``, column-major 3x3 matrix)."""
    try:
        meta = json.loads(path.read_text())
        k = np.array(meta["intrinsic_matrix"], dtype=np.float64).reshape(3, 3).T  # stored column-major
        return Camera(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(meta["width"]),
                      int(meta["height"]))
    except (ValueError, KeyError, TypeError) as err:
        raise SequenceFormatError(
            f"{path}: expected Open3D intrinsics JSON with width, height and a 9-number intrinsic_matrix: {err}"
        ) from err


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)


def open_redwood(path: Path, depth_scale: float = REDWOOD_DEPTH_SCALE, camera: Camera | None = None,
                 strict: bool = True) -> RgbdListSequence:
    """Open a Redwood / Open3D RGB-D folder (see module doc)."""
    root = Path(path)
    colour_dir = root / "color" if (root / "color").is_dir() else root / "image"
    match = root / "rgbd.match"
    if match.is_file():
        pairs = []
        for number, line in enumerate(match.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise SequenceFormatError(f"{match}:{number}: expected 'depth/<file> color/<file>', got {line!r}")
            pairs.append((root / fields[1], root / fields[0]))
    else:
        colours, depths = _images(colour_dir), _images(root / "depth")
        if len(colours) != len(depths):
            raise SequenceFormatError(
                f"{root}: {len(colours)} colour images but {len(depths)} depth images and no rgbd.match to pair them"
            )
        pairs = list(zip(colours, depths))
    if not pairs:
        raise SequenceFormatError(f"{root}: no colour/depth image pairs")
    poses: list[np.ndarray | None] = [None] * len(pairs)
    if (root / "trajectory.log").is_file():
        ids, log_poses = read_log_trajectory(root / "trajectory.log")
        for frame_id, pose in zip(ids, log_poses):
            if 0 <= frame_id < len(pairs):
                poses[frame_id] = pose
    entries = [FrameEntry(timestamp=k / REDWOOD_FPS, rgb=rgb, depth=depth, pose=pose)
               for k, ((rgb, depth), pose) in enumerate(zip(pairs, poses))]
    if camera is None:
        jsons = sorted(root.glob("camera*.json"))
        if jsons:
            camera = read_open3d_intrinsics(jsons[0])
        else:
            height, width = image_size(entries[0].rgb)
            camera = Camera(525.0, 525.0, 319.5, 239.5, width, height)
    return RgbdListSequence(root.name, entries, camera, depth_scale, strict=strict)


def detect_redwood(path: Path) -> bool:
    """A folder with depth/ and color/ (or image/) plus rgbd.match, trajectory.log or camera*.json."""
    if not (path.is_dir() and (path / "depth").is_dir() and ((path / "color").is_dir() or (path / "image").is_dir())):
        return False
    return (path / "rgbd.match").is_file() or (path / "trajectory.log").is_file() or any(path.glob("camera*.json"))
