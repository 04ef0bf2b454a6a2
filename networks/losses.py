"""Training losses of the joint network (paper eq. 1): cross-entropy, inverse Huber (berHu), negative cosine.

Conventions of the training batch (see :mod:`slamseg.networks.datasets`):
- ``segm`` target: N x H x W int64 *channel* ids (label id c -> channel c - 1 + offset), ``IGNORE`` (255) for
  void and unlabelled pixels;
- ``depth`` target: N x H x W float32 metres, 0 = invalid;
- ``normals`` target: N x 3 x H x W float32, zero vectors = invalid;
- ``has_<task>``: N bool, whether frame n carries an annotation of the task. Frames without one contribute
  nothing to that task's loss, whatever their target tensor holds.

Resolution: predictions (1/4 of the input) are bilinearly *upsampled to the target size* before the loss, not
targets downsampled. Downsampling a label map or a depth map with holes needs a choice (nearest sampling drops
3/4 of the annotated pixels, averaging mixes invalid zeros and class ids); upsampling keeps every annotated pixel
and is what the Light-Weight RefineNet training code does. The extra cost is small next to the network.

Every loss is split into a *sum* and a *count* (valid pixels), so that data-parallel training can add counts
over processes before dividing (see :class:`JointLoss`): a pixel-weighted mean over the global batch, the same
number a single process computes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812 - the universal alias

IGNORE = 255
BERHU_FRACTION = 0.2  # c = 0.2 * max |error| over the batch (paper eq. 1)


def upsample_to(pred: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of N x C x h x w predictions to ``size`` = (H, W) (no-op when already that size)."""
    if tuple(pred.shape[-2:]) == tuple(size):
        return pred
    return F.interpolate(pred, size=size, mode="bilinear", align_corners=False)


