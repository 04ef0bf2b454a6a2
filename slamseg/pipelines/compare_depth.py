"""``slamseg compare-depth``: how close is the network's depth to the sensor's, frame by frame and overall.

Metrics (paper Table II, over valid sensor pixels): RMSE (linear, log), abs rel, sqr rel, delta < 1.25^k; per frame
and pooled over all pixels of all frames, optionally inside the NYU crop and with a depth cap, and optionally also
after per-frame median scaling (reported separately: it hides the global scale error monocular depth can have).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from slamseg.errors import ConfigError
from slamseg.figures import (
    colourise_depth,
    save_binned_plot,
    save_histogram,
    save_image_grid,
    save_series_plot,
)
from slamseg.networks.metrics import DepthMetrics, nyu_crop_mask
from slamseg.pipelines.common import StageTimer, make_predictor, open_source
from slamseg.pipelines.compare_depth_config import CompareDepthConfig
from slamseg.report import Report
from slamseg.runs import RunFolder
from slamseg.sequences import Frame
from slamseg.sequences.progress import progress_bar

log = logging.getLogger(__name__)

METRIC_NAMES = ("rmse", "rmse_log", "abs_rel", "sqr_rel", "delta1", "delta2", "delta3")
MAX_ERROR_SAMPLES = 200_000  # pixels kept for the histogram / error-vs-distance figures


def _frame_metrics(cfg: CompareDepthConfig, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None
                   ) -> dict[str, float]:
    m = DepthMetrics(max_depth=cfg.max_depth, min_depth=cfg.min_depth)
    m.update(pred, gt, mask)
    return m.compute()


def median_scale(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> float:
    """median(gt) / median(pred) over ``valid`` pixels (1.0 when none are valid)."""
    if not valid.any():
        return 1.0
    return float(np.median(gt[valid]) / max(np.median(pred[valid]), 1e-6))


def run_compare_depth(cfg: CompareDepthConfig, run: RunFolder, progress: bool = True) -> dict[str, Any]:
    """Compare predicted with sensor depth on every frame of ``cfg.sequence``; writes into ``run``."""
    run.write_config(cfg, command="compare-depth")
    sequence = open_source(cfg.sequence)
    first = sequence[0]
    if first.depth is None:
        raise ConfigError(f"{sequence.name}: compare-depth needs sensor depth, but this sequence has none")
    predictor = make_predictor(cfg.network)
    mask = nyu_crop_mask(*first.camera.shape) if cfg.nyu_crop else None
    pooled = DepthMetrics(max_depth=cfg.max_depth, min_depth=cfg.min_depth)
    pooled_scaled = DepthMetrics(max_depth=cfg.max_depth, min_depth=cfg.min_depth)
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(0)
    errors: list[np.ndarray] = []
    distances: list[np.ndarray] = []
    panels: list[list[tuple[str, np.ndarray]]] = []
    panel_every = max(len(sequence) // max(cfg.panel_frames, 1), 1)
    timer = StageTimer()

    def handle(frame: Frame, prediction: Any, position: int) -> None:
        gt, pred = frame.depth, prediction.depth
        valid = (gt > 0) & (gt <= cfg.max_depth)
        if mask is not None:
            valid &= mask
        row: dict[str, Any] = {"index": frame.index, "timestamp": frame.timestamp, "valid_pixels": int(valid.sum())}
        row.update(_frame_metrics(cfg, pred, gt, mask))
        pooled.update(pred, gt, mask)
        if cfg.median_scaling:
            scale = median_scale(pred, gt, valid)
            row["median_scale"] = scale
            row.update({f"scaled_{k}": v for k, v in _frame_metrics(cfg, pred * scale, gt, mask).items()})
            pooled_scaled.update(pred * scale, gt, mask)
        rows.append(row)
        if valid.any():
            err = np.clip(pred[valid], cfg.min_depth, cfg.max_depth) - gt[valid]
            keep = rng.random(err.size) < MAX_ERROR_SAMPLES / max(len(sequence) * err.size, 1)
            errors.append(err[keep])
            distances.append(gt[valid][keep])
        if cfg.panel_frames and position % panel_every == 0 and len(panels) < cfg.panel_frames:
            vmax = float(np.percentile(gt[gt > 0], 99)) if (gt > 0).any() else cfg.max_depth
            abs_err = np.where(valid, np.abs(pred - gt), 0.0).astype(np.float32)
            panels.append([(f"frame {frame.index}", frame.rgb), ("sensor depth", colourise_depth(gt, vmax)),
                           ("predicted depth", colourise_depth(pred, vmax)),
                           ("|error| (0..1 m)", colourise_depth(abs_err, 1.0, cmap="magma"))])

    bar = progress_bar(total=len(sequence), unit="frame", enabled=progress, desc=f"compare-depth {sequence.name}")

    def frames_with_depth() -> Iterator[Frame]:
        for pos in range(len(sequence)):
            with timer.stage("read"):
                frame = sequence.load_or_skip(pos)
            bar.update(1)
            if frame is not None and frame.depth is None:
                log.warning("frame %d has no sensor depth; skipped", frame.index)
            elif frame is not None:
                yield frame

    # labels are not compared here: probabilities in the model's own set skip full-size logits
    for frame, prediction in predictor.predict_frames(frames_with_depth(), cfg.network.batch_size,
                                                      label_set=predictor.label_set,
                                                      timer=lambda n, seconds: timer.add("network", seconds, n)):
        with timer.stage("metrics"):
            handle(frame, prediction, len(rows))
    bar.close()
    if not rows:
        raise ConfigError(f"{sequence.name}: no frame with sensor depth to compare")
    if not any(r["valid_pixels"] for r in rows):
        raise ConfigError(f"{sequence.name}: none of its {len(rows)} frames has valid sensor depth (within "
                          f"{cfg.max_depth} m): nothing to compare")
    skipped = sum(1 for r in rows if not r["valid_pixels"])
    if skipped:
        log.warning("%d of %d frames have no valid sensor depth: left out of the metrics", skipped, len(rows))

    metrics: dict[str, Any] = {
        "sequence": sequence.name,
        "frames": len(rows),
        "settings": {"max_depth": cfg.max_depth, "nyu_crop": cfg.nyu_crop},
        "pooled": pooled.compute(),
        "per_frame_mean": {k: float(np.nanmean([r[k] for r in rows])) for k in METRIC_NAMES},
        "timings": timer.summary(),
    }
    if cfg.median_scaling:
        metrics["pooled_median_scaled"] = pooled_scaled.compute()
        metrics["median_scale"] = {"mean": float(np.mean([r["median_scale"] for r in rows])),
                                   "std": float(np.std([r["median_scale"] for r in rows]))}
    run.write_text("per_frame.csv", _csv(rows))
    run.write_json("metrics.json", metrics)
    _report(run, metrics, rows, np.concatenate(errors) if errors else np.zeros(0),
            np.concatenate(distances) if distances else np.zeros(0), panels)
    return metrics


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def _report(run: RunFolder, metrics: dict[str, Any], rows: list[dict[str, Any]], errors: np.ndarray,
            distances: np.ndarray, panels: list[list[tuple[str, np.ndarray]]]) -> None:
    rep = Report(f"slamseg compare-depth: {metrics['sequence']}")
    rep.paragraph(f"{metrics['frames']} frames; sensor depth capped at {metrics['settings']['max_depth']} m"
                  + ("; NYU crop" if metrics["settings"]["nyu_crop"] else "") + ".")
    headers = ["metric", "pooled", "mean per frame"]
    table = [[k, metrics["pooled"][k], metrics["per_frame_mean"][k]] for k in METRIC_NAMES]
    if "pooled_median_scaled" in metrics:
        headers.append("pooled, median-scaled")
        for row, k in zip(table, METRIC_NAMES):
            row.append(metrics["pooled_median_scaled"][k])
    rep.table(headers, table)
    index = np.array([r["index"] for r in rows])
    save_series_plot(run.file("figures/metrics_over_frames.png"), index,
                     {"RMSE [m]": np.array([r["rmse"] for r in rows]),
                      "abs rel": np.array([r["abs_rel"] for r in rows])}, "frame", "error")
    rep.figure("figures/metrics_over_frames.png", "RMSE and abs rel of each frame")
    if errors.size:
        save_histogram(run.file("figures/error_histogram.png"), errors, "predicted - sensor depth [m]")
        rep.figure("figures/error_histogram.png", "signed depth error over sampled valid pixels")
        save_binned_plot(run.file("figures/error_vs_distance.png"), distances, np.abs(errors), "sensor depth [m]",
                         "|error| [m]")
        rep.figure("figures/error_vs_distance.png", "absolute error against distance")
    if panels:
        save_image_grid(run.file("figures/panels.png"), panels)
        rep.figure("figures/panels.png", "RGB | sensor depth | predicted depth | absolute error")
    rep.write(run)

