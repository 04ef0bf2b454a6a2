"""``slamseg evaluate CKPT DATA``: the paper's metrics and tables (I, II, VI) for a checkpoint on a dataset."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate a checkpoint: mIoU, pixel/class accuracy, depth and normals metrics",
        description="Evaluate a slamseg or released checkpoint on a dataset (any sequence path open_sequence reads, "
                    "or 'synthetic:SEED[,SEED...]' for held-out synthetic scenes). Writes metrics.json and "
                    "tables.md (layout of the paper's Tables I/II/VI) into the run folder and prints the tables.",
        epilog="example: slamseg evaluate model.pt synthetic:100,101 --set frames=20 --set width=160")
    p.add_argument("checkpoint", help="model file (slamseg or released format)")
    p.add_argument("data", nargs="+", help="dataset path(s), or synthetic:SEEDS")
    p.add_argument("--format", default=None, help="sequence format name (default: detect)")
    p.add_argument("--split", default=None, help="reader split option (e.g. test for the NYU labelled .mat)")
    p.add_argument("--synthetic-frames", type=int, default=20, help="frames per synthetic scene")
    p.add_argument("--synthetic-size", default="160x120", help="synthetic image size WxH")
    p.add_argument("--synthetic-speed", type=float, default=4.0, help="synthetic camera speed factor")
    p.add_argument("--class-slice", default=None, metavar="FIRST:END",
                   help="channels of this dataset in a multi-dataset model (e.g. 40:46 for KITTI-6 in the 46-class)")
    p.add_argument("--nyu-crop", action="store_true", help="evaluate depth inside Eigen's NYU crop")
    p.add_argument("--max-depth", type=float, default=None, help="ignore ground-truth depth beyond this (m)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help="run folder (default runs/evaluate-<time>)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)


def _open(spec: str, args: argparse.Namespace):
    from slamseg.errors import ConfigError

    if spec.startswith("synthetic:"):
        from slamseg.networks.datasets import open_source
        from slamseg.networks.train_config import DataSource

        try:
            seeds = [int(s) for s in spec.split(":", 1)[1].split(",")]
            w, h = (int(v) for v in args.synthetic_size.lower().split("x"))
        except ValueError:
            raise ConfigError(f"{spec!r}: expected synthetic:SEED[,SEED...] and --synthetic-size WxH") from None
        src = DataSource(kind="synthetic", seeds=seeds, frames=args.synthetic_frames, width=w, height=h,
                         speed=args.synthetic_speed)
        seq = open_source(spec, src, "runs/cache")
        for part in getattr(seq, "parts", [seq]):
            part.materialise()
        return seq
    from slamseg.sequences import open_sequence

    options = {"split": args.split} if args.split else {}
    return open_sequence(spec, format=args.format, **options)


def run(args: argparse.Namespace) -> int:
    import torch

    from slamseg.errors import ConfigError
    from slamseg.networks.checkpoints import load_model
    from slamseg.networks.evaluate import evaluate_sequence, markdown_tables
    from slamseg.runs import RunFolder, command_settings

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: must be a positive number of frames")
    if args.synthetic_frames < 1:
        raise ConfigError(f"--synthetic-frames {args.synthetic_frames}: must be a positive number of frames")
    if not 0 < args.synthetic_speed < float("inf"):  # NaN fails this too
        raise ConfigError(f"--synthetic-speed {args.synthetic_speed}: must be a finite positive number")
    if args.max_depth is not None and not 0 < args.max_depth < float("inf"):
        raise ConfigError(f"--max-depth {args.max_depth}: must be a finite positive number of metres")
    class_slice = None
    if args.class_slice:
        try:
            first, end = (int(v) for v in args.class_slice.split(":"))
        except ValueError:
            raise ConfigError(f"--class-slice {args.class_slice!r}: expected FIRST:END, e.g. 40:46") from None
        if not 0 <= first < end:
            raise ConfigError(f"--class-slice {args.class_slice!r}: expected 0 <= FIRST < END, e.g. 40:46")
        class_slice = (first, end)
    model = load_model(args.checkpoint, map_location=args.device).float()
    folder = RunFolder("evaluate", out=args.out, overwrite=args.overwrite)
    folder.write_config(command_settings("evaluate", args))
    results = {}
    from tqdm import tqdm

    for spec in args.data:
        seq = _open(spec, args)
        with tqdm(total=len(seq), desc=f"evaluate {seq.name}", unit="frame") as bar:
            results[spec] = evaluate_sequence(
                model, seq, mean=tuple(model.meta["mean"]), std=tuple(model.meta["std"]), class_slice=class_slice,
                nyu_crop=args.nyu_crop, max_depth=args.max_depth, batch_size=args.batch_size,
                device=torch.device(args.device), progress=bar.update)
    tables = markdown_tables(results, model.arch)
    folder.write_json("metrics.json", {"checkpoint": str(args.checkpoint), "results": results})
    folder.write_text("tables.md", tables)
    print(tables, end="")
    folder.finish()
    return 0
