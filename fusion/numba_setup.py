"""Numba settings shared by the fusion kernels (import before defining parallel kernels).

The default threading-layer search tries TBB first; the TBB on Debian 12 is older than numba supports, which
costs a warning on every run, so OpenMP (libgomp, already needed by Open3D) is tried first.
"""

from __future__ import annotations

import numba

numba.config.THREADING_LAYER_PRIORITY = ["omp", "workqueue", "tbb"]
