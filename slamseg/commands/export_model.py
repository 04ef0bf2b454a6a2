"""``slamseg export-model CKPT``: export the network for serving without slamseg: ONNX (default), pt2, TorchScript.

Write the BatchNorm-folded network of a checkpoint (or of bundled weights, e.g. synthetic_nyu40) as one file.
Input N x 3 x H x W float32 normalised RGB, (RGB/255 - mean)/std; outputs per task (segm logits, depth, normals)
at 1/4 of the input size, named after the tasks. ONNX and pt2 take any batch and any height and width from 33 to
8192 pixels; the metadata (mean, std, label set, class names, tasks, output stride, depth scale, architecture,
slamseg version) is in the ONNX metadata_props or the pt2's slamseg.json extra file. TorchScript is deprecated by
PyTorch and kept only as an explicit --format.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from slamseg.commands.options import flags, register

log = logging.getLogger(__name__)

FLAGS = flags("format", "output", positional="checkpoint", sizes={"--size": ""}, names={"checkpoint": "CKPT"},
              helps={"--size": "example input size WxH (default 640x480); ONNX and pt2 take other sizes too"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.job_configs import ExportModelConfig

    parser = register(sub, "export-model", __doc__, ExportModelConfig, FLAGS, run, run_folder=False)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def run(args: argparse.Namespace) -> int:
    import time

    from slamseg.commands.options import load_options, require
    from slamseg.errors import ConfigError
    from slamseg.networks import load_model
    from slamseg.networks.export import MAX_SIDE, MIN_SIDE, SUFFIXES, export_model
    from slamseg.networks.weights_meta import resolve_checkpoint
    from slamseg.pipelines.job_configs import ExportModelConfig

    cfg = load_options(args, ExportModelConfig, "export-model", FLAGS)
    require(cfg.checkpoint, "a checkpoint file or bundled weights name (CKPT)", "export-model")
    size = (cfg.input_width, cfg.input_height)
    if not all(MIN_SIDE <= side <= MAX_SIDE for side in size):
        raise ConfigError(f"--size {size[0]}x{size[1]}: width and height must be {MIN_SIDE}..{MAX_SIDE} pixels")
    checkpoint = resolve_checkpoint(cfg.checkpoint)
    output = Path(cfg.output) if cfg.output else Path(checkpoint.stem + SUFFIXES[cfg.format])
    if output.resolve() == checkpoint.resolve():
        raise ConfigError(f"--output {output}: is the checkpoint itself; choose another file")
    if output.is_dir():
        raise ConfigError(f"--output {output}: is a folder, expected a file name")
    if output.exists() and not args.overwrite:
        raise ConfigError(f"--output {output}: exists; pass --overwrite to replace it")
    model = load_model(checkpoint)
    start = time.perf_counter()
    export_model(model, output, cfg.format, size)
    print(f"{checkpoint} ({model.arch}, tasks {', '.join(model.tasks)}) -> {output} ({cfg.format}, "
          f"{output.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s)")
    return 0
