"""Ray casting of the semantic TSDF in numba (depth, normal, colour, label mixture per pixel).

Why not ``VoxelBlockGrid.ray_cast``: with open3d-cpu 0.20 here it hung intermittently (about one call in three
in a plain script, no numba involved) right after growing its range-map fragment buffer, its first call returns
an empty image, and its depth was biased by up to 0.7 voxel on a fronto-parallel plane. This caster reads the
same attributes through a dense block-index grid (block coordinates -> hash-map buffer index), sphere-traces the
TSDF, and interpolates trilinearly, requiring the 8 neighbour voxels to have weight >= the threshold.

Most of a ray crosses empty space, where no block is allocated: the march there leaps by the chessboard distance
(in blocks) from the current block to the nearest allocated one, less one block, which can never pass over an
allocated block (``block_distance_grid``); half a block when that distance is 1.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from slamseg.fusion.tsdf.kernels import LABEL_SCALE
from slamseg.sequences import Camera

_OPTS = {"parallel": True, "fastmath": True, "cache": True, "nogil": True}
_NATS_PER_UNIT = 1.0 / LABEL_SCALE
# Normalised TSDF above which the march steps on nearest-voxel values: the trilinear value differs from the nearest
# voxel's by at most about one voxel (0.87 voxel of distance, i.e. 0.22 of a 4-voxel truncation), so from 0.5 on
# no zero crossing is within reach of one step.
NEAR_SURFACE = 0.5


def block_index_grid(keys: np.ndarray, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense int32 grid over the blocks' bounding box holding each block's buffer index (-1 = no block).

    Args:
        keys: N x 3 int block coordinates; buf: N buffer indices.
    Returns:
        (X x Y x Z int32 grid, 3 int64 origin = the smallest block coordinate).
    """
    origin = keys.min(axis=0).astype(np.int64)
    dims = keys.max(axis=0).astype(np.int64) - origin + 1
    grid = np.full(tuple(int(d) for d in dims), -1, dtype=np.int32)
    rel = keys.astype(np.int64) - origin
    grid[rel[:, 0], rel[:, 1], rel[:, 2]] = buf.astype(np.int32)
    return grid, origin


@nb.njit(cache=True)
def block_distance_grid(grid: np.ndarray) -> np.ndarray:
    """Chessboard (L-infinity) distance in blocks from each cell of ``grid`` to the nearest allocated block
    (``grid >= 0``), by the exact two-pass chamfer transform with the 26-neighbourhood. X x Y x Z int32."""
    nx, ny, nz = grid.shape
    big = nx + ny + nz + 1
    dist = np.empty((nx, ny, nz), dtype=np.int32)
    for x in range(nx):
        for y in range(ny):
            for z in range(nz):
                dist[x, y, z] = 0 if grid[x, y, z] >= 0 else big
    for sweep in range(2):
        sign = 1 if sweep == 0 else -1
        for i in range(nx):
            x = i if sign > 0 else nx - 1 - i
            for j in range(ny):
                y = j if sign > 0 else ny - 1 - j
                for k in range(nz):
                    z = k if sign > 0 else nz - 1 - k
                    best = dist[x, y, z]
                    for dx in range(-1, 2):
                        for dy in range(-1, 2):
                            for dz in range(-1, 2):
                                # the 13 neighbours already visited in this sweep's order
                                if (dx * nz * ny + dy * nz + dz) * sign >= 0:
                                    continue
                                xx, yy, zz = x + dx, y + dy, z + dz
                                if 0 <= xx < nx and 0 <= yy < ny and 0 <= zz < nz:
                                    best = min(best, dist[xx, yy, zz] + 1)
                    dist[x, y, z] = best
    return dist


RANGE_TILE = 8  # pixels per edge of a range-map tile


