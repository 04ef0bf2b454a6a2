"""slamseg: dense semantic SLAM with one real-time joint depth + segmentation network.

This module stays import-light on purpose: importing ``slamseg.sequences`` (or ``networks``/``fusion``)
imports it first, and the CLI's ``--help`` must not pay for torch or open3d.
"""

from slamseg._version import __version__

__all__ = ["__version__"]
