"""``slamseg reconstruct``: a sequence -> network -> tracking -> semantic map -> mesh, trajectory, report.

Per frame: the joint network (batched) gives depth and class probabilities; the frame's depth (predicted or
sensor) and pose (ground truth or tracked) go into the map, with the probabilities (mapped 40 -> 13 by the map)
fused every ``labels_every`` frames. The map is snapshotted every ``snapshot_every`` frames so that an interrupted
run continues with ``--resume`` and ends with the same map as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from slamseg.errors import ConfigError, LabelSetError, SequenceFormatError
from slamseg.fusion.maps import load_map
from slamseg.pipelines import reconstruct_outputs as outputs
from slamseg.pipelines.common import StageTimer, make_predictor, open_source
from slamseg.pipelines.map_evaluation import MAX_LABEL_FRAMES, GroundTruthCollector
from slamseg.pipelines.reconstruct_config import ReconstructConfig
from slamseg.runs import RunFolder
from slamseg.sequences import Frame, LabelSet, Sequence, get_label_set, get_mapping
from slamseg.sequences.atomic import atomic_write_text

log = logging.getLogger(__name__)

SNAPSHOT_STATE = "snapshot/state.json"


@dataclass
class ReconstructionState:
    """Everything a resumed run needs besides the map itself (JSON-serialisable).

    Attributes:
        next_position: position in the (sliced) sequence of the next frame to process.
        indices, timestamps, poses: per integrated frame: dataset index, time (s), 4x4 camera-to-world.
        failures: dataset indices of frames skipped because tracking failed.
        timer: accumulated stage timings.
        map_file, evaluation_file: the map and evaluation snapshots this state belongs to (relative to the run
            folder); written before the state, under names of their own, so that the state on disk always
            names complete files.
    """

    next_position: int = 0
    indices: list[int] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    poses: list[list[list[float]]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    timer: dict[str, Any] = field(default_factory=dict)
    map_file: str = ""
    evaluation_file: str = ""


def _check_requirements(cfg: ReconstructConfig, sequence: Sequence, first: Frame) -> None:
    """Fail before any work when the data cannot supply what the config asks for."""
    name = sequence.name
    if cfg.depth == "sensor" and first.depth is None:
        raise ConfigError(f"{name}: --depth sensor needs depth images, but this sequence has none")
    if cfg.tracking == "gt" and first.pose is None:
        raise ConfigError(f"{name}: --tracking gt needs ground-truth poses, but frame {first.index} has none "
                             "(use --tracking odometry or model)")
    if cfg.labels == "gt" and (first.labels is None or sequence.label_set is None):
        raise ConfigError(f"{name}: --labels gt needs label images, but this sequence has none")


def _maps_into(source: LabelSet, target: LabelSet) -> bool:
    try:
        get_mapping(source, target)
    except LabelSetError:
        return False
    return True


def _map_label_set(cfg: ReconstructConfig, probs_label_set: LabelSet | None) -> LabelSet:
    """NYU-13 or NYU-40 (``classes``) for indoor labels; KITTI-6 when the labels are KITTI's."""
    if probs_label_set is not None and probs_label_set.name.startswith("kitti"):
        return get_label_set("kitti6")
    return get_label_set("nyu13" if cfg.classes == 13 else "nyu40")


def make_map(cfg: ReconstructConfig, label_set: LabelSet, probs_label_set: LabelSet | None) -> Any:
    """An empty map of the configured kind whose integrate() accepts ``probs_label_set`` probabilities."""
    if probs_label_set is not None and not _maps_into(probs_label_set, label_set):
        raise ConfigError(f"labels of {probs_label_set.name} cannot be mapped to the map's {label_set.name} classes "
                          f"(try --classes 40)")
    if cfg.map == "tsdf":
        from slamseg.fusion.tsdf import SemanticTSDF

        return SemanticTSDF(params=cfg.tsdf, label_set=label_set, probs_label_set=probs_label_set)
    from slamseg.fusion.surfels import SurfelMap

    return SurfelMap(label_set=label_set, probs_label_set=probs_label_set, params=cfg.surfel)


def make_tracker(cfg: ReconstructConfig) -> Any:
    """The pose source: None for ground truth, else a tracker from slamseg.fusion.tracking."""
    if cfg.tracking == "gt":
        return None
    from slamseg.fusion.tracking import FrameToFrameTracker, FrameToModelTracker

    depth_max = cfg.tsdf.depth_max if cfg.map == "tsdf" else cfg.surfel.max_depth
    if cfg.tracking == "odometry":
        return FrameToFrameTracker(depth_max=depth_max)
    # A surfel map renders only stable surfels by default; tracking wants every surfel it has.
    render_kwargs = {"min_confidence": 0.0} if cfg.map == "surfel" else None
    return FrameToModelTracker(depth_max=depth_max, render_kwargs=render_kwargs)


