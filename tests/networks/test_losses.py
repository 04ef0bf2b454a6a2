"""Losses against hand-computed values (paper eq. 1)."""

from __future__ import annotations

import math

import pytest
import torch

from slamseg.networks.losses import (
    IGNORE,
    JointLoss,
    berhu_loss,
    berhu_sum,
    berhu_threshold,
    normals_loss,
    segmentation_loss,
)


def _logits_two_pixels() -> torch.Tensor:
    # 1 x 2 classes x 1 x 3 pixels; softmax of (0, ln 3) is (1/4, 3/4) at every pixel.
    return torch.tensor([[[[0.0, 0.0, 0.0]], [[math.log(3.0)] * 3]]])


def test_cross_entropy_hand_computed_with_ignore() -> None:
    logits = _logits_two_pixels()
    target = torch.tensor([[[1, 0, IGNORE]]])
    # pixel 0: -ln(3/4); pixel 1: -ln(1/4); pixel 2 ignored.
    expected = (math.log(4 / 3) + math.log(4)) / 2
    assert segmentation_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_frame_without_labels_contributes_nothing() -> None:
    logits = torch.cat([_logits_two_pixels(), _logits_two_pixels()])
    # frame 1 holds labels that would change the mean, but has_segm says it has none
    target = torch.tensor([[[1, 1, 1]], [[0, 0, 0]]])
    loss = segmentation_loss(logits, target, has=torch.tensor([True, False]))
    assert loss.item() == pytest.approx(math.log(4 / 3), rel=1e-6)


def test_cross_entropy_no_labelled_pixel_is_zero_with_gradient() -> None:
    logits = _logits_two_pixels().requires_grad_(True)
    loss = segmentation_loss(logits, torch.full((1, 1, 3), IGNORE))
    loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None and torch.all(logits.grad == 0)


def test_predictions_are_upsampled_to_the_target() -> None:
    # 1 x 1 prediction of 2 m against a 2 x 2 target of 1 m: every error is 1, c = 0.2 -> (1 + 0.04) / 0.4
    pred = torch.full((1, 1, 1, 1), 2.0)
    loss = berhu_loss(pred, torch.ones(1, 2, 2))
    assert loss.item() == pytest.approx(2.6)


def test_berhu_both_branches_and_invalid_pixels() -> None:
    pred = torch.tensor([[[[1.1, 2.0, 100.0]]]])
    gt = torch.tensor([[[1.0, 1.0, 0.0]]])  # third pixel invalid: must affect neither c nor the mean
    assert berhu_threshold(pred, gt).item() == pytest.approx(0.2)
    # |e| = 0.1 <= c -> 0.1 (L1 branch); |e| = 1.0 > c -> (1.0 + 0.04) / 0.4 = 2.6 (L2 branch)
    assert berhu_loss(pred, gt).item() == pytest.approx((0.1 + 2.6) / 2, rel=1e-6)
    s, n = berhu_sum(pred, gt, c=0.5)
    # with c = 0.5: 0.1 and (1 + 0.25) / 1 = 1.25
    assert n.item() == 2 and s.item() == pytest.approx(1.35, rel=1e-6)


def test_berhu_gradient_is_sign_in_l1_branch_and_scaled_error_in_l2_branch() -> None:
    pred = torch.tensor([[[[1.1, 2.0]]]], requires_grad=True)
    gt = torch.tensor([[[1.0, 1.0]]])
    berhu_loss(pred, gt).backward()
    # d/dp mean: L1 pixel 1/2 * sign(0.1); L2 pixel 1/2 * e / c = 1/2 * 1.0 / 0.2 (c carries no gradient)
    assert pred.grad[0, 0, 0].tolist() == pytest.approx([0.5, 2.5], rel=1e-5)


def test_berhu_frame_mask() -> None:
    pred = torch.tensor([[[[1.5]]], [[[9.0]]]])
    gt = torch.tensor([[[1.0]], [[1.0]]])
    # only frame 0: e = 0.5 = max -> c = 0.1, e > c -> (0.25 + 0.01) / 0.2 = 1.3
    assert berhu_loss(pred, gt, has=torch.tensor([True, False])).item() == pytest.approx(1.3, rel=1e-6)


def test_normals_negative_cosine_of_normalised_vectors() -> None:
    # pixel 0: same direction but length 5 -> cos 1; pixel 1: perpendicular -> 0; pixel 2: invalid (zero gt)
    pred = torch.tensor([[[[5.0, 0.0, 1.0]], [[0.0, 2.0, 0.0]], [[0.0, 0.0, 0.0]]]])
    gt = torch.tensor([[[[1.0, 1.0, 0.0]], [[0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]]]])
    assert normals_loss(pred, gt).item() == pytest.approx(-0.5, rel=1e-6)


def test_joint_loss_default_lambda_half_and_custom_weights() -> None:
    outputs = {"segm": _logits_two_pixels(), "depth": torch.tensor([[[[1.1, 2.0, 1.0]]]])}
    batch = {
        "segm": torch.tensor([[[1, 0, IGNORE]]]),
        "depth": torch.tensor([[[1.0, 1.0, 1.0]]]),
        "has_segm": torch.tensor([True]),
        "has_depth": torch.tensor([True]),
    }
    ce = (math.log(4 / 3) + math.log(4)) / 2
    bh = (0.1 + 2.6 + 0.0) / 3
    total, parts = JointLoss({})(outputs, batch)
    assert total.item() == pytest.approx(0.5 * ce + 0.5 * bh, rel=1e-6)
    assert parts == pytest.approx({"segm": ce, "depth": bh}, rel=1e-6)
    total, _ = JointLoss({"segm": 1.0, "depth": 0.25})(outputs, batch)
    assert total.item() == pytest.approx(ce + 0.25 * bh, rel=1e-6)


def test_joint_loss_task_without_annotations_logs_nan() -> None:
    outputs = {"segm": _logits_two_pixels(), "depth": torch.ones(1, 1, 1, 3)}
    batch = {"segm": torch.tensor([[[1, 0, 0]]]), "depth": torch.ones(1, 1, 3), "has_segm": torch.tensor([False]),
             "has_depth": torch.tensor([True])}
    total, parts = JointLoss({})(outputs, batch)
    assert math.isnan(parts["segm"]) and parts["depth"] == 0.0
    assert total.item() == 0.0
