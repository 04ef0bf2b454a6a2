"""Progress bars are drawn on terminals only, unless forced (SLAMSEG_PROGRESS) or turned off (--no-progress)."""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Iterator

import pytest

from slamseg.sequences.progress import ENV, progress_bar, show_progress


@pytest.fixture
def terminal() -> Iterator[io.TextIOWrapper]:
    main_fd, tty_fd = pty.openpty()
    stream = open(tty_fd, "w")  # noqa: SIM115  (closed below, after the test)
    yield stream
    stream.close()
    os.close(main_fd)


def test_terminal_only(monkeypatch: pytest.MonkeyPatch, terminal: io.TextIOWrapper) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert show_progress(stream=terminal) is True
    assert show_progress(stream=io.StringIO()) is False
    assert show_progress(enabled=False, stream=terminal) is False
    assert progress_bar(range(3), file=io.StringIO()).disable
    bar = progress_bar(total=3, file=terminal)
    assert not bar.disable
    bar.close()


@pytest.mark.parametrize(("value", "on_pipe", "on_terminal"), [("1", True, True), ("always", True, True),
                                                               ("0", False, False), ("maybe", False, True)])
def test_environment_forces(monkeypatch: pytest.MonkeyPatch, terminal: io.TextIOWrapper, value: str, on_pipe: bool,
                            on_terminal: bool) -> None:
    monkeypatch.setenv(ENV, value)
    assert show_progress(stream=io.StringIO()) is on_pipe
    assert show_progress(stream=terminal) is on_terminal
    assert show_progress(enabled=False, stream=terminal) is False  # --no-progress always wins


def test_closed_stream_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    stream = io.StringIO()
    stream.close()
    assert show_progress(stream=stream) is False
