"""``slamseg export-model``: options (flags and --config), output naming, errors, and the deprecated TorchScript
format end to end. The ONNX and pt2 exporters themselves are tested in test_export.py; here they are replaced by
a stub that records its arguments, so that no second dynamic-shape trace runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from slamseg.cli import main
from slamseg.networks import get_weights

from .conftest import rel_err


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list:
    import slamseg.networks.export as export

    recorded: list = []

    def stub(model: torch.nn.Module, path: Path, fmt: str, size: tuple[int, int]) -> Path:
        recorded.append((model.arch, Path(path), fmt, size))
        Path(path).write_bytes(b"stub")
        return Path(path)

    monkeypatch.setattr(export, "export_model", stub)
    return recorded


def test_default_format_is_onnx_named_after_the_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           calls: list) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["export-model", "synthetic_nyu40"]) == 0
    assert calls == [("nyud_joint", Path("synthetic_nyu40.onnx"), "onnx", (640, 480))]


def test_config_file_gives_the_same_options(tmp_path: Path, calls: list) -> None:
    weights = str(get_weights("synthetic_nyu40").path)
    config = tmp_path / "export.yaml"
    config.write_text(f"command: export-model\ncheckpoint: {weights}\nformat: pt2\ninput_width: 96\n"
                      f"input_height: 64\noutput: {tmp_path / 'a.pt2'}\n")
    assert main(["export-model", "--config", str(config)]) == 0
    flags = ["--format", "pt2", "--size", "96x64", "--output", str(tmp_path / "b.pt2")]
    assert main(["export-model", weights, *flags]) == 0
    assert [c[2:] for c in calls] == [("pt2", (96, 64))] * 2


@pytest.mark.parametrize(("args", "message"), [
    (["nope.pt"], "nope.pt: no such checkpoint file, nor bundled weights of that name (bundled: synthetic_nyu40)"),
    (["synthetic_nyu40", "--size", "32x480"], "--size 32x480: width and height must be 33..8192 pixels"),
    (["synthetic_nyu40", "--format", "pt2", "--output", "{existing}"], "exists; pass --overwrite to replace it"),
    (["{checkpoint}", "--output", "{checkpoint}"], "is the checkpoint itself"),
])
def test_bad_options_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture, calls: list, args: list,
                                         message: str) -> None:
    existing = tmp_path / "old.pt2"
    existing.write_bytes(b"")
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(get_weights("synthetic_nyu40").path.read_bytes())
    args = [a.format(existing=existing, checkpoint=checkpoint) for a in args]
    assert main(["export-model", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("slamseg export-model: error:") and message in err and "\n" not in err
    assert calls == [] and existing.read_bytes() == b""


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")  # the format's known deprecation, tested here
def test_torchscript_is_deprecated_but_matches_eager(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "net.torchscript.pt"
    assert main(["export-model", "synthetic_nyu40", "--format", "torchscript", "--size", "64x48",
                 "--output", str(path)]) == 0
    assert "TorchScript is deprecated by PyTorch" in capsys.readouterr().err
    model = get_weights("synthetic_nyu40").load()
    loaded = torch.jit.load(str(path))
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((2, 3, 50, 70)).astype(np.float32))
    with torch.inference_mode():
        ref, out = model(x), loaded(x)
    for task, tensor in zip(model.tasks, out):
        assert rel_err(tensor, ref[task]) <= 1e-4, task
