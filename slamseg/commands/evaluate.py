"""``slamseg evaluate``: evaluate a checkpoint: mIoU, pixel/class accuracy, depth and normals metrics.

Evaluate a slamseg or released checkpoint on a dataset (any sequence path open_sequence reads, or
'synthetic:SEED[,SEED...]' for held-out synthetic scenes). Writes metrics.json and tables.md (layout of the
paper's Tables I/II/VI) into the run folder and prints the tables.
"""

from __future__ import annotations

import argparse
from typing import Any

from slamseg.commands.options import flags, register

FLAGS = flags("format", "split", "synthetic_frames", "synthetic_size", "synthetic_speed", "class_slice", "max_depth",
              "batch_size", "device", positional="checkpoint", positional_list="data",
              switches={"--nyu-crop": ("nyu_crop", True)},
              helps={"--nyu-crop": "evaluate depth inside Eigen's NYU crop"})
EXAMPLE = "example: slamseg evaluate model.pt synthetic:100,101 --synthetic-frames 20 --synthetic-size 160x120"


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.job_configs import EvaluateConfig

    register(sub, "evaluate", __doc__, EvaluateConfig, FLAGS, run, progress=False, epilog=EXAMPLE)


def _open(spec: str, cfg: Any) -> Any:
    from slamseg.errors import ConfigError

    if spec.startswith("synthetic:"):
        from slamseg.networks.datasets import open_source
        from slamseg.networks.train_config import DataSource

        try:
            seeds = [int(s) for s in spec.split(":", 1)[1].split(",")]
            w, h = (int(v) for v in cfg.synthetic_size.lower().split("x"))
        except ValueError:
            raise ConfigError(f"{spec!r}: expected synthetic:SEED[,SEED...] and --synthetic-size WxH") from None
        src = DataSource(kind="synthetic", seeds=seeds, frames=cfg.synthetic_frames, width=w, height=h,
                         speed=cfg.synthetic_speed)
        seq = open_source(spec, src, "runs/cache")
        for part in getattr(seq, "parts", [seq]):
            part.materialise()
        return seq
    from slamseg.sequences import open_sequence

    options = {"split": cfg.split} if cfg.split else {}
    return open_sequence(spec, format=cfg.format, **options)


def run(args: argparse.Namespace) -> int:
    import torch

    from slamseg.commands.options import load_options, require
    from slamseg.errors import ConfigError
    from slamseg.networks.checkpoints import load_model
    from slamseg.networks.evaluate import evaluate_sequence, markdown_tables
    from slamseg.pipelines.job_configs import EvaluateConfig
    from slamseg.runs import RunFolder

    cfg = load_options(args, EvaluateConfig, "evaluate", FLAGS)
    require(cfg.checkpoint, "a checkpoint (CHECKPOINT)", "evaluate")
    require(cfg.data, "dataset paths or synthetic:SEEDS (DATA)", "evaluate")

    if cfg.batch_size < 1:
        raise ConfigError(f"--batch-size {cfg.batch_size}: must be a positive number of frames")
    if cfg.synthetic_frames < 1:
        raise ConfigError(f"--synthetic-frames {cfg.synthetic_frames}: must be a positive number of frames")
    if not 0 < cfg.synthetic_speed < float("inf"):  # NaN fails this too
        raise ConfigError(f"--synthetic-speed {cfg.synthetic_speed}: must be a finite positive number")
    if cfg.max_depth is not None and not 0 < cfg.max_depth < float("inf"):
        raise ConfigError(f"--max-depth {cfg.max_depth}: must be a finite positive number of metres")
    class_slice = None
    if cfg.class_slice:
        try:
            first, end = (int(v) for v in cfg.class_slice.split(":"))
        except ValueError:
            raise ConfigError(f"--class-slice {cfg.class_slice!r}: expected FIRST:END, e.g. 40:46") from None
        if not 0 <= first < end:
            raise ConfigError(f"--class-slice {cfg.class_slice!r}: expected 0 <= FIRST < END, e.g. 40:46")
        class_slice = (first, end)
    model = load_model(cfg.checkpoint, map_location=cfg.device).float()
    folder = RunFolder("evaluate", out=args.out, overwrite=args.overwrite)
    folder.write_config(cfg, command="evaluate")
    results = {}
    from slamseg.sequences.progress import progress_bar

    for spec in cfg.data:
        seq = _open(spec, cfg)
        with progress_bar(total=len(seq), desc=f"evaluate {seq.name}", unit="frame") as bar:
            results[spec] = evaluate_sequence(
                model, seq, mean=tuple(model.meta["mean"]), std=tuple(model.meta["std"]), class_slice=class_slice,
                nyu_crop=cfg.nyu_crop, max_depth=cfg.max_depth, batch_size=cfg.batch_size,
                device=torch.device(cfg.device), progress=bar.update)
    tables = markdown_tables(results, model.arch)
    folder.write_json("metrics.json", {"checkpoint": str(cfg.checkpoint), "results": results})
    folder.write_text("tables.md", tables)
    print(tables, end="")
    folder.finish()
    return 0
