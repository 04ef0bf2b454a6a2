"""``slamseg demo``: zero set-up demo: synthetic room -> bundled network -> semantic mesh + report.

Render a synthetic furnished room with exact ground truth (once; reused later), run the bundled joint network on
every frame, track the camera on the predicted depth, fuse a semantic TSDF, evaluate against the ground truth and
print a short table with where the mesh and report are. No downloads, no arguments needed.
"""

from __future__ import annotations

import argparse

from slamseg.commands.options import flags, register

FLAGS = flags("checkpoint", "frames", "seed", helps={"checkpoint": "use this model instead of the bundled one"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.demo_config import DemoConfig

    register(sub, "demo", __doc__, DemoConfig, FLAGS, run, config_default="demo")


def run(args: argparse.Namespace) -> int:
    import time

    from slamseg.commands.options import load_options
    from slamseg.pipelines.demo import run_demo, summary_rows
    from slamseg.pipelines.demo_config import DemoConfig
    from slamseg.runs import RunFolder

    cfg = load_options(args, DemoConfig, "demo", FLAGS)
    t0 = time.perf_counter()
    run_folder = RunFolder("demo", out=args.out, overwrite=args.overwrite)
    metrics, tracked = run_demo(cfg, run_folder, progress=not args.no_progress)
    final = run_folder.finish()
    rows = summary_rows(metrics, tracked)
    width = max(len(k) for k, _ in rows)
    print(f"\nslamseg demo: {metrics['frames_integrated']} frames of a synthetic room (seed {cfg.seed}), "
          f"{time.perf_counter() - t0:.0f} s in all")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    outputs = metrics["outputs"]
    print(f"\nsemantic mesh: {final / outputs.get('mesh_ply', outputs['cloud_ply'])}")
    print(f"report:        {final / 'report.html'}")
    if tracked is not None:
        print(f"tracked run:   {final / 'tracking' / 'report.html'}")
    return 0
