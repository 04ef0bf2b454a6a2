"""``slamseg train CONFIG``: train the joint network (stages, asymmetric-annotation strategies, checkpoints,
resume). Under ``torchrun --nproc_per_node N -m slamseg train ...`` every process runs this command and the
training is data-parallel (DistributedDataParallel); process 0 writes the run folder."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train the joint depth + segmentation network from a config",
        description="Train the joint network as the paper does: optional pre-training on a large set whose missing "
                    "labels an expert filled, then fine-tuning on the fully annotated set with lr / 10. Writes "
                    "checkpoints, log.csv and losses.png, metrics.csv and metrics.png (evaluations over training), "
                    "metrics.json and eval.md into the run folder. Multi-process: "
                    "torchrun --nproc_per_node N -m slamseg train CONFIG.",
        epilog="example: slamseg train train_synthetic --set steps=20 --out runs/quick")
    p.add_argument("config", help="bundled config name (see 'slamseg config list') or a YAML file with command: train")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set steps=20 --set batch_size=8 (repeatable)")
    p.add_argument("--out", default=None, help="run folder (default runs/train-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in --out exactly (optimiser, step, data order, RNG)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing finished run folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from slamseg.errors import SlamSegError
    from slamseg.runs import RunFolder
    from slamseg.schemas import load_named_config

    cfg = load_named_config(args.config, args.overrides, command="train")
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.out is None and world > 1:
        raise SlamSegError("with torchrun, pass --out so that every process uses the same run folder")
    if rank == 0:
        folder = RunFolder("train", out=args.out, resume=args.resume, overwrite=args.overwrite,
                           resumable=True)
        folder.write_config(cfg, command="train")
        work = folder.path
    else:
        folder = None
        from pathlib import Path

        final = Path(args.out)
        work = final.with_name(final.name + ".partial")

    from slamseg.networks.train import Trainer

    trainer = Trainer(cfg, work, progress=not args.no_progress)
    result = trainer.run()
    if folder is not None:
        final = folder.finish()
        print(f"model: {final / 'model.pt'}")
        for name, r in (result.get("metrics") or {}).items():
            seg, dep = r.get("segm") or {}, r.get("depth") or {}
            print(f"{name}: mIoU {100 * seg.get('miou', float('nan')):.2f}%  "
                  f"RMSE {dep.get('rmse', float('nan')):.3f} m")
    return 0
