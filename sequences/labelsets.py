"""Label sets (NYU-894, NYU-40, NYU-13, KITTI-11, KITTI-6) and probability-preserving mappings between them.

Conventions (DESIGN.md):
- a label image holds class ids of one set; id 0 is void in every set here;
- a probability image is H x W x K with one channel per NON-void class, in id order: channel c is class id
  c + 1. (The released networks emit 40 NYU channels, no void channel.)
- mapping probabilities sums the source channels that map to the same target class; mass of source classes
  that map to void in the target (KITTI-11 fence -> KITTI-6 void, say) is dropped, and callers that need a
  distribution renormalise (``renormalise=True``).

The NYU tables come from ../shared/reference/nyu/ (copied into ``sequences/data/``).
"""

from __future__ import annotations

import colorsys
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from slamseg.sequences.errors import LabelSetError

_DATA = Path(__file__).parent / "data"


@dataclass(frozen=True, eq=False)
class LabelSet:
    """A named set of classes.

    Attributes:
        name: registry name, e.g. ``"nyu40"``.
        names: class names indexed by id; ``names[0]`` is ``"void"``.
        colours: (len(names)) x 3 uint8 RGB palette indexed by id.
        void_id: the id of "no label" (0 for every set here).
    """

    name: str
    names: tuple[str, ...]
    colours: np.ndarray
    void_id: int = 0

    @property
    def num_classes(self) -> int:
        """Number of non-void classes K (= channels of a probability image)."""
        return len(self.names) - 1

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names of the K non-void classes in channel order."""
        return self.names[1:]

    def id_of(self, class_name: str) -> int:
        """Class id of ``class_name`` (case-insensitive)."""
        lowered = [n.lower() for n in self.names]
        try:
            return lowered.index(class_name.lower())
        except ValueError:
            raise LabelSetError(f"label set {self.name!r} has no class {class_name!r}") from None

    def colourise(self, labels: np.ndarray) -> np.ndarray:
        """H x W ids -> H x W x 3 uint8 RGB with this set's palette; ids outside the set raise LabelSetError."""
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.names)):
            raise LabelSetError(
                f"labels range {labels.min()}..{labels.max()} outside {self.name!r} ids 0..{len(self.names) - 1}"
            )
        return self.colours[labels]

    def probs_to_labels(self, probs: np.ndarray) -> np.ndarray:
        """H x W x K probabilities -> H x W int32 ids (argmax + 1, since channel c is id c + 1)."""
        if probs.shape[-1] != self.num_classes:
            raise LabelSetError(f"{self.name!r} has {self.num_classes} classes, probabilities have {probs.shape[-1]}")
        return (np.argmax(probs, axis=-1) + 1).astype(np.int32)

    def one_hot(self, labels: np.ndarray, confidence: float = 1.0) -> np.ndarray:
        """Hard labels -> H x W x K float32 probabilities.

        The labelled class gets ``confidence`` and the others share the rest equally, so that a hard label can
        be Bayes-fused without ever zeroing a class for good. Void pixels get a uniform distribution.
        """
        if not 0.0 < confidence <= 1.0:
            raise LabelSetError(f"one-hot confidence must be in (0, 1], got {confidence}")
        k = self.num_classes
        rest = (1.0 - confidence) / (k - 1) if k > 1 else 0.0
        out = np.full((*labels.shape, k), rest, dtype=np.float32)
        valid = labels != self.void_id
        ids = labels[valid].astype(np.int64) - 1
        if ids.size and (ids.min() < 0 or ids.max() >= k):
            raise LabelSetError(f"labels outside {self.name!r} ids 1..{k}")
        out[valid, ids] = confidence
        out[~valid] = 1.0 / k
        return out


@dataclass(frozen=True, eq=False)
class LabelMapping:
    """Many-to-one mapping from the ids of ``source`` to the ids of ``target`` (void -> void)."""

    source: LabelSet
    target: LabelSet
    lut: np.ndarray  # len(source.names) int64: source id -> target id

    def map_labels(self, labels: np.ndarray) -> np.ndarray:
        """H x W source ids -> H x W target ids (same dtype family: int32, or uint8 for uint8 input)."""
        labels = np.asarray(labels)
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.lut)):
            raise LabelSetError(
                f"labels range {labels.min()}..{labels.max()} outside {self.source.name!r} ids 0..{len(self.lut) - 1}"
            )
        out = self.lut[labels]
        return out.astype(np.uint8 if labels.dtype == np.uint8 else np.int32)

    @property
    def matrix(self) -> np.ndarray:
        """Ks x Kt float32 0/1 matrix with ``probs_target = probs_source @ matrix``."""
        m = np.zeros((self.source.num_classes, self.target.num_classes), dtype=np.float32)
        for src in range(1, len(self.lut)):
            dst = int(self.lut[src])
            if dst != self.target.void_id:
                m[src - 1, dst - 1] = 1.0
        return m

    def map_probs(self, probs: np.ndarray, renormalise: bool = False) -> np.ndarray:
        """... x Ks probabilities -> ... x Kt by summing the source classes of each target class.

        Args:
            probs: float array whose last axis has one channel per non-void source class.
            renormalise: divide by the kept mass (matters only when some source classes map to void).
        Returns:
            float32 array of the same leading shape with Kt channels.
        """
        if probs.shape[-1] != self.source.num_classes:
            raise LabelSetError(
                f"mapping {self.source.name}->{self.target.name} expects {self.source.num_classes} channels, "
                f"got {probs.shape[-1]}"
            )
        out = (probs.astype(np.float32, copy=False) @ self.matrix).astype(np.float32, copy=False)
        if renormalise:
            out /= np.maximum(out.sum(axis=-1, keepdims=True), np.finfo(np.float32).tiny)
        return out


