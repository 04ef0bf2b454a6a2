"""Label fusion math against closed forms on hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from slamseg.fusion.bayes import fuse_log_probs, fuse_probs_semanticfusion, prepare_probs
from slamseg.fusion.errors import MapError
from slamseg.sequences import get_label_set


def test_log_rule_equals_closed_form_product() -> None:
    prior = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    q1 = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    q2 = np.array([[0.3, 0.6, 0.1], [0.5, 0.25, 0.25]])
    log_p = np.log(prior)
    fuse_log_probs(log_p, q1, floor=1e-6)
    fuse_log_probs(log_p, q2, floor=1e-6)
    expected = prior * q1 * q2
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(log_p), expected, rtol=1e-12)
    # row 0 by hand: 0.5*0.2*0.3 = 0.03, 0.3*0.7*0.6 = 0.126, 0.2*0.1*0.1 = 0.002 -> /0.158
    np.testing.assert_allclose(np.exp(log_p[0]), [0.03 / 0.158, 0.126 / 0.158, 0.002 / 0.158], rtol=1e-12)


def test_log_rule_floors_zero_observations_and_never_underflows() -> None:
    log_p = np.log(np.full((1, 2), 0.5, dtype=np.float32))
    for _ in range(10_000):  # 10k confident frames: a plain product would underflow to 0/0
        fuse_log_probs(log_p, np.array([[1.0, 0.0]], dtype=np.float32), floor=1e-3)
    assert np.all(np.isfinite(log_p))
    assert log_p.dtype == np.float32
    # one observation of class 1 against a floored class: ratio is exactly floor per frame
    log_p = np.log(np.array([[0.5, 0.5]]))
    fuse_log_probs(log_p, np.array([[1.0, 0.0]]), floor=1e-3)
    np.testing.assert_allclose(np.exp(log_p), [[1 / 1.001, 1e-3 / 1.001]], rtol=1e-12)


def test_semanticfusion_rule_and_reset() -> None:
    p = np.array([[0.25, 0.25, 0.5], [0.999, 0.0005, 0.0005]])
    q = np.array([[0.5, 0.25, 0.25], [1e-6, 0.5, 0.5]])
    fuse_probs_semanticfusion(p, q)
    # row 0: 0.125, 0.0625, 0.125 -> / 0.3125
    np.testing.assert_allclose(p[0], [0.4, 0.2, 0.4], rtol=1e-12)
    # row 1: sum = 0.999e-6 + 0.0005 > 1e-5 -> renormalised, not reset
    s = 0.999e-6 + 0.0005
    np.testing.assert_allclose(p[1], [0.999e-6 / s, 0.00025 / s, 0.00025 / s], rtol=1e-12)
    p = np.array([[1.0, 0.0, 0.0]])
    fuse_probs_semanticfusion(p, np.array([[0.0, 0.5, 0.5]]))  # product sums to 0 <= 1e-5 -> uniform
    np.testing.assert_allclose(p, [[1 / 3, 1 / 3, 1 / 3]])


def test_shape_mismatch_is_named() -> None:
    with pytest.raises(MapError, match=r"\(2, 3\).*\(2, 4\)"):
        fuse_log_probs(np.zeros((2, 3)), np.ones((2, 4)))


def test_prepare_probs_maps_nyu40_to_nyu13_by_summing() -> None:
    nyu40, nyu13 = get_label_set("nyu40"), get_label_set("nyu13")
    probs = np.zeros((1, 2, 40), dtype=np.float32)
    wall40, floor40, chair40 = nyu40.id_of("wall"), nyu40.id_of("floor"), nyu40.id_of("chair")
    probs[0, 0, wall40 - 1] = 0.7
    probs[0, 0, floor40 - 1] = 0.3
    probs[0, 1, chair40 - 1] = 1.0
    out = prepare_probs(probs, "nyu13", "nyu40")
    assert out.shape == (1, 2, 13) and out.dtype == np.float32
    assert out[0, 0, nyu13.id_of("wall") - 1] == pytest.approx(0.7)
    assert out[0, 0, nyu13.id_of("floor") - 1] == pytest.approx(0.3)
    assert out[0, 1, nyu13.id_of("chair") - 1] == pytest.approx(1.0)


def test_prepare_probs_hard_labels_one_hot() -> None:
    labels = np.array([[0, 3]], dtype=np.int32)
    out = prepare_probs(labels, "nyu13", hard_label_confidence=0.8)
    np.testing.assert_allclose(out[0, 0], np.full(13, 1 / 13), rtol=1e-6)
    assert out[0, 1, 2] == pytest.approx(0.8)
    assert out[0, 1].sum() == pytest.approx(1.0)


def test_prepare_probs_wrong_channel_count_is_named() -> None:
    with pytest.raises(MapError, match=r"40 channels.*nyu13"):
        prepare_probs(np.zeros((2, 2, 40), np.float32), "nyu13")
