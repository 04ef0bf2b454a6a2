"""Open a saved map of either kind (semantic TSDF or surfel map) by reading its own metadata."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.fusion.errors import MapError

# What numpy raises on an empty, truncated or foreign file: zip and zlib errors, end of file, bad headers.
CORRUPT_ARCHIVE = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def map_kind(path: str | Path) -> str:
    """"tsdf" or "surfel" for a map file written by SemanticTSDF.save / SurfelMap.save."""
    path = Path(path)
    if not path.is_file():
        raise MapError(f"{path}: no such map file")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise MapError(f"{path}: not a slamseg map file (a map is an .npz archive, this holds one array)")
        with data:
            names = set(data.files)
            raw = data["metadata"] if "metadata" in names else data["meta_json"] if "meta_json" in names else None
            meta = json.loads(str(raw)) if raw is not None else {}
    except CORRUPT_ARCHIVE as exc:
        # the first sentence only: numpy's advice on unpickling untrusted files is not for a map file
        first = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else "truncated or empty"
        raise MapError(f"{path}: not a readable slamseg map file ({type(exc).__name__}: {first})") from exc
    fmt = str(meta.get("format", ""))
    if "surfel" in fmt:
        return "surfel"
    if "tsdf" in fmt:
        return "tsdf"
    raise MapError(f"{path}: not a slamseg map file (no known 'format' in its metadata)")


def load_map(path: str | Path) -> Any:
    """The SemanticTSDF or SurfelMap saved at ``path``."""
    if map_kind(path) == "tsdf":
        from slamseg.fusion.tsdf import SemanticTSDF

        return SemanticTSDF.load(path)
    from slamseg.fusion.surfel import SurfelMap

    return SurfelMap.load(path)
