"""Analytic scenes for fusion tests: depth, colour and labels of planes rendered by ray-plane intersection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slamseg.sequences import Camera


@dataclass(frozen=True)
class Plane:
    """Points x with n . x = offset (n unit, world frame), painted with one class id and one RGB colour."""

    normal: tuple[float, float, float]
    offset: float
    label: int
    rgb: tuple[int, int, int]


def small_camera(width: int = 80, height: int = 60, fov_scale: float = 1.0) -> Camera:
    """A pinhole camera with focal length ~ width (about 53 degrees horizontal field of view)."""
    f = width * fov_scale
    return Camera(fx=f, fy=f, cx=(width - 1) / 2, cy=(height - 1) / 2, width=width, height=height)


def look_at(eye: np.ndarray, target: np.ndarray, down: tuple[float, float, float] = (0.0, 1.0, 0.0)) -> np.ndarray:
    """4 x 4 camera-to-world pose (OpenCV axes: z forward, y down) at ``eye`` looking at ``target``; the
    camera's y axis leans towards the world direction ``down`` (world +y by default, as in these scenes)."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(np.asarray(down, float), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, y, z, eye
    return pose


def render_planes(
    planes: list[Plane], camera: Camera, pose: np.ndarray, max_depth: float = 10.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast planes (nearest hit in front of the camera).

    Returns (H x W float32 depth along z in metres, 0 = no hit; H x W x 3 uint8 RGB; H x W int32 labels, 0 = none).
    """
    v, u = np.indices(camera.shape, dtype=np.float64)
    rays_cam = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], axis=-1)
    rays_w = rays_cam @ pose[:3, :3].T  # z component of rays_cam is 1, so the hit's t is its depth
    origin = pose[:3, 3]
    depth = np.full(camera.shape, np.inf)
    rgb = np.zeros((*camera.shape, 3), np.uint8)
    labels = np.zeros(camera.shape, np.int32)
    for plane in planes:
        n = np.asarray(plane.normal, float)
        denom = rays_w @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (plane.offset - origin @ n) / denom
        hit = (np.abs(denom) > 1e-9) & (t > 0) & (t < depth) & (t < max_depth)
        depth[hit] = t[hit]
        rgb[hit] = plane.rgb
        labels[hit] = plane.label
    depth[~np.isfinite(depth)] = 0.0
    return depth.astype(np.float32), rgb, labels
