"""``slamseg compare-depth``: predicted against sensor (Kinect) depth on every frame."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare-depth",
        help="compare the network's depth with the sensor's on every frame (metrics, CSV, figures)",
        description="Predict depth for every frame of a sequence with sensor depth and compare: RMSE (lin, log), "
        "abs rel, sqr rel and delta accuracies per frame (per_frame.csv) and pooled (metrics.json), optionally "
        "in the NYU crop, with a depth cap and after per-frame median scaling; figures and a report.",
    )
    p.add_argument("sequence", nargs="?", help="sequence with sensor depth (NYU raw, TUM, ICL-NUIM, KITTI...)")
    p.add_argument("--config", help="YAML config (bundled name or path); flags override it")
    p.add_argument("--checkpoint", help="network checkpoint (default: the bundled model)")
    p.add_argument("--max-depth", type=float, help="metres; cap of evaluated sensor depth (default 10)")
    p.add_argument("--nyu-crop", action="store_true", help="evaluate inside the NYU evaluation crop only")
    p.add_argument("--no-median-scaling", action="store_true", help="skip the median-scaled metrics")
    p.add_argument("--start", type=int, help="first frame")
    p.add_argument("--stop", type=int, help="stop before this frame")
    p.add_argument("--step", type=int, help="use every Nth frame")
    p.add_argument("--input-size", metavar="WxH", help="network input size (default 320x240)")
    p.add_argument("--device", help="torch device")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value (repeatable)")
    p.add_argument("--out", help="run folder (default runs/compare-depth-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slamseg.commands.reconstruct import input_size_overrides
    from slamseg.config import load_config
    from slamseg.pipelines.compare_depth import run_compare_depth
    from slamseg.pipelines.compare_depth_config import CompareDepthConfig
    from slamseg.runs import RunFolder
    from slamseg.schemas import load_named_config

    pairs = {"sequence.path": args.sequence, "network.checkpoint": args.checkpoint, "max_depth": args.max_depth,
             "sequence.start": args.start, "sequence.stop": args.stop, "sequence.step": args.step,
             "network.device": args.device}
    overrides: list = [(k, v) for k, v in pairs.items() if v is not None]
    overrides += input_size_overrides(args.input_size)
    if args.nyu_crop:
        overrides.append(("nyu_crop", True))
    if args.no_median_scaling:
        overrides.append(("median_scaling", False))
    overrides += args.overrides
    if args.config:
        cfg = load_named_config(args.config, overrides, command="compare-depth")
    else:
        cfg = load_config(CompareDepthConfig, None, overrides)
    run_folder = RunFolder("compare-depth", out=args.out, overwrite=args.overwrite)
    metrics = run_compare_depth(cfg, run_folder, progress=not args.no_progress)
    final = run_folder.finish()
    p = metrics["pooled"]
    print(f"{metrics['frames']} frames: RMSE {p['rmse']:.3f} m, RMSE(log) {p['rmse_log']:.3f}, "
          f"abs rel {p['abs_rel']:.3f}, delta<1.25 {p['delta1']:.3f}")
    if "pooled_median_scaled" in metrics:
        s = metrics["pooled_median_scaled"]
        print(f"median-scaled: RMSE {s['rmse']:.3f} m, abs rel {s['abs_rel']:.3f} "
              f"(mean scale {metrics['median_scale']['mean']:.3f})")
    print(f"outputs: {final}/ (per_frame.csv, metrics.json, report.html, figures/)")
    return 0
