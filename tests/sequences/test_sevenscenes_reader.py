"""7-Scenes / 3DMatch / tsdf-fusion frame folders written by the test in the real layout (frame-NNNNNN.*)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slamseg.sequences import SequenceFormatError, detect_format, open_sequence
from tests.sequences.rgbd_layouts import CAMERA, depth_mm, reconstruct_and_check, room_views


def _write_sequence(folder: Path, views: list, colour: str = "png", colour_scale: int = 1) -> Path:
    """Frames as 7-Scenes stores them; ``colour_scale`` > 1 stores colour larger than depth (resized copies)."""
    folder.mkdir(parents=True)
    for k, (rgb, depth, pose) in enumerate(views):
        stem = folder / f"frame-{k:06d}"
        image = Image.fromarray(rgb)
        if colour_scale != 1:
            image = image.resize((rgb.shape[1] * colour_scale, rgb.shape[0] * colour_scale), Image.Resampling.NEAREST)
        image.save(f"{stem}.color.{colour}", **({"quality": 95} if colour == "jpg" else {}))
        Image.fromarray(depth_mm(depth)).save(f"{stem}.depth.png")
        np.savetxt(f"{stem}.pose.txt", pose, fmt="%.8f", delimiter="\t")
    return folder


def _write_intrinsics(folder: Path) -> None:
    np.savetxt(folder / "camera-intrinsics.txt", CAMERA.K, fmt="%.6f")


def test_round_trip_of_a_seq_folder(tmp_path: Path) -> None:
    views = room_views(4)
    seq_dir = _write_sequence(tmp_path / "chess" / "seq-01", views)
    _write_intrinsics(tmp_path / "chess")  # 3DMatch keeps it in the scene folder, the parent
    raw = depth_mm(views[1][1])
    raw[:5, :7] = 65535  # Kinect's "no measurement"
    Image.fromarray(raw).save(seq_dir / "frame-000001.depth.png")
    (seq_dir / "frame-000002.pose.txt").write_text("-inf -inf -inf -inf\n" * 4)  # a 7-Scenes tracking failure

    assert detect_format(seq_dir) == "seven_scenes"
    seq = open_sequence(seq_dir)
    assert len(seq) == 4 and seq.name == "chess_seq-01"
    assert seq.camera == CAMERA
    for k, frame in enumerate(seq):
        rgb, depth, pose = views[k]
        assert frame.timestamp == pytest.approx(k / 30.0)
        assert np.array_equal(frame.rgb, rgb)
        expected = depth_mm(depth).astype(np.float32) / 1000.0
        if k == 1:
            expected[:5, :7] = 0.0
        assert np.allclose(frame.depth, expected, atol=1e-6)
        if k == 2:
            assert frame.pose is None
        else:
            assert np.allclose(frame.pose, pose, atol=1e-7)


def test_default_intrinsics_and_colour_of_another_size(tmp_path: Path) -> None:
    views = room_views(2)
    # tsdf-fusion: .color.jpg; colour stored at twice the depth size is resized to the depth's
    seq = open_sequence(_write_sequence(tmp_path / "rgbd-frames", views, colour="jpg", colour_scale=2))
    camera = seq.camera  # no camera-intrinsics.txt: 7-Scenes' 585/585/320/240 at 640x480, scaled to 64x48
    assert (camera.width, camera.height) == (64, 48) and camera.fx == pytest.approx(58.5)
    assert camera.cx == pytest.approx((320 + 0.5) * 0.1 - 0.5)
    frame = seq[1]
    assert frame.rgb.shape == (48, 64, 3)
    assert np.abs(frame.rgb.astype(int) - views[1][0]).mean() < 6  # JPEG + resize, flat walls


def test_scene_folder_needs_one_sequence(tmp_path: Path) -> None:
    views = room_views(2)
    scene = tmp_path / "office"
    _write_sequence(scene / "seq-01", views)
    # Before this reader, the image folder format took such folders and gave colour and depth as separate frames
    assert detect_format(scene / "seq-01") == "seven_scenes" and detect_format(scene) == "seven_scenes"
    assert len(open_sequence(scene)) == 2  # the only sequence is opened
    _write_sequence(scene / "seq-02", views)
    with pytest.raises(SequenceFormatError, match=r"office: .* 2 sequences \(seq-01, seq-02\); open one of them"):
        open_sequence(scene)


def test_half_layouts_name_the_file(tmp_path: Path) -> None:
    folder = _write_sequence(tmp_path / "seq-01", room_views(3))
    (folder / "frame-000001.depth.png").unlink()
    with pytest.raises(SequenceFormatError, match=r"frame-000001.depth.png: depth image is missing \(1 of 3"):
        open_sequence(folder)
    Image.fromarray(depth_mm(room_views(1)[0][1])).save(folder / "frame-000001.depth.png")
    (folder / "frame-000002.pose.txt").write_text("0 1 2\nnot a pose\n")
    with pytest.raises(SequenceFormatError, match=r"frame-000002.pose.txt: expected 16 numbers of a 4x4"):
        open_sequence(folder)
    (folder / "frame-000002.pose.txt").write_text(" ".join(["1"] * 12))
    with pytest.raises(SequenceFormatError, match=r"frame-000002.pose.txt: expected 16 numbers .* got 12"):
        open_sequence(folder)


def test_reconstruct_from_a_seq_folder(tmp_path: Path) -> None:
    folder = _write_sequence(tmp_path / "seq-01", room_views(4))
    _write_intrinsics(folder)
    reconstruct_and_check(open_sequence(folder))
