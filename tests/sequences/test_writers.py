"""Writing the slamseg TUM-style layout and reading it back with the TUM reader."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slamseg.sequences import Camera, Frame, SequenceFormatError, open_sequence
from slamseg.sequences.imageio_utils import read_png_rgb16, write_png_rgb16
from slamseg.sequences.writers import MM_DEPTH_SCALE, write_tum_sequence

CAM = Camera(fx=50.0, fy=50.0, cx=15.5, cy=11.5, width=32, height=24)


def make_frames(n: int = 3) -> list[Frame]:
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        normals = rng.normal(size=(24, 32, 3))
        normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
        normals[0, 0] = 0  # invalid
        pose = np.eye(4)
        pose[:3, 3] = [0.1 * i, 0.0, -0.2 * i]
        depth = rng.uniform(0.3, 6.0, (24, 32)).astype(np.float32)
        depth[1, 1] = 0
        frames.append(Frame(i, 0.1 * i, rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), CAM, depth=depth,
                            pose=pose, labels=rng.integers(0, 41, (24, 32)), normals=normals.astype(np.float32)))
    return frames


def test_round_trip_depth_labels_normals_poses(tmp_path: Path):
    frames = make_frames()
    write_tum_sequence(frames, tmp_path, label_set="nyu40")
    seq = open_sequence(tmp_path)
    assert len(seq) == 3 and seq.label_set.name == "nyu40"
    assert seq.camera == CAM
    for orig, back in zip(frames, seq):
        assert np.array_equal(back.rgb, orig.rgb)
        # depth quantised to 1/5000 m: at most half a step off
        assert np.max(np.abs(back.depth - orig.depth)) <= 0.5 / 5000 + 1e-6
        assert back.depth[1, 1] == 0
        assert np.array_equal(back.labels, orig.labels)
        # normals quantised to 2/65535 per component
        assert np.max(np.abs(back.normals - orig.normals)) <= 1.0 / 65535 + 1e-6
        assert np.all(back.normals[0, 0] == 0)
        assert np.allclose(back.pose, orig.pose, atol=1e-8)
        assert back.timestamp == pytest.approx(orig.timestamp, abs=1e-6)


def test_depth_in_millimetres_and_file_names(tmp_path: Path):
    frames = make_frames(1)
    frames[0].depth[0, 0] = 1.2346
    write_tum_sequence(frames, tmp_path, depth_scale=MM_DEPTH_SCALE)
    raw = np.asarray(Image.open(tmp_path / "depth" / "0.000000.png"))
    assert raw.dtype == np.uint16 and raw[0, 0] == 1235
    assert json.loads((tmp_path / "camera.json").read_text())["depth_scale"] == 1000.0
    assert "0.000000 rgb/0.000000.png" in (tmp_path / "rgb.txt").read_text()
    assert open_sequence(tmp_path)[0].depth[0, 0] == pytest.approx(1.235, abs=1e-6)


def test_too_far_depth_becomes_invalid(tmp_path: Path):
    frames = make_frames(1)
    frames[0].depth[2, 2] = 20.0  # 20 m * 5000 > 65535
    write_tum_sequence(frames, tmp_path)
    assert open_sequence(tmp_path)[0].depth[2, 2] == 0


def test_normals_encoding_of_axis_vectors(tmp_path: Path):
    frames = make_frames(1)
    frames[0].normals[:] = [0.0, 0.0, -1.0]
    write_tum_sequence(frames, tmp_path)
    raw = read_png_rgb16(tmp_path / "normals" / "0.000000.png")
    # (0 + 1) / 2 * 65535 = 32767.5 rounds (half to even) to 32768; -1 -> 0.
    assert raw[0, 0].tolist() == [32768, 32768, 0]


def test_rgb16_png_is_a_standard_png(tmp_path: Path):
    img = (np.arange(4 * 5 * 3, dtype=np.uint16) * 997).reshape(4, 5, 3)
    write_png_rgb16(tmp_path / "x.png", img)
    assert np.array_equal(read_png_rgb16(tmp_path / "x.png"), img)
    with Image.open(tmp_path / "x.png") as decoded:  # another decoder accepts it (Pillow reads it as 8-bit RGB)
        assert decoded.size == (5, 4)


def test_duplicate_timestamps_refused(tmp_path: Path):
    frames = make_frames(2)
    frames[1].timestamp = frames[0].timestamp
    with pytest.raises(SequenceFormatError, match="duplicate timestamp"):
        write_tum_sequence(frames, tmp_path)
