"""Side-by-side timing for the benchmark scripts: every path once per round, in a rotating order, so that the
machine's drifts (this host is shared) hit every path alike and their ratios are taken under the same conditions."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleave(paths: dict[str, Callable[[], object]], rounds: int, warmup: int) -> dict[str, dict]:
    """Milliseconds per call of each path: median, mean, std and min over ``rounds`` rotating rounds, after
    ``warmup`` untimed rounds."""
    names = list(paths)
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(warmup):
        for call in paths.values():
            call()
    for i in range(rounds):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            start = time.perf_counter()
            paths[name]()
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: {"median_ms": statistics.median(t), "mean_ms": statistics.fmean(t), "std_ms": statistics.pstdev(t),
                   "min_ms": min(t)} for name, t in times.items()}
