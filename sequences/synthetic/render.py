"""Ray-cast rendering of a labelled scene mesh with Open3D's tensor ``RaycastingScene``.

One ray per pixel through the pixel centre. Ray directions are ``((u - cx) / fx, (v - cy) / fy, 1)`` in the
camera frame, NOT normalised: Open3D measures the hit distance in units of the direction's length, so the hit
distance is the z-depth directly (what depth cameras report), not the Euclidean ray length.

Colour: per-triangle albedo x a procedural texture evaluated at the world hit point x Lambertian shading from a
point light under the ceiling plus ambient light (windows are emissive). All per-pixel work is vectorised numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.synthetic.geometry import SceneMesh, Texture

AMBIENT = 0.42
DIFFUSE = 0.75


@dataclass
class Rendering:
    """Ground truth of one view (H x W = the camera's image size).

    Attributes:
        rgb: H x W x 3 uint8.
        depth: H x W float32 z-depth in metres, 0 where no surface is hit.
        labels: H x W uint8 NYU-40 ids, 0 (void) where no surface is hit.
        normals: H x W x 3 float32 unit normals in the camera frame, facing the camera; 0 where nothing is hit.
        instances: H x W int32 object ids of the scene mesh, -1 where nothing is hit.
    """

    rgb: np.ndarray
    depth: np.ndarray
    labels: np.ndarray
    normals: np.ndarray
    instances: np.ndarray


def _hash01(a: np.ndarray, b: np.ndarray, salt: np.ndarray | int) -> np.ndarray:
    """Deterministic pseudo-random values in [0, 1) from integer lattice coordinates (cell noise)."""
    h = (a.astype(np.int64).astype(np.uint32) * np.uint32(73856093)) ^ (
        b.astype(np.int64).astype(np.uint32) * np.uint32(19349663)
    ) ^ (np.asarray(salt).astype(np.uint32) * np.uint32(83492791))
    h ^= h >> np.uint32(13)
    h *= np.uint32(1274126177)
    h ^= h >> np.uint32(16)
    return (h & np.uint32(0xFFFF)).astype(np.float32) / np.float32(65536.0)


def _texture(kind: Texture, u: np.ndarray, v: np.ndarray, z: np.ndarray, obj: np.ndarray) -> np.ndarray:
    """Texture factor (K x 3 or K x 1 float32) at surface coordinates u, v (metres) of objects ``obj``."""
    two_pi = np.float32(2 * np.pi)
    if kind == Texture.WOOD:
        grain = np.sin(two_pi * (v * 14.0 + 0.6 * np.sin(u * 3.0 + obj)))
        f = 0.9 + 0.07 * grain + 0.05 * _hash01(np.floor(u * 50), np.floor(v * 8), obj)
    elif kind == Texture.TILES:  # planks 0.18 m wide, 1.2 m long, staggered rows
        row = np.floor(v / 0.18)
        col = np.floor(u / 1.2 + 0.37 * row)
        tint = 0.82 + 0.22 * _hash01(col, row, 7)
        fu, fv = (u / 1.2 + 0.37 * row) % 1.0, (v / 0.18) % 1.0
        grout = (np.minimum(fu, 1 - fu) * 1.2 < 0.006) | (np.minimum(fv, 1 - fv) * 0.18 < 0.006)
        grain = 0.95 + 0.05 * np.sin(two_pi * (v * 40.0 + 2.0 * np.sin(u * 2.0 + row)))
        f = np.where(grout, 0.55, tint * grain)
    elif kind == Texture.FABRIC:
        weave = np.sign(np.sin(two_pi * u / 0.03)) * np.sign(np.sin(two_pi * v / 0.03))
        f = 0.93 + 0.04 * weave + 0.06 * _hash01(np.floor(u * 60), np.floor(v * 60), obj)
    elif kind == Texture.PICTURE:  # a colourful abstract "painting", different per object
        phase = _hash01(obj, obj, 3) * two_pi
        freq = 3.0 + 6.0 * _hash01(obj, obj, 5)
        channels = [0.55 + 0.45 * np.sin(two_pi * (u * freq + c * 0.7) + phase * (c + 1) + np.cos(v * freq * 1.3 + c))
                    for c in range(3)]
        return np.stack(channels, axis=1).astype(np.float32) * 1.4
    elif kind == Texture.SKY:  # brighter towards the top of the window
        f = 1.0 + 0.25 * np.clip(z - 1.0, 0.0, 1.5)
    else:
        f = 0.97 + 0.06 * _hash01(np.floor(u * 40), np.floor(v * 40), obj)
    return f.astype(np.float32)[:, None]


class SceneRenderer:
    """Renders views of one :class:`SceneMesh`; build it once per scene (the BVH build is the expensive part).

    Args:
        mesh: the scene.
        light: world position of the point light (metres); default 0.3 m under the ceiling's centre.
        nthreads: ray-casting threads, 0 = all cores.
    """

    def __init__(self, mesh: SceneMesh, light: np.ndarray | None = None, nthreads: int = 0) -> None:
        self.mesh = mesh
        W, D, H = mesh.room_size
        self.light = np.asarray(light if light is not None else (W / 2, D / 2, H - 0.3), np.float32)
        self.nthreads = nthreads
        self._scene = o3d.t.geometry.RaycastingScene()
        tmesh = o3d.t.geometry.TriangleMesh()
        tmesh.vertex.positions = o3d.core.Tensor(mesh.vertices.astype(np.float32))
        tmesh.triangle.indices = o3d.core.Tensor(mesh.triangles.astype(np.int32))
        self._scene.add_triangles(tmesh)
        self._labels = mesh.triangle_labels
        self._albedo = [np.ascontiguousarray(mesh.triangle_colours[:, c], np.float32) for c in range(3)]
        self._textures = mesh.triangle_textures
        self._objects = mesh.triangle_objects
        self._dirs: dict[tuple, np.ndarray] = {}

    def _camera_dirs(self, camera: Camera) -> np.ndarray:
        """3 x (H W) float32 camera-frame ray directions with z = 1 (cached per camera)."""
        key = (camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height)
        if key not in self._dirs:
            v, u = np.indices(camera.shape, dtype=np.float64)
            dirs = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)])
            self._dirs[key] = dirs.reshape(3, -1).astype(np.float32)
        return self._dirs[key]

    def render(self, camera: Camera, pose: np.ndarray) -> Rendering:
        """Render the view of ``camera`` at ``pose`` (4 x 4 camera-to-world, OpenCV axes)."""
        pose = np.asarray(pose, np.float64)
        if pose.shape != (4, 4):
            raise SequenceFormatError(f"pose must be a 4x4 camera-to-world matrix, got shape {pose.shape}")
        h, w = camera.shape
        R, t = pose[:3, :3].astype(np.float32), pose[:3, 3].astype(np.float32)
        dx, dy, dz = self._camera_dirs(camera)
        rays = np.empty((h * w, 6), np.float32)
        rays[:, :3] = t
        for k in range(3):  # world direction = R @ d, written component by component (no N x 3 matmul)
            rays[:, 3 + k] = R[k, 0] * dx + R[k, 1] * dy + R[k, 2] * dz
        out = self._scene.cast_rays(o3d.core.Tensor.from_numpy(rays), nthreads=self.nthreads)
        t_hit = out["t_hit"].numpy()
        hit = np.isfinite(t_hit)
        # Rooms are closed, so nearly every ray hits: compute on all pixels and mask, instead of gathering.
        # Vectors are kept as 3 contiguous component arrays: much faster than N x 3 arithmetic in numpy.
        all_hit = bool(hit.all())
        tri = out["primitive_ids"].numpy()
        tri = (tri if all_hit else np.where(hit, tri, 0)).astype(np.intp)
        th = t_hit if all_hit else np.where(hit, t_hit, np.float32(0.0))
        nw = out["primitive_normals"].numpy().T
        d = (rays[:, 3], rays[:, 4], rays[:, 5])
        # face the camera: a ray hitting a back face sees the side whose normal points against the ray
        facing = nw[0] * d[0] + nw[1] * d[1] + nw[2] * d[2]
        scale = np.where(facing > 0, np.float32(-1.0), np.float32(1.0)) / np.sqrt(
            nw[0] * nw[0] + nw[1] * nw[1] + nw[2] * nw[2] + np.float32(1e-20)
        )
        n = [nw[k] * scale for k in range(3)]
        points = [t[k] + th * d[k] for k in range(3)]

        labels = self._labels[tri]
        instances = self._objects[tri]
        normals = np.empty((h * w, 3), np.float32)
        for k in range(3):  # world -> camera: n_cam = R^T n_world
            normals[:, k] = R[0, k] * n[0] + R[1, k] * n[1] + R[2, k] * n[2]
        rgb = self._shade(points, n, tri)
        if not all_hit:
            miss = ~hit
            normals[miss], rgb[miss], labels[miss], instances[miss] = 0.0, 0, 0, -1
        return Rendering(
            rgb=rgb.reshape(h, w, 3),
            depth=th.reshape(h, w),
            labels=labels.reshape(h, w),
            normals=normals.reshape(h, w, 3),
            instances=instances.reshape(h, w),
        )

    def _shade(self, points: list[np.ndarray], normals: list[np.ndarray], tri: np.ndarray) -> np.ndarray:
        """N x 3 uint8 colours of N hit points (x, y, z component arrays, metres) with world unit normals
        (component arrays, facing the camera) on triangles ``tri``."""
        kinds = self._textures[tri]
        obj = self._objects[tri].astype(np.float32)
        ax, ay, az = (np.abs(c) for c in normals)
        # texture coordinates: the two world axes spanning the plane most aligned with the surface
        x_major = (ax >= ay) & (ax >= az)
        z_major = ~x_major & (az >= ay)
        u = np.where(x_major, points[1], points[0])
        v = np.where(z_major, points[1], points[2])
        lx, ly, lz = (self.light[k] - points[k] for k in range(3))
        dist2 = lx * lx + ly * ly + lz * lz
        lambert = np.maximum(normals[0] * lx + normals[1] * ly + normals[2] * lz, 0.0) / np.sqrt(dist2)
        # brightness per pixel: shading x (grey) texture; colour textures are applied per channel below
        brightness = AMBIENT + DIFFUSE * lambert * (4.0 / (4.0 + dist2))
        colour_sel: list[tuple[np.ndarray, np.ndarray]] = []
        for kind in np.flatnonzero(np.bincount(kinds, minlength=len(Texture))):
            sel = np.flatnonzero(kinds == kind)
            tex = _texture(Texture(int(kind)), u[sel], v[sel], points[2][sel], obj[sel])
            if kind == Texture.SKY:  # windows are emissive: they ignore the room light
                brightness[sel] = tex[:, 0]
            elif tex.shape[1] == 1:
                brightness[sel] *= tex[:, 0]
            else:
                colour_sel.append((sel, tex))
        brightness *= 255.0
        rgb = np.empty((len(tri), 3), np.uint8)
        for c in range(3):
            channel = self._albedo[c][tri] * brightness
            for sel, tex in colour_sel:
                channel[sel] *= tex[:, c]
            channel += 0.5
            np.clip(channel, 0, 255, out=channel)
            rgb[:, c] = channel
        return rgb
