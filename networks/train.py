"""The training loop of ``slamseg train``: stages, strategies, checkpoints, exact resumption, logs and plots.

``Trainer(config, run_dir)`` prepares everything that can fail (data sources, class counts, tasks the data can
supply, expert labels) *before* the first step, so configuration mistakes are one-line
:class:`~slamseg.networks.errors.TrainingError` s. ``Trainer.run()`` trains; under ``torchrun`` every process
runs it (DistributedDataParallel, see :mod:`slamseg.networks.distributed`) and process 0 writes the files.

Run folder contents: ``checkpoints/step_NNNNNN.pt`` (slamseg checkpoint format: metadata, and the metrics when
that step was evaluated), ``checkpoints/state.pt`` (optimisers, step, data position, RNG: what ``resume`` needs),
``model.pt`` (final), ``log.csv`` (losses every ``log_every`` steps) and ``losses.png``, ``metrics.csv`` (one row
per evaluation -- every ``eval.every`` steps and at the end -- and dataset: mIoU, pixel accuracy, depth RMSE, abs
rel, delta1, normals mean angle) and ``metrics.png``, ``metrics.json`` (the final evaluation), ``eval.md``.
Writing the logs and plots is :mod:`slamseg.networks.train_log`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slamseg.networks import train_log
from slamseg.networks.datasets import (
    AnnotatedSequence,
    Entry,
    TrainingSet,
    annotation_counts,
    check_label_range,
    open_source,
)
from slamseg.networks.distributed import (
    DistInfo,
    ShardedBatchSampler,
    barrier,
    init_from_env,
    make_reducer,
    shutdown,
    wrap_model,
)
from slamseg.networks.errors import TrainingError
from slamseg.networks.losses import JointLoss
from slamseg.networks.strategies import Updater, freeze_batchnorm
from slamseg.networks.train_config import TrainConfig
from slamseg.sequences.sequence import Sequence

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """"auto" -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _collate(samples: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack samples into batch tensors (the DataLoader's collate_fn)."""
    return {k: torch.from_numpy(np.stack([s[k] for s in samples])) for k in samples[0]}


class Trainer:
    """One training run.

    Args:
        config: the validated TrainConfig.
        run_dir: the (working) run folder; files are written here by process 0.
        sequences: optional name -> Sequence replacing ``config.data`` entries (programmatic use and tests);
            the source's annotation options (labels_every, drop, max_frames, offsets) still apply.
        progress: show tqdm bars (process 0 only).
        dtype: precision of the parameters and of the batches' floating-point tensors. float64 is for exactness
            checks (data-parallel against single-process training without float32 rounding; tests).
    """

    def __init__(self, config: TrainConfig, run_dir: str | Path, sequences: Mapping[str, Sequence] | None = None,
                 progress: bool = True, dtype: torch.dtype = torch.float32) -> None:
        self.cfg = config
        self.dtype = dtype
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.device = resolve_device(config.device)
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.dist: DistInfo = init_from_env(self.device)
        # Process 0 owns the run folder (created, or replaced with --overwrite, before it gets here); the others
        # wait for it instead of racing it to the folder.
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        barrier(self.dist)
        if self.dist.active and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        if config.batch_size % self.dist.world_size:
            raise TrainingError(f"batch_size {config.batch_size} is not divisible by the {self.dist.world_size} "
                                "processes: the global batch is split evenly")
        self.model = self._build_model()
        self.mean, self.std = tuple(self.model.meta["mean"]), tuple(self.model.meta["std"])
        self.steps = config.stage_steps()
        self.sequences = self._open_data(dict(sequences or {}))
        self._check_data()

    # ----------------------------------------------------------------------------------------- set-up
    def _build_model(self) -> torch.nn.Module:
        from slamseg.networks.checkpoints import default_meta, read_checkpoint
        from slamseg.networks.registry import build_model

        m = self.cfg.model
        torch.manual_seed(self.cfg.seed)
        model = build_model(m.arch, num_classes=m.num_classes, tasks=tuple(m.tasks) if m.tasks else None)
        model.meta = default_meta(model)
        if m.label_set is not None:
            model.meta["label_set"] = m.label_set
        if m.init:
            state, meta = read_checkpoint(m.init)
            own = model.state_dict()
            fit = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            model.load_state_dict(fit, strict=False)
            log.info("initialised %d of %d tensors from %s", len(fit), len(own), m.init)
            if meta:
                model.meta.update({k: meta[k] for k in ("mean", "std") if meta.get(k)})
        return model.to(self.device, self.dtype)

    def _open_data(self, given: dict[str, Sequence]) -> dict[str, AnnotatedSequence]:
        used = {d for s in self.cfg.stages for d in s.data} | set(self.cfg.eval.data)
        out = {}
        for name in sorted(used):
            source = self.cfg.data[name]
            base = given[name] if name in given else open_source(name, source, self.cfg.cache_root)
            expert = self.run_dir / "expert_labels" / name if self.cfg.teacher else None
            out[name] = AnnotatedSequence(base, source, expert_labels=expert)
        # Rendering / decoding happens once, in process 0, before the others read the cache.
        if self.dist.is_main:
            for seq in out.values():
                if hasattr(seq.base, "materialise"):
                    seq.base.materialise(progress=self.progress)
                elif hasattr(seq.base, "parts"):
                    for part in seq.base.parts:
                        part.materialise(progress=self.progress)
        barrier(self.dist)
        return out

    def _check_data(self) -> None:
        tasks = tuple(self.model.tasks)
        supplied: set[str] = set()
        warnings: list[tuple[str, str]] = []
        self.counts: dict[str, dict[str, int]] = {}
        for name, seq in self.sequences.items():
            if len(seq) == 0:
                raise TrainingError(f"data {name!r} is empty (0 frames)")
            check_label_range(name, seq, self.cfg.data[name].label_offset, self.model.num_classes)
            self.counts[name] = annotation_counts(seq)
        for stage, steps in zip(self.cfg.stages, self.steps):
            frames = sum(len(self.sequences[d]) for d in stage.data)
            if frames < self.cfg.batch_size:
                raise TrainingError(f"stage {stage.name!r}: {frames} frames cannot fill a batch of "
                                    f"{self.cfg.batch_size}")
            have = {t for d in stage.data for t, n in self.counts[d].items() if n > 0}
            supplied |= have
            if stage.strategy == "expert" and "segm" in tasks:
                lacking = {d: len(self.sequences[d]) - self.counts[d]["segm"] for d in stage.data}
                lacking = {d: n for d, n in lacking.items() if n}
                if lacking and not self.cfg.teacher:
                    raise TrainingError(
                        f"stage {stage.name!r} uses strategy 'expert' but frames lack labels "
                        f"({', '.join(f'{d}: {n}' for d, n in lacking.items())}) and no expert fills them: "
                        "set 'teacher' or the sources' expert_labels (slamseg label), or use strategy 'branch'")
            warnings += [(stage.name, t) for t in tasks if t not in have and steps > 0]
        missing = [t for t in tasks if t not in supplied]
        if missing:
            where = ", ".join(f"{n}: {', '.join(t for t, c in self.counts[n].items() if c) or 'nothing'}"
                              for n in self.sequences)
            raise TrainingError(f"model task(s) {missing} cannot be trained: no training frame has that "
                                f"annotation (data supply {where}); remove them from model.tasks or add data")
        for stage_name, task in warnings:
            log.warning("stage %r: no frame has %s annotations; that head is not trained in it", stage_name, task)

    def _label_with_teacher(self) -> None:
        """Fill missing labels of every expert stage's data with the teacher's hard labels (cached, resumable)."""
        from slamseg.networks.expert import label_sequence, load_teacher

        names = sorted({d for s in self.cfg.stages if s.strategy == "expert" for d in s.data})
        if not names:
            return
        teacher = load_teacher(self.cfg.teacher, self.device)
        for name in names:
            seq = self.sequences[name]
            todo = [i for i in range(len(seq)) if not seq.keeps_labels(i)]
            out = self.run_dir / "expert_labels" / name
            label_sequence(teacher, seq, out, positions=todo, batch_size=self.cfg.eval.batch_size,
                           shard=self.dist, progress=self.progress and self.dist.is_main,
                           keep_own_labels=False)
        barrier(self.dist)
        for name in names:  # re-count: expert labels now fill frames
            self.counts[name] = annotation_counts(self.sequences[name])

    # ----------------------------------------------------------------------------------------- state
    def _state_path(self) -> Path:
        return self.run_dir / "checkpoints" / "state.pt"

    def _save(self, step: int, stage_index: int, batch: int, updater: Updater, metrics: dict | None) -> None:
        from slamseg.networks.checkpoints import save_checkpoint
        from slamseg.sequences.atomic import atomic_path, strict_json_data

        if not self.dist.is_main:
            return
        ckpt = self.run_dir / "checkpoints" / f"step_{step:06d}.pt"
        save_checkpoint(ckpt, self.model, training=strict_json_data(asdict(self.cfg)), metrics=metrics)
        # at a stage's end the next stage starts with fresh optimisers (its own learning rates)
        state = {"step": step, "stage": stage_index, "batch": batch,
                 "updater": updater.state_dict() if batch else None,
                 "model": self.model.state_dict(), "torch_rng": torch.get_rng_state(), "checkpoint": ckpt.name}
        with atomic_path(self._state_path()) as tmp:
            torch.save(state, tmp)
        log.debug("checkpoint %s", ckpt)

    # ----------------------------------------------------------------------------------------- loop
    def run(self, stop_after: int | None = None) -> dict[str, Any]:
        """Train all stages (continuing from ``checkpoints/state.pt`` if present); returns the final metrics.

        ``stop_after``: return after this many steps *of this call* (simulates an interruption; tests).
        """
        try:
            return self._run(stop_after)
        finally:
            shutdown(self.dist)

    def _run(self, stop_after: int | None) -> dict[str, Any]:
        state = None
        if self._state_path().exists():
            state = torch.load(self._state_path(), map_location="cpu", weights_only=False)
            self.model.load_state_dict(state["model"])
            torch.set_rng_state(state["torch_rng"])
            log.info("resuming at step %d (stage %d)", state["step"], state["stage"])
        elif self.cfg.teacher:
            self._label_with_teacher()
        step = state["step"] if state else 0
        first_stage = state["stage"] if state else 0
        total = sum(self.steps)
        if self.dist.is_main:  # rows past the resumed state are written again
            train_log.trim_rows(self.run_dir / "log.csv", train_log.LOG_FIELDS, step)
            train_log.trim_rows(self.run_dir / "metrics.csv", train_log.METRIC_FIELDS, step)
        bar = None
        if self.progress and self.dist.is_main:
            from slamseg.sequences.progress import progress_bar

            bar = progress_bar(total=total, initial=step, desc="train", unit="step", dynamic_ncols=True)
        done_this_call = 0
        loss_fn = JointLoss(self.cfg.loss_weights)
        reduce = make_reducer(self.dist)
        model = self.model
        net = wrap_model(model, self.device, self.dist, self.cfg.optim.freeze_bn)
        for si in range(first_stage, len(self.cfg.stages)):
            stage = self.cfg.stages[si]
            stage_end = sum(self.steps[: si + 1])
            if step >= stage_end:
                continue
            entries = [Entry(d, self.sequences[d], self.cfg.data[d].label_offset) for d in stage.data]
            dataset = TrainingSet(entries, self.cfg.augment, self.mean, self.std, tuple(model.tasks))
            updater = Updater(model, self.cfg.optim, stage)
            batch_index = 0
            if state is not None and state["stage"] == si and state["updater"] is not None:
                updater.load_state_dict(state["updater"])
                batch_index = state["batch"]
            sampler = ShardedBatchSampler(len(dataset), self.cfg.batch_size, self.dist,
                                          seed=self.cfg.seed * 1000 + si, start_batch=batch_index)
            loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=_collate, num_workers=0)
            self._train_mode()
            window: list[dict[str, float]] = []
            t0 = time.perf_counter()
            for batch in loader:
                batch = {k: v.to(self.device, self.dtype if v.is_floating_point() else v.dtype, non_blocking=True)
                         for k, v in batch.items()}
                outputs = net(batch["image"])
                loss, parts = loss_fn(outputs, batch, reduce=reduce, world_size=self.dist.world_size)
                if not math.isfinite(float(loss.detach())):
                    raise TrainingError(f"loss became {float(loss)} at step {step} (stage {stage.name!r}); "
                                        "lower optim.lr")
                loss.backward()
                batch_index += 1
                counts = torch.stack([batch[f"has_{t}"].sum() for t in model.tasks]).float()
                counts = reduce(counts, "sum")
                stepped = updater.after_backward({t: int(c) for t, c in zip(model.tasks, counts.tolist())},
                                                 self.cfg.batch_size)
                # each process holds world_size x its share of the total: the sum over processes / world_size is
                # the loss of the global batch (what one process logs)
                total_loss = float(reduce(loss.detach(), "sum")) / self.dist.world_size
                window.append({"loss": total_loss, **parts})
                if not stepped:
                    continue
                step += 1
                done_this_call += 1
                if step % self.cfg.log_every == 0 or step == stage_end:
                    row = self._log_row(step, stage.name, window, updater, time.perf_counter() - t0)
                    window = []
                    if bar is not None:
                        bar.set_postfix({k: f"{v:.3f}" for k, v in row.items() if k.startswith("loss") and v == v})
                if bar is not None:
                    bar.update(1)
                evaluated = None  # a checkpoint carries the metrics of its own step only, never older ones
                if self.cfg.eval.every and step % self.cfg.eval.every == 0 and step != total:
                    evaluated = self._evaluate_and_record(step)
                    self._train_mode()  # evaluate() restored train mode on every layer: BatchNorm too
                if step % self.cfg.checkpoint_every == 0 or step == stage_end:
                    self._save(step, si if step < stage_end else si + 1, 0 if step == stage_end else batch_index,
                               updater, evaluated or None)
                if step >= stage_end or (stop_after is not None and done_this_call >= stop_after):
                    break
            state = None
            if stop_after is not None and done_this_call >= stop_after and step < total:
                if bar is not None:
                    bar.close()
                return {"step": step, "interrupted": True}
        if bar is not None:
            bar.close()
        metrics = self._evaluate_and_record(step) if self.cfg.eval.data else {}
        if self.dist.is_main:
            self._finish(step, metrics)
        barrier(self.dist)
        return {"step": step, "metrics": metrics}

    # ----------------------------------------------------------------------------------------- outputs
    def _log_row(self, step: int, stage: str, window: list[dict[str, float]], updater: Updater,
                 seconds: float) -> dict[str, float]:
        row = train_log.loss_row(step, stage, window, updater.lrs().get("encoder", float("nan")), seconds)
        if self.dist.is_main:
            train_log.append_rows(self.run_dir / "log.csv", train_log.LOG_FIELDS, [row])
        return row

    def _train_mode(self) -> None:
        """Training mode, with BatchNorm statistics frozen when ``optim.freeze_bn`` (after any ``model.train()``,
        which unfreezes them)."""
        self.model.train()
        if self.cfg.optim.freeze_bn:
            freeze_batchnorm(self.model)

    def _evaluate_and_record(self, step: int) -> dict[str, Any]:
        """:meth:`evaluate`, and its rows appended to metrics.csv (process 0)."""
        metrics = self.evaluate()
        if self.dist.is_main:
            train_log.record_metrics(self.run_dir / "metrics.csv", step, metrics)
        return metrics

    def evaluate(self) -> dict[str, Any]:
        """Metrics of the current model on ``config.eval.data`` (process 0 computes; others get {})."""
        from slamseg.networks.evaluate import evaluate_sequence

        results: dict[str, Any] = {}
        if self.dist.is_main:
            for name in self.cfg.eval.data:
                src = self.cfg.data[name]
                results[name] = evaluate_sequence(
                    self.model, self.sequences[name], mean=self.mean, std=self.std, label_offset=src.label_offset,
                    nyu_crop=self.cfg.eval.nyu_crop, max_depth=self.cfg.eval.max_depth,
                    batch_size=self.cfg.eval.batch_size, device=self.device)
        barrier(self.dist)
        return results

    def _finish(self, step: int, metrics: dict[str, Any]) -> None:
        from slamseg.networks.checkpoints import export_half, save_checkpoint
        from slamseg.networks.evaluate import markdown_tables
        from slamseg.sequences.atomic import atomic_write_json, atomic_write_text, strict_json_data

        training = strict_json_data(asdict(self.cfg))
        save_checkpoint(self.run_dir / "model.pt", self.model, training=training,
                        metrics=strict_json_data(metrics) or None)
        atomic_write_json(self.run_dir / "metrics.json", {"steps": step, "eval": metrics})
        if metrics:
            atomic_write_text(self.run_dir / "eval.md", markdown_tables(metrics, self.model.arch))
        train_log.plot_log(self.run_dir / "log.csv", self.run_dir / "losses.png")
        train_log.plot_metrics(self.run_dir / "metrics.csv", self.run_dir / "metrics.png")
        if self.cfg.export:
            export_half(self.model, self.cfg.export, training=training, metrics=strict_json_data(metrics))
