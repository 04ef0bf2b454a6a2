"""Projections of the surfel map (numba): the index map (nearest surfel centre per pixel, which fusion associates
pixels with) and splat rendering (depth, normals, colour and the visible surfel per pixel).

Storage and pose conventions as in kernels.py.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def index_map(
    pos: np.ndarray,
    conf: np.ndarray,
    n: int,
    r_cw: np.ndarray,
    t_cw: np.ndarray,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    h: int,
    w: int,
    max_depth: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered projection of surfel centres into the image: the nearest surfel index per pixel.

    Serial on purpose: a parallel z-buffer needs an atomic min, which numba lacks; one pass over 1M surfels is a
    few milliseconds.

    Returns:
        (index H x W int32, -1 where no surfel projects; z H x W float32 camera depth of that surfel).
    """
    idx = np.full((h, w), -1, dtype=np.int32)
    zbuf = np.full((h, w), np.inf, dtype=np.float32)
    for i in range(n):
        if conf[i] < 0.0:
            continue
        px, py, pz = pos[i, 0], pos[i, 1], pos[i, 2]
        z = r_cw[2, 0] * px + r_cw[2, 1] * py + r_cw[2, 2] * pz + t_cw[2]
        if z <= 0.0 or z > max_depth:
            continue
        x = r_cw[0, 0] * px + r_cw[0, 1] * py + r_cw[0, 2] * pz + t_cw[0]
        y = r_cw[1, 0] * px + r_cw[1, 1] * py + r_cw[1, 2] * pz + t_cw[1]
        u = int(np.floor(fx * x / z + cx + 0.5))
        v = int(np.floor(fy * y / z + cy + 0.5))
        if u < 0 or v < 0 or u >= w or v >= h:
            continue
        if z < zbuf[v, u]:
            zbuf[v, u] = z
            idx[v, u] = i
    return idx, zbuf


@njit(cache=True)
def splat(
    pos: np.ndarray,
    nrm: np.ndarray,
    rad: np.ndarray,
    col: np.ndarray,
    conf: np.ndarray,
    sprobs: np.ndarray,
    n: int,
    min_conf: float,
    r_cw: np.ndarray,
    t_cw: np.ndarray,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    h: int,
    w: int,
    max_depth: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Render surfels as z-buffered screen-space discs (radius ``rad * f / z`` pixels, at least the centre pixel).

    Only surfels with confidence >= ``min_conf`` facing the camera are drawn.

    Returns:
        (depth H x W float32 metres, 0 = nothing; index H x W int32 surfel per pixel, -1 = nothing).
    """
    zbuf = np.full((h, w), np.inf, dtype=np.float32)
    idx = np.full((h, w), -1, dtype=np.int32)
    for i in range(n):
        if conf[i] < min_conf or conf[i] < 0.0:
            continue
        px, py, pz = pos[i, 0], pos[i, 1], pos[i, 2]
        z = r_cw[2, 0] * px + r_cw[2, 1] * py + r_cw[2, 2] * pz + t_cw[2]
        if z <= 1e-6 or z > max_depth:
            continue
        x = r_cw[0, 0] * px + r_cw[0, 1] * py + r_cw[0, 2] * pz + t_cw[0]
        y = r_cw[1, 0] * px + r_cw[1, 1] * py + r_cw[1, 2] * pz + t_cw[1]
        # Back-face culling: the world normal rotated into the camera must point against the ray.
        ncz = r_cw[2, 0] * nrm[i, 0] + r_cw[2, 1] * nrm[i, 1] + r_cw[2, 2] * nrm[i, 2]
        ncx = r_cw[0, 0] * nrm[i, 0] + r_cw[0, 1] * nrm[i, 1] + r_cw[0, 2] * nrm[i, 2]
        ncy = r_cw[1, 0] * nrm[i, 0] + r_cw[1, 1] * nrm[i, 1] + r_cw[1, 2] * nrm[i, 2]
        if ncx * x + ncy * y + ncz * z > 0.0:
            continue
        uc = fx * x / z + cx
        vc = fy * y / z + cy
        # Bounding box of the disc's projection (+1 px margin for tilted discs), then an exact ray-disc test per
        # pixel: the depth written is where the pixel's ray meets the surfel's plane, so tilted surfaces render
        # with the right depth gradient instead of flat steps.
        ru = rad[i] * fx / z + 1.0
        rv = rad[i] * fy / z + 1.0
        u0 = max(int(np.floor(uc - ru)), 0)
        u1 = min(int(np.ceil(uc + ru)), w - 1)
        v0 = max(int(np.floor(vc - rv)), 0)
        v1 = min(int(np.ceil(vc + rv)), h - 1)
        r2 = rad[i] * rad[i]
        plane = ncx * x + ncy * y + ncz * z
        uc_px = int(np.floor(uc + 0.5))
        vc_px = int(np.floor(vc + 0.5))
        for v in range(v0, v1 + 1):
            dy = (v - cy) / fy
            for u in range(u0, u1 + 1):
                dx = (u - cx) / fx
                denom = ncx * dx + ncy * dy + ncz
                if u == uc_px and v == vc_px:
                    zi = z  # the centre pixel is always drawn, so sub-pixel surfels leave no holes
                elif denom > -1e-3:
                    continue  # grazing ray (normal faces the camera, so denom < 0 for a visible hit)
                else:
                    zi = plane / denom
                    ex = dx * zi - x
                    ey = dy * zi - y
                    ez = zi - z
                    if zi <= 1e-6 or ex * ex + ey * ey + ez * ez > r2:
                        continue
                if zi < zbuf[v, u]:
                    zbuf[v, u] = zi
                    idx[v, u] = i
    depth = np.where(idx >= 0, zbuf, np.float32(0.0)).astype(np.float32)
    return depth, idx
