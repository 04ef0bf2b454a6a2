"""The 7-Scenes, ScanNet and ROS bag readers on real data: TUM fr1/rpy rewritten in each layout, read back, tracked.

Run: .venv/bin/python benchmarks/readers_real.py [--keep DIR] [--no-reconstruct]
Prints a Markdown table and writes benchmarks/results/readers_real.json. Never asserted in tests (DESIGN.md).

Input: the real TUM RGB-D fr1/rpy recording, first 100 frames (``../shared/data/real/tum_fr1_rpy_100``; the script
says so and exits 0 where it is absent). slamseg's TUM reader opens it (association, ground truth interpolated at
the colour stamps, fr1's ORB-SLAM2 calibration from the folder name) and its frames are rewritten, in a temporary
folder, as:

- ``sevenscenes``: ``frame-NNNNNN.color.png`` (the TUM colour PNG, byte for byte), ``.depth.png`` (uint16 mm),
  ``.pose.txt`` (4 x 4 camera-to-world), ``camera-intrinsics.txt`` (fr1's K);
- ``scannet``: SensReader's export: ``color/N.jpg`` (JPEG, quality 75 as SensReader's imageio export writes it:
  lossy), ``depth/N.png`` (uint16 mm), ``pose/N.txt``, ``intrinsic/intrinsic_{color,depth}.txt`` (4 x 4) and
  identity ``extrinsic_*.txt``;
- ``ros1_bag`` / ``ros2_bag`` (a ROS 1 ``.bag``; a ROS 2 SQLite bag folder): ``sensor_msgs/Image`` rgb8 colour and
  16UC1 depth in mm at the TUM colour / depth stamps, ``sensor_msgs/CameraInfo`` with fr1's K and plumb_bob D, and
  ``/tf`` world -> camera optical frame at every groundtruth.txt sample from 1 s before the first frame to 1 s
  after the last (100 Hz; the reader interpolates it at the colour stamps as the TUM reader does).

TUM depth is uint16 in 1/5000 m; the mm formats store round(value / 5), so up to 0.4 mm is lost in the conversion
(not by the readers): depth is checked against the TUM reader's depth rounded to mm, and the raw difference is
reported too. Distortion: the TUM reader undistorts fr1 frames (colour bilinear, depth nearest, with D); the bags
carry D in CameraInfo and are undistorted the same way, so they are compared with the undistorted TUM frames.
7-Scenes and ScanNet files carry no distortion: their frames are NOT undistorted and are compared with the TUM
reader's stored frames (``undistort=False``); ``sevenscenes_with_D`` opens the same 7-Scenes folder with
``camera=`` fr1's K and D (``--set sequence.options.camera=...``) to show that distortion is the only difference.
7-Scenes and ScanNet also carry no stamps: their frames are at frame number / 30 s.

Per source: frames read (and the reader's frames/s iterating them, best of 2 passes, after opening), the per-frame
checks against the TUM reader's frames, and ``slamseg reconstruct SOURCE --depth sensor --labels none --tracking
keyframe`` run as a subprocess: frames fused, tracking failures, ATE against the ground truth interpolated at the
frame stamps (the one every format can give; SE(3) Umeyama) and, for TUM, evo's nearest-stamp ATE.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_flags, cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)
from PIL import Image

from slamseg.runtime import configure_runtime
from slamseg.sequences import Camera, Sequence, open_sequence
from slamseg.sequences.atomic import atomic_write_json
from slamseg.sequences.poses import matrix_to_quat, read_tum_trajectory
from slamseg.sequences.readers.rgbd_list import RgbdListSequence

ROOT = Path(__file__).resolve().parent
TUM = ROOT.parent.parent / "shared" / "data" / "real" / "tum_fr1_rpy_100"
RESULTS = ROOT / "results" / "readers_real.json"
TUM_UNITS_PER_MM = 5  # TUM depth: uint16 / 5000 m
JPEG_QUALITY = 75  # imageio's (Pillow's) default, what ScanNet's SensReader export writes
TF_MARGIN_S = 1.0
RGB_TOPIC, DEPTH_TOPIC, INFO_TOPIC = "/camera/rgb/image_color", "/camera/depth_registered/image_raw", \
    "/camera/rgb/camera_info"


# ---------------------------------------------------------------------------------------------- the TUM input


def tum_to_mm(raw: np.ndarray) -> np.ndarray:
    """TUM depth (uint16, 1/5000 m) -> uint16 millimetres, rounded (values 1..2 become 0 = invalid)."""
    return np.rint(raw.astype(np.float64) / TUM_UNITS_PER_MM).astype(np.uint16)


def read_tum_raw(seq: RgbdListSequence, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``i``'s colour (H x W x 3 uint8) and depth (H x W uint16, 1/5000 m) as stored in the TUM files."""
    entry = seq.entries[i]
    rgb = np.asarray(Image.open(entry.rgb).convert("RGB"))
    depth = np.asarray(Image.open(entry.depth))
    if depth.dtype != np.uint16:
        depth = depth.astype(np.uint16)
    return rgb, depth


