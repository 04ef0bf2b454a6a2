"""``slamseg export``: a saved map (or a reconstruct run folder) -> semantic mesh / point cloud files."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.errors import ConfigError
from slamseg.runs import RunFolder

log = logging.getLogger(__name__)

FORMATS = ("ply", "glb", "obj")
PALETTES = ("nyu13", "nyu40", "labels", "rgb")


def find_map(path: str | Path) -> Path:
    """A map file, or the ``map.npz`` of a run folder."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "map.npz"
        if not candidate.exists():
            raise ConfigError(f"{path}: run folder has no map.npz (was it written by 'slamseg reconstruct'?)")
        return candidate
    if not path.exists():
        raise ConfigError(f"{path}: no such map file or run folder")
    return path


def recorded_up_axis(map_file: Path) -> str | None:
    """The world up axis a reconstruct run recorded (``world.up_axis`` of the metrics.json beside its map), or
    None when there is none."""
    import json

    metrics = map_file.parent / "metrics.json"
    if not metrics.is_file():
        return None
    try:
        up_axis = json.loads(metrics.read_text()).get("world", {}).get("up_axis")
    except (ValueError, AttributeError) as err:
        raise ConfigError(f"{metrics}: expected the JSON object a reconstruct run writes: {err}") from err
    return up_axis if isinstance(up_axis, str) else None


def _palette_for(palette: str, label_set_name: str) -> str:
    """Our palette names -> fusion.export's (which knows "labels", "nyu13" and "rgb")."""
    if palette == "nyu40":
        if label_set_name != "nyu40":
            raise ConfigError(f"palette nyu40 needs a 40-class map; this map's classes are {label_set_name} "
                              "(use --palette nyu13, labels or rgb)")
        return "labels"
    if palette not in PALETTES:
        raise ConfigError(f"unknown palette {palette!r}; known: {', '.join(PALETTES)}")
    return palette


def apply_min_confidence(geometry: Any, min_confidence: float) -> Any:
    """Vertices whose fused probability of their label is below ``min_confidence`` become void (id 0)."""
    if min_confidence <= 0:
        return geometry
    if geometry.probs is None:
        raise ConfigError("--min-confidence needs the map's probabilities, which this map did not provide")
    confidence = geometry.probs.max(axis=1)
    labels = np.where(confidence >= min_confidence, geometry.labels, 0).astype(geometry.labels.dtype)
    log.info("%d of %d vertices below confidence %.2f set to void", int((labels == 0).sum() - (geometry.labels == 0)
             .sum()), len(labels), min_confidence)
    return replace(geometry, labels=labels)


def run_export(map_path: str | Path, run: RunFolder, fmt: str = "ply", palette: str = "nyu13",
               per_class: bool = False, min_confidence: float = 0.0, with_probs: bool = False) -> dict[str, Any]:
    """Export the map at ``map_path`` into ``run``; returns a summary (also written as metrics.json)."""
    from slamseg.fusion.export import export_mesh, export_per_class, export_point_cloud
    from slamseg.fusion.maps import load_map

    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    map_file = find_map(map_path)
    semantic_map = load_map(map_file)
    up_axis = recorded_up_axis(map_file)
    if fmt == "glb" and up_axis is None:
        log.warning("%s: no run metrics.json with the world's up axis beside the map: GLB written in the map's "
                    "world axes, not turned y-up", map_file)
    fusion_palette = _palette_for(palette, semantic_map.label_set.name)
    need_probs = with_probs or min_confidence > 0
    geometry = semantic_map.extract_mesh(with_probs=need_probs)
    geometry = apply_min_confidence(geometry, min_confidence)
    files: list[Path] = []
    if len(geometry.faces):
        files.append(export_mesh(geometry, run.file(f"mesh.{fmt}"), fusion_palette, with_probs=with_probs,
                                 up_axis=up_axis))
    elif fmt == "ply":
        files.append(export_point_cloud(geometry, run.file("cloud.ply"), fusion_palette, with_probs=with_probs))
    else:
        raise ConfigError(f"this map gives a point cloud (no faces); export it as ply, not {fmt}")
    if per_class:
        files += export_per_class(geometry, run.file("classes/x").parent, suffix=f".{fmt}",
                                  palette=fusion_palette, up_axis=up_axis).values()
    labels, counts = np.unique(geometry.labels, return_counts=True)
    summary = {
        "map": str(map_path),
        "label_set": semantic_map.label_set.name,
        "world_up_axis": up_axis,
        "vertices": len(geometry.vertices),
        "faces": len(geometry.faces),
        "class_histogram": {semantic_map.label_set.names[int(c)]: int(n) for c, n in zip(labels, counts)},
        "files": [str(f.relative_to(run.path)) for f in files],
    }
    run.write_json("metrics.json", summary)
    return summary
