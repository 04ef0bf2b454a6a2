"""Accuracy of each runtime and precision of the Predictor against float32 PyTorch, on the bundled weights'
held-out set (synthetic rooms 1000-1003, 24 frames each, 160 x 120, as networks/weights/synthetic_nyu40.json
scores them).

For every (backend, dtype) the CPU runs: held-out mIoU, pixel accuracy, depth RMSE, and against float32 PyTorch on
the same frames the label agreement and the median relative depth difference; plus the build time (conversion,
quantisation). Rows a CPU cannot run (bfloat16 without AVX-512 BF16 / AMX) are listed with the reason. Speed is
measured in benchmarks/predict_path.py, interleaved. Prints a Markdown table and writes
benchmarks/results/precision.json.

    .venv/bin/python benchmarks/precision.py
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import slamseg
from slamseg.networks import Predictor, load_model
from slamseg.networks.datasets import labels_to_channels
from slamseg.networks.errors import NetworkError
from slamseg.networks.metrics import DepthMetrics, SegmentationMetrics
from slamseg.sequences.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "precision.json"
WEIGHTS = ROOT / "networks" / "weights" / "synthetic_nyu40.pt"
HELDOUT_SEEDS = (1000, 1001, 1002, 1003)

# (backend, dtype): the Predictor options of each row; the first is the reference.
ROWS = [("torch", "float32"), ("torch", "bfloat16"), ("openvino", "float32"), ("openvino", "bfloat16"),
        ("onnxruntime", "float32"), ("onnxruntime", "int8")]


def heldout_frames(frames: int) -> list:
    from slamseg.sequences.synthetic import SyntheticSequence

    out = []
    for seed in HELDOUT_SEEDS:
        out.extend(SyntheticSequence(seed=seed, num_frames=frames, width=160, height=120, speed=4.0))
    return out


def score(predictor: Predictor, frames: list) -> tuple[dict, list]:
    segm, depth = SegmentationMetrics(40), DepthMetrics()
    outputs = []
    for frame in frames:
        pred = predictor.predict(frame.rgb)
        outputs.append((pred.labels, pred.depth))
        segm.update(pred.labels - 1, labels_to_channels(frame.labels))
        depth.update(pred.depth, frame.depth)
    return {**segm.compute(), "depth_rmse": depth.compute()["rmse"]}, outputs


def main() -> None:
    slamseg.configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=24, help="frames per held-out room (default 24)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(WEIGHTS)
    frames = heldout_frames(args.frames)
    rows, reference = [], None
    for backend, dtype in ROWS:
        start = time.perf_counter()
        try:
            predictor = Predictor(model, backend=backend, dtype=dtype, num_threads=args.threads)
        except NetworkError as err:
            rows.append({"backend": backend, "dtype": dtype, "refused": str(err)})
            print(f"  {backend} {dtype}: refused: {err}", flush=True)
            continue
        build_s = time.perf_counter() - start
        metrics, outputs = score(predictor, frames)
        if reference is None:
            reference = outputs
        agree = np.mean([np.mean(a[0] == b[0]) for a, b in zip(outputs, reference)])
        rel = np.concatenate([np.abs(a[1] - b[1])[b[1] > 0] / b[1][b[1] > 0] for a, b in zip(outputs, reference)])
        rows.append({"backend": backend, "dtype": dtype, "build_s": build_s, **metrics,
                     "label_agreement": float(agree), "depth_rel_diff_median": float(np.median(rel)),
                     "depth_rel_diff_p95": float(np.percentile(rel, 95))})
        print(f"  {backend} {dtype}: mIoU {metrics['miou']:.4f} rmse {metrics['depth_rmse']:.4f} "
              f"agree {agree:.4f}", flush=True)
    ref = rows[0]
    result = {"machine": platform.processor() or platform.machine(), "threads": args.threads,
              "torch": torch.__version__, "heldout": {"seeds": list(HELDOUT_SEEDS), "frames_per_room": args.frames,
                                                       "size": "160x120"}, "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print("\n| backend | dtype | mIoU | d mIoU (pt) | pixel acc | depth RMSE (m) | d RMSE | labels = fp32 | "
          "median rel. depth diff | build s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "refused" in r:
            print(f"| {r['backend']} | {r['dtype']} | refused: {r['refused']} |||||||")
            continue
        print(f"| {r['backend']} | {r['dtype']} | {100 * r['miou']:.2f} | {100 * (r['miou'] - ref['miou']):+.2f} | "
              f"{100 * r['pixel_acc']:.2f} | {r['depth_rmse']:.4f} | "
              f"{100 * (r['depth_rmse'] / ref['depth_rmse'] - 1):+.2f} % | {100 * r['label_agreement']:.2f} % | "
              f"{r['depth_rel_diff_median']:.2e} | {r['build_s']:.1f} |")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
