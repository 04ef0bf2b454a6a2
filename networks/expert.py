"""Expert labelling (paper Sect. III-C): a teacher network's hard labels fill the frames that lack labels.

The teacher is any slamseg / released checkpoint or a TorchScript module whose forward returns either the
joint network's dict (``"segm"`` logits N x K x h x w, optionally ``"depth"``) or a logits tensor. Hard labels
(argmax; channel c -> label id c + 1) are stored, not logits, as the paper does (logits of 40 classes would
need ~100x the disk). Files are written atomically and existing ones are skipped, so labelling resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from slamseg.networks.datasets import expert_depth_path, expert_label_path
from slamseg.networks.distributed import DistInfo
from slamseg.networks.errors import CheckpointError
from slamseg.networks.predictor import Predictor
from slamseg.sequences.atomic import atomic_path
from slamseg.sequences.frame import Frame
from slamseg.sequences.sequence import Sequence
from slamseg.sequences.writers import MM_DEPTH_SCALE, encode_depth

log = logging.getLogger(__name__)

def load_teacher(path: str | Path, device: torch.device | str = "cpu") -> Predictor:
    """A slamseg/released checkpoint or a TorchScript file as a teacher: a :class:`Predictor` on ``device``, so that
    its labels and depth come out of the same pre- and post-processing as every other prediction."""
    from slamseg.networks.checkpoints import load_model

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: teacher checkpoint not found")
    try:
        model = load_model(path, map_location=device)
    except CheckpointError as first:
        try:
            model = torch.jit.load(str(path), map_location=device)
        except Exception:  # not TorchScript either: report the checkpoint reader's reason
            raise CheckpointError(f"{path}: neither a slamseg/released checkpoint nor TorchScript ({first})") from None
    return Predictor(model.float(), device=device)


def write_label_png(path: Path, labels: np.ndarray) -> None:
    """H x W label ids as an 8-bit PNG (16-bit when an id exceeds 255), atomically."""
    import imageio.v3 as iio

    dtype = np.uint8 if labels.max(initial=0) <= 255 else np.uint16
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, labels.astype(dtype))


@torch.no_grad()
def label_sequence(
    teacher: Predictor,
    seq: Sequence,
    out_dir: str | Path,
    *,
    positions: list[int] | None = None,
    batch_size: int = 4,
    depth: bool = False,
    shard: DistInfo | None = None,
    progress: bool = False,
    keep_own_labels: bool = True,
) -> int:
    """Write the teacher's hard labels (and optionally depth) for frames of ``seq``.

    Args:
        teacher: a Predictor (see :func:`load_teacher`); its labels (argmax of the released post-processing)
            are stored.
        positions: positions in ``seq`` to label (default: all). Files are named by ``frame.index``
            (``expert_label_path``), which is how training finds them.
        depth: also write predicted depth as 16-bit PNG millimetres under ``out_dir/depth/`` (0 = invalid, as
            every depth writer of slamseg stores: beyond 65.535 m too).
        shard: label only every world_size-th frame from rank (data-parallel labelling); None = all.
        keep_own_labels: skip frames that already carry labels (``slamseg label`` fills gaps only).
    Returns:
        Number of frames written (files that already existed are skipped: resumable).
    """
    out_dir = Path(out_dir)
    positions = list(range(len(seq))) if positions is None else list(positions)
    if shard is not None and shard.world_size > 1:
        positions = positions[shard.rank:: shard.world_size]
    bar = None
    if progress:
        from slamseg.sequences.progress import progress_bar

        bar = progress_bar(total=len(positions), desc="labelling", unit="frame")

    def todo() -> Iterator[Frame]:
        for pos in positions:
            frame = seq[pos]
            if bar is not None:
                bar.update(1)
            if (keep_own_labels and frame.labels is not None) or expert_label_path(out_dir, frame.index).exists():
                continue
            yield frame

    written = 0
    for frame, prediction in teacher.predict_frames(todo(), batch_size):
        write_label_png(expert_label_path(out_dir, frame.index), prediction.labels)
        if depth and prediction.depth is not None:
            write_label_png(expert_depth_path(out_dir, frame.index), encode_depth(prediction.depth, MM_DEPTH_SCALE))
        written += 1
    if bar is not None:
        bar.close()
    log.info("expert labels: %d frames written to %s", written, out_dir)
    return written
