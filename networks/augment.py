"""Training augmentation (paper Sect. IV): random square crop, random mirroring, optional scale jitter.

Works on one sample of H x W arrays (see :func:`slamseg.networks.datasets.frame_to_arrays`) with an explicit
numpy Generator, so that the same seed gives the same crop on any process.
"""

from __future__ import annotations

import numpy as np

from slamseg.networks.losses import IGNORE
from slamseg.networks.train_config import AugmentOptions

# value that fills padding, per array (padding is never counted by a loss: ignore label, invalid depth / normals)
_PAD = {"rgb": 0, "segm": IGNORE, "depth": 0.0, "normals": 0.0}


def _resize_nearest(a: np.ndarray, h: int, w: int) -> np.ndarray:
    # Nearest neighbour for every array: labels must not blend, and depth must not mix valid with invalid (0).
    rows = np.minimum((np.arange(h) + 0.5) * a.shape[0] / h, a.shape[0] - 1).astype(np.int64)
    cols = np.minimum((np.arange(w) + 0.5) * a.shape[1] / w, a.shape[1] - 1).astype(np.int64)
    return a[rows][:, cols]


def augment_sample(sample: dict[str, np.ndarray], opts: AugmentOptions, rng: np.random.Generator) -> dict:
    """Scale jitter, then a random ``crop`` x ``crop`` window (padded where the image is smaller), then a
    horizontal flip with probability 0.5.

    Args:
        sample: ``rgb`` H x W x 3 uint8, ``segm`` H x W int64, ``depth`` H x W float32 (metres), ``normals``
            H x W x 3 float32, plus ``has_*`` flags (passed through).
        rng: draws, in this order: scale, crop offsets, flip.
    Returns:
        The same keys with S x S (x 3) arrays, S = ``opts.crop``.

    Scaling the image by s is treated as moving the camera: depth is divided by s (as Eigen et al. do), normals
    are unchanged. Mirroring negates the normals' x component (camera axes: x right).
    """
    out = dict(sample)
    lo, hi = opts.scale
    s = float(rng.uniform(lo, hi)) if hi > lo else lo
    if s != 1.0:
        h, w = sample["rgb"].shape[:2]
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        for key in _PAD:
            out[key] = _resize_nearest(out[key], nh, nw)
        out["depth"] = out["depth"] / s
    size = opts.crop
    h, w = out["rgb"].shape[:2]
    top = int(rng.integers(0, h - size + 1)) if h > size else 0
    left = int(rng.integers(0, w - size + 1)) if w > size else 0
    for key, fill in _PAD.items():
        a = out[key][top: top + size, left: left + size]
        if a.shape[0] < size or a.shape[1] < size:
            padded = np.full((size, size, *a.shape[2:]), fill, dtype=a.dtype)
            padded[: a.shape[0], : a.shape[1]] = a
            a = padded
        out[key] = a
    if opts.mirror and rng.random() < 0.5:
        for key in _PAD:
            out[key] = out[key][:, ::-1]
        out["normals"] = out["normals"] * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
    return out
