"""Semantic mesh and point-cloud export: per-vertex label, class colour and RGB colour, optional probabilities.

- PLY (binary little-endian, our writer): vertex properties ``x y z nx ny nz red green blue`` (the chosen
  palette's colour, what viewers show), ``label`` (uchar, or uint16 for sets with more than 256 ids),
  ``rgb_red rgb_green rgb_blue`` (observed colour), ``quality`` (the label again as float32: MeshLab's per-vertex
  scalar) and, when asked, ``prob_<id>`` float32 per class id. Who reads the label: Open3D's point-cloud reader
  (``open3d.t.io.read_point_cloud``: ``point.label``); Open3D's triangle-mesh reader keeps only positions,
  normals and colours, so :func:`read_ply_open3d` attaches the vertex properties to the mesh; MeshLab (vertex
  quality); trimesh in ``mesh.metadata['_ply_raw']['vertex']['data']`` (its PLY loader fills no public field).
- GLB (glTF 2.0 through trimesh): POSITION, NORMAL, COLOR_0 (palette) and the custom attribute ``_LABEL`` (FLOAT
  SCALAR class ids), turned y-up (glTF's convention) from the world's up axis; trimesh loads ``_LABEL`` into
  ``mesh.vertex_attributes``. OBJ through trimesh, coloured with the palette (no per-vertex label).
- One mesh per class (:func:`export_per_class`), and semantic point clouds (PLY, same vertex properties).

Palettes: ``"labels"`` (the map's label set colours), ``"nyu13"`` (SemanticFusion's colours, labels mapped to
NYU-13 when the map's set maps there), ``"rgb"`` (observed colour).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from slamseg.fusion.errors import MapError
from slamseg.fusion.tsdf import kernels as kern
from slamseg.fusion.world import check_up_axis, rotation_to_y_up
from slamseg.sequences import LabelSet, get_label_set, get_mapping
from slamseg.sequences.atomic import atomic_path

if TYPE_CHECKING:
    import open3d as o3d
    import trimesh

    from slamseg.fusion.tsdf import SemanticTSDF

log = logging.getLogger(__name__)

PALETTES = ("labels", "nyu13", "rgb")
GLB_LABEL_ATTRIBUTE = "_LABEL"  # glTF: application-specific attribute names start with an underscore


@dataclass
class SemanticMesh:
    """A triangle mesh (or, with no faces, a point cloud) whose vertices carry class labels.

    Attributes:
        vertices: N x 3 float32 metres, world frame.
        faces: M x 3 int32 vertex indices (0 x 3 for a point cloud).
        normals: N x 3 float32 unit normals (zeros when unknown).
        rgb: N x 3 uint8 observed colour.
        labels: N int32 class ids of ``label_set`` (0 = void: never labelled).
        label_set: the ids' label set.
        probs: N x K float32 fused class probabilities (channel c = id c + 1), or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    rgb: np.ndarray
    labels: np.ndarray
    label_set: LabelSet
    probs: np.ndarray | None = field(default=None)

    def colours(self, palette: str = "labels") -> np.ndarray:
        """N x 3 uint8 vertex colours for ``palette`` (see module doc)."""
        if palette == "rgb":
            return self.rgb
        if palette == "labels":
            return self.label_set.colours[self.labels]
        if palette == "nyu13":
            nyu13 = get_label_set("nyu13")
            return nyu13.colours[get_mapping(self.label_set, nyu13).map_labels(self.labels)]
        raise MapError(f"unknown palette {palette!r}; known: {', '.join(PALETTES)}")

    def select_vertices(self, keep: np.ndarray) -> SemanticMesh:
        """The sub-mesh of the kept vertices (N bool) and the faces whose three vertices are kept."""
        new_index = np.full(len(self.vertices), -1, dtype=np.int64)
        new_index[keep] = np.arange(int(keep.sum()))
        faces = self.faces[np.all(keep[self.faces], axis=1)] if len(self.faces) else self.faces
        return SemanticMesh(
            vertices=self.vertices[keep], faces=new_index[faces].astype(np.int32).reshape(-1, 3),
            normals=self.normals[keep], rgb=self.rgb[keep], labels=self.labels[keep], label_set=self.label_set,
            probs=None if self.probs is None else self.probs[keep],
        )

    def split_by_class(self) -> dict[int, SemanticMesh]:
        """One sub-mesh per class id present (void included as 0 when present)."""
        return {int(c): self.select_vertices(self.labels == c) for c in np.unique(self.labels)}

    def to_trimesh(self, palette: str = "labels") -> trimesh.Trimesh | trimesh.PointCloud:
        """A trimesh object with vertex colours of ``palette`` (a PointCloud when there are no faces)."""
        import trimesh

        rgba = np.concatenate([self.colours(palette), np.full((len(self.vertices), 1), 255, np.uint8)], axis=1)
        if len(self.faces) == 0:
            return trimesh.PointCloud(self.vertices, colors=rgba)
        return trimesh.Trimesh(
            vertices=self.vertices, faces=self.faces, vertex_normals=self.normals, vertex_colors=rgba, process=False
        )


