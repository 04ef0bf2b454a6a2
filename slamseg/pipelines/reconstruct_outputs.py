"""What ``slamseg reconstruct`` leaves behind: mesh, point cloud, trajectory, map, metrics, report, figures.

Also the per-frame evaluation against ground truth (single-frame network labels and depth, fused-map labels
rendered back into the labelled frames: SemanticFusion's 2D protocol) and optional live visualisation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from slamseg.figures import colourise_depth, save_image_grid, save_series_plot, save_trajectory_plot
from slamseg.report import Report
from slamseg.runs import RunFolder
from slamseg.sequences import Frame, LabelSet, get_label_set, get_mapping
from slamseg.sequences.atomic import atomic_path

if TYPE_CHECKING:
    from slamseg.pipelines.reconstruct import Reconstruction

log = logging.getLogger(__name__)

MAX_SAMPLES = 4  # sample frames kept for the report figure
MAX_EVAL_FRAMES = 60  # labelled frames the fused map is rendered into for the 2D label evaluation


def keep_sample(samples: list[dict[str, np.ndarray]], frame: Frame, prediction: Any, total: int) -> None:
    """Keep up to MAX_SAMPLES evenly spread frames (rgb, depths, labels) for the report."""
    every = max(total // MAX_SAMPLES, 1)
    if frame.index % every != 0 or len(samples) >= MAX_SAMPLES:
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

    depth_mm = np.clip(np.round(prediction.depth * 1000.0), 0, 65535).astype(np.uint16)
    for name, image in ((f"predictions/depth/{frame.index:06d}.png", depth_mm),
                        (f"predictions/labels/{frame.index:06d}.png", prediction.labels.astype(np.uint8))):
        with atomic_path(run.file(name)) as tmp:
            iio.imwrite(tmp, image)


@dataclass
class FrameEvaluation:
    """Accumulates per-frame ground-truth comparisons during a reconstruction.

    Args:
        map_label_set: the map's label set; every label comparison happens in it.
        gt_label_set: the sequence's label set (None when it has no labels).
        pred_label_set: the network's label set name (None without a network).
    """

    map_label_set: LabelSet
    gt_label_set: LabelSet | None
    pred_label_set: str | None
    gt_poses: list[np.ndarray] = field(default_factory=list)
    gt_pose_indices: list[int] = field(default_factory=list)
    labelled: list[tuple[int, np.ndarray, np.ndarray | None, Any]] = field(default_factory=list)
    depth_rmse: list[tuple[int, float]] = field(default_factory=list)
    depth_pairs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def _to_map_labels(self, labels: np.ndarray, label_set: LabelSet | str) -> np.ndarray:
        return get_mapping(label_set, self.map_label_set).map_labels(labels)

    def add_frame(self, frame: Frame, prediction: Any) -> None:
        if frame.pose is not None:
            self.gt_poses.append(np.asarray(frame.pose))
            self.gt_pose_indices.append(frame.index)
        if frame.labels is not None and self.gt_label_set is not None and len(self.labelled) < MAX_EVAL_FRAMES:
            gt = self._to_map_labels(frame.labels, self.gt_label_set).astype(np.uint8)
            single = None
            if prediction is not None:
                single = self._to_map_labels(prediction.labels, prediction.label_set).astype(np.uint8)
            self.labelled.append((frame.index, gt, single, frame.camera))
        if prediction is not None and frame.depth is not None:
            valid = frame.depth > 0
            if valid.any():
                err = prediction.depth[valid] - frame.depth[valid]
                self.depth_rmse.append((frame.index, float(np.sqrt(np.mean(err**2)))))
                self.depth_pairs.append((prediction.depth, frame.depth))


def _trajectory_metrics(job: Reconstruction) -> dict[str, Any]:
    from slamseg.fusion.metrics import absolute_trajectory_error, relative_pose_error

    ev = job.evaluation
    est_by_index = dict(zip(job.state.indices, job.state.poses))
    common = [i for i in ev.gt_pose_indices if i in est_by_index]
    if len(common) < 3:
        return {}
    gt = np.stack([ev.gt_poses[ev.gt_pose_indices.index(i)] for i in common])
    est = np.stack([np.asarray(est_by_index[i]) for i in common])
    ate, _ = absolute_trajectory_error(gt, est)
    rpe_translation, rpe_rotation = relative_pose_error(gt, est)
    return {"ate": ate.to_dict(), "rpe_translation": rpe_translation.to_dict(),
            "rpe_rotation_deg": rpe_rotation.to_dict(), "frames_compared": len(common)}


def _label_metrics(job: Reconstruction) -> dict[str, Any]:
    """SemanticFusion's 2D protocol: fused map rendered into labelled frames vs single-frame labels vs GT."""
    from slamseg.fusion.metrics import label_metrics

    ev = job.evaluation
    est_by_index = dict(zip(job.state.indices, job.state.poses))
    gts, fused, single = [], [], []
    for index, gt, single_labels, camera in ev.labelled:
        if index not in est_by_index:
            continue
        view = job.map.render(camera, np.asarray(est_by_index[index]))
        gts.append(gt)
        fused.append(view.labels.astype(np.uint8))
        if single_labels is not None:
            single.append(single_labels)
    if not gts:
        return {}
    num_ids = len(job.map_label_set.names)
    out = {"frames": len(gts), "fused_map": label_metrics(np.stack(fused), np.stack(gts), num_ids).to_dict()}
    if len(single) == len(gts):
        out["single_frame"] = label_metrics(np.stack(single), np.stack(gts), num_ids).to_dict()
    return out


