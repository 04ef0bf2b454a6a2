from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from slamseg.figures import (
    colourise_depth,
    colourise_normals,
    save_binned_plot,
    save_histogram,
    save_image_grid,
    save_series_plot,
    save_trajectory_plot,
)


def test_colourise_depth_blacks_out_invalid_and_saturates() -> None:
    depth = np.array([[0.0, 1.0, 2.0, 50.0]], np.float32)
    rgb = colourise_depth(depth, vmax=2.0)
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 4, 3)
    assert (rgb[0, 0] == 0).all() and (rgb[0, 2] == rgb[0, 3]).all() and not (rgb[0, 1] == rgb[0, 2]).all()


def test_colourise_normals() -> None:
    n = np.array([[[0, 0, -1.0], [0, 0, 0]]], np.float32)
    rgb = colourise_normals(n)
    assert tuple(rgb[0, 0]) == (127, 127, 0) and tuple(rgb[0, 1]) == (0, 0, 0)


def test_figures_are_written_as_png(tmp_path: Path) -> None:
    img = np.zeros((30, 40, 3), np.uint8)
    traj = np.tile(np.eye(4), (5, 1, 1))
    traj[:, 0, 3] = np.arange(5)
    paths = [
        save_image_grid(tmp_path / "grid.png", [[("a", img), ("b", img)], [("c", img)]]),
        save_trajectory_plot(tmp_path / "traj.png", traj, traj),
        save_series_plot(tmp_path / "s.png", np.arange(5), {"rmse": np.ones(5)}, "frame", "m"),
        save_histogram(tmp_path / "h.png", np.random.default_rng(0).normal(size=100), "error [m]"),
        save_binned_plot(tmp_path / "b.png", np.linspace(0, 5, 100), np.linspace(0, 1, 100), "depth", "err"),
    ]
    for p in paths:
        assert iio.imread(p).ndim == 3
