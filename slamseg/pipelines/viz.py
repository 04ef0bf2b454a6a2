"""Live visualisation of a reconstruction with rerun (extra ``[viz]``): frames, depth, labels, the camera path and
the map.

Everything goes to a recording in the run folder (``viz.rrd``; open it with ``rerun viz.rrd``) and, when asked,
also live to a running rerun viewer. Nothing here is imported unless ``viz: rerun`` is chosen, so the pipeline
takes no other code path when visualisation is off.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.errors import ConfigError
from slamseg.sequences import Frame, LabelSet, get_label_set

log = logging.getLogger(__name__)

MAP_POINTS = 200_000  # points of the map sent to the viewer at the end (subsampled beyond)

# world up axis (fusion.world.UP_AXES) -> the name of rerun's right-handed view coordinates with that axis up
VIEW_COORDINATES = {"+x": "RIGHT_HAND_X_UP", "-x": "RIGHT_HAND_X_DOWN", "+y": "RIGHT_HAND_Y_UP",
                    "-y": "RIGHT_HAND_Y_DOWN", "+z": "RIGHT_HAND_Z_UP", "-z": "RIGHT_HAND_Z_DOWN"}


class RerunLogger:
    """Streams a reconstruction to rerun.

    Args:
        label_set: the map's classes (names and colours become rerun's annotation context).
        recording: ``.rrd`` file the recording is saved to.
        connect: also stream to a rerun viewer listening at its default address.
        up_axis: the world's up axis ("+z", "-y", ...: fusion.world.UP_AXES); "-y" for a world that is the first
            camera's frame (OpenCV axes). :meth:`set_up_axis` corrects it once the whole trajectory is known.
    """

    def __init__(self, label_set: LabelSet, recording: Path, connect: bool = False, up_axis: str = "-y") -> None:
        try:
            import rerun as rr
        except ImportError:
            raise ConfigError("--viz rerun needs the rerun SDK: pip install 'slamseg[viz]'") from None
        self.rr = rr
        self.label_set = label_set
        self.path: list[np.ndarray] = []
        rr.init("slamseg", spawn=False)
        rr.save(str(recording))
        if connect:
            rr.connect_grpc()
        self.set_up_axis(up_axis)
        self._annotate("world/camera/image/labels", label_set)
        self._annotate("world/map", label_set)
        self._annotated = {label_set.name}
        log.info("rerun recording: %s", recording)

    def set_up_axis(self, up_axis: str | None) -> None:
        """Log the world's view coordinates (static: the last call is what the viewer uses); None: unknown, keep
        what was logged."""
        if up_axis is None:
            return
        if up_axis not in VIEW_COORDINATES:
            raise ConfigError(f"unknown up axis {up_axis!r}; expected one of {', '.join(VIEW_COORDINATES)}")
        self.rr.log("/", getattr(self.rr.ViewCoordinates, VIEW_COORDINATES[up_axis]), static=True)

    def _annotate(self, entity: str, label_set: LabelSet) -> None:
        rr = self.rr
        info = [rr.AnnotationInfo(id=i, label=name, color=tuple(int(c) for c in label_set.colours[i]))
                for i, name in enumerate(label_set.names)]
        rr.log(entity, rr.AnnotationContext(info), static=True)

    def log_frame(self, frame: Frame, prediction: Any, pose: np.ndarray, depth: np.ndarray) -> None:
        """One frame: camera pose and intrinsics, RGB, the fused depth, the labels, the path so far."""
        rr = self.rr
        rr.set_time("frame", sequence=int(frame.index))
        cam = frame.camera
        rr.log("world/camera", rr.Transform3D(translation=pose[:3, 3], mat3x3=pose[:3, :3]))
        rr.log("world/camera/image", rr.Pinhole(focal_length=[cam.fx, cam.fy], principal_point=[cam.cx, cam.cy],
                                                width=cam.width, height=cam.height))
        rr.log("world/camera/image/rgb", rr.Image(frame.rgb))
        rr.log("world/camera/image/depth", rr.DepthImage(depth, meter=1.0))
        if prediction is not None and prediction.labels is not None:
            labels = prediction.labels
            if prediction.label_set is not None and prediction.label_set not in self._annotated:
                self._annotate("world/camera/image/labels", get_label_set(prediction.label_set))
                self._annotated.add(prediction.label_set)
            rr.log("world/camera/image/labels", rr.SegmentationImage(labels.astype(np.uint16)))
        self.path.append(np.asarray(pose[:3, 3], dtype=np.float32))
        rr.log("world/trajectory", rr.LineStrips3D([np.stack(self.path)], colors=[(255, 80, 40)]))

    def log_map(self, semantic_map: Any) -> None:
        """The map's semantic points (subsampled), coloured by class, at the end of the run."""
        rr = self.rr
        cloud = (semantic_map.extract_point_cloud() if hasattr(semantic_map, "extract_point_cloud")
                 else semantic_map.extract_mesh())
        points, labels = cloud.vertices, cloud.labels
        if len(points) > MAP_POINTS:
            keep = np.random.default_rng(0).choice(len(points), MAP_POINTS, replace=False)
            points, labels = points[keep], labels[keep]
        rr.log("world/map", rr.Points3D(points, class_ids=labels.astype(np.uint16), radii=0.01), static=True)

    def close(self) -> None:
        """Flush and close the recording."""
        self.rr.disconnect()