@nb.njit(cache=True)
def block_range_map(keys: np.ndarray, res: int, voxel_size: float, world_to_cam: np.ndarray, intr: np.ndarray,
                    height: int, width: int, depth_min: float, depth_max: float) -> np.ndarray:
    """Per image tile, the camera-z interval in which a ray of that tile can meet an allocated block.

    Each block's box (one voxel of margin: trilinear samples reach into the next block) is projected with its 8
    corners; the tiles under their bounding rectangle take the corners' z range. Convexity makes this exact: a
    point of the box projects inside the rectangle and has a z between the corners' extremes. A box reaching
    behind the near plane ``depth_min`` (where rays start) is clipped to it first.

    Args:
        keys: N x 3 int block coordinates; world_to_cam: 4 x 4; intr: fx, fy, cx, cy.
    Returns:
        ceil(H / RANGE_TILE) x ceil(W / RANGE_TILE) x 2 float32 (z near, z far) in metres; near > far where no
        block projects.
    """
    th = (height + RANGE_TILE - 1) // RANGE_TILE
    tw = (width + RANGE_TILE - 1) // RANGE_TILE
    out = np.empty((th, tw, 2), dtype=np.float32)
    out[:, :, 0] = np.inf
    out[:, :, 1] = -np.inf
    edge = res * voxel_size
    fx, fy, cx, cy = intr[0], intr[1], intr[2], intr[3]
    cam = np.empty((8, 3), dtype=np.float64)
    for n in range(keys.shape[0]):
        zmin = np.inf
        zmax = -np.inf
        for j in range(8):
            x = (keys[n, 0] + (j & 1)) * edge + (voxel_size if j & 1 else -voxel_size)
            y = (keys[n, 1] + ((j >> 1) & 1)) * edge + (voxel_size if (j >> 1) & 1 else -voxel_size)
            z = (keys[n, 2] + ((j >> 2) & 1)) * edge + (voxel_size if (j >> 2) & 1 else -voxel_size)
            for a in range(3):
                cam[j, a] = (world_to_cam[a, 0] * x + world_to_cam[a, 1] * y + world_to_cam[a, 2] * z
                             + world_to_cam[a, 3])
            zmin = min(zmin, cam[j, 2])
            zmax = max(zmax, cam[j, 2])
        if zmax < depth_min or zmin > depth_max:
            continue
        # Rays start at z = depth_min: a box reaching behind that plane is clipped to it; the clipped box is
        # convex, bounded by the corners in front and the points where its edges cross the plane.
        umin = np.inf
        umax = -np.inf
        vmin = np.inf
        vmax = -np.inf
        for j in range(8):
            for bit in range(4):
                if bit < 3:
                    k = j ^ (1 << bit)
                    if k < j:
                        continue  # each edge once, from its lower corner
                    z0, z1 = cam[j, 2], cam[k, 2]
                    if (z0 < depth_min) == (z1 < depth_min):
                        continue
                    f = (depth_min - z0) / (z1 - z0)
                    xc = cam[j, 0] + f * (cam[k, 0] - cam[j, 0])
                    yc = cam[j, 1] + f * (cam[k, 1] - cam[j, 1])
                    zc = depth_min
                else:
                    if cam[j, 2] < depth_min:
                        continue
                    xc, yc, zc = cam[j, 0], cam[j, 1], cam[j, 2]
                umin = min(umin, fx * xc / zc + cx)
                umax = max(umax, fx * xc / zc + cx)
                vmin = min(vmin, fy * yc / zc + cy)
                vmax = max(vmax, fy * yc / zc + cy)
        zmin = max(zmin, depth_min)
        if umax < 0 or vmax < 0 or umin > width - 1 or vmin > height - 1:
            continue
        s0 = max(int(np.floor(umin)) // RANGE_TILE, 0)
        s1 = min(int(np.floor(umax)) // RANGE_TILE, tw - 1)
        t0 = max(int(np.floor(vmin)) // RANGE_TILE, 0)
        t1 = min(int(np.floor(vmax)) // RANGE_TILE, th - 1)
        for tv in range(t0, t1 + 1):
            for tu in range(s0, s1 + 1):
                out[tv, tu, 0] = min(out[tv, tu, 0], zmin)
                out[tv, tu, 1] = max(out[tv, tu, 1], zmax)
    return out


@nb.njit(inline="always")
def _empty_leap_blocks(dist, origin, res, gx, gy, gz):
    """Chessboard distance in blocks from the block of voxel-unit point (gx, gy, gz) to the nearest allocated
    block (a lower bound outside the grid)."""
    b = (int(np.floor(gx)) // res - origin[0], int(np.floor(gy)) // res - origin[1],
         int(np.floor(gz)) // res - origin[2])
    outside = 0
    for a in range(3):
        n = dist.shape[a]
        if b[a] < 0:
            outside = max(outside, -b[a])
        elif b[a] >= n:
            outside = max(outside, b[a] - n + 1)
    if outside > 0:
        return outside
    return dist[b[0], b[1], b[2]]


@nb.njit(inline="always")
def _voxel(grid, origin, res, ix, iy, iz):
    """Buffer index and local coordinates of integer voxel (ix, iy, iz); buffer -1 when the block is absent."""
    bx = ix // res
    by = iy // res
    bz = iz // res
    gx = bx - origin[0]
    gy = by - origin[1]
    gz = bz - origin[2]
    if gx < 0 or gy < 0 or gz < 0 or gx >= grid.shape[0] or gy >= grid.shape[1] or gz >= grid.shape[2]:
        return -1, 0, 0, 0
    return grid[gx, gy, gz], ix - bx * res, iy - by * res, iz - bz * res


@nb.njit(inline="always")
def _nearest(tsdf, weight, grid, origin, res, gx, gy, gz, w_thr):
    """TSDF of the voxel nearest to voxel-unit point (gx, gy, gz): (value, status), status as :func:`_sample`."""
    b, lx, ly, lz = _voxel(grid, origin, res, int(np.floor(gx + 0.5)), int(np.floor(gy + 0.5)),
                           int(np.floor(gz + 0.5)))
    if b < 0:
        return 0.0, -1
    if weight[b, lz, ly, lx, 0] < w_thr:
        return 0.0, 0
    return tsdf[b, lz, ly, lx, 0], 1


@nb.njit
def _sample(tsdf, weight, grid, origin, res, gx, gy, gz, w_thr, corners):
    """Trilinear TSDF at voxel-unit point (gx, gy, gz); fills ``corners`` (8 x 5: buf, lx, ly, lz, ratio).

    Returns (tsdf value, status): status 1 = valid, 0 = some neighbour missing or under-weighted,
    -1 = its block is absent (the caller may take a long step).
    """
    x0 = int(np.floor(gx))
    y0 = int(np.floor(gy))
    z0 = int(np.floor(gz))
    fx = gx - x0
    fy = gy - y0
    fz = gz - z0
    b0, lx0, ly0, lz0 = _voxel(grid, origin, res, x0, y0, z0)
    if b0 < 0:
        return 0.0, -1
    # Most points have all 8 neighbours in one block: one grid look-up instead of eight.
    same_block = lx0 < res - 1 and ly0 < res - 1 and lz0 < res - 1
    value = 0.0
    for j in range(8):
        dx = j & 1
        dy = (j >> 1) & 1
        dz = (j >> 2) & 1
        if same_block:
            b, lx, ly, lz = b0, lx0 + dx, ly0 + dy, lz0 + dz
        else:
            b, lx, ly, lz = _voxel(grid, origin, res, x0 + dx, y0 + dy, z0 + dz)
            if b < 0:
                return 0.0, 0
        if weight[b, lz, ly, lx, 0] < w_thr:
            return 0.0, 0
        r = (fx if dx else 1.0 - fx) * (fy if dy else 1.0 - fy) * (fz if dz else 1.0 - fz)
        corners[j, 0] = b
        corners[j, 1] = lx
        corners[j, 2] = ly
        corners[j, 3] = lz
        corners[j, 4] = r
        value += r * tsdf[b, lz, ly, lx, 0]
    return value, 1


@nb.njit(**_OPTS)
def raycast_kernel(
    tsdf: np.ndarray,  # capacity x R x R x R x 1 float32 (normalised to [-1, 1] by the truncation)
    weight: np.ndarray,  # same
    color: np.ndarray,  # capacity x R x R x R x 3 float32 (0..255)
    labels: np.ndarray,  # capacity x R x R x R x K int16 log-probabilities up to a constant (LABEL_SCALE units)
    grid: np.ndarray,
    origin: np.ndarray,
    dist: np.ndarray,  # block_distance_grid(grid)
    ranges: np.ndarray,  # block_range_map(...) of this camera and pose
    voxel_size: float,
    trunc: float,
    cam_to_world: np.ndarray,  # 4 x 4 float64
    intr: np.ndarray,  # fx, fy, cx, cy
    height: int,
    width: int,
    depth_min: float,
    depth_max: float,
    w_thr: float,
    with_labels: bool,
):
    """Returns (H x W depth, H x W x 3 world-frame TSDF gradient (unnormalised), H x W x 3 colour,
    H x W x K label probabilities (zeros where no labelled neighbour), H x W int32 labels (0 = none)).

    Without ``with_labels`` (tracking renders) the label mixture is skipped: probabilities and labels stay 0,
    depth, gradient and colour are the same as with it.
    """
    res = tsdf.shape[1]
    k_cls = labels.shape[4]
    fxi, fyi, cxi, cyi = intr[0], intr[1], intr[2], intr[3]
    r = cam_to_world
    depth = np.zeros((height, width), dtype=np.float32)
    grad = np.zeros((height, width, 3), dtype=np.float32)
    rgb = np.zeros((height, width, 3), dtype=np.float32)
    probs = np.zeros((height, width, k_cls if with_labels else 0), dtype=np.float32)
    out_labels = np.zeros((height, width), dtype=np.int32)
    for v in nb.prange(height):
        corners = np.zeros((8, 5), dtype=np.float64)
        p = np.empty(k_cls, dtype=np.float64)
        for u in range(width):
            xc = (u - cxi) / fxi
            yc = (v - cyi) / fyi
            # world direction of the ray per unit of camera z (so the ray parameter t is the depth)
            dx = r[0, 0] * xc + r[0, 1] * yc + r[0, 2]
            dy = r[1, 0] * xc + r[1, 1] * yc + r[1, 2]
            dz = r[2, 0] * xc + r[2, 1] * yc + r[2, 2]
            norm = np.sqrt(dx * dx + dy * dy + dz * dz)
            t = max(depth_min, ranges[v // RANGE_TILE, u // RANGE_TILE, 0])
            t_end = min(depth_max, ranges[v // RANGE_TILE, u // RANGE_TILE, 1] + voxel_size)
            prev_val = 0.0
            prev_t = -1.0
            hit_t = -1.0
            while t < t_end:
                gx = (r[0, 3] + t * dx) / voxel_size
                gy = (r[1, 3] + t * dy) / voxel_size
                gz = (r[2, 3] + t * dz) / voxel_size
                # Far from the surface (nearest voxel's TSDF above NEAR_SURFACE) one look-up decides the step;
                # trilinear samples (8 look-ups) only where a zero crossing may be near.
                val, status = _nearest(tsdf, weight, grid, origin, res, gx, gy, gz, w_thr)
                if status == 1 and val > NEAR_SURFACE and prev_t < 0:
                    t += max(0.8 * val * trunc - voxel_size, 0.5 * voxel_size) / norm
                    continue
                if status == 1:
                    val, status = _sample(tsdf, weight, grid, origin, res, gx, gy, gz, w_thr, corners)
                if status != 1:
                    prev_t = -1.0
                    # an unobserved voxel holds no surface: one voxel on (a crossing needs observed neighbours)
                    step = voxel_size
                    if status == -1:
                        leap = _empty_leap_blocks(dist, origin, res, gx, gy, gz)
                        step = (leap - 1) * res * voxel_size if leap >= 2 else 0.5 * res * voxel_size
                    t += step / norm
                    continue
                if prev_t > 0 and prev_val > 0 and val <= 0:
                    hit_t = prev_t + (t - prev_t) * prev_val / (prev_val - val)
                    break
                if prev_t > 0 and prev_val < 0 and val > 0:
                    break  # seen from behind: stop, no surface facing us
                prev_val = val
                prev_t = t
                # sphere tracing in the free space; half-voxel steps near the surface
                t += max(0.8 * val * trunc, 0.5 * voxel_size) / norm
            if hit_t < 0:
                continue
            gx = (r[0, 3] + hit_t * dx) / voxel_size
            gy = (r[1, 3] + hit_t * dy) / voxel_size
            gz = (r[2, 3] + hit_t * dz) / voxel_size
            _, status = _sample(tsdf, weight, grid, origin, res, gx, gy, gz, 0.0, corners)
            if status != 1:
                continue
            depth[v, u] = hit_t
            # gradient of the trilinear interpolant (sign: towards positive TSDF = free space)
            x0 = np.floor(gx)
            y0 = np.floor(gy)
            z0 = np.floor(gz)
            fx = gx - x0
            fy = gy - y0
            fz = gz - z0
            total = 0.0
            for k in range(k_cls):
                p[k] = 0.0
            for j in range(8):
                ddx = j & 1
                ddy = (j >> 1) & 1
                ddz = (j >> 2) & 1
                b = int(corners[j, 0])
                lx = int(corners[j, 1])
                ly = int(corners[j, 2])
                lz = int(corners[j, 3])
                ratio = corners[j, 4]
                tv = tsdf[b, lz, ly, lx, 0]
                wx = fx if ddx else 1.0 - fx
                wy = fy if ddy else 1.0 - fy
                wz = fz if ddz else 1.0 - fz
                grad[v, u, 0] += tv * (1.0 if ddx else -1.0) * wy * wz
                grad[v, u, 1] += tv * (1.0 if ddy else -1.0) * wx * wz
                grad[v, u, 2] += tv * (1.0 if ddz else -1.0) * wx * wy
                for c in range(3):
                    rgb[v, u, c] += ratio * color[b, lz, ly, lx, c]
                if not with_labels:
                    continue
                m = labels[b, lz, ly, lx, 0]
                lo = m
                for k in range(1, k_cls):
                    m = max(m, labels[b, lz, ly, lx, k])
                    lo = min(lo, labels[b, lz, ly, lx, k])
                if m == lo:
                    continue  # never labelled: no label evidence
                s = 0.0
                for k in range(k_cls):
                    s += np.exp((labels[b, lz, ly, lx, k] - m) * _NATS_PER_UNIT)
                for k in range(k_cls):
                    p[k] += ratio * np.exp((labels[b, lz, ly, lx, k] - m) * _NATS_PER_UNIT) / s
                total += ratio
            if total > 0:
                best = 0
                for k in range(k_cls):
                    probs[v, u, k] = p[k] / total
                    if p[k] > p[best]:
                        best = k
                out_labels[v, u] = best + 1
    return depth, grad, rgb, probs, out_labels


def camera_normals(normals: np.ndarray, camera: Camera, hit: np.ndarray) -> np.ndarray:
    """Camera-frame TSDF gradients -> unit normals facing the camera, 0 where nothing was hit."""
    normals = normals.astype(np.float32)
    v, u = np.indices(camera.shape, dtype=np.float32)
    ray = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], axis=-1)
    flip = np.sum(normals * ray, axis=-1) > 0
    normals[flip] *= -1.0
    norm = np.linalg.norm(normals, axis=-1, keepdims=True)
    normals = np.where(norm > 0, normals / np.maximum(norm, 1e-12), 0.0).astype(np.float32)
    normals[~hit] = 0.0
    return normals
