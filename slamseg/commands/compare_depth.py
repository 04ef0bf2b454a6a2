"""``slamseg compare-depth``: compare the network's depth with the sensor's on every frame (metrics, CSV, figures).

Predict depth for every frame of a sequence with sensor depth and compare: RMSE (lin, log), abs rel, sqr rel and
delta accuracies per frame (per_frame.csv) and pooled (metrics.json), optionally in the NYU crop, with a depth cap
and after per-frame median scaling; figures and a report.
"""

from __future__ import annotations

import argparse

from slamseg.commands.options import flags, register

FLAGS = flags("network.checkpoint", "max_depth", "sequence.start", "sequence.stop", "sequence.step", "network.device",
              "network.backend", "network.precision",
              positional="sequence.path", names={"sequence.path": "sequence"},
              switches={"--nyu-crop": ("nyu_crop", True), "--no-median-scaling": ("median_scaling", False)},
              sizes={"--input-size": "network"},
              helps={"--nyu-crop": "evaluate inside the NYU evaluation crop only",
                     "--no-median-scaling": "skip the median-scaled metrics"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.compare_depth_config import CompareDepthConfig

    register(sub, "compare-depth", __doc__, CompareDepthConfig, FLAGS, run)


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
