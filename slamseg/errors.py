"""All of slamseg's exceptions in one place for users: ``from slamseg.errors import SlamSegError``."""

from __future__ import annotations

from slamseg.fusion.errors import MapError, TrackingError
from slamseg.networks.errors import CheckpointError, NetworkError, TrainingError
from slamseg.sequences.errors import (
    LabelSetError,
    SequenceFormatError,
    SlamSegError,
    UnknownFormatError,
)


class ConfigError(SlamSegError):
    """A configuration file or command-line override is invalid; the message names the key."""


class RunFolderError(SlamSegError):
    """A run folder cannot be created, or an existing one cannot be resumed."""


__all__ = [
    "CheckpointError",
    "ConfigError",
    "LabelSetError",
    "MapError",
    "NetworkError",
    "RunFolderError",
    "SequenceFormatError",
    "SlamSegError",
    "TrackingError",
    "TrainingError",
    "UnknownFormatError",
]
