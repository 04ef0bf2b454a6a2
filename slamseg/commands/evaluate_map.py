"""``slamseg evaluate-map``: evaluate a reconstruct run against ground truth (ATE/RPE, 2D labels, mesh accuracy).

Evaluate a finished 'slamseg reconstruct' run against its sequence's ground truth: trajectory ATE/RPE, the fused
map's labels rendered into the labelled frames against ground truth and against the network's single-frame
labels (SemanticFusion's protocol, in the map's classes), and mesh accuracy/completeness against a ground-truth
mesh (synthetic sequences).
"""

from __future__ import annotations

import argparse

from slamseg.commands.options import flags, register

FLAGS = flags("sequence", positional="run", switches={"--no-single-frame": ("single_frame", False)},
              helps={"--no-single-frame": "skip running the network for the single-frame label comparison"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.job_configs import EvaluateMapConfig

    register(sub, "evaluate-map", __doc__, EvaluateMapConfig, FLAGS, run)


def run(args: argparse.Namespace) -> int:
    from slamseg.commands.options import load_options, require
    from slamseg.pipelines.evaluate_map import run_evaluate_map
    from slamseg.pipelines.job_configs import EvaluateMapConfig
    from slamseg.runs import RunFolder

    cfg = load_options(args, EvaluateMapConfig, "evaluate-map", FLAGS)
    require(cfg.run, "the run folder of 'slamseg reconstruct' (RUN)", "evaluate-map")
    out = RunFolder("evaluate-map", out=args.out, overwrite=args.overwrite)
    out.write_config(cfg, command="evaluate-map")
    metrics = run_evaluate_map(cfg.run, out, cfg.sequence, single_frame=cfg.single_frame,
                               progress=not args.no_progress)
    final = out.finish()
    print(f"{metrics['frames_matched']} frames matched")
    if "trajectory" in metrics:
        print(f"ATE RMSE {metrics['trajectory']['ate']['rmse']:.4f} m, "
              f"RPE {metrics['trajectory']['rpe_translation']['rmse']:.4f} m/frame")
    if "labels_2d" in metrics:
        for name, m in metrics["labels_2d"].items():
            if isinstance(m, dict):
                print(f"labels ({name}): class-average {m['class_average_accuracy']:.3f}, "
                      f"pixel {m['pixel_accuracy']:.3f}, mIoU {m['mean_iou']:.3f}")
    if "mesh" in metrics:
        print(f"mesh: accuracy {metrics['mesh']['accuracy']:.4f} m, completeness "
              f"{metrics['mesh']['completeness']:.4f} m, completion {metrics['mesh']['completion_ratio']:.3f}")
    print(f"outputs: {final}/ (metrics.json, report.html)")
    return 0
