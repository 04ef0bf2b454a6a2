"""The README's SLAM-core example runs as written (from the repository root, on the bundled real TUM frames)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_readme_slam_core_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("The same algorithm without files", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 10 and all(line.split()[1] in ("tracked", "recovered") for line in printed)
    assert len(namespace["result"].poses()) == 10
    assert len(namespace["mesh"].faces) > 1000