class Reconstruction:
    """One reconstruct job inside a run folder (see the module docstring)."""

    def __init__(self, cfg: ReconstructConfig, run: RunFolder) -> None:
        self.cfg = cfg
        self.run = run
        self.sequence = open_source(cfg.sequence)
        first = self.sequence[0]
        _check_requirements(cfg, self.sequence, first)
        self.camera = first.camera
        self.predictor = make_predictor(cfg.network) if cfg.needs_network else None
        probs_set = self._probs_label_set()
        self.map_label_set = _map_label_set(cfg, probs_set)
        if probs_set is not None and not _maps_into(probs_set, self.map_label_set):
            raise ConfigError(f"labels of {probs_set.name} cannot be mapped to the map's {self.map_label_set.name} "
                              "classes (try --classes 40)")
        if self.predictor is not None and self.predictor.label_set is not None:
            # The network's classes are summed into the map's at its output resolution (cheap), not per pixel of
            # the full image; with labels from elsewhere only the cheaper resizing applies.
            if cfg.labels == "network":
                self.predictor.map_probs_to(self.map_label_set.name)
                probs_set = self.map_label_set
            else:
                self.predictor.map_probs_to(self.predictor.label_set)
        self.map = make_map(cfg, self.map_label_set, probs_set)
        self.tracker = make_tracker(cfg)
        self.timer = StageTimer()
        self.state = ReconstructionState()
        gt_set = self.sequence.label_set
        if gt_set is not None and not _maps_into(gt_set, self.map_label_set):
            log.warning("the sequence's %s labels do not map into the map's %s classes: no 2D label evaluation",
                        gt_set.name, self.map_label_set.name)
            gt_set = None
        self.evaluation = GroundTruthCollector(self.map_label_set, gt_set,
                                               label_stride=max(len(self.sequence) // MAX_LABEL_FRAMES, 1))
        self.samples: list[dict[str, np.ndarray]] = []
        self.viz = outputs.make_viz(cfg.viz, self.map_label_set, run, cfg.viz_connect)
        if run.resumed:
            self._restore()

    def _probs_label_set(self) -> LabelSet | None:
        """The label set of the class probabilities the map will be given; checks the network can supply them."""
        if self.cfg.labels == "gt":
            return self.sequence.label_set
        if self.cfg.labels == "none" or self.predictor is None:
            return None
        if "segm" not in self.predictor.tasks:
            raise ConfigError(f"--labels network: the model predicts {', '.join(self.predictor.tasks)}, no "
                              "segmentation (use --labels gt or none)")
        if self.predictor.label_set is None:
            raise ConfigError("--labels network: the model's classes belong to no single label set (a multi-dataset "
                              "model?); choose one with --set network.class_slice=NAME, e.g. nyu40")
        return get_label_set(self.predictor.label_set)

    # --------------------------------------------------------------------------------------------- resume
    def _restore(self) -> None:
        state_path = self.run.path / SNAPSHOT_STATE
        if not state_path.exists():
            log.info("no snapshot in %s: starting from the first frame", self.run.path)
            return
        data = json.loads(state_path.read_text())
        self.state = ReconstructionState(**data)
        self.map = load_map(self.run.path / self.state.map_file)
        if self.state.evaluation_file:
            self.evaluation.load(self.run.path / self.state.evaluation_file)
        self.timer.load_state(self.state.timer)
        if self.tracker is not None and self.state.poses:
            # Trackers keep the last tracked frame as their reference: re-read it and hand it over. A tracker
            # without a reference (and no map given) takes the frame as its reference and keeps the pose.
            last = self.sequence[self.sequence_position(self.state.indices[-1])]
            self.tracker.reset()
            self.tracker.track(self._frame_depth_for_resume(last), last.rgb, last.camera,
                               np.array(self.state.poses[-1]), None)
        log.info("resumed at frame position %d of %d (%d frames integrated)", self.state.next_position,
                 len(self.sequence), len(self.state.indices))

    def sequence_position(self, index: int) -> int:
        """Position in the sliced sequence of the frame with dataset index ``index``."""
        src = self.cfg.sequence
        return (index - src.start) // src.step

    def _frame_depth_for_resume(self, frame: Frame) -> np.ndarray:
        if self.cfg.depth == "sensor":
            return frame.depth
        return self.predictor.predict(frame.rgb).depth

    def _snapshot(self) -> None:
        """Save the map under a new name, then the state that points at it, then drop the old map file.

        At every instant the state on disk names a complete map file, so a kill at any point is safe.
        """
        old = (self.state.map_file, self.state.evaluation_file)
        tag = f"{self.state.next_position:06d}"
        self.state.map_file = f"snapshot/map-{tag}.npz"
        self.state.evaluation_file = f"snapshot/evaluation-{tag}.npz"
        self.map.save(self.run.file(self.state.map_file))
        self.evaluation.save(self.run.file(self.state.evaluation_file))
        self.state.timer = self.timer.to_state()
        atomic_write_text(self.run.file(SNAPSHOT_STATE), json.dumps(self.state.__dict__))
        for stale in old:
            if stale and stale not in (self.state.map_file, self.state.evaluation_file):
                (self.run.path / stale).unlink(missing_ok=True)

    # --------------------------------------------------------------------------------------------- per frame
    def _probs_for(self, frame: Frame, prediction: Any, count: int) -> np.ndarray | None:
        if self.cfg.labels == "none" or count % self.cfg.labels_every != 0:
            return None
        if self.cfg.labels == "gt":
            return frame.labels
        return prediction.probs

    def _pose_for(self, frame: Frame, depth: np.ndarray) -> np.ndarray | None:
        if self.tracker is None:
            return frame.pose
        previous = np.array(self.state.poses[-1]) if self.state.poses else (
            frame.pose if frame.pose is not None else np.eye(4))
        result = self.tracker.track(depth, frame.rgb, frame.camera, previous, self.map, frame_index=frame.index)
        if not result.ok:
            log.warning("tracking failed at frame %d (%s); frame skipped", frame.index,
                        result.info.get("reason", "unknown reason"))
            return None
        return result.pose

    def _process(self, frame: Frame, prediction: Any) -> None:
        depth = frame.depth if self.cfg.depth == "sensor" else prediction.depth
        with self.timer.stage("tracking"):
            pose = self._pose_for(frame, depth)
        if pose is None:
            self.state.failures.append(frame.index)
            return
        probs = self._probs_for(frame, prediction, len(self.state.indices))
        with self.timer.stage("fusion"):
            self.map.integrate(depth, frame.rgb, probs, frame.camera, pose)
        self.state.indices.append(frame.index)
        self.state.timestamps.append(float(frame.timestamp))
        self.state.poses.append(np.asarray(pose, dtype=float).tolist())
        if self.cfg.evaluate:
            self.evaluation.add(frame, prediction)
        if self.cfg.save_predictions and prediction is not None:
            outputs.save_prediction(self.run, frame, prediction)
        outputs.keep_sample(self.samples, frame, prediction, len(self.state.indices) - 1, len(self.sequence))
        if self.viz is not None:
            self.viz.log_frame(frame, prediction, pose, depth)

    def estimated_poses(self) -> dict[int, np.ndarray]:
        """Dataset frame index -> estimated 4x4 camera-to-world of every integrated frame."""
        return {i: np.asarray(p, dtype=np.float64) for i, p in zip(self.state.indices, self.state.poses)}

    # --------------------------------------------------------------------------------------------- main loop
    def run_frames(self, progress: bool = True) -> None:
        """Process every remaining frame, batching the network, snapshotting as configured."""
        seq = self.sequence
        batch_size = self.cfg.network.batch_size if self.predictor is not None else 1
        bar = tqdm(total=len(seq), initial=self.state.next_position, unit="frame", disable=not progress,
                   desc=f"reconstruct {seq.name}")
        position = self.state.next_position
        while position < len(seq):
            with self.timer.stage("read", count=0):
                batch = []
                while position < len(seq) and len(batch) < batch_size:
                    frame = seq.load_or_skip(position)
                    position += 1
                    if frame is not None:
                        batch.append(frame)
            predictions: list[Any] = [None] * len(batch)
            if self.predictor is not None and batch:
                with self.timer.stage("network", count=len(batch)):
                    predictions = self.predictor.predict([f.rgb for f in batch])
            for frame, prediction in zip(batch, predictions):
                self._process(frame, prediction)
                bar.update(1)
            self.state.next_position = position
            due = self.cfg.snapshot_every and (len(self.state.indices) // self.cfg.snapshot_every
                                               != (len(self.state.indices) - len(batch)) // self.cfg.snapshot_every)
            if due and position < len(seq):
                with self.timer.stage("snapshot"):
                    self._snapshot()
        bar.close()
        self.timer.count["read"] = len(self.state.indices) + len(self.state.failures)

    def finish(self) -> dict[str, Any]:
        """Write the outputs, metrics and report; returns the metrics."""
        if not self.state.indices:
            raise SequenceFormatError(f"{self.sequence.name}: no frame could be integrated "
                                      f"({len(self.state.failures)} tracking failures)")
        t0 = time.perf_counter()
        metrics = outputs.write_outputs(self)
        metrics["timings"]["outputs_seconds"] = round(time.perf_counter() - t0, 3)
        self.run.write_json("metrics.json", metrics)
        outputs.write_report(self, metrics)
        if self.viz is not None:
            self.viz.log_map(self.map)
            self.viz.close()
        # The snapshot served its purpose: the finished run keeps only its final map.
        for stale in (self.run.path / "snapshot").glob("*"):
            stale.unlink()
        (self.run.path / "snapshot").rmdir() if (self.run.path / "snapshot").exists() else None
        return metrics


def run_reconstruct(cfg: ReconstructConfig, run: RunFolder, progress: bool = True) -> dict[str, Any]:
    """Run a whole reconstruction into ``run`` (not finished: the caller renames the folder)."""
    run.write_config(cfg)
    job = Reconstruction(cfg, run)
    job.run_frames(progress=progress)
    return job.finish()
