"""Data-parallel training helpers: process-group set-up from torchrun's environment, reductions, and the
sampler that shards each *global* batch over the processes.

One process (``world_size == 1``) uses the same code paths with identity reductions, which is what makes a
``torchrun --nproc_per_node N`` run reproduce the single-process run for the same global batch: the same
global batches in the same order, the same augmentation per sample, pixel-count-weighted losses summed over
processes (see :class:`slamseg.networks.losses.JointLoss`) and frozen BatchNorm statistics. The updates are
equal up to the order of floating-point sums (in float64 the parameters agree to ~1e-12 of their update; in
float32 to one rounding of the stored parameter, which is a sizeable fraction of an update at lr 1e-3).

BatchNorm that is *not* frozen (``optim.freeze_bn: false``) normalises with batch statistics: on CUDA the layers
become :class:`torch.nn.SyncBatchNorm` (statistics of the global batch, so the equality holds). torch has no
SyncBatchNorm on CPU (gloo): there each process normalises with the statistics of its own share of the batch,
and the run differs from the single-process run; :func:`wrap_model` warns.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size of this process (0 / 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints, logs and reports."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process (torchrun)."""
        return self.world_size > 1


def init_from_env(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT); gloo on CPU,
    nccl on CUDA. Without those variables: a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    log.info("process %d of %d (%s)", info.rank, info.world_size, dist.get_backend())
    return info


def shutdown(info: DistInfo) -> None:
    """Leave the process group (no-op for one process)."""
    if info.active and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op for one process)."""
    if info.active:
        dist.barrier()


def make_reducer(info: DistInfo) -> Callable[[torch.Tensor, str], torch.Tensor]:
    """``reduce(tensor, "sum" | "max")`` over processes (identity for one process); returns a new tensor."""
    if not info.active:
        return lambda value, op: value

    def reduce(value: torch.Tensor, op: str) -> torch.Tensor:
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
        return value

    return reduce


def _has_batchnorm(model: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def sync_batchnorm(model: torch.nn.Module, device: torch.device, info: DistInfo, freeze_bn: bool) -> None:
    """Make BatchNorm that trains its statistics (``freeze_bn`` False) use the global batch under DDP.

    CUDA: the layers become SyncBatchNorm, in place (the parameter objects, hence the optimisers' groups, stay
    the same). CPU: torch's SyncBatchNorm refuses CPU tensors, so a warning says that each process normalises
    with its own share of the batch and the run will differ from the single-process run. Nothing to do for one
    process or frozen statistics.
    """
    if not info.active or freeze_bn or not _has_batchnorm(model):
        return
    if device.type == "cuda":
        converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        assert converted is model  # only a bare BatchNorm module would be replaced, never a network
        log.info("BatchNorm layers converted to SyncBatchNorm (statistics of the global batch)")
    else:
        log.warning("optim.freeze_bn is false on %s: torch has no SyncBatchNorm there, so each of the %d processes "
                    "normalises with the statistics of its own part of the batch; results will differ from a "
                    "single-process run (freeze BatchNorm, or train on CUDA, for equal results)",
                    device.type, info.world_size)


def wrap_model(model: torch.nn.Module, device: torch.device, info: DistInfo,
               freeze_bn: bool) -> torch.nn.Module:
    """The module the training loop calls: ``model`` itself for one process, else a DistributedDataParallel
    (after :func:`sync_batchnorm`)."""
    if not info.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    sync_batchnorm(model, device, info, freeze_bn)
    # Buffers are not re-broadcast at every forward: frozen statistics never change, and synced ones are equal.
    # Newer torch (2.13 here) names that switch forward_sync_buffers and warns at the old name; it still broadcasts
    # the buffers once at the start, which changes nothing: every process built the model from the same seed.
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters:
        buffers = {"forward_sync_buffers": False}
    else:  # pragma: no cover - older torch
        buffers = {"broadcast_buffers": False}
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   **buffers)


class ShardedBatchSampler:
    """Infinite stream of this process's share of each global batch, as (dataset index, augmentation seed).

    Each epoch is a permutation of the dataset drawn from (seed, epoch); global batch k is positions
    [kB, (k+1)B) of the epoch's permutation (an incomplete last batch is dropped); process r of P takes the
    r-th contiguous B/P of it. Like torch's DistributedSampler the shards are disjoint and cover the batch,
    but the global batch is identical for any P, and ``start_batch`` resumes mid-epoch exactly.
    """

    def __init__(self, n: int, global_batch: int, info: DistInfo, seed: int, start_batch: int = 0) -> None:
        if n < global_batch:
            raise ValueError(f"{n} frames cannot fill a batch of {global_batch}")
        self.n, self.global_batch, self.info, self.seed = n, global_batch, info, seed
        self.local = global_batch // info.world_size
        self.start_batch = start_batch
        self.per_epoch = n // global_batch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        k = self.start_batch
        while True:
            epoch, j = divmod(k, self.per_epoch)
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            lo = j * self.global_batch + self.info.rank * self.local
            batch = perm[lo: lo + self.local]
            yield [(int(i), int(np.random.SeedSequence([self.seed, epoch, int(i)]).generate_state(1)[0]))
                   for i in batch]
            k += 1
