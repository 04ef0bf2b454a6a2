"""Semantic mesh / point-cloud export read back by trimesh and Open3D."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import trimesh

from slamseg.fusion.export import export_mesh, export_per_class, export_point_cloud
from slamseg.sequences import get_label_set
from tests.fusion.test_tsdf import _fronto_plane_map

NYU13 = get_label_set("nyu13")


def test_ply_carries_labels_colours_and_probs_for_trimesh_and_open3d(tmp_path: Path) -> None:
    tsdf, _ = _fronto_plane_map(1.013)
    mesh = tsdf.extract_mesh(with_probs=True)
    path = export_mesh(mesh, tmp_path / "scene.ply", palette="nyu13", with_probs=True)
    loaded = trimesh.load(path, process=False)
    assert len(loaded.vertices) == len(mesh.vertices) and len(loaded.faces) == len(mesh.faces)
    raw = loaded.metadata["_ply_raw"]["vertex"]["data"]
    wall = NYU13.id_of("wall")
    assert np.all(raw["label"] == wall)
    assert np.all(raw["rgb_red"] == mesh.rgb[:, 0])
    np.testing.assert_allclose(raw[f"prob_{wall}"], mesh.probs[:, wall - 1])
    np.testing.assert_array_equal(loaded.visual.vertex_colors[:, :3], np.broadcast_to(NYU13.colours[wall],
                                                                                       (len(mesh.vertices), 3)))
    o3d_mesh = o3d.io.read_triangle_mesh(str(path))
    assert len(o3d_mesh.vertices) == len(mesh.vertices) and len(o3d_mesh.triangles) == len(mesh.faces)


def test_glb_obj_point_cloud_and_per_class_files(tmp_path: Path) -> None:
    tsdf, _ = _fronto_plane_map(1.013)
    mesh = tsdf.extract_mesh()
    glb = trimesh.load(export_mesh(mesh, tmp_path / "scene.glb", palette="rgb"), force="mesh")
    assert len(glb.faces) == len(mesh.faces)
    obj = trimesh.load(export_mesh(mesh, tmp_path / "scene.obj"), force="mesh", process=False)
    assert len(obj.faces) == len(mesh.faces)
    cloud = tsdf.extract_point_cloud()
    assert len(cloud.vertices) > 100 and np.all(cloud.labels == NYU13.id_of("wall"))
    pc = trimesh.load(export_point_cloud(cloud, tmp_path / "points.ply"))
    assert len(pc.vertices) == len(cloud.vertices)
    files = export_per_class(mesh, tmp_path / "classes")
    assert list(files) == [NYU13.id_of("wall")] and files[NYU13.id_of("wall")].name == "12_wall.ply"
