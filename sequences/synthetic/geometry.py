"""Triangle-mesh building blocks of the synthetic scenes: boxes, cylinders, a mesh builder and the labelled scene
mesh (with PLY export and area-weighted point sampling).

World frame of every synthetic scene: metres, z up, the room's floor at z = 0 with its corner at the origin.
Each triangle carries its NYU-40 class id, an albedo colour, a procedural texture kind and an object id.
numpy only (no open3d), so building a scene is cheap and picklable.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from slamseg.sequences.atomic import atomic_path


class Texture(IntEnum):
    """Procedural texture kinds, evaluated per pixel by the renderer (see ``render.py``)."""

    PLAIN = 0  # faint cell noise (paint, plastic)
    WOOD = 1  # grain stripes
    TILES = 2  # square tiles / planks with grout lines and per-tile tint
    FABRIC = 3  # fine weave
    PICTURE = 4  # colourful low-frequency pattern (paintings, posters)
    SKY = 5  # bright gradient, emissive (windows)


# Box faces as quads of corner indices; corner k has coordinates (k & 1, (k >> 1) & 1, (k >> 2) & 1) in the unit
# cube. Each quad is ordered counter-clockwise seen from outside, so triangle normals point outwards.
_BOX_QUADS = np.array(
    [
        [0, 2, 3, 1],  # z = 0 (bottom, normal -z)
        [4, 5, 7, 6],  # z = 1 (top, +z)
        [0, 1, 5, 4],  # y = 0 (-y)
        [2, 6, 7, 3],  # y = 1 (+y)
        [0, 4, 6, 2],  # x = 0 (-x)
        [1, 3, 7, 5],  # x = 1 (+x)
    ]
)
_BOX_TRIANGLES = np.concatenate([_BOX_QUADS[:, [0, 1, 2]], _BOX_QUADS[:, [0, 2, 3]]])
_UNIT_CORNERS = np.array([[k & 1, (k >> 1) & 1, (k >> 2) & 1] for k in range(8)], dtype=np.float64)


def box_mesh(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box with corners ``lo`` and ``hi`` (3-vectors, metres).

    Returns:
        vertices 8 x 3 float64, triangles 12 x 3 int64 (outward normals).
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    return lo + _UNIT_CORNERS * (hi - lo), _BOX_TRIANGLES.copy()


def cylinder_mesh(
    centre: np.ndarray, radius: float, z0: float, z1: float, segments: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Closed vertical cylinder (axis along z) of ``radius`` from height ``z0`` to ``z1``.

    Args:
        centre: (x, y) of the axis in metres.
    Returns:
        vertices (2 * segments + 2) x 3 float64, triangles (4 * segments) x 3 int64 (outward normals).
    """
    a = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    ring = np.stack([centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)], axis=1)
    bottom = np.column_stack([ring, np.full(segments, z0)])
    top = np.column_stack([ring, np.full(segments, z1)])
    caps = np.array([[centre[0], centre[1], z0], [centre[0], centre[1], z1]])
    vertices = np.concatenate([bottom, top, caps])
    i = np.arange(segments)
    j = (i + 1) % segments
    cb, ct = 2 * segments, 2 * segments + 1
    sides = np.concatenate([np.stack([i, j, segments + j], 1), np.stack([i, segments + j, segments + i], 1)])
    bottom_cap = np.stack([np.full(segments, cb), j, i], 1)
    top_cap = np.stack([np.full(segments, ct), segments + i, segments + j], 1)
    return vertices, np.concatenate([sides, bottom_cap, top_cap])


