"""When progress bars are drawn: the one rule every tqdm bar of slamseg follows.

A bar is drawn only when its stream (stderr, where tqdm writes) is a terminal: in logs, CI output and pipes its
carriage-return redraws are noise. ``SLAMSEG_PROGRESS=1`` forces bars anyway, ``SLAMSEG_PROGRESS=0`` hides them
everywhere; a caller's ``enabled=False`` (``--no-progress``) always wins. Lives in the lowest package so that
sequences, networks, fusion and the application share it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import IO, Any

ENV = "SLAMSEG_PROGRESS"
_ON, _OFF = {"1", "true", "yes", "on", "always"}, {"0", "false", "no", "off", "never"}


def show_progress(enabled: bool = True, stream: IO[str] | None = None) -> bool:
    """Whether to draw a bar on ``stream`` (default ``sys.stderr``).

    False when ``enabled`` is False; else as ``SLAMSEG_PROGRESS`` says when it is set (1/true/yes/on/always or
    0/false/no/off/never; other values are ignored); else whether ``stream`` is a terminal.
    """
    if not enabled:
        return False
    forced = os.environ.get(ENV, "").strip().lower()
    if forced in _ON:
        return True
    if forced in _OFF:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool = True, **kwargs: Any) -> Any:
    """A ``tqdm`` bar (same arguments), disabled unless :func:`show_progress` says to draw it on its ``file``."""
    from tqdm import tqdm

    return tqdm(iterable, disable=not show_progress(enabled, kwargs.get("file")), **kwargs)
