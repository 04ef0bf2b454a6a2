"""The ``Sequence`` abstraction, the format registry and ``open_sequence``.

A reader subclasses :class:`Sequence`, implements ``__len__`` and ``_load_frame`` and registers itself with
:func:`register_format` (a name, a detector that recognises a path, and the opener). ``open_sequence`` picks the
format by detection or by name; nothing downstream knows which dataset a frame came from.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError, UnknownFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.labelsets import LabelSet

log = logging.getLogger(__name__)


class Sequence(ABC):
    """An indexable, sliceable, iterable source of :class:`Frame` s.

    Subclasses set ``name``, ``camera`` and ``label_set`` (None when the dataset has no labels) and implement
    :meth:`__len__` and :meth:`_load_frame`. ``strict`` decides what a corrupt frame does during iteration:
    raise (True) or log a warning, record it in :attr:`skipped` and go on (False).
    """

    name: str = "sequence"
    camera: Camera
    label_set: LabelSet | None = None
    strict: bool = True

    # The dataset's own ground-truth trajectory at its own rate, (N seconds, N x 4 x 4 camera-to-world), when it
    # ships one separately from the frames (TUM's groundtruth.txt); frames still carry poses interpolated from it.
    ground_truth: tuple[np.ndarray, np.ndarray] | None = None

    def __init__(self) -> None:
        self.skipped: list[tuple[int, str]] = []

    @abstractmethod
    def __len__(self) -> int:
        """Number of frames."""

    @abstractmethod
    def _load_frame(self, i: int) -> Frame:
        """Load frame ``i`` (0 <= i < len); raise SequenceFormatError naming the file when it is corrupt."""

    def __getitem__(self, key: int | slice) -> Frame | Sequence:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            return SequenceView(self, range(start, stop, step))
        i = int(key)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"frame {key} out of range for {self.name!r} with {len(self)} frames")
        return self._load_frame(i)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            frame = self._try_load(self, i)
            if frame is not None:
                yield frame

    def load_or_skip(self, i: int) -> Frame | None:
        """Frame at position ``i``, or None when it is corrupt and the sequence is not strict (recorded in
        :attr:`skipped`); a strict sequence raises. Pipelines that walk positions themselves use this."""
        return self._try_load(self, i)

    def _try_load(self, owner: Sequence, i: int) -> Frame | None:
        try:
            return owner._load_frame(i)
        except SequenceFormatError as err:
            if self.strict:
                raise
            log.warning("skipping corrupt frame %d of %s: %s", i, self.name, err)
            self.skipped.append((i, str(err)))
            return None

    def slice(self, start: int = 0, stop: int | None = None, step: int = 1) -> Sequence:
        """Frames ``start:stop:step`` as a Sequence (frame indices are kept)."""
        return self[start:stop:step]  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, frames={len(self)})"


class SequenceView(Sequence):
    """A slice of another sequence; frames keep their original ``index``."""

    def __init__(self, base: Sequence, indices: range) -> None:
        super().__init__()
        self.base = base
        self.indices = indices
        self.name = base.name
        self.camera = base.camera
        self.label_set = base.label_set
        self.strict = base.strict

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def ground_truth(self) -> tuple[np.ndarray, np.ndarray] | None:  # type: ignore[override]
        """The base sequence's ground-truth trajectory."""
        return self.base.ground_truth

    def _load_frame(self, i: int) -> Frame:
        return self.base._load_frame(self.indices[i])

    @property
    def skipped(self) -> list[tuple[int, str]]:  # type: ignore[override]
        return self.base.skipped

    @skipped.setter
    def skipped(self, value: list) -> None:  # the base owns the record
        pass

    def _try_load(self, owner: Sequence, i: int) -> Frame | None:
        return self.base._try_load(self.base, self.indices[i])


@dataclass(frozen=True)
class FormatSpec:
    """A registered sequence format."""

    name: str
    detect: Callable[[Path], bool]
    open: Callable[..., Sequence]
    description: str


_FORMATS: dict[str, FormatSpec] = {}


def register_format(name: str, detect: Callable[[Path], bool], description: str) -> Callable:
    """Class/function decorator registering an opener ``f(path, **options) -> Sequence`` under ``name``.

    Detectors are tried in registration order, so register the most specific formats first.
    """

    def deco(opener: Callable[..., Sequence]) -> Callable[..., Sequence]:
        _FORMATS[name] = FormatSpec(name, detect, opener, description)
        return opener

    return deco


def known_formats() -> dict[str, FormatSpec]:
    """Registered formats by name (importing the readers registers them)."""
    _ensure_readers_imported()
    return dict(_FORMATS)


def _ensure_readers_imported() -> None:
    # The readers register on import; keep it lazy so that importing the data model stays cheap.
    import slamseg.sequences.readers  # noqa: F401


def detect_format(path: str | Path) -> str:
    """Name of the first registered format whose detector accepts ``path``."""
    p = Path(path)
    if not p.exists():
        raise SequenceFormatError(f"{p}: no such file or folder")
    for spec in known_formats().values():
        try:
            if spec.detect(p):
                return spec.name
        except OSError:
            continue
    raise UnknownFormatError(
        f"{p}: no known sequence format recognises this path; known formats: {', '.join(sorted(_FORMATS))} "
        "(pass format=... to choose one)"
    )


def open_sequence(path: str | Path, format: str | None = None, **options) -> Sequence:  # noqa: A002
    """Open a dataset folder or file as a :class:`Sequence`.

    Args:
        path: a dataset folder (NYU raw scene, TUM, ICL-NUIM, KITTI drive, 7-Scenes / 3DMatch sequence, ScanNet
            export, ROS 2 bag, image folder) or file (NYU .mat, ROS 1 .bag).
        format: a registered format name; None detects it from the layout.
        **options: passed to the format's reader (e.g. ``strict``, ``max_time_diff``).
    """
    formats = known_formats()
    name = format or detect_format(path)
    if name not in formats:
        raise UnknownFormatError(f"unknown sequence format {name!r}; known formats: {', '.join(sorted(formats))}")
    return formats[name].open(Path(path), **options)
