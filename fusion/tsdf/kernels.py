"""Numba kernels of the semantic TSDF: per-voxel label fusion, per-pixel weight correction, label look-ups.

Voxel layout (Open3D VoxelBlockGrid, checked on 0.20): an attribute of C channels is a
``capacity x R x R x R x C`` array indexed ``[buf, z, y, x, c]`` where ``buf`` is the block's hash-map buffer
index and (x, y, z) the voxel inside the block; the voxel's world position is ``(key * R + (x, y, z)) *
voxel_size`` (key = the block's integer coordinates). Flattened voxel index = ``buf * R^3 + (z * R + y) * R + x``.

Pixel convention: a voxel reads the pixel Open3D's integrate reads for it (:func:`open3d_pixel`): the camera
coordinates and the projection are computed in float32 in Open3D's order, the pixel is taken by truncation
(not rounding), and only projections inside ``[0, W-1] x [0, H-1]`` count. Labels and per-pixel weights thus
come from exactly the depth sample Open3D fused, which matters at depth edges.

Label storage (:data:`LABEL_SCALE`): per voxel K int16 log-probabilities in units of 1/LABEL_SCALE nats, *up to
an additive constant*, kept with max = 0 and each class at least ``-clamp`` below the max. The Bayes update
``log p += w * log max(q, floor)`` followed by subtracting the max is exactly the normalised posterior shifted by a
constant (every reader applies a softmax). The clamp bounds the confidence a voxel can build up (OctoMap's
clamping of occupancy log-odds): consecutive frames are strongly correlated, and without a bound a label agreed
on by N frames needs about N contrary frames to change. A voxel never labelled holds all zeros = uniform.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from slamseg.fusion.params import LABEL_CLAMP_LIMIT

_PARALLEL = {"parallel": True, "fastmath": True, "cache": True, "nogil": True}
# Projection kernels must round like Open3D's float32 code: no reassociation or fused multiply-adds.
_EXACT = {"parallel": True, "fastmath": False, "cache": True, "nogil": True}

LABEL_SCALE = 1000.0
"""Stored label value per nat: int16 holds log-probabilities down to -32.767 nats in steps of 0.001 nats."""


@nb.njit(inline="always", fastmath=False)
def open3d_pixel(
    x: int, y: int, z: int, voxel_size: np.float32, extr: np.ndarray, fx: np.float32, fy: np.float32,
    cx: np.float32, cy: np.float32, width: int, height: int,
) -> tuple[int, int, np.float32]:
    """The pixel Open3D's integrate reads for the voxel of integer world coordinates (x, y, z).

    Mirrors Open3D's TransformIndexer (RigidTransform, Project) and NDArrayIndexer.InBoundary in float32.

    Args:
        extr: 3 x 4 float32 world-to-camera (the first three rows of the extrinsic).
    Returns:
        (u, v, z_cam in metres); u = -1 when the voxel projects outside the image.
    """
    xw = np.float32(x) * voxel_size
    yw = np.float32(y) * voxel_size
    zw = np.float32(z) * voxel_size
    xc = xw * extr[0, 0] + yw * extr[0, 1] + zw * extr[0, 2] + extr[0, 3]
    yc = xw * extr[1, 0] + yw * extr[1, 1] + zw * extr[1, 2] + extr[1, 3]
    zc = xw * extr[2, 0] + yw * extr[2, 1] + zw * extr[2, 2] + extr[2, 3]
    inv_z = np.float32(1.0) / zc
    uf = fx * xc * inv_z + cx
    vf = fy * yc * inv_z + cy
    if not (vf >= 0 and uf >= 0 and vf <= np.float32(height - 1) and uf <= np.float32(width - 1)):
        return -1, -1, zc
    return int(uf), int(vf), zc


@nb.njit(**_EXACT)
def band_pixels_kernel(
    buf_len: int,
    keys: np.ndarray,  # N x 3 int32 block coordinates
    res: int,  # voxels per block edge
    voxel_size: np.float32,
    extr: np.ndarray,  # 3 x 4 float32 world-to-camera
    intr: np.ndarray,  # (fx, fy, cx, cy) float32
    depth: np.ndarray,  # H x W float32 metres, 0 = invalid (already range-clipped)
    band: np.float32,  # metres, <= Open3D's truncation distance
    needed: np.ndarray,  # H x W uint8, all zero on entry; set to 1 at every pixel some voxel uses
) -> np.ndarray:
    """Pass 1 of the label update: the pixel (flat index v * W + u) of every voxel to label, else -1.

    A voxel is labelled when its signed distance ``depth - z`` to the pixel Open3D's integrate read for it is below
    ``band`` in magnitude (depth > 0, z > 0). With ``band`` at most the truncation distance, these are voxels
    Open3D updated from that pixel; free-space voxels whose distance it truncated carry no evidence about the
    surface's class. Returns N x R^3 int32 in a block's voxel order
    (z, y, x). Only these pixels' logs are needed later: with ~5 px per 2 cm voxel at 2 m, a fraction of the image.
    """
    h, w = depth.shape
    fx, fy, cx, cy = intr[0], intr[1], intr[2], intr[3]
    pix = np.full((buf_len, res * res * res), -1, dtype=np.int32)
    for i in nb.prange(buf_len):
        j = 0
        for vz in range(res):
            for vy in range(res):
                for vx in range(res):
                    u, v, zc = open3d_pixel(keys[i, 0] * res + vx, keys[i, 1] * res + vy, keys[i, 2] * res + vz,
                                            voxel_size, extr, fx, fy, cx, cy, w, h)
                    if u >= 0 and zc > 0:
                        d = depth[v, u]
                        if d > 0 and abs(d - zc) < band:
                            pix[i, j] = v * w + u
                            needed[v, u] = 1  # every writer stores the same 1: the race is benign
                    j += 1
    return pix


@nb.njit(**_PARALLEL)
def log_needed_kernel(
    q: np.ndarray,  # H x W x K float32 observed probabilities
    needed: np.ndarray,  # H x W uint8 from band_pixels_kernel
    floor: float,
    log_q: np.ndarray,  # H x W x K float32 output buffer; written only where needed
) -> None:
    """Pass 2: ``log(max(q, floor))`` at the needed pixels only (the rest of ``log_q`` is left as it was)."""
    h, w, k_cls = q.shape
    fl = np.float32(floor)
    for v in nb.prange(h):
        for u in range(w):
            if needed[v, u]:
                for k in range(k_cls):
                    log_q[v, u, k] = np.log(max(q[v, u, k], fl))


@nb.njit(**_PARALLEL)
def apply_labels_kernel(
    log_p: np.ndarray,  # capacity x R x R x R x K int16 (LABEL_SCALE units), updated in place
    buf: np.ndarray,  # N int64 buffer indices of the visited blocks
    pix: np.ndarray,  # N x R^3 int32 from band_pixels_kernel
    log_q: np.ndarray,  # (H * W) x K float32 (valid at the needed pixels)
    pix_weight: np.ndarray,  # H * W float32 per-pixel weights, or empty for constant 1
    clamp: float,  # nats, <= LABEL_CLAMP_LIMIT
) -> int:
    """Pass 3: ``log p += w * log q`` at every labelled voxel, shifted so the max is 0 and clamped at ``-clamp``;
    returns the number of voxels updated."""
    res = log_p.shape[1]
    k_cls = log_p.shape[4]
    weighted = pix_weight.shape[0] > 0
    scale = np.float32(LABEL_SCALE)
    inv_scale = np.float32(1.0 / LABEL_SCALE)
    lowest = np.float32(-round(clamp * LABEL_SCALE))
    counts = np.zeros(buf.shape[0], dtype=np.int64)
    for i in nb.prange(buf.shape[0]):
        b = buf[i]
        flat = log_p[b].reshape(res * res * res, k_cls)  # a view: the block's voxels are contiguous
        tmp = np.empty(k_cls, dtype=np.float32)
        n_upd = 0
        for j in range(res * res * res):
            p = pix[i, j]
            if p < 0:
                continue
            wt = pix_weight[p] if weighted else np.float32(1.0)
            m = np.float32(-np.inf)
            for k in range(k_cls):
                val = np.float32(flat[j, k]) * inv_scale + wt * log_q[p, k]
                tmp[k] = val
                m = max(m, val)
            for k in range(k_cls):
                flat[j, k] = np.int16(max(np.float32(np.round((tmp[k] - m) * scale)), lowest))
            n_upd += 1
        counts[i] = n_upd
    return int(counts.sum())


@nb.njit(**_EXACT)
def reweight_kernel(
    tsdf: np.ndarray,  # capacity x R x R x R x 1 float32 (after Open3D's integrate), updated in place
    weight: np.ndarray,  # same, float32
    color: np.ndarray,  # capacity x R x R x R x 3 float32 or 0-sized when the map has no colour
    old_tsdf: np.ndarray,  # N x R x R x R x 1 snapshot of the visited blocks before integrate
    old_weight: np.ndarray,
    old_color: np.ndarray,
    buf: np.ndarray,
    keys: np.ndarray,
    voxel_size: np.float32,
    extr: np.ndarray,  # 3 x 4 float32 world-to-camera
    intr: np.ndarray,  # (fx, fy, cx, cy) float32
    pix_weight: np.ndarray,  # H x W float32 in (0, 1]
) -> None:
    """Turn Open3D's unit-weight running average into a per-pixel weighted one, exactly.

    Open3D did ``t' = (W t + d) / (W + 1)``, ``W' = W + 1`` on the voxels it updated (recognised by W' = W + 1).
    The observation is recovered as ``d = W' t' - W t`` and replaced by ``t'' = (W t + w d) / (W + w)``,
    ``W'' = W + w``, with w the weight of the pixel Open3D read for the voxel (same for colour).
    """
    res = tsdf.shape[1]
    h, w = pix_weight.shape
    fx, fy, cx, cy = intr[0], intr[1], intr[2], intr[3]
    has_color = color.shape[0] > 0
    for i in nb.prange(buf.shape[0]):
        b = buf[i]
        for vz in range(res):
            for vy in range(res):
                for vx in range(res):
                    w_old = old_weight[i, vz, vy, vx, 0]
                    w_new = weight[b, vz, vy, vx, 0]
                    if w_new - w_old < 0.5:  # not updated by this frame
                        continue
                    u, v, _ = open3d_pixel(keys[i, 0] * res + vx, keys[i, 1] * res + vy, keys[i, 2] * res + vz,
                                           voxel_size, extr, fx, fy, cx, cy, w, h)
                    wp = pix_weight[max(v, 0), max(u, 0)]
                    t_old = old_tsdf[i, vz, vy, vx, 0]
                    obs = w_new * tsdf[b, vz, vy, vx, 0] - w_old * t_old
                    tsdf[b, vz, vy, vx, 0] = (w_old * t_old + wp * obs) / (w_old + wp)
                    weight[b, vz, vy, vx, 0] = w_old + wp
                    if has_color:
                        for c in range(3):
                            c_old = old_color[i, vz, vy, vx, c]
                            c_obs = w_new * color[b, vz, vy, vx, c] - w_old * c_old
                            color[b, vz, vy, vx, c] = (w_old * c_old + wp * c_obs) / (w_old + wp)


@nb.njit(**_PARALLEL)
def softmax_rows(log_p: np.ndarray) -> np.ndarray:
    """N x K float32 log-probabilities up to a constant -> N x K float32 probabilities (rows sum to 1)."""
    n, k_cls = log_p.shape
    out = np.empty((n, k_cls), dtype=np.float32)
    for i in nb.prange(n):
        m = log_p[i, 0]
        for k in range(1, k_cls):
            m = max(m, log_p[i, k])
        s = np.float32(0.0)
        for k in range(k_cls):
            e = np.exp(log_p[i, k] - m)
            out[i, k] = e
            s += e
        for k in range(k_cls):
            out[i, k] /= s
    return out


@nb.njit(**_PARALLEL)
def labels_from_log_probs(log_p: np.ndarray) -> np.ndarray:
    """N x K log-probabilities -> N int32 class ids (argmax + 1), 0 where the row is uniform (never labelled)."""
    n, k_cls = log_p.shape
    out = np.zeros(n, dtype=np.int32)
    for i in nb.prange(n):
        best = 0
        lo = log_p[i, 0]
        hi = log_p[i, 0]
        for k in range(1, k_cls):
            val = log_p[i, k]
            if val > hi:
                hi = val
                best = k
            lo = min(lo, val)
        if hi > lo:
            out[i] = best + 1
    return out


def quantise_log_probs(log_p: np.ndarray, clamp: float = LABEL_CLAMP_LIMIT) -> np.ndarray:
    """... x K float log-probabilities (up to a constant) -> ... x K int16 in the map's storage (max 0, clamped).

    Used to read maps saved before the int16 storage and by tests that build expected values.
    """
    shifted = np.asarray(log_p, dtype=np.float64) - np.max(log_p, axis=-1, keepdims=True)
    return np.maximum(np.round(shifted * LABEL_SCALE), -round(clamp * LABEL_SCALE)).astype(np.int16)
