"""Atomic file writing: write to a temporary name beside the target, then rename (DESIGN.md: nothing is
half-written); strict JSON (no NaN, numpy values made plain). Lives in the lowest package so every package can
use it."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``, on error delete it.

    The temporary name keeps the target's suffix, so writers that choose a format by suffix still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    # mkstemp creates the file owner-only (0600); outputs get the usual permissions of the user's umask.
    os.chmod(tmp, 0o666 & ~_umask())
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def strict_json_data(obj: Any) -> Any:
    """``obj`` as plain JSON data: mappings -> dicts with string keys, tuples -> lists, paths -> strings, numpy
    scalars and arrays (anything with ``tolist``) -> Python values, NaN / infinity -> None.

    JSON has no NaN: a metric that is undefined, e.g. the IoU of a class absent from the data, becomes null.
    Other values are returned as they are (``json.dumps`` refuses the ones it cannot write).
    """
    if hasattr(obj, "tolist"):  # duck typing keeps numpy (and torch) out of this module
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): strict_json_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json_data(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as strict JSON (:func:`strict_json_data`, 2-space indent, final newline) atomically."""
    atomic_write_text(path, json.dumps(strict_json_data(data), indent=2, allow_nan=False) + "\n")