def _depth_metrics(job: Reconstruction) -> dict[str, Any]:
    from slamseg.networks.metrics import DepthMetrics

    if not job.evaluation.depth_pairs:
        return {}
    metrics = DepthMetrics(max_depth=10.0)
    for pred, gt in job.evaluation.depth_pairs:
        metrics.update(pred, gt)
    return metrics.compute()


def semantic_geometry(job: Reconstruction) -> Any:
    """The map's semantic mesh (TSDF) or semantic point cloud (surfels) as a SemanticMesh."""
    return job.map.extract_mesh()


def _mesh_accuracy(job: Reconstruction, geometry: Any) -> dict[str, Any]:
    """Accuracy/completeness against the sequence's ground-truth mesh, when it has one (synthetic)."""
    from pathlib import Path

    from slamseg.fusion.metrics import mesh_metrics

    gt_path = Path(job.cfg.sequence.path) / "mesh.ply"
    if not gt_path.exists() or len(geometry.vertices) == 0:
        return {}
    import trimesh

    gt = trimesh.load(gt_path, process=False)
    return mesh_metrics(geometry.to_trimesh(), gt).to_dict()


def write_outputs(job: Reconstruction) -> dict[str, Any]:
    """Mesh (PLY + GLB), point cloud, trajectory, map, and the metrics dict."""
    from slamseg.fusion.export import export_mesh, export_point_cloud
    from slamseg.sequences.poses import write_tum_trajectory

    run = job.run
    geometry = semantic_geometry(job)
    files = {}
    if len(geometry.faces):
        files["mesh_ply"] = export_mesh(geometry, run.file("mesh.ply"))
        files["mesh_glb"] = export_mesh(geometry, run.file("mesh.glb"))
        points = job.map.extract_point_cloud() if hasattr(job.map, "extract_point_cloud") else geometry
    else:
        points = geometry
    files["cloud_ply"] = export_point_cloud(points, run.file("cloud.ply"))
    write_tum_trajectory(run.file("trajectory.txt"), np.array(job.state.timestamps), np.array(job.state.poses))
    files["trajectory"] = run.file("trajectory.txt")
    files["map"] = job.map.save(run.file("map.npz"))

    n_done = len(job.state.indices)
    timings = job.timer.summary()
    staged = sum(v["seconds"] for v in timings.values())
    labels, counts = np.unique(geometry.labels, return_counts=True)
    names = job.map_label_set.names
    metrics: dict[str, Any] = {
        "sequence": job.sequence.name,
        "frames_integrated": n_done,
        "tracking_failures": job.state.failures,
        "frames_skipped_corrupt": [i for i, _ in getattr(job.sequence, "skipped", [])],
        "frames_per_second": round(n_done / staged, 3) if staged else None,
        "timings": {"stages": timings, "total_seconds": round(staged, 3)},
        "map": job.map.stats(),
        "map_class_histogram": {names[int(c)]: int(n) for c, n in zip(labels, counts)},
        "outputs": {k: str(v.relative_to(run.path)) for k, v in files.items()},
    }
    if job.cfg.evaluate:
        evaluation = {
            "trajectory": _trajectory_metrics(job),
            "labels_2d": _label_metrics(job),
            "depth": _depth_metrics(job),
            "mesh": _mesh_accuracy(job, geometry) if len(geometry.faces) else {},
        }
        metrics["evaluation"] = {k: v for k, v in evaluation.items() if v}
    return metrics


