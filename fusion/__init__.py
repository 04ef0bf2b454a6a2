"""slamseg.fusion: semantic TSDF and surfel maps, Bayesian label fusion, tracking, rendering, export.

Depends on open3d, numpy, numba, trimesh and slamseg.sequences; never torch. Heavy submodules load lazily
(PEP 562): ``import slamseg.fusion`` or ``import slamseg.fusion.errors`` does not import open3d; the first
access to e.g. ``slamseg.fusion.SemanticTSDF`` imports its module.
"""

from __future__ import annotations

from slamseg.sequences.lazy import lazy_exports

# public name -> submodule that defines it
_LAZY = {
    "MapError": "errors",
    "TrackingError": "errors",
    "RenderedView": "types",
    "SemanticMap": "types",
    "TSDFParams": "params",
    "fuse_log_probs": "bayes",
    "fuse_probs_semanticfusion": "bayes",
    "prepare_probs": "bayes",
    "SemanticTSDF": "tsdf",
    "SemanticMesh": "export",
    "export_mesh": "export",
    "export_point_cloud": "export",
    "export_per_class": "export",
    "SurfelMap": "surfel",
    "SurfelParams": "params",
    "SurfelCloud": "surfel",
    "TrackingResult": "tracking",
    "FailureThresholds": "tracking",
    "GroundTruthTracker": "tracking",
    "RGBDTracker": "tracking",
    "TrackerConfig": "tracking",
    "TrackStatus": "tracking",
    "KeyframeStore": "keyframes",
    "LoopClosureConfig": "posegraph",
    "close_loops": "posegraph",
    "absolute_trajectory_error": "metrics",
    "absolute_rotation_error": "metrics",
    "relative_pose_error": "metrics",
    "umeyama_alignment": "metrics",
    "associate_timestamps": "association",
    "mesh_metrics": "metrics",
    "label_metrics": "metrics",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
