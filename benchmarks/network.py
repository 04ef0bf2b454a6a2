"""The paper's speed protocol for the joint network on CPU: mean/std (and median) of forward passes after warm-up.

Compares, in one run (the paths interleaved pass by pass) and with the thread count stated: the naive eager
float32 NCHW model and each Predictor fast path (BatchNorm folding, channels-last, both, frozen TorchScript, the
decoder's CPU kernels, optionally torch.compile) at 640x480 and 320x240, batch 1, plus parameters and multiply-adds;
and the other runtimes of networks/backends.py (OpenVINO fp32, ONNX Runtime fp32 and int8; bf16 where the CPU has
AVX-512 BF16 / AMX; ``--no-backends`` skips them), built once and timed in the same rounds.
Forward passes only (normalised tensor in, raw outputs out), as in the paper; compile/trace time is excluded
(measured separately). glibc malloc keeps freed memory for every path (as the Predictor sets it on CPU;
``--no-retain-memory`` leaves the defaults). Prints a Markdown table and writes benchmarks/results/network.json.

    .venv/bin/python benchmarks/network.py                # 100 passes, 2 threads (the paper's protocol)
    .venv/bin/python benchmarks/network.py --iters 5      # quick check
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from timing import interleave  # benchmarks/timing.py (the script's folder is on sys.path)

from slamseg.networks import build_model, load_model
from slamseg.networks.complexity import count_macs, count_parameters
from slamseg.networks.fast import prepare
from slamseg.sequences.atomic import atomic_write_text
from slamseg.sequences.runtime import prefer_openmp_for_numba, retain_freed_memory

RESULTS = Path(__file__).resolve().parent / "results" / "network.json"
DEFAULT_CKPT = Path(__file__).resolve().parent.parent / "tests" / "data" / "authors_net" / "ExpNYUD_joint_random.ckpt"

# name -> prepare() options. "naive" is the baseline of the speed-up column.
PATHS: dict[str, dict] = {
    "naive (eager fp32 NCHW)": {"fold_bn": False, "channels_last": False},
    "BN folded": {"fold_bn": True, "channels_last": False},
    "channels-last": {"fold_bn": False, "channels_last": True},
    "fast: channels-last + BN folded": {"fold_bn": True, "channels_last": True},
    "fast + TorchScript freeze": {"fold_bn": True, "channels_last": True, "jit": True},
    "fast + CPU kernels (Predictor default)": {"fold_bn": True, "channels_last": True, "cpu_kernels": True},
}


def time_interleaved(nets: dict[str, tuple], iters: int, warmup: int) -> dict[str, dict]:
    """Milliseconds per forward pass of each (net, input) under inference mode: mean, std, median, min over
    ``iters`` rotating rounds after ``warmup`` rounds (benchmarks/timing.py)."""
    with torch.inference_mode():
        stats = interleave({name: (lambda net=net, x=x: net(x)) for name, (net, x) in nets.items()}, iters, warmup)
    return {name: {**s, "iters": iters} for name, s in stats.items()}


def backend_nets(model: torch.nn.Module, threads: int, x: torch.Tensor) -> dict[str, tuple]:
    """Name -> (callable network, seconds to build it) of every runtime and precision this CPU runs; int8 is
    calibrated on synthetic rooms (networks/backends.py)."""
    from slamseg.networks.backends import build_backend, cpu_has_bf16
    from slamseg.networks.registry import IMAGENET_MEAN, IMAGENET_STD

    variants = [("openvino", "float32"), ("onnxruntime", "float32"), ("onnxruntime", "int8")]
    if cpu_has_bf16():
        variants.append(("openvino", "bfloat16"))
    out = {}
    for backend, dtype in variants:
        start = time.perf_counter()
        net = build_backend(model, backend, dtype, threads, None, IMAGENET_MEAN, IMAGENET_STD)
        net(x)  # OpenVINO compiles for the input shape on the first call
        out[f"{backend} {dtype}"] = (net, time.perf_counter() - start)
    return out


def main() -> None:
    prefer_openmp_for_numba()  # malloc retention is this benchmark's own option (--no-retain-memory)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=100, help="timed forward passes per path (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed passes first (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--checkpoint", default=str(DEFAULT_CKPT), help="checkpoint (default: the random one)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (compiles for minutes)")
    parser.add_argument("--sizes", default="640x480,320x240", help="comma-separated WxH list")
    parser.add_argument("--no-retain-memory", action="store_true",
                        help="leave glibc malloc at its defaults (the Predictor raises its thresholds on CPU)")
    parser.add_argument("--no-backends", action="store_true", help="skip the OpenVINO / ONNX Runtime rows")
    parser.add_argument("--out", default=str(RESULTS), help="JSON output path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # Process-wide, so it applies to every row alike: the allocator setting the Predictor uses on CPU.
    retained = False if args.no_retain_memory else retain_freed_memory()
    model = load_model(args.checkpoint) if Path(args.checkpoint).exists() else build_model("nyud_joint").eval()
    paths = dict(PATHS)
    if args.compile:
        paths["fast + torch.compile"] = {"fold_bn": True, "channels_last": True, "compile": True}
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    rows = []
    for width, height in sizes:
        x = torch.randn(1, 3, height, width)
        macs = sum(b.macs for b in count_macs(model, (width, height)))
        nets, setup = {}, {}
        for name, options in paths.items():
            start = time.perf_counter()
            net = prepare(model, "cpu", example=x, **options)
            xin = x.contiguous(memory_format=torch.channels_last) if options.get("channels_last") else x
            with torch.inference_mode():
                net(xin)  # compile / trace-optimise happens here, outside the timing
            setup[name] = time.perf_counter() - start
            nets[name] = (net, xin)
        for name, (net, seconds) in ({} if args.no_backends else backend_nets(model, args.threads, x)).items():
            nets[name], setup[name] = (net, x), seconds
        stats = time_interleaved(nets, args.iters, args.warmup)
        baseline = stats[next(iter(paths))]["median_ms"]
        for name in nets:
            rows.append({"path": name, "size": f"{width}x{height}", "setup_s": setup[name], **stats[name],
                         "speedup_vs_naive": baseline / stats[name]["median_ms"], "gmacs": macs / 1e9})
            print(f"  {name} {width}x{height}: median {stats[name]['median_ms']:.1f} ms", flush=True)
    result = {
        "device": "cpu", "threads": args.threads, "torch": torch.__version__, "machine": platform.processor()
        or platform.machine(), "params": count_parameters(model), "checkpoint": str(args.checkpoint),
        "protocol": f"{args.iters} forward passes after {args.warmup} warm-up, batch 1, float32, paths interleaved",
        "rows": rows,
        "malloc_retains_freed_memory": retained,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=2) + "\n")
    print(f"\nnyud_joint: {result['params']:,} parameters; CPU, {args.threads} threads, torch {torch.__version__}; "
          f"{result['protocol']}; malloc retains freed memory: {retained}\n")
    print("| path | size | mean ms | std ms | median ms | speed-up vs naive | GMACs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['path']} | {r['size']} | {r['mean_ms']:.1f} | {r['std_ms']:.1f} | {r['median_ms']:.1f} | "
              f"{r['speedup_vs_naive']:.2f}x | {r['gmacs']:.2f} |")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
