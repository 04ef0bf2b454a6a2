"""``slamseg export``: export a saved semantic map (or a reconstruct run folder) as PLY/GLB/OBJ.

Extract the semantic mesh of a saved map (map.npz, or the run folder of 'slamseg reconstruct') and write it as PLY
(with a per-vertex 'label' property), GLB or OBJ, coloured by class or by RGB, optionally one file per class.
"""

from __future__ import annotations

import argparse

from slamseg.commands.options import flags, register

FLAGS = flags("format", "palette", "min_confidence", positional="map",
              switches={"--per-class": ("per_class", True), "--with-probs": ("with_probs", True)},
              helps={"--per-class": "also write one file per class under classes/",
                     "--with-probs": "PLY: add per-vertex class probabilities"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.job_configs import ExportConfig

    register(sub, "export", __doc__, ExportConfig, FLAGS, run, progress=False)


def run(args: argparse.Namespace) -> int:
    from slamseg.commands.options import load_options, require
    from slamseg.errors import ConfigError
    from slamseg.pipelines.export import run_export
    from slamseg.pipelines.job_configs import ExportConfig
    from slamseg.runs import RunFolder

    cfg = load_options(args, ExportConfig, "export", FLAGS)
    require(cfg.map, "a map file or run folder (MAP)", "export")
    if not 0.0 <= cfg.min_confidence <= 1.0:
        raise ConfigError(f"--min-confidence must be in [0, 1], got {cfg.min_confidence}")
    run_folder = RunFolder("export", out=args.out, overwrite=args.overwrite)
    run_folder.write_config(cfg, command="export")
    summary = run_export(cfg.map, run_folder, cfg.format, cfg.palette, cfg.per_class, cfg.min_confidence,
                         cfg.with_probs)
    final = run_folder.finish()
    print(f"exported {summary['vertices']} vertices, {summary['faces']} faces ({summary['label_set']}) to {final}/:")
    for f in summary["files"]:
        print(f"  {f}")
    return 0
