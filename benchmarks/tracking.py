"""Tracking: coverage, ATE, RPE and ms per frame of each tracker on real and synthetic RGB-D sequences.

Run: .venv/bin/python benchmarks/tracking.py [--only NAME ...] [--synthetic-frames 300]
Prints a table and writes benchmarks/results/tracking.json. Never asserted in tests (DESIGN.md).

Rows (640x480, 2 cores, the SLAM core with a 2 cm semantic TSDF, no labels, loop closure at the end):
- ``tum``: the real TUM fr1/rpy first 100 frames (``../shared/data/real/tum_fr1_rpy_100``; skipped with a message
  where it is absent), sensor depth, per tracker (keyframe, odometry, model). ATE as ``evo_ape tum -a`` computes
  it (nearest ground-truth stamp within 0.01 s, SE(3) Umeyama), over every frame with a pose.
- ``tum_gap``: the same with 15 consecutive frames dropped (40-54): does the tracker relocalise?
- ``tum_reconstruct``: the whole ``slamseg reconstruct --depth sensor --labels none --tracking keyframe`` run on it
  (frames/s of all staged work: reading, tracking, fusion, loop closure, the rebuild), and with network labels
  every frame (network at 320x240, the bundled model).
- ``synthetic_noise``: a synthetic room with Kinect noise (look-around path), per tracker.
- ``synthetic_loop``: one lap that returns to its start: end-of-loop drift without and with loop closure.
- ``demo_predicted``: the demo room tracked on the bundled network's predicted depth (the paper's setting).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from machine import cpu_flags, cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

from slamseg.fusion.keyframes import pose_distance
from slamseg.fusion.params import TSDFParams
from slamseg.fusion.posegraph import loop_closure_for
from slamseg.fusion.tracking import TrackerConfig
from slamseg.fusion.tsdf import SemanticTSDF
from slamseg.pipelines.trajectory_evaluation import trajectory_metrics
from slamseg.runtime import configure_runtime
from slamseg.sequences import Frame, open_sequence
from slamseg.slam import SemanticSLAM, make_tracker

ROOT = Path(__file__).resolve().parent
TUM = ROOT.parent.parent / "shared" / "data" / "real" / "tum_fr1_rpy_100"
TRACKERS = ("keyframe", "odometry", "model")


def run_core(frames: Iterable[Frame], kind: str, depth_of: Callable[[Frame], np.ndarray] | None = None,
             raw_gt: tuple[np.ndarray, np.ndarray] | None = None, loop_closure: bool = True,
             predicted_depth: bool = False) -> dict:
    """Track and fuse ``frames`` with the SLAM core; coverage, ATE/RPE, ms per frame, loop closure."""
    source = "predicted" if predicted_depth else "sensor"
    slam = SemanticSLAM(SemanticTSDF(TSDFParams(voxel_size=0.02, depth_max=6.0 if predicted_depth else 4.0)),
                        make_tracker(kind, TrackerConfig(depth_source=source)),
                        loop_closure_for(source, enabled=loop_closure))
    gt, ms = {}, []
    for f in frames:
        depth = depth_of(f) if depth_of is not None else f.depth
        step = slam.step(f, depth)
        ms.append(1e3 * step.timings["tracking"])
        if f.pose is not None:
            gt[f.index] = f.pose
    t0 = time.perf_counter()
    result = slam.finish()
    traj = trajectory_metrics(result.records, gt, raw_gt, predicted_depth=predicted_depth)
    row = {
        "tracker": kind, "frames": len(result.records), "coverage": traj["coverage"],
        "status_counts": traj["status_counts"], "ate_m": traj["ate"]["rmse"],
        "rpe_m": traj["rpe_translation"]["rmse"], "rpe_deg": traj["rpe_rotation_deg"]["rmse"],
        "ms_median": float(np.median(ms)), "ms_p90": float(np.percentile(ms, 90)),
        "keyframes": result.keyframes, "loops_kept": result.loops_kept,
        "loop_closure_s": round(time.perf_counter() - t0, 2), "association": traj["association"],
    }
    if "sim3" in traj:
        row["ate_sim3_m"] = traj["sim3"]["ate"]["rmse"]
    row["poses"] = {int(k): v.tolist() for k, v in result.poses().items()}
    return row


def _tum_frames(drop: range | None = None) -> tuple[list[Frame], tuple[np.ndarray, np.ndarray] | None]:
    seq = open_sequence(TUM)
    return [seq[i] for i in range(len(seq)) if drop is None or i not in drop], seq.ground_truth


def bench_tum(args: argparse.Namespace) -> dict:
    frames, raw_gt = _tum_frames()
    return {kind: run_core(frames, kind, raw_gt=raw_gt) for kind in TRACKERS}


def bench_tum_gap(args: argparse.Namespace) -> dict:
    frames, raw_gt = _tum_frames(drop=range(40, 55))
    out = {}
    for kind in ("keyframe", "odometry"):
        row = run_core(frames, kind, raw_gt=raw_gt)
        after = [i for i in row["poses"] if i >= 55]
        row["first_pose_after_gap"] = min(after) if after else None
        out[kind] = row
    return out


def bench_tum_reconstruct(args: argparse.Namespace) -> dict:
    from slamseg.config import from_dict
    from slamseg.pipelines.reconstruct import run_reconstruct
    from slamseg.pipelines.reconstruct_config import ReconstructConfig
    from slamseg.runs import RunFolder

    out = {}
    settings = {
        "labels_none": {"depth": "sensor", "labels": "none", "tracking": "keyframe"},
        "network_labels": {"depth": "sensor", "labels": "network", "tracking": "keyframe",
                           "network": {"input_width": 320, "input_height": 240, "batch_size": 4, "threads": 2}},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in settings.items():
            cfg = from_dict(ReconstructConfig, {"sequence": {"path": str(TUM)}, **extra})
            t0 = time.perf_counter()
            metrics = run_reconstruct(cfg, RunFolder("bench", out=Path(tmp) / name), progress=False)
            stages = metrics["timings"]["stages"]
            n = metrics["frames_integrated"]
            out[name] = {
                "frames_per_s": metrics["frames_per_second"], "wall_s": round(time.perf_counter() - t0, 2),
                "ms_per_frame": {k: round(v["seconds"] * 1000 / n, 1) for k, v in stages.items()},
                "ate_m": metrics["evaluation"]["trajectory"]["ate"]["rmse"], "tracking": metrics["tracking"],
            }
    return out


def _synthetic(num_frames: int, trajectory: str, seed: int) -> list[Frame]:
    from slamseg.sequences.synthetic import SyntheticSequence

    # only what tracking needs: a 640x480 frame with its labels, normals and clean depth is ~10 MB
    return [dataclasses.replace(f, labels=None, normals=None, meta={})
            for f in SyntheticSequence(seed=seed, num_frames=num_frames, noise=True, trajectory=trajectory)]


def bench_synthetic_noise(args: argparse.Namespace) -> dict:
    frames = _synthetic(args.synthetic_frames, "look_around", seed=1)
    return {kind: run_core(frames, kind) for kind in TRACKERS}


def bench_synthetic_loop(args: argparse.Namespace) -> dict:
    """Three laps (seeds 5, 6, 7): Open3D's odometry is multi-threaded and not bit-reproducible, so one lap's drift
    and loop edges vary from run to run; the median ratio is the figure."""
    out: dict = {}
    ratios = []
    for seed in (5, 6, 7):
        frames = _synthetic(args.synthetic_frames, "loop", seed=seed)
        for closure in (False, True):
            row = run_core(frames, "odometry", loop_closure=closure)
            poses = {int(k): np.array(v) for k, v in row["poses"].items()}
            rel_est = np.linalg.inv(poses[frames[0].index]) @ poses[frames[-1].index]
            rel_gt = np.linalg.inv(frames[0].pose) @ frames[-1].pose
            row["end_drift_m"], row["end_drift_deg"] = pose_distance(rel_est, rel_gt)
            out[f"seed{seed}_{'with' if closure else 'without'}_loop_closure"] = row
        ratios.append(out[f"seed{seed}_without_loop_closure"]["end_drift_m"]
                      / max(out[f"seed{seed}_with_loop_closure"]["end_drift_m"], 1e-9))
    out["drift_ratios"] = ratios
    out["drift_ratio"] = float(np.median(ratios))
    return out


def bench_demo_predicted(args: argparse.Namespace) -> dict:
    """The demo's room (seed 0, 120 frames) tracked on the bundled network's predicted depth."""
    from slamseg.networks.predictor import Predictor
    from slamseg.pipelines.common import bundled_checkpoint

    predictor = Predictor(bundled_checkpoint(), input_size=(320, 240), num_threads=2)
    frames = _synthetic(120, "look_around", seed=0)
    depths = {f.index: d.depth for f, d in zip(frames, predictor.predict([f.rgb for f in frames]))}
    return {kind: run_core(frames, kind, depth_of=lambda f: depths[f.index], predicted_depth=True)
            for kind in ("keyframe", "odometry")}


BENCHMARKS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "tum": bench_tum,
    "tum_gap": bench_tum_gap,
    "tum_reconstruct": bench_tum_reconstruct,
    "synthetic_noise": bench_synthetic_noise,
    "synthetic_loop": bench_synthetic_loop,
    "demo_predicted": bench_demo_predicted,
}


def main() -> None:
    configure_runtime()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--synthetic-frames", type=int, default=300)
    args = parser.parse_args()
    names = list(args.only or BENCHMARKS)
    if not TUM.is_dir():
        skipped = [n for n in names if n.startswith("tum")]
        if skipped:
            print(f"{TUM} is absent (it comes with ../shared): skipping {', '.join(skipped)}")
        names = [n for n in names if not n.startswith("tum")]
    results: dict = {"machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "cpu_flags": cpu_flags(),
                                 "platform": platform.platform()}}
    for name in names:
        t0 = time.perf_counter()
        results[name] = BENCHMARKS[name](args)
        results[name]["wall_s"] = round(time.perf_counter() - t0, 1)
    print(f"{'case':<34}{'tracker':<10}{'coverage':>9}{'ATE cm':>8}{'RPE cm':>8}{'RPE deg':>8}{'ms med':>8}"
          f"{'ms p90':>8}{'kf':>5}{'loops':>6}")
    for name, rows in results.items():
        if name == "machine" or not isinstance(rows, dict):
            continue
        for key, row in rows.items():
            if isinstance(row, dict) and "coverage" in row:
                print(f"{name + ' ' + (key if key not in TRACKERS else ''):<34}{row['tracker']:<10}"
                      f"{100 * row['coverage']:>8.0f}%{100 * row['ate_m']:>8.2f}{100 * row['rpe_m']:>8.2f}"
                      f"{row['rpe_deg']:>8.2f}{row['ms_median']:>8.1f}{row['ms_p90']:>8.1f}{row['keyframes']:>5}"
                      f"{row['loops_kept']:>6}")
    if "synthetic_loop" in results:
        loop = results["synthetic_loop"]
        for seed in (5, 6, 7):
            a, b = loop[f"seed{seed}_without_loop_closure"], loop[f"seed{seed}_with_loop_closure"]
            print(f"synthetic loop seed {seed}: end drift {100 * a['end_drift_m']:.1f} cm without, "
                  f"{100 * b['end_drift_m']:.1f} cm with loop closure")
        print(f"median ratio {loop['drift_ratio']:.1f}x")
    if "tum_reconstruct" in results:
        for name, row in results["tum_reconstruct"].items():
            if isinstance(row, dict):
                print(f"reconstruct tum_fr1_rpy_100 ({name}): {row['frames_per_s']:.2f} frames/s, ATE "
                      f"{100 * row['ate_m']:.2f} cm, ms/frame {row['ms_per_frame']}")
    for rows in results.values():  # per-frame poses are for the JSON's readers, not the table
        if isinstance(rows, dict):
            for row in rows.values():
                if isinstance(row, dict):
                    row.pop("poses", None)
    out = ROOT / "results" / "tracking.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
