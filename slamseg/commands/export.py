"""``slamseg export``: a saved map or run folder -> PLY / GLB / OBJ semantic meshes."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a saved semantic map (or a reconstruct run folder) as PLY/GLB/OBJ",
        description="Extract the semantic mesh of a saved map (map.npz, or the run folder of 'slamseg reconstruct') "
        "and write it as PLY (with a per-vertex 'label' property), GLB or OBJ, coloured by class or by RGB, "
        "optionally one file per class.",
    )
    p.add_argument("map", help="map file (map.npz) or reconstruct run folder")
    p.add_argument("--format", default="ply", choices=["ply", "glb", "obj"], help="file format (default ply)")
    p.add_argument("--palette", default="nyu13", choices=["nyu13", "nyu40", "labels", "rgb"],
                   help="vertex colours: NYU-13 (SemanticFusion colours), NYU-40, the map's classes, or RGB")
    p.add_argument("--per-class", action="store_true", help="also write one file per class under classes/")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="vertices whose label probability is below this become void (0..1, default 0)")
    p.add_argument("--with-probs", action="store_true", help="PLY: add per-vertex class probabilities")
    p.add_argument("--out", help="output folder (default runs/export-<time>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from slamseg.errors import ConfigError
    from slamseg.pipelines.export import run_export
    from slamseg.runs import RunFolder, command_settings

    if not 0.0 <= args.min_confidence <= 1.0:
        raise ConfigError(f"--min-confidence must be in [0, 1], got {args.min_confidence}")
    run_folder = RunFolder("export", out=args.out, overwrite=args.overwrite)
    run_folder.write_config(command_settings("export", args))
    summary = run_export(args.map, run_folder, args.format, args.palette, args.per_class, args.min_confidence,
                         args.with_probs)
    final = run_folder.finish()
    print(f"exported {summary['vertices']} vertices, {summary['faces']} faces ({summary['label_set']}) to {final}/:")
    for f in summary["files"]:
        print(f"  {f}")
    return 0
