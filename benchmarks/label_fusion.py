"""How much confidence a semantic TSDF voxel may hold (``tsdf.label_clamp``): fused-label accuracy with each bound.

Two measurements, printed as tables and written to benchmarks/results/label_fusion.json:

1. ``slamseg reconstruct`` on synthetic rooms (the demo's setting: 320 x 240, the bundled network at 160 x 120,
   13-class TSDF at 3 cm, the sequence's depth and poses so that only label fusion differs), labels fused every
   frame: the map rendered into the frames against the ground truth, beside the network's single frames.
2. A changed object: ground-truth labels as probabilities (0.8 confidence, 30 % of pixels a random wrong class each
   frame); in the first half of the frames one object class is labelled as another class (an early mistake, or an
   object that was replaced); the map rendered into the second half's frames, on that object's pixels and on all.

Usage: ``python benchmarks/label_fusion.py [--frames 60] [--seeds 0 1]``. Not asserted in tests (DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from slamseg.config import from_dict
from slamseg.fusion.metrics import label_metrics
from slamseg.fusion.params import TSDFParams
from slamseg.fusion.tsdf import SemanticTSDF
from slamseg.pipelines.reconstruct import run_reconstruct
from slamseg.pipelines.reconstruct_config import ReconstructConfig
from slamseg.pipelines.synth import write_synthetic_sequence
from slamseg.pipelines.synth_config import SynthConfig
from slamseg.runs import RunFolder
from slamseg.sequences import get_label_set, get_mapping, open_sequence

RESULTS = Path(__file__).resolve().parent / "results" / "label_fusion.json"
CLAMPS = (4.0, 8.0, 10.0, 16.0, 32.0)  # nats; 32 is the int16 storage's limit, i.e. no bound in effect


def _pct(metrics: dict) -> tuple[float, float]:
    return 100 * metrics["class_average_accuracy"], 100 * metrics["pixel_accuracy"]


def network_labels(room: Path, tmp: Path, clamp: float) -> dict:
    cfg = from_dict(ReconstructConfig, {
        "sequence": {"path": str(room)}, "snapshot_every": 0, "depth": "sensor", "labels": "network",
        "tracking": "gt", "network": {"input_width": 160, "input_height": 120},
        "tsdf": {"voxel_size": 0.03, "depth_max": 6.0, "label_clamp": clamp}})
    metrics = run_reconstruct(cfg, RunFolder("bench", out=tmp / f"net-{clamp:g}"), progress=False)
    labels = metrics["evaluation"]["labels_2d"]
    return {"fused": _pct(labels["fused_map"]), "single_frame": _pct(labels["single_frame"])}


def changed_object(room: Path, clamp: float, seed: int) -> dict:
    """See the module doc (measurement 2)."""
    seq = open_sequence(room)
    nyu13 = get_label_set("nyu13")
    to13 = get_mapping(seq.label_set, nyu13)
    frames = [seq[i] for i in range(len(seq))]
    gts = [to13.map_labels(f.labels) for f in frames]
    counts = np.bincount(np.concatenate([g.ravel() for g in gts]), minlength=14)
    counts[[0, nyu13.id_of("wall"), nyu13.id_of("floor"), nyu13.id_of("ceiling")]] = 0
    obj = int(np.argmax(counts))  # the most visible object class
    wrong = nyu13.id_of("table") if obj != nyu13.id_of("table") else nyu13.id_of("chair")
    rng = np.random.default_rng(seed)
    tsdf = SemanticTSDF(TSDFParams(voxel_size=0.03, depth_max=6.0, label_clamp=clamp), label_set="nyu13")
    half = len(frames) // 2
    for i, (frame, gt) in enumerate(zip(frames, gts)):
        shown = np.where(gt == obj, wrong, gt) if i < half else gt.copy()
        noise = rng.random(gt.shape) < 0.3
        shown[noise] = rng.integers(1, 14, size=int(noise.sum()))
        tsdf.integrate(frame.depth, frame.rgb, nyu13.one_hot(shown, 0.8), frame.camera, frame.pose)
    fused = np.stack([tsdf.render(f.camera, f.pose).labels for f in frames[half:]])
    gt = np.stack(gts[half:])
    on_obj = gt == obj
    return {"object": nyu13.names[obj], "object_accuracy": 100 * float(np.mean(fused[on_obj] == obj)),
            "all": _pct(label_metrics(fused.astype(np.uint8), gt.astype(np.uint8), 14).to_dict())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for seed in args.seeds:
            run = RunFolder("synth", out=tmp / f"room{seed}")
            write_synthetic_sequence(SynthConfig(seed=seed, frames=args.frames, width=320, height=240), run,
                                     progress=False)
            room = run.finish()
            for clamp in CLAMPS:
                rows[f"seed {seed}, clamp {clamp:g}"] = {
                    "seed": seed, "clamp": clamp, "network": network_labels(room, tmp / f"s{seed}", clamp),
                    "changed_object": changed_object(room, clamp, seed)}
                print(f"seed {seed} clamp {clamp:g}: {rows[f'seed {seed}, clamp {clamp:g}']}", flush=True)
    print(f"\n{'seed':>4} {'clamp':>6} | {'network: fused cls/pix':>23} {'single cls/pix':>15} | "
          f"{'changed object: obj acc':>24} {'all cls/pix':>12}")
    for row in rows.values():
        net, ch = row["network"], row["changed_object"]
        print(f"{row['seed']:>4} {row['clamp']:>6g} | {net['fused'][0]:>11.1f} / {net['fused'][1]:>5.1f}"
              f"   {net['single_frame'][0]:>6.1f} / {net['single_frame'][1]:>5.1f} | "
              f"{ch['object_accuracy']:>17.1f} ({ch['object'][:6]}) {ch['all'][0]:>5.1f} / {ch['all'][1]:>5.1f}")
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "frames": args.frames,
              "rows": rows, "wall_s": time.perf_counter() - t0}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
