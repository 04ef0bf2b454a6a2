"""hubconf.py serves every registered architecture and the bundled weights through torch.hub, from the local
clone (``source="local"``: nothing is downloaded)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from slamseg.networks import get_weights, list_models
from slamseg.networks.errors import NetworkError

ROOT = str(Path(__file__).resolve().parent.parent)


def test_entry_points_cover_the_registry() -> None:
    # torch.hub.list only reads GitHub repositories: import the file as torch.hub.load(source="local") does.
    spec = importlib.util.spec_from_file_location("hubconf", Path(ROOT) / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    entries = {name for name in dir(hubconf) if callable(getattr(hubconf, name)) and not name.startswith("_")}
    assert entries == set(list_models()) | {"synthetic_nyu40"}  # torch.hub lists every public callable
    assert hubconf.dependencies[0] == "torch"


def test_builders_and_bundled_weights() -> None:
    model = torch.hub.load(ROOT, "nyud_three", source="local")
    assert model.arch == "nyud_three" and model.tasks == ("segm", "depth", "normals") and model.training
    small = torch.hub.load(ROOT, "nyud_joint", source="local", num_classes=13)
    assert small.num_classes == 13
    pretrained = torch.hub.load(ROOT, "nyud_joint", source="local", pretrained=True)
    bundled = torch.hub.load(ROOT, "synthetic_nyu40", source="local")
    assert not pretrained.training and pretrained.meta["label_set"] == "nyu40"
    reference = get_weights("synthetic_nyu40").get_state_dict()
    for state in (pretrained.state_dict(), bundled.state_dict()):
        assert all(torch.equal(state[k], reference[k]) for k in reference)


def test_architectures_without_weights_say_so() -> None:
    with pytest.raises(NetworkError, match="'kitti_joint' has no bundled weights"):
        torch.hub.load(ROOT, "kitti_joint", source="local", pretrained=True)
    with pytest.raises(NetworkError, match="weights 'synthetic_nyu40' are for 'nyud_joint', not 'nyud_three'"):
        torch.hub.load(ROOT, "nyud_three", source="local", weights="synthetic_nyu40")
