"""The semantic TSDF reads, for every voxel, the very pixel Open3D's integrate fused it from.

A depth image of 3 x 3 pixel patches at 13 depth levels 0.2 m apart (sharp edges everywhere) is integrated once
from a generic pose; each patch's class is its level. Open3D's stored TSDF tells which depth it fused into each
voxel (depth = z + tsdf * trunc), hence which level, hence which class the voxel must have received.
"""

from __future__ import annotations

import numpy as np
import pytest

from slamseg.fusion.params import TSDFParams
from slamseg.fusion.tsdf import SemanticTSDF, depth_weights
from slamseg.sequences import get_label_set
from tests.fusion.scenes import look_at, small_camera

NYU13 = get_label_set("nyu13")
LEVELS = 1.0 + 0.2 * np.arange(13)  # metres; level k has class id k + 1
VOXEL = 0.02


def _patch_scene(seed: int = 0):
    rng = np.random.default_rng(seed)
    cam = small_camera(80, 60)
    level = rng.integers(0, 13, size=(20, 27)).repeat(3, axis=0).repeat(3, axis=1)[:60, :80]
    depth = LEVELS[level].astype(np.float32)
    probs = NYU13.one_hot(level + 1, 0.9)
    # a generic pose: no axis alignment, so projections land anywhere inside their pixels
    pose = look_at(np.array([0.137, -0.071, 0.043]), np.array([0.6, 0.35, 2.5]))
    return cam, depth, probs, level, pose


def _voxels(tsdf: SemanticTSDF, pose: np.ndarray):
    """Per voxel of the active blocks: camera z (metres), tsdf, weight, label rows (int16)."""
    keys, buf = tsdf.active_blocks()
    res = tsdf.params.block_resolution
    zz, yy, xx = np.meshgrid(np.arange(res), np.arange(res), np.arange(res), indexing="ij")
    local = np.stack([xx, yy, zz], axis=-1).reshape(-1, 3)
    world = ((keys[:, None, :] * res + local[None]) * tsdf.params.voxel_size).reshape(-1, 3)
    w2c = np.linalg.inv(pose)
    z = world @ w2c[2, :3] + w2c[2, 3]
    grid = tsdf.voxel_grid
    tsdf_v = grid.attribute("tsdf").numpy()[buf].reshape(-1)
    weight = grid.attribute("weight").numpy()[buf].reshape(-1)
    labels = grid.attribute("label").numpy()[buf].reshape(-1, tsdf.num_classes)
    return z, tsdf_v, weight, labels, world


def _fused_level(z: np.ndarray, tsdf_v: np.ndarray, trunc: float) -> np.ndarray:
    return np.round((z + tsdf_v * trunc - LEVELS[0]) / 0.2).astype(int)


def test_every_voxel_open3d_updates_in_band_gets_the_label_of_the_pixel_open3d_read() -> None:
    cam, depth, probs, _, pose = _patch_scene()
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, block_count=256))
    tsdf.integrate(depth, None, probs, cam, pose)
    z, tsdf_v, weight, labels, _ = _voxels(tsdf, pose)
    updated = weight > 0
    labelled = np.any(labels != 0, axis=1)
    in_band = updated & (np.abs(tsdf_v) < 1.0)  # distance not truncated by Open3D
    assert in_band.sum() > 5000
    # exactly the voxels Open3D updated with an untruncated distance have a label observation, no other
    assert np.array_equal(labelled, in_band)
    # ... and each from the pixel Open3D fused: its class is the level of the depth Open3D stored
    fused = _fused_level(z[in_band], tsdf_v[in_band], tsdf.params.trunc)
    assert np.array_equal(labels[in_band].argmax(axis=1), fused)


def test_rounding_the_projection_would_read_other_pixels_here() -> None:
    """The scene is sharp enough to tell the conventions apart: rounding u, v instead of truncating them reads a
    pixel of another depth level for many of the voxels Open3D updated."""
    cam, depth, _, level, pose = _patch_scene()
    tsdf = SemanticTSDF(TSDFParams(voxel_size=VOXEL, block_count=256))
    tsdf.integrate(depth, None, None, cam, pose)
    z, tsdf_v, weight, _, world = _voxels(tsdf, pose)
    in_band = (weight > 0) & (np.abs(tsdf_v) < 1.0)
    cam_pts = world[in_band] @ np.linalg.inv(pose)[:3, :3].T + np.linalg.inv(pose)[:3, 3]
    u = np.clip(np.round(cam.fx * cam_pts[:, 0] / cam_pts[:, 2] + cam.cx).astype(int), 0, cam.width - 1)
    v = np.clip(np.round(cam.fy * cam_pts[:, 1] / cam_pts[:, 2] + cam.cy).astype(int), 0, cam.height - 1)
    differs = level[v, u] != _fused_level(z[in_band], tsdf_v[in_band], tsdf.params.trunc)
    assert differs.sum() > 100


def test_narrow_band_labels_the_updated_voxels_within_it() -> None:
    cam, depth, probs, _, pose = _patch_scene(1)
    params = TSDFParams(voxel_size=VOXEL, block_count=256, label_band_voxels=2.0)
    tsdf = SemanticTSDF(params)
    tsdf.integrate(depth, None, probs, cam, pose)
    _, tsdf_v, weight, labels, _ = _voxels(tsdf, pose)
    sdf = tsdf_v * params.trunc
    clear = np.abs(np.abs(sdf) - params.label_band) > 1e-5  # leave out float ties at the band's edge
    expected = (weight > 0) & (np.abs(sdf) < params.label_band)
    labelled = np.any(labels != 0, axis=1)
    assert expected.sum() > 2000
    assert np.array_equal(labelled[clear], expected[clear])


@pytest.mark.parametrize("weighting", ["inverse_square", "linear_falloff"])
def test_per_pixel_weights_come_from_the_pixel_open3d_read(weighting: str) -> None:
    cam, depth, _, _, pose = _patch_scene(2)
    params = TSDFParams(voxel_size=VOXEL, block_count=256, depth_weighting=weighting, weight_ref_depth=1.0)
    tsdf = SemanticTSDF(params)
    tsdf.integrate(depth, None, None, cam, pose)
    # the frame needs more blocks than the initial capacity: Open3D's integrate rehashes the hash map itself,
    # and the re-weighting must follow the blocks to their new rows
    assert tsdf.growths >= 1
    z, tsdf_v, weight, _, _ = _voxels(tsdf, pose)
    in_band = (weight > 0) & (np.abs(tsdf_v) < 1.0)
    level_weight = depth_weights(LEVELS.astype(np.float32)[None], params)[0]
    fused = _fused_level(z[in_band], tsdf_v[in_band], params.trunc)
    np.testing.assert_allclose(weight[in_band], level_weight[fused], rtol=1e-6)
