"""Bayesian label fusion shared by the semantic TSDF and the surfel map, and preparation of per-frame inputs.

Two update rules, both for a map element holding a distribution over K classes and a new observation q
(the class probabilities of the pixel the element projects to):

- :func:`fuse_log_probs` (the TSDF's rule): ``log p += log max(q, floor)``, then renormalise in log space
  (subtract the log-sum-exp). Working in log space with a floor on q means no class is ever driven to an
  exact zero (a single confident wrong frame cannot veto a class for good) and nothing underflows, however
  many frames are fused.
- :func:`fuse_probs_semanticfusion` (SemanticFusion, McCormac et al. ICRA 2017, exactly):
  ``p <- p * q``, renormalise, and reset to uniform when the sum is <= ``reset_eps`` (1e-5 in their code).

Inputs are prepared by :func:`prepare_probs`: probabilities of any label set are mapped to the map's set by
summing source classes (nyu40 network output into a nyu13 map), or hard labels become one-hot distributions
with a configurable confidence. Probability images are H x W x K float32 with channel c = class id c + 1
(void is not a channel; sequences/labelsets.py).
"""

from __future__ import annotations

import numpy as np

from slamseg.fusion.errors import MapError
from slamseg.sequences import LabelSet, get_label_set, get_mapping

DEFAULT_FLOOR = 1e-4
"""Default floor on an observation's class probability in the log-space rule (log(1e-4) ~ -9.2 per frame)."""


def _check_pair(p: np.ndarray, q: np.ndarray, what: str) -> None:
    if p.shape != q.shape:
        raise MapError(f"{what}: map distribution of shape {p.shape} and observation of shape {q.shape} differ")
    if p.ndim < 1 or p.shape[-1] < 1:
        raise MapError(f"{what}: expected ... x K arrays with K >= 1 classes, got shape {p.shape}")


def log_normalise(log_p: np.ndarray) -> np.ndarray:
    """Renormalise log-probabilities along the last axis in place (subtract the log-sum-exp); returns ``log_p``.

    Args:
        log_p: ... x K float array of unnormalised log-probabilities (finite).
    """
    m = log_p.max(axis=-1, keepdims=True)
    lse = m + np.log(np.exp(log_p - m).sum(axis=-1, keepdims=True))
    log_p -= lse
    return log_p


def fuse_log_probs(log_p: np.ndarray, q: np.ndarray, floor: float = DEFAULT_FLOOR) -> np.ndarray:
    """One Bayes update in log space, in place: ``log p += log max(q, floor)``, renormalised.

    Args:
        log_p: N x K (or any ... x K) float32/float64 normalised log-probabilities of the map elements; updated
            in place.
        q: same shape, the observed class probabilities (need not sum to 1: the renormalisation absorbs it).
        floor: lower bound on q before the log, > 0.
    Returns:
        ``log_p`` (the same array), each row a normalised log-distribution.
    """
    _check_pair(log_p, q, "fuse_log_probs")
    if not floor > 0.0:
        raise MapError(f"fuse_log_probs: floor must be > 0, got {floor}")
    log_p += np.log(np.maximum(q, floor)).astype(log_p.dtype, copy=False)
    return log_normalise(log_p)


def fuse_probs_semanticfusion(p: np.ndarray, q: np.ndarray, reset_eps: float = 1e-5) -> np.ndarray:
    """SemanticFusion's update, in place: ``p <- p * q``, renormalise; rows whose product sums to
    <= ``reset_eps`` are reset to the uniform distribution 1/K (their code's guard against collapse).

    Args:
        p: N x K (or ... x K) float probabilities of the map elements; updated in place.
        q: same shape, observed class probabilities.
        reset_eps: sum threshold below which a row is reset.
    Returns:
        ``p`` (the same array).
    """
    _check_pair(p, q, "fuse_probs_semanticfusion")
    p *= q
    total = p.sum(axis=-1, keepdims=True)
    dead = total <= reset_eps
    np.divide(p, total, out=p, where=~dead)
    if dead.any():
        p[np.broadcast_to(dead, p.shape)] = 1.0 / p.shape[-1]
    return p


def _as_label_set(ls: str | LabelSet) -> LabelSet:
    return ls if isinstance(ls, LabelSet) else get_label_set(ls)


class MapLabelSets:
    """What every semantic map holds about classes: its own label set and the set of the probabilities it is given
    (mapped into its own by :func:`prepare_probs`). Names are resolved at construction, so that an unknown name
    fails there, not at the first labelled frame.

    Args:
        label_set: the map's label set (name or object).
        probs_label_set: the set ``integrate``'s probabilities are in; None means the map's set.
    """

    def __init__(self, label_set: str | LabelSet, probs_label_set: str | LabelSet | None) -> None:
        self._label_set = _as_label_set(label_set)
        self._probs_label_set = self._label_set if probs_label_set is None else _as_label_set(probs_label_set)

    @property
    def label_set(self) -> LabelSet:
        """The map's label set."""
        return self._label_set

    @property
    def probs_label_set(self) -> LabelSet:
        """The label set of the probabilities ``integrate`` is given (mapped into the map's set)."""
        return self._probs_label_set

    @property
    def num_classes(self) -> int:
        """K, the number of non-void classes of the map's label set (one distribution entry each)."""
        return self._label_set.num_classes


def prepare_probs(
    probs: np.ndarray,
    map_label_set: str | LabelSet,
    probs_label_set: str | LabelSet | None = None,
    hard_label_confidence: float = 0.9,
) -> np.ndarray:
    """Turn one frame's semantic observation into H x W x K_map float32 probabilities of the map's label set.

    Args:
        probs: either H x W x K_src float probabilities (channel c = class id c + 1 of ``probs_label_set``), or
            H x W integer hard labels (ids of ``probs_label_set``; 0 = void gives a uniform distribution).
        map_label_set: the map's label set (name or object).
        probs_label_set: the set ``probs`` is expressed in; None means the map's set.
        hard_label_confidence: probability given to the labelled class of a hard label (the rest is shared).
    Returns:
        H x W x K_map float32; rows sum to 1 except where source classes map to void (their mass is dropped
        and the row renormalised; a row with no kept mass becomes uniform).
    """
    dst = _as_label_set(map_label_set)
    src = dst if probs_label_set is None else _as_label_set(probs_label_set)
    probs = np.asarray(probs)
    if probs.ndim == 2 and np.issubdtype(probs.dtype, np.integer):
        labels = get_mapping(src, dst).map_labels(probs) if src.name != dst.name else probs
        return dst.one_hot(labels, confidence=hard_label_confidence)
    if probs.ndim != 3:
        raise MapError(f"class probabilities must be H x W x K (or H x W integer labels), got shape {probs.shape}")
    if probs.shape[-1] != src.num_classes:
        raise MapError(
            f"class probabilities have {probs.shape[-1]} channels but label set {src.name!r} has "
            f"{src.num_classes} classes (pass probs_label_set= to say which set they are in)"
        )
    if src.name == dst.name:
        return probs.astype(np.float32, copy=False)
    out = get_mapping(src, dst).map_probs(probs, renormalise=True)
    empty = out.sum(axis=-1) <= 0
    if empty.any():
        out[empty] = 1.0 / dst.num_classes
    return out
