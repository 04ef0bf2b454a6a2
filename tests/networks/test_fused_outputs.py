"""The fused resize + argmax (+ softmax) against PyTorch's operators and against the release-exact path.

Tolerance: the fused scores are PyTorch's to float32 rounding (the taps are combined in the same order, with the
same weights), so the labels may differ only where the release path's two best classes are within 1e-4 of each
other (a near-tie), and probabilities agree to 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slamseg.networks import Predictor, load_model
from slamseg.networks.upsample_kernels import resize_argmax, resize_taps

from .conftest import RANDOM_CKPT

NEAR_TIE = 1e-4


def _near_ties(scores: np.ndarray) -> np.ndarray:
    """N x H x W x K -> N x H x W bool: the two best scores are within NEAR_TIE of each other."""
    top2 = np.sort(scores, axis=-1)[..., -2:]
    return (top2[..., 1] - top2[..., 0]) < NEAR_TIE


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
@pytest.mark.parametrize(("low", "size"), [((30, 40), (120, 160)), ((7, 5), (13, 11)), ((9, 12), (4, 5)),
                                           ((1, 1), (3, 4))])
def test_scores_labels_and_softmax_match_torch(mode: str, low: tuple[int, int], size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(low) + sum(size))
    logits = torch.from_numpy(rng.normal(0.0, 3.0, (2, 13, *low)).astype(np.float32))
    ref = torch.nn.functional.interpolate(logits, size=size, mode=mode, align_corners=False)
    ref_scores = ref.permute(0, 2, 3, 1).numpy()
    nhwc = logits.permute(0, 2, 3, 1).numpy()
    labels, scores = resize_argmax(nhwc, size, mode, "scores")
    assert labels.shape == (2, *size) and labels.dtype == np.int32 and scores.shape == ref_scores.shape
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-5 * np.abs(ref_scores).max())
    ref_labels = ref.argmax(dim=1).numpy() + 1
    assert np.array_equal(labels[~_near_ties(ref_scores)], ref_labels[~_near_ties(ref_scores)])
    only_labels, none = resize_argmax(nhwc, size, mode)
    assert none is None and np.array_equal(only_labels, labels)
    soft_labels, soft = resize_argmax(nhwc, size, mode, "softmax")
    np.testing.assert_allclose(soft, torch.softmax(ref, dim=1).permute(0, 2, 3, 1).numpy(), rtol=0, atol=1e-5)
    assert np.array_equal(soft_labels, labels)


def test_taps_are_pytorchs_weights() -> None:
    """Resizing a one-hot row through the taps is PyTorch's 1-D resize of it, for up- and downsampling."""
    for mode in ("bilinear", "bicubic"):
        for n_in, n_out in ((5, 17), (17, 5), (4, 4), (160, 640)):
            idx, w = resize_taps(n_in, n_out, mode)
            dense = np.zeros((n_out, n_in), np.float64)
            np.add.at(dense, (np.repeat(np.arange(n_out), idx.shape[1]), idx.ravel()), w.ravel())
            eye = torch.eye(n_in, dtype=torch.float64)[:, None, None, :]  # n_in one-hot rows, 1 x 1 x n_in each
            ref = torch.nn.functional.interpolate(eye, size=(1, n_out), mode=mode, align_corners=False)
            np.testing.assert_allclose(dense, ref[:, 0, 0, :].numpy().T, atol=1e-6)


def test_first_maximum_wins_as_in_torch() -> None:
    scores = np.zeros((1, 2, 2, 4), np.float32)
    scores[..., 1] = scores[..., 3] = 1.0  # classes 2 and 4 tie exactly
    labels, _ = resize_argmax(scores, (4, 4), "bilinear")
    assert np.all(labels == 2)


@pytest.fixture(scope="module")
def release_and_fast(vectors: dict) -> tuple:
    model = load_model(RANDOM_CKPT)
    image = vectors["image_uint8"]
    release = Predictor(model, mode="release")
    fused = Predictor(model, mode="naive")  # the same network, the fused post-processing
    return release.predict(image, probs=True), fused.predict(image, probs=True), fused.predict(image), release


def test_fused_predictor_equals_release_exact_except_near_ties(release_and_fast: tuple) -> None:
    release, fused_probs, fused_labels_only, _ = release_and_fast
    assert fused_labels_only.probs is None  # probabilities only when asked
    np.testing.assert_allclose(fused_probs.probs, release.probs, rtol=0, atol=1e-5)
    assert np.array_equal(fused_labels_only.labels, fused_probs.labels)
    ties = _near_ties(np.log(np.maximum(release.probs, 1e-30))[None])[0]
    assert ties.mean() < 0.01
    assert np.array_equal(fused_probs.labels[~ties], release.labels[~ties])


def test_release_mode_is_the_operator_by_operator_path(release_and_fast: tuple) -> None:
    *_, release = release_and_fast
    assert not release.fused and release.depth_resize == "bicubic"
    assert release.settings["fold_bn"] is False and release.settings["channels_last"] is False
    assert Predictor(release.model).fused  # the CPU default is the fused pass
