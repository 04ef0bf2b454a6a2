"""``slamseg evaluate-map``: evaluate a finished reconstruct run against its sequence's ground truth.

Reads the run's config.yaml, map.npz and trajectory.txt, re-opens the sequence, matches the trajectory to the
frames by timestamp, and computes what the ground truth allows (see map_evaluation.py): ATE/RPE, the fused map's
2D labels against ground-truth labels (and the network's single-frame labels on the same frames), mesh
accuracy/completeness against the ground-truth mesh.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.config import load_config
from slamseg.errors import ConfigError
from slamseg.pipelines.common import make_predictor, open_source
from slamseg.pipelines.map_evaluation import MAX_LABEL_FRAMES, GroundTruthCollector, evaluate
from slamseg.pipelines.reconstruct_config import ReconstructConfig
from slamseg.report import Report
from slamseg.runs import RunFolder
from slamseg.sequences.progress import progress_bar

log = logging.getLogger(__name__)


def run_evaluate_map(run_dir: str | Path, out: RunFolder, sequence_path: str | None = None,
                     single_frame: bool = True, progress: bool = True) -> dict[str, Any]:
    """Evaluate the reconstruct run in ``run_dir``; writes metrics.json and a report into ``out``."""
    from slamseg.fusion.maps import load_map
    from slamseg.fusion.metrics import associate_timestamps
    from slamseg.sequences.poses import read_tum_trajectory

    run_dir = Path(run_dir)
    for needed in ("config.yaml", "map.npz", "trajectory.txt"):
        if not (run_dir / needed).exists():
            raise ConfigError(f"{run_dir}: not a finished reconstruct run (no {needed})")
    cfg = load_config(ReconstructConfig, run_dir / "config.yaml",
                      [("sequence.path", sequence_path)] if sequence_path else [])
    sequence = open_source(cfg.sequence)
    semantic_map = load_map(run_dir / "map.npz")
    stamps, poses = read_tum_trajectory(run_dir / "trajectory.txt")
    predictor = make_predictor(cfg.network) if single_frame and cfg.labels == "network" else None
    collector = GroundTruthCollector(semantic_map.label_set, sequence.label_set,
                                     label_stride=max(len(sequence) // MAX_LABEL_FRAMES, 1))
    frame_stamps, frame_indices = [], []
    for pos in progress_bar(range(len(sequence)), unit="frame", enabled=progress, desc="evaluate-map"):
        frame = sequence.load_or_skip(pos)
        if frame is None:
            continue
        frame_stamps.append(frame.timestamp)
        frame_indices.append(frame.index)
        prediction = None
        if predictor is not None and frame.labels is not None and collector.wants_labels():
            prediction = predictor.predict(frame.rgb)
        collector.add(frame, prediction, with_depth=False)
    # The run wrote each integrated frame's own timestamp: match them back to dataset indices.
    in_run, in_seq = associate_timestamps(stamps, np.array(frame_stamps), max_diff=1e-4)
    if len(in_run) == 0:
        raise ConfigError(f"{run_dir}/trajectory.txt: no timestamp matches a frame of {sequence.name}")
    estimated = {frame_indices[j]: poses[i] for i, j in zip(in_run, in_seq)}
    geometry = semantic_map.extract_mesh()
    gt_mesh = Path(cfg.sequence.path) / "mesh.ply"
    result = evaluate(semantic_map, estimated, collector, geometry if len(geometry.faces) else None, gt_mesh)
    metrics = {"run": str(run_dir), "sequence": sequence.name, "frames_matched": len(estimated), **result}
    out.write_json("metrics.json", metrics)
    _report(out, metrics)
    return metrics


def _report(out: RunFolder, metrics: dict[str, Any]) -> None:
    rep = Report(f"slamseg evaluate-map: {metrics['run']}")
    rep.paragraph(f"{metrics['frames_matched']} frames of {metrics['sequence']} matched to the run's trajectory.")
    if "trajectory" in metrics:
        t = metrics["trajectory"]
        rep.heading("Trajectory")
        rep.key_values({"ATE RMSE [m]": t["ate"]["rmse"], "ATE median [m]": t["ate"]["median"],
                        "RPE translation RMSE [m/frame]": t["rpe_translation"]["rmse"],
                        "RPE rotation RMSE [deg/frame]": t["rpe_rotation_deg"]["rmse"]})
    if "labels_2d" in metrics:
        lab = metrics["labels_2d"]
        rep.heading(f"Labels (2D, {lab['frames']} labelled frames)")
        rows = [["fused map", lab["fused_map"]["class_average_accuracy"], lab["fused_map"]["pixel_accuracy"],
                 lab["fused_map"]["mean_iou"]]]
        if "single_frame" in lab:
            s = lab["single_frame"]
            rows.append(["single frame (network)", s["class_average_accuracy"], s["pixel_accuracy"], s["mean_iou"]])
        rep.table(["labels", "class-average accuracy", "pixel accuracy", "mIoU"], rows)
    if "mesh" in metrics:
        rep.heading("Mesh against the ground-truth mesh")
        rep.key_values(metrics["mesh"])
    rep.write(out)
