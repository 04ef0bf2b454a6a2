"""Numba kernels of the surfel map (fusion/surfel/surfel_map.py): vertex/normal maps, association and fusion,
creation and clean-up (index map and splats: render.py).

Storage is a structure of arrays (rows 0..n-1 valid): ``pos`` N x 3 float32 world metres, ``nrm`` N x 3 float32
unit world normals, ``rad`` N float32 metres, ``col`` N x 3 float32 RGB 0..255, ``conf`` N float32 accumulated
confidence, ``t_last`` / ``t_init`` N int32 frame counters, ``probs`` N x K float32 class distribution.

Poses come in as world-to-camera rotation ``r_cw`` (3 x 3) and translation ``t_cw`` (3) float64; intrinsics as
``fx, fy, cx, cy`` in pixels of the image being processed.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# A surfel flagged for removal carries this confidence until the next clean-up compacts it away.
REMOVED = np.float32(-1.0)


@njit(cache=True)
def semanticfusion_update(p: np.ndarray, q: np.ndarray, reset_eps: float) -> None:
    """SemanticFusion's rule on one K-vector in place: ``p <- p * q``, renormalise, uniform when the sum <= eps.

    The numba twin of :func:`slamseg.fusion.bayes.fuse_probs_semanticfusion` (tests assert they agree).
    """
    k = p.shape[0]
    total = 0.0
    for c in range(k):
        p[c] = p[c] * q[c]
        total += p[c]
    if total <= reset_eps:
        for c in range(k):
            p[c] = 1.0 / k
    else:
        for c in range(k):
            p[c] = p[c] / total


@njit(cache=True)
def semanticfusion_update_rows(p: np.ndarray, q: np.ndarray, reset_eps: float) -> None:
    """Row-wise :func:`semanticfusion_update` over N x K arrays (used by the equality test with bayes.py)."""
    for i in range(p.shape[0]):
        semanticfusion_update(p[i], q[i], reset_eps)


@njit(parallel=True, cache=True)
def vertex_normal_maps(
    depth: np.ndarray, fx: float, fy: float, cx: float, cy: float, min_depth: float, max_depth: float, stride: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-frame vertex and normal maps of a depth image.

    Normals are the normalised cross product of the central differences along rows and columns, oriented towards
    the camera; a pixel is valid only when its depth and its four neighbours' are in range and no neighbour lies
    across a depth jump (> 5 % of the depth), since such a normal would straddle two surfaces.

    Args:
        depth: H x W float32 metres, 0 = invalid.
        stride: only every ``stride``-th row and column is evaluated (pixel subsampling); others stay invalid.
    Returns:
        (vertices H x W x 3 float32 metres, normals H x W x 3 float32 unit, valid H x W bool).
    """
    h, w = depth.shape
    vert = np.zeros((h, w, 3), dtype=np.float32)
    nrm = np.zeros((h, w, 3), dtype=np.float32)
    valid = np.zeros((h, w), dtype=np.bool_)
    for v in prange(h):
        for u in range(w):
            z = depth[v, u]
            if z > min_depth and z < max_depth:
                vert[v, u, 0] = (u - cx) * z / fx
                vert[v, u, 1] = (v - cy) * z / fy
                vert[v, u, 2] = z
    for v in prange(1, h - 1):
        if v % stride != 0:
            continue
        for u in range(1, w - 1):
            if u % stride != 0:
                continue
            z = vert[v, u, 2]
            if z == 0.0:
                continue
            jump = 0.05 * z
            ok = True
            for dv, du in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                zn = vert[v + dv, u + du, 2]
                if zn == 0.0 or abs(zn - z) > jump:
                    ok = False
            if not ok:
                continue
            ax = vert[v, u + 1, 0] - vert[v, u - 1, 0]
            ay = vert[v, u + 1, 1] - vert[v, u - 1, 1]
            az = vert[v, u + 1, 2] - vert[v, u - 1, 2]
            bx = vert[v + 1, u, 0] - vert[v - 1, u, 0]
            by = vert[v + 1, u, 1] - vert[v - 1, u, 1]
            bz = vert[v + 1, u, 2] - vert[v - 1, u, 2]
            nx = ay * bz - az * by
            ny = az * bx - ax * bz
            nz = ax * by - ay * bx
            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
            if norm < 1e-12:
                continue
            # Orient towards the camera: the normal must point against the viewing ray (n . v < 0).
            if nx * vert[v, u, 0] + ny * vert[v, u, 1] + nz * z > 0.0:
                norm = -norm
            nrm[v, u, 0] = nx / norm
            nrm[v, u, 1] = ny / norm
            nrm[v, u, 2] = nz / norm
            valid[v, u] = True
    return vert, nrm, valid


