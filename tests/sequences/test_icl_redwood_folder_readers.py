"""ICL-NUIM (TUM-compatible release, negative fy), Redwood .log layout (real sample), image folders."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slamseg.sequences import SequenceFormatError, open_sequence
from slamseg.sequences.readers.icl import icl_pose_to_opencv

REDWOOD = Path(__file__).parents[1] / "data" / "redwood_livingroom1"


def test_redwood_real_sample():
    seq = open_sequence(REDWOOD)
    assert type(seq).__name__ == "RgbdListSequence" and len(seq) == 5
    assert (seq.camera.fx, seq.camera.fy, seq.camera.cx, seq.camera.cy) == (525.0, 525.0, 319.5, 239.5)
    lo, hi = np.inf, 0.0
    for frame in seq:
        valid = frame.depth[frame.depth > 0]
        lo, hi = min(lo, valid.min()), max(hi, valid.max())
    assert lo == pytest.approx(0.955, abs=1e-4) and hi == pytest.approx(2.70, abs=0.005)
    # trajectory.log's first pose, translation column as written in the file
    assert np.allclose(seq[0].pose[:3, 3], [-0.31057997014702826, 0.5730122438481298, 2.1264800183565487])


def _write_icl(root: Path, n: int = 3) -> Path:
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    lines = []
    for k in range(n):
        Image.fromarray(np.full((480, 640, 3), 10 * k, np.uint8)).save(root / "rgb" / f"{k}.png")
        Image.fromarray(np.full((480, 640), 5000 * (k + 1), np.uint16)).save(root / "depth" / f"{k}.png")
        lines.append(f"{k} depth/{k}.png {k} rgb/{k}.png")
    (root / "associations.txt").write_text("\n".join(lines) + "\n")
    return root


def test_icl_tum_compatible_release_and_negative_fy(tmp_path: Path):
    root = _write_icl(tmp_path / "living_room_traj0_frei_png")
    c, s = np.cos(0.3), np.sin(0.3)
    # pose 0: rotation about z by 0.3 rad, translation (1, 2, 3); pose 1 identity; pose 2 missing (traj0 quirk)
    (root / "livingRoom0.gt.sim").write_text(
        f"{c} {-s} 0 1\n{s} {c} 0 2\n0 0 1 3\n\n1 0 0 0\n0 1 0 0\n0 0 1 0\n")
    seq = open_sequence(root)
    assert type(seq).__name__ == "RgbdListSequence" and len(seq) == 3
    assert seq.camera.fx == 481.20 and seq.camera.fy == 480.0  # positive: OpenCV axes
    assert seq[1].depth[0, 0] == pytest.approx(2.0)
    pose = seq[0].pose
    # F T F with F = diag(1, -1, 1, 1): rotation about z by -0.3 rad, translation (1, -2, 3), still proper
    assert np.allclose(pose[:3, :3], [[c, s, 0], [-s, c, 0], [0, 0, 1]])
    assert np.allclose(pose[:3, 3], [1, -2, 3]) and np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    assert seq[2].pose is None
    # the y-flipped camera sees a point the ICL camera would put at row v at the same row
    point_icl = np.array([0.2, 0.3, 2.0])  # ICL camera frame (y up): v = -480 * 0.3 / 2 + 239.5 = 167.5
    point_cv = np.diag([1.0, -1.0, 1.0]) @ point_icl
    assert seq.camera.fy * point_cv[1] / point_cv[2] + seq.camera.cy == pytest.approx(167.5)
    assert np.allclose(icl_pose_to_opencv(icl_pose_to_opencv(pose)), pose)


def test_icl_bad_association_line(tmp_path: Path):
    root = _write_icl(tmp_path / "icl")
    (root / "associations.txt").write_text("0 depth/0.png 0 rgb/0.png\nzero depth/1.png 1 rgb/1.png\n")
    with pytest.raises(SequenceFormatError, match=r"associations.txt:2: unparsable timestamp"):
        open_sequence(root)


def test_image_folder_with_depth_and_default_camera(tmp_path: Path):
    shutil.copytree(REDWOOD / "color", tmp_path / "images")
    shutil.copytree(REDWOOD / "depth", tmp_path / "images" / "depth")
    seq = open_sequence(tmp_path / "images", depth_dir="depth")
    assert len(seq) == 5 and seq[0].depth.max() == pytest.approx(2.70, abs=0.005)
    assert seq.camera.fx == 525.0 and seq.camera.cx == 319.5  # default guess at 640 px width
    wide = open_sequence(tmp_path / "images", fov_deg=90.0)
    assert wide.camera.fx == pytest.approx(320.0) and wide[0].depth is None
    (tmp_path / "images" / "depth" / "00003.png").unlink()
    with pytest.raises(SequenceFormatError, match=r"00003.png: image file is missing"):
        list(open_sequence(tmp_path / "images", depth_dir="depth"))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no images")
    with pytest.raises(SequenceFormatError, match="no images"):
        open_sequence(empty, format="image_folder")


def test_depth_rgb_size_mismatch(tmp_path: Path):
    shutil.copytree(REDWOOD, tmp_path / "r")
    Image.fromarray(np.zeros((240, 320), np.uint16)).save(tmp_path / "r" / "depth" / "00001.png")
    with pytest.raises(SequenceFormatError, match=r"00001.png: expected an image of 640x480"):
        open_sequence(tmp_path / "r")[1]