# ------------------------------------------------------------------------------------------------- the writers


def write_sevenscenes(folder: Path, seq: RgbdListSequence, camera: Camera) -> Path:
    """7-Scenes / 3DMatch frame folder: colour PNG copied as stored, depth mm, pose, camera-intrinsics.txt."""
    folder.mkdir(parents=True)
    for i, entry in enumerate(seq.entries):
        stem = folder / f"frame-{i:06d}"
        shutil.copyfile(entry.rgb, f"{stem}.color.png")
        Image.fromarray(tum_to_mm(read_tum_raw(seq, i)[1])).save(f"{stem}.depth.png")
        np.savetxt(f"{stem}.pose.txt", entry.pose, fmt="%.10e", delimiter="\t")
    np.savetxt(folder / "camera-intrinsics.txt", camera.K, fmt="%.6f")
    return folder


def write_scannet(folder: Path, seq: RgbdListSequence, camera: Camera) -> Path:
    """ScanNet SensReader export: color/N.jpg (lossy), depth/N.png mm, pose/N.txt, intrinsic/ (4 x 4)."""
    for sub in ("color", "depth", "pose", "intrinsic"):
        (folder / sub).mkdir(parents=True)
    for i, entry in enumerate(seq.entries):
        rgb, depth = read_tum_raw(seq, i)
        Image.fromarray(rgb).save(folder / "color" / f"{i}.jpg", quality=JPEG_QUALITY)
        Image.fromarray(tum_to_mm(depth)).save(folder / "depth" / f"{i}.png")
        np.savetxt(folder / "pose" / f"{i}.txt", entry.pose, fmt="%f")  # SensReader's format
    k = np.eye(4)
    k[:3, :3] = camera.K
    for name, matrix in (("intrinsic_color.txt", k), ("intrinsic_depth.txt", k), ("extrinsic_color.txt", np.eye(4)),
                         ("extrinsic_depth.txt", np.eye(4))):
        np.savetxt(folder / "intrinsic" / name, matrix, fmt="%f")
    return folder


