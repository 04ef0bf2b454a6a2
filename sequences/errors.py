"""The project's exception hierarchy.

The base class lives here, in the lowest package, so that every package can raise it without importing
upwards (DESIGN.md: nothing below ``slamseg`` imports its top-level modules). ``slamseg.errors`` re-exports
everything for users.
"""

from __future__ import annotations


class SlamSegError(Exception):
    """Base of every error slamseg raises on purpose; the CLI prints these as one line and exits 2."""


class SequenceFormatError(SlamSegError):
    """A dataset file or folder is missing, malformed, or not what its format promises.

    The message names the file (and line, where there is one) and what was expected.
    """


class UnknownFormatError(SequenceFormatError):
    """A sequence format name is not registered, or auto-detection found no matching format."""


class LabelSetError(SlamSegError):
    """An unknown label set, a label id outside a set, or a mapping between sets that does not exist."""
