"""Metrics on hand-made cases (void pixels, empty classes, NYU crop, depth cap, normals angles)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from slamseg.networks.metrics import DepthMetrics, NormalsMetrics, SegmentationMetrics, nyu_crop_mask


def test_segmentation_hand_computed_with_void_and_empty_class() -> None:
    # 3 classes (channels 0..2); channel 2 occurs nowhere -> left out of the mean IoU.
    # -1 is void: the prediction there (class 1) must not count as a false positive.
    gt = np.array([[0, 0, 1, -1], [1, 1, 0, 255]])
    pred = np.array([[0, 1, 1, 1], [1, 0, 0, 2]])
    m = SegmentationMetrics(3)
    m.update(pred, gt)
    # counted pixels: gt0: (0,0)->0 ok, (0,1)->1, (1,2)->0 ok;  gt1: (0,2)->1 ok, (1,0)->1 ok, (1,1)->0
    # class 0: tp 2, fp 1 (gt1 predicted 0), fn 1 -> IoU 2/4; class 1: tp 2, fp 1, fn 1 -> 2/4
    out = m.compute()
    assert out["miou"] == pytest.approx(0.5)
    assert out["pixel_acc"] == pytest.approx(4 / 6)
    assert out["mean_class_acc"] == pytest.approx((2 / 3 + 2 / 3) / 2)
    iou = m.per_class_iou()
    assert math.isnan(iou[2])


def test_segmentation_predicted_but_absent_class_counts_with_zero_iou() -> None:
    m = SegmentationMetrics(2)
    m.update(np.array([0, 1]), np.array([0, 0]))
    # class 1 is predicted but never in gt: IoU 0 enters the mean; it is absent from mean class accuracy
    assert m.compute() == pytest.approx({"miou": (0.5 + 0.0) / 2, "pixel_acc": 0.5, "mean_class_acc": 0.5})


def test_segmentation_batches_equal_whole() -> None:
    rng = np.random.default_rng(0)
    gt, pred = rng.integers(-1, 4, size=(2, 50)), rng.integers(0, 4, size=(2, 50))
    a, b = SegmentationMetrics(4), SegmentationMetrics(4)
    a.update(pred, gt)
    b.update(pred[0], gt[0])
    b.update(pred[1], gt[1])
    assert np.array_equal(a.confusion, b.confusion)


def test_depth_hand_computed() -> None:
    gt = np.array([1.0, 2.0, 0.0, 4.0])
    pred = np.array([2.0, 2.0, 7.0, 2.0])  # the third pixel is invalid (gt 0)
    m = DepthMetrics()
    m.update(pred, gt)
    out = m.compute()
    assert out["rmse"] == pytest.approx(math.sqrt((1 + 0 + 4) / 3))
    assert out["rmse_log"] == pytest.approx(math.sqrt((math.log(2) ** 2 * 2) / 3))
    assert out["abs_rel"] == pytest.approx((1 / 1 + 0 + 2 / 4) / 3)
    assert out["sqr_rel"] == pytest.approx((1 / 1 + 0 + 4 / 4) / 3)
    # ratios max(p/g, g/p) = 2, 1, 2: only the exact pixel is below 1.25, 1.5625 and 1.953
    assert (out["delta1"], out["delta2"], out["delta3"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    m = DepthMetrics()
    m.update(np.array([1.5, 1.0, 3.6]), np.array([1.0, 1.8, 2.0]))  # ratios 1.5, 1.8, 1.8
    out = m.compute()
    assert (out["delta1"], out["delta2"], out["delta3"]) == pytest.approx((0.0, 1 / 3, 1.0))


def test_depth_cap_and_mask() -> None:
    m = DepthMetrics(max_depth=3.0)
    # gt 4 > cap: skipped; prediction 5 clipped to 3 against gt 2; masked-out pixel skipped
    m.update(np.array([5.0, 1.0, 9.0]), np.array([2.0, 4.0, 1.0]), mask=np.array([True, True, False]))
    assert m.n == 1 and m.compute()["rmse"] == pytest.approx(1.0)


def test_depth_nothing_valid_gives_nan() -> None:
    m = DepthMetrics()
    m.update(np.ones(3), np.zeros(3))
    assert math.isnan(m.compute()["rmse"])


def test_nyu_crop_full_resolution_and_scaled() -> None:
    mask = nyu_crop_mask(480, 640)
    assert mask.sum() == (471 - 45) * (601 - 41)
    assert mask[45, 41] and not mask[44, 41] and not mask[45, 601]
    half = nyu_crop_mask(240, 320)
    assert half[22, 20] and not half[21, 20]  # 45/2 = 22.5 and 41/2 = 20.5 round half to even: 22, 20


def test_normals_angles() -> None:
    gt = np.array([[0, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]], dtype=float)
    s = math.sin(math.radians(20.0))
    c = math.cos(math.radians(20.0))
    pred = np.array([[0, 0, 5], [0, s, c], [0, 1, 0], [1, 0, 0]], dtype=float)  # 0, 20, 90 deg; last invalid
    m = NormalsMetrics()
    m.update(pred, gt)
    out = m.compute()
    assert out["mean_angle"] == pytest.approx((0 + 20 + 90) / 3)
    assert out["median_angle"] == pytest.approx(20.0, abs=0.01)
    assert out["within_11.25"] == pytest.approx(1 / 3)
    assert out["within_22.5"] == pytest.approx(2 / 3)
    assert out["within_30"] == pytest.approx(2 / 3)
