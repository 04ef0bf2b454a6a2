"""NYU Depth v2 labelled .mat reader on faithful MATLAB v7.3 (HDF5) fixtures built here with h5py.

There is no real ``nyu_depth_v2_labeled.mat`` sample (2.8 GB). The fixture reproduces the layout MATLAB writes
(../shared/reference/nyu/nyu_constants.md 1.7): a 512-byte userblock with the MAT-file text header; arrays with
their dimensions reversed (images (N, 3, W, H) uint8, depths/rawDepths (N, W, H) single, labels (N, W, H)
uint16); cell arrays of char (``names`` 894 x 1, ``scenes`` / ``sceneTypes`` N x 1, stored (1, n)) as object
references into ``#refs#`` to uint16 char arrays (1 x len stored (len, 1), MATLAB_int_decode 2); MATLAB_class
attributes; an empty string as uint64 [0, 0] with MATLAB_empty.
"""

import json
import multiprocessing
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from slamseg.sequences import SequenceFormatError, UnknownFormatError, open_sequence
from slamseg.sequences.readers.nyu_labeled import read_cell_strings

SPLITS = json.loads((Path(__file__).parents[2] / "sequences" / "data" / "nyu_splits.json").read_text())
H, W = 480, 640
# 894-class ids of nyu894_to_40.json with their 40- and 13-class ids (names from the same table):
# 4 ceiling -> 22 ceiling -> 3 ceiling; 11 floor -> 2 floor -> 5 floor; 21 wall -> 1 wall -> 12 wall;
# 5 chair -> 5 chair -> 4 chair; 7 counter -> 12 counter -> 6 furniture.
CEILING, FLOOR, WALL, CHAIR, COUNTER = 4, 11, 21, 5, 7


def _matlab_class(obj: h5py.HLObject, name: str) -> None:
    obj.attrs["MATLAB_class"] = np.bytes_(name)


def _cell_of_char(f: h5py.File, key: str, strings: list[str]) -> None:
    refs = []
    for k, text in enumerate(strings):
        name = f"#refs#/{key}_{k}"
        if text:
            ds = f.create_dataset(name, data=np.array([[ord(c)] for c in text], dtype=np.uint16))  # 1 x n -> (n, 1)
            ds.attrs["MATLAB_int_decode"] = np.int32(2)
        else:
            ds = f.create_dataset(name, data=np.zeros(2, dtype=np.uint64))
            ds.attrs["MATLAB_empty"] = np.uint8(1)
        _matlab_class(ds, "char")
        refs.append(ds.ref)
    cell = f.create_dataset(key, data=np.array([refs], dtype=h5py.ref_dtype))  # MATLAB n x 1 -> h5py (1, n)
    _matlab_class(cell, "cell")


