"""``slamseg compare-depth``: predicted against sensor (Kinect) depth on every frame."""

from __future__ import annotations

import argparse

from slamseg.commands.options import Flag, add_options, add_run_options

FLAGS = (
    Flag("sequence.path", "sequence with sensor depth (NYU raw, TUM, ICL-NUIM, KITTI...)", name="sequence"),
    Flag("network.checkpoint", "network checkpoint (default: the bundled model)"),
    Flag("max_depth", "metres; cap of evaluated sensor depth"),
    Flag("nyu_crop", "evaluate inside the NYU evaluation crop only", const=True),
    Flag("median_scaling", "skip the median-scaled metrics", name="--no-median-scaling", const=False),
    Flag("sequence.start", "first frame"),
    Flag("sequence.stop", "stop before this frame"),
    Flag("sequence.step", "use every Nth frame"),
    Flag("network", "network input size (default 320x240)", name="--input-size", size=True),
    Flag("network.device", "torch device"),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.compare_depth_config import CompareDepthConfig

    p = sub.add_parser(
        "compare-depth",
        help="compare the network's depth with the sensor's on every frame (metrics, CSV, figures)",
        description="Predict depth for every frame of a sequence with sensor depth and compare: RMSE (lin, log), "
        "abs rel, sqr rel and delta accuracies per frame (per_frame.csv) and pooled (metrics.json), optionally "
        "in the NYU crop, with a depth cap and after per-frame median scaling; figures and a report.",
    )
    add_options(p, CompareDepthConfig, FLAGS)
    add_run_options(p, "compare-depth")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slamseg.commands.options import load_options
    from slamseg.pipelines.compare_depth import run_compare_depth
    from slamseg.pipelines.compare_depth_config import CompareDepthConfig
    from slamseg.runs import RunFolder

    cfg = load_options(args, CompareDepthConfig, "compare-depth", FLAGS)
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
