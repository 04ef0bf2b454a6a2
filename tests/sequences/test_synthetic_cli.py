"""`slamseg synth` end to end: synth -> TUM-style folder -> open_sequence gives back the same ground truth."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import open_sequence
from slamseg.sequences.synthetic import SyntheticSequence
from slamseg.sequences.writers import write_tum_sequence


def slamseg(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("slamseg") or str(Path(sys.executable).parent / "slamseg")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300)


def _assert_same(original: SyntheticSequence, reread, depth_tol: float) -> None:
    assert len(reread) == len(original)
    assert reread.label_set is not None and reread.label_set.name == "nyu40"
    assert reread.camera.shape == original.camera.shape
    assert reread.camera.fx == pytest.approx(original.camera.fx)
    assert reread.camera.cx == pytest.approx(original.camera.cx)
    for a, b in zip(original, reread):
        assert b.timestamp == pytest.approx(a.timestamp, abs=1e-6)
        assert np.array_equal(a.rgb, b.rgb)
        assert np.abs(a.depth - b.depth).max() <= depth_tol  # depth / 5000 in uint16: 0.1 mm rounding
        assert np.array_equal(a.labels, b.labels)
        np.testing.assert_allclose(b.pose, a.pose, atol=1e-6)
        np.testing.assert_allclose(b.normals, a.normals, atol=1e-4)


def test_round_trip_through_the_tum_writer_and_reader(tmp_path: Path) -> None:
    seq = SyntheticSequence(seed=4, num_frames=4, width=64, height=48)
    write_tum_sequence(seq, tmp_path / "room")
    _assert_same(seq, open_sequence(tmp_path / "room"), depth_tol=0.5 / 5000 + 1e-6)


def test_synth_command_writes_a_readable_sequence_and_mesh(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    res = slamseg("synth", "--out", str(out), "--seed", "5", "--frames", "3", "--width", "64", "--height", "48")
    assert res.returncode == 0, res.stderr
    assert "wrote 3 frames" in res.stdout
    for name in ("rgb.txt", "depth.txt", "labels.txt", "normals.txt", "groundtruth.txt", "camera.json", "mesh.ply"):
        assert (out / name).is_file(), name
    assert not out.with_name("synth.partial").exists()
    original = SyntheticSequence(seed=5, num_frames=3, width=64, height=48)
    _assert_same(original, open_sequence(out), depth_tol=0.5 / 5000 + 1e-6)
    header = (out / "mesh.ply").read_bytes()[:600].decode("ascii", errors="replace")
    assert "property uint16 label" in header  # the spelling Open3D reads


@pytest.mark.slow
def test_synth_command_noise_flag_and_errors(tmp_path: Path) -> None:
    out = tmp_path / "noisy"
    res = slamseg("synth", "--out", str(out), "--frames", "2", "--width", "64", "--height", "48", "--noise",
                  "--depth-scale", "1000")
    assert res.returncode == 0, res.stderr
    reread = open_sequence(out)
    noisy = SyntheticSequence(seed=0, num_frames=2, width=64, height=48, noise=True)
    assert np.abs(reread[1].depth - noisy[1].depth).max() <= 0.5 / 1000 + 1e-6
    assert (reread[1].depth == 0).any()  # holes survive the round trip as invalid depth
    # an existing folder is refused (one line, exit 2) unless --overwrite
    res = slamseg("synth", "--out", str(out), "--frames", "2", "--width", "64", "--height", "48")
    assert res.returncode == 2 and "already exists" in res.stderr and "Traceback" not in res.stderr
    res = slamseg("synth", "--out", str(tmp_path / "bad"), "--frames", "0")
    assert res.returncode == 2 and "frames" in res.stderr and "Traceback" not in res.stderr
