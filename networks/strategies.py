"""Optimisers and the asymmetric-annotation update strategies (the paper's Table III).

Parameters fall into groups (``encoder``: MobileNet-v2, ``decoder``: RefineNet blocks, one group per task head)
with their own learning-rate multipliers. The shared parameters (encoder + decoder) have one SGD optimiser, each
task head its own, so that a head can be stepped on its own schedule:

- ``expert`` and ``branch``: after every batch the shared parameters step, and each head steps if the batch
  held at least one example annotated for its task (a head never moves on frames that lack its annotation: no
  momentum or weight-decay drift either). With ``expert`` the missing labels were filled beforehand, so every
  head steps every time (the paper's method); ``branch`` is BlitzNet's rule (update frequency 1 / 1).
- ``accumulate`` (UberNet): gradients are summed over batches; a head steps once ``task_examples`` examples of
  its task were seen, the shared parameters once ``base_examples`` examples were seen (paper: 10 / 30). The
  accumulated gradient is divided by the number of batches that contributed, i.e. it is a mean.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from slamseg.networks.refinenet import HEAD_NAMES
from slamseg.networks.train_config import OptimOptions, Stage


def parameter_groups(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters by group: ``encoder``, ``decoder`` and one per task of ``model.tasks``."""
    groups: dict[str, list[nn.Parameter]] = {"encoder": [], "decoder": []}
    heads = {}
    for task in model.tasks:
        groups[task] = []
        heads[HEAD_NAMES[task]] = task
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        top = name.split(".")[0]
        if top.startswith("layer"):
            groups["encoder"].append(p)
        elif top.removeprefix("pre_") in heads:
            groups[heads[top.removeprefix("pre_")]].append(p)
        else:
            groups["decoder"].append(p)
    return groups


class Updater:
    """Owns the optimisers of one training stage and decides when each steps (see the module docstring).

    Args:
        model: the (unwrapped) JointNet.
        optim: SGD options; each group's lr is ``optim.lr * optim.lr_mult[group] * stage.lr_scale``.
        stage: the stage (strategy and accumulation sizes).
    """

    def __init__(self, model: nn.Module, optim: OptimOptions, stage: Stage) -> None:
        groups = parameter_groups(model)
        self.tasks: tuple[str, ...] = tuple(model.tasks)
        accumulate = stage.strategy == "accumulate"
        self.task_every = stage.task_examples if accumulate else 1
        self.base_every = stage.base_examples if accumulate else 1

        def optimizer(names: list[str]) -> torch.optim.Optimizer:
            param_groups = [
                {"params": groups[n], "lr": optim.lr * optim.lr_mult.get(n, 1.0) * stage.lr_scale, "name": n}
                for n in names if groups[n]
            ]
            if optim.algorithm == "adam":
                return torch.optim.Adam(param_groups, lr=optim.lr, weight_decay=optim.weight_decay)
            return torch.optim.SGD(param_groups, lr=optim.lr, momentum=optim.momentum,
                                   weight_decay=optim.weight_decay)

        self.optimizers: dict[str, torch.optim.Optimizer] = {"base": optimizer(["encoder", "decoder"])}
        for task in self.tasks:
            self.optimizers[task] = optimizer([task])
        self.seen = dict.fromkeys(self.optimizers, 0)  # examples since the last step
        self.batches = dict.fromkeys(self.optimizers, 0)  # batches that contributed since the last step

    def zero_grad(self) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)

    def _step(self, key: str) -> None:
        opt = self.optimizers[key]
        if self.batches[key] > 1:
            for group in opt.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.div_(self.batches[key])
        opt.step()
        opt.zero_grad(set_to_none=True)
        self.seen[key] = 0
        self.batches[key] = 0

    def after_backward(self, task_examples: dict[str, int], batch_examples: int) -> bool:
        """Account one backward pass and step what is due.

        Args:
            task_examples: task -> examples of the (global) batch annotated for it.
            batch_examples: examples in the (global) batch.
        Returns:
            True when the shared parameters stepped (one training *step*).
        """
        for task in self.tasks:
            n = int(task_examples.get(task, 0))
            if n > 0:
                self.seen[task] += n
                self.batches[task] += 1
            if self.seen[task] >= self.task_every:
                self._step(task)
            elif n == 0 and self.batches[task] == 0:
                # nothing accumulated for this head: drop the zero gradient rather than keep a stale buffer
                self.optimizers[task].zero_grad(set_to_none=True)
        self.seen["base"] += batch_examples
        self.batches["base"] += 1
        if self.seen["base"] >= self.base_every:
            self._step("base")
            return True
        return False

    def lrs(self) -> dict[str, float]:
        """Current learning rate of every parameter group by name."""
        return {g["name"]: g["lr"] for opt in self.optimizers.values() for g in opt.param_groups}

    def state_dict(self) -> dict[str, Any]:
        return {"optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "seen": dict(self.seen), "batches": dict(self.batches)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.seen.update(state["seen"])
        self.batches.update(state["batches"])


def freeze_batchnorm(model: nn.Module) -> None:
    """Put every BatchNorm layer in eval mode (running statistics frozen, as the paper and Light-Weight
    RefineNet train); their affine weights still learn. Call after ``model.train()``."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
