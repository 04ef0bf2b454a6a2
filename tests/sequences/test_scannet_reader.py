"""ScanNet scans in SensReader's export layout, written by the test (colour at twice the depth size, as ScanNet's
1296x968 colour is to its 640x480 depth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slamseg.sequences import SequenceFormatError, detect_format, open_sequence
from tests.sequences.rgbd_layouts import CAMERA, depth_mm, reconstruct_and_check, room_views


def _write_scan(root: Path, views: list, colour_intrinsics_only: bool = False) -> Path:
    for sub in ("color", "depth", "pose", "intrinsic"):
        (root / sub).mkdir(parents=True)
    for k, (rgb, depth, pose) in enumerate(views):
        big = Image.fromarray(rgb).resize((128, 96), Image.Resampling.NEAREST)
        big.save(root / "color" / f"{k}.jpg", quality=95)
        Image.fromarray(depth_mm(depth)).save(root / "depth" / f"{k}.png")
        np.savetxt(root / "pose" / f"{k}.txt", pose, fmt="%f")
    colour_k = np.eye(4)
    colour_k[:3, :3] = CAMERA.scaled(128, 96).K
    np.savetxt(root / "intrinsic" / "intrinsic_color.txt", colour_k, fmt="%f")
    if not colour_intrinsics_only:
        depth_k = np.eye(4)
        depth_k[:3, :3] = CAMERA.K
        np.savetxt(root / "intrinsic" / "intrinsic_depth.txt", depth_k, fmt="%f")
    for name in ("extrinsic_color.txt", "extrinsic_depth.txt"):
        np.savetxt(root / "intrinsic" / name, np.eye(4), fmt="%f")
    return root


def test_round_trip_numeric_order_invalid_pose_and_resized_colour(tmp_path: Path) -> None:
    views = room_views(11)  # frames 0..10: "10" sorts before "2" as text
    root = _write_scan(tmp_path / "scene0000_00", views)
    (root / "pose" / "3.txt").write_text("-inf -inf -inf -inf\n" * 4)  # ScanNet's invalid pose
    raw = depth_mm(views[4][1])
    raw[10:20, 30:40] = 0
    Image.fromarray(raw).save(root / "depth" / "4.png")

    assert detect_format(root) == "scannet"
    seq = open_sequence(root)
    assert len(seq) == 11 and seq.name == "scene0000_00"
    assert np.allclose(seq.camera.K, CAMERA.K) and seq.camera.shape == (48, 64)
    frames = list(seq)
    assert [f.meta["frame_number"] for f in frames] == list(range(11))
    for k, frame in enumerate(frames):
        rgb, depth, pose = views[k]
        assert frame.timestamp == pytest.approx(k / 30.0)
        assert frame.rgb.shape == (48, 64, 3)
        assert np.abs(frame.rgb.astype(int) - rgb).mean() < 6  # JPEG, then 2x down to the depth size
        expected = depth_mm(depth).astype(np.float32) / 1000.0
        if k == 4:
            expected[10:20, 30:40] = 0.0
        assert np.allclose(frame.depth, expected, atol=1e-6)
        assert (frame.pose is None) if k == 3 else np.allclose(frame.pose, pose, atol=1e-5)
    # without intrinsic_depth.txt: intrinsic_color.txt scaled from 128x96 to the depth's 64x48
    other = _write_scan(tmp_path / "scene0001_00", views[:2], colour_intrinsics_only=True)
    assert np.allclose(open_sequence(other).camera.K, CAMERA.K)


def test_half_layouts_name_the_file(tmp_path: Path) -> None:
    root = _write_scan(tmp_path / "scan", room_views(3))
    (root / "depth" / "2.png").unlink()
    with pytest.raises(SequenceFormatError, match=r"depth/2.png: depth image is missing \(1 of 3"):
        open_sequence(root)
    Image.fromarray(np.zeros((48, 64), np.uint16)).save(root / "depth" / "2.png")
    (root / "pose" / "1.txt").write_bytes(b"\xff\xfe garbage")
    with pytest.raises(SequenceFormatError, match=r"pose/1.txt: expected 16 numbers of a 4x4 camera-to-world pose"):
        open_sequence(root)
    (root / "pose" / "1.txt").unlink()
    for name in ("intrinsic_depth.txt", "intrinsic_color.txt"):
        (root / "intrinsic" / name).unlink()
    with pytest.raises(SequenceFormatError, match=r"intrinsic_depth.txt: intrinsics file is missing"):
        open_sequence(root)


def test_reconstruct_from_a_scan(tmp_path: Path) -> None:
    reconstruct_and_check(open_sequence(_write_scan(tmp_path / "scan", room_views(4))))
