"""Evaluation metrics of the paper's Tables I, II and VI, accumulated over a dataset (numpy only).

All metrics pool pixels over the whole dataset (a confusion matrix for segmentation, running sums for depth, an
angle histogram for normals), so evaluating in batches or frame by frame gives the same numbers.

- Segmentation (void / ignore pixels excluded): mIoU over the classes that occur (in the ground truth or the
  prediction; a class that does neither has no IoU and is left out of the mean), pixel accuracy, mean class
  accuracy over the classes present in the ground truth.
- Depth over valid pixels (gt > 0; optionally gt <= ``max_depth`` and the NYU evaluation crop): RMSE (linear,
  metres), RMSE (log), abs rel, sqr rel, delta < 1.25^k. Predictions are clipped to [``min_depth``, ``max_depth``]
  before the log.
- Normals over valid pixels (non-zero ground truth): mean and median angle in degrees, % within 11.25/22.5/30.
"""

from __future__ import annotations

import math

import numpy as np

from slamseg.sequences import label_metrics as lm

# Eigen et al.'s NYU evaluation crop of 640 x 480 images: rows 45..470, columns 41..600 (end exclusive below).
NYU_CROP_640x480 = (45, 471, 41, 601)


def nyu_crop_mask(height: int, width: int) -> np.ndarray:
    """H x W bool mask of the NYU evaluation crop, scaled from 640 x 480 to the image size."""
    top, bottom, left, right = NYU_CROP_640x480
    mask = np.zeros((height, width), dtype=bool)
    sy, sx = height / 480.0, width / 640.0
    mask[round(top * sy): round(bottom * sy), round(left * sx): round(right * sx)] = True
    return mask


class SegmentationMetrics:
    """Confusion-matrix accumulator for ``num_classes`` channels.

    ``update(pred, gt)`` takes integer arrays of the same shape holding channel ids 0..K-1; gt pixels outside
    that range (void mapped to -1, ignore 255) are skipped.
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = int(num_classes)
        self.confusion = np.zeros((num_classes, num_classes), dtype=np.int64)  # rows: gt, columns: prediction

    def update(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Add the pixels of one prediction (any shape, channel ids) and its ground truth to the matrix."""
        self.confusion += lm.confusion_matrix(pred, gt, self.num_classes, void_id=None, skip_unknown_gt=True)

    def per_class_iou(self) -> np.ndarray:
        """K IoUs; NaN for a class absent from both ground truth and prediction."""
        return lm.per_class_iou(self.confusion)

    def compute(self) -> dict[str, float]:
        """{"miou", "pixel_acc", "mean_class_acc"} as fractions in [0, 1] (NaN when nothing was counted)."""
        return {
            "miou": lm.mean_defined(lm.per_class_iou(self.confusion)),
            "pixel_acc": lm.pixel_accuracy(self.confusion),
            "mean_class_acc": lm.mean_defined(lm.per_class_accuracy(self.confusion)),
        }


class DepthMetrics:
    """Running sums for the depth metrics over valid pixels.

    Args:
        max_depth: ground truth beyond this (metres) is not evaluated and predictions are clipped to it; None = no cap.
        min_depth: predictions are clipped below to this (metres) so that the log metrics stay finite.
    """

    def __init__(self, max_depth: float | None = None, min_depth: float = 1e-3) -> None:
        self.max_depth = max_depth
        self.min_depth = min_depth
        self.n = 0
        self.sums = dict.fromkeys(("sq", "sq_log", "abs_rel", "sqr_rel", "d1", "d2", "d3"), 0.0)

    def update(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> None:
        """pred, gt: same-shape float depth in metres (gt 0 = invalid); mask: extra bool mask (e.g. NYU crop)."""
        pred = np.asarray(pred, dtype=np.float64)
        gt = np.asarray(gt, dtype=np.float64)
        valid = gt > 0
        if self.max_depth is not None:
            valid &= gt <= self.max_depth
        if mask is not None:
            valid &= np.broadcast_to(mask, gt.shape)
        p = np.clip(pred[valid], self.min_depth, self.max_depth if self.max_depth is not None else np.inf)
        g = gt[valid]
        if g.size == 0:
            return
        ratio = np.maximum(p / g, g / p)
        self.n += g.size
        s = self.sums
        s["sq"] += float(np.sum((p - g) ** 2))
        s["sq_log"] += float(np.sum((np.log(p) - np.log(g)) ** 2))
        s["abs_rel"] += float(np.sum(np.abs(p - g) / g))
        s["sqr_rel"] += float(np.sum((p - g) ** 2 / g))
        for k in (1, 2, 3):
            s[f"d{k}"] += float(np.sum(ratio < 1.25**k))

    def compute(self) -> dict[str, float]:
        """{"rmse", "rmse_log", "abs_rel", "sqr_rel", "delta1", "delta2", "delta3"} (NaN when nothing counted)."""
        if self.n == 0:
            return dict.fromkeys(("rmse", "rmse_log", "abs_rel", "sqr_rel", "delta1", "delta2", "delta3"), math.nan)
        s, n = self.sums, self.n
        return {
            "rmse": math.sqrt(s["sq"] / n),
            "rmse_log": math.sqrt(s["sq_log"] / n),
            "abs_rel": s["abs_rel"] / n,
            "sqr_rel": s["sqr_rel"] / n,
            "delta1": s["d1"] / n,
            "delta2": s["d2"] / n,
            "delta3": s["d3"] / n,
        }


class NormalsMetrics:
    """Angular error of normals; the median comes from a 0.01-degree histogram (exact to that resolution)."""

    BIN = 0.01  # degrees

    def __init__(self) -> None:
        self.hist = np.zeros(round(180 / self.BIN) + 1, dtype=np.int64)
        self.sum = 0.0
        self.n = 0

    def update(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> None:
        """pred, gt: ... x 3 normal vectors (any length; gt zero vectors are invalid)."""
        pred = np.asarray(pred, dtype=np.float64).reshape(-1, 3)
        gt = np.asarray(gt, dtype=np.float64).reshape(-1, 3)
        gn, pn = np.linalg.norm(gt, axis=1), np.linalg.norm(pred, axis=1)
        valid = gn > 1e-6
        if mask is not None:
            valid &= np.asarray(mask).reshape(-1)
        cos = np.sum(pred[valid] * gt[valid], axis=1) / (np.maximum(pn[valid], 1e-12) * gn[valid])
        angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        self.sum += float(angles.sum())
        self.n += angles.size
        np.add.at(self.hist, np.round(angles / self.BIN).astype(np.int64), 1)

    def compute(self) -> dict[str, float]:
        """{"mean_angle", "median_angle" (degrees), "within_11.25", "within_22.5", "within_30" (fractions)}."""
        if self.n == 0:
            return dict.fromkeys(("mean_angle", "median_angle", "within_11.25", "within_22.5", "within_30"), math.nan)
        centres = np.arange(self.hist.size) * self.BIN
        cum = np.cumsum(self.hist)
        median = float(centres[np.searchsorted(cum, (self.n + 1) / 2)])
        out = {"mean_angle": self.sum / self.n, "median_angle": median}
        for t in (11.25, 22.5, 30.0):
            out[f"within_{t:g}"] = float(self.hist[centres <= t + 1e-9].sum() / self.n)
        return out