@njit(cache=True)
def _matches(
    s: int,
    zs: float,
    zp: float,
    npx: float,
    npy: float,
    npz: float,
    nrm: np.ndarray,
    depth_tol_abs: float,
    depth_tol_rel: float,
    cos_normal: float,
) -> bool:
    """Does surfel ``s`` (camera depth ``zs``) explain a pixel of depth ``zp`` and world normal ``np*``?"""
    if abs(zs - zp) > depth_tol_abs + depth_tol_rel * zp:
        return False
    return nrm[s, 0] * npx + nrm[s, 1] * npy + nrm[s, 2] * npz >= cos_normal


@njit(parallel=True, cache=True)
def associate_and_fuse(
    idx: np.ndarray,
    zbuf: np.ndarray,
    vert: np.ndarray,
    nrm_cam: np.ndarray,
    valid: np.ndarray,
    rgb: np.ndarray,
    pix_conf: np.ndarray,
    pix_rad: np.ndarray,
    probs: np.ndarray,
    use_probs: bool,
    r_wc: np.ndarray,
    t_wc: np.ndarray,
    pos: np.ndarray,
    nrm: np.ndarray,
    rad: np.ndarray,
    col: np.ndarray,
    conf: np.ndarray,
    t_last: np.ndarray,
    sprobs: np.ndarray,
    frame: int,
    stable_conf: float,
    depth_tol_abs: float,
    depth_tol_rel: float,
    cos_normal: float,
    radius_ratio: float,
    reset_eps: float,
    labels_visible: bool,
) -> int:
    """Fuse every pixel with the surfel of its own index-map cell when depth and normal agree.

    Each surfel owns at most one cell, so the cells can be processed in parallel without two pixels updating the
    same surfel. Position, normal, colour and radius become confidence-weighted averages (ElasticFusion), but
    only when the pixel's footprint is not much coarser than the surfel's (``radius_ratio``): a far, blurry view
    adds confidence without degrading a sharp surfel. The class distribution gets SemanticFusion's rule: with
    ``labels_visible`` (SemanticFusion) every surfel of the index map is updated with its pixel's probabilities,
    whether or not the pixel's depth agrees with it; otherwise only the surfels a measurement was fused into.
    Unstable surfels seen clearly IN FRONT of the measured surface lie in observed free space and are flagged
    for removal (ElasticFusion's free-space check).

    Returns:
        number of surfels fused.
    """
    h, w = idx.shape
    fused = np.zeros(h, dtype=np.int64)
    for v in prange(h):
        for u in range(w):
            s = idx[v, u]
            if s < 0:
                continue
            if not valid[v, u]:
                if labels_visible and use_probs:
                    semanticfusion_update(sprobs[s], probs[v, u], reset_eps)
                continue
            zp = vert[v, u, 2]
            zs = zbuf[v, u]
            # Pixel normal and vertex in world coordinates.
            nx = r_wc[0, 0] * nrm_cam[v, u, 0] + r_wc[0, 1] * nrm_cam[v, u, 1] + r_wc[0, 2] * nrm_cam[v, u, 2]
            ny = r_wc[1, 0] * nrm_cam[v, u, 0] + r_wc[1, 1] * nrm_cam[v, u, 1] + r_wc[1, 2] * nrm_cam[v, u, 2]
            nz = r_wc[2, 0] * nrm_cam[v, u, 0] + r_wc[2, 1] * nrm_cam[v, u, 1] + r_wc[2, 2] * nrm_cam[v, u, 2]
            if not _matches(s, zs, zp, nx, ny, nz, nrm, depth_tol_abs, depth_tol_rel, cos_normal):
                if conf[s] < stable_conf and zs < zp - (depth_tol_abs + depth_tol_rel * zp):
                    conf[s] = REMOVED
                elif labels_visible and use_probs:
                    semanticfusion_update(sprobs[s], probs[v, u], reset_eps)
                continue
            c_new = pix_conf[v, u]
            c_old = conf[s]
            if pix_rad[v, u] <= radius_ratio * rad[s]:
                a = c_old / (c_old + c_new)
                b = 1.0 - a
                for k in range(3):
                    pw = r_wc[k, 0] * vert[v, u, 0] + r_wc[k, 1] * vert[v, u, 1] + r_wc[k, 2] * vert[v, u, 2] + t_wc[k]
                    pos[s, k] = a * pos[s, k] + b * pw
                    col[s, k] = a * col[s, k] + b * rgb[v, u, k]
                mx = a * nrm[s, 0] + b * nx
                my = a * nrm[s, 1] + b * ny
                mz = a * nrm[s, 2] + b * nz
                norm = np.sqrt(mx * mx + my * my + mz * mz)
                if norm > 1e-12:
                    nrm[s, 0] = mx / norm
                    nrm[s, 1] = my / norm
                    nrm[s, 2] = mz / norm
                rad[s] = a * rad[s] + b * pix_rad[v, u]
            conf[s] = c_old + c_new
            t_last[s] = frame
            if use_probs:
                semanticfusion_update(sprobs[s], probs[v, u], reset_eps)
            fused[v] += 1
    return int(fused.sum())


