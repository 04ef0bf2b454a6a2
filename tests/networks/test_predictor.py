"""Predictor: preprocessing against the reference vector, outputs at the image size, fast paths against naive."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slamseg.networks import Predictor, build_model, load_model
from slamseg.networks.errors import NetworkError

from .conftest import RANDOM_CKPT, rel_err


@pytest.fixture(scope="module")
def released() -> torch.nn.Module:
    return load_model(RANDOM_CKPT)


@pytest.fixture(scope="module")
def small_image(vectors: dict) -> np.ndarray:
    # The real NYU frame at a quarter of its size (120 x 160) keeps the fast-path tests quick.
    return np.ascontiguousarray(vectors["image_uint8"][::4, ::4])


def test_preprocessing_matches_reference_input(released: torch.nn.Module, vectors: dict) -> None:
    x = Predictor(released, mode="naive").preprocess(vectors["image_uint8"])
    assert x.shape == (1, 3, 480, 640)
    assert np.abs(x.numpy() - vectors["input"]).max() <= 1e-6


def test_prediction_is_the_released_demo(released: torch.nn.Module, vectors: dict) -> None:
    """Expected values: the reference raw outputs resized bicubically to the image, |depth|, softmax, argmax+1."""
    pred = Predictor(released, mode="release").predict(vectors["image_uint8"], probs=True)
    size = (480, 640)
    ref_depth = torch.nn.functional.interpolate(torch.from_numpy(vectors["depth"]).double(), size=size,
                                                mode="bicubic", align_corners=False)[0, 0].abs().numpy()
    ref_logits = torch.nn.functional.interpolate(torch.from_numpy(vectors["segm"]).double(), size=size,
                                                 mode="bicubic", align_corners=False)[0]
    ref_probs = torch.softmax(ref_logits, 0).permute(1, 2, 0).numpy()
    assert pred.depth.shape == size and pred.depth.dtype == np.float32 and pred.depth.min() >= 0
    assert rel_err(pred.depth, ref_depth) <= 1e-4
    assert pred.probs.shape == (*size, 40) and pred.probs.dtype == np.float32
    assert np.abs(pred.probs - ref_probs).max() <= 1e-4
    np.testing.assert_allclose(pred.probs.sum(-1), 1.0, atol=1e-5)
    assert pred.labels.dtype == np.int32 and pred.labels.min() >= 1
    # argmax can flip only where two classes are within rounding of each other
    agree = pred.labels == ref_probs.argmax(-1) + 1
    assert agree.mean() > 0.999
    assert pred.normals is None and pred.label_set == "nyu40"


def test_default_depth_is_bilinear_and_never_negative(released: torch.nn.Module, vectors: dict) -> None:
    pred = Predictor(released, mode="naive").predict(vectors["image_uint8"])
    ref = torch.nn.functional.interpolate(torch.from_numpy(vectors["depth"]).double(), size=(480, 640),
                                          mode="bilinear", align_corners=False)[0, 0].clamp_min(0).numpy()
    assert np.abs(pred.depth - ref).max() <= 1e-4 * np.abs(ref).max()


def test_label_set_per_call_sums_classes_and_leaves_the_predictor_as_it_was(released: torch.nn.Module,
                                                                           vectors: dict) -> None:
    from slamseg.sequences import get_mapping

    predictor = Predictor(released, mode="naive")
    p13 = predictor.predict(vectors["image_uint8"], label_set="nyu13", probs=True)
    low = torch.softmax(torch.from_numpy(vectors["segm"]).double(), 1)[0].permute(1, 2, 0).numpy()
    mapped = torch.from_numpy(get_mapping("nyu40", "nyu13").map_probs(low, renormalise=True)).permute(2, 0, 1)
    ref = torch.nn.functional.interpolate(mapped[None].double(), size=(480, 640), mode="bilinear",
                                          align_corners=False)[0].permute(1, 2, 0).numpy()
    assert p13.label_set == "nyu13" and p13.probs.shape == (480, 640, 13)
    assert np.abs(p13.probs - ref).max() <= 1e-4
    assert np.mean(p13.labels == ref.argmax(-1) + 1) > 0.999
    again = predictor.predict(vectors["image_uint8"], probs=True)  # a later call without label_set: the model's own set
    assert again.label_set == "nyu40" and again.probs.shape[-1] == 40 and predictor.label_set == "nyu40"
    with pytest.raises(NetworkError, match="kitti6"):
        predictor.predict(vectors["image_uint8"], label_set="kitti6")


def test_depth_edge_jump_drops_only_pixels_interpolated_across_a_jump(released: torch.nn.Module) -> None:
    low = torch.ones(1, 1, 4, 8)
    low[..., 4:] = 3.0  # a 1 m -> 3 m step between low-resolution columns 3 and 4
    raw = {"depth": low}
    kept = Predictor(released, mode="naive").postprocess(raw, size=(16, 32))[0].depth
    dropped = Predictor(released, mode="naive", depth_edge_jump=0.1).postprocess(raw, size=(16, 32))[0].depth
    flying = (kept > 1.0 + 1e-6) & (kept < 3.0 - 1e-6)
    assert flying.any()  # bilinear upsampling puts depths between the two surfaces
    assert np.all(dropped[flying] == 0)
    # every pixel left is exactly one of the two surfaces, and only the columns next to the step are dropped
    assert set(np.unique(dropped[dropped > 0])) == {1.0, 3.0}
    assert np.array_equal(np.flatnonzero(dropped[0] == 0), np.arange(14, 18))


def test_checkpoint_depth_scale_is_applied(released: torch.nn.Module, small_image: np.ndarray) -> None:
    import copy

    scaled = copy.deepcopy(released)
    scaled.meta = {**getattr(released, "meta", {}), "depth_scale": 2.0}
    a = Predictor(released, mode="naive").predict(small_image).depth
    b = Predictor(scaled, mode="naive").predict(small_image).depth
    np.testing.assert_allclose(b, 2.0 * a, rtol=1e-6)


def test_grey_rgba_and_bad_channels(released: torch.nn.Module, small_image: np.ndarray) -> None:
    predictor = Predictor(released)
    grey = small_image[:, :, 1]
    a = predictor.predict(grey)
    b = predictor.predict(np.repeat(grey[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(a.depth, b.depth)
    rgba = np.concatenate([small_image, np.full_like(small_image[:, :, :1], 7)], axis=2)
    np.testing.assert_array_equal(predictor.predict(rgba).depth, predictor.predict(small_image).depth)
    with pytest.raises(NetworkError, match=r"shape \(120, 160, 2\)"):
        predictor.predict(small_image[:, :, :2])
    with pytest.raises(NetworkError, match="dtype float32"):
        predictor.predict(small_image.astype(np.float32))


def test_batches_and_mixed_sizes(released: torch.nn.Module, small_image: np.ndarray) -> None:
    predictor = Predictor(released, mode="naive")
    flipped = np.ascontiguousarray(small_image[::-1])
    batch = predictor.predict(np.stack([small_image, flipped]))
    assert isinstance(batch, list) and len(batch) == 2
    alone = predictor.predict(flipped)
    assert rel_err(batch[1].depth, alone.depth) <= 1e-4  # batched kernels round differently
    odd = np.ascontiguousarray(small_image[:61, :81])
    mixed = predictor.predict([small_image, odd], probs=True)
    assert mixed[0].depth.shape == (120, 160) and mixed[1].depth.shape == (61, 81)
    assert mixed[1].probs.shape == (61, 81, 40)


FAST_PATHS = [
    pytest.param({"mode": "fast"}, id="fast"),
    pytest.param({"mode": "fast", "cpu_kernels": False}, id="fast_without_cpu_kernels"),
    pytest.param({"mode": "naive", "fold_bn": True}, id="fold_bn"),
    pytest.param({"mode": "naive", "channels_last": True}, id="channels_last"),
    pytest.param({"mode": "fast", "jit": True}, id="jit"),
    pytest.param({"mode": "fast", "compile": True}, id="compile", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("options", FAST_PATHS)
def test_fast_paths_match_naive(released: torch.nn.Module, small_image: np.ndarray, options: dict) -> None:
    naive = Predictor(released, mode="naive").predict(small_image, probs=True)
    fast = Predictor(released, **options).predict(small_image, probs=True)
    assert rel_err(fast.depth, naive.depth) <= 1e-4
    assert np.abs(fast.probs - naive.probs).max() <= 1e-4


def test_reduced_input_size(released: torch.nn.Module, vectors: dict) -> None:
    image = vectors["image_uint8"]
    naive = Predictor(released, mode="naive", input_size=(160, 120)).predict(image)
    fast = Predictor(released, input_size=(160, 120)).predict(image, probs=True)
    assert fast.depth.shape == (480, 640) and fast.probs.shape == (480, 640, 40)
    assert rel_err(fast.depth, naive.depth) <= 1e-4


def test_class_slice_of_multi_dataset_model() -> None:
    torch.manual_seed(0)
    model = build_model("nyudkitti_joint").eval()
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    full = Predictor(model, mode="naive").predict(image, probs=True)
    nyu = Predictor(model, mode="naive", class_slice="nyu40").predict(image, probs=True)
    kitti = Predictor(model, mode="naive", class_slice=(40, 46), label_set="kitti6").predict(image, probs=True)
    assert full.label_set is None and nyu.label_set == "nyu40" and kitti.label_set == "kitti6"
    # softmax over a slice = the full softmax restricted to it, renormalised
    restricted = full.probs[..., :40] / full.probs[..., :40].sum(-1, keepdims=True)
    np.testing.assert_allclose(nyu.probs, restricted, rtol=1e-4, atol=1e-6)
    assert nyu.probs.shape[-1] == 40 and nyu.labels.min() >= 1 and nyu.labels.max() <= 40
    assert kitti.probs.shape[-1] == 6 and kitti.labels.max() <= 6
    with pytest.raises(NetworkError, match="class slices"):
        Predictor(model, class_slice="cityscapes")
    with pytest.raises(NetworkError, match="class_slice"):
        Predictor(model, class_slice=(40, 50))


def test_normals_are_unit_vectors() -> None:
    torch.manual_seed(0)
    model = build_model("nyud_three").eval()
    image = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    pred = Predictor(model).predict(image)
    assert pred.normals.shape == (37, 53, 3) and pred.normals.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(pred.normals, axis=-1), 1.0, atol=1e-5)


def test_bad_options(released: torch.nn.Module) -> None:
    with pytest.raises(NetworkError, match="float16 needs a CUDA device"):
        Predictor(released, dtype="float16")
    with pytest.raises(NetworkError, match="mode"):
        Predictor(released, mode="turbo")
    with pytest.raises(NetworkError, match="resize"):
        Predictor(released, resize="nearest")


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@cuda
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_gpu_matches_cpu(dtype: str) -> None:
    # A freshly initialised model keeps activations well-scaled; the random-weight release amplifies
    # rounding (float16: ~5e-2 on it), which would say nothing about the fast path itself.
    torch.manual_seed(0)
    model = build_model("nyud_three").eval()
    image = np.random.default_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    cpu = Predictor(model, mode="naive").predict(image, probs=True)
    gpu = Predictor(model, device="cuda", dtype=dtype).predict(image, probs=True)
    tol = 1e-4 if dtype == "float32" else (1e-2 if dtype == "float16" else 3e-2)
    assert rel_err(gpu.depth, cpu.depth) <= tol
    assert np.abs(gpu.probs - cpu.probs).max() <= tol


def test_predict_frames_batches_same_sizes_in_order(released: torch.nn.Module, small_image: np.ndarray) -> None:
    from types import SimpleNamespace

    predictor = Predictor(released, mode="naive")
    other = np.ascontiguousarray(small_image[:64, :96])
    frames = [SimpleNamespace(rgb=im, name=i) for i, im in enumerate([small_image, small_image, small_image,
                                                                      other, small_image])]
    batches: list[int] = []
    out = list(predictor.predict_frames(iter(frames), batch_size=2, timer=lambda n, s: batches.append(n)))
    assert [f.name for f, _ in out] == [0, 1, 2, 3, 4]
    assert batches == [2, 1, 1, 1]  # full batch, then a size change cuts each batch short
    for frame, prediction in out:
        assert prediction.depth.shape == frame.rgb.shape[:2]
        # batched and single passes round differently in the convolutions
        np.testing.assert_allclose(prediction.depth, predictor.predict(frame.rgb).depth, rtol=1e-4, atol=1e-4)
    with pytest.raises(NetworkError, match="batch_size 0"):
        list(predictor.predict_frames(frames, batch_size=0))


def test_torchscript_teacher_gets_the_predictors_post_processing(released: torch.nn.Module,
                                                                 small_image: np.ndarray, tmp_path) -> None:
    """Expert labelling serves TorchScript teachers through the Predictor: same labels as the eager model."""
    from slamseg.networks.expert import load_teacher

    traced = torch.jit.trace(released.eval(), torch.zeros(1, 3, 120, 160), strict=False)
    path = tmp_path / "teacher.pt"
    traced.save(str(path))
    teacher = load_teacher(path)
    assert isinstance(teacher, Predictor) and teacher.settings["mode"] == "naive"
    got = teacher.predict(small_image)
    want = Predictor(released, mode="naive").predict(small_image)
    assert np.mean(got.labels == want.labels) > 0.999
    np.testing.assert_allclose(got.depth, want.depth, rtol=1e-4, atol=1e-5)
