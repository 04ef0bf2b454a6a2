"""KITTI raw drive layout built from the real object frame 000008; lidar projection vs the provided PNG."""

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import SequenceFormatError, open_sequence
from slamseg.sequences.readers.kitti import decode_kitti_depth_png

DATA = Path(__file__).parents[1] / "data" / "kitti_object_frame"


def make_drive(tmp: Path) -> Path:
    info = pickle.loads((DATA / "000008.pkl").read_bytes())["data_list"][0]
    p_rect = np.array(info["images"]["CAM2"]["cam2img"])[:3]
    r_rect = np.array(info["images"]["R0_rect"])[:3, :3]
    velo = np.array(info["lidar_points"]["Tr_velo_to_cam"])
    date = tmp / "2011_09_26"
    drive = date / "2011_09_26_drive_0008_sync"
    for sub in ("image_02/data", "velodyne_points/data", "proj_depth/velodyne_raw/image_02"):
        (drive / sub).mkdir(parents=True)
    fmt = lambda a: " ".join(f"{x:.12e}" for x in np.ravel(a))  # noqa: E731
    (date / "calib_cam_to_cam.txt").write_text(
        f"calib_time: 09-Jan-2012 13:57:47\nR_rect_00: {fmt(r_rect)}\nP_rect_02: {fmt(p_rect)}\n")
    (date / "calib_velo_to_cam.txt").write_text(
        f"calib_time: 15-Mar-2012 11:37:16\nR: {fmt(velo[:3, :3])}\nT: {fmt(velo[:3, 3])}\n")
    shutil.copy(DATA / "000008.png", drive / "image_02" / "data" / "0000000000.png")
    shutil.copy(DATA / "000008.bin", drive / "velodyne_points" / "data" / "0000000000.bin")
    shutil.copy(DATA / "demo_sparse_depth_kittiformat.png",
                drive / "proj_depth" / "velodyne_raw" / "image_02" / "0000000000.png")
    return drive


def test_provided_png_facts():
    depth = decode_kitti_depth_png(DATA / "demo_sparse_depth_kittiformat.png")
    valid = depth[depth > 0]
    assert valid.size == 17107
    assert valid.min() == pytest.approx(2.6, abs=0.01) and valid.max() == pytest.approx(76.6, abs=0.05)


def test_raw_drive_projection_matches_provided_sparse_depth(tmp_path: Path):
    drive = make_drive(tmp_path)
    seq = open_sequence(drive)
    assert type(seq).__name__ == "KittiRawSequence" and len(seq) == 1
    assert seq.camera.fx == pytest.approx(721.5377) and seq.camera.shape == (375, 1242)
    projected = seq[0].depth
    reference = open_sequence(drive, depth_source="png")[0].depth
    assert np.array_equal(projected > 0, reference > 0)
    # the PNG stores metres x 256 (truncated, it seems, not rounded): at most one step (3.9 mm) apart
    assert np.max(np.abs(projected - reference)) <= 1 / 256 + 1e-4


def test_truncated_scan_is_a_format_error(tmp_path: Path):
    drive = make_drive(tmp_path)
    scan = drive / "velodyne_points" / "data" / "0000000000.bin"
    scan.write_bytes(scan.read_bytes()[:-2])
    with pytest.raises(SequenceFormatError, match=r"0000000000.bin: expected float32 N x 4"):
        open_sequence(drive)[0]
    (drive.parent / "calib_velo_to_cam.txt").write_text("R: 1 0 0\n")
    with pytest.raises(SequenceFormatError, match="calibration needs"):
        open_sequence(drive)


# KITTI-11 id -> KITTI-6 id, by name (kitti6: void, sky, building, road, sidewalk, vegetation, car): fence, pole,
# sign, pedestrian and cyclist have no KITTI-6 class and become void.
KITTI11_TO_6 = [0, 1, 2, 3, 4, 0, 5, 0, 6, 0, 0, 0]


@pytest.mark.parametrize("label_dir", ["semantic/image_02", "label_02/data"])
def test_semantic_labels_mapped_to_kitti6(tmp_path: Path, label_dir: str):
    from slamseg.sequences.imageio_utils import write_png

    drive = make_drive(tmp_path)
    for sub in ("image_02/data", "velodyne_points/data"):  # a second, unannotated frame
        src = sorted((drive / sub).iterdir())[0]
        shutil.copy(src, src.with_name("0000000001" + src.suffix))
    ids = np.zeros((375, 1242), np.uint8)
    for k in range(12):  # vertical bands of every KITTI-11 id, ~100 px wide
        ids[:, k * 100:(k + 1) * 100] = k
    (drive / label_dir).mkdir(parents=True)
    write_png(drive / label_dir / "0000000000.png", ids)

    seq = open_sequence(drive, depth_source="none")
    assert seq.label_set.name == "kitti6" and len(seq) == 2
    labels = seq[0].labels
    assert [int(labels[200, k * 100 + 50]) for k in range(12)] == KITTI11_TO_6
    assert seq[1].labels is None  # only some frames are annotated
    kept = open_sequence(drive, depth_source="none", label_set="kitti11")[0].labels
    assert np.array_equal(kept, ids)

    ids[5, 5] = 12
    write_png(drive / label_dir / "0000000000.png", ids)
    with pytest.raises(SequenceFormatError, match=r"0000000000.png: expected KITTI-11 ids 0..11 .*found 12"):
        seq[0]
