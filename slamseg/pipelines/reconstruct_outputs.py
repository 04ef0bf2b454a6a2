"""What ``slamseg reconstruct`` leaves behind: mesh, point cloud, trajectory, map, metrics, report, figures.

Also the per-frame evaluation against ground truth (single-frame network labels and depth, fused-map labels
rendered back into the labelled frames: SemanticFusion's 2D protocol) and optional live visualisation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from slamseg.figures import colourise_depth, save_image_grid, save_series_plot, save_trajectory_plot
from slamseg.pipelines.map_evaluation import evaluate
from slamseg.pipelines.trajectory_evaluation import trajectory_metrics, write_status_csv
from slamseg.report import Report
from slamseg.runs import RunFolder
from slamseg.sequences import Frame, LabelSet, get_label_set, get_mapping
from slamseg.sequences.atomic import atomic_path
from slamseg.sequences.errors import LabelSetError
from slamseg.slam import NO_USABLE_DEPTH, coverage, status_counts

if TYPE_CHECKING:
    from slamseg.pipelines.map_evaluation import GroundTruthCollector
    from slamseg.pipelines.reconstruct_config import ReconstructConfig
    from slamseg.sequences import Camera
    from slamseg.slam import FrameRecord

log = logging.getLogger(__name__)

MAX_SAMPLES = 4  # sample frames kept for the report figure


@dataclass
class ReconstructionResult:
    """Everything the outputs of a reconstruction are written from (the runner builds it when it is done).

    Attributes:
        cfg: the options it ran with.
        sequence_name, sequence_label_set, ground_truth, skipped_corrupt: about the sequence (its label set, its
            ground-truth trajectory or None, dataset indices of frames it could not read).
        camera: the frames' camera.
        semantic_map: the final map; map_label_set its label set.
        records: one FrameRecord per processed frame (pose, status, reason).
        fused_indices, fused_poses: dataset index and final 4 x 4 camera-to-world pose of every fused frame.
        failures: dataset indices of frames not fused.
        tracking_ms: per-frame tracking time.
        loop_closure: what the end of the run did (keyframes, loops, corrections, whether the map was rebuilt).
        timings: per-stage wall time (StageTimer.summary()).
        samples: a few frames with their predictions for the report's figure.
        evaluation: what was collected against the ground truth, or None.
        world_is_ground_truth: the poses are in the sequence's ground-truth frame (ground-truth tracking, or a
            tracker that started at the first frame's ground-truth pose); otherwise in the first tracked
            camera's frame.
    """

    cfg: ReconstructConfig
    sequence_name: str
    sequence_label_set: LabelSet | None
    ground_truth: Any
    skipped_corrupt: list[int]
    camera: Camera
    semantic_map: Any
    map_label_set: LabelSet
    records: list[FrameRecord]
    fused_indices: list[int]
    fused_poses: list[np.ndarray]
    failures: list[int]
    tracking_ms: list[float]
    loop_closure: dict[str, Any]
    timings: dict[str, dict[str, float]]
    samples: list[dict[str, Any]] = field(default_factory=list)
    evaluation: GroundTruthCollector | None = None
    world_is_ground_truth: bool = False

    def estimated_poses(self) -> dict[int, np.ndarray]:
        """Dataset frame index -> 4 x 4 camera-to-world of every fused frame."""
        return {i: np.asarray(p, dtype=np.float64) for i, p in zip(self.fused_indices, self.fused_poses)}


def keep_sample(samples: list[dict[str, np.ndarray]], frame: Frame, prediction: Any, position: int, total: int
                ) -> None:
    """Keep up to MAX_SAMPLES evenly spread frames (rgb, depths, labels) for the report.

    ``position`` counts frames processed in this run (not the dataset index, which a sliced sequence skips)."""
    every = max(total // MAX_SAMPLES, 1)
    if position % every != 0 or len(samples) >= MAX_SAMPLES:
        return
    sample = {"index": frame.index, "rgb": frame.rgb}
    if frame.depth is not None:
        sample["sensor_depth"] = frame.depth
    if prediction is not None:
        sample["pred_depth"] = prediction.depth
        sample["pred_labels"] = prediction.labels
        sample["pred_label_set"] = prediction.label_set
    if frame.labels is not None:
        sample["gt_labels"] = frame.labels
    samples.append(sample)


def save_prediction(run: RunFolder, frame: Frame, prediction: Any) -> None:
    """Per-frame predicted depth (uint16 mm PNG) and labels (PNG) under ``predictions/``."""
    import imageio.v3 as iio

    from slamseg.sequences.writers import MM_DEPTH_SCALE, encode_depth

    depth_mm = encode_depth(prediction.depth, MM_DEPTH_SCALE)  # beyond 65.5 m: 0 (invalid), not saturated
    for name, image in ((f"predictions/depth/{frame.index:06d}.png", depth_mm),
                        (f"predictions/labels/{frame.index:06d}.png", prediction.labels.astype(np.uint8))):
        with atomic_path(run.file(name)) as tmp:
            iio.imwrite(tmp, image)


def world_frame(result: ReconstructionResult) -> dict[str, Any]:
    """What the run's world coordinates are: ``frame`` (in words), ``up_axis`` (one of fusion.world.UP_AXES),
    ``up_vector`` (the cameras' mean up direction it was snapped from), ``up_from`` and ``to_y_up`` (the 3 x 3
    world -> glTF rotation applied to mesh.glb)."""
    from slamseg.fusion.errors import MapError
    from slamseg.fusion.world import camera_up_vector, rotation_to_y_up, up_axis_from_poses

    if result.world_is_ground_truth:
        frame = f"ground-truth frame of {result.sequence_name} (metres)"
    else:
        first = result.fused_indices[0] if result.fused_indices else None
        frame = (f"camera frame of frame {first}, the first tracked (OpenCV axes: x right, y down, z forward; "
                 "metres)")
    poses = np.asarray(result.fused_poses, dtype=np.float64).reshape(-1, 4, 4)
    try:
        up_axis = up_axis_from_poses(poses)
    except MapError as err:  # degenerate cameras must not cost the run its outputs: world axes are kept
        log.warning("no world up axis: %s; mesh.glb keeps the world axes", err)
        return {"frame": frame, "up_axis": None, "up_vector": None, "up_from": f"undetermined: {err}",
                "to_y_up": None}
    return {"frame": frame, "up_axis": up_axis,
            "up_vector": [round(float(v), 4) for v in camera_up_vector(poses)],
            "up_from": "mean up direction (-y axis) of the fused cameras, snapped to the nearest world axis",
            "to_y_up": rotation_to_y_up(up_axis).tolist()}


def write_outputs(result: ReconstructionResult, run: RunFolder) -> tuple[dict[str, Any], Any]:
    """Mesh (PLY + GLB), point cloud, trajectory, map; returns the metrics dict (without the evaluation, which is
    its own step: :func:`evaluate_result`) and the extracted geometry."""
    from slamseg.fusion.export import export_mesh, export_point_cloud
    from slamseg.sequences.poses import write_tum_trajectory

    world = world_frame(result)
    geometry = result.semantic_map.extract_mesh()  # TSDF: marching-cubes mesh; surfels: a face-less point cloud
    files = {}
    if len(geometry.faces):
        files["mesh_ply"] = export_mesh(geometry, run.file("mesh.ply"))
        files["mesh_glb"] = export_mesh(geometry, run.file("mesh.glb"), up_axis=world["up_axis"])
        semantic_map = result.semantic_map
        points = semantic_map.extract_point_cloud() if hasattr(semantic_map, "extract_point_cloud") else geometry
    else:
        points = geometry
    files["cloud_ply"] = export_point_cloud(points, run.file("cloud.ply"))
    records = result.records
    posed = [r for r in records if r.pose is not None]
    write_tum_trajectory(run.file("trajectory.txt"), np.array([r.timestamp for r in posed]),
                         np.array([r.pose for r in posed]).reshape(-1, 4, 4),
                         "estimated camera trajectory of slamseg reconstruct: every frame with a pose "
                         "(statuses in trajectory_status.csv)")
    files["trajectory"] = run.file("trajectory.txt")
    write_status_csv(run.file("trajectory_status.csv"), records)
    files["trajectory_status"] = run.file("trajectory_status.csv")
    files["map"] = result.semantic_map.save(run.file("map.npz"))

    n_done = len(result.fused_indices)
    timings = result.timings
    staged = sum(v["seconds"] for v in timings.values())
    labels, counts = np.unique(geometry.labels, return_counts=True)
    names = result.map_label_set.names
    metrics: dict[str, Any] = {
        "sequence": result.sequence_name,
        "world": world,
        "frames_integrated": n_done,
        "tracking_failures": result.failures,
        "tracking": _tracking_summary(result),
        "frames_skipped_corrupt": result.skipped_corrupt,
        "frames_without_depth": [r.index for r in records if r.reason == NO_USABLE_DEPTH],
        "frames_per_second": round(n_done / staged, 3) if staged else None,
        "timings": {"stages": timings, "total_seconds": round(staged, 3)},
        "map": result.semantic_map.stats(),
        "map_class_histogram": {names[int(c)]: int(n) for c, n in zip(labels, counts)},
        "outputs": {k: str(v.relative_to(run.path)) for k, v in files.items()},
    }
    return metrics, geometry


def evaluate_result(result: ReconstructionResult, geometry: Any) -> dict[str, Any]:
    """Everything the sequence's ground truth allows to evaluate of the result (trajectory, labels rendered into
    the labelled frames, predicted depth, the mesh); empty without collected ground truth."""
    if result.evaluation is None:
        return {}
    gt_mesh = Path(result.cfg.sequence.path) / "mesh.ply"
    trajectory = trajectory_metrics(result.records, result.evaluation.gt_poses, result.ground_truth,
                                    predicted_depth=result.cfg.depth == "predicted")
    return evaluate(result.semantic_map, result.estimated_poses(), result.evaluation,
                    geometry if len(geometry.faces) else None, gt_mesh, trajectory)


def _tracking_summary(result: ReconstructionResult) -> dict[str, Any]:
    """Statuses, coverage, per-frame tracking time and what loop closure did."""
    records = result.records
    ms = np.array(result.tracking_ms, dtype=np.float64)
    return {
        "mode": result.cfg.tracking,
        "status_counts": status_counts(records),
        "coverage": coverage(records),
        "ms_per_frame_median": round(float(np.median(ms)), 3) if ms.size else None,
        "ms_per_frame_p90": round(float(np.percentile(ms, 90)), 3) if ms.size else None,
        **result.loop_closure,
    }


def _labels_panel(title: str, labels: np.ndarray, label_set: LabelSet, shown: LabelSet) -> tuple[str, np.ndarray]:
    """A labels image in the map's label set and palette (so panels side by side agree), or in its own set when
    it does not map there."""
    try:
        labels = get_mapping(label_set, shown).map_labels(labels)
    except LabelSetError:
        shown = label_set
    return f"{title} ({shown.name})", shown.colourise(labels)


def _render_views(result: ReconstructionResult) -> list[tuple[str, np.ndarray]]:
    """The map rendered (labels and colour) from the first, middle and last camera poses."""
    poses = result.fused_poses
    picks = sorted({0, len(poses) // 2, len(poses) - 1})
    images = []
    for i in picks:
        view = result.semantic_map.render(result.camera, np.asarray(poses[i]))
        images.append((f"map labels @ frame {result.fused_indices[i]}", result.map_label_set.colourise(view.labels)))
        images.append((f"map colour @ frame {result.fused_indices[i]}", view.colour))
    return images


def write_report(result: ReconstructionResult, metrics: dict[str, Any], run: RunFolder) -> None:
    """report.md / report.html with figures under figures/."""
    rep = Report(f"slamseg reconstruct: {result.sequence_name}")
    cfg = result.cfg
    rep.paragraph(f"{metrics['frames_integrated']} frames, depth: {cfg.depth}, labels: {cfg.labels} "
                  f"(every {cfg.labels_every}), map: {cfg.map}, tracking: {cfg.tracking}, "
                  f"{cfg.classes} classes.")
    rep.heading("Speed")
    rep.table(["stage", "ms per call", "share"],
              [[k, v["ms_per_call"], f"{100 * v['share']:.1f}%"] for k, v in metrics["timings"]["stages"].items()])
    rep.key_values({"frames per second": metrics["frames_per_second"],
                    "frames not fused (tracking rejected)": len(metrics["tracking_failures"])})
    tracking = metrics["tracking"]
    rep.heading("Tracking")
    rep.key_values({"mode": tracking["mode"], "coverage (tracked or recovered)": tracking["coverage"],
                    **{f"frames {k}": v for k, v in tracking["status_counts"].items()},
                    **{k: v for k, v in tracking.items() if k in ("keyframes", "loops_found", "loops_kept",
                                                                   "max_correction_m", "map_rebuilt")}})
    ev = metrics.get("evaluation", {})
    if "labels_2d" in ev:
        rep.heading("Labels (2D, map rendered into labelled frames)")
        rows = [["fused map", ev["labels_2d"]["fused_map"]["class_average_accuracy"],
                 ev["labels_2d"]["fused_map"]["pixel_accuracy"], ev["labels_2d"]["fused_map"]["mean_iou"]]]
        if "single_frame" in ev["labels_2d"]:
            s = ev["labels_2d"]["single_frame"]
            rows.append(["single frame (network)", s["class_average_accuracy"], s["pixel_accuracy"], s["mean_iou"]])
        rep.table(["labels", "class-average accuracy", "pixel accuracy", "mIoU"], rows)
    nyu = ev.get("nyu_keyframes", {})
    if "fused_map" in nyu:
        rep.heading(f"NYU labelled frames of {nyu['scene']} ({nyu['frames']} of {nyu['labelled_frames']}, "
                    "13 classes, map rendered at their poses)")
        rep.table(["labels", "class-average accuracy", "pixel accuracy", "mIoU"],
                  [[name, m["class_average_accuracy"], m["pixel_accuracy"], m["mean_iou"]]
                   for name, m in (("fused map", nyu["fused_map"]), ("single frame (network)",
                                                                    nyu.get("single_frame"))) if m])
    if "depth" in ev:
        rep.heading("Predicted depth against the sequence's depth")
        rep.key_values({k: v for k, v in ev["depth"].items() if isinstance(v, (int, float))})
    if "ate" in ev.get("trajectory", {}):
        rep.heading("Trajectory")
        traj = ev["trajectory"]
        rep.key_values({"ATE RMSE [m]": traj["ate"]["rmse"],
                        "RPE translation RMSE [m/frame]": traj["rpe_translation"]["rmse"],
                        "RPE rotation RMSE [deg/frame]": traj["rpe_rotation_deg"]["rmse"],
                        "over": traj.get("over", "every fused frame"), "association": traj.get("association", "")})
    if "mesh" in ev:
        rep.heading("Mesh against the ground-truth mesh")
        rep.key_values(ev["mesh"])
    rep.heading("Map class histogram")
    rep.table(["class", "vertices"], [[k, v] for k, v in metrics["map_class_histogram"].items()])

    gt_by_index = result.evaluation.gt_poses if result.evaluation is not None else {}
    gt = np.stack([gt_by_index[i] for i in result.fused_indices]) if all(
        i in gt_by_index for i in result.fused_indices) else None
    save_trajectory_plot(run.file("figures/trajectory.png"), np.array(result.fused_poses), gt)
    rep.figure("figures/trajectory.png", "camera trajectory (top view)")
    if result.samples:
        rows = []
        for s in result.samples:
            row = [(f"frame {s['index']}", s["rgb"])]
            vmax = float(np.percentile(s["sensor_depth"][s["sensor_depth"] > 0], 99)) if "sensor_depth" in s and (
                s["sensor_depth"] > 0).any() else None
            if "sensor_depth" in s:
                row.append(("sensor depth", colourise_depth(s["sensor_depth"], vmax)))
            if "pred_depth" in s:
                row.append(("predicted depth", colourise_depth(s["pred_depth"], vmax)))
                row.append(_labels_panel("predicted labels", s["pred_labels"], get_label_set(s["pred_label_set"]),
                                         result.map_label_set))
            if "gt_labels" in s and result.sequence_label_set is not None:
                row.append(_labels_panel("ground-truth labels", s["gt_labels"], result.sequence_label_set,
                                         result.map_label_set))
            rows.append(row)
        save_image_grid(run.file("figures/frames.png"), rows)
        rep.figure("figures/frames.png", "input frames with the network's depth and labels")
    views = _render_views(result)
    save_image_grid(run.file("figures/map_views.png"), [views[i:i + 2] for i in range(0, len(views), 2)])
    rep.figure("figures/map_views.png", "the semantic map rendered from camera poses of the run")
    if result.evaluation is not None and result.evaluation.depth_rmse:
        idx, rmse = zip(*result.evaluation.depth_rmse)
        save_series_plot(run.file("figures/depth_rmse.png"), np.array(idx), {"RMSE": np.array(rmse)}, "frame",
                         "predicted depth RMSE [m]")
        rep.figure("figures/depth_rmse.png", "per-frame RMSE of the predicted depth")
    rep.write(run)


def make_viz(kind: str, label_set: LabelSet, run: RunFolder, connect: bool = False, up_axis: str = "-y") -> Any:
    """A rerun logger when asked for (extra [viz]); None otherwise, so nothing changes when it is off.

    ``up_axis``: the world's up axis as far as it is known before the run (see :func:`world_frame`)."""
    if kind == "none":
        return None
    from slamseg.pipelines.viz import RerunLogger

    return RerunLogger(label_set, run.file("viz.rrd"), connect=connect, up_axis=up_axis)
