"""Types shared by every map (semantic TSDF, surfel map): the rendered view and the map protocol.

Light module: numpy and slamseg.sequences only, so pipelines can type against maps without importing open3d.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from slamseg.sequences import Camera, LabelSet


@dataclass
class RenderedView:
    """A map rendered into one camera at one pose.

    Attributes:
        depth: H x W float32 metres along the camera z axis, 0 where no surface was hit.
        normals: H x W x 3 float32 unit normals in the CAMERA frame (like Frame.normals), oriented towards the
            camera (n . viewing ray < 0); 0 vectors where nothing was hit.
        colour: H x W x 3 uint8 RGB, 0 where nothing was hit.
        labels: H x W int32 class ids of the map's label set, 0 (void) where nothing was hit.
        probs: H x W x K float32 fused class probabilities (channel c = id c + 1), zeros where nothing was hit;
            None when the renderer was not asked for them.
    """

    depth: np.ndarray
    normals: np.ndarray
    colour: np.ndarray
    labels: np.ndarray
    probs: np.ndarray | None = None

    @property
    def valid(self) -> np.ndarray:
        """H x W bool, True where the map was hit."""
        return self.depth > 0


@runtime_checkable
class SemanticMap(Protocol):
    """What every map offers (SemanticTSDF, SurfelMap). Maps know nothing of files except their own save/load.

    ``integrate`` takes depth H x W float32 metres (0 = invalid), rgb H x W x 3 uint8, probs H x W x K float32
    of the map's label set (or of the set given to the map as ``probs_label_set``) or None for geometry only,
    a :class:`~slamseg.sequences.Camera` and a 4 x 4 float64 camera-to-world pose.
    """

    @property
    def label_set(self) -> LabelSet: ...

    @property
    def num_classes(self) -> int: ...

    def integrate(
        self,
        depth: np.ndarray,
        rgb: np.ndarray,
        probs: np.ndarray | None,
        camera: Camera,
        pose: np.ndarray,
    ) -> None: ...

    def render(self, camera: Camera, pose: np.ndarray) -> RenderedView: ...

    def extract_mesh(self) -> Any: ...

    def save(self, path: str | Path, compress: bool = ...) -> Path: ...

    def stats(self) -> dict[str, Any]:
        """Counters (JSON-friendly). Every map has "type" ("tsdf" | "surfel"), "label_set", "num_classes",
        "frames" (integrate calls) and "memory_bytes" (its arrays); each kind adds its own."""
