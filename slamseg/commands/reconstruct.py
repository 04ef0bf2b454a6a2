"""``slamseg reconstruct``: a sequence -> semantic mesh, trajectory, map, metrics and report."""

from __future__ import annotations

import argparse

from slamseg.commands.options import Flag, add_options, add_run_options

FLAGS = (
    Flag("sequence.path", "sequence folder or file (NYU raw, NYU .mat, TUM, ICL-NUIM, KITTI, image folder); "
         "overrides sequence.path of --config", name="sequence"),
    Flag("network.checkpoint", "network checkpoint (default: the bundled model)"),
    Flag("depth", "depth to fuse"),
    Flag("labels", "labels to fuse"),
    Flag("map", "map type"),
    Flag("tracking", "pose source: the sequence's (gt), or tracked: keyframe (recommended for recordings without "
         "poses), odometry (frame to frame) or model (frame to map)"),
    Flag("labels_every", "fuse labels every Nth frame"),
    Flag("classes", "classes in the map"),
    Flag("sequence.start", "first frame"),
    Flag("sequence.stop", "stop before this frame"),
    Flag("sequence.step", "use every Nth frame"),
    Flag("network", "network input size, e.g. 320x240 (default 320x240)", name="--input-size", size=True),
    Flag("network.device", "torch device, e.g. cpu or cuda"),
    Flag("tsdf.voxel_size", "TSDF voxel size in metres"),
    Flag("save_predictions", "also write per-frame predictions", const=True),
    Flag("viz", "live visualisation (rerun needs slamseg[viz])"),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.reconstruct_config import ReconstructConfig

    p = sub.add_parser(
        "reconstruct",
        help="reconstruct a sequence into a semantic 3D map (mesh, point cloud, trajectory, report)",
        description="Run the joint network on every frame, track the camera, fuse depth and class probabilities "
        "into a semantic TSDF or surfel map, and write the semantic mesh (PLY + GLB), point cloud, trajectory "
        "(TUM format), the map, metrics.json and a report into a run folder.",
    )
    add_options(p, ReconstructConfig, FLAGS)
    add_run_options(p, "reconstruct", resume=True)
    p.set_defaults(func=run)


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
    print(f"outputs: {final}/ ({', '.join(metrics['outputs'].values())}, report.html)")
    return 0
