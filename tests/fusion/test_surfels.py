"""SurfelMap on analytic scenes: planes at known depths, two-class scenes, the SemanticFusion rule, removal,
growth, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from slamseg.fusion.bayes import fuse_probs_semanticfusion
from slamseg.fusion.errors import MapError
from slamseg.fusion.surfel import SurfelMap, SurfelParams
from slamseg.fusion.surfel.kernels import semanticfusion_update_rows
from slamseg.sequences import Camera, get_mapping

CAM = Camera(fx=100.0, fy=100.0, cx=79.5, cy=59.5, width=160, height=120)
K13 = 13


def _plane_depth(z: float = 2.0) -> np.ndarray:
    return np.full(CAM.shape, z, np.float32)


def _rgb(value: int = 120) -> np.ndarray:
    return np.full((*CAM.shape, 3), value, np.uint8)


def _probs(channel: int, p: float = 0.8) -> np.ndarray:
    out = np.full((*CAM.shape, K13), (1.0 - p) / (K13 - 1), np.float32)
    out[..., channel] = p
    return out


def _translation(x: float = 0.0, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = [x, y, z]
    return pose


def test_numba_label_rule_equals_bayes_py() -> None:
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(K13), size=200).astype(np.float32)
    q = rng.dirichlet(np.ones(K13), size=200).astype(np.float32)
    # Rows that must hit the reset: disjoint supports make p * q sum to 0.
    p[:5] = 0.0
    p[:5, 0] = 1.0
    q[:5] = 0.0
    q[:5, 1] = 1.0
    expected = fuse_probs_semanticfusion(p.copy(), q.copy(), reset_eps=1e-5)
    got = p.copy()
    semanticfusion_update_rows(got, q, 1e-5)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got[:5], 1.0 / K13)


def test_plane_at_known_depth_renders_that_depth_and_normal() -> None:
    m = SurfelMap()
    m.integrate(_plane_depth(2.0), _rgb(), None, CAM, np.eye(4))
    # Pixel confidence is exp(-g^2 / 0.72) (g: normalised distance from the centre), so after one frame no surfel
    # is stable (3.0) and the default render is empty.
    assert not np.any(m.render(CAM, np.eye(4)).depth > 0)
    for _ in range(12):  # 13 frames x the corner confidence exp(-1 / 0.72) = 0.25 >= 3: all stable
        m.integrate(_plane_depth(2.0), _rgb(), None, CAM, np.eye(4))
    view = m.render(CAM, np.eye(4))
    hit = view.depth > 0
    assert hit.mean() > 0.97
    np.testing.assert_allclose(view.depth[hit], 2.0, atol=1e-5)
    # World normals of a fronto-parallel plane point back at the camera: (0, 0, -1).
    np.testing.assert_allclose(view.normals[hit], np.tile([0.0, 0.0, -1.0], (int(hit.sum()), 1)), atol=1e-5)
    assert np.all(view.colour[hit] == 120)
    cloud = m.point_cloud(min_confidence=0.0)
    np.testing.assert_allclose(cloud.points[:, 2], 2.0, atol=1e-5)
    # Radius of a pixel footprint at 2 m: sqrt(2) * z / f.
    np.testing.assert_allclose(cloud.radii, np.sqrt(2) * 2.0 / 100.0, rtol=1e-5)


def test_tilted_plane_depth_follows_the_plane() -> None:
    # Plane z = 2 + 0.5 * x (camera frame): depth(u) = 2 / (1 - 0.5 (u - cx) / fx) for every row.
    u = np.arange(CAM.width, dtype=np.float64)
    depth_row = 2.0 / (1.0 - 0.5 * (u - CAM.cx) / CAM.fx)
    depth = np.tile(depth_row, (CAM.height, 1)).astype(np.float32)
    m = SurfelMap()
    for _ in range(3):
        m.integrate(depth, _rgb(), None, CAM, np.eye(4))
    view = m.render(CAM, np.eye(4), min_confidence=0.0)
    inner = np.zeros(CAM.shape, bool)
    inner[5:-5, 5:-5] = True
    hit = (view.depth > 0) & inner
    assert hit[inner].mean() > 0.95
    np.testing.assert_allclose(view.depth[hit], depth[hit], rtol=2e-3)


def test_static_camera_does_not_grow_the_map_and_confidence_accumulates() -> None:
    m = SurfelMap()
    m.integrate(_plane_depth(), _rgb(), None, CAM, np.eye(4))
    n_first = len(m)
    # Pixels with four valid neighbours get a surfel: (H - 2) x (W - 2).
    assert n_first == (CAM.height - 2) * (CAM.width - 2)
    conf_first = m.conf[: m.n].copy()
    for _ in range(3):
        m.integrate(_plane_depth(), _rgb(), None, CAM, np.eye(4))
    assert len(m) == n_first
    assert m.last.fused == n_first and m.last.created == 0
    np.testing.assert_allclose(np.sort(m.conf[: m.n]), np.sort(4 * conf_first), rtol=1e-5)


def test_label_rule_in_the_map_equals_the_closed_form() -> None:
    q1 = np.full(K13, 0.05, np.float32)
    q1[2] = 0.4
    q1[7] = 0.6 - 0.05 * 11 + 0.05  # any positive vector: the rule renormalises
    q2 = np.linspace(0.1, 1.3, K13).astype(np.float32)
    m = SurfelMap()
    m.integrate(_plane_depth(), _rgb(), np.broadcast_to(q1, (*CAM.shape, K13)).copy(), CAM, np.eye(4))
    m.integrate(_plane_depth(), _rgb(), np.broadcast_to(q2, (*CAM.shape, K13)).copy(), CAM, np.eye(4))
    # Uniform prior * q1 * q2, normalised.
    expected = q1.astype(np.float64) * q2
    expected /= expected.sum()
    np.testing.assert_allclose(m.probs[: m.n], np.tile(expected, (m.n, 1)), rtol=1e-5)


def test_two_class_scene_gets_the_right_label_per_side() -> None:
    probs = _probs(3)  # class id 4 on the left
    probs[:, CAM.width // 2 :] = _probs(8)[:, CAM.width // 2 :]  # class id 9 on the right
    m = SurfelMap()
    for _ in range(4):
        m.integrate(_plane_depth(), _rgb(), probs, CAM, np.eye(4))
    view = m.render(CAM, np.eye(4))
    left, right = view.labels[:, : CAM.width // 2 - 2], view.labels[:, CAM.width // 2 + 2 :]
    assert set(np.unique(left[left > 0])) == {4}
    assert set(np.unique(right[right > 0])) == {9}


def test_noisy_labels_converge_to_the_right_class() -> None:
    rng = np.random.default_rng(7)
    m = SurfelMap()
    for _ in range(15):
        # Each pixel: right class (id 6) 60% of the time, else one of the other classes at random.
        right = rng.random(CAM.shape) < 0.6
        wrong = rng.integers(0, K13 - 1, size=CAM.shape)
        wrong = np.where(wrong >= 5, wrong + 1, wrong)
        channel = np.where(right, 5, wrong)
        probs = np.full((*CAM.shape, K13), 0.3 / (K13 - 1), np.float32)
        np.put_along_axis(probs, channel[..., None], 0.7, axis=-1)
        single_frame_acc = float(np.mean(channel == 5))
        m.integrate(_plane_depth(), _rgb(), probs, CAM, np.eye(4))
    labels = m.point_cloud().labels
    assert single_frame_acc < 0.7
    assert np.mean(labels == 6) > 0.99


def test_probs_of_another_label_set_are_mapped_by_summing() -> None:
    mapping = get_mapping("nyu40", "nyu13")
    src_ids = [i for i in range(1, 41) if mapping.lut[i] == 5]  # every nyu40 class that maps to nyu13 id 5
    assert len(src_ids) >= 1
    probs40 = np.zeros((*CAM.shape, 40), np.float32)
    share = 0.9 / len(src_ids)
    for i in src_ids:
        probs40[..., i - 1] = share
    other = next(i for i in range(1, 41) if mapping.lut[i] not in (0, 5))
    probs40[..., other - 1] += 0.1
    m = SurfelMap(probs_label_set="nyu40")
    m.integrate(_plane_depth(), _rgb(), probs40, CAM, np.eye(4))
    p = m.probs[0]
    assert p[4] == pytest.approx(0.9, rel=1e-5)
    assert p[mapping.lut[other] - 1] == pytest.approx(0.1, rel=1e-4)


def test_moving_camera_extends_the_map_without_duplicating_the_overlap() -> None:
    m = SurfelMap()
    m.integrate(_plane_depth(), _rgb(), None, CAM, np.eye(4))
    n0 = len(m)
    # Shift right by 40 pixels' worth at 2 m: 40 * z / f = 0.8 m. A quarter of the view is new.
    m.integrate(_plane_depth(), _rgb(), None, CAM, _translation(x=0.8))
    created = m.last.created
    assert 0.2 * n0 < created < 0.32 * n0
    # All surfels still lie on the plane z = 2.
    np.testing.assert_allclose(m.pos[: m.n, 2], 2.0, atol=1e-5)


def test_free_space_violation_removes_unstable_surfels() -> None:
    depth = _plane_depth(2.0)
    depth[40:80, 60:100] = 1.0  # a box in front of the wall, seen once
    m = SurfelMap()
    m.integrate(depth, _rgb(), None, CAM, np.eye(4))
    assert np.any(np.isclose(m.pos[: m.n, 2], 1.0))
    m.integrate(_plane_depth(2.0), _rgb(), None, CAM, np.eye(4))
    # The wall seen through where the box was: the box's unstable surfels are in free space and gone.
    assert not np.any(np.isclose(m.pos[: m.n, 2], 1.0))


def test_unstable_surfels_unseen_for_long_are_removed_stable_ones_stay() -> None:
    params = SurfelParams(unstable_age=3, stable_confidence=3.0)
    m = SurfelMap(params=params)
    for _ in range(6):  # the wall at z=2 becomes stable where pixel confidence is high
        m.integrate(_plane_depth(2.0), _rgb(), None, CAM, np.eye(4))
    stable_before = int(np.count_nonzero(m.conf[: m.n] >= 3.0))
    m.integrate(_plane_depth(2.0), _rgb(), None, CAM, _translation(x=100.0))  # far away: a new, unstable patch
    n_patch = m.last.created
    for _ in range(5):  # look at empty space: nothing is seen
        m.integrate(np.zeros(CAM.shape, np.float32), _rgb(), None, CAM, np.eye(4))
    assert np.count_nonzero(m.pos[: m.n, 0] > 50) == 0  # the unstable patch is gone
    assert n_patch > 0
    # Unstable wall surfels (edge pixels, low confidence) are gone too; the stable ones remain.
    assert len(m) == stable_before


def test_storage_grows_from_a_tiny_capacity() -> None:
    m = SurfelMap(params=SurfelParams(initial_capacity=8))
    m.integrate(_plane_depth(), _rgb(), _probs(1), CAM, np.eye(4))
    assert len(m) == (CAM.height - 2) * (CAM.width - 2)
    assert m.capacity >= len(m)
    assert np.all(m.probs[: m.n, 1] > 0.7)


def test_pixel_stride_subsamples_creation() -> None:
    m = SurfelMap(params=SurfelParams(pixel_stride=2))
    m.integrate(_plane_depth(), _rgb(), None, CAM, np.eye(4))
    # Rows 2..118 and columns 2..158 with even index (border rows 0 / H-1 have no normal).
    assert len(m) == len(range(2, CAM.height - 1, 2)) * len(range(2, CAM.width - 1, 2))
    view = m.render(CAM, np.eye(4), min_confidence=0.0)
    assert (view.depth[5:-5, 5:-5] > 0).mean() > 0.95  # radii scaled by the stride: no holes


def test_save_load_round_trip_is_exact(tmp_path) -> None:
    m = SurfelMap(params=SurfelParams(unstable_age=7))
    m.integrate(_plane_depth(), _rgb(), _probs(2), CAM, np.eye(4))
    m.integrate(_plane_depth(1.5), _rgb(), _probs(4), CAM, _translation(x=0.2))
    path = m.save(tmp_path / "map.npz")
    loaded = SurfelMap.load(path)
    assert len(loaded) == len(m) and loaded.frame == m.frame and loaded.params == m.params
    for name in ("pos", "nrm", "rad", "col", "conf", "t_last", "t_init", "probs"):
        np.testing.assert_array_equal(getattr(loaded, name)[: m.n], getattr(m, name)[: m.n])
    assert not list(tmp_path.glob(".*tmp*"))  # atomic: no temporary left behind
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(MapError, match=r"bad\.npz"):
        SurfelMap.load(tmp_path / "bad.npz")


def test_bad_inputs_raise_map_error() -> None:
    m = SurfelMap()
    with pytest.raises(MapError, match="depth of shape"):
        m.integrate(np.zeros((10, 10), np.float32), _rgb(), None, CAM, np.eye(4))
    with pytest.raises(MapError, match="channels"):
        m.integrate(_plane_depth(), _rgb(), np.zeros((*CAM.shape, 5), np.float32), CAM, np.eye(4))


def test_rendered_normals_are_in_the_camera_frame_for_a_rotated_pose() -> None:
    """A floor plane (world normal +z) seen by a camera looking straight down: camera-frame normal (0, 0, -1)."""
    cam = Camera(80.0, 80.0, 39.5, 29.5, 80, 60)
    pose = np.eye(4)
    pose[:3, :3] = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # camera z axis = world -z (down)
    pose[:3, 3] = [0.0, 0.0, 1.5]
    surfels = SurfelMap()
    depth = np.full((60, 80), 1.5, np.float32)
    surfels.integrate(depth, np.zeros((60, 80, 3), np.uint8), None, cam, pose)
    view = surfels.render(cam, pose, min_confidence=0.0)
    n = view.normals[view.depth > 0]
    assert len(n) > 1000
    np.testing.assert_allclose(np.median(n, axis=0), [0.0, 0.0, -1.0], atol=1e-3)


def test_both_maps_take_params_first_and_report_the_common_stats() -> None:
    from slamseg.fusion.params import TSDFParams
    from slamseg.fusion.tsdf import SemanticTSDF

    maps = [SurfelMap(SurfelParams(), "nyu13"), SemanticTSDF(TSDFParams(block_count=256), "nyu13")]
    for m in maps:
        m.integrate(_plane_depth(), _rgb(), _probs(3), CAM, np.eye(4))
        stats = m.stats()
        assert stats["type"] in ("surfel", "tsdf") and stats["label_set"] == "nyu13"
        assert stats["num_classes"] == 13 and stats["frames"] == 1 and stats["memory_bytes"] > 0
    assert {m.stats()["type"] for m in maps} == {"surfel", "tsdf"}


@pytest.mark.parametrize("rule", ["visible", "associated"])
def test_label_update_reaches_every_visible_surfel_or_only_the_fused_ones(rule: str) -> None:
    """A plane mapped at 2 m, then a frame whose depth does not explain it (nothing measured, or a surface
    30 cm in front): SemanticFusion's rule still updates the surfels the index map shows, the associated rule
    leaves them."""
    for second_depth in (np.zeros(CAM.shape, np.float32), _plane_depth(1.7)):
        m = SurfelMap(SurfelParams(label_update=rule))
        m.integrate(_plane_depth(), _rgb(), _probs(2), CAM, np.eye(4))
        n_plane = m.n
        before = m.probs[:n_plane].copy()
        m.integrate(second_depth, _rgb(), _probs(9), CAM, np.eye(4))
        after = m.probs[:n_plane]
        if rule == "visible":
            # every plane surfel visible in the index map got the frame's distribution: p * q, renormalised
            expected = before * _probs(9)[0, 0]
            expected /= expected.sum(axis=1, keepdims=True)
            np.testing.assert_allclose(after, expected, rtol=1e-5)
        else:
            np.testing.assert_array_equal(after, before)
