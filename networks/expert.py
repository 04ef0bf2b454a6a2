"""Expert labelling (paper Sect. III-C): a teacher network's hard labels fill the frames that lack labels.

The teacher is any slamseg / released checkpoint or a TorchScript module whose forward returns either the
joint network's dict (``"segm"`` logits N x K x h x w, optionally ``"depth"``) or a logits tensor. Hard labels
(argmax; channel c -> label id c + 1) are stored, not logits, as the paper does (logits of 40 classes would
need ~100x the disk). Files are written atomically and existing ones are skipped, so labelling resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from slamseg.networks.datasets import expert_depth_path, expert_label_path
from slamseg.networks.distributed import DistInfo
from slamseg.networks.errors import CheckpointError
from slamseg.networks.losses import upsample_to
from slamseg.sequences.atomic import atomic_path
from slamseg.sequences.sequence import Sequence

log = logging.getLogger(__name__)

Teacher = Callable[[torch.Tensor], dict[str, torch.Tensor]]


class _Wrapped(torch.nn.Module):
    """A teacher with the joint network's dict interface and its normalisation."""

    def __init__(self, module: torch.nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.module = module
        self.mean, self.std = tuple(mean), tuple(std)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.module(x)
        if isinstance(out, torch.Tensor):
            out = {"segm": out}
        if not isinstance(out, dict) or "segm" not in out:
            raise CheckpointError("teacher output must be a logits tensor or a dict with a 'segm' entry")
        return out


def load_teacher(path: str | Path, device: torch.device | str = "cpu") -> _Wrapped:
    """A slamseg/released checkpoint or TorchScript file as a teacher (eval mode, on ``device``)."""
    from slamseg.networks.checkpoints import load_model
    from slamseg.networks.registry import IMAGENET_MEAN, IMAGENET_STD

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: teacher checkpoint not found")
    try:
        model = load_model(path, map_location=device)
        model.float()
        return _Wrapped(model, model.meta["mean"], model.meta["std"]).eval()
    except CheckpointError as first:
        try:
            script = torch.jit.load(str(path), map_location=device)
        except Exception:  # not TorchScript either: report the checkpoint reader's reason
            raise CheckpointError(f"{path}: neither a slamseg/released checkpoint nor TorchScript ({first})") from None
        return _Wrapped(script, IMAGENET_MEAN, IMAGENET_STD).eval()


def write_label_png(path: Path, labels: np.ndarray) -> None:
    """H x W label ids as an 8-bit PNG (16-bit when an id exceeds 255), atomically."""
    import imageio.v3 as iio

    dtype = np.uint8 if labels.max(initial=0) <= 255 else np.uint16
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, labels.astype(dtype))


@torch.no_grad()
def label_sequence(
    teacher: _Wrapped,
    seq: Sequence,
    out_dir: str | Path,
    *,
    positions: list[int] | None = None,
    batch_size: int = 4,
    depth: bool = False,
    device: torch.device | str = "cpu",
    shard: DistInfo | None = None,
    progress: bool = False,
    keep_own_labels: bool = True,
) -> int:
    """Write the teacher's hard labels (and optionally depth) for frames of ``seq``.

    Args:
        positions: positions in ``seq`` to label (default: all). Files are named by ``frame.index``
            (``expert_label_path``), which is how training finds them.
        depth: also write predicted depth as 16-bit PNG millimetres under ``out_dir/depth/``.
        shard: label only every world_size-th frame from rank (data-parallel labelling); None = all.
        keep_own_labels: skip frames that already carry labels (``slamseg label`` fills gaps only).
    Returns:
        Number of frames written (files that already existed are skipped: resumable).
    """
    out_dir = Path(out_dir)
    positions = list(range(len(seq))) if positions is None else list(positions)
    if shard is not None and shard.world_size > 1:
        positions = positions[shard.rank:: shard.world_size]
    mean = torch.tensor(teacher.mean).view(1, 3, 1, 1)
    std = torch.tensor(teacher.std).view(1, 3, 1, 1)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(positions), desc="labelling", unit="frame")
    written = 0
    pending: list = []

    def flush() -> None:
        nonlocal written
        if not pending:
            return
        rgb = torch.from_numpy(np.stack([f.rgb for f in pending])).permute(0, 3, 1, 2).float() / 255.0
        out = teacher(((rgb - mean) / std).to(device))
        h, w = pending[0].rgb.shape[:2]
        labels = (upsample_to(out["segm"].float(), (h, w)).argmax(1) + 1).cpu().numpy()
        pred_depth = upsample_to(out["depth"].float(), (h, w))[:, 0].abs().cpu().numpy() if (
            depth and "depth" in out) else None
        for i, frame in enumerate(pending):
            write_label_png(expert_label_path(out_dir, frame.index), labels[i])
            if pred_depth is not None:
                mm = np.clip(np.round(pred_depth[i] * 1000.0), 0, 65535).astype(np.uint16)
                write_label_png(expert_depth_path(out_dir, frame.index), mm)
            written += 1
        pending.clear()

    for pos in positions:
        frame = seq[pos]
        if bar is not None:
            bar.update(1)
        if (keep_own_labels and frame.labels is not None) or expert_label_path(out_dir, frame.index).exists():
            continue
        if pending and (len(pending) >= batch_size or pending[0].rgb.shape != frame.rgb.shape):
            flush()
        pending.append(frame)
    flush()
    if bar is not None:
        bar.close()
    log.info("expert labels: %d frames written to %s", written, out_dir)
    return written
