"""NYU Depth v2 raw scene folders: synchronisation, PGM byte order, conversion, registration, bad input."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import SequenceFormatError, open_sequence
from slamseg.sequences.readers.nyu_kinect import NyuRegistration, raw_to_metres, zbuffer_splat
from slamseg.sequences.readers.nyu_raw import read_raw_disparity, synchronise

DATA = Path(__file__).parents[1] / "data" / "nyu_raw_frame"
PGM_HEADER = b"P5 640 480 65535\n"


def make_scene(root: Path, depth_times: list[float], rgb_times: list[float]) -> Path:
    """A scene folder under toolbox names, every file a copy of the real frame."""
    root.mkdir(parents=True, exist_ok=True)
    for k, t in enumerate(depth_times):
        shutil.copy(DATA / "NYU_depth.pgm", root / f"d-{t:.6f}-{1000 + k}.pgm")
    for k, t in enumerate(rgb_times):
        shutil.copy(DATA / "NYU_color.ppm", root / f"r-{t:.6f}-{2000 + k}.ppm")
    (root / f"a-{depth_times[0]:.6f}-1.dump").write_bytes(b"\0" * 16)
    return root


def write_pgm(path: Path, raw: np.ndarray, byte_order: str = "<") -> None:
    path.write_bytes(PGM_HEADER + raw.astype(f"{byte_order}u2").tobytes())


def test_real_frame_facts_from_sources():
    raw, order = read_raw_disparity(DATA / "NYU_depth.pgm")
    assert order == "little"
    assert raw.min() == 839 and raw.max() == 2047
    assert np.count_nonzero(raw == 2047) == 22199
    depth = raw_to_metres(raw)
    valid = depth[depth > 0]
    assert valid.min() == pytest.approx(1.386, abs=1e-3) and valid.max() == pytest.approx(6.691, abs=1e-3)
    assert np.median(valid) == pytest.approx(3.27, abs=0.01)


def test_big_endian_resave_is_detected_and_impossible_values_refused(tmp_path: Path):
    raw, _ = read_raw_disparity(DATA / "NYU_depth.pgm")
    write_pgm(tmp_path / "be.pgm", raw, ">")
    back, order = read_raw_disparity(tmp_path / "be.pgm")
    assert order == "big" and np.array_equal(back, raw)
    bad = raw.copy()
    bad[0, 0] = 0x0909  # 2313 whichever way round: not an 11-bit value
    write_pgm(tmp_path / "bad.pgm", bad)
    with pytest.raises(SequenceFormatError, match=r"bad.pgm: impossible raw disparity"):
        read_raw_disparity(tmp_path / "bad.pgm")


def test_disparity_conversion_hand_values():
    raw = np.array([[600, 800, 1000, 1084, 2047]], dtype=np.uint16)
    # 351.3 / (1092.5 - raw): 0.7132, 1.2010, 3.7978, 41.3 -> clipped to 10; 2047 invalid.
    assert np.allclose(raw_to_metres(raw), [[0.71330, 1.20103, 3.79784, 10.0, 0.0]], atol=1e-4)


def test_toolbox_synchronisation_monotone_nearest():
    depth_t = np.array([0.0, 0.04, 0.05, 0.20])
    rgb_t = np.array([0.01, 0.03, 0.06, 0.07])
    # 0.00 -> 0.01; 0.04 -> 0.03 (0.01 < 0.02); 0.05 -> 0.06 (tie 0.01 vs 0.02? |0.05-0.06| = 0.01 <= 0.02);
    # 0.20 -> 0.07 (the last).
    assert synchronise(depth_t, rgb_t).tolist() == [0, 1, 2, 3]
    # ties advance the pointer ("<="), as get_synched_frames.m
    assert synchronise(np.array([0.5]), np.array([0.0, 1.0])).tolist() == [1]


def test_scene_folder_sync_time_diff_and_max_time_diff(tmp_path: Path):
    root = make_scene(tmp_path / "kitchen_0004", [100.0, 100.1, 100.5], [100.01, 100.12])
    seq = open_sequence(root)
    assert type(seq).__name__ == "NyuRawSequence" and len(seq) == 3
    assert seq.camera.distortion is None and seq.camera.fx == pytest.approx(518.858, abs=1e-3)
    diffs = [f.meta["time_diff"] for f in seq]
    assert diffs == pytest.approx([0.01, 0.02, 0.38], abs=1e-6)
    assert seq[1].meta["rgb_source"].endswith("r-100.120000-2001.ppm")
    assert len(open_sequence(root, max_time_diff=0.05)) == 2


def test_registered_real_frame_keeps_the_depth_statistics(tmp_path: Path):
    seq = open_sequence(make_scene(tmp_path / "s", [1.0], [1.0]))
    frame = seq[0]
    valid = frame.depth[frame.depth > 0]
    # registration moves points by ~2.5 cm and 1-2 pixels: the median of 3.27 m and the range must survive
    assert np.median(valid) == pytest.approx(3.27, abs=0.03)
    assert valid.min() > 1.3 and valid.max() < 6.8
    assert 0.6 < (frame.depth > 0).mean() < 0.95
    unregistered = open_sequence(tmp_path / "s", register=False)[0].depth
    assert np.count_nonzero(unregistered == 0) == 22199


def test_registration_of_a_fronto_parallel_plane():
    # raw 1000 everywhere = a plane 3.7978 m in front of the depth camera; in the RGB camera the plane is the
    # same to within the 0.66 mm z offset and the ~0.004 rad tilt (<= 1.5 cm at the image border).
    raw = np.full((480, 640), 1000, dtype=np.uint16)
    raw[0, 0] = 1001  # the toolbox masks pixels equal to the frame maximum: make that one pixel only
    depth = NyuRegistration().register(raw)
    centre = depth[200:280, 280:360]
    assert np.all(centre > 0)
    assert np.allclose(centre, 351.3 / 92.5, atol=0.005)


def test_zbuffer_nearest_wins():
    out = zbuffer_splat(np.array([5, 5, 5, 0]), np.array([3.0, 1.0, 2.0, 4.0]), (2, 3))
    assert out[1, 2] == 1.0 and out[0, 0] == 4.0 and np.count_nonzero(out) == 2


def test_bad_input(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "d-1.0-1.pgm").write_bytes(PGM_HEADER)
    with pytest.raises(SequenceFormatError, match=r"r-\*.ppm"):
        open_sequence(empty, format="nyu_raw")
    root = make_scene(tmp_path / "s", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    truncated = sorted(root.glob("d-*.pgm"))[1]
    truncated.write_bytes(truncated.read_bytes()[:1000])
    with pytest.raises(SequenceFormatError, match=r"d-2.000000-1001.pgm: truncated P5"):
        list(open_sequence(root))
    lenient = open_sequence(root, strict=False)
    assert [f.timestamp for f in lenient] == [1.0, 3.0]
    assert lenient.skipped[0][0] == 1 and "truncated" in lenient.skipped[0][1]
    small = root / "d-4.000000-1.pgm"
    small.write_bytes(b"P5 320 240 65535\n" + np.zeros((240, 320), "<u2").tobytes())
    with pytest.raises(SequenceFormatError, match="size mismatch"):
        open_sequence(root)[3]
    (root / "d-bogus-1.pgm").write_bytes(PGM_HEADER)
    with pytest.raises(SequenceFormatError, match=r"d-bogus-1.pgm: expected a name"):
        open_sequence(root)
