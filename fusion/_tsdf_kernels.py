"""Numba kernels of the semantic TSDF: per-voxel label fusion, per-pixel weight correction, label look-ups.

Voxel layout (Open3D VoxelBlockGrid, checked on 0.20): an attribute of C channels is a
``capacity x R x R x R x C`` array indexed ``[buf, z, y, x, c]`` where ``buf`` is the block's hash-map buffer
index and (x, y, z) the voxel inside the block; the voxel's world position is ``(key * R + (x, y, z)) *
voxel_size`` (key = the block's integer coordinates). Flattened voxel index = ``buf * R^3 + (z * R + y) * R + x``.

Label storage: per voxel K float32 log-probabilities *up to an additive constant*, kept with max = 0. The
Bayes update ``log p += w * log max(q, floor)`` followed by subtracting the max is exactly the normalised
posterior shifted by a constant (normalising costs K exps and a log per voxel per frame for nothing: every
reader applies a softmax). A voxel never labelled holds all zeros = uniform.
"""

from __future__ import annotations

import numba as nb
import numpy as np

import slamseg.fusion.numba_setup  # noqa: F401  (threading layer before any parallel kernel)

_PARALLEL = {"parallel": True, "fastmath": True, "cache": True, "nogil": True}


@nb.njit(**_PARALLEL)
def band_pixels_kernel(
    buf_len: int,
    keys: np.ndarray,  # N x 3 int32 block coordinates
    res: int,  # voxels per block edge
    voxel_size: float,
    world_to_cam: np.ndarray,  # 4 x 4 float64
    intr: np.ndarray,  # (fx, fy, cx, cy) float64
    depth: np.ndarray,  # H x W float32 metres, 0 = invalid (already range-clipped)
    band: float,  # metres
    needed: np.ndarray,  # H x W uint8, all zero on entry; set to 1 at every pixel some voxel uses
) -> np.ndarray:
    """Pass 1 of the label update: the pixel (flat index v * W + u) of every voxel with |sdf| < band, else -1.

    Returns N x R^3 int32 in the voxel order of a block (z, y, x). Only these pixels' logs are needed later:
    with ~5 px per 2 cm voxel at 2 m, they are a fraction of the image.
    """
    h, w = depth.shape
    fx, fy, cx, cy = intr[0], intr[1], intr[2], intr[3]
    r = world_to_cam
    pix = np.full((buf_len, res * res * res), -1, dtype=np.int32)
    for i in nb.prange(buf_len):
        j = 0
        for vz in range(res):
            z_w = (keys[i, 2] * res + vz) * voxel_size
            for vy in range(res):
                y_w = (keys[i, 1] * res + vy) * voxel_size
                # the row's x-independent part of the camera coordinates, hoisted out of the x loop
                zc0 = r[2, 1] * y_w + r[2, 2] * z_w + r[2, 3]
                xc0 = r[0, 1] * y_w + r[0, 2] * z_w + r[0, 3]
                yc0 = r[1, 1] * y_w + r[1, 2] * z_w + r[1, 3]
                for vx in range(res):
                    x_w = (keys[i, 0] * res + vx) * voxel_size
                    zc = r[2, 0] * x_w + zc0
                    if zc > 0.0:
                        u = int(np.round(fx * (r[0, 0] * x_w + xc0) / zc + cx))
                        v = int(np.round(fy * (r[1, 0] * x_w + yc0) / zc + cy))
                        if u >= 0 and v >= 0 and u < w and v < h:
                            d = depth[v, u]
                            if d > 0.0 and abs(d - zc) < band:
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
    log_p: np.ndarray,  # capacity x R x R x R x K float32, updated in place
    buf: np.ndarray,  # N int64 buffer indices of the visited blocks
    pix: np.ndarray,  # N x R^3 int32 from band_pixels_kernel
    log_q: np.ndarray,  # (H * W) x K float32 (valid at the needed pixels)
    pix_weight: np.ndarray,  # H * W float32 per-pixel weights, or empty for constant 1
) -> int:
    """Pass 3: ``log p += w * log q`` at every voxel of the band, shifted so the max is 0; returns their count."""
    res = log_p.shape[1]
    k_cls = log_p.shape[4]
    weighted = pix_weight.shape[0] > 0
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
                val = flat[j, k] + wt * log_q[p, k]
                tmp[k] = val
                m = max(m, val)
            for k in range(k_cls):
                flat[j, k] = tmp[k] - m
            n_upd += 1
        counts[i] = n_upd
    return int(counts.sum())


