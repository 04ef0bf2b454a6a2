"""Semantic TSDF on analytic scenes: geometry, label fusion, growth, rendering, per-pixel weights, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open3d as o3d
import open3d.core as o3c
import pytest

from slamseg.fusion.errors import MapError
from slamseg.fusion.params import TSDFParams
from slamseg.fusion.tsdf import SemanticTSDF, depth_weights
from slamseg.sequences import Camera, get_label_set
from tests.fusion.scenes import Plane, look_at, render_planes, small_camera

NYU13 = get_label_set("nyu13")
FLOOR, WALL = NYU13.id_of("floor"), NYU13.id_of("wall")
VOXEL = 0.02


def _fronto_plane_map(z: float, frames: int = 3, **params) -> tuple[SemanticTSDF, list[Plane]]:
    cam = small_camera()
    planes = [Plane((0.0, 0.0, 1.0), z, WALL, (200, 40, 10))]
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, block_count=64, **params))
    for i in range(frames):
        pose = look_at(np.array([0.05 * (i - 1), 0.0, 0.0]), np.array([0.0, 0.0, z]))
        depth, rgb, labels = render_planes(planes, cam, pose)
        tsdf.integrate(depth, rgb, NYU13.one_hot(labels, 0.9), cam, pose)
    return tsdf, planes


def test_plane_zero_crossing_within_half_a_voxel() -> None:
    z = 1.013  # deliberately off the voxel lattice
    tsdf, _ = _fronto_plane_map(z)
    mesh = tsdf.extract_mesh()
    assert len(mesh.vertices) > 500
    assert np.abs(mesh.vertices[:, 2] - z).max() < VOXEL / 2
    assert np.all(mesh.labels == WALL)
    assert np.all(np.abs(mesh.rgb.astype(int) - [200, 40, 10]) <= 1)


def test_render_known_plane_gives_depth_labels_colour_normals() -> None:
    z = 1.013
    tsdf, _ = _fronto_plane_map(z)
    cam = small_camera()
    view = tsdf.render(cam, np.eye(4), with_probs=True)
    centre = (slice(15, 45), slice(20, 60))
    assert np.all(view.valid[centre])
    np.testing.assert_allclose(view.depth[centre], z, atol=VOXEL / 2)
    assert np.all(view.labels[centre] == WALL)
    assert np.all(np.abs(view.colour[centre].astype(int) - [200, 40, 10]) <= 2)
    np.testing.assert_allclose(view.normals[centre], np.broadcast_to([0.0, 0.0, -1.0], (30, 40, 3)), atol=0.05)
    np.testing.assert_allclose(view.probs[centre].sum(axis=-1), 1.0, atol=1e-5)
    # looking away from the plane: nothing is hit, everything is void
    away = tsdf.render(cam, look_at(np.zeros(3), np.array([0.0, 0.0, -1.0])))
    assert not away.valid.any() and not away.labels.any()


def test_map_distribution_equals_closed_form_bayes() -> None:
    cam = small_camera()
    planes = [Plane((0.0, 0.0, 1.0), 1.0, WALL, (0, 0, 0))]
    depth, rgb, _ = render_planes(planes, cam, np.eye(4))
    q1 = np.linspace(1.0, 2.0, 13, dtype=np.float32)
    q1 /= q1.sum()
    q2 = np.roll(q1, 5)
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, prob_floor=1e-6))
    for q in (q1, q2):
        tsdf.integrate(depth, rgb, np.broadcast_to(q, (*cam.shape, 13)).copy(), cam, np.eye(4))
    log_p, found = tsdf.voxel_log_probs(np.array([[0.0, 0.0, 1.0], [0.04, -0.02, 1.02]]))
    assert found.all()
    p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    expected = q1 * q2 / np.sum(q1 * q2)
    # stored as int16 thousandths of a nat: each update rounds by at most half of one
    np.testing.assert_allclose(p, np.stack([expected, expected]), rtol=2e-3)


def test_noisy_labels_converge_to_the_true_class() -> None:
    """Each frame labels every pixel right with probability 0.6, else a random other class (seeded)."""
    rng = np.random.default_rng(0)
    cam = small_camera()
    planes = [Plane((0.0, 0.0, 1.0), 1.2, WALL, (0, 0, 0))]
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL))
    single_frame_acc = []
    for i in range(15):
        pose = look_at(np.array([0.02 * (i % 5) - 0.04, 0.0, 0.0]), np.array([0.0, 0.0, 1.2]))
        depth, rgb, labels = render_planes(planes, cam, pose)
        wrong = rng.random(labels.shape) >= 0.6
        others = rng.integers(1, 13, size=labels.shape)  # 1..12, shifted past WALL below
        noisy = np.where(wrong, np.where(others >= WALL, others + 1, others), labels).astype(np.int32)
        single_frame_acc.append(np.mean(noisy[depth > 0] == WALL))
        tsdf.integrate(depth, rgb, NYU13.one_hot(noisy, 0.7), cam, pose)
    mesh = tsdf.extract_mesh()
    assert 0.55 < np.mean(single_frame_acc) < 0.65
    assert np.mean(mesh.labels == WALL) > 0.99


def test_two_class_scene_labels_each_vertex() -> None:
    """Floor (y = 0.5, y down) and wall (z = 2.2); nyu40 probabilities fused into a nyu13 map."""
    nyu40 = get_label_set("nyu40")
    floor40, wall40 = nyu40.id_of("floor"), nyu40.id_of("wall")
    cam = small_camera(96, 72)
    planes = [Plane((0.0, 1.0, 0.0), 0.5, floor40, (90, 90, 90)), Plane((0.0, 0.0, 1.0), 2.2, wall40, (200, 200, 0))]
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL), probs_label_set="nyu40")
    for i in range(6):
        eye = np.array([0.1 * (i - 2.5), -0.2, 0.0])
        pose = look_at(eye, np.array([0.0, 0.3, 2.0]))
        depth, rgb, labels = render_planes(planes, cam, pose)
        probs = nyu40.one_hot(labels, 0.8) if i % 2 == 0 else None  # labels on every other frame
        tsdf.integrate(depth, rgb, probs, cam, pose)
    assert tsdf.frames_labelled == 3  # frames 0, 2, 4
    mesh = tsdf.extract_mesh()
    v = mesh.vertices
    on_floor = (np.abs(v[:, 1] - 0.5) < VOXEL) & (v[:, 2] < 2.2 - 3 * VOXEL)
    on_wall = (np.abs(v[:, 2] - 2.2) < VOXEL) & (v[:, 1] < 0.5 - 3 * VOXEL)
    assert on_floor.sum() > 300 and on_wall.sum() > 300
    # vertices seen only in unlabelled frames stay void (0); every labelled one has its plane's class
    for on, cls in ((on_floor, FLOOR), (on_wall, WALL)):
        labelled = mesh.labels[on] != 0
        assert labelled.mean() > 0.9
        assert np.mean(mesh.labels[on][labelled] == cls) > 0.99


def test_blocks_grow_beyond_initial_block_count() -> None:
    """A 3 m sweep along a wall needs several times the initial 24 blocks; the grid grows and keeps everything."""
    cam = small_camera()
    planes = [Plane((0.0, 0.0, 1.0), 1.0, WALL, (10, 200, 10))]
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, block_count=24, growth_factor=1.5))
    xs = np.linspace(0.0, 3.0, 16)
    for x in xs:
        pose = np.eye(4)
        pose[0, 3] = x
        depth, rgb, labels = render_planes(planes, cam, pose)
        tsdf.integrate(depth, rgb, NYU13.one_hot(labels), cam, pose)
    stats = tsdf.stats()
    assert stats["growths"] >= 2
    assert stats["active_blocks"] > 24 * 4
    assert stats["active_blocks"] <= stats["block_capacity"] * tsdf.params.growth_threshold
    mesh = tsdf.extract_mesh()
    # the first frame's blocks survived the re-hashing: the mesh spans the whole sweep (+- half the view)
    assert mesh.vertices[:, 0].min() < -0.4 and mesh.vertices[:, 0].max() > 3.4
    assert np.all(mesh.labels == WALL)
    assert np.abs(mesh.vertices[:, 2] - 1.0).max() < VOXEL / 2


def test_depth_weighting_gives_the_weighted_average_surface() -> None:
    """inverse_square weights, ref 1 m: the plane at 1.00 m seen from 1 m (w = 1) and a plane at 1.04 m seen
    from 2.04 m (w = 1 / 2.04^2) leave the surface at their weighted mean, not at the unweighted 1.02 m."""
    cam = small_camera()
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, depth_weighting="inverse_square", weight_ref_depth=1.0,
                                   weight_min=0.01))
    near = np.eye(4)
    far = np.eye(4)
    far[2, 3] = -1.0
    for pose, z in ((near, 1.0), (far, 1.04)):
        depth, rgb, _ = render_planes([Plane((0.0, 0.0, 1.0), z, WALL, (0, 0, 0))], cam, pose)
        tsdf.integrate(depth, rgb, None, cam, pose)
    w2 = 1.0 / 2.04**2
    expected = (1.0 * 1.0 + w2 * 1.04) / (1.0 + w2)
    mesh = tsdf.extract_mesh()
    centre = (np.abs(mesh.vertices[:, 0]) < 0.1) & (np.abs(mesh.vertices[:, 1]) < 0.1)
    assert centre.sum() > 20
    np.testing.assert_allclose(mesh.vertices[centre, 2], expected, atol=0.002)
    log_p, _ = tsdf.voxel_log_probs(mesh.vertices[:1])
    assert np.all(log_p == 0)  # no probabilities given: labels untouched
    weights = tsdf.voxel_grid.attribute("weight").numpy()
    assert weights.max() == pytest.approx(1.0 + w2, rel=1e-5)


def test_save_load_restores_exactly(tmp_path: Path) -> None:
    tsdf, _ = _fronto_plane_map(1.013, trunc_voxels=3.0)
    before = tsdf.extract_mesh(with_probs=True)
    path = tsdf.save(tmp_path / "map.npz")
    loaded = SemanticTSDF.load(path)
    after = loaded.extract_mesh(with_probs=True)
    assert loaded.params == tsdf.params and loaded.label_set.name == "nyu13"
    assert loaded.stats()["frames_integrated"] == 3
    # block order changes with re-hashing, so compare order-free: vertices with their attributes, and faces as
    # sets of corner coordinates
    def canonical(mesh):
        rows = np.concatenate([mesh.vertices, mesh.labels[:, None], mesh.rgb, mesh.probs], axis=1)
        faces = {tuple(sorted(map(tuple, mesh.vertices[f].tolist()))) for f in mesh.faces}
        return rows[np.lexsort(rows.T[::-1])], faces

    rows_b, faces_b = canonical(before)
    rows_a, faces_a = canonical(after)
    np.testing.assert_array_equal(rows_a, rows_b)
    assert faces_a == faces_b and len(faces_a) == len(before.faces)
    assert [p.name for p in tmp_path.iterdir()] == ["map.npz"]  # no temporary left behind


def test_load_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(MapError, match=r"bad\.npz"):
        SemanticTSDF.load(bad)


def test_inputs_are_checked_with_names() -> None:
    cam = small_camera()
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL))
    with pytest.raises(MapError, match=r"depth of shape \(10, 10\)"):
        tsdf.integrate(np.zeros((10, 10), np.float32), None, None, cam, np.eye(4))
    with pytest.raises(MapError, match="voxel_size"):
        TSDFParams(voxel_size=-1.0)
    with pytest.raises(MapError, match="40 channels"):
        tsdf.integrate(np.ones(cam.shape, np.float32), None, np.zeros((*cam.shape, 40), np.float32), cam, np.eye(4))


def test_frame_without_usable_depth_adds_nothing() -> None:
    """A blank or out-of-range depth image (a sensor drop-out, an untrained network) is not an error."""
    cam = Camera(60.0, 60.0, 31.5, 23.5, 64, 48)
    tsdf = SemanticTSDF()
    rgb = np.zeros((48, 64, 3), np.uint8)
    assert tsdf.integrate(np.zeros((48, 64), np.float32), rgb, None, cam, np.eye(4))["blocks"] == 0
    far = np.full((48, 64), 50.0, np.float32)  # beyond depth_max
    assert tsdf.integrate(far, rgb, None, cam, np.eye(4))["blocks"] == 0
    assert tsdf.frames_integrated == 2 and tsdf.stats()["active_blocks"] == 0


def _reference_label_update(tsdf: SemanticTSDF, log_p: dict, depth: np.ndarray, q: np.ndarray, cam: Camera,
                            pose: np.ndarray) -> None:
    """Straight numpy version of one frame's label update (every voxel of the frame's blocks, in vector form):
    log p += w * log max(q, floor) where |depth(pixel) - z| < band, shift so the max is 0, clamp, in float64
    nats. Each voxel's pixel follows Open3D's convention (float32 projection, truncated); that the convention is
    Open3D's own is tested against Open3D in test_tsdf_open3d_pixels.py."""
    p = tsdf.params
    depth = np.where((depth >= p.depth_min) & (depth <= p.depth_max), depth, 0).astype(np.float32)
    world_to_cam = np.linalg.inv(pose)
    blocks = tsdf.voxel_grid.compute_unique_block_coordinates(
        o3d.t.geometry.Image(o3c.Tensor(depth)), o3c.Tensor(cam.K, o3c.float64), o3c.Tensor(world_to_cam, o3c.float64),
        1.0, p.depth_max, p.trunc_voxels).numpy()
    weights = depth_weights(depth, p)
    res = p.block_resolution
    zz, yy, xx = np.meshgrid(np.arange(res), np.arange(res), np.arange(res), indexing="ij")
    local = np.stack([xx, yy, zz], axis=-1).reshape(-1, 3)  # voxel order of a block: z, y, x
    extr = world_to_cam[:3].astype(np.float32)
    f32 = np.float32
    for key in map(tuple, blocks):
        world = ((np.asarray(key) * res + local).astype(np.float32) * f32(p.voxel_size))
        xc, yc, z = (world[:, 0] * extr[i, 0] + world[:, 1] * extr[i, 1] + world[:, 2] * extr[i, 2] + extr[i, 3]
                     for i in range(3))
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_z = f32(1.0) / z
            u = f32(cam.fx) * xc * inv_z + f32(cam.cx)
            v = f32(cam.fy) * yc * inv_z + f32(cam.cy)
        inside = (z > 0) & (u >= 0) & (v >= 0) & (u <= cam.width - 1) & (v <= cam.height - 1)
        ui, vi = np.where(inside, u, 0).astype(int), np.where(inside, v, 0).astype(int)
        d = depth[vi, ui]
        upd = inside & (d > 0) & (np.abs(d - z) < p.label_band)
        w = np.ones(len(z)) if weights is None else weights[vi, ui]
        obs = np.log(np.maximum(q[vi, ui], p.prob_floor)) * w[:, None]
        cur = log_p.setdefault(key, np.zeros((res**3, q.shape[-1])))
        new = cur + obs
        new = np.maximum(new - new.max(axis=1, keepdims=True), -p.label_clamp)
        cur[upd] = new[upd]


