"""Surfel map update time at 640x480 with ~1M surfels in the map, and per-frame time over a long sequence.

Run: .venv/bin/python benchmarks/fusion_surfel.py [--frames 300] [--stride 1]
Prints a table and writes benchmarks/results/fusion_surfel.json. Never asserted in tests (DESIGN.md).

Scene: a wavy wall (depth 2 m +- 10 cm, so normals vary) with 13-class probabilities on every frame.
1. "1M map": four disjoint 640x480 views fill the map to ~1.2M surfels, then 30 frames re-observe one view with
   small camera jitter (association + fusion + label update on ~300k pixels, no growth); median and p90 reported.
2. "long sequence": the camera pans along the wall, 1 cm per frame, so every frame fuses most pixels and creates
   a thin new strip; time, surfel count and memory are reported against the frame count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from slamseg.fusion.surfel import SurfelMap, SurfelParams
from slamseg.runtime import configure_runtime
from slamseg.sequences import Camera

CAM = Camera(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)
K = 13


def wall_frame(x_offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth/rgb/probs of the wavy wall z = 2 + 0.1 sin(3 x) cos(2 y) seen from x = x_offset (first-order ray hit)."""
    v, u = np.indices(CAM.shape, dtype=np.float32)
    x = (u - CAM.cx) / CAM.fx * 2.0 + x_offset
    y = (v - CAM.cy) / CAM.fy * 2.0
    depth = (2.0 + 0.1 * np.sin(3 * x) * np.cos(2 * y)).astype(np.float32)
    grey = (127 + 100 * np.sin(5 * x)).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    probs = np.full((*CAM.shape, K), 0.2 / (K - 1), np.float32)
    probs[..., 0] = 0.8
    return depth, rgb, probs


def pose_x(x: float) -> np.ndarray:
    pose = np.eye(4)
    pose[0, 3] = x
    return pose


def bench_1m(stride: int) -> dict:
    m = SurfelMap(params=SurfelParams(pixel_stride=stride, initial_capacity=1 << 21))
    for i in range(4):  # disjoint views, 4 m apart (a view covers ~2.4 m of wall)
        d, c, p = wall_frame(4.0 * i)
        m.integrate(d, c, p, CAM, pose_x(4.0 * i))
    filled = len(m)
    d, c, p = wall_frame(0.0)
    times = []
    rng = np.random.default_rng(0)
    for _ in range(30):
        jitter = pose_x(float(rng.normal(0, 0.002)))
        t0 = time.perf_counter()
        m.integrate(d, c, p, CAM, jitter)
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "surfels_before": filled,
        "surfels_after": len(m),
        "median_ms": float(np.median(times)),
        "p90_ms": float(np.percentile(times, 90)),
        "stages_ms_last": m.stats()["last_timings_ms"],
    }


def bench_long(frames: int, stride: int) -> dict:
    m = SurfelMap(params=SurfelParams(pixel_stride=stride))
    rows = []
    for i in range(frames):
        x = 0.01 * i
        d, c, p = wall_frame(x)
        t0 = time.perf_counter()
        m.integrate(d, c, p, CAM, pose_x(x))
        ms = (time.perf_counter() - t0) * 1e3
        rows.append({"frame": i, "ms": ms, "surfels": len(m), "memory_mb": m.stats()["memory_bytes"] / 2**20})
    return {"rows": rows}


def main() -> None:
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--stride", type=int, default=1)
    args = parser.parse_args()
    # Warm-up: compile (or load cached) numba kernels outside the timings.
    SurfelMap().integrate(*wall_frame(0.0)[:2], None, CAM, np.eye(4))
    one_m = bench_1m(args.stride)
    long = bench_long(args.frames, args.stride)
    print(f"surfel map, 640x480, {K} classes, pixel_stride {args.stride}, {os.cpu_count()} CPUs")
    print(f"{'case':<34}{'median ms':>10}{'p90 ms':>10}{'surfels':>12}")
    print(
        f"{'update with ~1M surfels in map':<34}{one_m['median_ms']:>10.1f}{one_m['p90_ms']:>10.1f}"
        f"{one_m['surfels_before']:>12d}"
    )
    print(f"stages (last update, ms): { {k: round(v, 1) for k, v in one_m['stages_ms_last'].items()} }")
    rows = long["rows"]
    print(f"\nlong sequence ({args.frames} frames, camera panning 1 cm/frame)")
    print(f"{'frames':<14}{'median ms':>10}{'surfels':>12}{'memory MB':>12}")
    step = max(len(rows) // 6, 1)
    for start in range(1, len(rows), step):
        chunk = rows[start : start + step]
        print(
            f"{chunk[0]['frame']:>5}..{chunk[-1]['frame']:<7}{np.median([r['ms'] for r in chunk]):>10.1f}"
            f"{chunk[-1]['surfels']:>12d}{chunk[-1]['memory_mb']:>12.1f}"
        )
    out = Path(__file__).resolve().parent / "results" / "fusion_surfel.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "stride": args.stride,
        "one_million": one_m,
        "long_sequence": long,
    }
    out.write_text(json.dumps(payload, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
