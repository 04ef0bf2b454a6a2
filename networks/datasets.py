"""Training data: Sequences of Frames -> annotated, cached, concatenated training samples.

Any :class:`~slamseg.sequences.Sequence` with labels and/or depth (and/or normals) can be trained on: NYU
labelled (the .mat reader), image folders with label/depth folders, TUM-style lists, synthetic scenes. This
module turns the config's :class:`~slamseg.networks.train_config.DataSource` entries into sequences
(:func:`open_source`), wraps them with the asymmetric-annotation options (:class:`AnnotatedSequence`), and
concatenates them with label-id offsets into one indexable set (:class:`TrainingSet`).

Sample convention (numpy, before collation): ``image`` 3 x S x S float32 normalised RGB, ``segm`` S x S int64
channel ids (``IGNORE`` = 255 for void / unlabelled), ``depth`` S x S float32 metres (0 invalid), ``normals``
3 x S x S float32 (0 invalid), ``has_segm`` / ``has_depth`` / ``has_normals`` bool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slamseg.networks.augment import augment_sample
from slamseg.networks.errors import TrainingError
from slamseg.networks.losses import IGNORE
from slamseg.networks.train_config import AugmentOptions, DataSource
from slamseg.sequences.atomic import atomic_path
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.sequence import Sequence

log = logging.getLogger(__name__)


def expert_label_path(folder: str | Path, index: int) -> Path:
    """Where ``slamseg label`` writes (and training reads) the hard labels of frame ``index``."""
    return Path(folder) / f"{int(index):06d}.png"


def expert_depth_path(folder: str | Path, index: int) -> Path:
    """Where ``slamseg label --depth`` writes predicted depth of frame ``index`` (16-bit PNG, millimetres)."""
    return Path(folder) / "depth" / f"{int(index):06d}.png"


class CachedSequence(Sequence):
    """A Sequence whose frames are stored once as ``.npz`` files in ``folder`` (rendering / decoding happens
    on first access only; the write is atomic, so an interrupted run leaves no half file)."""

    def __init__(self, base: Sequence, folder: str | Path) -> None:
        super().__init__()
        self.base = base
        self.folder = Path(folder)
        self.name = base.name
        self.camera = base.camera
        self.label_set = base.label_set

    def __len__(self) -> int:
        return len(self.base)

    def _path(self, i: int) -> Path:
        return self.folder / f"{i:06d}.npz"

    def _load_frame(self, i: int) -> Frame:
        path = self._path(i)
        if not path.exists():
            frame = self.base[i]
            arrays = {"rgb": frame.rgb}
            for key in ("depth", "labels", "normals", "pose"):
                value = getattr(frame, key)
                if value is not None:
                    # normals to float16: a third of the disk, 1e-3 precision is far below the loss' noise
                    arrays[key] = value.astype(np.float16) if key == "normals" else value
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.savez(f, index=frame.index, timestamp=frame.timestamp, camera=np.array(
                    [self.camera.fx, self.camera.fy, self.camera.cx, self.camera.cy]), **arrays)
            return frame
        try:
            with np.load(path) as data:
                get = {k: data[k] for k in data.files}
        except (OSError, ValueError) as err:
            raise SequenceFormatError(f"{path}: unreadable cached frame ({err}); delete it to re-render") from err
        return Frame(
            index=int(get["index"]), timestamp=float(get["timestamp"]), rgb=get["rgb"], camera=self.camera,
            depth=get.get("depth"), labels=get.get("labels"), pose=get.get("pose"),
            normals=get["normals"].astype(np.float32) if "normals" in get else None,
            meta={"source": str(path)},
        )

    def materialise(self, progress: bool = False) -> None:
        """Render/decode every frame not yet cached."""
        todo = [i for i in range(len(self)) if not self._path(i).exists()]
        if progress and todo:
            from slamseg.sequences.progress import progress_bar

            todo = progress_bar(todo, desc=f"caching {self.name}", unit="frame")
        for i in todo:
            self._load_frame(i)


class AnnotatedSequence(Sequence):
    """A view of ``base`` with the asymmetric-annotation options of a :class:`DataSource` applied.

    Frames keep their ``index``; labels are dropped on all but every ``labels_every``-th *position* (0 = all),
    annotations named in ``drop`` are removed, and frames that then lack labels get the expert's hard labels
    from ``expert_labels`` when that folder holds a file for them (``meta["expert_labels"] = True``).
    """

    def __init__(self, base: Sequence, source: DataSource, expert_labels: str | Path | None = None) -> None:
        super().__init__()
        self.base = base
        self.source = source
        self.expert_labels = Path(expert_labels) if expert_labels else (
            Path(source.expert_labels) if source.expert_labels else None)
        n = len(base)
        self.positions = (
            list(range(n)) if source.max_frames is None or source.max_frames >= n
            else [round(x) for x in np.linspace(0, n - 1, source.max_frames)]
        )
        self.name = base.name
        self.camera = base.camera
        self.label_set = base.label_set
        if source.labelled_only:
            self.positions = [p for i, p in enumerate(self.positions) if self._keeps(i)]
            self.labelled_only = True

    labelled_only = False

    def __len__(self) -> int:
        return len(self.positions)

    def _keeps(self, i: int) -> bool:
        every = self.source.labels_every
        return "labels" not in self.source.drop and every > 0 and i % every == 0

    def keeps_labels(self, i: int) -> bool:
        """Whether position ``i`` keeps its own labels (before the expert fills the others)."""
        return self.labelled_only or self._keeps(i)

    def _load_frame(self, i: int) -> Frame:
        frame = self.base[self.positions[i]]
        if not self.keeps_labels(i):
            frame.labels = None
        if "depth" in self.source.drop:
            frame.depth = None
        if "normals" in self.source.drop:
            frame.normals = None
        if frame.labels is None and self.expert_labels is not None:
            path = expert_label_path(self.expert_labels, frame.index)
            if path.exists():
                import imageio.v3 as iio

                frame.labels = np.asarray(iio.imread(path))
                frame.meta["expert_labels"] = True
        return frame


def open_source(name: str, source: DataSource, cache_root: str | Path) -> Sequence:
    """The Sequence a config data source describes (synthetic scenes are cached under ``cache_root``)."""
    if source.kind == "synthetic":
        from slamseg.sequences.synthetic import SyntheticSequence

        parts = []
        for seed in source.seeds:
            base = SyntheticSequence(seed=seed, num_frames=source.frames, width=source.width,
                                     height=source.height, noise=source.noise, speed=source.speed)
            key = f"synthetic-s{seed}-n{source.frames}-{source.width}x{source.height}" \
                  f"-speed{source.speed:g}{'-noise' if source.noise else ''}"
            parts.append(CachedSequence(base, Path(source.cache or cache_root) / key))
        return parts[0] if len(parts) == 1 else ConcatSequence(parts, name)
    from slamseg.sequences import open_sequence

    seq = open_sequence(source.path, format=source.format, **source.options)
    return CachedSequence(seq, source.cache) if source.cache else seq


class ConcatSequence(Sequence):
    """Several sequences of the same camera and label set one after another (frame indices renumbered so that
    expert-label file names stay unique)."""

    def __init__(self, parts: list[Sequence], name: str) -> None:
        super().__init__()
        self.parts = parts
        self.name = name
        self.camera = parts[0].camera
        self.label_set = parts[0].label_set
        self.offsets = np.cumsum([0] + [len(p) for p in parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _load_frame(self, i: int) -> Frame:
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        frame = self.parts[k][i - int(self.offsets[k])]
        frame.index = i
        return frame


@dataclass
class Entry:
    """One dataset of a :class:`TrainingSet`."""

    name: str
    sequence: Sequence
    label_offset: int


def labels_to_channels(labels: np.ndarray, offset: int = 0, void_id: int = 0) -> np.ndarray:
    """H x W label ids -> H x W int64 channel ids: id c -> c - 1 + offset, void -> IGNORE (255).

    Channel c is class id c + 1 (slamseg.sequences.labelsets convention); the offset places a dataset's classes
    after another's in a concatenated model (NYUD 40 + KITTI 6: KITTI id 1 -> channel 40).
    """
    labels = np.asarray(labels).astype(np.int64)
    out = labels - 1 + offset
    out[labels == void_id] = IGNORE
    return out


class TrainingSet:
    """Concatenated training datasets; ``set[(index, seed)]`` is one augmented sample (see the module docstring).

    The augmentation draws from ``np.random.default_rng(seed)``: the sampler passes a seed per (epoch, sample),
    so a sample's crop and flip do not depend on which process or worker loads it, nor on resumption.
    """

    def __init__(self, entries: list[Entry], augment: AugmentOptions, mean: tuple[float, ...],
                 std: tuple[float, ...], tasks: tuple[str, ...]) -> None:
        self.entries = entries
        self.augment = augment
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.tasks = tasks
        self.offsets = np.cumsum([0] + [len(e.sequence) for e in entries])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def frame(self, i: int) -> tuple[Frame, Entry]:
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        entry = self.entries[k]
        return entry.sequence[i - int(self.offsets[k])], entry

    def __getitem__(self, key: tuple[int, int]) -> dict[str, np.ndarray]:
        index, seed = key
        frame, entry = self.frame(int(index))
        sample = frame_to_arrays(frame, entry.label_offset)
        sample = augment_sample(sample, self.augment, np.random.default_rng(seed))
        sample["image"] = ((sample.pop("rgb").astype(np.float32) / 255.0 - self.mean) / self.std).transpose(2, 0, 1)
        sample["normals"] = sample["normals"].transpose(2, 0, 1)
        return {k: np.ascontiguousarray(v) for k, v in sample.items()}


def frame_to_arrays(frame: Frame, label_offset: int = 0) -> dict[str, np.ndarray]:
    """A Frame -> H x W arrays (``rgb`` uint8 H x W x 3, ``segm`` channel ids, ``depth``, ``normals`` H x W x 3)
    with zero/IGNORE fillers and ``has_*`` flags for missing annotations."""
    h, w = frame.rgb.shape[:2]
    return {
        "rgb": frame.rgb,
        "segm": labels_to_channels(frame.labels, label_offset) if frame.labels is not None
        else np.full((h, w), IGNORE, dtype=np.int64),
        "depth": frame.depth.astype(np.float32) if frame.depth is not None else np.zeros((h, w), np.float32),
        "normals": frame.normals.astype(np.float32) if frame.normals is not None
        else np.zeros((h, w, 3), np.float32),
        "has_segm": np.array(frame.labels is not None),
        "has_depth": np.array(frame.depth is not None),
        "has_normals": np.array(frame.normals is not None),
    }


def annotation_counts(seq: Sequence) -> dict[str, int]:
    """Frames of ``seq`` carrying labels / depth / normals (loads every frame: use on cached data)."""
    counts = {"segm": 0, "depth": 0, "normals": 0}
    for frame in _frames(seq):
        counts["segm"] += frame.labels is not None
        counts["depth"] += frame.depth is not None
        counts["normals"] += frame.normals is not None
    return counts


def _frames(seq: Sequence) -> Iterator[Frame]:
    for i in range(len(seq)):
        yield seq[i]


def check_label_range(name: str, seq: Sequence, offset: int, num_classes: int) -> None:
    """One-line TrainingError when a dataset's classes do not fit the model's channels."""
    if seq.label_set is None:
        return
    top = seq.label_set.num_classes + offset
    if top > num_classes:
        raise TrainingError(
            f"data {name!r}: label set {seq.label_set.name!r} has {seq.label_set.num_classes} classes"
            f"{f' at offset {offset}' if offset else ''} (channels up to {top}), but the model has {num_classes} "
            "classes; set model.num_classes or the source's label_offset"
        )