def _labels_and_probs(tsdf_map: SemanticTSDF, points: np.ndarray, with_probs: bool):
    log_p, _ = tsdf_map.voxel_log_probs(points)
    labels = kern.labels_from_log_probs(log_p)
    probs = kern.softmax_rows(log_p) if with_probs else None
    if probs is not None:
        probs[labels == 0] = 0.0  # never-labelled vertices carry no distribution
    return labels, probs


def semantic_mesh_from_tsdf(tsdf_map: SemanticTSDF, with_probs: bool = False) -> SemanticMesh:
    """Marching cubes on the map's TSDF (Open3D); each vertex takes the distribution of its nearest voxel."""
    threshold = max(tsdf_map.params.weight_threshold - 1e-4, 0.0)  # Open3D's test is strict (>)
    mesh = tsdf_map.voxel_grid.extract_triangle_mesh(threshold)
    vertices = mesh.vertex.positions.numpy().astype(np.float32) if "positions" in mesh.vertex else np.zeros((0, 3))
    faces = mesh.triangle.indices.numpy().astype(np.int32) if "indices" in mesh.triangle else np.zeros((0, 3))
    n = len(vertices)
    normals = mesh.vertex.normals.numpy().astype(np.float32) if "normals" in mesh.vertex else np.zeros((n, 3))
    colours = mesh.vertex.colors.numpy() if "colors" in mesh.vertex else np.zeros((n, 3))
    labels, probs = _labels_and_probs(tsdf_map, vertices, with_probs)
    return SemanticMesh(
        vertices=vertices.astype(np.float32).reshape(-1, 3), faces=faces.astype(np.int32).reshape(-1, 3),
        normals=normals.astype(np.float32).reshape(-1, 3),
        rgb=np.clip(np.round(colours), 0, 255).astype(np.uint8).reshape(-1, 3), labels=labels,
        label_set=tsdf_map.label_set, probs=probs,
    )


def semantic_points_from_tsdf(tsdf_map: SemanticTSDF, with_probs: bool = False) -> SemanticMesh:
    """The TSDF's zero-crossing points (Open3D) with labels, colour and normals, as a face-less SemanticMesh."""
    threshold = max(tsdf_map.params.weight_threshold - 1e-4, 0.0)
    pcd = tsdf_map.voxel_grid.extract_point_cloud(threshold)
    points = pcd.point.positions.numpy().astype(np.float32) if "positions" in pcd.point else np.zeros((0, 3))
    n = len(points)
    normals = pcd.point.normals.numpy().astype(np.float32) if "normals" in pcd.point else np.zeros((n, 3))
    colours = pcd.point.colors.numpy() if "colors" in pcd.point else np.zeros((n, 3))
    labels, probs = _labels_and_probs(tsdf_map, points, with_probs)
    return SemanticMesh(
        vertices=points.reshape(-1, 3).astype(np.float32), faces=np.zeros((0, 3), np.int32),
        normals=normals.reshape(-1, 3).astype(np.float32),
        rgb=np.clip(np.round(colours), 0, 255).astype(np.uint8).reshape(-1, 3), labels=labels,
        label_set=tsdf_map.label_set, probs=probs,
    )


