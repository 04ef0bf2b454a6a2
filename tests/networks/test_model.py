"""The joint network against the authors' release: layouts, parameter count, the reference test vector."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from slamseg.networks import build_model, list_models
from slamseg.networks.errors import NetworkError

from .conftest import AUTHORS, rel_err

LAYOUTS = {
    "nyud_joint": "layout_ExpNYUD_joint.json",
    "kitti_joint": "layout_ExpKITTI_joint.json",
    "nyudkitti_joint": "layout_ExpNYUDKITTI_joint.json",
    "nyud_three": "layout_ExpNYUD_three.json",
}


def test_registry_names() -> None:
    assert set(LAYOUTS) <= set(list_models())


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_loads_strictly(name: str) -> None:
    """Every released layout: same keys, same shapes, and a strict load of tensors of that layout succeeds."""
    layout = json.loads((AUTHORS / LAYOUTS[name]).read_text())
    model = build_model(name)
    own = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert own == layout
    state = {k: torch.zeros(shape, dtype=torch.long if k.endswith("num_batches_tracked") else torch.float32)
             for k, shape in layout.items()}
    model.load_state_dict(state, strict=True)


def test_parameter_count_is_the_papers() -> None:
    assert sum(p.numel() for p in build_model("nyud_joint").parameters()) == 3_070_057


def test_reference_vector(released_state_dict: dict, vectors: dict) -> None:
    """The released-format random checkpoint reproduces the authors' outputs (computed in float64)."""
    model = build_model("nyud_joint")
    model.load_state_dict(released_state_dict, strict=True)
    model.eval()
    with torch.inference_mode():
        out = model(torch.from_numpy(vectors["input"]))
    assert set(out) == {"segm", "depth"}
    assert rel_err(out["segm"], vectors["segm"]) <= 1e-4
    assert rel_err(out["depth"], vectors["depth"]) <= 1e-4


@pytest.mark.parametrize(("height", "width"), [(370, 1226), (121, 161), (33, 47)])
def test_any_input_size(height: int, width: int) -> None:
    """Non-multiples of 32: outputs at ceil(H/4) x ceil(W/4) (the stride-2 convolutions round up)."""
    model = build_model("nyud_three", num_classes=7).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, height, width))
    h, w = -(-height // 4), -(-width // 4)
    assert out["segm"].shape == (2, 7, h, w)
    assert out["depth"].shape == (2, 1, h, w)
    assert out["normals"].shape == (2, 3, h, w)


def test_task_sets_and_attributes() -> None:
    model = build_model("kitti_joint", tasks=("depth",))
    assert model.tasks == ("depth",) and model.num_classes == 0 and model.arch == "kitti_joint"
    assert not any(k.startswith(("segm", "pre_segm")) for k in model.state_dict())
    model = build_model("nyud_joint", num_classes=13, tasks=("normals", "segm"))
    assert model.tasks == ("segm", "normals") and model.num_classes == 13
    assert model.state_dict()["segm.weight"].shape == (13, 256, 3, 3)


def test_bad_arguments() -> None:
    with pytest.raises(NetworkError, match="unknown architecture 'resnet'"):
        build_model("resnet")
    with pytest.raises(NetworkError, match="tasks"):
        build_model("nyud_joint", tasks=("segm", "flow"))
    with pytest.raises(NetworkError, match="num_classes"):
        build_model("nyud_joint", num_classes=0)
    with pytest.raises(NetworkError, match="N x 3 x H x W"):
        build_model("nyud_joint")(torch.zeros(1, 4, 32, 32))


def test_upsampling_is_bilinear_to_skip_size() -> None:
    """A constant feature map stays constant through the decoder's resize (bilinear, align_corners=False)."""
    from slamseg.networks.refinenet import _upsample_to

    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    up = _upsample_to(x, torch.zeros(1, 1, 3, 5))
    assert up.shape == (1, 1, 3, 5)
    # align_corners=False: the corners sample at -0.25 of a pixel, clamped -> exact corner values.
    assert up[0, 0, 0, 0] == 0.0 and up[0, 0, -1, -1] == 3.0
    np.testing.assert_allclose(up[0, 0, 1, 2].item(), 1.5)  # centre: mean of the four


def test_fresh_model_trains_from_scratch_without_dying() -> None:
    """Regression: with He initialisation in the BatchNorm-free decoder the first gradients reached ~1e4 and one
    SGD step left every ReLU6 saturated (zero gradients: the network only learnt the class prior). A fresh
    model's gradients must reach the input layer, bounded, and one SGD step must leave them non-zero."""
    torch.manual_seed(0)
    model = build_model("nyud_joint").train()
    x = torch.randn(2, 3, 64, 64)
    target = torch.randint(0, 40, (2, 16, 16))
    opt = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        out = model(x)
        (torch.nn.functional.cross_entropy(out["segm"], target) + out["depth"].abs().mean()).backward()
        first = float(model.layer1[0].weight.grad.norm())
        assert 0.0 < first < 1e3
        opt.step()
