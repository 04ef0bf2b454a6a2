"""SemanticFusion's NYU keyframe protocol: ``slamseg reconstruct RAW_SCENE --nyu-labeled FILE`` on a tiny raw
scene made of the real NYU raw frame (tests/data/nyu_raw_frame) and a MATLAB v7.3 labelled-set fixture (h5py, the
layout of tests/sequences/test_nyu_labeled_reader.py) whose scenes and raw file names point at that scene."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from slamseg.errors import ConfigError, SequenceFormatError
from slamseg.pipelines.nyu_keyframes import read_labelled_frames
from slamseg.sequences import get_mapping, open_sequence
from tests.sequences.test_nyu_labeled_reader import _cell_of_char, _matlab_class

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data" / "nyu_raw_frame"
SCENE = "bedroom_0001"
STAMPS = (1294886360.208451, 1294886360.241822)  # two depth frames; colour 4 ms later
H, W = 480, 640


def _raw_scene(root: Path) -> tuple[list[str], list[str]]:
    """Two copies of the real raw frame under toolbox names; returns the (rgb, depth) names as the .mat has them."""
    root.mkdir(parents=True)
    rgb, depth = [], []
    for k, t in enumerate(STAMPS):
        depth.append(f"d-{t:.6f}-{1000 + k}.pgm")
        rgb.append(f"r-{t + 0.004:.6f}-{2000 + k}.ppm")
        shutil.copy(DATA / "NYU_depth.pgm", root / depth[-1])
        shutil.copy(DATA / "NYU_color.ppm", root / rgb[-1])
    return [f"{SCENE}/{n}" for n in rgb], [f"{SCENE}/{n}" for n in depth]


def _write_labeled_mat(path: Path, scenes: list[str], rgb: list[str], depth: list[str], labels: np.ndarray) -> Path:
    """The keys the protocol reads, as MATLAB v7.3 stores them: labels (N, W, H) uint16, cells of char."""
    with h5py.File(path, "w", userblock_size=512) as f:
        ds = f.create_dataset("labels", data=np.ascontiguousarray(labels.transpose(0, 2, 1)), compression="gzip",
                              compression_opts=1, chunks=(1, W, H))
        _matlab_class(ds, "uint16")
        _cell_of_char(f, "scenes", scenes)
        _cell_of_char(f, "rawRgbFilenames", rgb)
        _cell_of_char(f, "rawDepthFilenames", depth)
    return path


def _striped_894() -> np.ndarray:
    """H x W 894-class ground truth: ceiling, wall, floor in horizontal bands (NYU-13: ceiling, wall, floor)."""
    gt = np.full((H, W), 21, np.uint16)  # 21 wall -> 12 wall
    gt[:H // 3] = 4  # 4 ceiling -> 3 ceiling
    gt[2 * H // 3:] = 11  # 11 floor -> 5 floor
    return gt


def test_map_and_network_labels_on_the_labelled_frames_of_a_raw_scene(tmp_path: Path, capsys) -> None:
    import imageio.v3 as iio
    import rerun as rr
    from rerun.chunk import RrdReader

    from slamseg.cli import build_parser
    from slamseg.fusion.maps import load_map
    from slamseg.fusion.metrics import label_metrics
    from slamseg.sequences.poses import read_tum_trajectory

    scene = tmp_path / SCENE
    rgb, depth = _raw_scene(scene)
    # Labelled frame A is labelled everywhere, B only on its left half (the rest unlabelled, 0).
    gt_a, gt_b = _striped_894(), _striped_894()
    gt_b[:, W // 2:] = 0
    other = np.full((H, W), 5, np.uint16)  # never read: another scene, or a frame the run does not have
    mat = _write_labeled_mat(
        tmp_path / "nyu_depth_v2_labeled.mat", ["kitchen_0004", SCENE, SCENE, SCENE],
        ["kitchen_0004/r-1.000000-1.ppm", rgb[0], rgb[1], f"{SCENE}/r-1294886399.000000-9.ppm"],
        ["kitchen_0004/d-1.000000-1.pgm", depth[0], depth[1], f"{SCENE}/d-1294886399.000000-9.pgm"],
        np.stack([other, gt_a, gt_b, other]))

    out = tmp_path / "run"
    args = build_parser().parse_args([
        "reconstruct", str(scene), "--depth", "sensor", "--tracking", "odometry", "--input-size", "64x48",
        "--voxel-size", "0.05", "--nyu-labeled", str(mat), "--viz", "rerun", "--save-predictions", "--out", str(out),
        "--no-progress"])
    assert args.func(args) == 0
    assert f"NYU labelled frames of {SCENE} (2 of 3, 13 classes): map class-average accuracy" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    nyu = metrics["evaluation"]["nyu_keyframes"]
    assert (nyu["scene"], nyu["label_set"], nyu["labelled_frames"], nyu["frames"]) == (SCENE, "nyu13", 3, 2)
    assert [(p["mat_index"], p["frame"], p["rgb_file"]) for p in nyu["per_frame"]] == [(2, 0, rgb[0]), (3, 1, rgb[1])]
    assert [(s["mat_index"], s["reason"]) for s in nyu["not_evaluated"]] == [(4, "not among the reconstructed frames")]
    assert [p["fused_map"]["labelled_pixels"] for p in nyu["per_frame"]] == [H * W, H * W // 2]  # B: its left half

    # Pooled scores, recomputed here: the map rendered at the run's poses and the network's saved labels (NYU-13
    # PNGs of --save-predictions) against the ground truth mapped 894 -> 13.
    gt13 = get_mapping("nyu894", "nyu13").map_labels(np.stack([gt_a, gt_b]).astype(np.int64))
    _, poses = read_tum_trajectory(out / "trajectory.txt")
    camera = open_sequence(scene).camera
    semantic_map = load_map(out / "map.npz")
    rendered = np.stack([semantic_map.render(camera, pose).labels for pose in poses])
    network = np.stack([iio.imread(out / f"predictions/labels/{i:06d}.png") for i in (0, 1)])
    for key, labels in (("fused_map", rendered), ("single_frame", network)):
        expected = label_metrics(labels, gt13, 14)
        for name in ("class_average_accuracy", "pixel_accuracy", "mean_iou"):
            assert nyu[key][name] == pytest.approx(getattr(expected, name), abs=1e-3), (key, name)
    assert nyu["fused_map"]["labelled_pixels"] == H * W * 3 // 2 and nyu["fused_map"]["pixel_accuracy"] > 0

    # The world is the first camera's frame (OpenCV axes): up is -y, in metrics.json and in rerun's view.
    assert metrics["world"]["up_axis"] == "-y" and metrics["world"]["frame"].startswith("camera frame of frame 0")
    logged = [chunk.to_record_batch().column("ViewCoordinates:xyz").to_pylist()[-1][0]
              for chunk in RrdReader(out / "viz.rrd").stream()
              if chunk.entity_path == "/" and "ViewCoordinates:xyz" in chunk.to_record_batch().schema.names]
    assert logged[-1] == [d.value for d in rr.components.ViewCoordinates.RIGHT_HAND_Y_DOWN.coordinates]


def test_labelled_file_errors_name_the_file_and_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        read_labelled_frames(tmp_path / "missing.mat", SCENE)
    mat = _write_labeled_mat(tmp_path / "labelled.mat", ["kitchen_0004"], ["kitchen_0004/r-1.000000-1.ppm"],
                             ["kitchen_0004/d-1.000000-1.pgm"], np.zeros((1, H, W), np.uint16))
    with pytest.raises(ConfigError, match=rf"labelled.mat: no labelled frame of scene '{SCENE}'.*kitchen_0004"):
        read_labelled_frames(mat, SCENE)
    [entry] = read_labelled_frames(mat, "kitchen_0004", (W, H))
    expected = rf"labelled.mat: key 'labels': expected h5py shape \(N, {W + 2}, {H}\)"
    with pytest.raises(SequenceFormatError, match=expected):
        read_labelled_frames(mat, "kitchen_0004", (W + 2, H))  # checked before any reconstruction work
    assert (entry.mat_index, entry.timestamp, entry.depth_file) == (1, 1.0, "kitchen_0004/d-1.000000-1.pgm")
    with h5py.File(mat, "a") as f:
        del f["rawDepthFilenames"], f["#refs#/rawDepthFilenames_0"]
        _cell_of_char(f, "rawDepthFilenames", ["kitchen_0004/d-1.000000-1.pgm", "kitchen_0004/d-2.000000-2.pgm"])
    with pytest.raises(SequenceFormatError, match=r"key 'rawDepthFilenames'.*2 entries, but labels has 1 frames"):
        read_labelled_frames(mat, "kitchen_0004")
    with h5py.File(mat, "a") as f:
        del f["rawRgbFilenames"]
    with pytest.raises(ConfigError, match="key 'rawRgbFilenames' is missing"):
        read_labelled_frames(mat, "kitchen_0004")