def _frame_mask(has: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
    if has is None:
        return torch.ones(n, dtype=torch.bool, device=device)
    return has.to(device=device, dtype=torch.bool).view(n)


def cross_entropy_sum(
    logits: torch.Tensor, target: torch.Tensor, has: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax cross-entropy summed over annotated pixels.

    Args:
        logits: N x K x h x w class scores (upsampled to the target size here).
        target: N x H x W int64 channel ids in 0..K-1, ``IGNORE`` elsewhere.
        has: N bool; frames with False contribute nothing. None = every frame.
    Returns:
        (sum of -log p(target) over counted pixels, number of counted pixels) as 0-d tensors.
    """
    n = logits.shape[0]
    logits = upsample_to(logits, tuple(target.shape[-2:]))
    target = target.long().clone()
    target[~_frame_mask(has, n, target.device)] = IGNORE
    nll = F.cross_entropy(logits, target, ignore_index=IGNORE, reduction="sum")
    count = (target != IGNORE).sum()
    return nll, count.to(logits.dtype)


def _depth_errors(
    pred: torch.Tensor, target: torch.Tensor, has: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Upsampled prediction minus ground truth, and the mask of counted pixels (gt > 0, frame annotated)."""
    n = pred.shape[0]
    pred = upsample_to(pred, tuple(target.shape[-2:]))[:, 0]
    valid = (target > 0) & _frame_mask(has, n, target.device).view(n, 1, 1)
    return pred - target, valid


def berhu_threshold(pred: torch.Tensor, target: torch.Tensor, has: torch.Tensor | None = None) -> torch.Tensor:
    """c = 0.2 * max |pred - gt| over the counted pixels of the batch (0 when there are none); no gradient.

    Shapes as in :func:`berhu_sum`.
    """
    with torch.no_grad():
        err, valid = _depth_errors(pred, target, has)
        if not bool(valid.any()):
            return torch.zeros((), dtype=pred.dtype, device=pred.device)
        return BERHU_FRACTION * err[valid].abs().max()


def berhu_sum(
    pred: torch.Tensor, target: torch.Tensor, c: torch.Tensor | float, has: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse Huber loss summed over valid pixels: |e| where |e| <= c, (e^2 + c^2) / (2c) elsewhere.

    Args:
        pred: N x 1 x h x w predicted depth (metres).
        target: N x H x W ground-truth depth (metres, 0 = invalid).
        c: the threshold (metres), see :func:`berhu_threshold`; c = 0 gives the L1 loss.
        has: N bool frame mask.
    Returns:
        (loss sum, number of counted pixels).
    """
    err, valid = _depth_errors(pred, target, has)
    e = err[valid].abs()
    c = torch.as_tensor(c, dtype=e.dtype, device=e.device)
    if float(c) <= 0:
        loss = e
    else:
        loss = torch.where(e <= c, e, (e * e + c * c) / (2 * c))
    return loss.sum(), valid.sum().to(pred.dtype)


def normals_sum(
    pred: torch.Tensor, target: torch.Tensor, has: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative cosine between normalised predicted and ground-truth normals, summed over valid pixels.

    Args:
        pred: N x 3 x h x w unnormalised normals.
        target: N x 3 x H x W normals; pixels whose vector has zero length are invalid.
        has: N bool frame mask.
    Returns:
        (sum of -cos, number of counted pixels); a perfect prediction gives -count.
    """
    n = pred.shape[0]
    pred = upsample_to(pred, tuple(target.shape[-2:]))
    valid = (target.norm(dim=1) > 1e-6) & _frame_mask(has, n, target.device).view(n, 1, 1)
    cos = (F.normalize(pred, dim=1, eps=1e-8) * F.normalize(target, dim=1, eps=1e-8)).sum(dim=1)
    return -cos[valid].sum(), valid.sum().to(pred.dtype)


def _mean(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    # No counted pixel: a zero that stays connected to the graph (every parameter still gets a (zero) gradient,
    # which DistributedDataParallel requires).
    return total / count if float(count) > 0 else total * 0.0


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, has: torch.Tensor | None = None) -> torch.Tensor:
    """Mean cross-entropy over annotated pixels (0 when there are none). Shapes as in :func:`cross_entropy_sum`."""
    return _mean(*cross_entropy_sum(logits, target, has))


def berhu_loss(pred: torch.Tensor, target: torch.Tensor, has: torch.Tensor | None = None) -> torch.Tensor:
    """Mean berHu loss over valid pixels with the batch threshold c = 0.2 max |e|. Shapes as in :func:`berhu_sum`."""
    return _mean(*berhu_sum(pred, target, berhu_threshold(pred, target, has), has))


def normals_loss(pred: torch.Tensor, target: torch.Tensor, has: torch.Tensor | None = None) -> torch.Tensor:
    """Mean negative cosine over valid pixels (-1 = perfect). Shapes as in :func:`normals_sum`."""
    return _mean(*normals_sum(pred, target, has))


# (sum tensor of per-process values, "sum" | "max") -> the value over all processes; identity in one process.
Reducer = Callable[[torch.Tensor, str], torch.Tensor]


def _no_reduce(value: torch.Tensor, op: str) -> torch.Tensor:
    return value


@dataclass
class JointLoss:
    """Weighted sum of the task losses, ``sum_t w_t L_t`` (paper eq. 1 with w = (lambda, 1 - lambda)).

    Args:
        weights: task -> weight; tasks absent from the dict get 1 / (number of tasks), so two tasks get the
            paper's lambda = 0.5.

    ``__call__(outputs, batch, reduce=None, world_size=1)`` returns (total loss, per-task mean losses as floats
    for logging; NaN for a task with no counted pixel). ``reduce`` adds pixel counts and takes the berHu maximum
    over processes; the total is scaled by ``world_size`` because DistributedDataParallel averages gradients,
    so that the update equals the single-process update of the global batch.
    """

    weights: Mapping[str, float]

    def weight(self, task: str, tasks: tuple[str, ...]) -> float:
        return float(self.weights.get(task, 1.0 / len(tasks)))

    def __call__(
        self,
        outputs: Mapping[str, torch.Tensor],
        batch: Mapping[str, torch.Tensor],
        reduce: Reducer | None = None,
        world_size: int = 1,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        reduce = reduce or _no_reduce
        tasks = tuple(outputs)
        total = None
        logged: dict[str, float] = {}
        for task in tasks:
            pred, has = outputs[task], batch.get(f"has_{task}")
            if task == "segm":
                s, n = cross_entropy_sum(pred, batch["segm"], has)
            elif task == "depth":
                c = reduce(berhu_threshold(pred, batch["depth"], has), "max")
                s, n = berhu_sum(pred, batch["depth"], c, has)
            elif task == "normals":
                s, n = normals_sum(pred, batch["normals"], has)
            else:  # pragma: no cover - the model validates its tasks
                raise KeyError(task)
            n_all = reduce(n.detach().clone(), "sum")
            mean = _mean(s, n_all) * world_size
            with torch.no_grad():
                s_all = reduce(s.detach().clone(), "sum")
                logged[task] = float(s_all / n_all) if float(n_all) > 0 else float("nan")
            term = self.weight(task, tasks) * mean
            total = term if total is None else total + term
        assert total is not None
        return total, logged
