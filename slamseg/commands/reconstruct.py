"""``slamseg reconstruct``: reconstruct a sequence into a semantic 3D map (mesh, point cloud, trajectory, report).

Run the joint network on every frame, track the camera, fuse depth and class probabilities into a semantic TSDF or
surfel map, and write the semantic mesh (PLY + GLB), point cloud, trajectory (TUM format), the map, metrics.json
and a report into a run folder.
"""

from __future__ import annotations

import argparse

from slamseg.commands.options import flags, register

FLAGS = flags("network.checkpoint", "depth", "labels", "map", "tracking", "labels_every", "classes", "sequence.start",
              "sequence.stop", "sequence.step", "network.device", "network.backend", "network.precision",
              "tsdf.voxel_size", "viz", "evaluation.nyu_labeled",
              positional="sequence.path", names={"sequence.path": "sequence"},
              switches={"--save-predictions": ("save_predictions", True)}, sizes={"--input-size": "network"},
              helps={"--save-predictions": "also write per-frame predictions"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.reconstruct_config import ReconstructConfig

    register(sub, "reconstruct", __doc__, ReconstructConfig, FLAGS, run, resume=True)


def run(args: argparse.Namespace) -> int:
    from slamseg.commands.options import load_options
    from slamseg.pipelines.reconstruct import run_reconstruct
    from slamseg.pipelines.reconstruct_config import ReconstructConfig
    from slamseg.runs import RunFolder

    cfg = load_options(args, ReconstructConfig, "reconstruct", FLAGS)
    run_folder = RunFolder("reconstruct", out=args.out, resume=args.resume, overwrite=args.overwrite,
                           resumable=True)
    metrics = run_reconstruct(cfg, run_folder, progress=not args.no_progress)
    final = run_folder.finish()
    print(f"reconstructed {metrics['frames_integrated']} frames at {metrics['frames_per_second']} frames/s "
          f"({len(metrics['tracking_failures'])} tracking failures)")
    tracking = metrics["tracking"]
    if tracking["mode"] != "gt":
        counts = ", ".join(f"{v} {k}" for k, v in tracking["status_counts"].items() if v)
        print(f"tracking ({tracking['mode']}): coverage {100 * tracking['coverage']:.1f}% ({counts}); "
              f"{tracking.get('loops_kept', 0)} loop closures; statuses in trajectory_status.csv")
    ev = metrics.get("evaluation", {})
    if "ate" in ev.get("trajectory", {}):
        print(f"ATE RMSE: {ev['trajectory']['ate']['rmse']:.4f} m over {ev['trajectory']['frames_compared']} frames "
              "with a pose")
    if "labels_2d" in ev:
        fused = ev["labels_2d"]["fused_map"]
        print(f"fused-map labels: class-average accuracy {fused['class_average_accuracy']:.3f}, "
              f"pixel accuracy {fused['pixel_accuracy']:.3f}")
    nyu = ev.get("nyu_keyframes", {})
    if "fused_map" in nyu:
        network = nyu.get("single_frame")
        print(f"NYU labelled frames of {nyu['scene']} ({nyu['frames']} of {nyu['labelled_frames']}, 13 classes): "
              f"map class-average accuracy {nyu['fused_map']['class_average_accuracy']:.3f}, mIoU "
              f"{nyu['fused_map']['mean_iou']:.3f}" + (f"; network {network['class_average_accuracy']:.3f}, "
                                                       f"{network['mean_iou']:.3f}" if network else ""))
    print(f"outputs: {final}/ ({', '.join(metrics['outputs'].values())}, report.html)")
    return 0
