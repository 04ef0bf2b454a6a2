"""The CLI as a user runs it: a real subprocess of the installed console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slamseg import __version__


def slamseg(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("slamseg") or str(Path(sys.executable).parent / "slamseg")
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_version_and_help() -> None:
    out = slamseg("--version")
    assert out.returncode == 0 and __version__ in out.stdout
    out = slamseg("--help")
    assert out.returncode == 0
    for command in ("doctor", "config"):
        assert command in out.stdout


def test_every_subcommand_has_help() -> None:
    from slamseg.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in sub.choices:
        out = slamseg(name, "--help")
        assert out.returncode == 0, (name, out.stderr)
        assert "usage: slamseg" in out.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from slamseg.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'open3d') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_doctor_reports_versions() -> None:
    out = slamseg("doctor")
    assert out.returncode == 0, out.stderr
    for key in ("python", "torch", "open3d", "numpy", "cuda available", "torch threads"):
        assert key in out.stdout


def test_config_show_bundled() -> None:
    out = slamseg("config", "show", "demo")
    assert out.returncode == 0, out.stderr
    assert "voxel_size:" in out.stdout and "seed:" in out.stdout


def test_misspelt_key_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("command: demo\nvoxle_size: 0.02\n")
    out = slamseg("config", "show", str(cfg))
    assert out.returncode == 2
    assert "voxle_size" in out.stderr and "did you mean 'voxel_size'" in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("override", ["voxel_size=-1", "map=octree", "frames=x"])
def test_invalid_override_exits_2(override: str) -> None:
    out = slamseg("config", "show", "demo", "--set", override)
    assert out.returncode == 2 and override.split("=")[0] in out.stderr and "Traceback" not in out.stderr


def test_unknown_config_name_lists_bundled() -> None:
    out = slamseg("config", "show", "nope")
    assert out.returncode == 2 and "demo" in out.stderr