def _render_views(job: Reconstruction) -> list[tuple[str, np.ndarray]]:
    """The map rendered (labels and colour) from the first, middle and last camera poses."""
    poses = job.state.poses
    picks = sorted({0, len(poses) // 2, len(poses) - 1})
    images = []
    for i in picks:
        view = job.map.render(job.camera, np.asarray(poses[i]))
        images.append((f"map labels @ frame {job.state.indices[i]}", job.map_label_set.colourise(view.labels)))
        images.append((f"map colour @ frame {job.state.indices[i]}", view.colour))
    return images


def write_report(job: Reconstruction, metrics: dict[str, Any]) -> None:
    """report.md / report.html with figures under figures/."""
    run = job.run
    rep = Report(f"slamseg reconstruct: {job.sequence.name}")
    cfg = job.cfg
    rep.paragraph(f"{metrics['frames_integrated']} frames, depth: {cfg.depth}, labels: {cfg.labels} "
                  f"(every {cfg.labels_every}), map: {cfg.map}, tracking: {cfg.tracking}, "
                  f"{cfg.classes} classes.")
    rep.heading("Speed")
    rep.table(["stage", "ms per call", "share"],
              [[k, v["ms_per_call"], f"{100 * v['share']:.1f}%"] for k, v in metrics["timings"]["stages"].items()])
    rep.key_values({"frames per second": metrics["frames_per_second"],
                    "tracking failures": len(metrics["tracking_failures"])})
    ev = metrics.get("evaluation", {})
    if "labels_2d" in ev:
        rep.heading("Labels (2D, map rendered into labelled frames)")
        rows = [["fused map", ev["labels_2d"]["fused_map"]["class_average_accuracy"],
                 ev["labels_2d"]["fused_map"]["pixel_accuracy"], ev["labels_2d"]["fused_map"]["mean_iou"]]]
        if "single_frame" in ev["labels_2d"]:
            s = ev["labels_2d"]["single_frame"]
            rows.append(["single frame (network)", s["class_average_accuracy"], s["pixel_accuracy"], s["mean_iou"]])
        rep.table(["labels", "class-average accuracy", "pixel accuracy", "mIoU"], rows)
    if "depth" in ev:
        rep.heading("Predicted depth against the sequence's depth")
        rep.key_values({k: v for k, v in ev["depth"].items() if isinstance(v, (int, float))})
    if "trajectory" in ev:
        rep.heading("Trajectory")
        rep.key_values({"ATE RMSE [m]": ev["trajectory"]["ate"]["rmse"],
                        "RPE translation RMSE [m/frame]": ev["trajectory"]["rpe_translation"]["rmse"],
                        "RPE rotation RMSE [deg/frame]": ev["trajectory"]["rpe_rotation_deg"]["rmse"]})
    if "mesh" in ev:
        rep.heading("Mesh against the ground-truth mesh")
        rep.key_values(ev["mesh"])
    rep.heading("Map class histogram")
    rep.table(["class", "vertices"], [[k, v] for k, v in metrics["map_class_histogram"].items()])

    gt = np.stack(job.evaluation.gt_poses) if len(job.evaluation.gt_poses) == len(job.state.poses) else None
    save_trajectory_plot(run.file("figures/trajectory.png"), np.array(job.state.poses), gt)
    rep.figure("figures/trajectory.png", "camera trajectory (top view)")
    if job.samples:
        rows = []
        for s in job.samples:
            row = [(f"frame {s['index']}", s["rgb"])]
            vmax = float(np.percentile(s["sensor_depth"][s["sensor_depth"] > 0], 99)) if "sensor_depth" in s and (
                s["sensor_depth"] > 0).any() else None
            if "sensor_depth" in s:
                row.append(("sensor depth", colourise_depth(s["sensor_depth"], vmax)))
            if "pred_depth" in s:
                row.append(("predicted depth", colourise_depth(s["pred_depth"], vmax)))
                pred_set = get_label_set(s["pred_label_set"])
                row.append(("predicted labels", pred_set.colourise(s["pred_labels"])))
            if "gt_labels" in s and job.sequence.label_set is not None:
                row.append(("ground-truth labels", job.sequence.label_set.colourise(s["gt_labels"])))
            rows.append(row)
        save_image_grid(run.file("figures/frames.png"), rows)
        rep.figure("figures/frames.png", "input frames with the network's depth and labels")
    views = _render_views(job)
    save_image_grid(run.file("figures/map_views.png"), [views[i:i + 2] for i in range(0, len(views), 2)])
    rep.figure("figures/map_views.png", "the semantic map rendered from camera poses of the run")
    if job.evaluation.depth_rmse:
        idx, rmse = zip(*job.evaluation.depth_rmse)
        save_series_plot(run.file("figures/depth_rmse.png"), np.array(idx), {"RMSE": np.array(rmse)}, "frame",
                         "predicted depth RMSE [m]")
        rep.figure("figures/depth_rmse.png", "per-frame RMSE of the predicted depth")
    rep.write(run)


def make_viz(kind: str, label_set: LabelSet) -> Any:
    """A rerun logger when asked for (extra [viz]); None otherwise, so nothing changes when it is off."""
    if kind == "none":
        return None
    from slamseg.pipelines.viz import RerunLogger

    return RerunLogger(label_set)
