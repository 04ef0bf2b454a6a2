"""``slamseg reconstruct``: a sequence -> semantic mesh, trajectory, map, metrics and report."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reconstruct",
        help="reconstruct a sequence into a semantic 3D map (mesh, point cloud, trajectory, report)",
        description="Run the joint network on every frame, track the camera, fuse depth and class probabilities "
        "into a semantic TSDF or surfel map, and write the semantic mesh (PLY + GLB), point cloud, trajectory "
        "(TUM format), the map, metrics.json and a report into a run folder.",
    )
    p.add_argument("sequence", nargs="?", help="sequence folder or file (NYU raw, NYU .mat, TUM, ICL-NUIM, KITTI, "
                   "image folder); overrides sequence.path of --config")
    p.add_argument("--config", help="YAML config (bundled name or path); flags below override it")
    p.add_argument("--checkpoint", help="network checkpoint (default: the bundled model)")
    p.add_argument("--depth", choices=["predicted", "sensor"], help="depth to fuse (default predicted)")
    p.add_argument("--labels", choices=["network", "gt", "none"], help="labels to fuse (default network)")
    p.add_argument("--map", choices=["tsdf", "surfel"], help="map type (default tsdf)")
    p.add_argument("--tracking", choices=["gt", "odometry", "keyframe", "model"],
                   help="pose source: the sequence's (gt, default), or tracked: keyframe (recommended for "
                   "recordings without poses), odometry (frame to frame) or model (frame to map)")
    p.add_argument("--labels-every", type=int, help="fuse labels every Nth frame (default 1)")
    p.add_argument("--classes", type=int, choices=[13, 40], help="classes in the map (default 13)")
    p.add_argument("--start", type=int, help="first frame")
    p.add_argument("--stop", type=int, help="stop before this frame")
    p.add_argument("--step", type=int, help="use every Nth frame")
    p.add_argument("--input-size", metavar="WxH", help="network input size, e.g. 320x240 (default 320x240)")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda")
    p.add_argument("--voxel-size", type=float, help="TSDF voxel size in metres")
    p.add_argument("--save-predictions", action="store_true", help="also write per-frame predictions")
    p.add_argument("--viz", choices=["none", "rerun"], help="live visualisation (rerun needs slamseg[viz])")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set tsdf.depth_max=5 (repeatable)")
    p.add_argument("--out", help="run folder (default runs/reconstruct-<time>)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def flag_overrides(args: argparse.Namespace) -> list:
    """The command-line flags as config overrides (flags win over the config file)."""
    pairs = {
        "sequence.path": args.sequence, "network.checkpoint": args.checkpoint, "depth": args.depth,
        "labels": args.labels, "map": args.map, "tracking": args.tracking, "labels_every": args.labels_every,
        "classes": args.classes, "sequence.start": args.start, "sequence.stop": args.stop,
        "sequence.step": args.step, "network.device": args.device, "tsdf.voxel_size": args.voxel_size,
        "viz": args.viz,
    }
    out: list = [(k, v) for k, v in pairs.items() if v is not None]
    out += input_size_overrides(args.input_size)
    if args.save_predictions:
        out.append(("save_predictions", True))
    return out + list(args.overrides)


def input_size_overrides(text: str | None) -> list:
    """``--input-size 320x240`` as network.input_width/height overrides ([] when not given)."""
    if not text:
        return []
    from slamseg.errors import ConfigError

    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--input-size must look like 320x240, got {text!r}") from None
    return [("network.input_width", w), ("network.input_height", h)]


def run(args: argparse.Namespace) -> int:
    from slamseg.config import load_config
    from slamseg.pipelines.reconstruct import run_reconstruct
    from slamseg.pipelines.reconstruct_config import ReconstructConfig
    from slamseg.runs import RunFolder
    from slamseg.schemas import load_named_config

    overrides = flag_overrides(args)
    if args.config:
        cfg = load_named_config(args.config, overrides, command="reconstruct")
    else:
        cfg = load_config(ReconstructConfig, None, overrides)
    run_folder = RunFolder("reconstruct", out=args.out, resume=args.resume, overwrite=args.overwrite,
                           resumable=True)
    metrics = run_reconstruct(cfg, run_folder, progress=not args.no_progress)
    final = run_folder.finish()
    print(f"reconstructed {metrics['frames_integrated']} frames at {metrics['frames_per_second']} frames/s "
          f"({len(metrics['tracking_failures'])} tracking failures)")
    tracking = metrics["tracking"]
    if args.tracking not in (None, "gt") or tracking["mode"] != "gt":
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
