"""Synthetic scene generator: geometry, labels, normals, determinism, checked against analytic expectations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from slamseg.sequences import Sequence, get_label_set
from slamseg.sequences.synthetic import SyntheticSequence, generate_room, look_around_trajectory

NYU40 = get_label_set("nyu40")
W, H = 80, 60  # small images keep the tests fast


@pytest.fixture(scope="module")
def seq() -> SyntheticSequence:
    return SyntheticSequence(seed=1, num_frames=40, width=W, height=H)


@pytest.fixture(scope="module")
def empty_room() -> SyntheticSequence:
    return SyntheticSequence(seed=2, num_frames=12, width=W, height=H, furniture=False, speed=10.0)


def _world_points(frame) -> np.ndarray:
    pts = frame.camera.backproject(frame.depth).reshape(-1, 3).astype(np.float64)
    return pts @ frame.pose[:3, :3].T + frame.pose[:3, 3]


def test_is_a_sequence_with_full_ground_truth(seq: SyntheticSequence) -> None:
    assert isinstance(seq, Sequence) and len(seq) == 40 and seq.label_set.name == "nyu40"
    frames = list(seq[10:16:2])
    assert [f.index for f in frames] == [10, 12, 14]
    f = frames[0]
    assert f.timestamp == pytest.approx(10 / 30.0)
    assert f.rgb.shape == (H, W, 3) and f.rgb.dtype == np.uint8
    assert f.depth.dtype == np.float32 and f.pose.shape == (4, 4) and f.normals.shape == (H, W, 3)
    # a closed room: every ray hits something, so no void and no missing depth
    assert (f.labels > 0).all() and (f.depth > 0).all()
    assert f.rgb.std() > 5  # shaded and textured, not a flat colour
    assert seq[-1].index == 39


def test_same_seed_same_frames_different_seed_different_room() -> None:
    a, b = (SyntheticSequence(seed=7, num_frames=5, width=W, height=H) for _ in range(2))
    fa, fb = a[3], b[3]
    for name in ("rgb", "depth", "labels", "normals", "pose"):
        assert np.array_equal(getattr(fa, name), getattr(fb, name)), name
    assert np.array_equal(a.scene_mesh().vertices, b.scene_mesh().vertices)
    c = SyntheticSequence(seed=8, num_frames=5, width=W, height=H)
    assert c.room.size != a.room.size
    # rendering is lazy and order independent: frame 3 after frame 1 equals frame 3 rendered first
    a[1]
    assert np.array_equal(a[3].rgb, fb.rgb)


def test_two_views_put_the_same_surface_point_in_the_same_world_place(seq: SyntheticSequence) -> None:
    """Back-project view A, project into view B, read B's depth there and back-project it: same world point.

    B's depth is read at the projected sub-pixel position by interpolating inverse depth, which is exact on a
    plane (1/z is affine in pixel coordinates), so only pixels whose four B neighbours lie on one plane count.
    """
    fa, fb = seq[0], seq[12]
    cam = fa.camera
    pa = _world_points(fa)
    Rb, tb = fb.pose[:3, :3], fb.pose[:3, 3]
    pb_cam = (pa - tb) @ Rb  # world -> camera B
    z = pb_cam[:, 2]
    u = cam.fx * pb_cam[:, 0] / z + cam.cx
    v = cam.fy * pb_cam[:, 1] / z + cam.cy
    inside = (z > 0.1) & (u >= 0) & (u < W - 1) & (v >= 0) & (v < H - 1)
    u0, v0 = np.floor(u[inside]).astype(int), np.floor(v[inside]).astype(int)
    du, dv = u[inside] - u0, v[inside] - v0
    corners = [(v0, u0), (v0, u0 + 1), (v0 + 1, u0), (v0 + 1, u0 + 1)]
    normals = [fb.normals[c] for c in corners]
    inst = [fb.meta["instances"][c] for c in corners]
    cb = cam.backproject(fb.depth).astype(np.float64)  # camera-B points: the four must share one plane
    points = [cb[c] for c in corners]
    same_plane = np.ones(len(u0), bool)
    for k in range(1, 4):
        off_plane = np.abs(np.einsum("ij,ij->i", normals[0], points[k] - points[0]))
        same_plane &= (np.einsum("ij,ij->i", normals[0], normals[k]) > 1 - 1e-6) & (inst[0] == inst[k])
        same_plane &= off_plane < 1e-4
    inv = [1.0 / fb.depth[c].astype(np.float64) for c in corners]
    inv_z = (1 - dv) * ((1 - du) * inv[0] + du * inv[1]) + dv * ((1 - du) * inv[2] + du * inv[3])
    # visible in B (not occluded): B's depth there agrees with the point's depth in B within 2 cm
    visible = same_plane & (np.abs(1.0 / inv_z - z[inside]) < 0.02)
    assert visible.sum() > 0.3 * W * H, "the views should overlap"
    zb = 1.0 / inv_z[visible]
    xb = (u[inside][visible] - cam.cx) * zb / cam.fx
    yb = (v[inside][visible] - cam.cy) * zb / cam.fy
    world_b = np.stack([xb, yb, zb], axis=1) @ Rb.T + tb
    err = np.linalg.norm(world_b - pa[inside][visible], axis=1)
    assert np.percentile(err, 99) < 1e-3 and np.median(err) < 1e-4


def _ray_mesh_hit(mesh, origin: np.ndarray, direction: np.ndarray) -> tuple[float, int]:
    """Brute-force Möller-Trumbore intersection of one ray with every triangle: (t, triangle) of the nearest."""
    a, b, c = (mesh.vertices[mesh.triangles[:, k]] for k in range(3))
    e1, e2 = b - a, c - a
    p = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - a
    bu = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    bv = (q @ direction) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit = ok & (bu >= 0) & (bv >= 0) & (bu + bv <= 1) & (t > 1e-6)
    t = np.where(hit, t, np.inf)
    k = int(np.argmin(t))
    return float(t[k]), k


def test_labels_and_depth_agree_with_the_mesh_at_ray_hits(seq: SyntheticSequence) -> None:
    frame = seq[20]
    mesh = seq.scene_mesh()
    cam, R, t = frame.camera, frame.pose[:3, :3], frame.pose[:3, 3]
    rng = np.random.default_rng(0)
    checked = 0
    for v, u in zip(rng.integers(0, H, 25), rng.integers(0, W, 25)):
        d_cam = np.array([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, 1.0])  # z = 1: t is the z-depth
        t_hit, tri = _ray_mesh_hit(mesh, t, R @ d_cam)
        # skip rays grazing an edge shared by two parts, where float32 ray casting may pick either
        if abs(frame.depth[v, u] - t_hit) > 1e-3:
            continue
        assert frame.labels[v, u] == mesh.triangle_labels[tri]
        assert frame.depth[v, u] == pytest.approx(t_hit, abs=1e-4)
        checked += 1
    assert checked >= 20


def test_wall_floor_ceiling_depth_is_the_analytic_plane_distance(empty_room: SyntheticSequence) -> None:
    """In a bare room every wall/floor/ceiling pixel lies on the room box: its z-depth is the smallest positive
    ray parameter over the six planes x = 0, x = W, y = 0, y = D, z = 0, z = H (rays with z_cam = 1)."""
    Wr, Dr, Hr = empty_room.room.size
    shell = {NYU40.id_of(n) for n in ("wall", "floor", "ceiling")}
    for frame in list(empty_room)[::4]:
        cam, R, c = frame.camera, frame.pose[:3, :3], frame.pose[:3, 3]
        v, u = np.indices(cam.shape)
        d = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones(cam.shape)], -1) @ R.T
        ts = []
        for axis, bound in itertools.product(range(3), (0, 1)):
            plane = bound * (Wr, Dr, Hr)[axis]
            with np.errstate(divide="ignore", invalid="ignore"):
                tk = (plane - c[axis]) / d[..., axis]
            ts.append(np.where(tk > 0, tk, np.inf))
        ts = np.stack(ts)
        analytic = ts.min(axis=0)
        which = ts.argmin(axis=0)  # 0..5: x=0, x=W, y=0, y=D, z=0 (floor), z=H (ceiling)
        mask = np.isin(frame.labels, list(shell))
        assert mask.mean() > 0.5
        np.testing.assert_allclose(frame.depth[mask], analytic[mask], atol=1e-4)
        expected = np.where(which == 4, NYU40.id_of("floor"),
                            np.where(which == 5, NYU40.id_of("ceiling"), NYU40.id_of("wall")))
        assert (frame.labels[mask] == expected[mask]).all()


def test_normals_are_unit_and_face_the_camera(seq: SyntheticSequence, empty_room: SyntheticSequence) -> None:
    frame = seq[5]
    n = frame.normals.reshape(-1, 3)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)
    cam = frame.camera
    v, u = np.indices(cam.shape)
    rays = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones(cam.shape)], -1).reshape(-1, 3)
    assert (np.einsum("ij,ij->i", n, rays) < 0).all()
    # floor pixels of the bare room: the world normal is +z
    f = empty_room[0]
    floor = f.labels == NYU40.id_of("floor")
    assert floor.any()
    world = f.normals[floor] @ f.pose[:3, :3].T
    np.testing.assert_allclose(world, np.tile([0.0, 0.0, 1.0], (len(world), 1)), atol=1e-5)


def test_trajectory_is_smooth_and_stays_in_the_free_part_of_the_room() -> None:
    for seed in range(4):
        room = generate_room(seed)
        poses = look_around_trajectory(300, room.free_centre, room.free_radii, seed=seed)
        R = poses[:, :3, :3]
        np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.tile(np.eye(3), (300, 1, 1)), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
        step = np.linalg.norm(np.diff(poses[:, :3, 3], axis=0), axis=1)
        rel = np.einsum("nji,njk->nik", R[:-1], R[1:])  # R_i^T R_{i+1}
        angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1)))
        assert step.max() < 0.03 and angle.max() < 4.0 and angle.mean() > 0.5
        z = poses[:, 2, 3]
        assert z.min() >= 1.2 and z.max() <= 1.6
        # the camera is inside no object's bounding box
        mesh = room.mesh
        for oid, name in mesh.object_names.items():
            if oid == 0:
                continue
            pts = mesh.vertices[mesh.triangles[mesh.triangle_objects == oid].ravel()]
            lo, hi = pts.min(0) - 0.1, pts.max(0) + 0.1
            inside = np.all((poses[:, :3, 3] > lo) & (poses[:, :3, 3] < hi), axis=1)
            assert not inside.any(), (seed, name)


def test_rooms_are_furnished_inside_the_walls_without_overlaps() -> None:
    seen: set[int] = set()
    for seed in range(12):
        room = generate_room(seed)
        mesh = room.mesh
        Wr, Dr, Hr = room.size
        assert (mesh.vertices >= -1e-9).all() and (mesh.vertices <= np.array([Wr, Dr, Hr]) + 1e-9).all()
        assert mesh.triangle_labels.min() >= 1 and mesh.triangle_labels.max() <= 40
        seen |= set(np.unique(mesh.triangle_labels).tolist())
        boxes = []
        for oid, name in mesh.object_names.items():
            if name in ("room", "door", "window", "picture", "floor mat"):
                continue  # the shell, things flat on the walls, and the rug under the furniture
            pts = mesh.vertices[mesh.triangles[mesh.triangle_objects == oid].ravel()]
            boxes.append((name, pts.min(0), pts.max(0)))
        for (na, lo_a, hi_a), (nb, lo_b, hi_b) in itertools.combinations(boxes, 2):
            overlap = np.minimum(hi_a[:2], hi_b[:2]) - np.maximum(lo_a[:2], lo_b[:2])
            assert (overlap <= 1e-9).any(), (seed, na, nb)
    wanted = ["wall", "floor", "ceiling", "window", "door", "picture", "bed", "chair", "sofa", "table", "desk",
              "cabinet", "bookshelf", "books", "television", "lamp", "box"]
    assert {NYU40.id_of(n) for n in wanted} <= seen


def test_mesh_ply_has_per_vertex_labels(tmp_path, seq: SyntheticSequence) -> None:
    import trimesh

    mesh = seq.scene_mesh()
    path = seq.write_mesh(tmp_path / "mesh.ply")
    loaded = trimesh.load(path, process=False)
    np.testing.assert_allclose(loaded.vertices, mesh.vertices, atol=1e-5)
    assert np.array_equal(loaded.faces, mesh.triangles)
    labels = loaded.metadata["_ply_raw"]["vertex"]["data"]["label"]
    assert np.array_equal(labels, mesh.vertex_labels)
    # every vertex belongs to one part, so vertex labels are those of its triangles
    assert np.array_equal(mesh.vertex_labels[mesh.triangles[:, 0]], mesh.triangle_labels)
    points, point_labels = mesh.sample_points(1000, seed=0)
    assert points.shape == (1000, 3) and set(np.unique(point_labels)) <= set(np.unique(mesh.triangle_labels))


def test_noisy_depth_is_seeded_and_keeps_ground_truth() -> None:
    a, b = (SyntheticSequence(seed=3, num_frames=3, width=W, height=H, noise=True) for _ in range(2))
    fa, fb = a[2], b[2]
    assert np.array_equal(fa.depth, fb.depth)
    clean = SyntheticSequence(seed=3, num_frames=3, width=W, height=H)[2]
    assert np.array_equal(fa.meta["depth_gt"], clean.depth)
    assert np.array_equal(fa.labels, clean.labels)
    valid = fa.depth > 0
    assert 0.5 < valid.mean() < 1.0
    assert np.median(np.abs(fa.depth[valid] - clean.depth[valid])) < 0.05


def test_iteration_renders_the_same_frames_as_indexing() -> None:
    a = SyntheticSequence(seed=6, num_frames=5, width=W, height=H)
    frames = list(a)
    assert [f.index for f in frames] == list(range(5))
    b = SyntheticSequence(seed=6, num_frames=5, width=W, height=H)
    for f in frames:
        assert np.array_equal(f.rgb, b[f.index].rgb) and np.array_equal(f.depth, b[f.index].depth)


def _plane(z: float, normal=(0.0, 0.0, -1.0)) -> tuple[np.ndarray, np.ndarray]:
    depth = np.full((120, 160), z, np.float32)
    normals = np.broadcast_to(np.asarray(normal, np.float32), (120, 160, 3)).copy()
    return depth, normals


@pytest.mark.parametrize("z", [1.0, 3.0])
def test_kinect_noise_grows_with_distance_as_modelled(z: float) -> None:
    """On a fronto-parallel plane the error std is sqrt(sigma(z)^2 + q(z)^2 / 12): Gaussian axial noise with
    sigma = 1.2 mm + 1.9 mm (z - 0.4)^2 plus uniform disparity quantisation q = z^2 * (1/8 px) / (b f)."""
    from slamseg.sequences.synthetic import KinectNoise, add_kinect_noise, default_camera

    p = KinectNoise(holes_per_megapixel=0.0, dropout=0.0)
    depth, normals = _plane(z)
    cam = default_camera(160, 120)
    noisy = add_kinect_noise(depth, normals, cam, np.random.default_rng(0), p)
    assert (noisy > 0).all()
    sigma = p.sigma_base + p.sigma_quadratic * (z - 0.4) ** 2
    q = z**2 * p.disparity_step / p.baseline_focal
    expected = np.sqrt(sigma**2 + q**2 / 12)
    assert np.std(noisy - z) == pytest.approx(expected, rel=0.15)
    assert abs(np.mean(noisy - z)) < 0.2 * expected + 1e-4


def test_kinect_noise_drops_grazing_surfaces_edges_and_holes() -> None:
    from slamseg.sequences.synthetic import KinectNoise, add_kinect_noise, default_camera

    cam = default_camera(160, 120)
    rng = np.random.default_rng(1)
    # a surface seen edge-on (normal perpendicular to the optical axis at the image centre) is lost
    depth, normals = _plane(2.0, normal=(1.0, 0.0, 0.0))
    assert (add_kinect_noise(depth, normals, cam, rng)[40:80, 70:90] == 0).all()
    # a depth step: most pixels along the discontinuity are lost, pixels away from it survive
    depth, normals = _plane(2.0)
    depth[:, 80:] = 3.0
    noisy = add_kinect_noise(depth, normals, cam, rng, KinectNoise(holes_per_megapixel=0.0, dropout=0.0))
    assert (noisy[:, 79:81] == 0).mean() > 0.6 and (noisy[:, :70] > 0).all()
    # holes: with many holes a good part of the image is missing; seeded, so reproducible
    p = KinectNoise(holes_per_megapixel=5000.0)
    a = add_kinect_noise(depth, normals, cam, np.random.default_rng(5), p)
    b = add_kinect_noise(depth, normals, cam, np.random.default_rng(5), p)
    assert np.array_equal(a, b) and 0.05 < (a == 0).mean() < 0.9


def test_sequence_pickles_for_worker_processes(seq: SyntheticSequence) -> None:
    import pickle

    frame = seq[3]  # the renderer exists now; it cannot be pickled and is rebuilt on demand
    copy = pickle.loads(pickle.dumps(seq))
    assert copy._renderer is None
    assert np.array_equal(copy[3].rgb, frame.rgb) and np.array_equal(copy[3].labels, frame.labels)
