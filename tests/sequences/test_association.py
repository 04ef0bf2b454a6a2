"""Greedy one-to-one timestamp pairing (TUM's associate.py rule) on hand-made stamp lists."""

from __future__ import annotations

import numpy as np

from slamseg.sequences.association import associate_stamps


def _pairs(first: list[float], second: list[float], max_diff: float, **kw: object) -> list[tuple[int, int]]:
    a, b = associate_stamps(np.array(first), np.array(second), max_diff, **kw)
    assert a.dtype == np.int64 and b.dtype == np.int64
    return list(zip(a.tolist(), b.tolist()))


def test_closest_pairs_first_each_stamp_once():
    # 1.01<->1.011 (1 ms) first; 1.02 then takes 1.013 (7 ms); 1.00 is left with 1.012 (12 ms), its third-nearest
    # stamp: TUM's rule looks at every stamp within max_diff, not only the nearest one on each side.
    assert _pairs([1.00, 1.01, 1.02], [1.011, 1.012, 1.013], 0.02) == [(0, 1), (1, 0), (2, 2)]


def test_strict_or_inclusive_bound():
    # 0.5 and 0.25 are exact binary fractions: the difference is exactly max_diff
    assert _pairs([1.0], [1.25], 0.25) == []
    assert _pairs([1.0], [1.25], 0.25, inclusive=True) == [(0, 0)]


def test_ties_go_to_the_smaller_stamps_and_order_does_not_matter():
    # 2.0 is 0.5 from both 1.5 and 2.5: the smaller second stamp wins; unsorted input, sorted-by-first output
    assert _pairs([2.0], [2.5, 1.5], 1.0) == [(0, 1)]
    # 1.0 and 2.0 are both 0.5 from 1.5: the smaller first stamp wins it, 2.0 takes 2.75
    assert _pairs([2.0, 1.0], [2.75, 1.5], 1.0) == [(0, 0), (1, 1)]


def test_offset_is_added_to_the_second_list_and_empty_lists_pair_nothing():
    assert _pairs([10.0, 11.0], [0.0, 1.0], 0.01, offset=10.0) == [(0, 0), (1, 1)]
    assert _pairs([], [1.0], 0.1) == [] and _pairs([1.0], [], 0.1) == []


def test_equals_the_tools_quadratic_rule_on_random_stamps():
    rng = np.random.default_rng(3)
    for _ in range(200):
        first = np.round(rng.uniform(0, 1, rng.integers(0, 30)), 2)  # rounded: many ties
        second = np.round(rng.uniform(0, 1, rng.integers(0, 30)), 2)
        # associate.py: all pairs under max_diff, sorted as (diff, a, b) tuples, taken greedily
        cands = sorted((abs(a - b), a, b, i, j) for i, a in enumerate(first) for j, b in enumerate(second)
                       if abs(a - b) < 0.03)
        used_i, used_j, expected = set(), set(), []
        for _, _, _, i, j in cands:
            if i not in used_i and j not in used_j:
                used_i.add(i)
                used_j.add(j)
                expected.append((i, j))
        assert _pairs(first.tolist(), second.tolist(), 0.03) == sorted(expected)
