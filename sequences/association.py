"""Pairing two lists of timestamps one-to-one, as TUM's ``associate.py`` does.

The one implementation of the rule in the project: the TUM reader pairs colour and depth stamps with it, and
``fusion.association`` pairs map frames with sequence frames. (evo's nearest-stamp rule, which may use a stamp
twice, is a different rule and lives in ``fusion.association``.)
"""

from __future__ import annotations

import numpy as np


def associate_stamps(
    first: np.ndarray, second: np.ndarray, max_diff: float, offset: float = 0.0, inclusive: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one pairing of two timestamp lists, closest pairs first (TUM's ``associate.py``).

    Candidates are all pairs with ``|a - (b + offset)| < max_diff`` (``<=`` with ``inclusive``); they are
    accepted by increasing difference, ties by the smaller first stamp, then the smaller second stamp (the order
    of the tool's sorted ``(diff, a, b)`` tuples), each stamp at most once. The candidate search is vectorised
    (sorted ``second`` + searchsorted), so long lists do not pay the tool's N x M pair list.

    Args:
        first: (N,) seconds; second: (M,) seconds, ``offset`` (seconds) added to them. Neither needs sorting.
        max_diff: seconds.
        inclusive: also accept pairs exactly ``max_diff`` apart.
    Returns:
        (indices into first, indices into second): two equal-length int64 arrays, sorted by the first index.
    """
    first = np.asarray(first, dtype=np.float64).reshape(-1)
    second = np.asarray(second, dtype=np.float64).reshape(-1) + offset
    empty = np.zeros(0, dtype=np.int64)
    if first.size == 0 or second.size == 0:
        return empty, empty.copy()
    order = np.argsort(second, kind="stable")
    sorted_second = second[order]
    # every stamp of second within the window of each first stamp; the exact test below drops the window's ends
    lo = np.searchsorted(sorted_second, first - max_diff, side="left")
    hi = np.searchsorted(sorted_second, first + max_diff, side="right")
    counts = hi - lo
    rows = np.repeat(np.arange(first.size), counts)
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    cols = starts + np.arange(rows.size)
    diffs = np.abs(first[rows] - sorted_second[cols])
    keep = diffs <= max_diff if inclusive else diffs < max_diff
    rows, cols, diffs = rows[keep], order[cols[keep]], diffs[keep]
    ranking = np.lexsort((second[cols], first[rows], diffs))
    used_first: set[int] = set()
    used_second: set[int] = set()
    pairs = []
    for k in ranking:
        a, b = int(rows[k]), int(cols[k])
        if a not in used_first and b not in used_second:
            used_first.add(a)
            used_second.add(b)
            pairs.append((a, b))
    if not pairs:
        return empty, empty.copy()
    arr = np.array(sorted(pairs), dtype=np.int64)
    return arr[:, 0], arr[:, 1]
