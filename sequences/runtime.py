"""Process-wide settings the toolkit's kernels run best with, applied only when asked (by the ``slamseg`` command,
the benchmarks, or a user calling :func:`slamseg.configure_runtime`): importing a package changes nothing.

- numba's threading layer: OpenMP first. numba's default search tries TBB first, and the TBB of Debian 12 is older
  than numba supports, which costs a warning on every run; libgomp is already needed by Open3D.
- glibc's malloc keeps freed memory for reuse (:func:`retain_freed_memory`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

NUMBA_LAYERS = ["omp", "workqueue", "tbb"]
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_RETAINED = False


def prefer_openmp_for_numba() -> None:
    """Make numba pick OpenMP, then its own work queue, then TBB, for parallel kernels (before the first one runs).

    When numba is not imported yet, this is its environment setting (read at import; a user's own setting wins),
    so that a command which never runs a kernel does not pay numba's import (about 0.8 s)."""
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.THREADING_LAYER_PRIORITY = list(NUMBA_LAYERS)
    else:
        os.environ.setdefault("NUMBA_THREADING_LAYER_PRIORITY", " ".join(NUMBA_LAYERS))


def retain_freed_memory(threshold_bytes: int = 1 << 30) -> bool:
    """Keep freed memory in the process (glibc only) so that each forward pass does not fault its buffers in again.

    By default glibc serves blocks over its (adaptive, at most 32 MB) mmap threshold by mmap and gives them back
    on free; at 640x480 the network's ~20 MB activations then cost ~14,000 page faults (~35 ms of kernel time on
    2 cores) per forward pass. Raising the mmap and trim thresholds makes such blocks come from the heap and stay
    there for reuse; the process keeps up to its peak usage. Process-wide; applied once. Returns whether the
    setting is in effect (False off glibc).
    """
    global _RETAINED
    if _RETAINED:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, threshold_bytes) == 1 and libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                    threshold_bytes) == 1
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    _RETAINED = ok
    log.debug("malloc retains freed memory: %s", ok)
    return ok
