"""Figures for run reports (matplotlib, Agg backend: no display needed).

Every function writes one PNG atomically and returns its path. Images follow the project's conventions:
RGB uint8 H x W x 3, depth float32 metres (0 = invalid), label images already colourised by a label set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are written on headless machines
import matplotlib.pyplot as plt
import numpy as np

from slamseg.sequences.atomic import atomic_path


def colourise_depth(depth: np.ndarray, vmax: float | None = None, cmap: str = "turbo") -> np.ndarray:
    """H x W metres -> H x W x 3 uint8 (invalid pixels black); ``vmax`` defaults to the 99th percentile."""
    valid = depth > 0
    if vmax is None:
        vmax = float(np.percentile(depth[valid], 99)) if valid.any() else 1.0
    norm = np.clip(depth / max(vmax, 1e-6), 0.0, 1.0)
    rgb = (plt.get_cmap(cmap)(norm)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = 0
    return rgb


def colourise_normals(normals: np.ndarray) -> np.ndarray:
    """H x W x 3 unit normals -> uint8 RGB with the usual (n + 1) / 2 mapping; zero vectors stay black."""
    valid = np.linalg.norm(normals, axis=-1) > 0
    rgb = ((normals + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    rgb[~valid] = 0
    return rgb


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def save_image_grid(path: str | Path, rows: Sequence[Sequence[tuple[str, np.ndarray]]], cell_width: float = 3.2
                    ) -> Path:
    """A grid of titled images: ``rows[r][c] = (title, H x W x 3 uint8 image)``."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    h, w = rows[0][0][1].shape[:2]
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell_width * n_cols, cell_width * n_cols * h / w * n_rows
                                                      / n_cols + 0.3 * n_rows), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(row):
                title, image = row[c]
                ax.imshow(image)
                ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_trajectory_plot(path: str | Path, estimated: np.ndarray, ground_truth: np.ndarray | None = None,
                         title: str = "camera trajectory") -> Path:
    """Top view of N x 4 x 4 camera-to-world trajectories, on the two axes with the largest extent."""
    est = np.asarray(estimated)[:, :3, 3]
    both = est if ground_truth is None else np.concatenate([est, np.asarray(ground_truth)[:, :3, 3]])
    ax_a, ax_b = np.argsort(np.ptp(both, axis=0))[::-1][:2]
    names = "xyz"
    fig, ax = plt.subplots(figsize=(5.5, 5))
    if ground_truth is not None:
        gt = np.asarray(ground_truth)[:, :3, 3]
        ax.plot(gt[:, ax_a], gt[:, ax_b], "-", color="0.5", lw=2, label="ground truth")
    ax.plot(est[:, ax_a], est[:, ax_b], "-", color="tab:red", lw=1.5, label="estimated")
    ax.plot(est[:1, ax_a], est[:1, ax_b], "o", color="tab:red", ms=5, label="start")
    ax.set_xlabel(f"{names[ax_a]} [m]")
    ax.set_ylabel(f"{names[ax_b]} [m]")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def save_series_plot(path: str | Path, x: np.ndarray, series: dict[str, np.ndarray], xlabel: str, ylabel: str,
                     title: str = "") -> Path:
    """Line plot of several named series over a common x."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, y in series.items():
        ax.plot(x, y, lw=1.3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def save_histogram(path: str | Path, values: np.ndarray, xlabel: str, bins: int = 60, title: str = "") -> Path:
    """Histogram of ``values`` (finite ones)."""
    values = np.asarray(values)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values[np.isfinite(values)], bins=bins, color="tab:blue", alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pixels")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return _save(fig, path)


def save_binned_plot(path: str | Path, x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, bins: int = 20,
                     title: str = "") -> Path:
    """Mean and inter-quartile range of ``y`` in equal-width bins of ``x`` (e.g. depth error against distance)."""
    x, y = np.asarray(x), np.asarray(y)
    edges = np.linspace(float(x.min()), float(x.max()) + 1e-9, bins + 1) if x.size else np.linspace(0, 1, bins + 1)
    which = np.digitize(x, edges) - 1
    centres, means, q1, q3 = [], [], [], []
    for b in range(bins):
        sel = y[which == b]
        if sel.size:
            centres.append((edges[b] + edges[b + 1]) / 2)
            means.append(sel.mean())
            q1.append(np.percentile(sel, 25))
            q3.append(np.percentile(sel, 75))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.fill_between(centres, q1, q3, color="tab:blue", alpha=0.25, label="25-75%")
    ax.plot(centres, means, "-o", color="tab:blue", ms=3, label="mean")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)
