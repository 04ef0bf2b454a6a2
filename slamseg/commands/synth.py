"""``slamseg synth``: render a synthetic furnished room with exact depth, NYU-40 labels, normals, poses and mesh.

Generate a procedural furnished room from a seed, render it along a smooth look-around camera path (ray casting)
and write it in slamseg's TUM-style layout: rgb/, depth/ (uint16, /depth_scale), labels/ (NYU-40), normals/,
groundtruth.txt, camera.json, plus mesh.ply (the scene mesh with a per-vertex 'label') and config.yaml. Read it
back with open_sequence(DIR).
"""

from __future__ import annotations

import argparse

from slamseg.commands.options import flags, register

FLAGS = flags("seed", "frames", "width", "height", "speed", "depth_scale",
              switches={"--noise": ("noise", True), "--no-furniture": ("furniture", False)},
              helps={"--noise": "add Kinect-like depth noise and holes",
                     "--no-furniture": "render the bare room (walls, floor, ceiling, door, windows, pictures)"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.synth_config import SynthConfig

    register(sub, "synth", __doc__, SynthConfig, FLAGS, run, config_default="synth_room",
             epilog="example: slamseg synth --out data/room0 --seed 0 --frames 300 --noise")


def run(args: argparse.Namespace) -> int:
    from slamseg.commands.options import load_options
    from slamseg.pipelines.synth import write_synthetic_sequence
    from slamseg.pipelines.synth_config import SynthConfig
    from slamseg.runs import RunFolder

    cfg = load_options(args, SynthConfig, "synth", FLAGS)
    folder = RunFolder("synth", out=args.out, overwrite=args.overwrite)
    summary = write_synthetic_sequence(cfg, folder, progress=not args.no_progress)
    out = folder.finish()
    print(f"wrote {summary['frames']} frames ({cfg.width}x{cfg.height}, seed {cfg.seed}"
          f"{', noisy depth' if cfg.noise else ''}) to {out}")
    print(f"room {' x '.join(f'{x:.2f}' for x in summary['room_size_m'])} m, {summary['mesh_triangles']} triangles; "
          f"objects: {', '.join(summary['objects'])}")
    top = sorted(summary["label_pixel_fractions"].items(), key=lambda kv: -kv[1])[:8]
    print("pixels by class: " + ", ".join(f"{name} {100 * f:.1f}%" for name, f in top))
    return 0
