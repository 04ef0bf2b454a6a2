"""Options of ``slamseg train`` and ``slamseg evaluate`` as dataclasses (no torch import: the CLI and the config
validator load this module cheaply). Registered in ``slamseg.schemas.SCHEMAS`` as ``train``.

A training run is a list of *stages* (the paper: pre-train on the large set with expert-filled labels, then
fine-tune on the small fully annotated set with the learning rate divided by 10). Each stage names the data
sources it trains on; sources are declared once under ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TASKS = ("segm", "depth", "normals")
ANNOTATIONS = ("labels", "depth", "normals")  # Frame attributes, in the order of TASKS


@dataclass
class DataSource:
    """One training or evaluation dataset.

    Attributes:
        kind: ``synthetic`` (slamseg.sequences.synthetic scenes, rendered once and cached), ``sequence`` (any
            format ``open_sequence`` reads: NYU labelled .mat, image folders with label/depth folders, TUM...).
        path: the dataset path for ``sequence``.
        format: registered sequence format name (None = detect).
        options: extra reader options (e.g. ``{split: train}`` for the NYU labelled .mat file).
        seeds: synthetic scene seeds (one scene per seed).
        frames: synthetic frames per scene.
        width, height: synthetic image size in pixels.
        speed: synthetic camera speed factor (1.0: ~1 cm per frame; larger gives more varied frames).
        noise: synthetic Kinect-like depth noise and holes (the generator's ``noise``).
        max_frames: use at most this many frames (evenly spaced); None = all.
        labels_every: keep the labels of every Nth frame only and drop the others (simulates the asymmetric
            setting: many depth-only frames, few with both). 1 = keep all; 0 = drop all labels.
        labelled_only: keep only the frames that keep their labels (the small fully annotated set).
        drop: annotations removed from every frame ("labels", "depth", "normals").
        label_offset: added to channel ids (dataset concatenation: NYUD 40 + KITTI 6 -> KITTI channels 40..45).
        expert_labels: folder of hard-label PNGs (from ``slamseg label``) filling frames that lack labels.
        cache: folder where rendered/decoded frames are cached as .npz (None: ``<cache_root>/<name>`` for
            synthetic sources, no cache otherwise).
    """

    kind: Literal["synthetic", "sequence"] = "synthetic"
    path: str | None = None
    format: str | None = None
    options: dict[str, str | int | float | bool] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    frames: int = 20
    width: int = 160
    height: int = 120
    noise: bool = False
    speed: float = 1.0
    max_frames: int | None = None
    labels_every: int = 1
    labelled_only: bool = False
    drop: list[str] = field(default_factory=list)
    label_offset: int = 0
    expert_labels: str | None = None
    cache: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "sequence" and not self.path:
            raise ValueError("a 'sequence' data source needs a path")
        bad = [d for d in self.drop if d not in ANNOTATIONS]
        if bad:
            raise ValueError(f"drop {bad}: expected some of {list(ANNOTATIONS)}")
        if self.labels_every < 0 or self.frames < 1 or self.label_offset < 0:
            raise ValueError("labels_every and label_offset must be >= 0 and frames >= 1")


@dataclass
class ModelOptions:
    """Which network to train.

    Attributes:
        arch: registry name (nyud_joint, kitti_joint, nyudkitti_joint, nyud_three).
        num_classes: override of the architecture's class count (None = the registry's).
        tasks: override of the tasks (None = the registry's).
        init: checkpoint to start from (slamseg or released format; e.g. ImageNet-initialised weights); None =
            random initialisation.
        label_set: label set name stored in the checkpoint (None = the architecture's).
    """

    arch: str = "nyud_joint"
    num_classes: int | None = None
    tasks: list[str] | None = None
    init: str | None = None
    label_set: str | None = None


@dataclass
class OptimOptions:
    """SGD as in the paper (lr 1e-3, momentum 0.9), per-group learning-rate multipliers.

    ``algorithm``: "sgd" (the paper, which starts from ImageNet weights) or "adam" (``momentum`` unused), which
    trains a randomly initialised network much faster when no pre-trained weights are at hand.

    ``lr_mult`` keys: ``encoder`` (MobileNet-v2), ``decoder`` (RefineNet blocks), and one per task head
    (``segm``, ``depth``, ``normals``; the paper multiplies the normals head by 10).

    ``freeze_bn``: BatchNorm layers keep their running statistics (the paper; their affine weights still learn).
    False normalises with batch statistics: under torchrun on CUDA the layers become SyncBatchNorm (statistics
    of the global batch); on CPU torch has no SyncBatchNorm, so each process uses its own share of the batch
    and the run differs from a single-process run (a warning says so).
    """

    lr: float = 1e-3
    momentum: float = 0.9
    algorithm: Literal["sgd", "adam"] = "sgd"
    weight_decay: float = 1e-5
    lr_mult: dict[str, float] = field(
        default_factory=lambda: {"encoder": 1.0, "decoder": 1.0, "segm": 1.0, "depth": 1.0, "normals": 10.0}
    )
    freeze_bn: bool = True

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        unknown = set(self.lr_mult) - {"encoder", "decoder", *TASKS}
        if unknown:
            raise ValueError(f"lr_mult keys {sorted(unknown)}: expected encoder, decoder, segm, depth, normals")


@dataclass
class AugmentOptions:
    """Random square crop (padded when the image is smaller), mirroring, optional scale jitter.

    ``scale``: (min, max) factor drawn uniformly per sample; (1, 1) = none.
    """

    crop: int = 350
    mirror: bool = True
    scale: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        if self.crop < 8:
            raise ValueError(f"crop must be >= 8 pixels, got {self.crop}")
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError(f"scale must be (min, max) with 0 < min <= max, got {self.scale}")


@dataclass
class Stage:
    """One training stage.

    Attributes:
        name: shown in logs and checkpoint names.
        data: names of ``TrainConfig.data`` sources concatenated for this stage.
        steps: optimiser steps of the shared parameters.
        lr_scale: multiplies every learning rate (fine-tuning: 0.1).
        strategy: how frames that lack an annotation are used (the paper's Table III):
            ``expert`` missing labels come from the expert (``expert_labels`` folders or ``TrainConfig.teacher``),
            ``branch`` every task branch is updated only by the frames that have its annotation,
            ``accumulate`` task gradients accumulate until ``task_examples`` examples of the task were seen,
            shared parameters are stepped every ``base_examples`` examples.
    """

    name: str = "train"
    data: list[str] = field(default_factory=lambda: ["train"])
    steps: int = 100
    lr_scale: float = 1.0
    strategy: Literal["expert", "branch", "accumulate"] = "branch"
    task_examples: int = 1
    base_examples: int = 1

    def __post_init__(self) -> None:
        if self.steps < 0 or self.lr_scale <= 0 or self.task_examples < 1 or self.base_examples < 1:
            raise ValueError(f"stage {self.name!r}: steps >= 0, lr_scale > 0, task/base_examples >= 1 expected")
        if not self.data:
            raise ValueError(f"stage {self.name!r}: names no data sources")


@dataclass
class EvalOptions:
    """Evaluation options (also used by ``slamseg evaluate``).

    Attributes:
        data: names of ``data`` sources evaluated after training (and every ``every`` steps if > 0).
        every: evaluate every N steps during training (0 = only at the end).
        nyu_crop: apply Eigen's NYU evaluation crop to the depth metrics.
        max_depth: ground truth beyond this many metres is not evaluated (None = no cap).
        batch_size: frames per forward pass.
    """

    data: list[str] = field(default_factory=list)
    every: int = 0
    nyu_crop: bool = False
    max_depth: float | None = None
    batch_size: int = 4


@dataclass
class TrainConfig:
    """``slamseg train`` options. See ``configs/train_synthetic.yaml`` for an annotated example.

    Attributes:
        data: named data sources.
        stages: training stages, run in order.
        steps: if set, replaces the total step count (split over the stages in proportion): quick checks.
        teacher: expert checkpoint (slamseg, released or TorchScript) that labels frames without labels
            before an ``expert`` stage; its hard labels are cached in the run folder.
        batch_size: global batch (split over processes under torchrun).
        loss_weights: task -> weight; missing tasks get 1 / (number of tasks) (paper: lambda = 0.5).
        checkpoint_every: write a checkpoint (and resumable state) every N steps; the end is always written.
        log_every: CSV log and progress-bar update period in steps.
        seed: seeds initialisation, data order and augmentation.
        device: "cpu", "cuda" or "auto".
        threads: torch CPU threads (0 = torch's default).
        cache_root: where synthetic frames are cached (shared between runs: rendering is done once).
        export: also write the final weights here (half precision) with a metrics JSON beside them.
    """

    data: dict[str, DataSource] = field(default_factory=lambda: {"train": DataSource()})
    stages: list[Stage] = field(default_factory=lambda: [Stage()])
    model: ModelOptions = field(default_factory=ModelOptions)
    optim: OptimOptions = field(default_factory=OptimOptions)
    augment: AugmentOptions = field(default_factory=AugmentOptions)
    eval: EvalOptions = field(default_factory=EvalOptions)
    steps: int | None = None
    teacher: str | None = None
    batch_size: int = 4
    loss_weights: dict[str, float] = field(default_factory=dict)
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    threads: int = 0
    cache_root: str = "runs/cache"
    export: str | None = None

    def __post_init__(self) -> None:
        for stage in self.stages:
            missing = [d for d in stage.data if d not in self.data]
            if missing:
                raise ValueError(f"stage {stage.name!r} uses data {missing} not declared under 'data' "
                                 f"(declared: {', '.join(self.data) or 'none'})")
        missing = [d for d in self.eval.data if d not in self.data]
        if missing:
            raise ValueError(f"eval.data {missing} not declared under 'data'")
        if self.batch_size < 1 or self.checkpoint_every < 1 or self.log_every < 1:
            raise ValueError("batch_size, checkpoint_every and log_every must be >= 1")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        bad = [t for t in self.loss_weights if t not in TASKS]
        if bad:
            raise ValueError(f"loss_weights {bad}: expected tasks among {list(TASKS)}")
        if not self.stages:
            raise ValueError("no training stages")

    def stage_steps(self) -> list[int]:
        """Steps of each stage after the ``steps`` override (proportional split, at least 1 per stage)."""
        planned = [s.steps for s in self.stages]
        if self.steps is None:
            return planned
        total = sum(planned) or len(planned)
        out = [max(1, round(self.steps * (p or 1) / total)) for p in planned]
        out[-1] = max(1, self.steps - sum(out[:-1])) if len(out) > 1 else self.steps
        return out
