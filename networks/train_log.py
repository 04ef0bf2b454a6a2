"""The logs of ``slamseg train`` in the run folder: losses (``log.csv`` -> ``losses.png``) and evaluations over
training (``metrics.csv`` -> ``metrics.png``).

Both CSV files grow as training goes; on resume the rows written after the resumed state are dropped (they are
written again), so an interrupted and resumed run ends with the files of an uninterrupted one. Plots use
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

LOG_FIELDS = ("step", "stage", "loss", "loss_segm", "loss_depth", "loss_normals", "lr", "seconds")

# metrics.csv column -> (task, key of that task's metric dict in evaluate_sequence's result)
METRIC_COLUMNS: dict[str, tuple[str, str]] = {
    "miou": ("segm", "miou"),
    "pixel_acc": ("segm", "pixel_acc"),
    "rmse": ("depth", "rmse"),
    "abs_rel": ("depth", "abs_rel"),
    "delta1": ("depth", "delta1"),
    "mean_angle": ("normals", "mean_angle"),
}
METRIC_FIELDS = ("step", "data", *METRIC_COLUMNS)

# metrics.png: one panel per family, (title, y label, [(column, legend label)])
_PANELS = (
    ("segmentation", "fraction", [("miou", "mIoU"), ("pixel_acc", "pixel accuracy")]),
    ("depth error", "m / fraction", [("rmse", "RMSE (m)"), ("abs_rel", "abs rel")]),
    ("depth accuracy", "fraction", [("delta1", "δ < 1.25")]),
    ("normals", "degrees", [("mean_angle", "mean angle")]),
)


def loss_row(step: int, stage: str, window: list[dict[str, float]], lr: float, seconds: float) -> dict[str, Any]:
    """A log.csv row: the mean of each loss over the batches of ``window`` (dicts with ``loss`` and per-task
    ``segm`` / ``depth`` / ``normals``; NaN entries -- a task without annotations in a batch -- are skipped)."""

    def mean(key: str) -> float:
        vals = [w[key] for w in window if key in w and not math.isnan(w[key])]
        return float(sum(vals) / len(vals)) if vals else float("nan")

    return {"step": step, "stage": stage, "loss": mean("loss"), "loss_segm": mean("segm"),
            "loss_depth": mean("depth"), "loss_normals": mean("normals"), "lr": lr, "seconds": round(seconds, 3)}


def append_rows(path: Path, fields: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Append rows to a CSV file, writing the header when the file is new."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields))
        if new:
            writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header ([] when it does not exist)."""
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _rewrite(path: Path, fields: Iterable[str], rows: list[dict[str, str]]) -> None:
    from slamseg.sequences.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)


def trim_rows(path: Path, fields: Iterable[str], step: int) -> None:
    """Drop the rows of a step-indexed CSV file written after ``step`` (resume: they will be written again)."""
    if path.exists():
        _rewrite(path, fields, [r for r in read_rows(path) if int(r["step"]) <= step])


def metric_rows(step: int, results: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One metrics.csv row per evaluated dataset of ``Trainer.evaluate()``'s result; NaN where a task was not
    evaluated (not a task of the model, or no annotated frame)."""
    rows = []
    for name, result in results.items():
        row: dict[str, Any] = {"step": step, "data": name}
        for column, (task, key) in METRIC_COLUMNS.items():
            value = (result.get(task) or {}).get(key)
            row[column] = float("nan") if value is None else float(value)
        rows.append(row)
    return rows


def record_metrics(path: Path, step: int, results: Mapping[str, Mapping[str, Any]]) -> None:
    """Write the evaluation at ``step`` to metrics.csv, replacing rows of the same step (the final evaluation of
    a finished run that is resumed again is not listed twice)."""
    rows = metric_rows(step, results)
    if not rows:
        return
    old = read_rows(path)
    if any(int(r["step"]) >= step for r in old):
        _rewrite(path, METRIC_FIELDS, [r for r in old if int(r["step"]) < step])
    append_rows(path, METRIC_FIELDS, rows)


def _value(text: str) -> float:
    return float(text) if text not in ("", None) else math.nan


def plot_log(csv_path: Path, png_path: Path) -> None:
    """Loss curves (total and per task) against steps from ``log.csv``."""
    rows = read_rows(csv_path)
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key in ("loss", "loss_segm", "loss_depth", "loss_normals"):
        vals = [_value(r[key]) for r in rows]
        if any(v == v for v in vals):
            ax.plot(steps, vals, label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, png_path)


def plot_metrics(csv_path: Path, png_path: Path) -> bool:
    """Evaluation metrics against steps from ``metrics.csv``: one panel per metric family (segmentation, depth
    error, depth accuracy, normals) holding a line per dataset and metric; families never evaluated are left
    out. Returns whether a figure was written (not when nothing was evaluated)."""
    rows = read_rows(csv_path)
    datasets = list(dict.fromkeys(r["data"] for r in rows))
    panels = []
    for title, unit, columns in _PANELS:
        lines = []
        for d, name in enumerate(datasets):
            mine = [r for r in rows if r["data"] == name]
            for m, (column, label) in enumerate(columns):
                points = [(int(r["step"]), _value(r[column])) for r in mine]
                points = [(s, v) for s, v in points if not math.isnan(v)]
                if points:  # a colour per dataset, a line style per metric
                    style = {"color": f"C{d % 10}", "linestyle": ("-", "--")[m % 2]}
                    lines.append((f"{name}: {label}" if len(datasets) > 1 else label, points, style))
        if lines:
            panels.append((title, unit, lines))
    if not panels:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (title, unit, lines) in zip(axes[0], panels):
        for label, points, style in lines:
            ax.plot([s for s, _ in points], [v for _, v in points], marker="o", markersize=3, label=label, **style)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, png_path)
    return True


def _save(fig: Any, png_path: Path) -> None:
    import matplotlib.pyplot as plt

    from slamseg.sequences.atomic import atomic_path

    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
