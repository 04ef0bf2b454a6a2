"""The library changes no process-wide setting unless asked; configure_runtime (what the slamseg command and the
benchmarks call) applies them."""

from __future__ import annotations

import os
import subprocess
import sys

_CHECK = """
import numba
default = list(numba.config.THREADING_LAYER_PRIORITY)
assert default[0] != "omp", default  # numba's own order: the check below can tell it apart
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
    # a fresh process without the setting the test session itself asked for (tests/conftest.py)
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER_PRIORITY"}
    res = subprocess.run([sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("ok")
