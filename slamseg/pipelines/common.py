"""Pieces every pipeline uses: opening the frames, loading the network, batching predictions, timing."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from slamseg.errors import CheckpointError, SequenceFormatError
from slamseg.pipelines.options import NetworkOptions, SequenceSource
from slamseg.sequences import Sequence, open_sequence

log = logging.getLogger(__name__)

def open_source(source: SequenceSource) -> Sequence:
    """Open ``source.path`` and slice it; errors name the path."""
    if not source.path:
        raise SequenceFormatError("no sequence given (sequence.path is empty)")
    seq = open_sequence(source.path, format=source.format, **source.options)
    view = seq.slice(source.start, source.stop, source.step)
    if len(view) == 0:
        raise SequenceFormatError(
            f"{source.path}: no frames in range start={source.start} stop={source.stop} step={source.step} "
            f"(the sequence has {len(seq)} frames)"
        )
    return view


def bundled_checkpoint() -> Path:
    """The file of the network weights shipped with slamseg (:data:`slamseg.networks.weights_meta.DEFAULT_WEIGHTS`,
    trained on synthetic rooms; see BENCHMARKS.md); CheckpointError when it is missing."""
    from slamseg.networks.weights_meta import DEFAULT_WEIGHTS

    return DEFAULT_WEIGHTS.path


def make_predictor(options: NetworkOptions, depth_edge_jump: float | None = None) -> Any:
    """A :class:`slamseg.networks.Predictor` for ``options`` (imports torch); ``depth_edge_jump``: see Predictor."""
    from slamseg.networks import Predictor

    checkpoint = Path(options.checkpoint) if options.checkpoint else bundled_checkpoint()
    if not checkpoint.exists():
        raise CheckpointError(f"{checkpoint}: checkpoint file not found")
    dtype = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16", "int8": "int8"}[options.precision]
    return Predictor(checkpoint, device=options.device, input_size=options.input_size, dtype=dtype,
                     num_threads=options.threads, class_slice=options.class_slice, depth_edge_jump=depth_edge_jump,
                     backend=options.backend)


class StageTimer:
    """Accumulates wall time per named stage (seconds) and counts, for metrics and reports."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)

    @contextmanager
    def stage(self, name: str, count: int = 1) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.total[name] += time.perf_counter() - t0
            self.count[name] += count

    def add(self, name: str, seconds: float, count: int = 1) -> None:
        """Account ``seconds`` measured elsewhere to stage ``name``."""
        self.total[name] += seconds
        self.count[name] += count

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage: total seconds, calls and milliseconds per call, and its share of all staged time."""
        all_time = sum(self.total.values()) or 1.0
        return {
            name: {
                "seconds": round(t, 4),
                "calls": self.count[name],
                "ms_per_call": round(1000 * t / max(self.count[name], 1), 3),
                "share": round(t / all_time, 4),
            }
            for name, t in self.total.items()
        }

    def to_state(self) -> dict[str, Any]:
        return {"total": dict(self.total), "count": dict(self.count)}

    def load_state(self, state: dict[str, Any]) -> None:
        self.total.update(state.get("total", {}))
        self.count.update(state.get("count", {}))
