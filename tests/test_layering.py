"""DESIGN.md's dependency direction, enforced on the source: every import statement of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOWER = {"sequences": "slamseg.sequences", "networks": "slamseg.networks", "fusion": "slamseg.fusion"}

# package folder -> (forbidden third-party roots, slamseg packages it may import)
RULES = {
    "sequences": ({"torch", "open3d"}, {"slamseg.sequences"}),
    "networks": ({"open3d"}, {"slamseg.sequences", "slamseg.networks"}),
    "fusion": ({"torch"}, {"slamseg.sequences", "slamseg.fusion"}),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _violations(folder: str) -> list[str]:
    forbidden, allowed = RULES[folder]
    bad = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        rel = path.relative_to(ROOT)
        # DESIGN.md: the synthetic generator is the one place in sequences that may use open3d.
        third_party = forbidden - ({"open3d"} if "synthetic" in rel.parts else set())
        for lineno, name in _imports(path):
            root = name.split(".")[0]
            if root in third_party:
                bad.append(f"{rel}:{lineno} imports {name}")
            if root == "slamseg" and not any(name == a or name.startswith(a + ".") for a in allowed):
                bad.append(f"{rel}:{lineno} imports {name} (only {sorted(allowed)} allowed)")
    return bad


@pytest.mark.parametrize("folder", sorted(RULES))
def test_dependency_direction(folder: str) -> None:
    assert _violations(folder) == []


def test_checker_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule must be able to fail: a fusion module importing torch is reported."""
    (tmp_path / "fusion").mkdir()
    (tmp_path / "fusion" / "bad.py").write_text("import numpy\nfrom torch import nn\nimport slamseg.cli\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert _violations("fusion") == [
        "fusion/bad.py:2 imports torch",
        "fusion/bad.py:3 imports slamseg.cli (only ['slamseg.fusion', 'slamseg.sequences'] allowed)",
    ]
