"""Semantic TSDF integrate time vs Open3D's plain TSDF integrate (640x480, 2 cm voxels, 13 classes), and per-frame
time and memory over a long sequence.

Run: .venv/bin/python benchmarks/fusion.py [--frames 1000] [--only NAME ...]
Prints a table and writes benchmarks/results/fusion.json. Never asserted in tests (DESIGN.md).

Scene: an analytic 5 x 3 x 4 m box room (floor, ceiling, four walls, one class each) rendered by ray-box
intersection; the camera circles the room's centre at 1.6 m radius looking outwards-and-down, 60 poses per loop.
Probabilities are one-hot with confidence 0.8 (13 channels, nyu13). Frames are rendered once and cycled, so
"long sequence" re-visits the same room: it shows that per-frame time and memory stay flat once it is mapped.

Other map engineers add rows by adding a function to BENCHMARKS (name -> fn(args) -> dict).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import open3d as o3d
import open3d.core as o3c

from slamseg.fusion.params import TSDFParams
from slamseg.fusion.tsdf import OPEN3D_PLAIN_BYTES_PER_VOXEL, SemanticTSDF
from slamseg.runtime import configure_runtime
from slamseg.sequences import Camera, get_label_set

CAM = Camera(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)
NYU13 = get_label_set("nyu13")
ROOM_MIN = np.array([-2.5, -1.5, -2.0])  # x right, y down (floor at +1.5), z
ROOM_MAX = np.array([2.5, 1.5, 2.0])
# faces: (axis, side) -> class name; side 0 = min face, 1 = max face
FACES = {(0, 0): "wall", (0, 1): "wall", (1, 0): "ceiling", (1, 1): "floor", (2, 0): "window", (2, 1): "wall"}
LOOP = 60


def loop_pose(i: int) -> np.ndarray:
    """Camera-to-world pose i of the loop: on a 1.6 m circle, looking outwards and 20 degrees down."""
    a = 2 * np.pi * (i % LOOP) / LOOP
    eye = np.array([0.3 * np.cos(a), 0.0, 0.3 * np.sin(a)])
    fwd = np.array([np.cos(a), np.tan(np.radians(20)), np.sin(a)])
    z = fwd / np.linalg.norm(fwd)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, np.cross(z, x), z, eye
    return pose


def render_room(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth (z, metres), rgb and nyu13 labels of the inside of the box room seen from ``pose``."""
    v, u = np.indices(CAM.shape, dtype=np.float64)
    rays = np.stack([(u - CAM.cx) / CAM.fx, (v - CAM.cy) / CAM.fy, np.ones_like(u)], axis=-1) @ pose[:3, :3].T
    origin = pose[:3, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        t_far = np.where(rays > 0, (ROOM_MAX - origin) / rays, (ROOM_MIN - origin) / rays)
    axis = np.argmin(np.where(np.isfinite(t_far), t_far, np.inf), axis=-1)
    depth = np.take_along_axis(t_far, axis[..., None], axis=-1)[..., 0]
    side = (np.take_along_axis(rays, axis[..., None], axis=-1)[..., 0] > 0).astype(int)
    labels = np.zeros(CAM.shape, np.int32)
    for (ax, sd), name in FACES.items():
        labels[(axis == ax) & (side == sd)] = NYU13.id_of(name)
    hit = origin + depth[..., None] * rays
    checker = ((np.floor(hit * 4).sum(axis=-1)) % 2).astype(np.uint8)
    rgb = NYU13.colours[labels] // 2 + 60 * checker[..., None]
    return depth.astype(np.float32), rgb.astype(np.uint8), labels


_FRAMES: list | None = None


def frames() -> list:
    """The loop's frames (depth, rgb, probs, pose), rendered once."""
    global _FRAMES
    if _FRAMES is None:
        _FRAMES = []
        for i in range(LOOP):
            pose = loop_pose(i)
            depth, rgb, labels = render_room(pose)
            _FRAMES.append((depth, rgb, NYU13.one_hot(labels, 0.8), pose))
    return _FRAMES


def _params(**kw) -> TSDFParams:
    return TSDFParams(voxel_size=0.02, trunc_voxels=4.0, depth_max=5.0, **kw)


class _PlainOpen3D:
    """Open3D's own TSDF + colour integrate (same block selection call as SemanticTSDF), nothing else."""

    def __init__(self) -> None:
        p = _params()
        self.p = p
        self.vbg = o3d.t.geometry.VoxelBlockGrid(
            ("tsdf", "weight", "color"), (o3c.float32, o3c.float32, o3c.float32), ((1), (1), (3)), p.voxel_size, 8,
            p.block_count, o3c.Device("CPU:0"))
        self.intr = o3c.Tensor(CAM.K, o3c.float64)

    def integrate(self, depth: np.ndarray, rgb: np.ndarray, probs: object, camera: object, pose: np.ndarray) -> None:
        p = self.p
        extr = o3c.Tensor(np.linalg.inv(pose), o3c.float64)
        d = o3d.t.geometry.Image(o3c.Tensor(depth))
        c = o3d.t.geometry.Image(o3c.Tensor(rgb.astype(np.float32)))
        bc = self.vbg.compute_unique_block_coordinates(d, self.intr, extr, 1.0, p.depth_max, p.trunc_voxels)
        self.vbg.integrate(bc, d, c, self.intr, extr, 1.0, p.depth_max, p.trunc_voxels)


class _LabelsEvery:
    """A semantic TSDF given probabilities on every Nth frame only (the caller's cadence, as reconstruct does)."""

    def __init__(self, tsdf: SemanticTSDF, every: int) -> None:
        self.tsdf, self.every, self.calls = tsdf, every, 0

    def integrate(self, depth: np.ndarray, rgb: np.ndarray, probs: np.ndarray, camera: Camera,
                  pose: np.ndarray) -> None:
        self.tsdf.integrate(depth, rgb, probs if self.calls % self.every == 0 else None, camera, pose)
        self.calls += 1


def _summary(times: list[float], warmup: int) -> dict:
    t = np.array(times[warmup:])
    return {"median_ms": float(np.median(t)), "p90_ms": float(np.percentile(t, 90)), "frames": len(t)}


def bench_tsdf_vs_plain(args: argparse.Namespace) -> dict:
    """Two loops + 10 frames; the first 10 (warm-up incl. numba compile) excluded. The four maps integrate each
    frame in turn (interleaved, in a rotating order), so that the machine's drifts hit every variant alike."""
    n, warm = 2 * LOOP + 10, 10
    variants = {
        "plain_open3d": _PlainOpen3D(),
        "semantic_labels_every_frame": SemanticTSDF(_params()),
        "semantic_labels_every_10th": _LabelsEvery(SemanticTSDF(_params()), 10),
        "semantic_labels_every_frame_band2": SemanticTSDF(_params(label_band_voxels=2.0)),
    }
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(n):
        depth, rgb, probs, pose = frames()[i % LOOP]
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            t0 = time.perf_counter()
            variants[name].integrate(depth, rgb, probs, CAM, pose)
            times[name].append(1e3 * (time.perf_counter() - t0))
    result = {name: _summary(times[name], warm) for name in names}
    plain = result["plain_open3d"]["median_ms"]
    # per-frame ratios too: each frame's semantic and plain integrate ran back to back
    per_frame = np.array(times["semantic_labels_every_frame"][warm:]) / np.array(times["plain_open3d"][warm:])
    return {
        **result,
        "ratio_every_frame": result["semantic_labels_every_frame"]["median_ms"] / plain,
        "ratio_every_10th": result["semantic_labels_every_10th"]["median_ms"] / plain,
        "median_per_frame_ratio_every_frame": float(np.median(per_frame)),
        "map": variants["semantic_labels_every_frame"].stats(),
    }


def bench_long_sequence(args: argparse.Namespace) -> dict:
    """Per-frame time and peak RSS against frame count, labels every frame."""
    tsdf = SemanticTSDF(_params())
    rows, times = [], []
    for i in range(args.frames):
        depth, rgb, probs, pose = frames()[i % LOOP]
        t0 = time.perf_counter()
        tsdf.integrate(depth, rgb, probs, CAM, pose)
        times.append(1e3 * (time.perf_counter() - t0))
        if (i + 1) % max(args.frames // 10, 1) == 0:
            window = times[-max(args.frames // 10, 1):]
            rows.append({"frame": i + 1, "median_ms": float(np.median(window)),
                         "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                         "active_blocks": tsdf.num_blocks, "block_capacity": tsdf.capacity})
    return {"rows": rows, "map": tsdf.stats()}


TUM = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "tum_fr1_rpy_100"


def _memory_row(tsdf: SemanticTSDF) -> dict:
    stats = tsdf.stats()
    voxels = stats["active_blocks"] * tsdf.params.block_resolution ** 3
    plain = voxels * OPEN3D_PLAIN_BYTES_PER_VOXEL
    return {**{k: stats[k] for k in ("active_blocks", "block_capacity", "bytes_per_voxel", "memory_bytes",
                                     "active_bytes", "growths")},
            "open3d_plain_bytes_same_blocks": plain,
            "ratio_per_voxel": stats["bytes_per_voxel"] / OPEN3D_PLAIN_BYTES_PER_VOXEL,
            "ratio_held_vs_plain_same_blocks": stats["memory_bytes"] / plain}


def bench_memory(args: argparse.Namespace) -> dict:
    """Bytes of a 13-class semantic TSDF (default parameters at 2 cm: capacity grown on demand, int16 labels) vs
    Open3D's plain TSDF + weight + colour over the same blocks: the room loop, and the real TUM fr1/rpy 100 frames
    (sensor depth, ground-truth poses) when ../shared is present."""
    out = {}
    tsdf = SemanticTSDF(TSDFParams(voxel_size=0.02, depth_max=5.0))
    for depth, rgb, probs, pose in frames():
        tsdf.integrate(depth, rgb, probs, CAM, pose)
    out["room"] = _memory_row(tsdf)
    if TUM.exists():
        from slamseg.sequences import open_sequence

        seq = open_sequence(TUM)
        tsdf = SemanticTSDF(TSDFParams(voxel_size=0.02))
        for i in range(len(seq)):
            f = seq[i]
            tsdf.integrate(f.depth, f.rgb, NYU13.one_hot(np.full(f.camera.shape, 1), 0.8), f.camera, f.pose)
        out["tum_fr1_rpy_100"] = _memory_row(tsdf)
    else:
        print(f"{TUM} is absent (it comes with ../shared): memory on real frames skipped")
    return out


BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "tsdf_memory": bench_memory,
    "tsdf_vs_plain": bench_tsdf_vs_plain,
    "tsdf_long_sequence": bench_long_sequence,
}


def main() -> None:
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000, help="frames of the long sequence")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    args = parser.parse_args()
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "open3d": o3d.__version__},
               "image": f"{CAM.width}x{CAM.height}", "voxel_size_m": 0.02, "classes": 13}
    for name in args.only or BENCHMARKS:
        t0 = time.perf_counter()
        results[name] = BENCHMARKS[name](args)
        results[name]["wall_s"] = time.perf_counter() - t0
    cmp = results.get("tsdf_vs_plain")
    if cmp:
        print(f"{'integrate (640x480, 2 cm)':<36}{'median ms':>10}{'p90 ms':>9}{'x plain':>9}")
        for key, label in (("plain_open3d", "Open3D plain TSDF+colour"),
                           ("semantic_labels_every_frame", "semantic, labels every frame"),
                           ("semantic_labels_every_10th", "semantic, labels every 10th"),
                           ("semantic_labels_every_frame_band2", "semantic, every frame, band 2 vox")):
            row = cmp[key]
            print(f"{label:<36}{row['median_ms']:>10.1f}{row['p90_ms']:>9.1f}"
                  f"{row['median_ms'] / cmp['plain_open3d']['median_ms']:>9.2f}")
        print(f"median of per-frame ratios, labels every frame: {cmp['median_per_frame_ratio_every_frame']:.2f}")
    long = results.get("tsdf_long_sequence")
    if long:
        print(f"\n{'frame':>6}{'median ms':>11}{'max RSS MB':>12}{'blocks':>9}{'capacity':>10}")
        for row in long["rows"]:
            print(f"{row['frame']:>6}{row['median_ms']:>11.1f}{row['max_rss_mb']:>12.0f}{row['active_blocks']:>9}"
                  f"{row['block_capacity']:>10}")
    memory = results.get("tsdf_memory")
    if memory:
        print(f"\n{'memory (13 classes, 2 cm)':<28}{'blocks':>8}{'capacity':>10}{'B/voxel':>9}{'held MB':>9}"
              f"{'plain MB':>10}{'x/voxel':>9}{'x held':>8}")
        for name, row in memory.items():
            if isinstance(row, dict):
                print(f"{name:<28}{row['active_blocks']:>8}{row['block_capacity']:>10}{row['bytes_per_voxel']:>9}"
                      f"{row['memory_bytes'] / 1e6:>9.1f}{row['open3d_plain_bytes_same_blocks'] / 1e6:>10.1f}"
                      f"{row['ratio_per_voxel']:>9.2f}{row['ratio_held_vs_plain_same_blocks']:>8.2f}")
    out = Path(__file__).parent / "results" / "fusion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
