"""Lazy package exports (PEP 562), shared by the packages whose submodules import heavy libraries: ``import
slamseg.fusion`` must not import open3d, nor ``import slamseg.networks`` torch, until a name is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, table: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: a public name is imported from ``package.<table[name]>``
    the first time it is used, then kept in the package's namespace.

    Use as ``__getattr__, __dir__ = lazy_exports(__name__, {"Name": "submodule", ...})``.
    """

    def module_getattr(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        sys.modules[package].__dict__[name] = value  # later lookups skip __getattr__
        return value

    def module_dir() -> list[str]:
        return sorted(set(sys.modules[package].__dict__) | set(table))

    return module_getattr, module_dir
