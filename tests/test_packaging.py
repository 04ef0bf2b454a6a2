"""The wheel holds every file of the package folders: modules, bundled configs (configs/ablation/ too), the network
weights and the label tables. Built from a copy of the source folders (~2 s: no isolation, no dependency
download), so the build writes nothing into the working tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# folder in the repository -> its place in the wheel (setup.py's FOLDERS)
FOLDERS = {"slamseg": "slamseg", "sequences": "slamseg/sequences", "networks": "slamseg/networks",
           "fusion": "slamseg/fusion", "configs": "slamseg/configs"}
TOP_FILES = ("setup.py", "pyproject.toml", "README.md")


def _source_files() -> dict[str, Path]:
    """wheel name -> source file, for every file of the package folders but caches."""
    files = {}
    for folder, target in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[f"{target}/{path.relative_to(ROOT / folder).as_posix()}"] = path
    return files


@pytest.mark.slow
def test_wheel_holds_every_package_file(tmp_path: Path) -> None:
    pytest.importorskip("build")
    source = tmp_path / "src"
    source.mkdir()
    for name in TOP_FILES:
        shutil.copy2(ROOT / name, source / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path),
                          str(source)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    (wheel,) = tmp_path.glob("slamseg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _source_files()
    assert sorted(set(expected) - names) == []
    for must in ("slamseg/configs/ablation/asym_baseline.yaml", "slamseg/networks/weights/synthetic_nyu40.pt",
                 "slamseg/networks/weights/synthetic_nyu40.json", "slamseg/sequences/data/nyu40_to_13.json"):
        assert must in names
