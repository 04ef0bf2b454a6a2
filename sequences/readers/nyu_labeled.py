"""NYU Depth v2 labelled set: ``nyu_depth_v2_labeled.mat`` (1449 frames, MATLAB v7.3 = HDF5, read with h5py).

MATLAB stores arrays column-major, so h5py sees every array with its dimensions reversed:

===============  ======================  ======================  =========================================
key              MATLAB                  h5py                    per frame here
===============  ======================  ======================  =========================================
``images``       480 x 640 x 3 x 1449    (1449, 3, 640, 480)     H x W x 3 uint8 RGB (``[i].transpose(2,1,0)``)
``depths``       480 x 640 x 1449        (1449, 640, 480)        H x W float32 metres, in-painted (``[i].T``)
``rawDepths``    480 x 640 x 1449        (1449, 640, 480)        H x W float32 metres, 0 = no measurement
``labels``       480 x 640 x 1449        (1449, 640, 480)        H x W ids 1..894 (``names``), 0 = unlabelled
``names``        894 x 1 cell of char    object references       class names (not needed: sequences/data)
``scenes``       1449 x 1 cell of char   object references       ``Frame.meta["scene"]``, e.g. kitchen_0004
``sceneTypes``   1449 x 1 cell of char   object references       ``Frame.meta["scene_type"]``, e.g. kitchen
===============  ======================  ======================  =========================================

A cell array of char is a dataset of HDF5 object references; each points to a uint16 array of UTF-16 code units
(MATLAB_class "char"); an empty string is a uint64 ``[0, 0]`` with the attribute MATLAB_empty.

The images are the Kinect colour frames already undistorted, and depth is already projected into the colour
camera (toolbox ``project_depth_map``), so the camera is the NYU RGB intrinsics without distortion. Files of
another image size than 640 x 480 (downsized exports, test fixtures) get those intrinsics scaled to their size.

Options: ``split`` selects the standard 795 train / 654 test frames (``sequences/data/nyu_splits.json``, 1-based
indices into the 1449 frames; ``Frame.meta["mat_index"]`` keeps that 1-based index); ``label_set`` maps the
894-class ids to "nyu894", "nyu40" (default) or "nyu13"; ``depth`` chooses "depths" (in-painted, default) or
"rawDepths". Frames are unrelated stills: no pose, timestamp = position / 30 s.

The HDF5 file is opened lazily, once per process, and read one frame at a time (the full file is 2.8 GB). A
sequence pickled into DataLoader workers, or inherited through fork, opens its own handle there: h5py handles
must not be shared across processes.
"""

from __future__ import annotations

import json
import logging
import os
from functools import cache
from pathlib import Path

import h5py
import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.imageio_utils import read_label_image
from slamseg.sequences.labelsets import get_label_set, get_mapping
from slamseg.sequences.readers.nyu_kinect import HEIGHT, RGB_INTRINSICS, WIDTH
from slamseg.sequences.sequence import Sequence

log = logging.getLogger(__name__)

_SPLITS = Path(__file__).resolve().parents[1] / "data" / "nyu_splits.json"
NUM_LABELED_FRAMES = 1449
NUM_CLASSES_894 = 894
REQUIRED_KEYS = ("images", "depths", "labels")
DEPTH_KEYS = ("depths", "rawDepths")
LABEL_SETS = ("nyu894", "nyu40", "nyu13")
FPS = 30.0


@cache
def split_indices(split: str) -> tuple[int, ...]:
    """1-based indices of the standard ``"train"`` (795) or ``"test"`` (654) frames of the labelled set."""
    key = {"train": "trainNdxs", "test": "testNdxs"}.get(split)
    if key is None:
        raise SequenceFormatError(f"split must be 'train', 'test' or None, got {split!r}")
    with open(_SPLITS) as f:
        return tuple(int(i) for i in json.load(f)[key])


def decode_matlab_string(obj: h5py.Dataset) -> str:
    """A MATLAB v7.3 char array (uint16 UTF-16 code units, any shape; MATLAB_empty -> "") as a Python str."""
    if obj.attrs.get("MATLAB_empty", 0):
        return ""
    codes = np.asarray(obj[()]).ravel(order="F")  # a 1 x N char row is stored N x 1: order does not matter
    return np.asarray(codes, dtype="<u2").tobytes().decode("utf-16-le")


