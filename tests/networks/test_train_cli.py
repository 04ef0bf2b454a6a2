"""Bad training configs fail through the CLI with one line and exit status 2, before any training step."""

from __future__ import annotations

from pathlib import Path

import pytest

from slamseg.cli import main

CONFIG = """command: train
data:
  train: {{kind: synthetic, seeds: [3], frames: 2, width: 32, height: 32, speed: 4.0{extra}}}
stages: [{{name: a, data: [train], steps: 1}}]
augment: {{crop: 32}}
batch_size: 2
device: cpu
threads: 1
cache_root: {cache}
model: {model}
"""


@pytest.mark.parametrize(
    ("extra", "model", "expected"),
    [
        (", drop: [normals]", "{arch: nyud_three}", "model task(s) ['normals'] cannot be trained"),
        ("", "{arch: nyud_joint, num_classes: 13}", "label set 'nyu40' has 40 classes"),
        (", max_frames: 0", "{arch: nyud_joint}", "data 'train' is empty"),
    ],
)
def test_bad_training_input_is_one_line_exit_2(tmp_path: Path, capsys, extra: str, model: str, expected: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(CONFIG.format(extra=extra, model=model, cache=tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (out.with_name("run.partial") / "log.csv").exists()  # no training step happened


def test_unknown_stage_data_is_a_config_error(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("command: train\nstages: [{name: a, data: [nowhere], steps: 1}]\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert "not declared under 'data'" in capsys.readouterr().err