@nb.njit(**_PARALLEL)
def reweight_kernel(
    tsdf: np.ndarray,  # capacity x R x R x R x 1 float32 (after Open3D's integrate), updated in place
    weight: np.ndarray,  # same, float32
    color: np.ndarray,  # capacity x R x R x R x 3 float32 or 0-sized when the map has no colour
    old_tsdf: np.ndarray,  # N x R x R x R x 1 snapshot of the visited blocks before integrate
    old_weight: np.ndarray,
    old_color: np.ndarray,
    buf: np.ndarray,
    keys: np.ndarray,
    voxel_size: float,
    world_to_cam: np.ndarray,
    intr: np.ndarray,
    pix_weight: np.ndarray,  # H x W float32 in (0, 1]
) -> None:
    """Turn Open3D's unit-weight running average into a per-pixel weighted one, exactly.

    Open3D did ``t' = (W t + d) / (W + 1)``, ``W' = W + 1`` on the voxels it updated (recognised by W' = W + 1).
    The observation is recovered as ``d = W' t' - W t`` and replaced by ``t'' = (W t + w d) / (W + w)``,
    ``W'' = W + w``, with w the weight of the pixel the voxel projects to (same for colour).
    """
    res = tsdf.shape[1]
    h, w = pix_weight.shape
    fx, fy, cx, cy = intr[0], intr[1], intr[2], intr[3]
    r = world_to_cam
    has_color = color.shape[0] > 0
    for i in nb.prange(buf.shape[0]):
        b = buf[i]
        for vz in range(res):
            z_w = (keys[i, 2] * res + vz) * voxel_size
            for vy in range(res):
                y_w = (keys[i, 1] * res + vy) * voxel_size
                for vx in range(res):
                    w_old = old_weight[i, vz, vy, vx, 0]
                    w_new = weight[b, vz, vy, vx, 0]
                    if w_new - w_old < 0.5:  # not updated by this frame
                        continue
                    x_w = (keys[i, 0] * res + vx) * voxel_size
                    zc = r[2, 0] * x_w + r[2, 1] * y_w + r[2, 2] * z_w + r[2, 3]
                    xc = r[0, 0] * x_w + r[0, 1] * y_w + r[0, 2] * z_w + r[0, 3]
                    yc = r[1, 0] * x_w + r[1, 1] * y_w + r[1, 2] * z_w + r[1, 3]
                    u = min(max(int(np.round(fx * xc / zc + cx)), 0), w - 1)
                    v = min(max(int(np.round(fy * yc / zc + cy)), 0), h - 1)
                    wp = pix_weight[v, u]
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


@nb.njit(**_PARALLEL)
def render_probs_kernel(
    log_p_flat: np.ndarray,  # (capacity * R^3) x K float32
    index: np.ndarray,  # H x W x 8 int64 flattened voxel indices of the hit's trilinear neighbours
    ratio: np.ndarray,  # H x W x 8 float32 trilinear weights
    mask: np.ndarray,  # H x W x 8 bool, neighbour exists
    hit: np.ndarray,  # H x W bool
) -> tuple[np.ndarray, np.ndarray]:
    """Trilinear mixture of the 8 neighbour voxels' distributions at each ray hit.

    Returns (H x W x K float32 probabilities, zeros where no hit or no labelled neighbour;
    H x W int32 labels = argmax + 1, 0 there).
    """
    h, w = hit.shape
    k_cls = log_p_flat.shape[1]
    probs = np.zeros((h, w, k_cls), dtype=np.float32)
    labels = np.zeros((h, w), dtype=np.int32)
    for y in nb.prange(h):
        p = np.empty(k_cls, dtype=np.float32)
        for x in range(w):
            if not hit[y, x]:
                continue
            total = np.float32(0.0)
            for j in range(8):
                if not mask[y, x, j]:
                    continue
                idx = index[y, x, j]
                m = log_p_flat[idx, 0]
                lo = m
                for k in range(1, k_cls):
                    m = max(m, log_p_flat[idx, k])
                    lo = min(lo, log_p_flat[idx, k])
                if m == lo:  # never labelled: carries no label evidence
                    continue
                s = np.float32(0.0)
                for k in range(k_cls):
                    p[k] = np.exp(log_p_flat[idx, k] - m)
                    s += p[k]
                wr = ratio[y, x, j]
                for k in range(k_cls):
                    probs[y, x, k] += wr * p[k] / s
                total += wr
            if total > 0:
                best = 0
                for k in range(k_cls):
                    probs[y, x, k] /= total
                    if probs[y, x, k] > probs[y, x, best]:
                        best = k
                labels[y, x] = best + 1
    return probs, labels