def grid_quad(origin: np.ndarray, edge_u: np.ndarray, edge_v: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """A planar rectangle ``origin + s * edge_u + t * edge_v`` (s, t in [0, 1]) split into cells of ~``cell`` m.

    Large surfaces (walls, floor) are subdivided so that the mesh's vertices sample them densely enough for
    vertex-based accuracy metrics. The normal is ``edge_u x edge_v``.

    Returns:
        vertices (nu + 1)(nv + 1) x 3 float64, triangles 2 nu nv x 3 int64.
    """
    origin, edge_u, edge_v = (np.asarray(a, np.float64) for a in (origin, edge_u, edge_v))
    nu = max(1, int(np.ceil(np.linalg.norm(edge_u) / cell)))
    nv = max(1, int(np.ceil(np.linalg.norm(edge_v) / cell)))
    s, t = np.meshgrid(np.linspace(0, 1, nu + 1), np.linspace(0, 1, nv + 1), indexing="ij")
    vertices = origin + s.reshape(-1, 1) * edge_u + t.reshape(-1, 1) * edge_v
    idx = np.arange((nu + 1) * (nv + 1)).reshape(nu + 1, nv + 1)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    triangles = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return vertices, triangles


@dataclass
class SceneMesh:
    """A labelled triangle mesh of a whole scene (world frame, metres, z up).

    Attributes:
        vertices: V x 3 float64 positions.
        triangles: T x 3 int32 vertex indices (outward/visible side counter-clockwise).
        triangle_labels: T uint8 NYU-40 class ids (never 0).
        triangle_colours: T x 3 float32 albedo in [0, 1].
        triangle_textures: T uint8 :class:`Texture` kinds.
        triangle_objects: T int32 object instance ids (0 = room shell).
        room_size: (width along x, depth along y, height along z) of the room interior in metres.
        object_names: instance id -> a readable name (e.g. ``"bed"``, ``"wall"``).
    """

    vertices: np.ndarray
    triangles: np.ndarray
    triangle_labels: np.ndarray
    triangle_colours: np.ndarray
    triangle_textures: np.ndarray
    triangle_objects: np.ndarray
    room_size: tuple[float, float, float]
    object_names: dict[int, str]

    @property
    def vertex_labels(self) -> np.ndarray:
        """V uint8 class id per vertex (vertices are never shared between parts, so this is exact)."""
        out = np.zeros(len(self.vertices), np.uint8)
        out[self.triangles.ravel()] = np.repeat(self.triangle_labels, 3)
        return out

    @property
    def vertex_colours(self) -> np.ndarray:
        """V x 3 uint8 albedo colour per vertex."""
        out = np.zeros((len(self.vertices), 3), np.float32)
        out[self.triangles.ravel()] = np.repeat(self.triangle_colours, 3, axis=0)
        return np.round(np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)

    def triangle_areas(self) -> np.ndarray:
        """T float64 areas in m^2."""
        a, b, c = (self.vertices[self.triangles[:, k]] for k in range(3))
        return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)

    def sample_points(self, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Area-weighted uniform samples of the surface, e.g. for accuracy/completeness metrics.

        Returns:
            points ``count`` x 3 float64 (metres), labels ``count`` uint8 (NYU-40 ids).
        """
        rng = np.random.default_rng(seed)
        areas = self.triangle_areas()
        tri = rng.choice(len(areas), size=count, p=areas / areas.sum())
        r1, r2 = rng.random(count), rng.random(count)
        flip = r1 + r2 > 1.0  # reflect into the triangle
        r1[flip], r2[flip] = 1.0 - r1[flip], 1.0 - r2[flip]
        a, b, c = (self.vertices[self.triangles[tri, k]] for k in range(3))
        points = a + r1[:, None] * (b - a) + r2[:, None] * (c - a)
        return points, self.triangle_labels[tri]

    def write_ply(self, path: str | Path) -> Path:
        """Write a binary little-endian PLY: per vertex x y z (float), red green blue (uchar) and ``label``
        (uint16, NYU-40 id: the type name Open3D keeps); per face a vertex index list. Written atomically."""
        path = Path(path)
        vdtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"),
                           ("blue", "u1"), ("label", "<u2")])
        verts = np.empty(len(self.vertices), vdtype)
        for k, name in enumerate("xyz"):
            verts[name] = self.vertices[:, k]
        colours = self.vertex_colours
        for k, name in enumerate(("red", "green", "blue")):
            verts[name] = colours[:, k]
        verts["label"] = self.vertex_labels
        fdtype = np.dtype([("n", "u1"), ("v", "<i4", (3,))])
        faces = np.empty(len(self.triangles), fdtype)
        faces["n"] = 3
        faces["v"] = self.triangles
        header = (
            "ply\nformat binary_little_endian 1.0\ncomment slamseg synthetic scene, labels: nyu40\n"
            f"element vertex {len(verts)}\nproperty float x\nproperty float y\nproperty float z\n"
            "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty uint16 label\n"
            f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n"
        )
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(header.encode("ascii"))
            f.write(verts.tobytes())
            f.write(faces.tobytes())
        return path


class MeshBuilder:
    """Accumulates labelled parts into one :class:`SceneMesh`.

    Parts are given in an object's local frame and placed with a yaw (multiple of 90 degrees, so footprints
    stay axis-aligned) and a translation.
    """

    def __init__(self) -> None:
        self._vertices: list[np.ndarray] = []
        self._triangles: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._colours: list[np.ndarray] = []
        self._textures: list[np.ndarray] = []
        self._objects: list[np.ndarray] = []
        self._count = 0
        self.object_names: dict[int, str] = {0: "room"}

    def new_object(self, name: str) -> int:
        """Reserve an instance id for an object called ``name``."""
        oid = len(self.object_names)
        self.object_names[oid] = name
        return oid

    def add(
        self,
        vertices: np.ndarray,
        triangles: np.ndarray,
        label: int,
        colour: np.ndarray,
        texture: Texture,
        object_id: int,
    ) -> None:
        """Add a part (world coordinates) with one label, colour and texture for all its triangles."""
        n = len(triangles)
        self._vertices.append(np.asarray(vertices, np.float64))
        self._triangles.append(np.asarray(triangles, np.int64) + self._count)
        self._count += len(vertices)
        self._labels.append(np.full(n, label, np.uint8))
        self._colours.append(np.tile(np.clip(np.asarray(colour, np.float32), 0, 1), (n, 1)))
        self._textures.append(np.full(n, int(texture), np.uint8))
        self._objects.append(np.full(n, object_id, np.int32))

    def build(self, room_size: tuple[float, float, float]) -> SceneMesh:
        """The accumulated parts as one mesh."""
        return SceneMesh(
            vertices=np.concatenate(self._vertices),
            triangles=np.concatenate(self._triangles).astype(np.int32),
            triangle_labels=np.concatenate(self._labels),
            triangle_colours=np.concatenate(self._colours),
            triangle_textures=np.concatenate(self._textures),
            triangle_objects=np.concatenate(self._objects),
            room_size=room_size,
            object_names=dict(self.object_names),
        )


@dataclass(frozen=True)
class Placement:
    """Local -> world transform of an object: rotate by ``quarter_turns`` x 90 degrees about z, then translate.

    Local frame of wall-standing furniture: x along the wall, y away from the wall into the room, z up.
    """

    origin: tuple[float, float, float]
    quarter_turns: int

    @property
    def rotation(self) -> np.ndarray:
        """3 x 3 rotation about z."""
        c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][self.quarter_turns % 4]
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=np.float64)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """N x 3 local points -> N x 3 world points."""
        return points @ self.rotation.T + np.asarray(self.origin, np.float64)
