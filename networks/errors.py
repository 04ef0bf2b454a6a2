"""Errors of the networks package (subclasses of the project's base error)."""

from __future__ import annotations

from slamseg.sequences.errors import SlamSegError


class NetworkError(SlamSegError):
    """A model cannot be built or run as asked (unknown architecture, bad input tensor...)."""


class CheckpointError(NetworkError):
    """A checkpoint file is unreadable or does not fit the architecture it is loaded into."""


class TrainingError(NetworkError):
    """A training or evaluation job was configured in a way the data or model cannot satisfy."""
