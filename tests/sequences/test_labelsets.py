from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import LabelSetError, get_label_set, get_mapping

REF = Path(__file__).resolve().parents[2] / "sequences" / "data"


def test_sizes_and_void() -> None:
    assert get_label_set("nyu40").num_classes == 40
    assert get_label_set("NYU-13").num_classes == 13
    assert get_label_set("nyu894").num_classes == 894
    assert get_label_set("kitti6").class_names == ("sky", "building", "road", "sidewalk", "vegetation", "car")
    for name in ("nyu40", "nyu13", "nyu894", "kitti6", "kitti11"):
        ls = get_label_set(name)
        assert ls.names[0] == "void" and ls.colours.shape == (len(ls.names), 3)


def test_semanticfusion_colours_and_names() -> None:
    nyu13 = get_label_set("nyu13")
    assert nyu13.names[2] == "books"  # class13Mapping.mat's name, not SemanticFusion's "Bookshelf"
    assert tuple(nyu13.colours[nyu13.id_of("wall")]) == (150, 150, 150)
    assert tuple(nyu13.colours[nyu13.id_of("floor")]) == (220, 220, 220)


def test_40_to_13_follows_the_reference_table() -> None:
    table = json.loads((REF / "nyu40_to_13.json").read_text())["nyu40_to_13_named"]
    nyu40, nyu13 = get_label_set("nyu40"), get_label_set("nyu13")
    m = get_mapping("nyu40", "nyu13")
    for name40, name13 in table.items():
        assert nyu13.names[m.lut[nyu40.id_of(name40)]] == name13


def test_894_to_13_composes() -> None:
    nyu894 = get_label_set("nyu894")
    m = get_mapping("nyu894", "nyu13")
    # 894 "floor" -> 40 "floor" -> 13 "floor"; 894 "chair" -> 40 "chair" -> 13 "chair"
    nyu13 = get_label_set("nyu13")
    assert m.lut[nyu894.id_of("floor")] == nyu13.id_of("floor")
    assert m.lut[nyu894.id_of("chair")] == nyu13.id_of("chair")
    assert m.lut[0] == 0


def test_probability_mapping_sums_source_classes() -> None:
    rng = np.random.default_rng(0)
    p40 = rng.dirichlet(np.ones(40), size=(4, 5)).astype(np.float32)
    m = get_mapping("nyu40", "nyu13")
    p13 = m.map_probs(p40)
    assert p13.shape == (4, 5, 13)
    np.testing.assert_allclose(p13.sum(-1), 1.0, rtol=1e-5)
    nyu40, nyu13 = get_label_set("nyu40"), get_label_set("nyu13")
    furniture = [i for i in range(1, 41) if m.lut[i] == nyu13.id_of("furniture")]
    np.testing.assert_allclose(p13[..., nyu13.id_of("furniture") - 1], p40[..., np.array(furniture) - 1].sum(-1),
                               rtol=1e-5)
    assert nyu40.id_of("bookshelf") in furniture
    # argmax of mapped hard one-hot labels equals mapped labels
    labels40 = rng.integers(1, 41, size=(6, 7))
    hard = nyu40.one_hot(labels40)
    assert np.array_equal(nyu13.probs_to_labels(m.map_probs(hard)), m.map_labels(labels40))


def test_kitti_drops_unkept_classes_and_can_renormalise() -> None:
    m = get_mapping("kitti11", "kitti6")
    p = np.full((1, 11), 1 / 11, dtype=np.float32)
    assert m.map_probs(p).sum() == pytest.approx(6 / 11)
    assert m.map_probs(p, renormalise=True).sum() == pytest.approx(1.0)
    assert m.map_labels(np.array([5])) == 0  # fence -> void


def test_one_hot_confidence_and_void() -> None:
    ls = get_label_set("nyu13")
    p = ls.one_hot(np.array([[0, 3]]), confidence=0.7)
    np.testing.assert_allclose(p[0, 0], 1 / 13)
    assert p[0, 1, 2] == pytest.approx(0.7) and p[0, 1].sum() == pytest.approx(1.0)


def test_errors() -> None:
    with pytest.raises(LabelSetError, match="unknown label set"):
        get_label_set("coco")
    with pytest.raises(LabelSetError, match="no mapping"):
        get_mapping("nyu13", "nyu40")
    with pytest.raises(LabelSetError, match="outside"):
        get_label_set("nyu13").colourise(np.array([14]))
    with pytest.raises(LabelSetError, match="channels"):
        get_mapping("nyu40", "nyu13").map_probs(np.zeros((2, 13)))
