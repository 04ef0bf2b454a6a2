"""What an interrupted ``reconstruct`` keeps to continue (``--resume``), and the checks that it is the same run:
the same settings (config.yaml) and the same frames (a fingerprint of the sequence)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slamseg.errors import ConfigError
from slamseg.pipelines.reconstruct_config import ReconstructConfig
from slamseg.runs import RunFolder
from slamseg.sequences import Sequence


@dataclass
class ReconstructionState:
    """Everything a resumed run needs besides the map itself (JSON-serialisable).

    Attributes:
        next_position: position in the (sliced) sequence of the next frame to process.
        indices, timestamps, poses: per integrated frame: dataset index, time (s), 4x4 camera-to-world.
        failures: dataset indices of frames not fused because tracking rejected them (predicted or lost).
        records: every processed frame's :class:`~slamseg.slam.FrameRecord` as a dict (pose, status, reason).
        tracking_ms: milliseconds of tracking per frame.
        timer: accumulated stage timings.
        map_file, evaluation_file: the map and evaluation snapshots this state belongs to (relative to the run
            folder); written before the state, under names of their own, so that the state on disk always
            names complete files. keyframes_file likewise.
    """

    next_position: int = 0
    indices: list[int] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    poses: list[list[list[float]]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    tracking_ms: list[float] = field(default_factory=list)
    timer: dict[str, Any] = field(default_factory=dict)
    map_file: str = ""
    evaluation_file: str = ""
    keyframes_file: str = ""
    fingerprint: dict[str, Any] = field(default_factory=dict)



def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def check_resume_matches(run: RunFolder, cfg: ReconstructConfig) -> None:
    """Refuse to continue an interrupted run with other settings than it was started with (one line naming them)."""
    from slamseg.config import parse_yaml, to_dict

    saved = run.path / "config.yaml"
    if not run.resumed or not saved.is_file():
        return
    saved_data = parse_yaml(saved.read_text()) or {}
    saved_data.pop("command", None)  # the file's schema tag, not a setting
    before = _flatten(saved_data)
    now = _flatten(to_dict(cfg))
    differ = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    if differ:
        shown = ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in differ[:4])
        more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
        raise ConfigError(f"{run.path}: cannot resume with other settings than the run was started with ({shown}"
                          f"{more}); use the same options, or start a new run")


def sequence_fingerprint(sequence: Sequence, camera: Any) -> dict[str, Any]:
    """What identifies the frames of a run: sequence name and length, first and last stamps, camera."""
    first, last = sequence[0], sequence[len(sequence) - 1]
    return {"name": sequence.name, "frames": len(sequence), "first_stamp": round(float(first.timestamp), 6),
            "last_stamp": round(float(last.timestamp), 6), "camera": camera.to_dict()}
