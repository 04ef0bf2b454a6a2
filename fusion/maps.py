"""Open a saved map of either kind (semantic TSDF or surfel map) by reading its own metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.fusion.errors import MapError


def map_kind(path: str | Path) -> str:
    """"tsdf" or "surfel" for a map file written by SemanticTSDF.save / SurfelMap.save."""
    path = Path(path)
    if not path.is_file():
        raise MapError(f"{path}: no such map file")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = set(data.files)
            raw = data["metadata"] if "metadata" in names else data["meta_json"] if "meta_json" in names else None
            meta = json.loads(str(raw)) if raw is not None else {}
    except (OSError, ValueError) as exc:
        raise MapError(f"{path}: not a slamseg map file ({exc})") from exc
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
    from slamseg.fusion.surfels import SurfelMap

    return SurfelMap.load(path)
