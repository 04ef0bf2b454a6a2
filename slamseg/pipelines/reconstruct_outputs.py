"""What ``slamseg reconstruct`` leaves behind: mesh, point cloud, trajectory, map, metrics, report, figures.

Also the per-frame evaluation against ground truth (single-frame network labels and depth, fused-map labels
rendered back into the labelled frames: SemanticFusion's 2D protocol) and optional live visualisation.
"""

from __future__ import annotations

import logging
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
    from slamseg.pipelines.reconstruct import Reconstruction

log = logging.getLogger(__name__)

MAX_SAMPLES = 4  # sample frames kept for the report figure


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


def write_outputs(job: Reconstruction) -> dict[str, Any]:
    """Mesh (PLY + GLB), point cloud, trajectory, map, and the metrics dict."""
    from slamseg.fusion.export import export_mesh, export_point_cloud
    from slamseg.sequences.poses import write_tum_trajectory

    run = job.run
    geometry = job.map.extract_mesh()  # TSDF: marching-cubes mesh; surfels: a face-less point cloud
    files = {}
    if len(geometry.faces):
        files["mesh_ply"] = export_mesh(geometry, run.file("mesh.ply"))
        files["mesh_glb"] = export_mesh(geometry, run.file("mesh.glb"))
        points = job.map.extract_point_cloud() if hasattr(job.map, "extract_point_cloud") else geometry
    else:
        points = geometry
    files["cloud_ply"] = export_point_cloud(points, run.file("cloud.ply"))
    records = job.slam.records
    posed = [r for r in records if r.pose is not None]
    write_tum_trajectory(run.file("trajectory.txt"), np.array([r.timestamp for r in posed]),
                         np.array([r.pose for r in posed]).reshape(-1, 4, 4),
                         "estimated camera trajectory of slamseg reconstruct: every frame with a pose "
                         "(statuses in trajectory_status.csv)")
    files["trajectory"] = run.file("trajectory.txt")
    write_status_csv(run.file("trajectory_status.csv"), records)
    files["trajectory_status"] = run.file("trajectory_status.csv")
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
        "tracking": _tracking_summary(job),
        "frames_skipped_corrupt": [i for i, _ in getattr(job.sequence, "skipped", [])],
        "frames_without_depth": [r.index for r in records if r.reason == NO_USABLE_DEPTH],
        "frames_per_second": round(n_done / staged, 3) if staged else None,
        "timings": {"stages": timings, "total_seconds": round(staged, 3)},
        "map": job.map.stats(),
        "map_class_histogram": {names[int(c)]: int(n) for c, n in zip(labels, counts)},
        "outputs": {k: str(v.relative_to(run.path)) for k, v in files.items()},
    }
    if job.cfg.evaluate:
        gt_mesh = Path(job.cfg.sequence.path) / "mesh.ply"
        trajectory = trajectory_metrics(records, job.evaluation.gt_poses, job.sequence.ground_truth,
                                        predicted_depth=job.cfg.depth == "predicted")
        metrics["evaluation"] = evaluate(job.map, job.estimated_poses(), job.evaluation,
                                         geometry if len(geometry.faces) else None, gt_mesh, trajectory)
    return metrics


def _tracking_summary(job: Reconstruction) -> dict[str, Any]:
    """Statuses, coverage, per-frame tracking time and what loop closure did."""
    records = job.slam.records
    ms = np.array(job.state.tracking_ms, dtype=np.float64)
    return {
        "mode": job.cfg.tracking,
        "status_counts": status_counts(records),
        "coverage": coverage(records),
        "ms_per_frame_median": round(float(np.median(ms)), 3) if ms.size else None,
        "ms_per_frame_p90": round(float(np.percentile(ms, 90)), 3) if ms.size else None,
        **job.loop_result,
    }


def _labels_panel(title: str, labels: np.ndarray, label_set: LabelSet, shown: LabelSet) -> tuple[str, np.ndarray]:
    """A labels image in the map's label set and palette (so panels side by side agree), or in its own set when
    it does not map there."""
    try:
        labels = get_mapping(label_set, shown).map_labels(labels)
    except LabelSetError:
        shown = label_set
    return f"{title} ({shown.name})", shown.colourise(labels)


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

    gt_by_index = job.evaluation.gt_poses
    gt = np.stack([gt_by_index[i] for i in job.state.indices]) if all(
        i in gt_by_index for i in job.state.indices) else None
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
                row.append(_labels_panel("predicted labels", s["pred_labels"], get_label_set(s["pred_label_set"]),
                                         job.map_label_set))
            if "gt_labels" in s and job.sequence.label_set is not None:
                row.append(_labels_panel("ground-truth labels", s["gt_labels"], job.sequence.label_set,
                                         job.map_label_set))
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


def make_viz(kind: str, label_set: LabelSet, run: RunFolder, connect: bool = False) -> Any:
    """A rerun logger when asked for (extra [viz]); None otherwise, so nothing changes when it is off."""
    if kind == "none":
        return None
    from slamseg.pipelines.viz import RerunLogger

    return RerunLogger(label_set, run.file("viz.rrd"), connect=connect)
