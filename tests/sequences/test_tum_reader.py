"""TUM RGB-D reader on the real freiburg1_rpy sample, association semantics, geometry, bad input."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import Camera, SequenceFormatError, UnknownFormatError, open_sequence
from slamseg.sequences.poses import read_tum_trajectory
from slamseg.sequences.readers.tum import associate

DATA = Path(__file__).parents[1] / "data" / "tum_fr1_rpy"


def test_real_sample_facts():
    seq = open_sequence(DATA)
    assert len(seq) == 10
    assert seq.camera.fx == 517.306408 and seq.camera.distortion is None  # freiburg1 from "fr1" in name, undistorted
    assert open_sequence(DATA, undistort=False).camera.distortion[0] == 0.262383
    gt_t, _ = read_tum_trajectory(DATA / "groundtruth.txt")
    for frame in seq:
        assert frame.meta["time_diff"] < 0.0003
        assert frame.pose is not None
        assert np.min(np.abs(gt_t - frame.timestamp)) < 0.005
    stored = open_sequence(DATA, undistort=False)[0].depth  # SOURCES.md's depth range: the first frame as stored
    valid = stored[stored > 0]
    assert valid.min() == pytest.approx(0.74, abs=0.005) and valid.max() == pytest.approx(2.81, abs=0.005)


def test_ground_truth_poses_align_consecutive_frames():
    seq = open_sequence(DATA)
    cam = seq.camera
    first, later = seq[0], seq[6]  # 0.2 s of fast roll/pitch/yaw
    points = cam.backproject(first.depth).reshape(-1, 3)
    points = points[points[:, 2] > 0][::7].astype(np.float64)

    def median_residual(relative: np.ndarray) -> float:
        p = points @ relative[:3, :3].T + relative[:3, 3]
        u = np.rint(p[:, 0] / p[:, 2] * cam.fx + cam.cx).astype(int)
        v = np.rint(p[:, 1] / p[:, 2] * cam.fy + cam.cy).astype(int)
        ok = (p[:, 2] > 0) & (u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)
        observed = later.depth[v[ok], u[ok]]
        has = observed > 0
        return float(np.median(np.abs(observed[has] - p[ok, 2][has])))

    with_gt = median_residual(np.linalg.inv(later.pose) @ first.pose)
    with_identity = median_residual(np.eye(4))
    assert with_gt < 0.03
    assert with_gt < with_identity / 3


def test_association_is_greedy_by_difference_each_stamp_once():
    first = np.array([1.00, 1.03, 2.00])
    second = np.array([1.02, 1.031, 3.0])
    # candidates (< 0.02): (1.03, 1.031) d=0.001, (1.03, 1.02) d=0.01, (1.00, 1.02)? d=0.02 not < 0.02.
    assert associate(first, second) == [(1, 1)]
    assert associate(first, second, max_difference=0.05) == [(0, 0), (1, 1)]
    assert associate(np.array([]), second) == []


def test_intrinsics_sources(tmp_path: Path):
    plain = tmp_path / "my_sequence"
    shutil.copytree(DATA, plain)
    assert open_sequence(plain).camera == Camera(525.0, 525.0, 319.5, 239.5, 640, 480)
    given = Camera(500.0, 500.0, 320.0, 240.0, 640, 480)
    assert open_sequence(plain, camera=given).camera == given
    f3 = tmp_path / "rgbd_dataset_freiburg3_long_office"
    shutil.copytree(DATA, f3)
    assert open_sequence(f3).camera.fy == 539.2 and open_sequence(f3).camera.distortion is None


def test_pose_gap_gives_none(tmp_path: Path):
    root = tmp_path / "fr1"
    shutil.copytree(DATA, root)
    lines = (root / "groundtruth.txt").read_text().splitlines()
    # remove every pose between 1305031229.50 and 1305031229.70: frames there face a 0.2 s gap
    kept = [ln for ln in lines if ln.startswith("#") or not 1305031229.50 < float(ln.split()[0]) < 1305031229.70]
    (root / "groundtruth.txt").write_text("\n".join(kept) + "\n")
    seq = open_sequence(root)
    assert seq[0].pose is None and seq[9].pose is not None
    assert open_sequence(root, max_pose_gap=0.5)[0].pose is not None


def test_bad_input(tmp_path: Path):
    root = tmp_path / "fr1"
    shutil.copytree(DATA, root)
    rgb_txt = (root / "rgb.txt").read_text()
    (root / "rgb.txt").write_text(rgb_txt.replace("1305031229.596600 rgb", "13050x1229.596600 rgb"))
    with pytest.raises(SequenceFormatError, match=r"rgb.txt:6: unparsable timestamp"):
        open_sequence(root)
    (root / "rgb.txt").write_text(rgb_txt)
    # a missing listed file and a truncated one: lazily, per frame
    (root / "rgb" / "1305031229.564425.png").unlink()
    depth3 = root / "depth" / "1305031229.628790.png"
    depth3.write_bytes(depth3.read_bytes()[:5000])
    with pytest.raises(SequenceFormatError, match=r"1305031229.564425.png: image file is missing"):
        list(open_sequence(root))
    lenient = open_sequence(root, strict=False)
    assert len(list(lenient)) == 8
    assert [i for i, _ in lenient.skipped] == [1, 3] and "1305031229.628790.png" in lenient.skipped[1][1]
    # wrong bit depth: an 8-bit image where a 16-bit depth is expected
    shutil.copy(root / "rgb" / "1305031229.528748.png", root / "depth" / "1305031229.528784.png")
    with pytest.raises(SequenceFormatError, match="expected a single-channel 16-bit image"):
        open_sequence(root)[0]
    (root / "rgb.txt").write_text("# nothing\n")
    with pytest.raises(SequenceFormatError, match="lists no frames"):
        open_sequence(root)


def test_unknown_layout_lists_formats(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnknownFormatError, match=r"known formats: .*tum"):
        open_sequence(tmp_path / "notes.txt")


def test_a_byte_order_mark_in_the_lists_is_ignored(tmp_path: Path) -> None:
    data = Path(__file__).resolve().parent.parent / "data" / "tum_fr1_rpy"
    copy = tmp_path / "tum"
    shutil.copytree(data, copy)
    for name in ("rgb.txt", "depth.txt", "groundtruth.txt"):
        (copy / name).write_bytes(b"\xef\xbb\xbf" + (copy / name).read_bytes())
    seq = open_sequence(copy)
    assert len(seq) == len(open_sequence(data)) and seq[0].pose is not None