def test_label_update_equals_a_per_voxel_reference() -> None:
    """Two planes, random per-pixel distributions, distance weights, a narrow band and a high floor: after three
    frames from different poses every voxel of the map holds what the plain per-voxel formula gives."""
    rng = np.random.default_rng(3)
    cam = small_camera()
    planes = [Plane((0.0, 0.0, 1.0), 1.2, WALL, (0, 0, 0)), Plane((0.0, -1.0, 0.0), -0.3, FLOOR, (0, 0, 0))]
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, block_count=64, label_band_voxels=2.5, prob_floor=0.02,
                                   label_clamp=6.0, depth_weighting="inverse_square", weight_ref_depth=0.8,
                                   weight_min=0.05))
    expected: dict = {}
    for i in range(3):
        pose = look_at(np.array([0.1 * (i - 1), -0.05 * i, 0.0]), np.array([0.0, 0.2, 1.2]))
        depth, rgb, _ = render_planes(planes, cam, pose)
        q = rng.dirichlet(np.full(13, 0.5), size=cam.shape).astype(np.float32)
        stats = tsdf.integrate(depth, rgb, q, cam, pose)
        assert stats["labelled_voxels"] > 1000
        _reference_label_update(tsdf, expected, depth, q, cam, pose)
    keys, buf = tsdf.active_blocks()
    labels = tsdf.voxel_grid.attribute("label").numpy()
    res = tsdf.params.block_resolution
    for key, b in zip(map(tuple, keys), buf):
        want = expected.get(key, np.zeros((res**3, 13)))
        # int16 thousandths of a nat, rounded once per frame (and float32 sums): within 3 units after three frames
        np.testing.assert_allclose(labels[b].reshape(res**3, 13) / 1000.0, want, atol=3e-3, err_msg=str(key))


