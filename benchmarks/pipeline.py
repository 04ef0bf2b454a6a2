"""Speed of the whole ``slamseg reconstruct`` pipeline and the share of each stage, printed as a table and written
to benchmarks/results/pipeline.json.

Setting: 640 x 480 frames of a synthetic room, the network at 320 x 240 (batch 4), predicted depth,
semantic TSDF (13 classes, 2 cm voxels, --voxel-size), labels fused every frame,
ground-truth poses (tracking is a separate row). Target: >= 5 frames/s on 2 CPU cores.

Usage: ``python benchmarks/pipeline.py [--frames 40] [--checkpoint CKPT]``; without a checkpoint the bundled
model is used (speed does not depend on the weights, but the map's size does, so trained weights are preferred).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import torch

from slamseg.config import from_dict
from slamseg.pipelines.reconstruct import run_reconstruct
from slamseg.pipelines.reconstruct_config import ReconstructConfig
from slamseg.pipelines.synth import write_synthetic_sequence
from slamseg.pipelines.synth_config import SynthConfig
from slamseg.runs import RunFolder
from slamseg.runtime import configure_runtime
from slamseg.sequences.atomic import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"


def bench(sequence: Path, tmp: Path, name: str, **settings) -> dict:
    """One reconstruct run; returns frames/s (staged work, outputs excluded) and per-stage ms and shares."""
    cfg = from_dict(ReconstructConfig, {"sequence": {"path": str(sequence)}, "snapshot_every": 0,
                                        "evaluate": False, **settings})
    run = RunFolder("bench", out=tmp / name)
    metrics = run_reconstruct(cfg, run, progress=False)
    stages = metrics["timings"]["stages"]
    return {
        "frames": metrics["frames_integrated"],
        "frames_per_s": metrics["frames_per_second"],
        "ms_per_frame": {k: round(v["seconds"] * 1000 / metrics["frames_integrated"], 2) for k, v in stages.items()},
        "share": {k: v["share"] for k, v in stages.items()},
        "settings": settings,
    }


def main() -> None:
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--voxel-size", type=float, default=0.02)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    network = {"checkpoint": args.checkpoint, "input_width": 320, "input_height": 240, "batch_size": 4,
               "threads": args.threads}
    tsdf = {"voxel_size": args.voxel_size, "depth_max": 6.0, "block_count": 8000}
    rows = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run = RunFolder("synth", out=tmp / "room")
        write_synthetic_sequence(SynthConfig(seed=0, frames=args.frames, width=640, height=480), run, progress=False)
        room = run.finish()
        rows["predicted depth, TSDF, labels every frame, GT poses"] = bench(
            room, tmp, "a", network=network, depth="predicted", labels="network", tsdf=tsdf, tracking="gt")
        rows["sensor depth, TSDF, labels every frame, GT poses"] = bench(
            room, tmp, "b", network=network, depth="sensor", labels="network", tsdf=tsdf, tracking="gt")
        rows["predicted depth, TSDF, labels every 10th frame, GT poses"] = bench(
            room, tmp, "c", network=network, depth="predicted", labels="network", labels_every=10, tsdf=tsdf,
            tracking="gt")
        rows["predicted depth, TSDF, labels every frame, frame-to-model tracking"] = bench(
            room, tmp, "d", network=network, depth="predicted", labels="network", tsdf=tsdf, tracking="model")
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": args.threads,
                          "torch": torch.__version__},
              "frames": args.frames, "image": "640x480", "network_input": "320x240", "target_frames_per_s": 5.0,
              "rows": rows}
    RESULTS.parent.mkdir(exist_ok=True)
    atomic_write_text(RESULTS, json.dumps(result, indent=2) + "\n")
    stages = ["read", "network", "tracking", "fusion", "snapshot"]
    print(f"| setting | frames/s | {' | '.join(s + ' ms/frame' for s in stages)} |")
    print("|---|---:|" + "---:|" * len(stages))
    for name, row in rows.items():
        cells = [f"{row['ms_per_frame'].get(s, 0):.1f} ({100 * row['share'].get(s, 0):.0f}%)" for s in stages]
        print(f"| {name} | {row['frames_per_s']:.2f} | {' | '.join(cells)} |")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