def read_cell_strings(file: h5py.File, key: str) -> list[str]:
    """A MATLAB cell array of char (``names``, ``scenes``, ``sceneTypes``) as a list of str, in MATLAB order."""
    try:
        refs = np.asarray(file[key][()]).ravel(order="F")
        return [decode_matlab_string(file[ref]) for ref in refs]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise SequenceFormatError(
            f"{file.filename}: key {key!r}: expected a MATLAB cell array of char (object references to uint16 "
            f"char arrays): {err}"
        ) from err


def read_nyu13_png(path: str | Path, size: tuple[int, int] | None = (HEIGHT, WIDTH)) -> np.ndarray:
    """Read a 13-class NYUv2 label PNG of ankurhanda/nyuv2-meta-data (``new_nyu_class13_XXXX.png``) as nyu13 ids.

    Those files already hold slamseg's nyu13 ids: 0 = void/unlabelled, 1..13 = bed, books, ceiling, chair,
    floor, furniture, objects, picture, sofa, table, tv, wall, window (alphabetical, as ``class13Mapping.mat``);
    tests/data/SOURCES.md records the evidence. Values above 13 are refused.

    Args:
        path: 8-bit single-channel PNG.
        size: expected (height, width), None to accept any.
    Returns:
        H x W uint8 nyu13 ids.
    """
    labels = read_label_image(path, size)
    if labels.dtype != np.uint8:
        raise SequenceFormatError(f"{path}: expected an 8-bit label PNG of nyu13 ids, got {labels.dtype}")
    if labels.size and labels.max() > 13:
        raise SequenceFormatError(f"{path}: nyu13 label PNGs hold ids 0..13 (0 = void), found {int(labels.max())}")
    return labels


