"""Label fusion in the maps: how much confidence a TSDF voxel may hold (``tsdf.label_clamp``), and which surfels a
frame updates (``surfel.label_update``), by fused-label accuracy. Tables printed, JSON in
benchmarks/results/label_fusion.json.

1. ``slamseg reconstruct`` on synthetic rooms (the demo's setting: 320 x 240, the bundled network at 160 x 120,
   13 classes, 3 cm voxels, the sequence's depth and poses so that only label fusion differs), labels fused every
   frame: the map rendered into the frames against the ground truth, beside the network's single frames. TSDF with
   each clamp; surfel map with each update rule (on the network's depth, as in the paper).
2. A changed object: ground-truth labels as probabilities (0.8 confidence, 30 % of pixels a random wrong class each
   frame); in the first half of the frames one object class is labelled as another class (an early mistake, or an
   object that was replaced); the map rendered into the second half's frames, on that object's pixels and on all.
3. Real frames (TUM fr1/rpy, 100 frames, ``../shared``; skipped with a message when absent): the network's labels
   fused at 2 cm with the recording's depth and ground-truth poses; the maps' labels rendered into every 5th frame,
   as agreement with the unclamped map (no ground-truth labels exist for TUM).

A clamp of None leaves the parameter out (the code's default). Usage:
``python benchmarks/label_fusion.py [--frames 60] [--seeds 0 1] [--only rooms tum]``. Not asserted in tests.
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
from slamseg.runtime import configure_runtime
from slamseg.sequences import get_label_set, get_mapping, open_sequence

RESULTS = Path(__file__).resolve().parent / "results" / "label_fusion.json"
TUM = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "tum_fr1_rpy_100"
CLAMPS = (4.0, 8.0, 10.0, 16.0, 32.0)  # nats; 32 is the int16 storage's limit, i.e. no bound in effect
SURFEL_RULES = ("visible", "associated")


def _pct(metrics: dict) -> tuple[float, float]:
    return 100 * metrics["class_average_accuracy"], 100 * metrics["pixel_accuracy"]


def _reconstruct(sequence: Path, out: Path, settings: dict) -> dict:
    cfg = from_dict(ReconstructConfig, {"sequence": {"path": str(sequence)}, "snapshot_every": 0, "tracking": "gt",
                                        "labels": "network", **settings})
    run = RunFolder("bench", out=out)
    metrics = run_reconstruct(cfg, run, progress=False)
    run.finish()
    return metrics


def _tsdf_settings(voxel_size: float, clamp: float | None) -> dict:
    tsdf = {"voxel_size": voxel_size, "depth_max": 6.0}
    if clamp is not None:
        tsdf["label_clamp"] = clamp
    return tsdf


def network_labels(room: Path, out: Path, clamp: float | None = None, surfel_rule: str | None = None) -> dict:
    """Measurement 1 for one TSDF clamp (or, with ``surfel_rule``, one surfel-map update rule)."""
    settings: dict = {"depth": "sensor", "network": {"input_width": 160, "input_height": 120}}
    if surfel_rule is None:
        settings["tsdf"] = _tsdf_settings(0.03, clamp)
    else:
        # on the network's depth, as in the paper: with exact depth nearly every visible surfel is associated too
        settings |= {"map": "surfel", "depth": "predicted", "surfel": {"label_update": surfel_rule}}
    labels = _reconstruct(room, out, settings)["evaluation"]["labels_2d"]
    return {"fused": _pct(labels["fused_map"]), "single_frame": _pct(labels["single_frame"])}


def tum_rendered_labels(out: Path, clamp: float | None = None) -> np.ndarray:
    """Measurement 3: F x H x W labels of the TUM map rendered at every 5th frame's ground-truth pose."""
    _reconstruct(TUM, out, {"depth": "sensor", "tsdf": _tsdf_settings(0.02, clamp), "evaluate": False})
    tsdf = SemanticTSDF.load(out / "map.npz")
    seq = open_sequence(TUM)
    frames = [seq[i] for i in range(0, len(seq), 5)]
    return np.stack([tsdf.render(f.camera, f.pose).labels for f in frames])


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
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--only", nargs="+", choices=["rooms", "surfels", "tum"], default=["rooms", "surfels", "tum"])
    args = parser.parse_args()
    t0 = time.perf_counter()
    result: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "frames": args.frames}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "rooms" in args.only or "surfels" in args.only:
            result["rooms"] = rooms(args, tmp)
        if "tum" in args.only:
            if TUM.exists():
                result["tum"] = tum(tmp)
            else:
                print(f"{TUM} is absent (it comes with ../shared): skipping the real-frame measurement")
    result["wall_s"] = time.perf_counter() - t0
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS}")


def rooms(args: argparse.Namespace, tmp: Path) -> dict:
    rows: dict = {}
    for seed in args.seeds:
        run = RunFolder("synth", out=tmp / f"room{seed}")
        write_synthetic_sequence(SynthConfig(seed=seed, frames=args.frames, width=320, height=240), run,
                                 progress=False)
        room = run.finish()
        for clamp in CLAMPS if "rooms" in args.only else ():
            rows[f"seed {seed}, TSDF clamp {clamp:g}"] = {
                "seed": seed, "map": f"TSDF, clamp {clamp:g}",
                "network": network_labels(room, tmp / f"s{seed}-c{clamp:g}", clamp),
                "changed_object": changed_object(room, clamp, seed)}
        for rule in SURFEL_RULES if "surfels" in args.only else ():
            rows[f"seed {seed}, surfels {rule}"] = {
                "seed": seed, "map": f"surfels, {rule}",
                "network": network_labels(room, tmp / f"s{seed}-{rule}", surfel_rule=rule)}
    print(f"\n{'seed':>4} {'map':<21} | {'network: fused cls/pix':>23} {'single cls/pix':>15} | "
          f"{'changed object: obj acc':>24} {'all cls/pix':>12}")
    for row in rows.values():
        net, ch = row["network"], row.get("changed_object")
        line = (f"{row['seed']:>4} {row['map']:<21} | {net['fused'][0]:>11.1f} / {net['fused'][1]:>5.1f}"
                f"   {net['single_frame'][0]:>6.1f} / {net['single_frame'][1]:>5.1f} |")
        if ch:
            line += (f" {ch['object_accuracy']:>17.1f} ({ch['object'][:6]}) {ch['all'][0]:>5.1f} / "
                     f"{ch['all'][1]:>5.1f}")
        print(line)
    return rows


def tum(tmp: Path) -> dict:
    reference = tum_rendered_labels(tmp / "tum-32", 32.0)
    rows = {}
    print(f"\n{'TUM fr1/rpy, clamp':<20}{'labelled px':>12}{'agreement with clamp 32':>25}")
    for clamp in CLAMPS[:-1]:
        labels = tum_rendered_labels(tmp / f"tum-{clamp:g}", clamp)
        both = (labels > 0) & (reference > 0)
        rows[f"{clamp:g}"] = {"labelled_pixels": int((labels > 0).sum()),
                              "agreement_with_clamp_32": 100 * float(np.mean(labels[both] == reference[both]))}
        print(f"{clamp:<20g}{rows[f'{clamp:g}']['labelled_pixels']:>12}"
              f"{rows[f'{clamp:g}']['agreement_with_clamp_32']:>24.2f}%")
    return rows


if __name__ == "__main__":
    main()
