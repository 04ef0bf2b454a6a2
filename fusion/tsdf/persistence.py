"""Reading and writing a semantic TSDF as one ``.npz`` (layout in docs/FORMATS.md): the active blocks' attributes
and JSON metadata; version 1 files (float32 labels) are converted on load."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import open3d.core as o3c

from slamseg.fusion.errors import MapError
from slamseg.fusion.maps import CORRUPT_ARCHIVE
from slamseg.fusion.params import TSDFParams
from slamseg.fusion.tsdf import kernels as kern
from slamseg.sequences.atomic import atomic_path

if TYPE_CHECKING:
    from slamseg.fusion.tsdf.semantic_tsdf import SemanticTSDF

log = logging.getLogger(__name__)

FORMAT = "slamseg.semantic_tsdf"
FORMAT_VERSION = 2  # 1: labels as float32 log-probabilities (read, converted on load); 2: int16 (LABEL_SCALE)


def save_tsdf(tsdf_map: SemanticTSDF, path: str | Path, compress: bool = True) -> Path:
    """Write the map to one ``.npz`` (active blocks' attributes + JSON metadata), atomically.

    ``compress=False`` writes ~10x faster and ~3x larger (run snapshots, which are deleted at the end)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise MapError(f"semantic TSDF files are .npz, got {path}")
    keys, buf = tsdf_map.active_blocks()
    meta = {
        "format": FORMAT, "version": FORMAT_VERSION, "params": tsdf_map.params.to_dict(),
        "label_set": tsdf_map.label_set.name, "probs_label_set": tsdf_map.probs_label_set.name,
        "frames_integrated": tsdf_map.frames_integrated, "frames_labelled": tsdf_map.frames_labelled,
        "growths": tsdf_map.growths,
    }
    arrays = {name: tsdf_map.voxel_grid.attribute(name).numpy()[buf] for name in ("tsdf", "weight", "color", "label")}
    with atomic_path(path) as tmp:
        save = np.savez_compressed if compress else np.savez
        save(tmp, block_keys=keys, metadata=np.array(json.dumps(meta)), **arrays)
    log.info("saved semantic TSDF (%d blocks) to %s", len(keys), path)
    return path


def load_tsdf(cls: type[SemanticTSDF], path: str | Path) -> SemanticTSDF:
    """Read a map written by :func:`save_tsdf` (as ``cls``); raises MapError naming the file when it is not one."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["metadata"]))
            keys = data["block_keys"]
            arrays = {name: data[name] for name in ("tsdf", "weight", "color", "label")}
    except CORRUPT_ARCHIVE as exc:
        raise MapError(f"{path}: not a semantic TSDF file ({exc})") from exc
    if meta.get("format") != FORMAT or meta.get("version") not in (1, FORMAT_VERSION):
        raise MapError(f"{path}: expected format {FORMAT} v1 or v{FORMAT_VERSION}, got {meta.get('format')} "
                       f"v{meta.get('version')}")
    params_dict = dict(meta["params"])
    if meta["version"] == 1:
        # version 1 kept float32 log-probabilities and a label cadence inside the map
        params_dict.pop("label_every", None)
    params = TSDFParams.from_dict(params_dict)
    if meta["version"] == 1:
        arrays["label"] = kern.quantise_log_probs(arrays["label"], params.label_clamp)
    tsdf_map = cls(params, meta["label_set"], meta["probs_label_set"])
    tsdf_map.ensure_capacity(len(keys))
    if (arrays["label"].shape[-1] != tsdf_map.num_classes or len(arrays["label"]) != len(keys)
            or arrays["label"].dtype != np.int16):
        raise MapError(f"{path}: label attribute of shape {arrays['label'].shape} ({arrays['label'].dtype}) "
                       f"does not fit {len(keys)} blocks of {tsdf_map.num_classes} int16 classes")
    if len(keys):
        keys_t = o3c.Tensor(keys.astype(np.int32), device=tsdf_map.voxel_grid.hashmap().device)
        tsdf_map.voxel_grid.hashmap().activate(keys_t)
        buf = tsdf_map.voxel_grid.hashmap().find(keys_t)[0].numpy().astype(np.int64)
        for name, values in arrays.items():
            tsdf_map.voxel_grid.attribute(name).numpy()[buf] = values
    tsdf_map.frames_integrated = int(meta["frames_integrated"])
    tsdf_map.frames_labelled = int(meta["frames_labelled"])
    tsdf_map.growths = int(meta["growths"])
    return tsdf_map