def _frames_to_flip(agreeing: int, clamp: float) -> int:
    """Fuse ``agreeing`` frames labelling a plane WALL, then FLOOR frames until the plane's label is FLOOR;
    returns how many FLOOR frames that took (0.9 confidence, so about 4.7 nats of evidence a frame)."""
    cam = small_camera()
    planes = [Plane((0.0, 0.0, 1.0), 1.2, WALL, (0, 0, 0))]
    depth, _, _ = render_planes(planes, cam, np.eye(4))
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, block_count=64, label_clamp=clamp))
    wall, floor = NYU13.one_hot(np.full(cam.shape, WALL), 0.9), NYU13.one_hot(np.full(cam.shape, FLOOR), 0.9)
    for _ in range(agreeing):
        tsdf.integrate(depth, None, wall, cam, np.eye(4))
    for n in range(1, 200):
        tsdf.integrate(depth, None, floor, cam, np.eye(4))
        if tsdf.render(cam, np.eye(4)).labels[30, 40] == FLOOR:
            return n
    raise AssertionError("the label never changed")


def test_clamped_label_changes_within_a_bounded_number_of_frames() -> None:
    """However long a label was agreed on, a clamped voxel changes after ceil(clamp / evidence) contrary
    frames; without a bound in effect (the storage's 32 nats) the count grows with the agreeing frames."""
    evidence = np.log(0.9 / (0.1 / 12))
    bound = int(np.ceil(8.0 / evidence)) + 1
    assert _frames_to_flip(3, clamp=8.0) <= bound
    assert _frames_to_flip(40, clamp=8.0) <= bound
    assert _frames_to_flip(40, clamp=32.0) >= int(32.0 / evidence)


def test_version_1_maps_with_float_labels_load(tmp_path: Path) -> None:
    """Maps saved before the int16 label storage (float32 log-probabilities, a label cadence in the params)."""
    tsdf, _ = _fronto_plane_map(1.013)
    path = tsdf.save(tmp_path / "map.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["metadata"]))
    meta["version"] = 1
    meta["params"]["label_every"] = 1
    arrays["metadata"] = np.array(json.dumps(meta))
    arrays["label"] = arrays["label"].astype(np.float32) / 1000.0
    old = tmp_path / "v1.npz"
    np.savez(old, **arrays)
    loaded = SemanticTSDF.load(old)
    a, b = tsdf.extract_mesh(), loaded.extract_mesh()
    assert len(a.labels) == len(b.labels) and np.array_equal(np.sort(a.labels), np.sort(b.labels))
    _, buf = loaded.active_blocks()
    assert loaded.voxel_grid.attribute("label").numpy()[buf].dtype == np.int16