def _palette(n: int, seed_hue: float = 0.0) -> np.ndarray:
    """n + 1 distinct colours (id 0 = black void) by stepping the hue with the golden ratio."""
    cols = [(0, 0, 0)]
    for i in range(n):
        h = (seed_hue + i * 0.618033988749895) % 1.0
        s = 0.55 + 0.35 * ((i * 7) % 3) / 2
        v = 0.95 - 0.25 * ((i * 5) % 2)
        r, g, b = colorsys.hsv_to_rgb(h, s, v)
        cols.append((int(r * 255), int(g * 255), int(b * 255)))
    return np.array(cols, dtype=np.uint8)


@cache
def _nyu_tables() -> tuple[dict, dict]:
    with open(_DATA / "nyu40_to_13.json") as f:
        t13 = json.load(f)
    with open(_DATA / "nyu894_to_40.json") as f:
        t894 = json.load(f)
    return t13, t894


KITTI11_NAMES = ("void", "sky", "building", "road", "sidewalk", "fence", "vegetation", "pole", "car", "sign",
                 "pedestrian", "cyclist")
KITTI6_NAMES = ("void", "sky", "building", "road", "sidewalk", "vegetation", "car")
# Cityscapes-like colours so that outdoor maps read naturally (sky blue, road purple, vegetation green...).
_KITTI_COLOURS = {
    "void": (0, 0, 0), "sky": (70, 130, 180), "building": (70, 70, 70), "road": (128, 64, 128),
    "sidewalk": (244, 35, 232), "fence": (190, 153, 153), "vegetation": (107, 142, 35), "pole": (153, 153, 153),
    "car": (0, 0, 142), "sign": (220, 220, 0), "pedestrian": (220, 20, 60), "cyclist": (119, 11, 32),
}


@cache
def get_label_set(name: str) -> LabelSet:
    """The label set registered as ``name``: nyu894, nyu40, nyu13, kitti11, kitti6."""
    key = name.lower().replace("-", "").replace("_", "")
    if key == "nyu13":
        t13, _ = _nyu_tables()
        names = tuple(t13["names_13"][str(i)] for i in range(14))
        scheme = t13["semanticfusion_class_colour_scheme"]
        colours = np.array([scheme[str(i)]["rgb"] for i in range(14)], dtype=np.uint8)
        return LabelSet("nyu13", names, colours)
    if key == "nyu40":
        t13, _ = _nyu_tables()
        names = tuple(t13["names_40"][str(i)] for i in range(41))
        return LabelSet("nyu40", names, _palette(40))
    if key == "nyu894":
        _, t894 = _nyu_tables()
        n = len(t894["names894"])
        names = ("void", *(t894["names894"][str(i)] for i in range(1, n + 1)))
        return LabelSet("nyu894", names, _palette(n, seed_hue=0.3))
    if key in ("kitti11", "kitti6"):
        names = KITTI11_NAMES if key == "kitti11" else KITTI6_NAMES
        return LabelSet(key, names, np.array([_KITTI_COLOURS[n] for n in names], dtype=np.uint8))
    raise LabelSetError(f"unknown label set {name!r}; known: {', '.join(LABEL_SET_NAMES)}")


LABEL_SET_NAMES = ("nyu894", "nyu40", "nyu13", "kitti11", "kitti6")


@cache
def _direct_lut(src: str, dst: str) -> np.ndarray | None:
    if (src, dst) == ("nyu40", "nyu13"):
        t13, _ = _nyu_tables()
        return np.array(t13["lut_40_to_13_array"], dtype=np.int64)
    if (src, dst) == ("nyu894", "nyu40"):
        _, t894 = _nyu_tables()
        m = t894["map894_to_40"]
        return np.array([0] + [int(m[str(i)]) for i in range(1, len(m) + 1)], dtype=np.int64)
    if (src, dst) == ("kitti11", "kitti6"):
        kept = {n: i for i, n in enumerate(KITTI6_NAMES)}
        return np.array([kept.get(n, 0) for n in KITTI11_NAMES], dtype=np.int64)
    return None


# The chains that exist; a mapping between any two sets on one chain is the composition along it.
_CHAINS = (("nyu894", "nyu40", "nyu13"), ("kitti11", "kitti6"))


def get_mapping(source: str | LabelSet, target: str | LabelSet) -> LabelMapping:
    """The mapping from ``source`` to ``target`` (identity when they are the same set).

    Raises LabelSetError when no chain leads from one to the other (e.g. nyu13 -> nyu40 loses information).
    """
    src = source if isinstance(source, LabelSet) else get_label_set(source)
    dst = target if isinstance(target, LabelSet) else get_label_set(target)
    if src.name == dst.name:
        return LabelMapping(src, dst, np.arange(len(src.names), dtype=np.int64))
    for chain in _CHAINS:
        if src.name in chain and dst.name in chain and chain.index(src.name) < chain.index(dst.name):
            lut = np.arange(len(src.names), dtype=np.int64)
            for a, b in zip(chain[chain.index(src.name):], chain[chain.index(src.name) + 1:chain.index(dst.name) + 1]):
                lut = _direct_lut(a, b)[lut]
            return LabelMapping(src, dst, lut)
    raise LabelSetError(f"no mapping from label set {src.name!r} to {dst.name!r}")
