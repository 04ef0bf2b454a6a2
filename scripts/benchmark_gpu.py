"""The paper's speed protocol on CUDA (run it on a machine with a GPU): CUDA events, mean/std over forward passes
after warm-up, for fp32, fp16 and bf16 (+ channels-last / BN folded), batch 1 and batch 16, at 640x480; then the
whole ``Predictor.predict`` path (uint8 image in, labels + depth at the image size back on the host) per precision,
timed on the host clock after a device synchronisation.

    python scripts/benchmark_gpu.py [--iters 100] [--checkpoint CKPT] [--out benchmarks/results/network_gpu.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from slamseg.networks import build_model, load_model
from slamseg.networks.fast import prepare
from slamseg.sequences.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {  # name -> prepare() options
    "naive fp32 NCHW": {"fold_bn": False, "channels_last": False, "dtype": "float32"},
    "fp32 channels-last + BN folded": {"fold_bn": True, "channels_last": True, "dtype": "float32"},
    "fp16 BN folded": {"fold_bn": True, "channels_last": False, "dtype": "float16"},
    "fp16 channels-last + BN folded": {"fold_bn": True, "channels_last": True, "dtype": "float16"},
    "bf16 channels-last + BN folded": {"fold_bn": True, "channels_last": True, "dtype": "bfloat16"},
}


def time_predict(predictor, image, iters: int, warmup: int) -> dict:
    """Milliseconds per ``predict(image)`` (host clock; the result is on the host when it returns)."""
    import time

    for _ in range(warmup):
        predictor.predict(image)
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        predictor.predict(image)
        times.append(1000 * (time.perf_counter() - start))
    return {"mean_ms": statistics.fmean(times), "std_ms": statistics.pstdev(times),
            "median_ms": statistics.median(times), "iters": iters}


def time_cuda(net, x: torch.Tensor, iters: int, warmup: int) -> dict:
    """Milliseconds per forward pass measured with CUDA events (mean, std, median)."""
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            net(x)
        torch.cuda.synchronize()
        for _ in range(iters):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            net(x)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
    return {"mean_ms": statistics.fmean(times), "std_ms": statistics.pstdev(times),
            "median_ms": statistics.median(times), "iters": iters}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes (default 1,16)")
    parser.add_argument("--size", default="640x480", help="WxH (default 640x480)")
    parser.add_argument("--checkpoint", default=str(ROOT / "tests/data/authors_net/ExpNYUD_joint_random.ckpt"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/network_gpu.json"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("CUDA is not available: run this on a GPU machine", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True  # the input size is fixed: let cuDNN pick its fastest kernels
    model = load_model(args.checkpoint) if Path(args.checkpoint).exists() else build_model("nyud_joint").eval()
    width, height = (int(v) for v in args.size.split("x"))
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        for name, options in CONFIGS.items():
            net = prepare(model, "cuda", **options)
            x = torch.randn(batch, 3, height, width, device="cuda", dtype=getattr(torch, options["dtype"]))
            if options["channels_last"]:
                x = x.contiguous(memory_format=torch.channels_last)
            stats = time_cuda(net, x, args.iters, args.warmup)
            rows.append({"config": name, "batch": batch, "size": args.size, **stats,
                         "ms_per_image": stats["mean_ms"] / batch})
            print(f"| {name} | {batch} | {stats['mean_ms']:.2f} | {stats['std_ms']:.2f} | "
                  f"{stats['mean_ms'] / batch:.2f} |", flush=True)
    import numpy as np

    from slamseg.networks import Predictor

    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    for dtype in ("float32", "float16", "bfloat16"):
        stats = time_predict(Predictor(model, device="cuda", dtype=dtype), image, args.iters, args.warmup)
        rows.append({"config": f"predict(image): labels + depth, {dtype}", "batch": 1, "size": args.size, **stats,
                     "ms_per_image": stats["mean_ms"]})
        print(f"| predict {dtype} | 1 | {stats['mean_ms']:.2f} | {stats['std_ms']:.2f} | {stats['mean_ms']:.2f} |",
              flush=True)
    result = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cuda": torch.version.cuda,
              "protocol": f"{args.iters} passes after {args.warmup} warm-up, CUDA events", "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
