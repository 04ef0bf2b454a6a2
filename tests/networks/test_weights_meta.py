"""The bundled weights' description (torchvision style) agrees with the checkpoint it describes; its metrics
file is strict JSON; load_model takes the weights from memory as well as from a file."""

from __future__ import annotations

import json
import math

import pytest
import torch

import slamseg.networks as networks
from slamseg.networks import NyudJointWeights, get_model_weights, get_weights, list_weights, load_model
from slamseg.networks.checkpoints import read_checkpoint
from slamseg.networks.errors import CheckpointError, NetworkError
from slamseg.networks.weights_meta import resolve_checkpoint
from slamseg.sequences.labelsets import get_label_set

WEIGHTS = NyudJointWeights.SYNTHETIC_NYU40.value


def test_description_matches_the_checkpoint() -> None:
    _, meta = read_checkpoint(WEIGHTS.path)
    assert meta is not None
    assert (meta["arch"], tuple(meta["tasks"]), meta["label_set"]) == (WEIGHTS.arch, WEIGHTS.tasks, WEIGHTS.label_set)
    assert tuple(meta["mean"]) == WEIGHTS.mean and tuple(meta["std"]) == WEIGHTS.std
    assert meta["depth_scale"] == WEIGHTS.depth_scale and WEIGHTS.url is None
    assert WEIGHTS.class_names == get_label_set("nyu40").class_names and len(WEIGHTS.class_names) == 40


def test_lookup_by_name_enum_and_architecture() -> None:
    assert list_weights() == ["synthetic_nyu40"]
    assert NyudJointWeights.DEFAULT is NyudJointWeights.SYNTHETIC_NYU40
    assert get_weights("synthetic_nyu40") is WEIGHTS
    assert get_weights("NyudJointWeights.DEFAULT") is WEIGHTS and get_weights(NyudJointWeights.DEFAULT) is WEIGHTS
    assert get_model_weights("nyud_joint") is NyudJointWeights and networks.Weights is type(WEIGHTS)
    with pytest.raises(NetworkError, match="unknown weights 'imagenet'; bundled: synthetic_nyu40"):
        get_weights("imagenet")
    with pytest.raises(NetworkError, match="architecture 'kitti_joint' has no bundled weights"):
        get_model_weights("kitti_joint")
    assert resolve_checkpoint("synthetic_nyu40") == WEIGHTS.path
    with pytest.raises(CheckpointError, match=r"missing\.pt: no such checkpoint file, nor bundled weights"):
        resolve_checkpoint("missing.pt")


def test_metrics_file_is_strict_json_and_nan_comes_back() -> None:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    text = WEIGHTS.path.with_suffix(".json").read_text()
    strict = json.loads(text, parse_constant=refuse)
    assert None in strict["metrics"]["heldout"]["per_class_iou"]
    ious = WEIGHTS.metrics["heldout"]["per_class_iou"]
    assert len(ious) == 40 and all(isinstance(v, float) for v in ious)
    assert [math.isnan(v) for v in ious] == [v is None for v in strict["metrics"]["heldout"]["per_class_iou"]]
    assert 0.0 < WEIGHTS.metrics["heldout"]["segm"]["miou"] < 1.0
    assert WEIGHTS.meta["metrics"]["heldout"]["depth"]["rmse"] > 0 and WEIGHTS.training["model"]["arch"] == "nyud_joint"


def test_load_model_from_memory_equals_from_file() -> None:
    from_file = load_model(WEIGHTS.path)
    state = WEIGHTS.get_state_dict()
    assert all(v.dtype == torch.float32 for v in state.values() if torch.is_floating_point(v))
    from_state = load_model(state)
    whole = torch.load(WEIGHTS.path, map_location="cpu", weights_only=True)  # {"state_dict", "slamseg"}
    from_blob = load_model(whole)
    assert from_state.arch == from_file.arch == "nyud_joint" and from_blob.meta["label_set"] == "nyu40"
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = from_file(x)
        for other in (from_state, from_blob, WEIGHTS.load()):
            out = other(x)
            assert all(torch.equal(out[t], ref[t]) for t in ref)


def test_load_model_refuses_a_bad_mapping() -> None:
    with pytest.raises(CheckpointError, match=r"^state_dict: expected a dict with a 'state_dict' entry"):
        load_model({"weights": [1, 2, 3]})
    state = WEIGHTS.get_state_dict()
    state.pop("segm.weight")
    with pytest.raises(CheckpointError, match=r"^state_dict: does not fit architecture"):
        load_model(state, arch="nyud_joint")


def test_the_readme_line_loads_the_bundled_model() -> None:
    model = NyudJointWeights.DEFAULT.load()  # README.md, "the bundled weights from Python"
    assert model.arch == "nyud_joint" and NyudJointWeights.DEFAULT.path == WEIGHTS.path
    assert NyudJointWeights.DEFAULT.label_set == "nyu40"

