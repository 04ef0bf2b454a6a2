"""``slamseg label``: expert labelling — a teacher network's hard labels for frames that lack labels."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "label", help="fill missing segmentation labels with a teacher network's hard labels",
        description="Run a teacher (slamseg/released checkpoint or TorchScript) on the frames of a dataset that "
                    "have no labels and write hard-label PNGs named <frame index>.png into --out (optionally "
                    "depth as 16-bit millimetre PNGs under --out/depth). Existing files are skipped, so an "
                    "interrupted run resumes; each file is written atomically. Point a training data source's "
                    "expert_labels at --out to train with strategy 'expert'.",
        epilog="example: slamseg label --teacher teacher.pt --images data/scene --out labels/scene")
    p.add_argument("--teacher", required=True, help="teacher checkpoint (slamseg, released or TorchScript)")
    p.add_argument("--images", required=True, help="dataset path open_sequence reads (image folder, TUM, NYU...)")
    p.add_argument("--format", default=None, help="sequence format (default: detect)")
    p.add_argument("--out", required=True, help="output folder of label PNGs")
    p.add_argument("--all", action="store_true", help="label every frame, also those that have labels")
    p.add_argument("--depth", action="store_true", help="also write the teacher's depth (16-bit PNG, mm)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from slamseg.errors import ConfigError

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: must be a positive number of frames")

    import torch

    from slamseg.networks.distributed import DistInfo
    from slamseg.networks.expert import label_sequence, load_teacher
    from slamseg.sequences import open_sequence

    # Data-parallel labelling: under torchrun each process labels every world_size-th frame.
    shard = DistInfo(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))
    device = torch.device(args.device)
    teacher = load_teacher(args.teacher, device)
    seq = open_sequence(args.images, format=args.format)
    n = label_sequence(teacher, seq, args.out, batch_size=args.batch_size, depth=args.depth,
                       shard=shard, progress=shard.is_main, keep_own_labels=not args.all)
    print(f"{n} label files written to {args.out}")
    return 0
