"""End-to-end: `slamseg reconstruct`, `export` and `evaluate-map` on a small synthetic room, read back by the
tools a user would use (trimesh for meshes, the TUM trajectory reader, json)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from slamseg.sequences import open_sequence
from slamseg.sequences.poses import read_tum_trajectory

pytestmark = pytest.mark.slow


def _ply_labels(path: Path) -> np.ndarray:
    mesh = trimesh.load(path, process=False)
    return np.asarray(mesh.metadata["_ply_raw"]["vertex"]["data"]["label"])


@pytest.fixture(scope="module")
def tsdf_run(synthetic_room: Path, tmp_path_factory: pytest.TempPathFactory, run_cli) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tsdf-gt"
    res = run_cli("reconstruct", str(synthetic_room), "--depth", "sensor", "--labels", "gt", "--tracking", "gt",
                  "--voxel-size", "0.04", "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    return out


def test_reconstruct_tsdf_outputs_are_readable(tsdf_run: Path, synthetic_room: Path) -> None:
    metrics = json.loads((tsdf_run / "metrics.json").read_text())
    assert metrics["frames_integrated"] == 14 and metrics["tracking_failures"] == []
    for key in ("frames_per_second", "timings", "map", "map_class_histogram", "outputs", "evaluation"):
        assert key in metrics
    # The mesh carries NYU-13 labels that trimesh reads; the room's walls and floor are among them.
    labels = _ply_labels(tsdf_run / "mesh.ply")
    assert labels.max() <= 13 and {5, 12} <= set(np.unique(labels).tolist())  # floor, wall
    # The world is the synthetic room's (z up); mesh.glb is the same mesh turned y-up: (x, y, z) -> (x, z, -y)
    assert metrics["world"]["up_axis"] == "+z" and metrics["world"]["frame"].startswith("ground-truth frame")
    glb = next(iter(trimesh.load(tsdf_run / "mesh.glb", process=False).geometry.values()))
    ply = trimesh.load(tsdf_run / "mesh.ply", process=False)
    np.testing.assert_allclose(glb.vertices, ply.vertices[:, [0, 2, 1]] * [1, 1, -1], atol=1e-6)
    np.testing.assert_array_equal(glb.vertex_attributes["_LABEL"].ravel(), labels)
    # The trajectory is the ground truth we fused with, in TUM format.
    stamps, poses = read_tum_trajectory(tsdf_run / "trajectory.txt")
    seq = open_sequence(synthetic_room)
    assert len(stamps) == 14
    np.testing.assert_allclose(poses[5], seq[5].pose, atol=1e-5)
    for fig in ("trajectory.png", "frames.png", "map_views.png"):
        assert (tsdf_run / "figures" / fig).stat().st_size > 1000
    assert "<img" in (tsdf_run / "report.html").read_text()


def test_ground_truth_labels_fused_render_back_accurately(tsdf_run: Path) -> None:
    ev = json.loads((tsdf_run / "metrics.json").read_text())["evaluation"]
    # Exact depth, exact poses and exact labels: the rendered map must agree with the labels almost everywhere
    # (disagreement only at voxel-sized boundaries).
    assert ev["labels_2d"]["fused_map"]["pixel_accuracy"] > 0.85
    assert ev["trajectory"]["ate"]["rmse"] < 1e-6
    assert ev["mesh"]["accuracy"] < 0.04  # within one voxel of the true surface on average


def test_surfel_map_with_frame_to_model_tracking(synthetic_room: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "surfel"
    res = run_cli("reconstruct", str(synthetic_room), "--depth", "sensor", "--labels", "gt", "--map", "surfel",
                  "--tracking", "model", "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["evaluation"]["trajectory"]["ate"]["rmse"] < 0.03  # exact depth: tracking within 3 cm
    labels = _ply_labels(out / "cloud.ply")
    assert len(labels) > 1000 and not (out / "mesh.ply").exists()


def test_export_formats_palettes_and_per_class(tsdf_run: Path, tmp_path: Path, run_cli) -> None:
    res = run_cli("export", str(tsdf_run), "--format", "glb", "--per-class", "--out", str(tmp_path / "e1"))
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "e1" / "metrics.json").read_text())
    assert "mesh.glb" in summary["files"] and any(f.startswith("classes/") for f in summary["files"])
    # the GLB is turned y-up with the up axis the run recorded, as the run's own mesh.glb
    assert summary["world_up_axis"] == "+z"
    exported = next(iter(trimesh.load(tmp_path / "e1" / "mesh.glb", process=False).geometry.values()))
    run_glb = next(iter(trimesh.load(tsdf_run / "mesh.glb", process=False).geometry.values()))
    # the map is re-extracted (its blocks in another order): compare each axis's sorted coordinates
    np.testing.assert_allclose(np.sort(exported.vertices, axis=0), np.sort(run_glb.vertices, axis=0), atol=1e-5)
    res = run_cli("export", str(tsdf_run / "map.npz"), "--format", "obj", "--palette", "rgb",
                  "--out", str(tmp_path / "e2"))
    assert res.returncode == 0, res.stderr
    assert len(trimesh.load(tmp_path / "e2" / "mesh.obj", force="mesh").faces) > 100
    # Everything below a confidence of 1.01 is impossible to reach: every vertex becomes void.
    res = run_cli("export", str(tsdf_run), "--min-confidence", "1.0", "--out", str(tmp_path / "e3"))
    assert res.returncode == 0, res.stderr
    assert set(np.unique(_ply_labels(tmp_path / "e3" / "mesh.ply"))) <= {0, *range(1, 14)}
    # A 13-class map has no NYU-40 colours: a one-line error, exit 2.
    res = run_cli("export", str(tsdf_run), "--palette", "nyu40", "--out", str(tmp_path / "e4"))
    assert res.returncode == 2 and "nyu40" in res.stderr and "Traceback" not in res.stderr


def test_evaluate_map_agrees_with_the_run(tsdf_run: Path, tmp_path: Path, run_cli) -> None:
    res = run_cli("evaluate-map", str(tsdf_run), "--out", str(tmp_path / "ev"), "--no-progress")
    assert res.returncode == 0, res.stderr
    again = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    original = json.loads((tsdf_run / "metrics.json").read_text())["evaluation"]
    assert again["frames_matched"] == 14
    assert again["labels_2d"]["fused_map"]["pixel_accuracy"] == pytest.approx(
        original["labels_2d"]["fused_map"]["pixel_accuracy"])
    assert again["trajectory"]["ate"]["rmse"] == pytest.approx(original["trajectory"]["ate"]["rmse"], abs=1e-9)


def test_bad_requests_fail_before_work(synthetic_room: Path, tmp_path: Path, run_cli) -> None:
    res = run_cli("reconstruct", str(tmp_path / "missing"), "--depth", "sensor", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "missing" in res.stderr and "Traceback" not in res.stderr
    res = run_cli("reconstruct", str(synthetic_room), "--depth", "sensor", "--labels", "gt", "--set",
                  "tsdf.voxel_size=-1", "--out", str(tmp_path / "y"))
    assert res.returncode == 2 and "voxel_size" in res.stderr
    res = run_cli("export", str(tmp_path), "--out", str(tmp_path / "z"))
    assert res.returncode == 2 and "map.npz" in res.stderr


def test_killed_run_resumes_to_the_same_map(synthetic_room: Path, tmp_path: Path, run_cli, slamseg_exe: str) -> None:
    from slamseg.fusion.maps import load_map

    common = [str(synthetic_room), "--depth", "sensor", "--labels", "gt", "--tracking", "gt", "--voxel-size",
              "0.04", "--set", "snapshot_every=2", "--no-progress"]
    whole = tmp_path / "whole"
    assert run_cli("reconstruct", *common, "--out", str(whole)).returncode == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen([slamseg_exe, "reconstruct", *common, "--out", str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = killed.with_name("killed.partial") / "snapshot" / "state.json"
    deadline = time.time() + 300
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not killed.exists(), "the run finished before it could be killed"
    done_before = json.loads(state.read_text())["next_position"]
    assert 0 < done_before < 14

    res = run_cli("reconstruct", *common, "--out", str(killed), "--resume")
    assert res.returncode == 0, res.stderr
    a, b = load_map(whole / "map.npz"), load_map(killed / "map.npz")
    mesh_a, mesh_b = a.extract_mesh(), b.extract_mesh()
    # The hash map's block order (hence the vertex order) may differ after a reload: compare sorted vertices.
    order_a, order_b = np.lexsort(mesh_a.vertices.T), np.lexsort(mesh_b.vertices.T)
    np.testing.assert_array_equal(mesh_a.vertices[order_a], mesh_b.vertices[order_b])
    np.testing.assert_array_equal(mesh_a.labels[order_a], mesh_b.labels[order_b])
    np.testing.assert_array_equal(mesh_a.rgb[order_a], mesh_b.rgb[order_b])
    assert (whole / "trajectory.txt").read_text() == (killed / "trajectory.txt").read_text()
    assert json.loads((killed / "metrics.json").read_text())["frames_integrated"] == 14


def test_rerun_recording_holds_frames_path_and_map(synthetic_room: Path, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "viz"
    res = run_cli("reconstruct", str(synthetic_room), "--depth", "sensor", "--labels", "gt", "--stop", "4",
                  "--viz", "rerun", "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    data = (out / "viz.rrd").read_bytes()
    for entity in (b"/world/camera/image/rgb", b"/world/camera/image/depth", b"/world/trajectory", b"/world/map"):
        assert entity in data
    import rerun as rr
    from rerun.chunk import RrdReader

    # the last static view coordinates of the root are the world's: the synthetic room is z up
    logged = [chunk.to_record_batch().column("ViewCoordinates:xyz").to_pylist()[-1][0]
              for chunk in RrdReader(out / "viz.rrd").stream()
              if chunk.entity_path == "/" and "ViewCoordinates:xyz" in chunk.to_record_batch().schema.names]
    assert logged[-1] == [d.value for d in rr.components.ViewCoordinates.RIGHT_HAND_Z_UP.coordinates]
    assert json.loads((out / "metrics.json").read_text())["world"]["up_axis"] == "+z"


@pytest.mark.parametrize("sample", ["tum_fr1_rpy", "redwood_livingroom1"])
def test_real_samples_with_sensor_depth_report_ate(sample: str, tmp_path: Path, run_cli) -> None:
    """Real Kinect-style data, camera tracked by odometry on the sensor depth, against the dataset's poses."""
    data = Path(__file__).resolve().parents[1] / "data" / sample
    out = tmp_path / sample
    res = run_cli("reconstruct", str(data), "--depth", "sensor", "--labels", "none", "--tracking", "odometry",
                  "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    ate = metrics["evaluation"]["trajectory"]["ate"]["rmse"]
    assert metrics["tracking_failures"] == [] and 0.0 <= ate < 0.05  # a few cm at most over these short clips
    assert "ATE RMSE" in res.stdout and "coverage 100.0%" in res.stdout
    # every frame has a pose in trajectory.txt and a status row, in the same order
    frames = len(open_sequence(data))
    stamps, _ = read_tum_trajectory(out / "trajectory.txt")
    rows = (out / "trajectory_status.csv").read_text().splitlines()[1:]
    assert len(stamps) == frames == len(rows) == metrics["evaluation"]["trajectory"]["frames_compared"]
    assert [float(r.split(",")[0]) for r in rows] == pytest.approx(list(stamps), abs=1e-6)
    assert metrics["tracking"]["coverage"] == 1.0
    assert len(trimesh.load(out / "mesh.ply", process=False).faces) > 1000


def test_all_zero_sensor_depth_is_one_line_error(synthetic_room: Path, tmp_path: Path, run_cli) -> None:
    import shutil

    import imageio.v3 as iio

    blank = tmp_path / "blank"
    shutil.copytree(synthetic_room, blank)
    for png in (blank / "depth").glob("*.png"):
        iio.imwrite(png, np.zeros_like(iio.imread(png)))
    for tracking in ("gt", "keyframe"):
        out = tmp_path / f"out-{tracking}"
        res = run_cli("reconstruct", str(blank), "--depth", "sensor", "--labels", "none", "--tracking", tracking,
                      "--out", str(out), "--no-progress")
        assert res.returncode == 2, res.stderr
        last = res.stderr.strip().splitlines()[-1]
        assert "no frame could be integrated" in last and "14 of 14 frames without usable depth" in last
        assert "Traceback" not in res.stderr and not out.exists()


def test_resume_refuses_other_settings_or_other_frames(synthetic_room: Path, tmp_path: Path, run_cli) -> None:
    from slamseg.config import from_dict
    from slamseg.errors import ConfigError
    from slamseg.pipelines.reconstruct import Reconstruction, run_reconstruct
    from slamseg.pipelines.reconstruct_config import ReconstructConfig
    from slamseg.runs import RunFolder

    settings = {"sequence": {"path": str(synthetic_room), "stop": 6}, "depth": "sensor", "labels": "gt",
                "tsdf": {"voxel_size": 0.04}, "snapshot_every": 2}
    out = tmp_path / "half"
    run = RunFolder("reconstruct", out=out)
    cfg = from_dict(ReconstructConfig, settings)
    run.write_config(cfg)
    Reconstruction(cfg, run).run_frames(progress=False)  # snapshots, never finished: as if killed
    res = run_cli("reconstruct", str(synthetic_room), "--depth", "sensor", "--labels", "gt", "--voxel-size", "0.08",
                  "--stop", "6", "--set", "snapshot_every=2", "--out", str(out), "--resume", "--no-progress")
    assert res.returncode == 2 and "tsdf.voxel_size: 0.04 -> 0.08" in res.stderr.strip().splitlines()[-1]
    # the same settings but the sequence changed under the run: its fingerprint differs
    state = json.loads((run.path / "snapshot" / "state.json").read_text())
    state["fingerprint"]["frames"] = 99
    (run.path / "snapshot" / "state.json").write_text(json.dumps(state))
    with pytest.raises(ConfigError, match=r"other frames .*frames: 99 -> 6"):
        run_reconstruct(from_dict(ReconstructConfig, settings), RunFolder("reconstruct", out=out, resume=True),
                        progress=False)
