"""``slamseg model-info``: parameters, multiply-adds and a per-block breakdown of a checkpoint or architecture."""

from __future__ import annotations

import argparse

from slamseg.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "model-info",
        help="parameters, multiply-adds and per-block costs of a network checkpoint or architecture",
        description="Print the architecture, tasks, classes, label set, parameter count and multiply-adds of a "
        "joint network at a given input size, with a per-block table. Multiply-adds (MACs) count one per weight "
        "use in convolutions and linear layers (C_out*H_out*W_out*C_in/groups*k_h*k_w); BatchNorm, activations, "
        "pooling, upsampling and additions are not counted. nyud_joint: 5.94 G at 640x480.",
    )
    p.add_argument("checkpoint", nargs="?", help="checkpoint file (released or slamseg format)")
    p.add_argument("--arch", help="a registered architecture instead of a checkpoint (e.g. nyud_joint)")
    p.add_argument("--size", default="640x480", help="input size WxH for multiply-adds (default 640x480)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from slamseg.networks import build_model, list_models, load_model
    from slamseg.networks.checkpoints import default_meta
    from slamseg.networks.complexity import count_macs

    if (args.checkpoint is None) == (args.arch is None):
        raise ConfigError(f"give a CHECKPOINT or --arch NAME (one of {', '.join(list_models())}), not both")
    from slamseg.commands.options import parse_size

    size = parse_size(args.size, "--size")
    model = load_model(args.checkpoint) if args.checkpoint else build_model(args.arch)
    meta = {**default_meta(model), **getattr(model, "meta", {})}
    blocks = count_macs(model, size)
    total_params = sum(b.params for b in blocks)
    total_macs = sum(b.macs for b in blocks)
    info = {
        "source": args.checkpoint or f"--arch {args.arch}",
        "arch": model.arch, "tasks": list(model.tasks), "num_classes": model.num_classes,
        "label_set": meta.get("label_set"), "input_size": list(size), "params": total_params,
        "macs": total_macs, "macs_convention": "conv/linear multiply-adds only",
        "blocks": [{"name": b.name, "params": b.params, "macs": b.macs} for b in blocks if b.params or b.macs],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['source']}: {model.arch}, tasks {', '.join(model.tasks)}, {model.num_classes} classes "
          f"(label set {info['label_set']})")
    print(f"parameters: {total_params:,}   multiply-adds at {size[0]}x{size[1]}: {total_macs / 1e9:.2f} G "
          "(conv/linear MACs)")
    print(f"\n{'block':<14}{'params':>12}{'MACs (M)':>12}{'MACs %':>9}")
    for b in info["blocks"]:
        print(f"{b['name']:<14}{b['params']:>12,}{b['macs'] / 1e6:>12.1f}{100 * b['macs'] / max(total_macs, 1):>8.1f}%")
    return 0
