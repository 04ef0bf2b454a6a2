"""Confusion matrices and their scores on hand-counted label images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slamseg.sequences.errors import LabelSetError
from slamseg.sequences.label_metrics import (
    confusion_matrix,
    mean_defined,
    per_class_accuracy,
    per_class_iou,
    pixel_accuracy,
)


def test_void_ground_truth_is_skipped_and_a_void_prediction_counts():
    gt = np.array([[1, 1, 2], [0, 2, 2]])
    pred = np.array([[1, 2, 2], [1, 0, 2]])
    cm = confusion_matrix(pred, gt, 3)
    # rows gt, columns prediction; the void pixel (row 1, col 0) is skipped, gt 2 predicted void is counted
    np.testing.assert_array_equal(cm, [[0, 0, 0], [0, 1, 1], [1, 0, 2]])
    assert cm.dtype == np.int64
    assert pixel_accuracy(cm) == pytest.approx(3 / 5)


def test_channel_ids_with_void_outside_the_range():
    # networks' layout: channels 0..K-1, void as -1 and ignore as 255, no void channel
    gt = np.array([0, 1, -1, 255, 1])
    pred = np.array([0, 0, 1, 1, 1])
    cm = confusion_matrix(pred, gt, 2, void_id=None, skip_unknown_gt=True)
    np.testing.assert_array_equal(cm, [[1, 0], [1, 1]])
    with pytest.raises(LabelSetError, match=r"outside 0\.\.1"):
        confusion_matrix(pred, gt, 2, void_id=None)


def test_bad_inputs_raise():
    with pytest.raises(LabelSetError, match="differ in shape"):
        confusion_matrix(np.zeros((2, 2), int), np.zeros(4, int), 3)
    with pytest.raises(LabelSetError, match=r"outside 0\.\.2"):
        confusion_matrix(np.array([3]), np.array([1]), 3)


def test_scores_and_undefined_classes():
    cm = np.array([[2, 1, 0], [1, 2, 0], [0, 0, 0]])
    iou = per_class_iou(cm)
    np.testing.assert_allclose(iou[:2], [0.5, 0.5])
    assert math.isnan(iou[2])  # neither in the ground truth nor predicted
    acc = per_class_accuracy(cm)
    np.testing.assert_allclose(acc[:2], [2 / 3, 2 / 3])
    assert math.isnan(acc[2])
    assert mean_defined(iou) == pytest.approx(0.5)
    assert math.isnan(mean_defined(np.array([np.nan]))) and math.isnan(pixel_accuracy(np.zeros((2, 2), int)))
