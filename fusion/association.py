"""Pairing two timestamped trajectories: greedy one-to-one (TUM's associate.py, implemented in
``sequences.association``) and evo's nearest stamp.

evo's rule (``evo.core.sync.associate_trajectories``, what ``evo_ape`` uses by default): the trajectory with fewer
poses is matched into the other, each stamp taking the nearest stamp within ``max_diff`` seconds.
"""

from __future__ import annotations

import numpy as np

from slamseg.fusion.errors import MapError
from slamseg.sequences.association import associate_stamps


def associate_timestamps(
    stamps_a: np.ndarray, stamps_b: np.ndarray, max_diff: float = 0.01, offset_b: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Pair two timestamp lists one-to-one, closest pairs first, within ``max_diff`` seconds (inclusive).

    TUM's ``associate.py`` rule (:func:`~slamseg.sequences.association.associate_stamps`), accepting pairs exactly
    ``max_diff`` apart too.

    Args:
        stamps_a: Na timestamps in seconds; stamps_b: Nb timestamps (``offset_b`` seconds is added to them).
    Returns:
        (indices into a, indices into b), equal length, sorted by the a index.
    """
    return associate_stamps(stamps_a, stamps_b, max_diff, offset_b, inclusive=True)


def match_nearest_stamps(stamps_1: np.ndarray, stamps_2: np.ndarray, max_diff: float = 0.01
                         ) -> tuple[np.ndarray, np.ndarray]:
    """evo's nearest-stamp association (``evo.core.sync``): each stamp of the first list takes the nearest stamp
    of the second within ``max_diff`` seconds (ties to the earlier one); the second list must be sorted.

    Returns:
        (indices into stamps_1, indices into stamps_2), equal length, in the first list's order.
    """
    s1 = np.asarray(stamps_1, dtype=np.float64)
    s2 = np.asarray(stamps_2, dtype=np.float64)
    if s1.size == 0 or s2.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if np.any(np.diff(s2) < 0):
        raise MapError("match_nearest_stamps needs the second list of stamps sorted")
    upper = np.minimum(np.searchsorted(s2, s1, side="right"), s2.size - 1)
    diff_ub = s2[upper] - s1
    diff_lb = np.where(upper > 0, s1 - s2[np.maximum(upper - 1, 0)], np.inf)
    take_upper = (diff_ub <= max_diff) & (diff_ub < diff_lb)
    take_lower = ~take_upper & (diff_lb <= max_diff) & (diff_lb <= diff_ub)
    in_range = (s1 >= s2[0] - max_diff) & (s1 <= s2[-1] + max_diff)
    keep = in_range & (take_upper | take_lower)
    index_2 = np.where(take_upper, upper, upper - 1)
    return np.nonzero(keep)[0].astype(np.int64), index_2[keep].astype(np.int64)


def associate_trajectories(ref_stamps: np.ndarray, est_stamps: np.ndarray, max_diff: float = 0.01
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Pair a reference and an estimated trajectory as ``evo_ape`` does by default: the trajectory with fewer
    poses is matched into the other (nearest stamp within ``max_diff`` seconds).

    Returns:
        (indices into the reference, indices into the estimate), paired.
    """
    ref_stamps = np.asarray(ref_stamps, dtype=np.float64)
    est_stamps = np.asarray(est_stamps, dtype=np.float64)
    if est_stamps.size > ref_stamps.size:
        i_ref, i_est = match_nearest_stamps(ref_stamps, est_stamps, max_diff)
    else:
        i_est, i_ref = match_nearest_stamps(est_stamps, ref_stamps, max_diff)
    return i_ref, i_est
