"""Training logs without training: metrics.csv rows, replacement on re-evaluation, trimming on resume, the
metrics plot's panels; and how data-parallel training treats BatchNorm that is not frozen."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch

from slamseg.networks.distributed import DistInfo, sync_batchnorm
from slamseg.networks.train_log import METRIC_FIELDS, plot_metrics, read_rows, record_metrics, trim_rows


def _result(miou: float, normals: bool = True) -> dict:
    return {"frames": 3, "segm": {"miou": miou, "pixel_acc": 0.5, "mean_class_acc": 0.4},
            "depth": {"rmse": 0.3, "abs_rel": 0.1, "delta1": 0.9, "delta2": 0.95},
            "normals": {"mean_angle": 30.0, "median_angle": 25.0} if normals else None}


def test_metrics_csv_rows_replace_trim_and_plot(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    record_metrics(path, 10, {"a": _result(0.25), "b": _result(0.5, normals=False)})
    record_metrics(path, 20, {"a": _result(0.375), "b": _result(0.625, normals=False)})
    rows = read_rows(path)
    assert tuple(rows[0]) == METRIC_FIELDS
    assert [(r["step"], r["data"], float(r["miou"])) for r in rows] == [
        ("10", "a", 0.25), ("10", "b", 0.5), ("20", "a", 0.375), ("20", "b", 0.625)]
    assert float(rows[0]["mean_angle"]) == 30.0 and math.isnan(float(rows[1]["mean_angle"]))
    assert float(rows[0]["delta1"]) == 0.9 and float(rows[0]["pixel_acc"]) == 0.5
    # the same step evaluated again (a finished run resumed) replaces its rows
    record_metrics(path, 20, {"a": _result(0.75)})
    assert [(r["step"], r["data"], r["miou"]) for r in read_rows(path)][2:] == [("20", "a", "0.75")]
    # resume at step 10: later rows go
    trim_rows(path, METRIC_FIELDS, 10)
    assert [r["step"] for r in read_rows(path)] == ["10", "10"]
    record_metrics(path, 20, {"a": _result(0.5), "b": _result(0.5, normals=False)})
    png = tmp_path / "metrics.png"
    assert plot_metrics(path, png)
    import imageio.v3 as iio

    image = np.asarray(iio.imread(png))
    assert image.shape[:2] == (360, 4 * 420)  # segmentation, depth error, depth accuracy, normals


def test_metrics_plot_needs_evaluations(tmp_path: Path) -> None:
    assert not plot_metrics(tmp_path / "metrics.csv", tmp_path / "metrics.png")
    assert not (tmp_path / "metrics.png").exists()


def _net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())


def test_trainable_batchnorm_under_ddp(caplog) -> None:
    two = DistInfo(rank=0, world_size=2)
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    # frozen statistics or a single process: nothing to do
    for info, freeze in ((two, True), (DistInfo(), False)):
        net = _net()
        with caplog.at_level(logging.WARNING):
            sync_batchnorm(net, cpu, info, freeze_bn=freeze)
        assert type(net[1]) is torch.nn.BatchNorm2d and not caplog.records
    # CPU: torch has no SyncBatchNorm there; the layers stay, with a warning that results will differ
    net = _net()
    with caplog.at_level(logging.WARNING):
        sync_batchnorm(net, cpu, two, freeze_bn=False)
    assert type(net[1]) is torch.nn.BatchNorm2d
    assert "results will differ from a single-process run" in caplog.text
    # CUDA: SyncBatchNorm, in place, keeping the parameter objects the optimisers hold (conversion needs no GPU)
    net = _net()
    weight = net[1].weight
    sync_batchnorm(net, cuda, two, freeze_bn=False)
    assert type(net[1]) is torch.nn.SyncBatchNorm and net[1].weight is weight
