"""``slamseg export``: a saved map or run folder -> PLY / GLB / OBJ semantic meshes."""

from __future__ import annotations

import argparse

from slamseg.commands.options import Flag, add_options, add_run_options

FLAGS = (
    Flag("map", "map file (map.npz) or reconstruct run folder", name="map"),
    Flag("format", "file format"),
    Flag("palette", "vertex colours: NYU-13 (SemanticFusion colours), NYU-40, the map's classes, or RGB"),
    Flag("per_class", "also write one file per class under classes/", const=True),
    Flag("min_confidence", "vertices whose label probability is below this become void (0..1)"),
    Flag("with_probs", "PLY: add per-vertex class probabilities", const=True),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.job_configs import ExportConfig

    p = sub.add_parser(
        "export",
        help="export a saved semantic map (or a reconstruct run folder) as PLY/GLB/OBJ",
        description="Extract the semantic mesh of a saved map (map.npz, or the run folder of 'slamseg reconstruct') "
        "and write it as PLY (with a per-vertex 'label' property), GLB or OBJ, coloured by class or by RGB, "
        "optionally one file per class.",
    )
    add_options(p, ExportConfig, FLAGS)
    add_run_options(p, "export", progress=False)
    p.set_defaults(func=run)


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
