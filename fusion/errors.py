"""Errors of the fusion package (subclasses of the project's base error)."""

from __future__ import annotations

from slamseg.sequences.errors import SlamSegError


class MapError(SlamSegError):
    """A map was given inconsistent inputs (shapes, class counts) or a saved map file is malformed."""


class TrackingError(SlamSegError):
    """Tracking could not estimate a pose (raised only where the caller asked for strict tracking)."""
