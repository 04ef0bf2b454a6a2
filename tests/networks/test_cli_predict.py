"""``slamseg predict`` and ``slamseg model-info`` as a user runs them: subprocesses of the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from .conftest import RANDOM_CKPT


def slamseg(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("slamseg") or str(Path(sys.executable).parent / "slamseg")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory, vectors: dict) -> Path:
    folder = tmp_path_factory.mktemp("images")
    frame = vectors["image_uint8"]
    iio.imwrite(folder / "a.png", np.ascontiguousarray(frame[::6, ::6]))  # 80 x 107
    iio.imwrite(folder / "b.png", np.ascontiguousarray(frame[::8, ::8, 0]))  # grey, 60 x 80
    return folder


def test_model_info_reports_the_papers_figures() -> None:
    out = slamseg("model-info", "--arch", "nyud_joint", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["params"] == 3_070_057 and round(info["macs"] / 1e9, 2) == 5.94
    out = slamseg("model-info", str(RANDOM_CKPT), "--size", "320x240")
    assert out.returncode == 0 and "3,070,057" in out.stdout and "crp2" in out.stdout
    # a quarter of the pixels: about a quarter of the multiply-adds
    assert "1.49 G" in out.stdout


@pytest.mark.slow
def test_predict_writes_outputs(tmp_path: Path, images: Path) -> None:
    out_dir = tmp_path / "run"
    out = slamseg("predict", str(images), "--checkpoint", str(RANDOM_CKPT), "--out", str(out_dir),
                  "--save-probs", "--no-progress", "--threads", "1")
    assert out.returncode == 0, out.stderr
    assert "frames/s" in out.stdout
    depth = iio.imread(out_dir / "depth" / "a.png")
    assert depth.dtype == np.uint16 and depth.shape == (80, 107)
    labels = iio.imread(out_dir / "labels" / "b.png")
    assert labels.shape == (60, 80) and labels.min() >= 1 and labels.max() <= 40
    assert iio.imread(out_dir / "labels_vis" / "a.png").shape == (80, 107, 3)
    assert iio.imread(out_dir / "depth_vis" / "b.png").shape == (60, 80, 3)
    with np.load(out_dir / "probs" / "a.npz") as data:
        np.testing.assert_allclose(data["probs"].astype(np.float32).sum(-1), 1.0, atol=1e-2)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["frames"] == 2 and metrics["frames_per_second"] > 0
    assert (out_dir / "config.yaml").exists()


def test_bad_inputs_one_line_exit_2(tmp_path: Path, images: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    out = slamseg("predict", str(bad), "--checkpoint", str(RANDOM_CKPT), "--out", str(tmp_path / "r1"))
    assert out.returncode == 2 and "broken.png" in out.stderr and "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("slamseg predict: error: ")

    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"nope")
    out = slamseg("predict", str(images / "a.png"), "--checkpoint", str(junk), "--out", str(tmp_path / "r2"))
    assert out.returncode == 2 and "junk.ckpt" in out.stderr and "Traceback" not in out.stderr

    two = tmp_path / "two.npy.png"
    iio.imwrite(two, np.zeros((32, 32, 2), np.uint8))  # grey + alpha: 2 channels
    out = slamseg("predict", str(two), "--checkpoint", str(RANDOM_CKPT), "--out", str(tmp_path / "r3"))
    assert out.returncode == 2 and "two.npy" in out.stderr and "expected H x W" in out.stderr
    assert "Traceback" not in out.stderr

    # an image over the pixel limit is refused from its header, in one line naming it and the option
    out = slamseg("predict", str(images / "a.png"), "--checkpoint", str(RANDOM_CKPT), "--max-pixels", "100",
                  "--out", str(tmp_path / "r4"))
    assert out.returncode == 2 and "a.png" in out.stderr and "larger than the limit of 100 pixels" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "r4").exists()


def test_equal_file_names_in_two_folders_get_distinct_outputs(tmp_path: Path, vectors: dict) -> None:
    from slamseg.commands.predict import iter_frames

    frame = np.ascontiguousarray(vectors["image_uint8"][::8, ::8])
    for folder, shade in (("x", 0), ("y", 1), ("z", 2)):
        (tmp_path / folder).mkdir()
        iio.imwrite(tmp_path / folder / "0001.png", frame // (shade + 1))
    iio.imwrite(tmp_path / "x" / "0001_2.png", frame)  # a real file already named like the first renaming
    names = [name for name, _ in iter_frames([str(tmp_path / f) for f in ("x", "y", "z")])]
    assert names == ["0001", "0001_2", "0001_3", "0001_4"]
