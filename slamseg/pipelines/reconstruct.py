"""``slamseg reconstruct``: a sequence -> network -> tracking -> semantic map -> mesh, trajectory, report.

This runner owns the I/O; the algorithm is :class:`slamseg.slam.SemanticSLAM`. Per frame: the joint network
(batched) gives depth and class probabilities; the core tracks the frame's depth (predicted or sensor) and fuses
it at its pose (ground truth or tracked) with the probabilities (mapped 40 -> 13 by the map) every
``labels_every`` fused frames. At the end the core closes loops over its keyframes; when that moves the poses by
more than a voxel the map is fused again from the optimised poses (frames re-read from the sequence). The map
and the core's records and keyframes are snapshotted every ``snapshot_every`` frames so that an interrupted run
continues with ``--resume``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from slamseg.errors import ConfigError, LabelSetError, SequenceFormatError
from slamseg.fusion.keyframes import keyframes_from_arrays, keyframes_to_arrays
from slamseg.fusion.maps import load_map
from slamseg.fusion.posegraph import loop_closure_for
from slamseg.fusion.tracking import RGBDTracker, Tracker, TrackerConfig
from slamseg.fusion.types import SemanticMap
from slamseg.fusion.world import up_axis_from_poses
from slamseg.pipelines import nyu_keyframes
from slamseg.pipelines import reconstruct_outputs as outputs
from slamseg.pipelines.common import StageTimer, make_predictor, open_source
from slamseg.pipelines.map_evaluation import MAX_LABEL_FRAMES, GroundTruthCollector
from slamseg.pipelines.reconstruct_config import ReconstructConfig
from slamseg.pipelines.reconstruct_state import ReconstructionState, check_resume_matches, sequence_fingerprint
from slamseg.runs import RunFolder
from slamseg.sequences import Frame, LabelSet, Sequence, get_label_set, get_mapping
from slamseg.sequences.atomic import atomic_path, atomic_write_text
from slamseg.sequences.progress import progress_bar
from slamseg.slam import NO_USABLE_DEPTH, FrameRecord, SemanticSLAM
from slamseg.slam import make_tracker as make_slam_tracker

log = logging.getLogger(__name__)

SNAPSHOT_STATE = "snapshot/state.json"


def _check_requirements(cfg: ReconstructConfig, sequence: Sequence, first: Frame) -> None:
    """Fail before any work when the data cannot supply what the config asks for."""
    name = sequence.name
    if cfg.depth == "sensor" and first.depth is None:
        raise ConfigError(f"{name}: --depth sensor needs depth images, but this sequence has none")
    if cfg.tracking == "gt" and first.pose is None:
        raise ConfigError(f"{name}: --tracking gt needs ground-truth poses, but frame {first.index} has none "
                             "(track the camera: --tracking keyframe)")
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


def make_map(cfg: ReconstructConfig, label_set: LabelSet, probs_label_set: LabelSet | None) -> SemanticMap:
    """An empty map of the configured kind whose integrate() accepts ``probs_label_set`` probabilities."""
    if probs_label_set is not None and not _maps_into(probs_label_set, label_set):
        raise ConfigError(f"labels of {probs_label_set.name} cannot be mapped to the map's {label_set.name} classes "
                          f"(try --classes 40)")
    if cfg.map == "tsdf":
        from slamseg.fusion.tsdf import SemanticTSDF

        return SemanticTSDF(params=cfg.tsdf, label_set=label_set, probs_label_set=probs_label_set)
    from slamseg.fusion.surfel import SurfelMap

    return SurfelMap(label_set=label_set, probs_label_set=probs_label_set, params=cfg.surfel)


def make_tracker(cfg: ReconstructConfig) -> Tracker | None:
    """The pose source: None for ground truth, else an RGB-D tracker configured from ``cfg.tracker``."""
    opts = cfg.tracker
    depth_max = cfg.tsdf.depth_max if cfg.map == "tsdf" else cfg.surfel.max_depth
    tracker_cfg = TrackerConfig(method=opts.method, scale=opts.scale, depth_max=depth_max, depth_source=cfg.depth,
                                max_relative_jump=opts.max_relative_jump, max_predicted=opts.max_predicted,
                                keyframe_translation=opts.keyframe_translation,
                                keyframe_rotation_deg=opts.keyframe_rotation_deg)
    return make_slam_tracker(cfg.tracking, tracker_cfg, cfg.map)


class Reconstruction:
    """One reconstruct job inside a run folder (see the module docstring)."""

    def __init__(self, cfg: ReconstructConfig, run: RunFolder) -> None:
        self.cfg = cfg
        self.run = run
        self.sequence = open_source(cfg.sequence)
        first = self.sequence[0]
        _check_requirements(cfg, self.sequence, first)
        self.camera = first.camera
        # A tracker starts at the first frame's ground-truth pose when it has one, else at the identity: the
        # world is then the first camera's frame (OpenCV axes, up = -y). Ground-truth poses are in their own world.
        self.world_is_ground_truth = first.pose is not None or cfg.tracking == "gt"
        self.predictor = (make_predictor(cfg.network, depth_edge_jump=cfg.depth_edge_jump if cfg.depth == "predicted"
                                         else None) if cfg.needs_network else None)
        probs_set = self._probs_label_set()
        self.map_label_set = _map_label_set(cfg, probs_set)
        if probs_set is not None and not _maps_into(probs_set, self.map_label_set):
            raise ConfigError(f"labels of {probs_set.name} cannot be mapped to the map's {self.map_label_set.name} "
                              "classes (try --classes 40)")
        # The network's classes are summed into the map's set at its output resolution (cheap) by the Predictor,
        # with the same mapping the map would apply; with labels from elsewhere, its own set (cheaper resizing).
        self.predict_label_set: str | None = None
        if self.predictor is not None and self.predictor.label_set is not None:
            self.predict_label_set = (self.map_label_set.name if cfg.labels == "network"
                                      else self.predictor.label_set)
            if cfg.labels == "network":
                probs_set = self.map_label_set
        self.probs_label_set = probs_set
        loops = loop_closure_for(cfg.depth, cfg.tsdf.depth_max if cfg.map == "tsdf" else cfg.surfel.max_depth,
                                 enabled=cfg.tracker.loop_closure and cfg.tracking != "gt")
        self.slam = SemanticSLAM(make_map(cfg, self.map_label_set, probs_set), make_tracker(cfg), loops,
                                 rebuild_threshold=cfg.tsdf.voxel_size if cfg.map == "tsdf" else 0.01)
        self.loop_result: dict[str, Any] = {}
        self.timer = StageTimer()
        self.state = ReconstructionState()
        gt_set = self.sequence.label_set
        if gt_set is not None and not _maps_into(gt_set, self.map_label_set):
            log.warning("the sequence's %s labels do not map into the map's %s classes: no 2D label evaluation",
                        gt_set.name, self.map_label_set.name)
            gt_set = None
        self.evaluation = GroundTruthCollector(self.map_label_set, gt_set,
                                               label_stride=max(len(self.sequence) // MAX_LABEL_FRAMES, 1))
        self.nyu_labelled = None  # the labelled frames of this NYU raw scene (--nyu-labeled), checked before work
        if cfg.evaluation.nyu_labeled:
            nyu_keyframes.check_label_set(self.map_label_set)
            self.nyu_labelled = nyu_keyframes.read_labelled_frames(cfg.evaluation.nyu_labeled, self.sequence.name,
                                                                   (self.camera.width, self.camera.height))
        self.samples: list[dict[str, np.ndarray]] = []
        self.viz = outputs.make_viz(cfg.viz, self.map_label_set, run, cfg.viz_connect,
                                    up_axis=up_axis_from_poses(first.pose) if first.pose is not None else "-y")
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
        fingerprint = sequence_fingerprint(self.sequence, self.camera)
        saved = data.get("fingerprint") or fingerprint
        if saved != fingerprint:
            differ = ", ".join(f"{k}: {saved.get(k)!r} -> {fingerprint.get(k)!r}" for k in fingerprint
                               if saved.get(k) != fingerprint.get(k))
            raise ConfigError(f"{self.run.path}: the interrupted run was made from other frames ({differ}); "
                              "resume it with the same sequence, or start a new run")
        self.state = ReconstructionState(**data)
        self.slam.map = load_map(self.run.path / self.state.map_file)
        if self.state.evaluation_file:
            self.evaluation.load(self.run.path / self.state.evaluation_file)
        self.timer.load_state(self.state.timer)
        self.slam.records = [FrameRecord.from_dict(r) for r in self.state.records]
        tracker = self.slam.tracker
        if isinstance(tracker, RGBDTracker) and self.state.poses:
            # The tracker continues from its keyframes and the last fused frame (re-read) as its reference.
            keyframes = []
            if self.state.keyframes_file:
                with np.load(self.run.path / self.state.keyframes_file) as data_kf:
                    keyframes = keyframes_from_arrays(data_kf)
            last = self.sequence[self.sequence_position(self.state.indices[-1])]
            last_record = next(r for r in reversed(self.slam.records) if r.fused)
            tracker.restore(keyframes, np.array(self.state.poses[-1]), self._frame_depth_for_resume(last), last.rgb,
                            last.camera, last.timestamp, last_record.keyframe)
        log.info("resumed at frame position %d of %d (%d frames integrated)", self.state.next_position,
                 len(self.sequence), len(self.state.indices))

    @property
    def map(self) -> SemanticMap:
        """The map being built (the core's)."""
        return self.slam.map

    def sequence_position(self, index: int) -> int:
        """Position in the sliced sequence of the frame with dataset index ``index``."""
        src = self.cfg.sequence
        return (index - src.start) // src.step

    def _single_frame_nyu13(self) -> Any:
        """RGB -> the network's own NYU-13 labels, or None when the network gives no NYU labels."""
        predictor = self.predictor
        if predictor is None or "segm" not in predictor.tasks or predictor.label_set is None or not _maps_into(
                get_label_set(predictor.label_set), get_label_set("nyu13")):
            return None
        return lambda rgb: predictor.predict(rgb, label_set="nyu13").labels

    def _frame_depth_for_resume(self, frame: Frame) -> np.ndarray:
        if self.cfg.depth == "sensor":
            return frame.depth
        return self.predictor.predict(frame.rgb, label_set=self.predict_label_set).depth

    def _snapshot(self) -> None:
        """Save the map under a new name, then the state that points at it, then drop the old map file.

        At every instant the state on disk names a complete map file, so a kill at any point is safe.
        """
        old = (self.state.map_file, self.state.evaluation_file, self.state.keyframes_file)
        tag = f"{self.state.next_position:06d}"
        self.state.map_file = f"snapshot/map-{tag}.npz"
        self.state.evaluation_file = f"snapshot/evaluation-{tag}.npz"
        self.state.keyframes_file = f"snapshot/keyframes-{tag}.npz"
        self.map.save(self.run.file(self.state.map_file), compress=False)
        self.evaluation.save(self.run.file(self.state.evaluation_file))
        with atomic_path(self.run.file(self.state.keyframes_file)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **keyframes_to_arrays(self.slam.keyframes))
        self.state.timer = self.timer.to_state()
        self.state.records = [r.to_dict() for r in self.slam.records]
        if not self.state.fingerprint:
            self.state.fingerprint = sequence_fingerprint(self.sequence, self.camera)
        atomic_write_text(self.run.file(SNAPSHOT_STATE), json.dumps(self.state.__dict__))
        current = (self.state.map_file, self.state.evaluation_file, self.state.keyframes_file)
        for stale in old:
            if stale and stale not in current:
                (self.run.path / stale).unlink(missing_ok=True)

    # --------------------------------------------------------------------------------------------- per frame
    def _probs_for(self, frame: Frame, prediction: Any, count: int) -> np.ndarray | None:
        """The labels to fuse with the ``count``-th fused frame (None off the ``labels_every`` cadence)."""
        if self.cfg.labels == "none" or count % self.cfg.labels_every != 0:
            return None
        if self.cfg.labels == "gt":
            return frame.labels
        return prediction.probs

    def _process(self, frame: Frame, prediction: Any) -> None:
        depth = frame.depth if self.cfg.depth == "sensor" else prediction.depth
        probs = self._probs_for(frame, prediction, len(self.state.indices))
        step = self.slam.step(frame, depth, probs)
        self.timer.add("tracking", step.timings["tracking"])
        self.timer.add("fusion", step.timings["fusion"])
        self.state.tracking_ms.append(round(1e3 * step.timings["tracking"], 3))
        if self.cfg.evaluate:
            self.evaluation.add(frame, prediction)
        if not step.record.fused:
            self.state.failures.append(frame.index)
            return
        pose = step.record.pose
        self.state.indices.append(frame.index)
        self.state.timestamps.append(float(frame.timestamp))
        self.state.poses.append(np.asarray(pose, dtype=float).tolist())
        if self.cfg.save_predictions and prediction is not None:
            outputs.save_prediction(self.run, frame, prediction)
        outputs.keep_sample(self.samples, frame, prediction, len(self.state.indices) - 1, len(self.sequence))
        if self.viz is not None:
            self.viz.log_frame(frame, prediction, pose, depth)

    def _rebuild(self) -> None:
        """Fuse every fused frame again at its optimised pose into a new map."""
        log.info("rebuilding the map from %d frames at their optimised poses", len(self.state.indices))
        self.slam.rebuild(make_map(self.cfg, self.map_label_set, self.probs_label_set), _rebuild_frames(self))

    # --------------------------------------------------------------------------------------------- main loop
    def run_frames(self, progress: bool = True) -> None:
        """Process every remaining frame, batching the network, snapshotting as configured."""
        seq = self.sequence
        bar = progress_bar(total=len(seq), initial=self.state.next_position, unit="frame", enabled=progress,
                           desc=f"reconstruct {seq.name}")

        def frames() -> Iterator[tuple[int, Frame]]:  # (position after the frame, frame); unreadable ones skipped
            position = self.state.next_position
            while position < len(seq):
                with self.timer.stage("read", count=0):
                    frame = seq.load_or_skip(position)
                position += 1
                if frame is not None:
                    yield position, frame

        pairs: Iterable[tuple[tuple[int, Frame], Any]]
        if self.predictor is None:
            pairs = ((item, None) for item in frames())
        else:
            pairs = self.predictor.predict_frames(
                frames(), self.cfg.network.batch_size, label_set=self.predict_label_set, image=lambda it: it[1].rgb,
                probs=self.cfg.labels == "network",
                timer=lambda n, seconds: self.timer.add("network", seconds, n))
        for (after, frame), prediction in pairs:
            fused_before = len(self.state.indices)
            self._process(frame, prediction)
            bar.update(1)
            self.state.next_position = after
            fused = len(self.state.indices)
            due = self.cfg.snapshot_every and fused != fused_before and fused % self.cfg.snapshot_every == 0
            if due and after < len(seq):
                with self.timer.stage("snapshot"):
                    self._snapshot()
        self.state.next_position = len(seq)
        bar.close()
        self.timer.count["read"] = len(self.state.indices) + len(self.state.failures)

    def result(self) -> outputs.ReconstructionResult:
        """The run's result as the output writers take it."""
        return outputs.ReconstructionResult(
            cfg=self.cfg, sequence_name=self.sequence.name, sequence_label_set=self.sequence.label_set,
            ground_truth=self.sequence.ground_truth,
            skipped_corrupt=[i for i, _ in getattr(self.sequence, "skipped", [])], camera=self.camera,
            semantic_map=self.map, map_label_set=self.map_label_set, records=self.slam.records,
            fused_indices=list(self.state.indices), fused_poses=[np.asarray(p) for p in self.state.poses],
            failures=list(self.state.failures), tracking_ms=list(self.state.tracking_ms),
            loop_closure=self.loop_result, timings=self.timer.summary(), samples=self.samples,
            evaluation=self.evaluation if self.cfg.evaluate else None,
            world_is_ground_truth=self.world_is_ground_truth)

    def finish(self) -> dict[str, Any]:
        """Write the outputs, metrics and report; returns the metrics."""
        if not self.state.indices:
            no_depth = sum(1 for r in self.slam.records if r.reason == NO_USABLE_DEPTH)
            raise SequenceFormatError(f"{self.sequence.name}: no frame could be integrated ({no_depth} of "
                                      f"{len(self.slam.records)} frames without usable depth, "
                                      f"{len(self.state.failures) - no_depth} rejected by tracking)")
        with self.timer.stage("loop_closure"):
            result = self.slam.finish()
        fused = {r.index: r.pose for r in result.records if r.fused}
        self.state.poses = [np.asarray(fused[i]).tolist() for i in self.state.indices]
        rebuild = self.cfg.tracker.rebuild
        rebuilt = self.cfg.tracking != "gt" and (rebuild == "always" or (rebuild == "auto" and result.rebuild_advised))
        if rebuilt:
            with self.timer.stage("rebuild"):
                self._rebuild()
        self.loop_result = {"keyframes": result.keyframes, "loops_found": result.loops_found,
                            "loops_kept": result.loops_kept, "max_correction_m": round(result.max_correction_m, 4),
                            "max_correction_deg": round(result.max_correction_deg, 3),
                            "p90_correction_m": round(result.p90_correction_m, 4), "map_rebuilt": rebuilt}
        t0 = time.perf_counter()
        done = self.result()
        metrics, geometry = outputs.write_outputs(done, self.run)
        metrics["timings"]["outputs_seconds"] = round(time.perf_counter() - t0, 3)
        if done.evaluation is not None:
            t0 = time.perf_counter()
            metrics["evaluation"] = outputs.evaluate_result(done, geometry)
            metrics["timings"]["evaluation_seconds"] = round(time.perf_counter() - t0, 3)
        if self.nyu_labelled is not None:
            t0 = time.perf_counter()
            metrics.setdefault("evaluation", {})["nyu_keyframes"] = nyu_keyframes.evaluate_nyu_keyframes(
                self.cfg.evaluation.nyu_labeled, self.nyu_labelled, done,
                lambda index: self.sequence[self.sequence_position(index)], self._single_frame_nyu13())
            metrics["timings"]["nyu_keyframes_seconds"] = round(time.perf_counter() - t0, 3)
        self.run.write_json("metrics.json", metrics)
        outputs.write_report(done, metrics, self.run)
        if self.viz is not None:
            self.viz.set_up_axis(metrics["world"]["up_axis"])
            self.viz.log_map(self.map)
            self.viz.close()
        # The snapshot served its purpose: the finished run keeps only its final map.
        for stale in (self.run.path / "snapshot").glob("*"):
            stale.unlink()
        (self.run.path / "snapshot").rmdir() if (self.run.path / "snapshot").exists() else None
        return metrics


def _rebuild_frames(job: Reconstruction) -> Iterator[tuple[Frame, np.ndarray | None, np.ndarray | None]]:
    """The fused frames again, with the depth and probabilities they were fused with (network re-run, batched)."""
    cfg = job.cfg
    frames = (job.sequence[job.sequence_position(i)] for i in job.state.indices)
    pairs: Iterable[tuple[Frame, Any]] = ((f, None) for f in frames) if job.predictor is None else (
        job.predictor.predict_frames(frames, cfg.network.batch_size, label_set=job.predict_label_set,
                                     probs=cfg.labels == "network"))
    for count, (frame, prediction) in enumerate(pairs):
        depth = frame.depth if cfg.depth == "sensor" else prediction.depth
        yield frame, depth, job._probs_for(frame, prediction, count)


def run_reconstruct(cfg: ReconstructConfig, run: RunFolder, progress: bool = True) -> dict[str, Any]:
    """Run a whole reconstruction into ``run`` (not finished: the caller renames the folder)."""
    check_resume_matches(run, cfg)
    run.write_config(cfg, command="reconstruct")
    job = Reconstruction(cfg, run)
    job.run_frames(progress=progress)
    return job.finish()
