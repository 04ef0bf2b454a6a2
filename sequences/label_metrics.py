"""Confusion matrices of label images and the scores read from them (IoU, per-class and pixel accuracy).

One implementation for the network evaluation (channel ids 0..K-1, void mapped outside that range) and the map
evaluation (label ids with void 0). Rows are ground truth, columns predictions, both indexed by id.
"""

from __future__ import annotations

import numpy as np

from slamseg.sequences.errors import LabelSetError


def confusion_matrix(
    pred: np.ndarray, gt: np.ndarray, num_ids: int, void_id: int | None = 0, skip_unknown_gt: bool = False
) -> np.ndarray:
    """Count (ground truth id, predicted id) pairs over the pixels of two label arrays.

    Args:
        pred, gt: integer ids of the same shape (an image, a stack, any shape).
        num_ids: K, the ids counted are 0..K-1 (including ``void_id`` if it is one of them).
        void_id: ground-truth pixels with this id are skipped (None: no void id).
        skip_unknown_gt: also skip ground-truth pixels outside 0..K-1 (e.g. void mapped to -1, ignore 255);
            without it they raise.
    Returns:
        K x K int64 counts, rows = ground-truth id, columns = predicted id.
    Raises:
        LabelSetError: shapes differ, or an id of a counted pixel is outside 0..K-1.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise LabelSetError(f"predicted labels {pred.shape} and ground-truth labels {gt.shape} differ in shape")
    g = gt.reshape(-1).astype(np.int64)
    keep = np.ones(g.shape, dtype=bool) if void_id is None else g != void_id
    if skip_unknown_gt:
        keep &= (g >= 0) & (g < num_ids)
    g = g[keep]
    p = pred.reshape(-1)[keep].astype(np.int64)
    # an id outside the range would land in another cell of the flattened matrix, silently
    if p.size and (min(p.min(), g.min()) < 0 or max(p.max(), g.max()) >= num_ids):
        raise LabelSetError(f"label ids outside 0..{num_ids - 1}")
    return np.bincount(g * num_ids + p, minlength=num_ids * num_ids).reshape(num_ids, num_ids)


def per_class_iou(confusion: np.ndarray) -> np.ndarray:
    """(K,) float64 intersection over union per id; NaN for an id neither in the ground truth nor predicted."""
    confusion = np.asarray(confusion)
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """(K,) float64 recall per id (correct / ground-truth pixels); NaN for an id absent from the ground truth."""
    confusion = np.asarray(confusion)
    tp = np.diag(confusion).astype(np.float64)
    gt_count = confusion.sum(1)
    return np.where(gt_count > 0, tp / np.maximum(gt_count, 1), np.nan)


def pixel_accuracy(confusion: np.ndarray) -> float:
    """Fraction of counted pixels predicted correctly; NaN when nothing was counted."""
    confusion = np.asarray(confusion)
    total = confusion.sum()
    return float(np.trace(confusion) / total) if total else float("nan")


def mean_defined(values: np.ndarray) -> float:
    """Mean of the non-NaN entries (the classes a score is defined for); NaN when there are none."""
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")
