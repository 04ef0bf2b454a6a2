"""Evaluation of a joint network on a Sequence: the metrics of :mod:`slamseg.networks.metrics` and the tables
in the layout of the paper's Tables I (segmentation + depth), II (depth in detail) and VI (three tasks).

Predictions are made on the full frame (no crop), upsampled bilinearly to the ground truth's size. Depth is the
absolute value of the depth head (as the released demo and the Predictor read it). With a dataset occupying a
slice of a multi-dataset model's channels (NYUD 40 + KITTI 6), the argmax is taken over that slice only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from slamseg.networks.datasets import labels_to_channels
from slamseg.networks.metrics import DepthMetrics, NormalsMetrics, SegmentationMetrics, nyu_crop_mask
from slamseg.sequences.frame import Frame
from slamseg.sequences.sequence import Sequence

log = logging.getLogger(__name__)


def _batches(seq: Sequence, batch_size: int) -> Iterator[list[Frame]]:
    """Frames in batches of equal image size, streamed (a dataset never has to fit in memory)."""
    batch: list[Frame] = []
    for frame in seq:
        if batch and (len(batch) == batch_size or batch[0].rgb.shape != frame.rgb.shape):
            yield batch
            batch = []
        batch.append(frame)
    if batch:
        yield batch


def _resize(pred: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(pred.shape[-2:]) == tuple(size):
        return pred
    return torch.nn.functional.interpolate(pred, size=size, mode=mode, align_corners=False)


@torch.no_grad()
def evaluate_sequence(
    model: torch.nn.Module,
    seq: Sequence,
    *,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    class_slice: tuple[int, int] | None = None,
    label_offset: int = 0,
    nyu_crop: bool = False,
    max_depth: float | None = None,
    batch_size: int = 4,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
    resize: str = "bicubic",
) -> dict[str, Any]:
    """Metrics of ``model`` on every annotated frame of ``seq``.

    Args:
        model: a JointNet (eval mode is set here and restored after).
        seq: frames with labels and/or depth and/or normals.
        mean, std: input normalisation of image/255 (RGB).
        class_slice: (first, end) channels of this dataset in the model's output; None = all channels.
        label_offset: channel of the dataset's class id 1 (see ``labels_to_channels``); defaults to the slice's
            first channel when a slice is given.
        nyu_crop, max_depth: depth evaluation crop and cap (metres).
        progress: called with the number of frames done after each batch.
        resize: how outputs are brought to the image size; "bicubic" as the Predictor (and the released demo)
            does, so that the numbers are those of what users get.
    Returns:
        {"frames": n, "segm": {...} | None, "depth": {...} | None, "normals": {...} | None, "per_class_iou": [...]}
        with the metric dicts of :mod:`slamseg.networks.metrics` (fractions, metres, degrees).
    """
    was_training = model.training
    model.eval()
    tasks = tuple(model.tasks)
    k = int(getattr(model, "num_classes", 0))
    first, end = class_slice if class_slice is not None else (0, k)
    offset = label_offset if label_offset or class_slice is None else first
    segm = SegmentationMetrics(end - first) if "segm" in tasks else None
    depth = DepthMetrics(max_depth=max_depth) if "depth" in tasks else None
    normals = NormalsMetrics() if "normals" in tasks else None
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    counts = {"frames": 0, "segm": 0, "depth": 0, "normals": 0}
    dtype = next(model.parameters()).dtype  # inputs in the model's precision (a float64 or half model too)
    try:
        for frames in _batches(seq, batch_size):
            rgb = torch.from_numpy(np.stack([f.rgb for f in frames])).permute(0, 3, 1, 2).float() / 255.0
            out = model(((rgb - m) / s).to(device, dtype))
            h, w = frames[0].rgb.shape[:2]
            crop = nyu_crop_mask(h, w) if nyu_crop else None
            for i, frame in enumerate(frames):
                if segm is not None and frame.labels is not None:
                    logits = _resize(out["segm"][i: i + 1, first:end].float(), (h, w), resize)[0]
                    gt = labels_to_channels(frame.labels, offset) - first
                    gt[gt >= end - first] = -1  # ignore (255) and out-of-slice ids
                    segm.update(logits.argmax(0).cpu().numpy(), gt)
                    counts["segm"] += 1
                if depth is not None and frame.depth is not None:
                    pred = _resize(out["depth"][i: i + 1].float(), (h, w), resize)[0, 0].abs().cpu().numpy()
                    depth.update(pred, frame.depth, crop)
                    counts["depth"] += 1
                if normals is not None and frame.normals is not None:
                    pred = _resize(out["normals"][i: i + 1].float(), (h, w), resize)[0].permute(1, 2, 0).cpu().numpy()
                    normals.update(pred, frame.normals)
                    counts["normals"] += 1
            counts["frames"] += len(frames)
            if progress is not None:
                progress(len(frames))
    finally:
        model.train(was_training)
    result: dict[str, Any] = {"frames": counts["frames"], "annotated": {t: counts[t] for t in ("segm", "depth",
                                                                                               "normals")}}
    result["segm"] = segm.compute() if segm is not None and counts["segm"] else None
    result["per_class_iou"] = segm.per_class_iou().tolist() if result["segm"] is not None else None
    result["depth"] = depth.compute() if depth is not None and counts["depth"] else None
    result["normals"] = normals.compute() if normals is not None and counts["normals"] else None
    return result


def _fmt(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "−"
    return f"{value * scale:.{digits}f}"


def markdown_tables(results: dict[str, dict[str, Any]], model_name: str = "model") -> str:
    """Markdown tables in the layout of the paper's Tables I, II and VI, one row / column per dataset."""
    lines = ["## Segmentation and depth (layout of Table I)", "",
             "| Data | Model | mIoU,% | pixel acc,% | mean class acc,% | RMSE (lin),m | RMSE (log) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        sg, dp = r.get("segm") or {}, r.get("depth") or {}
        lines.append(f"| {name} | {model_name} | {_fmt(sg.get('miou'), 100, 2)} | {_fmt(sg.get('pixel_acc'), 100, 2)}"
                     f" | {_fmt(sg.get('mean_class_acc'), 100, 2)} | {_fmt(dp.get('rmse'))} | "
                     f"{_fmt(dp.get('rmse_log'))} |")
    if any(r.get("depth") for r in results.values()):
        names = list(results)
        lines += ["", "## Depth in detail (layout of Table II)", "", "| | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        rows = [("RMSE (lin)", "rmse"), ("RMSE (log)", "rmse_log"), ("abs rel", "abs_rel"), ("sqr rel", "sqr_rel"),
                ("δ < 1.25", "delta1"), ("δ < 1.25^2", "delta2"), ("δ < 1.25^3", "delta3")]
        for label, key in rows:
            lines.append(f"| {label} | " + " | ".join(_fmt((results[n].get("depth") or {}).get(key))
                                                      for n in names) + " |")
    if any(r.get("normals") for r in results.values()):
        lines += ["", "## Three tasks (layout of Table VI)", "",
                  "| Data | mIoU,% | RMSE (lin),m | RMSE (log) | Mean Angle | Median Angle | <11.25° | <22.5° | <30° |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, r in results.items():
            sg, dp, nm = r.get("segm") or {}, r.get("depth") or {}, r.get("normals") or {}
            lines.append(
                f"| {name} | {_fmt(sg.get('miou'), 100, 2)} | {_fmt(dp.get('rmse'))} | {_fmt(dp.get('rmse_log'))} | "
                f"{_fmt(nm.get('mean_angle'), 1, 2)} | {_fmt(nm.get('median_angle'), 1, 2)} | "
                f"{_fmt(nm.get('within_11.25'), 100, 1)} | {_fmt(nm.get('within_22.5'), 100, 1)} | "
                f"{_fmt(nm.get('within_30'), 100, 1)} |")
    return "\n".join(lines) + "\n"
