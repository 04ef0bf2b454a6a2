"""The test suite runs the kernels as the ``slamseg`` command does: with the process set up by configure_runtime."""

from slamseg.runtime import configure_runtime

configure_runtime()
