"""One place that sets up the process for slamseg's kernels, called by the ``slamseg`` command and the
benchmarks; the library itself changes no process-wide setting unless asked (see slamseg/sequences/runtime.py)."""

from __future__ import annotations

from slamseg.sequences.runtime import prefer_openmp_for_numba, retain_freed_memory


def configure_runtime(retain_memory: bool = True) -> dict[str, bool]:
    """numba's threading layer (OpenMP first) and, with ``retain_memory``, glibc keeping freed memory for reuse
    (about 20 % faster network passes at 640 x 480; the process keeps its peak memory). Torch threads are each
    command's ``--threads`` option. Returns what is in effect."""
    prefer_openmp_for_numba()
    return {"numba_openmp_first": True, "retain_freed_memory": retain_freed_memory() if retain_memory else False}
