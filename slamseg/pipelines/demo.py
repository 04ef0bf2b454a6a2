"""``slamseg demo``: synthetic room -> bundled network -> semantic reconstruction -> evaluation, no set-up.

The room is rendered once into ``data_dir`` and reused. Everything else is the ``reconstruct`` pipeline with
predicted depth and network labels, evaluated against the room's exact ground truth, twice: with the room's
camera poses (what label fusion gains over single frames, the mesh, the report), and with the camera tracked on
the predicted depth (``tracking``; what the trajectory error is), the second run in the ``tracking/`` subfolder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from slamseg.config import from_dict
from slamseg.pipelines.demo_config import DemoConfig
from slamseg.pipelines.reconstruct import run_reconstruct
from slamseg.pipelines.reconstruct_config import ReconstructConfig
from slamseg.pipelines.synth import write_synthetic_sequence
from slamseg.pipelines.synth_config import SynthConfig
from slamseg.runs import RunFolder

log = logging.getLogger(__name__)


def demo_sequence(cfg: DemoConfig, progress: bool = True) -> Path:
    """The demo's synthetic sequence folder, rendered on first use (complete folders only are reused)."""
    folder = Path(cfg.data_dir) / f"room-seed{cfg.seed}-{cfg.frames}f-{cfg.width}x{cfg.height}"
    if (folder / "mesh.ply").exists():
        log.info("reusing the synthetic room in %s", folder)
        return folder
    log.info("rendering a synthetic room (seed %d, %d frames) into %s", cfg.seed, cfg.frames, folder)
    run = RunFolder("synth", out=folder, overwrite=True)
    write_synthetic_sequence(SynthConfig(seed=cfg.seed, frames=cfg.frames, width=cfg.width, height=cfg.height),
                             run, progress=progress)
    return run.finish()


def reconstruct_config(cfg: DemoConfig, sequence: Path, tracking: str) -> ReconstructConfig:
    """A reconstruct job of the demo."""
    return from_dict(ReconstructConfig, {
        "sequence": {"path": str(sequence)},
        "network": {"checkpoint": cfg.checkpoint, "device": cfg.device, "input_width": cfg.network_width,
                    "input_height": cfg.network_height},
        "depth": "predicted",
        "labels": "network",
        "map": cfg.map,
        "tracking": tracking,
        "labels_every": cfg.labels_every,
        "classes": 13,
        "tsdf": {"voxel_size": cfg.voxel_size, "depth_max": 6.0},
        "snapshot_every": 0,
    })


def summary_rows(metrics: dict[str, Any], tracked: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """The demo's short table: (quantity, value) pairs from the ground-truth-pose run's metrics and, when there
    is one, the tracked run's trajectory error and failures."""
    ev = metrics.get("evaluation", {})
    rows = []
    if "depth" in ev:
        rows.append(("predicted depth RMSE", f"{ev['depth']['rmse']:.3f} m"))
        rows.append(("predicted depth abs rel", f"{ev['depth']['abs_rel']:.3f}"))
        if "predicted_fraction" in ev["depth"]:
            rows.append(("pixels with predicted depth (edges dropped)",
                         f"{100 * ev['depth']['predicted_fraction']:.1f} %"))
    labels = ev.get("labels_2d", {})
    if "single_frame" in labels:
        s = labels["single_frame"]
        rows.append(("single-frame labels (13 cl.): mIoU", f"{100 * s['mean_iou']:.1f} %"))
        rows.append(("single-frame labels: class-avg / pixel acc.",
                     f"{100 * s['class_average_accuracy']:.1f} % / {100 * s['pixel_accuracy']:.1f} %"))
    if "fused_map" in labels:
        f = labels["fused_map"]
        rows.append(("fused-map labels: class-avg / pixel acc.",
                     f"{100 * f['class_average_accuracy']:.1f} % / {100 * f['pixel_accuracy']:.1f} %"))
    if "mesh" in ev:
        m = ev["mesh"]
        rows.append(("mesh accuracy / completeness",
                     f"{100 * m['accuracy']:.1f} cm / {100 * m['completeness']:.1f} cm"))
    rows.append(("frames per second (whole pipeline)", f"{metrics['frames_per_second']:.2f}"))
    if tracked is not None:
        trajectory = tracked.get("evaluation", {}).get("trajectory")
        if trajectory:
            rows.append(("tracked on predicted depth: ATE (RMSE)", f"{100 * trajectory['ate']['rmse']:.1f} cm"))
        rows.append(("tracked on predicted depth: failures", str(len(tracked["tracking_failures"]))))
        rows.append(("tracked on predicted depth: frames per second", f"{tracked['frames_per_second']:.2f}"))
    return rows


def run_demo(cfg: DemoConfig, run: RunFolder, progress: bool = True) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Render (or reuse) the room, reconstruct it with the network, evaluate.

    Returns:
        (metrics of the run with the room's poses, metrics of the tracked run or None when ``tracking`` is gt).
    """
    sequence = demo_sequence(cfg, progress)
    metrics = run_reconstruct(reconstruct_config(cfg, sequence, "gt"), run, progress=progress)
    if cfg.tracking == "gt":
        return metrics, None
    tracked_run = RunFolder("tracking", out=run.path / "tracking")
    tracked = run_reconstruct(reconstruct_config(cfg, sequence, cfg.tracking), tracked_run, progress=progress)
    tracked_run.finish()
    return metrics, tracked