def _ply_bytes(mesh: SemanticMesh, palette: str, with_probs: bool) -> bytes:
    n = len(mesh.vertices)
    # Open3D's PLY reader skips "ushort" (and char, short, uint) but reads the same bytes spelled "uint16".
    label_type, label_ply = (np.uint8, "uchar") if len(mesh.label_set.names) <= 256 else (np.uint16, "uint16")
    fields: list[tuple[str, type, str]] = [
        ("x", np.float32, "float"), ("y", np.float32, "float"), ("z", np.float32, "float"),
        ("nx", np.float32, "float"), ("ny", np.float32, "float"), ("nz", np.float32, "float"),
        ("red", np.uint8, "uchar"), ("green", np.uint8, "uchar"), ("blue", np.uint8, "uchar"),
        ("label", label_type, label_ply),
        ("rgb_red", np.uint8, "uchar"), ("rgb_green", np.uint8, "uchar"), ("rgb_blue", np.uint8, "uchar"),
        ("quality", np.float32, "float"),  # the label as MeshLab's per-vertex quality (exact below 2**24)
    ]
    if with_probs:
        if mesh.probs is None:
            raise MapError("PLY export with probabilities needs a mesh extracted with with_probs=True")
        fields += [(f"prob_{c + 1}", np.float32, "float") for c in range(mesh.probs.shape[1])]
    vertex = np.empty(n, dtype=[(name, np.dtype(t).newbyteorder("<")) for name, t, _ in fields])
    vertex["x"], vertex["y"], vertex["z"] = mesh.vertices.T
    vertex["nx"], vertex["ny"], vertex["nz"] = mesh.normals.T
    colours = mesh.colours(palette)
    vertex["red"], vertex["green"], vertex["blue"] = colours.T
    vertex["label"] = mesh.labels
    vertex["rgb_red"], vertex["rgb_green"], vertex["rgb_blue"] = mesh.rgb.T
    vertex["quality"] = mesh.labels
    if with_probs:
        for c in range(mesh.probs.shape[1]):
            vertex[f"prob_{c + 1}"] = mesh.probs[:, c]
    header = ["ply", "format binary_little_endian 1.0", "comment slamseg semantic mesh",
              f"comment label_set {mesh.label_set.name}", f"comment palette {palette}", f"element vertex {n}"]
    header += [f"property {ply} {name}" for name, _, ply in fields]
    parts = [vertex.tobytes()]
    if len(mesh.faces):
        header += [f"element face {len(mesh.faces)}", "property list uchar int vertex_indices"]
        face = np.empty(len(mesh.faces), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
        face["n"] = 3
        face["idx"] = mesh.faces
        parts.append(face.tobytes())
    header.append("end_header")
    return ("\n".join(header) + "\n").encode("ascii") + b"".join(parts)


def glb_object(mesh: SemanticMesh, palette: str = "labels", up_axis: str | None = None) -> trimesh.Trimesh:
    """The trimesh mesh written as GLB: palette colours, ``_LABEL`` (float32 class ids), y up.

    Args:
        up_axis: the world's up axis (``fusion.world.UP_AXES``); positions and normals are rotated by
            ``rotation_to_y_up(up_axis)`` so that it becomes +Y, as glTF requires. None leaves the world axes as
            they are (the up axis is unknown).
    Returns:
        A Trimesh whose ``metadata["slamseg"]`` (the glTF mesh's ``extras``) records label set, class names,
        world up axis and the 3 x 3 world -> glTF rotation (row-major).
    """
    import trimesh

    if len(mesh.faces) == 0:
        raise MapError("GLB export needs faces (trimesh writes no per-vertex label for points); write point "
                       "clouds as .ply")
    rotation = np.eye(3) if up_axis is None else rotation_to_y_up(check_up_axis(up_axis))
    rgba = np.concatenate([mesh.colours(palette), np.full((len(mesh.vertices), 1), 255, np.uint8)], axis=1)
    vertices = (mesh.vertices.astype(np.float64) @ rotation.T).astype(np.float32)
    normals = (mesh.normals.astype(np.float64) @ rotation.T).astype(np.float32)
    out = trimesh.Trimesh(vertices=vertices, faces=mesh.faces, vertex_normals=normals, vertex_colors=rgba,
                          process=False,
                          vertex_attributes={GLB_LABEL_ATTRIBUTE: mesh.labels.astype(np.float32)})
    out.metadata["slamseg"] = {
        "label_attribute": GLB_LABEL_ATTRIBUTE, "label_set": mesh.label_set.name,
        "label_names": list(mesh.label_set.names), "palette": palette, "world_up_axis": up_axis,
        "world_to_gltf": rotation.tolist(),
    }
    return out


def export_mesh(mesh: SemanticMesh, path: str | Path, palette: str = "labels", with_probs: bool = False,
                up_axis: str | None = None) -> Path:
    """Write ``mesh`` by suffix: ``.ply`` (labels + colours [+ probabilities]), ``.glb`` (colours + ``_LABEL``,
    turned y-up from ``up_axis``: see :func:`glb_object`), ``.obj`` (colours).

    PLY and OBJ keep the world axes. Written atomically; returns the path. A face-less mesh is written as a point
    cloud (PLY only).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if palette not in PALETTES:
        raise MapError(f"unknown palette {palette!r}; known: {', '.join(PALETTES)}")
    if suffix == ".ply":
        data = _ply_bytes(mesh, palette, with_probs)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    elif suffix in (".glb", ".obj"):
        if len(mesh.faces) == 0:
            raise MapError(f"{path}: {suffix[1:].upper()} needs faces; write point clouds as .ply")
        scene_object = glb_object(mesh, palette, up_axis) if suffix == ".glb" else mesh.to_trimesh(palette)
        with atomic_path(path) as tmp:
            scene_object.export(tmp, file_type=suffix[1:])
    else:
        raise MapError(f"{path}: unsupported mesh format {suffix!r}; use .ply, .glb or .obj")
    log.info("wrote %d vertices, %d faces to %s", len(mesh.vertices), len(mesh.faces), path)
    return path


def read_ply_open3d(path: str | Path) -> o3d.t.geometry.TriangleMesh | o3d.t.geometry.PointCloud:
    """A PLY written here as an Open3D tensor geometry that keeps the labels.

    ``open3d.t.io.read_triangle_mesh`` reads PLY through Open3D's legacy mesh reader and keeps only positions,
    normals and colours (colours as float 0..1); ``open3d.t.io.read_point_cloud`` keeps every vertex property
    of a type it supports (uchar/uint8, uint16, int/int32, float/float32, double/float64). For a mesh, the vertex
    element is read again as a point cloud (same order) and its other properties (``label``, ``quality``,
    ``rgb_red``..., ``prob_<id>``) are attached as N x 1 vertex attributes.

    Returns:
        A TriangleMesh (the file has faces) or a PointCloud.
    """
    import open3d as o3d

    path = Path(path)
    if not path.is_file():
        raise MapError(f"{path}: no such PLY file")
    cloud = o3d.t.io.read_point_cloud(str(path))
    if "positions" not in cloud.point:
        raise MapError(f"{path}: Open3D read no vertices (not a PLY file?)")
    mesh = o3d.t.io.read_triangle_mesh(str(path))
    if "indices" not in mesh.triangle or len(mesh.triangle.indices) == 0:
        return cloud
    if len(mesh.vertex.positions) != len(cloud.point.positions):
        raise MapError(f"{path}: Open3D read {len(mesh.vertex.positions)} mesh vertices but "
                       f"{len(cloud.point.positions)} points")
    for key in cloud.point:
        if key not in ("positions", "normals", "colors"):
            mesh.vertex[key] = cloud.point[key]
    return mesh


def export_point_cloud(points: SemanticMesh, path: str | Path, palette: str = "labels",
                       with_probs: bool = False) -> Path:
    """Write a semantic point cloud (a face-less SemanticMesh) as PLY with the same vertex properties."""
    path = Path(path)
    if path.suffix.lower() != ".ply":
        raise MapError(f"{path}: semantic point clouds are written as .ply")
    return export_mesh(SemanticMesh(points.vertices, np.zeros((0, 3), np.int32), points.normals, points.rgb,
                                    points.labels, points.label_set, points.probs), path, palette, with_probs)


def export_per_class(mesh: SemanticMesh, folder: str | Path, suffix: str = ".ply", palette: str = "labels",
                     include_void: bool = False, up_axis: str | None = None) -> dict[int, Path]:
    """One file per class present, named ``<id>_<class name><suffix>`` in ``folder``; returns id -> path.

    ``up_axis``: the world's up axis, for GLB (see :func:`glb_object`)."""
    folder = Path(folder)
    out = {}
    for class_id, part in mesh.split_by_class().items():
        if class_id == 0 and not include_void:
            continue
        if suffix != ".ply" and len(part.faces) == 0:
            continue  # a class present only as isolated vertices has no triangles for GLB/OBJ
        name = mesh.label_set.names[class_id].replace(" ", "_").replace("/", "_")
        out[class_id] = export_mesh(part, folder / f"{class_id:02d}_{name}{suffix}", palette, up_axis=up_axis)
    return out