def write_labeled_mat(path: Path, rgb: np.ndarray, depths: np.ndarray, raw_depths: np.ndarray, labels: np.ndarray,
                      scenes: list[str], names: list[str] | None = None, scene_types: bool = True) -> Path:
    """Write N frames (numpy H x W order) as MATLAB v7.3 stores nyu_depth_v2_labeled.mat.

    ``names=None`` / ``scene_types=False`` leave those cells out (each string costs ~1 ms to write with h5py).
    """
    with h5py.File(path, "w", userblock_size=512) as f:
        for key, data, cls in [("images", rgb.transpose(0, 3, 2, 1), "uint8"),
                               ("depths", depths.transpose(0, 2, 1), "single"),
                               ("rawDepths", raw_depths.transpose(0, 2, 1), "single"),
                               ("labels", labels.transpose(0, 2, 1), "uint16")]:
            # MATLAB writes compressed chunks; one chunk per frame keeps single-frame reads cheap here too
            ds = f.create_dataset(key, data=np.ascontiguousarray(data), chunks=(1, *data.shape[1:]),
                                  compression="gzip", compression_opts=1)
            _matlab_class(ds, cls)
        _cell_of_char(f, "scenes", scenes)
        if scene_types:
            _cell_of_char(f, "sceneTypes", [s.rsplit("_", 1)[0] for s in scenes])
        if names is not None:
            _cell_of_char(f, "names", names)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as f:  # MATLAB's 128-byte text header in the userblock (h5py leaves it zeroed)
        f.write(header.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM")
    return path


def _pattern_frames(n: int) -> tuple[np.ndarray, ...]:
    v, u = np.indices((H, W))
    rgb = np.zeros((n, H, W, 3), np.uint8)
    rgb[..., 0] = (u * 255 // (W - 1))[None]  # red grows to the right
    rgb[..., 1] = (v * 255 // (H - 1))[None]  # green grows downwards
    rgb[:, :20, :40, 2] = 255  # a blue marker in the top-left corner only
    rgb[..., 2] += np.arange(n, dtype=np.uint8)[:, None, None] * 7  # frame signature
    depths = np.broadcast_to((1.0 + u / W + 2.0 * v / H).astype(np.float32), (n, H, W)).copy()
    raw = depths.copy()
    raw[:, :, :100] = 0.0  # no measurement on the left
    labels = np.full((n, H, W), WALL, np.uint16)
    labels[:, : H // 4] = CEILING
    labels[:, 3 * H // 4:] = FLOOR
    labels[:, H // 4: 3 * H // 4, W // 2:] = CHAIR
    labels[:, 200, 5] = COUNTER
    labels[:, 240, 320] = 0  # unlabelled
    return rgb, depths, raw, labels


@pytest.fixture(scope="module")
def mat_file(tmp_path_factory) -> Path:
    rgb, depths, raw, labels = _pattern_frames(3)
    path = tmp_path_factory.mktemp("nyu") / "nyu_depth_v2_labeled.mat"
    names = ["book", "bottle", "cabinet", "ceiling", "chair"] + [f"class{k}" for k in range(6, 895)]
    return write_labeled_mat(path, rgb, depths, raw, labels, ["kitchen_0004", "living_room_0010", "office_0003"],
                             names)


def test_detected_and_frames_come_out_the_right_way_up(mat_file: Path):
    seq = open_sequence(mat_file)
    assert type(seq).__name__ == "NyuLabeledSequence" and len(seq) == 3 and seq.label_set.name == "nyu40"
    assert seq.camera.fx == pytest.approx(518.858, abs=1e-3) and seq.camera.shape == (480, 640)
    assert seq.camera.distortion is None
    frame = seq[1]
    assert frame.rgb.shape == (480, 640, 3) and frame.rgb.dtype == np.uint8
    assert tuple(frame.rgb[0, 0]) == (0, 0, 255 + 7 - 256)  # top-left: marker (uint8 wraps) with frame 1's +7
    assert tuple(frame.rgb[479, 639]) == (255, 255, 7)  # bottom-right: full red and green, no marker
    assert tuple(frame.rgb[0, 639]) == (255, 0, 7) and tuple(frame.rgb[479, 0]) == (0, 255, 7)
    assert frame.depth.dtype == np.float32 and frame.depth.shape == (480, 640)
    assert frame.depth[0, 0] == pytest.approx(1.0) and frame.depth[479, 0] == pytest.approx(1 + 2 * 479 / 480)
    assert frame.meta["scene"] == "living_room_0010" and frame.meta["scene_type"] == "living_room"
    assert frame.meta["mat_index"] == 2 and frame.pose is None


def test_label_sets_894_40_13(mat_file: Path):
    by_set = {name: open_sequence(mat_file, label_set=name)[0].labels for name in ("nyu894", "nyu40", "nyu13")}
    pixels = {"ceiling": (0, 100), "floor": (479, 100), "wall": (240, 100), "chair": (240, 600),
              "counter": (200, 5), "unlabelled": (240, 320)}
    expected = {"nyu894": [CEILING, FLOOR, WALL, CHAIR, COUNTER, 0], "nyu40": [22, 2, 1, 5, 12, 0],
                "nyu13": [3, 5, 12, 4, 6, 0]}
    for name, ids in expected.items():
        assert [int(by_set[name][p]) for p in pixels.values()] == ids, name
    with pytest.raises(SequenceFormatError, match="label_set must be one of"):
        open_sequence(mat_file, label_set="kitti6")


def test_raw_depths_and_cell_strings(mat_file: Path):
    frame = open_sequence(mat_file, depth="rawDepths")[2]
    assert np.all(frame.depth[:, :100] == 0) and frame.depth[0, 100] == pytest.approx(1 + 100 / 640)
    with h5py.File(mat_file, "r") as f:
        names = read_cell_strings(f, "names")
        assert len(names) == 894 and names[3] == "ceiling" and names[-1] == "class894"


def test_standard_split_on_a_full_length_small_file(tmp_path: Path):
    n, h, w = 1449, 6, 8  # every frame, downsized so the file stays small
    index = np.arange(1, n + 1)
    rgb = np.zeros((n, h, w, 3), np.uint8)
    rgb[..., 0] = (index % 256)[:, None, None]
    rgb[..., 1] = (index // 256)[:, None, None]
    depths = np.broadcast_to((index / 1000.0).astype(np.float32)[:, None, None], (n, h, w)).copy()
    labels = np.ones((n, h, w), np.uint16)
    path = write_labeled_mat(tmp_path / "nyu_depth_v2_labeled.mat", rgb, depths, depths, labels,
                             [f"scene_{k:04d}" for k in index], scene_types=False)
    train, test = open_sequence(path, split="train"), open_sequence(path, split="test")
    assert len(train) == 795 and len(test) == 654
    assert set(train.mat_indices).isdisjoint(test.mat_indices)
    assert sorted(train.mat_indices + test.mat_indices) == list(range(1, 1450))
    # first train frame is .mat frame 3 (1-based), first test frame 1, last test frame per splits.mat
    assert train[0].depth[0, 0] == pytest.approx(0.003) and train[0].meta["scene"] == "scene_0003"
    assert train[0].meta["scene_type"] is None  # no sceneTypes key in this file
    assert test[0].depth[0, 0] == pytest.approx(0.001)
    last = SPLITS["testNdxs"][-1]
    pixel = test[653].rgb[0, 0].astype(int)
    assert test[653].meta["mat_index"] == last and pixel[0] + 256 * pixel[1] == last
    assert train.camera.fx == pytest.approx(518.858 * 8 / 640) and train.camera.shape == (6, 8)


def _frame_sum(args: tuple) -> int:
    seq, k = args
    return int(seq[k].rgb.sum())


def test_pickled_and_forked_copies_open_their_own_handle(mat_file: Path):
    seq = open_sequence(mat_file)
    expected = int(seq[2].rgb.sum())  # the parent's handle is open now
    copy = pickle.loads(pickle.dumps(seq))
    assert copy._handle is None and int(copy[2].rgb.sum()) == expected
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_frame_sum, [(seq, 2)]) == [expected]


def test_bad_input(tmp_path: Path, mat_file: Path):
    rgb, depths, raw, labels = _pattern_frames(1)
    labels[0, 0, 0] = 900
    bad = write_labeled_mat(tmp_path / "bad.mat", rgb, depths, raw, labels, ["a_1"])
    with pytest.raises(SequenceFormatError, match=r"bad.mat: key 'labels' frame 1: ids must be 0..894"):
        open_sequence(bad)[0]
    with pytest.raises(SequenceFormatError, match="has 1"):
        open_sequence(bad, split="test")
    with h5py.File(tmp_path / "no_raw.mat", "w") as f:
        f["images"] = np.zeros((1, 3, 8, 6), np.uint8)
        f["depths"] = np.zeros((1, 8, 6), np.float32)
        f["labels"] = np.zeros((1, 8, 7), np.uint16)
    with pytest.raises(SequenceFormatError, match=r"key 'labels': expected h5py shape \(1, 8, 6\)"):
        open_sequence(tmp_path / "no_raw.mat")
    with pytest.raises(SequenceFormatError, match="key 'rawDepths' is missing"):
        open_sequence(tmp_path / "no_raw.mat", depth="rawDepths")
    with h5py.File(tmp_path / "other.mat", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(UnknownFormatError):
        open_sequence(tmp_path / "other.mat")


LABELS_13 = Path(__file__).parents[1] / "data" / "nyuv2_test_labels_13"


def test_13_class_pngs_hold_nyu13_ids_with_void_zero(tmp_path: Path):
    from slamseg.sequences import get_label_set
    from slamseg.sequences.imageio_utils import write_png
    from slamseg.sequences.readers.nyu_labeled import read_nyu13_png

    names = get_label_set("nyu13").names
    assert (names[0], names[3], names[5], names[12]) == ("void", "ceiling", "floor", "wall")
    files = sorted(LABELS_13.glob("new_nyu_class13_*.png"))
    assert len(files) == 5
    seen = set()
    for path in files:
        labels = read_nyu13_png(path)
        assert labels.shape == (480, 640) and labels.dtype == np.uint8
        seen |= set(np.unique(labels).tolist())
        rows = np.indices(labels.shape)[0]
        # 3 = ceiling sits in the top fifth of every image, 5 = floor (where visible) in the bottom fifth, wall
        # (12) in between: the 1-based reading. (0-based, 3 would be chair and 5 furniture.)
        assert rows[labels == 3].mean() < 96
        assert (labels == 5).sum() == 0 or rows[labels == 5].mean() > 384
        assert rows[labels == 3].mean() < rows[labels == 12].mean()
        assert np.all(labels[:5] == 0)  # the labelled set's unlabelled border
    assert 13 in seen and seen <= set(range(14))  # 13 occurs: the ids cannot be 0-based 0..12
    bad = np.zeros((480, 640), np.uint8)
    bad[10, 10] = 14
    write_png(tmp_path / "bad.png", bad)
    with pytest.raises(SequenceFormatError, match=r"bad.png: nyu13 label PNGs hold ids 0..13 \(0 = void\), found 14"):
        read_nyu13_png(tmp_path / "bad.png")
