"""Semantic mesh / point-cloud export read back by trimesh, Open3D and the GLB container layout itself."""

from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import trimesh

from slamseg.fusion.errors import MapError
from slamseg.fusion.export import SemanticMesh, export_mesh, export_per_class, export_point_cloud, read_ply_open3d
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


def _corner_mesh() -> SemanticMesh:
    """A z-up room corner: a floor square at z = 0 (normals +z) and a wall at x = 0 (normals +x)."""
    floor = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    wall = [[0, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]]
    normals = [[0, 0, 1]] * 4 + [[1, 0, 0]] * 4
    return SemanticMesh(
        vertices=np.array(floor + wall, np.float32), faces=np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]],
                                                                   np.int32),
        normals=np.array(normals, np.float32), rgb=np.full((8, 3), 90, np.uint8),
        labels=np.array([NYU13.id_of("floor")] * 4 + [NYU13.id_of("wall")] * 4, np.int32), label_set=NYU13)


def _read_glb(path: Path) -> tuple[dict, bytes]:
    """The JSON and BIN chunks of a GLB file, read by the glTF 2.0 container layout."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    bin_length, bin_type = struct.unpack_from("<I4s", data, 20 + json_length)
    assert (json_type, bin_type) == (b"JSON", b"BIN\0")
    return json.loads(data[20:20 + json_length]), data[28 + json_length:28 + json_length + bin_length]


def _accessor(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    accessor = gltf["accessors"][index]
    view = gltf["bufferViews"][accessor["bufferView"]]
    dtype = np.dtype({5121: "u1", 5123: "<u2", 5125: "<u4", 5126: "<f4"}[accessor["componentType"]])
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[accessor["type"]]
    assert view.get("byteStride", dtype.itemsize * width) == dtype.itemsize * width  # tightly packed
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    return np.frombuffer(binary, dtype, accessor["count"] * width, start).reshape(-1, width)


def test_glb_has_label_attribute_and_is_y_up(tmp_path: Path) -> None:
    mesh = _corner_mesh()
    path = export_mesh(mesh, tmp_path / "corner.glb", up_axis="+z")
    gltf, binary = _read_glb(path)
    [primitive] = gltf["meshes"][0]["primitives"]
    attributes = primitive["attributes"]
    label = gltf["accessors"][attributes["_LABEL"]]
    assert (label["componentType"], label["type"], label["count"]) == (5126, "SCALAR", 8)  # FLOAT
    np.testing.assert_array_equal(_accessor(gltf, binary, attributes["_LABEL"])[:, 0], mesh.labels)
    # z up -> glTF y up: (x, y, z) -> (x, z, -y); the floor lies at y = 0 facing +Y, the wall faces +X
    positions = _accessor(gltf, binary, attributes["POSITION"])
    np.testing.assert_allclose(positions, mesh.vertices[:, [0, 2, 1]] * [1, 1, -1], atol=1e-6)
    normals = _accessor(gltf, binary, attributes["NORMAL"])
    np.testing.assert_allclose(normals[:4], [[0, 1, 0]] * 4, atol=1e-6)
    np.testing.assert_allclose(normals[4:], [[1, 0, 0]] * 4, atol=1e-6)
    extras = gltf["meshes"][0]["extras"]["slamseg"]
    assert extras["world_up_axis"] == "+z" and extras["label_names"][NYU13.id_of("floor")] == "floor"
    # trimesh, a real glTF reader, exposes the attribute publicly
    loaded = next(iter(trimesh.load(path, process=False).geometry.values()))
    np.testing.assert_array_equal(loaded.vertex_attributes["_LABEL"].ravel(), mesh.labels)
    # a camera-frame world (up = -y) is turned 180 degrees about x
    gltf, binary = _read_glb(export_mesh(mesh, tmp_path / "camera.glb", up_axis="-y"))
    positions = _accessor(gltf, binary, gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"])
    np.testing.assert_allclose(positions, mesh.vertices * [1, -1, -1], atol=1e-6)
    with pytest.raises(MapError, match="unknown up axis 'up'"):
        export_mesh(mesh, tmp_path / "bad.glb", up_axis="up")


def test_ply_labels_reach_open3d_meshlab_quality_and_trimesh(tmp_path: Path) -> None:
    mesh = _corner_mesh()
    path = export_mesh(mesh, tmp_path / "corner.ply")
    header = path.read_bytes().split(b"end_header")[0].decode()
    assert "property uchar label" in header and "property float quality" in header  # MeshLab's vertex scalar
    # Open3D's mesh reader drops every vertex property but positions, normals and colours ...
    assert "label" not in o3d.t.io.read_triangle_mesh(str(path)).vertex
    # ... its point-cloud reader keeps them, and read_ply_open3d attaches them to the mesh
    read = read_ply_open3d(path)
    assert len(read.triangle.indices) == 4
    np.testing.assert_array_equal(read.vertex.label.numpy().ravel(), mesh.labels)
    np.testing.assert_array_equal(read.vertex.quality.numpy().ravel(), mesh.labels.astype(np.float32))
    np.testing.assert_array_equal(read.vertex.rgb_red.numpy().ravel(), mesh.rgb[:, 0])
    raw = trimesh.load(path, process=False).metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_array_equal(raw["quality"], mesh.labels)
    # point clouds: Open3D's own reader; label sets of over 256 ids are written as uint16, which it reads
    nyu894 = get_label_set("nyu894")
    cloud = replace(mesh, faces=np.zeros((0, 3), np.int32), labels=np.arange(890, 898, dtype=np.int32) % 895,
                    label_set=nyu894)
    cloud_path = export_point_cloud(cloud, tmp_path / "cloud.ply")
    points = o3d.t.io.read_point_cloud(str(cloud_path))
    assert points.point.label.dtype == o3d.core.uint16
    np.testing.assert_array_equal(points.point.label.numpy().ravel(), cloud.labels)
    assert isinstance(read_ply_open3d(cloud_path), o3d.t.geometry.PointCloud)
