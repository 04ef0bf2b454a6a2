"""Checkpoint loading/saving: released format, slamseg format with metadata, informative errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from slamseg.networks import build_model, load_model, save_checkpoint
from slamseg.networks.errors import CheckpointError

from .conftest import RANDOM_CKPT


def test_released_checkpoint_loads_in_eval_mode() -> None:
    model = load_model(RANDOM_CKPT)
    assert model.arch == "nyud_joint" and not model.training
    assert model.meta["label_set"] == "nyu40" and model.meta["mean"] == [0.485, 0.456, 0.406]


@pytest.mark.parametrize(("name", "tasks", "classes"), [
    ("kitti_joint", ("segm", "depth"), 6),
    ("nyudkitti_joint", ("segm", "depth"), 46),
    ("nyud_three", ("segm", "depth", "normals"), 40),
])
def test_released_format_recognised(tmp_path: Path, name: str, tasks: tuple, classes: int) -> None:
    path = tmp_path / "release.ckpt"
    torch.save({"state_dict": build_model(name).state_dict()}, path)
    model = load_model(path)
    assert (model.arch, model.tasks, model.num_classes) == (name, tasks, classes)


def test_custom_class_count_and_dataparallel_prefix(tmp_path: Path) -> None:
    path = tmp_path / "custom.ckpt"
    state = build_model("nyud_joint", num_classes=13).state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = load_model(path)
    assert model.num_classes == 13 and model.arch == "custom" and model.meta["label_set"] is None


def test_slamseg_format_round_trip(tmp_path: Path) -> None:
    model = build_model("nyud_three", num_classes=13).eval()
    path = save_checkpoint(tmp_path / "m.ckpt", model, label_set="nyu13", mean=[0.5, 0.5, 0.5], std=[0.25] * 3,
                           depth_scale=0.001, training={"lr": 0.01, "steps": 5}, metrics={"miou": 0.25})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt"]  # no temporary file left behind
    loaded = load_model(path)
    assert loaded.arch == "nyud_three" and loaded.num_classes == 13 and loaded.tasks == ("segm", "depth", "normals")
    assert loaded.meta["label_set"] == "nyu13" and loaded.meta["depth_scale"] == 0.001
    assert loaded.meta["training"] == {"lr": 0.01, "steps": 5} and loaded.meta["metrics"] == {"miou": 0.25}
    x = torch.randn(1, 3, 40, 56)
    with torch.inference_mode():
        a, b = model(x), loaded(x)
    for key in a:
        assert torch.equal(a[key], b[key])
    with pytest.raises(CheckpointError, match="unknown metadata"):
        save_checkpoint(tmp_path / "bad.ckpt", model, labelset="nyu13")


def test_class_count_mismatch_names_it_and_best_fit(tmp_path: Path) -> None:
    path = tmp_path / "kitti.ckpt"
    torch.save({"state_dict": build_model("kitti_joint").state_dict()}, path)
    with pytest.raises(CheckpointError) as info:
        load_model(path, arch="nyud_joint")
    msg = str(info.value)
    assert "class count mismatch: checkpoint has 6 classes, the model 40" in msg
    assert "best-fitting known architecture: kitti_joint (100%" in msg
    assert str(path) in msg and "\n" not in msg


def test_wrong_layout_lists_missing_and_unexpected(tmp_path: Path) -> None:
    state = build_model("nyud_joint").state_dict()
    del state["crp1.0.2_outvar_dimred.weight"]
    state["decoder.extra.weight"] = torch.zeros(3)
    path = tmp_path / "broken.ckpt"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointError, match=r"missing keys: crp1\.0\.2_outvar_dimred\.weight.*"
                                              r"unexpected keys: decoder\.extra\.weight.*best-fitting known "
                                              r"architecture: nyud_joint"):
        load_model(path)


def test_unreadable_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk\.ckpt: not a readable PyTorch checkpoint"):
        load_model(junk)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "missing.ckpt")
    other = tmp_path / "other.ckpt"
    torch.save({"weights": [1, 2]}, other)
    with pytest.raises(CheckpointError, match="'state_dict'"):
        load_model(other)