@njit(parallel=True, cache=True)
def unexplained_pixels(
    idx: np.ndarray,
    zbuf: np.ndarray,
    vert: np.ndarray,
    nrm_cam: np.ndarray,
    valid: np.ndarray,
    r_wc: np.ndarray,
    nrm: np.ndarray,
    window: int,
    depth_tol_abs: float,
    depth_tol_rel: float,
    cos_normal: float,
) -> np.ndarray:
    """H x W bool: valid pixels that no surfel within ``window`` cells of the index map explains.

    The window stands in for ElasticFusion's super-sampled index map: surfels denser than pixels leave some
    cells to a neighbour, and a pixel next to a matching surfel must not spawn a duplicate.
    """
    h, w = idx.shape
    out = np.zeros((h, w), dtype=np.bool_)
    for v in prange(h):
        for u in range(w):
            if not valid[v, u]:
                continue
            zp = vert[v, u, 2]
            nx = r_wc[0, 0] * nrm_cam[v, u, 0] + r_wc[0, 1] * nrm_cam[v, u, 1] + r_wc[0, 2] * nrm_cam[v, u, 2]
            ny = r_wc[1, 0] * nrm_cam[v, u, 0] + r_wc[1, 1] * nrm_cam[v, u, 1] + r_wc[1, 2] * nrm_cam[v, u, 2]
            nz = r_wc[2, 0] * nrm_cam[v, u, 0] + r_wc[2, 1] * nrm_cam[v, u, 1] + r_wc[2, 2] * nrm_cam[v, u, 2]
            explained = False
            for vv in range(max(v - window, 0), min(v + window + 1, h)):
                for uu in range(max(u - window, 0), min(u + window + 1, w)):
                    s = idx[vv, uu]
                    if s >= 0 and _matches(
                        s, zbuf[vv, uu], zp, nx, ny, nz, nrm, depth_tol_abs, depth_tol_rel, cos_normal
                    ):
                        explained = True
                        break
                if explained:
                    break
            out[v, u] = not explained
    return out


@njit(cache=True)
def create_surfels(
    new_mask: np.ndarray,
    vert: np.ndarray,
    nrm_cam: np.ndarray,
    rgb: np.ndarray,
    pix_conf: np.ndarray,
    pix_rad: np.ndarray,
    probs: np.ndarray,
    use_probs: bool,
    r_wc: np.ndarray,
    t_wc: np.ndarray,
    pos: np.ndarray,
    nrm: np.ndarray,
    rad: np.ndarray,
    col: np.ndarray,
    conf: np.ndarray,
    t_last: np.ndarray,
    t_init: np.ndarray,
    sprobs: np.ndarray,
    start: int,
    frame: int,
    reset_eps: float,
) -> int:
    """Append one surfel per True pixel of ``new_mask`` at rows ``start..``; arrays must have room. Returns the
    new count. A new surfel's class distribution is the uniform prior updated once with its pixel's observation."""
    h, w = new_mask.shape
    k_classes = sprobs.shape[1]
    i = start
    for v in range(h):
        for u in range(w):
            if not new_mask[v, u]:
                continue
            for k in range(3):
                pos[i, k] = (
                    r_wc[k, 0] * vert[v, u, 0] + r_wc[k, 1] * vert[v, u, 1] + r_wc[k, 2] * vert[v, u, 2] + t_wc[k]
                )
                nrm[i, k] = (
                    r_wc[k, 0] * nrm_cam[v, u, 0] + r_wc[k, 1] * nrm_cam[v, u, 1] + r_wc[k, 2] * nrm_cam[v, u, 2]
                )
                col[i, k] = rgb[v, u, k]
            rad[i] = pix_rad[v, u]
            conf[i] = pix_conf[v, u]
            t_last[i] = frame
            t_init[i] = frame
            for c in range(k_classes):
                sprobs[i, c] = 1.0 / k_classes
            if use_probs:
                semanticfusion_update(sprobs[i], probs[v, u], reset_eps)
            i += 1
    return i


@njit(cache=True)
def remove_unstable(
    pos: np.ndarray,
    nrm: np.ndarray,
    rad: np.ndarray,
    col: np.ndarray,
    conf: np.ndarray,
    t_last: np.ndarray,
    t_init: np.ndarray,
    sprobs: np.ndarray,
    n: int,
    frame: int,
    stable_conf: float,
    unstable_age: int,
) -> int:
    """Remove flagged surfels and unstable ones (confidence < ``stable_conf``, unseen for > ``unstable_age``
    frames) by moving the last live surfel into each hole: O(removed) copies, not a full compaction, so the cost
    stays flat as the map grows. Returns the new count (row order changes)."""
    i = 0
    while i < n:
        dead = conf[i] < 0.0 or (conf[i] < stable_conf and frame - t_last[i] > unstable_age)
        if not dead:
            i += 1
            continue
        n -= 1
        if i != n:
            pos[i] = pos[n]
            nrm[i] = nrm[n]
            rad[i] = rad[n]
            col[i] = col[n]
            conf[i] = conf[n]
            t_last[i] = t_last[n]
            t_init[i] = t_init[n]
            sprobs[i] = sprobs[n]
    return n
