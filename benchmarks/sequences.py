"""Reading speed of the sequence readers (frames/s), printed as a table and written to
benchmarks/results/sequences.json.

Each row is a function in ``ROWS``: it builds its input in a temporary folder and returns the frames/s of
iterating the sequence. To add a row (e.g. synthetic rendering), write ``def bench_x(tmp: Path, frames: int)
-> dict`` returning at least ``{"frames_per_s": ..., "target": ...}`` and append it to ``ROWS``.

Usage: ``python benchmarks/sequences.py [--frames N]``. Targets (2 CPU cores): TUM >= 100 frames/s,
NYU raw with registration >= 30 frames/s, synthetic rendering >= 10 frames/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from slamseg.runtime import configure_runtime
from slamseg.sequences import Camera, Frame, open_sequence
from slamseg.sequences.atomic import atomic_write_text
from slamseg.sequences.imageio_utils import pyspng, set_png_decoder
from slamseg.sequences.writers import write_tum_sequence

REPO = Path(__file__).resolve().parents[1]
NYU_FRAME = REPO / "tests" / "data" / "nyu_raw_frame"
TUM_FRAMES = REPO / "tests" / "data" / "tum_fr1_rpy"


def _frames_per_s(sequence, frames: int) -> float:
    sequence[0]  # first frame builds lazy tables (NYU registration maps); not part of the steady rate
    start = time.perf_counter()
    count = 0
    while count < frames:
        for _ in sequence:
            count += 1
            if count >= frames:
                break
    return count / (time.perf_counter() - start)


def bench_tum(tmp: Path, frames: int, decoder: str | None = None, undistort: bool = True) -> dict:
    """Real TUM fr1/rpy frames (640x480 RGB PNG + uint16 depth PNG), with association, GT interpolation and
    (fr1 has lens distortion) undistortion; ``decoder`` forces the colour PNG decoder ("spng" or "pillow")."""
    previous = set_png_decoder(decoder) if decoder is not None else None
    try:
        rate = _frames_per_s(open_sequence(TUM_FRAMES, undistort=undistort), frames)
    finally:
        if previous is not None:
            set_png_decoder(previous)
    used = decoder or ("spng" if pyspng is not None else "pillow")
    return {"frames_per_s": rate, "target": 100.0 if decoder is None and undistort else None,
            "input": "tests/data/tum_fr1_rpy (10 real frames, cycled)", "png_decoder": used,
            "undistort": undistort}


def bench_tum_slamseg_layout(tmp: Path, frames: int) -> dict:
    """slamseg TUM-style layout with labels and 16-bit normals, as the synthetic generator writes it."""
    rng = np.random.default_rng(0)
    cam = Camera(525.0, 525.0, 319.5, 239.5, 640, 480)
    normals = np.zeros((480, 640, 3), np.float32)
    normals[..., 2] = -1.0
    items = [Frame(i, i / 30, rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), cam,
                   depth=np.full((480, 640), 2.0, np.float32), pose=np.eye(4),
                   labels=rng.integers(0, 41, (480, 640)).astype(np.uint8), normals=normals) for i in range(5)]
    write_tum_sequence(items, tmp / "layout", label_set="nyu40")
    return {"frames_per_s": _frames_per_s(open_sequence(tmp / "layout"), frames), "target": None,
            "input": "5 written 640x480 frames with labels + normals (random RGB: worst case for PNG)"}


def bench_nyu_raw(tmp: Path, frames: int, register: bool = True) -> dict:
    """NYU raw scene folder of copies of the real frame: PPM + PGM read, undistortion, registration."""
    root = tmp / "nyu_scene"
    if not root.exists():
        root.mkdir()
        for k in range(5):
            shutil.copy(NYU_FRAME / "NYU_depth.pgm", root / f"d-{100 + k / 30:.6f}-{k}.pgm")
            shutil.copy(NYU_FRAME / "NYU_color.ppm", root / f"r-{100 + k / 30:.6f}-{k}.ppm")
    rate = _frames_per_s(open_sequence(root, register=register), frames)
    return {"frames_per_s": rate, "target": 30.0 if register else None, "input": "5 copies of the real NYU frame"}


def bench_synthetic(tmp: Path, frames: int, noise: bool = False) -> dict:
    """Synthetic rendering: procedural furnished room, Open3D ray casting, shading, labels, normals."""
    from slamseg.sequences.synthetic import SyntheticSequence

    seq = SyntheticSequence(seed=0, num_frames=frames + 1, width=640, height=480, noise=noise)
    triangles = len(seq.scene_mesh().triangles)
    seq[0]  # builds the ray-casting scene
    cpu = time.process_time()
    rate = _frames_per_s(seq, frames)
    # CPU seconds per frame (all threads) tell the cost apart from contention on a shared machine
    cpu_per_frame = (time.process_time() - cpu) / (frames + 1)
    return {"frames_per_s": rate, "target": None if noise else 10.0, "cpu_s_per_frame": round(cpu_per_frame, 4),
            "input": f"seed 0 room, {triangles} triangles, 640x480, iterated (2 frames rendered concurrently)"}


ROWS: list[tuple[str, Callable[[Path, int], dict]]] = [
    ("tum (real fr1/rpy, 640x480)", bench_tum),
    ("tum, Pillow colour decode", lambda tmp, n: bench_tum(tmp, n, decoder="pillow")),
    ("tum, no undistortion", lambda tmp, n: bench_tum(tmp, n, undistort=False)),
    ("tum, Pillow decode, no undistortion", lambda tmp, n: bench_tum(tmp, n, decoder="pillow", undistort=False)),
    ("tum slamseg layout (+labels, normals)", bench_tum_slamseg_layout),
    ("nyu_raw + registration (640x480)", bench_nyu_raw),
    ("nyu_raw, no registration", lambda tmp, n: bench_nyu_raw(tmp, n, register=False)),
    ("synthetic rendering (640x480)", bench_synthetic),
    ("synthetic rendering + Kinect noise", lambda tmp, n: bench_synthetic(tmp, n, noise=True)),
]


def main() -> None:
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames read per row")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, bench in ROWS:
            results[name] = bench(Path(tmp), args.frames)
    print(f"{'reader':42s} {'frames/s':>10s} {'target':>8s}")
    for name, r in results.items():
        target = "-" if r["target"] is None else f">={r['target']:g}"
        print(f"{name:42s} {r['frames_per_s']:10.1f} {target:>8s}")
    out = REPO / "benchmarks" / "results" / "sequences.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "frames_per_row": args.frames, "rows": results}
    atomic_write_text(out, json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
