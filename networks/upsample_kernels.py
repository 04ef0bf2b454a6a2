"""One pass from the network's quarter-resolution class scores to labels (and, when asked, probabilities) at the
image size, on the CPU.

The released demo resizes the 40 logit channels to the image bicubically, then takes a softmax and an argmax over
the full-resolution N x 40 x H x W tensor: three passes over 49 MB at 640 x 480, which cost as much as the network.
Here the resize is separable (along x for each input row, then along y for each output row, which is the order
PyTorch's bicubic and bilinear kernels combine the taps in) and the argmax, and the softmax only when
probabilities are wanted, are taken on each output pixel's K scores while they are still in registers. The
weights follow PyTorch's ``interpolate(..., align_corners=False)`` exactly (same source coordinates, same
border clamping, cubic coefficient -0.75), so the scores agree with PyTorch's to float32 rounding and the labels
are the same except where two classes tie to within that rounding.

All arrays are channels-last (N x h x w x K scores), as the network's channels-last outputs already are.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# PyTorch's cubic convolution coefficient (upsample_bicubic2d, as OpenCV's and Keys' kernel with a = -0.75)
CUBIC_A = -0.75

_KERNEL = {"parallel": True, "fastmath": {"nnan", "ninf", "nsz"}, "cache": True, "nogil": True}


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """n -> n x 4 weights of the taps floor(src) - 1 .. floor(src) + 2 for fractional offsets ``t`` in [0, 1)."""
    a = CUBIC_A

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    rest = 1 - t
    return np.stack([far(t + 1), near(t), near(rest), far(rest + 1)], axis=1)


def resize_taps(n_in: int, n_out: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights of a 1-D resize from ``n_in`` to ``n_out`` samples, as PyTorch's
    ``interpolate(mode=..., align_corners=False)`` computes them.

    Returns (n_out x T int64 indices into 0 .. n_in - 1, n_out x T float32 weights), T = 2 (bilinear) or
    4 (bicubic); border taps are clamped to the edge sample, as PyTorch reads them.
    """
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"mode {mode!r}: expected 'bilinear' or 'bicubic'")
    # float32 arithmetic, as PyTorch computes its source coordinates and weights for float32 inputs
    scale = np.float32(n_in / n_out)
    src = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    if mode == "bilinear":
        src = np.maximum(src, np.float32(0.0))  # linear modes clamp negative coordinates to the first sample
        first = src.astype(np.int64)  # src >= 0: truncation is floor
        upper = np.minimum(first + 1, n_in - 1)
        frac = src - first.astype(np.float32)
        indices = np.stack([first, upper], axis=1)
        weights = np.stack([np.float32(1.0) - frac, frac], axis=1)
    else:
        first = np.floor(src).astype(np.int64)
        frac = src - first.astype(np.float32)
        indices = np.clip(first[:, None] + np.arange(-1, 3), 0, n_in - 1)
        weights = _cubic_weights(frac.astype(np.float32))
    return indices.astype(np.int64), weights.astype(np.float32)


@nb.njit(**_KERNEL)
def _resize_rows_x(src: np.ndarray, x_idx: np.ndarray, x_w: np.ndarray, out: np.ndarray) -> None:
    """out[n, r, x, :] = sum_t x_w[x, t] * src[n, r, x_idx[x, t], :] for every input row r (N x h x W x K)."""
    n_img, h = src.shape[0], src.shape[1]
    width, taps = x_idx.shape
    k_n = src.shape[3]
    for task in nb.prange(n_img * h):
        n = task // h
        r = task % h
        row = src[n, r]
        dst = out[n, r]
        for x in range(width):
            acc = dst[x]
            w0 = x_w[x, 0]
            first = row[x_idx[x, 0]]
            for k in range(k_n):
                acc[k] = w0 * first[k]
            for t in range(1, taps):
                wt = x_w[x, t]
                tap = row[x_idx[x, t]]
                for k in range(k_n):
                    acc[k] += wt * tap[k]


@nb.njit(**_KERNEL)
def _resize_cols_argmax(rows: np.ndarray, y_idx: np.ndarray, y_w: np.ndarray, labels: np.ndarray,
                        values: np.ndarray, softmax: bool) -> None:
    """For every output pixel: its K scores = sum_t y_w[y, t] * rows[n, y_idx[y, t], x, :]; labels = argmax + 1
    (the first maximum, as torch.argmax); ``values`` (when it has N x H x W x K elements) gets the scores, or
    their softmax when ``softmax``."""
    n_img, width, k_n = rows.shape[0], rows.shape[2], rows.shape[3]
    height, taps = y_idx.shape
    write = values.shape[0] > 0
    for task in nb.prange(n_img * height):
        n = task // height
        y = task % height
        acc = np.empty(k_n, dtype=np.float32)
        for x in range(width):
            w0 = y_w[y, 0]
            first = rows[n, y_idx[y, 0], x]
            for k in range(k_n):
                acc[k] = w0 * first[k]
            for t in range(1, taps):
                wt = y_w[y, t]
                tap = rows[n, y_idx[y, t], x]
                for k in range(k_n):
                    acc[k] += wt * tap[k]
            best = 0
            top = acc[0]
            for k in range(1, k_n):
                if acc[k] > top:
                    top = acc[k]
                    best = k
            labels[n, y, x] = best + 1
            if write:
                out = values[n, y, x]
                if softmax:
                    total = np.float32(0.0)
                    for k in range(k_n):
                        e = np.float32(np.exp(acc[k] - top))
                        out[k] = e
                        total += e
                    inv = np.float32(1.0) / total
                    for k in range(k_n):
                        out[k] *= inv
                else:
                    for k in range(k_n):
                        out[k] = acc[k]


def resize_argmax(scores: np.ndarray, size: tuple[int, int], mode: str = "bicubic", values: str | None = None,
                  threads: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize N x h x w x K float32 class scores to ``size`` = (H, W) and take the argmax per pixel, in one pass.

    Args:
        scores: N x h x w x K float32 (logits, or probabilities already in the wanted label set).
        size: (H, W) output size in pixels.
        mode: "bicubic" or "bilinear", as ``torch.nn.functional.interpolate(..., align_corners=False)``.
        values: None (labels only), "scores" (the resized scores) or "softmax" (their softmax over K).
        threads: numba threads for this call (the Predictor passes PyTorch's thread count); None = numba's current.

    Returns:
        (N x H x W int32 labels = argmax channel + 1, N x H x W x K float32 values or None).
    """
    if values not in (None, "scores", "softmax"):
        raise ValueError(f"values {values!r}: expected None, 'scores' or 'softmax'")
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    n_img, h, w, k_n = scores.shape
    height, width = size
    y_idx, y_w = resize_taps(h, height, mode)
    x_idx, x_w = resize_taps(w, width, mode)
    if threads is not None:
        nb.set_num_threads(max(1, min(int(threads), nb.config.NUMBA_NUM_THREADS)))
    rows = np.empty((n_img, h, width, k_n), np.float32)
    _resize_rows_x(scores, x_idx, x_w, rows)
    labels = np.empty((n_img, height, width), np.int32)
    out = np.empty((n_img, height, width, k_n) if values else (0, 0, 0, 0), np.float32)
    _resize_cols_argmax(rows, y_idx, y_w, labels, out, values == "softmax")
    return labels, (out if values else None)
