"""``slamseg doctor``: what this installation runs on (versions, CUDA, threads)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="print versions of Python, torch, open3d, numpy, CUDA and thread counts",
                       description="Print the versions and hardware slamseg sees, to check an installation.")
    p.set_defaults(func=run)


def _version(module: str) -> str:
    import importlib

    try:
        mod = importlib.import_module(module)
    except Exception as err:  # report any import failure (missing system library...) instead of crashing
        return f"NOT AVAILABLE ({type(err).__name__}: {err})"
    return str(getattr(mod, "__version__", "unknown"))


def collect() -> dict[str, str]:
    """Versions and capabilities as an ordered dict of strings."""
    import os
    import platform

    from slamseg._version import __version__

    info = {
        "slamseg": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu cores": str(os.cpu_count()),
    }
    for mod in ("numpy", "scipy", "torch", "open3d", "numba", "trimesh", "h5py", "imageio", "onnxruntime"):
        info[mod] = _version(mod)
    try:
        import torch

        info["torch threads"] = str(torch.get_num_threads())
        info["cuda available"] = str(torch.cuda.is_available())
        if torch.cuda.is_available():
            info["cuda device"] = torch.cuda.get_device_name(0)
            info["cuda version"] = str(torch.version.cuda)
    except Exception:  # torch missing: already reported above
        pass
    try:
        import open3d as o3d

        info["open3d cuda"] = str(o3d.core.cuda.is_available())
    except Exception:
        pass
    return info


def run(args: argparse.Namespace) -> int:
    info = collect()
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"{key:<{width}}  {value}")
    return 0
