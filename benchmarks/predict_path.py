"""The whole predict path against the network alone, and every CPU runtime and precision, interleaved.

What a user of ``Predictor.predict(image)`` waits for at 640 x 480 (40 classes, labels + depth at the image size):
preprocessing, the network and the post-processing. Timed side by side, round by round in a rotating order, on the
same image and with the thread count stated:

- network only: the naive eager float32 NCHW model, and the Predictor's fast path (the ratio's denominator);
- whole path: fused (default), fused with probabilities, the mapped 13-class path reconstruct uses, and the
  authors' demo operator by operator (``mode="release"``);
- other runtimes (network only and whole path): OpenVINO float32, ONNX Runtime float32 and int8; bfloat16 rows
  where the CPU has the instructions (listed as refused otherwise).

Then, on the real frames in tests/data (the NYU Kinect frame and the ten TUM fr1/rpy frames), how far the default
path is from the release-exact one: labels identical (and identical away from near-ties), depth's relative
difference (bilinear against the release's bicubic with abs).

Prints Markdown tables and writes benchmarks/results/predict_path.json.

    .venv/bin/python benchmarks/predict_path.py              # 30 rounds
    .venv/bin/python benchmarks/predict_path.py --rounds 5   # quick check
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from machine import cpu_flags, cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)
from timing import interleave  # benchmarks/timing.py

import slamseg
from slamseg.networks import Predictor, load_model
from slamseg.networks.backends import cpu_has_bf16
from slamseg.networks.errors import NetworkError
from slamseg.sequences.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "predict_path.json"
WEIGHTS = ROOT / "networks" / "weights" / "synthetic_nyu40.pt"
FRAME = ROOT / "tests" / "data" / "nyu_raw_frame" / "NYU_color.ppm"  # a real 640 x 480 Kinect frame


def real_frames() -> list[np.ndarray]:
    """The real RGB frames bundled with the tests: NYU raw (640 x 480) and TUM fr1/rpy (640 x 480)."""
    import imageio.v3 as iio

    paths = [FRAME, *sorted((ROOT / "tests" / "data" / "tum_fr1_rpy" / "rgb").glob("*.png"))]
    return [np.ascontiguousarray(iio.imread(p)[:, :, :3]) for p in paths if p.exists()]


def agreement(model, frames: list[np.ndarray]) -> dict:
    """Default (fused, bilinear depth) against release-exact outputs on ``frames``."""
    fast, release = Predictor(model), Predictor(model, mode="release")
    same, same_away, rel = [], [], []
    for image in frames:
        a, b = fast.predict(image), release.predict(image, probs=True)
        top2 = np.sort(b.probs, axis=-1)[..., -2:]
        clear = np.log(np.maximum(top2[..., 1], 1e-30)) - np.log(np.maximum(top2[..., 0], 1e-30)) >= 1e-4
        same.append(np.mean(a.labels == b.labels))
        same_away.append(np.mean(a.labels[clear] == b.labels[clear]))
        valid = b.depth > 0
        rel.append(np.abs(a.depth[valid] - b.depth[valid]) / b.depth[valid])
    rel_all = np.concatenate(rel)
    return {"frames": len(frames), "labels_identical": float(np.mean(same)),
            "labels_identical_away_from_near_ties": float(np.mean(same_away)),
            "depth_rel_diff_median": float(np.median(rel_all)), "depth_rel_diff_p99": float(np.percentile(rel_all, 99))}


def main() -> None:
    slamseg.configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-backends", action="store_true", help="skip OpenVINO and ONNX Runtime rows")
    parser.add_argument("--input-size", default=None, metavar="WxH",
                        help="run the network at this size (reconstruct's default is 320x240); outputs stay 640x480")
    parser.add_argument("--checkpoint", default=str(WEIGHTS),
                        help="model to time (default: the bundled weights; benchmarks/network.py uses the "
                             "random-weight release layout, tests/data/authors_net/ExpNYUD_joint_random.ckpt)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    if FRAME.exists():
        import imageio.v3 as iio

        image = np.ascontiguousarray(iio.imread(FRAME)[:, :, :3])
    else:
        image = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    image = np.ascontiguousarray(image[:480, :640])

    def network_only(p: Predictor) -> Callable[[], object]:
        x = p.preprocess(image)
        return lambda: p.forward(x)

    size = None if args.input_size is None else tuple(int(v) for v in args.input_size.split("x"))
    fast = Predictor(model, num_threads=args.threads, input_size=size)
    naive = Predictor(model, mode="naive", input_size=size)
    release = Predictor(model, mode="release", input_size=size)
    paths: dict[str, Callable[[], object]] = {
        "network only: naive eager fp32 NCHW": network_only(naive),
        "network only: fast (Predictor's network)": network_only(fast),
        # benchmarks/network.py times its passes on torch.randn; the naive pass is input-dependent (~3x slower
        # there than on a real frame), so that baseline is timed here too, side by side
        "network only: naive, on network.py's random input": (
            lambda x: lambda: naive.forward(x))(torch.randn(1, 3, 480, 640)),
        "predict: labels + depth (fused, default)": lambda: fast.predict(image),
        "predict: + probabilities (40)": lambda: fast.predict(image, probs=True),
        "predict: nyu13 labels + probabilities (reconstruct)": lambda: fast.predict(image, label_set="nyu13",
                                                                                    probs=True),
        "predict: release-exact (authors' demo, probabilities)": lambda: release.predict(image, probs=True),
    }
    refused: dict[str, str] = {}
    builds: dict[str, float] = {}
    variants = [] if args.no_backends else [("openvino", "float32"), ("onnxruntime", "float32"),
                                             ("onnxruntime", "int8"), ("torch", "bfloat16"), ("openvino", "bfloat16")]
    for backend, dtype in variants:
        name = f"{backend} {dtype}"
        start = time.perf_counter()
        try:
            p = Predictor(model, backend=backend, dtype=dtype, num_threads=args.threads, input_size=size)
        except NetworkError as err:
            refused[name] = str(err)
            continue
        p.predict(image)  # OpenVINO compiles for the shape on its first call
        builds[name] = time.perf_counter() - start
        paths[f"network only: {name}"] = network_only(p)
        paths[f"predict: labels + depth, {name}"] = (lambda q: lambda: q.predict(image))(p)
    stats = interleave(paths, args.rounds, args.warmup)
    base = stats["network only: fast (Predictor's network)"]["median_ms"]
    naive_ms = stats["network only: naive eager fp32 NCHW"]["median_ms"]
    rows = [{"path": name, **s, "x_network_fast": s["median_ms"] / base, "speedup_vs_naive": naive_ms / s["median_ms"]}
            for name, s in stats.items()]
    agree = agreement(model, real_frames())
    result = {"machine": cpu_model(), "checkpoint": str(args.checkpoint), "network_input": args.input_size or "640x480",
              "cpu_flags": cpu_flags(),
              "bf16_instructions": cpu_has_bf16(),
              "threads": args.threads, "torch": torch.__version__, "size": "640x480", "classes": 40,
              "protocol": f"{args.rounds} rounds after {args.warmup} warm-up, paths interleaved, batch 1",
              "rows": rows, "refused": refused, "build_s": builds, "fused_vs_release_on_real_frames": agree}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"\n{result['machine']}; flags: {' '.join(result['cpu_flags'])}; {args.threads} threads; "
          f"torch {torch.__version__}; {result['protocol']}\n")
    print("| path | median ms | mean ms | std ms | x network fast | speed-up vs naive |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['path']} | {r['median_ms']:.1f} | {r['mean_ms']:.1f} | {r['std_ms']:.1f} | "
              f"{r['x_network_fast']:.2f} | {r['speedup_vs_naive']:.2f}x |")
    for name, why in refused.items():
        print(f"| {name} | refused: {why} |||||")
    print(f"\nDefault vs release-exact on {agree['frames']} real frames: labels identical "
          f"{100 * agree['labels_identical']:.3f} % ({100 * agree['labels_identical_away_from_near_ties']:.3f} % away "
          f"from near-ties); depth relative difference median {agree['depth_rel_diff_median']:.2e}, "
          f"99th percentile {agree['depth_rel_diff_p99']:.2e}")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
