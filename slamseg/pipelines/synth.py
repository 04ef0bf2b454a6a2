"""``slamseg synth`` as a function: render a synthetic room sequence into a run folder (TUM layout + mesh)."""

from __future__ import annotations

from typing import Any

import numpy as np

from slamseg.pipelines.synth_config import SynthConfig
from slamseg.runs import RunFolder
from slamseg.sequences.progress import progress_bar


def write_synthetic_sequence(cfg: SynthConfig, run: RunFolder, progress: bool = True) -> dict[str, Any]:
    """Render ``cfg``'s sequence into ``run`` (not finished: the caller renames it); returns the summary.

    Writes slamseg's TUM-style layout (rgb, depth, labels, normals, groundtruth.txt, camera.json), the scene mesh
    (mesh.ply, per-vertex labels), config.yaml and summary.json (room size, objects, pixels per class).
    """
    from slamseg.sequences.synthetic import SyntheticSequence
    from slamseg.sequences.writers import write_tum_sequence

    seq = SyntheticSequence(seed=cfg.seed, num_frames=cfg.frames, width=cfg.width, height=cfg.height,
                            noise=cfg.noise, furniture=cfg.furniture, speed=cfg.speed)
    run.write_config(cfg, command="synth")
    counts = np.zeros(len(seq.label_set.names), np.int64)

    def frames():
        for frame in progress_bar(seq, total=len(seq), unit="frame", desc="synth", enabled=progress):
            counts[:] += np.bincount(frame.labels.ravel(), minlength=len(counts))
            yield frame

    write_tum_sequence(frames(), run.path, depth_scale=cfg.depth_scale, label_set=seq.label_set.name,
                       extra_camera={"synthetic_seed": cfg.seed, "synthetic_noise": cfg.noise})
    seq.write_mesh(run.file("mesh.ply"))
    mesh = seq.scene_mesh()
    fractions = {seq.label_set.names[i]: round(float(c) / counts.sum(), 4) for i, c in enumerate(counts) if c}
    summary = {
        "frames": len(seq),
        "size": [cfg.width, cfg.height],
        "seed": cfg.seed,
        "noise": cfg.noise,
        "room_size_m": [round(x, 3) for x in seq.room.size],
        "objects": sorted(set(mesh.object_names.values()) - {"room"}),
        "mesh_triangles": len(mesh.triangles),
        "label_pixel_fractions": fractions,
    }
    run.write_json("summary.json", summary)
    return summary