class BagWriter:
    """Writes sensor messages into a ROS 1 bag (``ros2=False``) or a ROS 2 SQLite bag folder with rosbags."""

    def __init__(self, path: Path, ros2: bool) -> None:
        from rosbags.rosbag1 import Writer as Writer1
        from rosbags.rosbag2 import Writer as Writer2
        from rosbags.typesys import Stores, get_types_from_msg, get_typestore

        self.ros2 = ros2
        self.store = get_typestore(Stores.ROS2_HUMBLE if ros2 else Stores.ROS1_NOETIC)
        if not ros2:  # Noetic's store lacks tf2_msgs: register it from its definition
            self.store.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms",
                                                   "tf2_msgs/msg/TFMessage"))
        self.writer = Writer2(path, version=9) if ros2 else Writer1(path)
        self.writer.open()
        self.connections: dict[str, object] = {}
        self.t = self.store.types
        self.seq = 0

    def frame(self, name: str) -> str:
        """ROS 1 tf frames as TUM's bags name them (leading slash); ROS 2 forbids the slash."""
        return name if self.ros2 else f"/{name}"

    def header(self, stamp: float, frame: str) -> object:
        """A std_msgs/Header at ``stamp`` seconds (microsecond TUM stamps are exact in nanoseconds)."""
        sec = int(stamp)
        nanosec = round((stamp - sec) * 1e6) * 1000
        time_msg = self.t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
        self.seq += 1
        extra = {} if self.ros2 else {"seq": self.seq}
        return self.t["std_msgs/msg/Header"](stamp=time_msg, frame_id=self.frame(frame), **extra)

    def write(self, topic: str, msg: object, stamp: float) -> None:
        """Serialise ``msg`` onto ``topic`` at bag time ``stamp`` seconds."""
        msgtype = msg.__msgtype__
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(topic, msgtype, typestore=self.store)
        data = self.store.serialize_cdr(msg, msgtype) if self.ros2 else self.store.serialize_ros1(msg, msgtype)
        self.writer.write(self.connections[topic], round(stamp * 1e6) * 1000, data)

    def image(self, topic: str, stamp: float, array: np.ndarray, encoding: str, frame: str) -> None:
        """A sensor_msgs/Image of ``array`` (rgb8 H x W x 3 uint8 or 16UC1 H x W uint16, little-endian)."""
        data = np.ascontiguousarray(array)
        msg = self.t["sensor_msgs/msg/Image"](
            header=self.header(stamp, frame), height=data.shape[0], width=data.shape[1], encoding=encoding,
            is_bigendian=0, step=data.strides[0], data=data.view(np.uint8).reshape(-1))
        self.write(topic, msg, stamp)

    def camera_info(self, topic: str, stamp: float, camera: Camera, frame: str) -> None:
        """A sensor_msgs/CameraInfo: K, plumb_bob D, R = identity, P = [K | 0]."""
        p = np.hstack([camera.K, np.zeros((3, 1))]).reshape(-1)
        names = ("d", "k", "r", "p") if self.ros2 else ("D", "K", "R", "P")
        values = dict(zip(names, (np.array(camera.distortion, dtype=np.float64), camera.K.reshape(-1).astype(float),
                                  np.eye(3).reshape(-1), p)))
        roi = self.t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        msg = self.t["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp, frame), height=camera.height, width=camera.width,
            distortion_model="plumb_bob", binning_x=0, binning_y=0, roi=roi, **values)
        self.write(topic, msg, stamp)

    def tf(self, stamp: float, parent: str, child: str, pose: np.ndarray) -> None:
        """/tf: ``child``'s pose in ``parent`` (4 x 4, child-to-parent)."""
        g = self.t
        qx, qy, qz, qw = matrix_to_quat(pose[:3, :3])
        transform = g["geometry_msgs/msg/TransformStamped"](
            header=self.header(stamp, parent), child_frame_id=self.frame(child),
            transform=g["geometry_msgs/msg/Transform"](
                translation=g["geometry_msgs/msg/Vector3"](x=pose[0, 3], y=pose[1, 3], z=pose[2, 3]),
                rotation=g["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw)))
        self.write("/tf", g["tf2_msgs/msg/TFMessage"](transforms=[transform]), stamp)

    def close(self) -> None:
        """Finish the bag (index, metadata.yaml)."""
        self.writer.close()


def write_bag(path: Path, seq: RgbdListSequence, camera: Camera, ros2: bool) -> Path:
    """The frames as a ROS bag (see the module doc), messages in bag-time order."""
    gt_stamps, gt_poses = read_tum_trajectory(TUM / "groundtruth.txt")
    first, last = seq.entries[0].timestamp, seq.entries[-1].timestamp
    keep = (gt_stamps >= first - TF_MARGIN_S) & (gt_stamps <= last + TF_MARGIN_S)
    events: list[tuple[float, int, str, object]] = [(float(t), 0, "tf", pose)
                                                    for t, pose in zip(gt_stamps[keep], gt_poses[keep])]
    for i, entry in enumerate(seq.entries):
        events.append((entry.timestamp, 1, "rgb", i))
        events.append((entry.meta["depth_timestamp"], 2, "depth", i))
    events.sort(key=lambda e: (e[0], e[1]))
    optical = "openni_rgb_optical_frame"
    path.parent.mkdir(parents=True, exist_ok=True)
    bag = BagWriter(path, ros2)
    try:
        for stamp, _, kind, item in events:
            if kind == "tf":
                bag.tf(stamp, "world", optical, item)
            elif kind == "rgb":
                rgb, _ = read_tum_raw(seq, item)
                bag.image(RGB_TOPIC, stamp, rgb, "rgb8", optical)
                bag.camera_info(INFO_TOPIC, stamp, camera, optical)
            else:
                _, depth = read_tum_raw(seq, item)
                bag.image(DEPTH_TOPIC, stamp, tum_to_mm(depth), "16UC1", optical)
    finally:
        bag.close()
    return path


# ------------------------------------------------------------------------------------------------- the checks


def reading_rate(path: Path, options: dict, passes: int = 2) -> dict:
    """Seconds to open the sequence and frames/s of iterating it (best of ``passes``, each on a fresh open)."""
    best, opened, count = 0.0, [], 0
    for _ in range(passes):
        t0 = time.perf_counter()
        seq = open_sequence(path, **options)
        t1 = time.perf_counter()
        count = sum(1 for _ in seq)
        best = max(best, count / (time.perf_counter() - t1))
        opened.append(t1 - t0)
        if hasattr(seq, "close"):
            seq.close()
    return {"frames_read": count, "open_s": round(min(opened), 3), "frames_per_s": round(best, 1)}


def _rotation_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle of the rotation between two poses (atan2 of sine and cosine: exact near 0, unlike arccos)."""
    r = a[:3, :3].T @ b[:3, :3]
    sine = 0.5 * np.linalg.norm([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    return float(np.degrees(np.arctan2(sine, (np.trace(r) - 1.0) / 2.0)))


def compare_frames(seq: Sequence, ref: Sequence, stamps_comparable: bool, mm_format: bool = True) -> dict:
    """Per-frame checks of ``seq``'s frames against the TUM reader's ``ref`` (same order), summarised.

    Depth: on pixels valid in the TUM frame, the difference to the TUM depth rounded to mm (``mm_format``: what a
    mm format can hold, 0 up to float32 rounding for a correct reader; else to the TUM depth as it is) and to the
    TUM depth itself (<= 0.4 mm from the rounding); the valid masks' agreement. "Equal" is within 1 micrometre.
    Colour: max and mean absolute difference per channel value. Pose: translation (mm) and rotation (deg)
    difference; stamps where the format carries them.
    """
    rows = []
    for f, r in zip(seq, ref):
        valid = r.depth > 0
        both = valid & (f.depth > 0)
        ref_mm = r.depth.astype(np.float64)
        if mm_format:
            ref_mm = np.rint(ref_mm * 1000.0) / 1000.0
        diff_mm = np.abs(f.depth.astype(np.float64) - ref_mm)[valid] * 1000.0
        raw_mm = np.abs(f.depth.astype(np.float64) - r.depth.astype(np.float64))[both] * 1000.0
        colour = np.abs(f.rgb.astype(np.int16) - r.rgb.astype(np.int16))
        row = {
            "depth_equal_frac": float(np.mean(diff_mm < 1e-3)) if valid.any() else 1.0,
            "depth_max_diff_mm": float(diff_mm.max()) if diff_mm.size else 0.0,
            "depth_max_raw_diff_mm": float(raw_mm.max()) if raw_mm.size else 0.0,
            "valid_mask_agreement": float(np.mean(valid == (f.depth > 0))),
            "colour_max_diff": int(colour.max()),
            "colour_mean_abs_diff": float(colour.mean()),
            "pose_max_diff_mm": None, "pose_max_diff_deg": None,
            "stamp_diff_s": abs(f.timestamp - r.timestamp) if stamps_comparable else None,
        }
        if f.pose is not None and r.pose is not None:
            row["pose_max_diff_mm"] = float(1000.0 * np.linalg.norm(f.pose[:3, 3] - r.pose[:3, 3]))
            row["pose_max_diff_deg"] = _rotation_deg(f.pose, r.pose)
        rows.append(row)
    if hasattr(seq, "close"):
        seq.close()

    def worst(key: str, fn: object = max) -> float | None:
        values = [row[key] for row in rows if row[key] is not None]
        return fn(values) if values else None

    return {
        "frames_compared": len(rows), "frames_with_pose": sum(row["pose_max_diff_mm"] is not None for row in rows),
        "depth_equal_frac_min": worst("depth_equal_frac", min),
        "depth_equal_frac_mean": float(np.mean([row["depth_equal_frac"] for row in rows])),
        "depth_max_diff_mm": worst("depth_max_diff_mm"), "depth_max_raw_diff_mm": worst("depth_max_raw_diff_mm"),
        "valid_mask_agreement_min": worst("valid_mask_agreement", min),
        "colour_max_diff": worst("colour_max_diff"),
        "colour_mean_abs_diff": float(np.mean([row["colour_mean_abs_diff"] for row in rows])),
        "pose_max_diff_mm": worst("pose_max_diff_mm"), "pose_max_diff_deg": worst("pose_max_diff_deg"),
        "stamp_max_diff_s": worst("stamp_diff_s"),
    }


def reconstruct(path: Path, out: Path, sets: list[str]) -> dict:
    """``slamseg reconstruct PATH --depth sensor --labels none --tracking keyframe`` in a subprocess; its metrics."""
    command = [sys.executable, "-m", "slamseg", "reconstruct", str(path), "--depth", "sensor", "--labels", "none",
               "--tracking", "keyframe", "--out", str(out), "--no-progress"]
    for item in sets:
        command += ["--set", item]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"}
    metrics = json.loads((out / "metrics.json").read_text())
    trajectory = metrics.get("evaluation", {}).get("trajectory", {})
    interpolated = trajectory.get("interpolated_ground_truth", trajectory)  # the others pair per frame already
    return {
        "frames_fused": metrics["frames_integrated"],
        "tracking_failures": len(metrics["tracking_failures"]),
        "status_counts": metrics["tracking"]["status_counts"],
        "keyframes": metrics["tracking"].get("keyframes"), "loops_kept": metrics["tracking"].get("loops_kept"),
        "ate_interpolated_gt_m": interpolated.get("ate", {}).get("rmse"),
        "ate_m": trajectory.get("ate", {}).get("rmse"),
        "ate_association": trajectory.get("association"),
        "frames_per_s": metrics["frames_per_second"], "wall_s": round(wall, 1),
    }


# --------------------------------------------------------------------------------------------------- the table


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def markdown_table(rows: dict[str, dict]) -> str:
    """One line per source: reading, reconstruction and the per-frame checks."""
    head = ("| source | frames read | frames fused | reader frames/s | ATE cm (interp. GT) | tracking failures | "
            "depth max diff mm (vs TUM in mm / raw) | valid px equal | colour max / mean abs diff | pose diff mm |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, row in rows.items():
        rec, chk, read = row.get("reconstruct", {}), row["checks"], row["reading"]
        ate = rec.get("ate_interpolated_gt_m")
        lines.append(
            f"| {name} | {read['frames_read']} | {rec.get('frames_fused', '-')} | {read['frames_per_s']:.1f} | "
            f"{_fmt(None if ate is None else 100 * ate, '.2f')} | {rec.get('tracking_failures', '-')} | "
            f"{_fmt(chk['depth_max_diff_mm'], '.4f')} / {_fmt(chk['depth_max_raw_diff_mm'], '.3f')} | "
            f"{100 * chk['depth_equal_frac_mean']:.2f}% | {chk['colour_max_diff']} / "
            f"{chk['colour_mean_abs_diff']:.2f} | {_fmt(chk['pose_max_diff_mm'], '.4f')} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------- main


def main() -> None:
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the converted sequences and runs into this new (or empty) "
                        "folder and keep them, instead of a temporary folder")
    parser.add_argument("--no-reconstruct", action="store_true", help="only the reading checks")
    args = parser.parse_args()
    if not TUM.is_dir():
        print(f"{TUM} is absent (it comes with ../shared): nothing to benchmark; exiting")
        return

    tum_stored = open_sequence(TUM, undistort=False)
    assert isinstance(tum_stored, RgbdListSequence)
    stored_camera = tum_stored.camera  # fr1's K and D (ORB-SLAM2's calibration, from the folder name)
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty (give a new or empty one)")
    work = args.keep if args.keep is not None else Path(tempfile.mkdtemp(prefix="readers_real_"))
    try:
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths = {
            "sevenscenes": write_sevenscenes(work / "sevenscenes" / "seq-01", tum_stored, stored_camera),
            "scannet": write_scannet(work / "scannet" / "scene0000_00", tum_stored, stored_camera),
            "ros1_bag": write_bag(work / "ros1" / "tum_fr1_rpy_100.bag", tum_stored, stored_camera, ros2=False),
            "ros2_bag": write_bag(work / "ros2" / "tum_fr1_rpy_100", tum_stored, stored_camera, ros2=True),
        }
        print(f"wrote the conversions into {work} in {time.perf_counter() - t0:.1f} s")
        with_d = stored_camera.to_dict()  # with fr1's D
        sources: dict[str, dict] = {
            "tum": {"path": TUM, "options": {}, "ref": "undistorted", "stamps": True, "sets": []},
            "sevenscenes": {"path": paths["sevenscenes"], "options": {}, "ref": "stored", "stamps": False,
                            "sets": []},
            "sevenscenes_with_D": {"path": paths["sevenscenes"], "options": {"camera": with_d}, "ref": "undistorted",
                                   "stamps": False, "sets": [f"sequence.options.camera={json.dumps(with_d)}"]},
            "scannet": {"path": paths["scannet"], "options": {}, "ref": "stored", "stamps": False, "sets": []},
            "ros1_bag": {"path": paths["ros1_bag"], "options": {}, "ref": "undistorted", "stamps": True, "sets": []},
            "ros2_bag": {"path": paths["ros2_bag"], "options": {}, "ref": "undistorted", "stamps": True, "sets": []},
        }
        rows: dict[str, dict] = {}
        for name, source in sources.items():
            seq = open_sequence(source["path"], **source["options"])
            ref = open_sequence(TUM, undistort=source["ref"] == "undistorted")
            row = {
                "path": str(source["path"]) if name == "tum" else str(source["path"].relative_to(work)),
                "reader": type(seq).__name__, "camera": seq.camera.to_dict(),
                "undistorted": bool(getattr(seq, "undistort", False)), "compared_with": f"TUM reader, {source['ref']}",
                "reading": reading_rate(source["path"], source["options"]),
                "checks": compare_frames(seq, ref, source["stamps"], mm_format=name != "tum"),
            }
            if not args.no_reconstruct:
                row["reconstruct"] = reconstruct(source["path"], work / "runs" / name, source["sets"])
                if "error" in row["reconstruct"]:
                    print(f"{name}: reconstruct failed: {row['reconstruct']['error']}")
            rows[name] = row
            print(f"{name}: done")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    table = markdown_table(rows)
    print()
    print(table)
    tum = rows["tum"].get("reconstruct", {})
    if tum.get("ate_m") is not None:
        print(f"\nTUM with evo's nearest-stamp association: ATE {100 * tum['ate_m']:.2f} cm")
    result = {
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "cpu_flags": cpu_flags(),
                    "platform": platform.platform()},
        "input": str(TUM), "frames": len(tum_stored), "depth_conversion": "mm = round(tum_value / 5)",
        "scannet_jpeg_quality": JPEG_QUALITY,
        "reconstruct_command": None if args.no_reconstruct else
        "slamseg reconstruct SOURCE --depth sensor --labels none --tracking keyframe",
        "sources": rows, "table": table,
    }
    atomic_write_json(RESULTS, result)
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
