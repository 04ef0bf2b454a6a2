"""What removing flying pixels from predicted depth (``depth_edge_jump``) does to the map: mesh accuracy and
completeness, fused labels and ATE when tracking, on the demo's synthetic rooms. Table printed, JSON written to
benchmarks/results/predicted_depth.json.

Setting: the demo's (320 x 240 frames, the bundled network at 160 x 120, predicted depth, 13-class TSDF at 3 cm),
with the rooms' poses and with keyframe tracking on the predicted depth. Usage:
``python benchmarks/predicted_depth.py [--seeds 0 1] [--frames 60]``. Not asserted in tests (DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from slamseg.pipelines.demo import reconstruct_config
from slamseg.pipelines.demo_config import DemoConfig
from slamseg.pipelines.reconstruct import run_reconstruct
from slamseg.pipelines.synth import write_synthetic_sequence
from slamseg.pipelines.synth_config import SynthConfig
from slamseg.runs import RunFolder
from slamseg.runtime import configure_runtime

RESULTS = Path(__file__).resolve().parent / "results" / "predicted_depth.json"
JUMPS = (None, 0.2, 0.1, 0.05)


def one(room: Path, out: Path, jump: float | None, tracking: str) -> dict:
    cfg = replace(reconstruct_config(DemoConfig(), room, tracking), depth_edge_jump=jump)
    run = RunFolder("bench", out=out)
    metrics = run_reconstruct(cfg, run, progress=False)
    ev = metrics["evaluation"]
    labels = ev["labels_2d"]["fused_map"]
    row = {"mesh_accuracy_cm": 100 * ev["mesh"]["accuracy"], "mesh_completeness_cm": 100 * ev["mesh"]["completeness"],
           "fused_class_avg": 100 * labels["class_average_accuracy"], "fused_pixel": 100 * labels["pixel_accuracy"],
           "predicted_fraction": 100 * ev["depth"].get("predicted_fraction", 1.0)}
    if tracking != "gt":
        row["ate_cm"] = 100 * ev["trajectory"]["ate"]["rmse"]
    return row


def main() -> None:
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for seed in args.seeds:
            run = RunFolder("synth", out=tmp / f"room{seed}")
            write_synthetic_sequence(SynthConfig(seed=seed, frames=args.frames, width=320, height=240), run,
                                     progress=False)
            room = run.finish()
            for tracking in ("gt", "keyframe"):
                for jump in JUMPS:
                    key = f"seed {seed}, {tracking}, jump {jump}"
                    rows[key] = {"seed": seed, "tracking": tracking, "jump": jump,
                                 **one(room, tmp / key.replace(" ", "").replace(",", "-"), jump, tracking)}
                    print(key, {k: round(v, 2) for k, v in rows[key].items() if isinstance(v, float)}, flush=True)
    print(f"\n{'seed':>4} {'poses':<9}{'jump':>6}{'kept %':>8}{'mesh acc cm':>12}{'compl cm':>10}"
          f"{'fused cls/pix':>16}{'ATE cm':>8}")
    for r in rows.values():
        ate = f"{r['ate_cm']:>8.1f}" if "ate_cm" in r else f"{'-':>8}"
        print(f"{r['seed']:>4} {r['tracking']:<9}{r['jump']!s:>6}{r['predicted_fraction']:>8.1f}"
              f"{r['mesh_accuracy_cm']:>12.1f}{r['mesh_completeness_cm']:>10.1f}"
              f"{r['fused_class_avg']:>9.1f} / {r['fused_pixel']:>4.1f}{ate}")
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "rows": rows,
              "wall_s": time.perf_counter() - t0}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
