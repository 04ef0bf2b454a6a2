"""Every command that writes a run folder writes its options as config.yaml, and ``--config`` that file gives the
same options and the same result: flags, files and ``--set`` are one declaration (slamseg/commands/options.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slamseg.cli import main
from slamseg.config import dump_yaml
from slamseg.schemas import load_named_config


def _run(*args: str) -> None:
    assert main(list(args)) == 0


def _same_config(a: Path, b: Path) -> None:
    first, second = (a / "config.yaml").read_text(), (b / "config.yaml").read_text()
    assert first.startswith("command: ")
    assert first == second


def _metrics(run: Path) -> dict:
    data = json.loads((run / "metrics.json").read_text())
    for volatile in ("timings", "frames_per_second", "seconds", "predict_ms_per_frame", "run", "outputs",
                     "tracking"):
        data.pop(volatile, None)
    for section in (data, data.get("evaluation", {})):
        section.pop("mesh", None)  # mesh metrics sample the surfaces at random
    return data


def _sorted_vertices(path: Path) -> list:
    """Vertices with their colours, order-free (Open3D's marching cubes orders vertices differently each run)."""
    import trimesh

    mesh = trimesh.load(path, force="mesh", process=False)
    rows = np.concatenate([np.round(mesh.vertices, 6), mesh.visual.vertex_colors[:, :3]], axis=1)
    return sorted(map(tuple, rows.tolist()))


@pytest.fixture(scope="module")
def reconstructed(synthetic_room: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rt") / "a"
    _run("reconstruct", str(synthetic_room), "--depth", "sensor", "--labels", "gt", "--voxel-size", "0.05",
         "--set", "tsdf.label_clamp=6", "--set", "tsdf.prob_floor=1e-3", "--stop", "8", "--out", str(out),
         "--no-progress")
    return out


def test_reconstruct(reconstructed: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    _run("reconstruct", "--config", str(reconstructed / "config.yaml"), "--out", str(again), "--no-progress")
    _same_config(reconstructed, again)
    assert _metrics(again) == _metrics(reconstructed)
    cfg = load_named_config(again / "config.yaml")
    assert cfg.tsdf.label_clamp == 6.0 and cfg.tsdf.prob_floor == 1e-3 and cfg.sequence.stop == 8


def test_export_and_evaluate_map(reconstructed: Path, tmp_path: Path) -> None:
    _run("export", str(reconstructed), "--format", "glb", "--palette", "labels", "--out", str(tmp_path / "e1"))
    _run("export", "--config", str(tmp_path / "e1" / "config.yaml"), "--out", str(tmp_path / "e2"))
    _same_config(tmp_path / "e1", tmp_path / "e2")
    assert _sorted_vertices(tmp_path / "e1" / "mesh.glb") == _sorted_vertices(tmp_path / "e2" / "mesh.glb")
    _run("evaluate-map", str(reconstructed), "--no-single-frame", "--out", str(tmp_path / "m1"), "--no-progress")
    _run("evaluate-map", "--config", str(tmp_path / "m1" / "config.yaml"), "--out", str(tmp_path / "m2"),
         "--no-progress")
    _same_config(tmp_path / "m1", tmp_path / "m2")
    assert _metrics(tmp_path / "m1") == _metrics(tmp_path / "m2")


def test_synth(tmp_path: Path) -> None:
    _run("synth", "--frames", "2", "--width", "64", "--height", "48", "--seed", "7", "--noise", "--out",
         str(tmp_path / "s1"), "--no-progress")
    _run("synth", "--config", str(tmp_path / "s1" / "config.yaml"), "--out", str(tmp_path / "s2"), "--no-progress")
    _same_config(tmp_path / "s1", tmp_path / "s2")
    depth = sorted((tmp_path / "s1" / "depth").iterdir())
    assert [p.read_bytes() for p in depth] == [(tmp_path / "s2" / "depth" / p.name).read_bytes() for p in depth]


def test_network_commands(synthetic_room: Path, random_checkpoint: Path, tmp_path: Path) -> None:
    import imageio.v3 as iio

    image = tmp_path / "frame.png"
    iio.imwrite(image, np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    _run("predict", str(image), "--checkpoint", str(random_checkpoint), "--input-size", "64x48", "--mode", "naive",
         "--out", str(tmp_path / "p1"), "--no-progress")
    _run("predict", "--config", str(tmp_path / "p1" / "config.yaml"), "--out", str(tmp_path / "p2"),
         "--no-progress")
    _same_config(tmp_path / "p1", tmp_path / "p2")
    depth = [(tmp_path / run / "depth" / "frame.png").read_bytes() for run in ("p1", "p2")]
    assert depth[0] == depth[1]

    _run("compare-depth", str(synthetic_room), "--checkpoint", str(random_checkpoint), "--input-size", "64x48",
         "--stop", "3", "--no-median-scaling", "--out", str(tmp_path / "c1"), "--no-progress")
    _run("compare-depth", "--config", str(tmp_path / "c1" / "config.yaml"), "--out", str(tmp_path / "c2"),
         "--no-progress")
    _same_config(tmp_path / "c1", tmp_path / "c2")
    assert _metrics(tmp_path / "c1")["pooled"] == _metrics(tmp_path / "c2")["pooled"]

    _run("evaluate", str(random_checkpoint), str(synthetic_room), "--batch-size", "2", "--max-depth", "8",
         "--out", str(tmp_path / "v1"))
    _run("evaluate", "--config", str(tmp_path / "v1" / "config.yaml"), "--out", str(tmp_path / "v2"))
    _same_config(tmp_path / "v1", tmp_path / "v2")
    assert _metrics(tmp_path / "v1") == _metrics(tmp_path / "v2")


@pytest.mark.parametrize("name", ["demo", "train_synthetic"])
def test_bundled_configs_of_other_commands_reload_to_the_same_options(name: str, tmp_path: Path) -> None:
    """demo and train write the options they ran with as they are loaded here (their runs are long)."""
    cfg = load_named_config(name)
    path = tmp_path / "config.yaml"
    path.write_text(dump_yaml(cfg))
    assert load_named_config(path, command="train" if name.startswith("train") else "demo") == cfg


def test_a_missing_required_option_is_one_clear_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["export"]) == 2
    assert "export needs a map file or run folder" in capsys.readouterr().err
