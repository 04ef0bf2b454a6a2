"""The library changes no process-wide setting unless asked; configure_runtime (what the slamseg command and the
benchmarks call) applies them."""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import numba
default = list(numba.config.THREADING_LAYER_PRIORITY)
import slamseg.fusion.tsdf, slamseg.fusion.surfel, slamseg.networks.cpu_kernels
from slamseg.networks import Predictor, build_model
import slamseg.sequences.runtime as runtime
Predictor(build_model("nyud_joint"))
assert list(numba.config.THREADING_LAYER_PRIORITY) == default, numba.config.THREADING_LAYER_PRIORITY
assert runtime._RETAINED is False
import slamseg
state = slamseg.configure_runtime()
assert numba.config.THREADING_LAYER_PRIORITY[0] == "omp"
assert state["retain_freed_memory"] == runtime._RETAINED
print("ok")
"""


def test_imports_and_a_predictor_leave_the_process_alone_until_asked() -> None:
    res = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("ok")