def _is_labeled_mat(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return all(key in f for key in REQUIRED_KEYS)
    except OSError:
        return False


class NyuLabeledSequence(Sequence):
    """The NYU Depth v2 labelled set (see module doc).

    Frames: rgb H x W x 3 uint8; depth H x W float32 metres (0 = invalid); labels H x W ids of ``label_set``
    (uint8 for nyu40/nyu13, uint16 for nyu894; 0 = void); meta ``mat_index`` (1-based), ``scene``, ``scene_type``.

    Args:
        path: ``nyu_depth_v2_labeled.mat``.
        split: "train", "test" or None (all frames in file order).
        label_set: "nyu894", "nyu40" or "nyu13".
        depth: "depths" (in-painted) or "rawDepths".
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
    """

    def __init__(self, path: Path, split: str | None = None, label_set: str = "nyu40", depth: str = "depths",
                 strict: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.strict = strict
        if label_set not in LABEL_SETS:
            raise SequenceFormatError(f"label_set must be one of {', '.join(LABEL_SETS)}, got {label_set!r}")
        if depth not in DEPTH_KEYS:
            raise SequenceFormatError(f"depth must be one of {', '.join(DEPTH_KEYS)}, got {depth!r}")
        self.depth_key = depth
        self.label_set = get_label_set(label_set)
        self._lut = get_mapping("nyu894", label_set).lut.astype(np.uint8)  # 895 entries, every target id < 256
        self._handle: h5py.File | None = None
        self._pid: int | None = None
        self._scene_refs: np.ndarray | None = None
        self._type_refs: np.ndarray | None = None

        f = self._file()
        count, width, height = self._check_layout(f)
        self.name = self.path.stem if split is None else f"{self.path.stem}_{split}"
        if split is None:
            self.mat_indices = tuple(range(1, count + 1))
        else:
            self.mat_indices = split_indices(split)
            if max(self.mat_indices) > count:
                raise SequenceFormatError(
                    f"{self.path}: the standard {split} split indexes the {NUM_LABELED_FRAMES} frames of "
                    f"nyu_depth_v2_labeled.mat (up to {max(self.mat_indices)}); this file has {count}"
                )
        camera = Camera(*RGB_INTRINSICS, WIDTH, HEIGHT)
        self.camera = camera if (width, height) == (WIDTH, HEIGHT) else camera.scaled(width, height)
        if (width, height) != (WIDTH, HEIGHT):
            log.info("%s: %dx%d frames, not the labelled set's 640x480; NYU intrinsics scaled", self.path,
                     width, height)

    def _check_layout(self, f: h5py.File) -> tuple[int, int, int]:
        """Validate key presence and shapes; returns (frames, width, height)."""
        for key in (*REQUIRED_KEYS, self.depth_key):
            if key not in f or not isinstance(f[key], h5py.Dataset):
                raise SequenceFormatError(f"{self.path}: key {key!r} is missing (a NYU labelled .mat has "
                                          f"{', '.join((*REQUIRED_KEYS, *DEPTH_KEYS))})")
        images = f["images"]
        if images.ndim != 4 or images.shape[1] != 3:
            raise SequenceFormatError(f"{self.path}: key 'images': expected h5py shape (N, 3, W, H) (MATLAB "
                                      f"H x W x 3 x N), got {images.shape}")
        count, _, width, height = images.shape
        for key in ("labels", self.depth_key):
            if f[key].shape != (count, width, height):
                raise SequenceFormatError(f"{self.path}: key {key!r}: expected h5py shape {(count, width, height)} "
                                          f"to match 'images' {images.shape}, got {f[key].shape}")
        return count, width, height

    def _file(self) -> h5py.File:
        """This process's read-only handle (reopened in a forked or unpickled copy)."""
        if self._handle is None or self._pid != os.getpid():
            try:
                self._handle = h5py.File(self.path, "r")
            except OSError as err:
                raise SequenceFormatError(f"{self.path}: cannot open as HDF5 (MATLAB v7.3 .mat): {err}") from err
            self._pid = os.getpid()
            self._scene_refs = self._type_refs = None
        return self._handle

    def close(self) -> None:
        """Close this process's file handle (the next frame read reopens it)."""
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_handle=None, _pid=None, _scene_refs=None, _type_refs=None)  # handles do not cross processes
        return state

    def __len__(self) -> int:
        return len(self.mat_indices)

    def _cell_string(self, key: str, i: int) -> str | None:
        f = self._file()
        if key not in f:
            return None
        attr = "_scene_refs" if key == "scenes" else "_type_refs"
        refs = getattr(self, attr)
        if refs is None:
            refs = np.asarray(f[key][()]).ravel(order="F")
            setattr(self, attr, refs)
        try:
            return decode_matlab_string(f[refs[i]])
        except (IndexError, KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
            raise SequenceFormatError(f"{self.path}: key {key!r}[{i}]: expected a reference to a MATLAB char "
                                      f"array: {err}") from err

    def _load_frame(self, k: int) -> Frame:
        i = self.mat_indices[k] - 1
        f = self._file()
        try:
            rgb = np.ascontiguousarray(f["images"][i].transpose(2, 1, 0))
            depth = np.ascontiguousarray(f[self.depth_key][i].T, dtype=np.float32)
            labels894 = f["labels"][i].T
        except (OSError, ValueError) as err:  # a truncated or corrupt chunk
            raise SequenceFormatError(f"{self.path}: cannot read frame {i + 1} (1-based): {err}") from err
        if rgb.dtype != np.uint8:
            raise SequenceFormatError(f"{self.path}: key 'images': expected uint8, got {rgb.dtype}")
        if labels894.size and (labels894.min() < 0 or labels894.max() > NUM_CLASSES_894):
            raise SequenceFormatError(f"{self.path}: key 'labels' frame {i + 1}: ids must be 0..{NUM_CLASSES_894}, "
                                      f"got {labels894.min()}..{labels894.max()}")
        labels = self._lut[labels894.astype(np.int64)] if self.label_set.name != "nyu894" else \
            np.ascontiguousarray(labels894, dtype=np.uint16)
        depth[~np.isfinite(depth) | (depth < 0)] = 0.0  # 0 = invalid, the project's convention
        meta = {"source": f"{self.path}:images[{i}]", "mat_index": i + 1, "depth_key": self.depth_key,
                "scene": self._cell_string("scenes", i), "scene_type": self._cell_string("sceneTypes", i)}
        return Frame(index=k, timestamp=k / FPS, rgb=rgb, camera=self.camera, depth=depth, labels=labels,
                     meta=meta).validate()


def open_nyu_labeled(path: Path, split: str | None = None, label_set: str = "nyu40", depth: str = "depths",
                     strict: bool = True) -> NyuLabeledSequence:
    """Open ``nyu_depth_v2_labeled.mat`` (see :class:`NyuLabeledSequence`)."""
    return NyuLabeledSequence(path, split=split, label_set=label_set, depth=depth, strict=strict)


def detect_nyu_labeled(path: Path) -> bool:
    """A ``.mat`` file that is HDF5 (MATLAB v7.3) with the keys images, depths and labels."""
    return path.is_file() and path.suffix.lower() == ".mat" and h5py.is_hdf5(path) and _is_labeled_mat(path)
