"""Bad input of every class, as a user would give it, through the installed ``slamseg`` command.

Each row: the command line (with files the test makes), and a fragment the error must contain. Every row must exit
with status 2, print exactly one ``slamseg <command>: error:`` line naming the file or value, no traceback, and
leave nothing under the final output name (nor a ``.partial`` folder, except for commands that can resume).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SLAMSEG = shutil.which("slamseg") or str(Path(sys.executable).parent / "slamseg")
DATA = Path(__file__).resolve().parent.parent / "data"


def _image(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    Image.fromarray(np.zeros((size[1], size[0], 3), np.uint8)).save(path)
    return path


def _tum_copy(tmp: Path, edit: Callable[[Path], None]) -> Path:
    root = tmp / "tum"
    shutil.copytree(DATA / "tum_fr1_rpy", root)
    edit(root)
    return root


def _camera_json(fx: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        # written as text: JSON has no NaN, but a user's file can hold one (Python's json reads it)
        (root / "camera.json").write_text(f'{{"fx": {fx}, "fy": 517.3, "cx": 318.6, "cy": 255.3, "width": 640, '
                                          '"height": 480}')
    return edit


def _zero_depth(root: Path) -> None:
    for png in (root / "depth").glob("*.png"):
        Image.fromarray(np.zeros((480, 640), np.uint16)).save(png)


def _map(tmp: Path, content: bytes | None, suffix: str = ".npz") -> Path:
    run = tmp / "run"
    run.mkdir()
    if content is None:
        np.save(run / "map.npy", np.zeros(3))
        (run / "map.npy").rename(run / f"map{suffix}")
    else:
        (run / f"map{suffix}").write_bytes(content)
    return run


def _mislabelled_checkpoint(tmp: Path) -> Path:
    """The bundled model (40 classes) with metadata claiming the 13-class label set."""
    import torch

    blob = torch.load(DATA.parent.parent / "networks" / "weights" / "synthetic_nyu40.pt", weights_only=True)
    blob["slamseg"]["label_set"] = "nyu13"
    torch.save(blob, tmp / "mislabelled.pt")
    return tmp / "mislabelled.pt"


# (id, function(tmp) -> (argv, expected fragment of the error line))
CASES: list[tuple[str, Callable[[Path], tuple[list[str], str]]]] = [
    ("camera-nan-fx", lambda t: (["reconstruct", str(_tum_copy(t, _camera_json("NaN"))), "--depth", "sensor",
                                  "--labels", "none"], "camera intrinsics must be finite")),
    ("camera-negative-fx", lambda t: (["reconstruct", str(_tum_copy(t, _camera_json("-517"))), "--depth", "sensor",
                                       "--labels", "none"], "focal lengths must be positive")),
    ("all-zero-depth", lambda t: (["reconstruct", str(_tum_copy(t, _zero_depth)), "--depth", "sensor",
                                   "--labels", "none", "--tracking", "keyframe"], "without usable depth")),
    ("voxel-size-1000", lambda t: (["reconstruct", str(DATA / "tum_fr1_rpy"), "--depth", "sensor", "--labels",
                                    "none", "--voxel-size", "1000"], "voxel_size must be in (0, 1]")),
    ("empty-map", lambda t: (["export", str(_map(t, b""))], "map.npz")),
    ("truncated-map", lambda t: (["export", str(_map(t, b"PK\x03\x04" + bytes(40)))], "map.npz")),
    ("npy-map", lambda t: (["export", str(_map(t, None))], "map.npz")),
    ("random-checkpoint", lambda t: (["predict", str(_image(t / "a.png")), "--checkpoint",
                                      str(_map(t, np.random.default_rng(1).bytes(4000), ".pt") / "map.pt")],
                                     "not a readable PyTorch checkpoint")),
    ("tiny-image", lambda t: (["predict", str(_image(t / "tiny.png", (1, 1)))], "too small")),
    ("huge-image", lambda t: (["predict", str(_image(t / "big.png")), "--max-pixels", "1000"],
                              "larger than the limit")),
    ("input-size-8x8", lambda t: (["predict", str(_image(t / "a.png")), "--input-size", "8x8"], "at least 32")),
    ("device-banana", lambda t: (["predict", str(_image(t / "a.png")), "--device", "banana"], "'banana'")),
    ("depth-factor-nan", lambda t: (["predict", str(_image(t / "a.png")), "--depth-factor", "nan"],
                                    "--depth-factor nan")),
    ("threads-0", lambda t: (["predict", str(_image(t / "a.png")), "--threads", "0"], "threads 0")),
    ("synth-speed-nan", lambda t: (["synth", "--speed", "nan", "--frames", "2"], "speed must be a finite")),
    ("config-is-a-folder", lambda t: (["reconstruct", "--config", str(t)], "is a folder")),
    ("config-not-utf8", lambda t: (["reconstruct", "--config", str(_bytes(t / "c.yaml", b"\xff\xfe\x00x"))],
                                   "not a UTF-8 text file")),
    ("config-command-list", lambda t: (["config", "show", str(_bytes(t / "c.yaml", b"command: [1, 2]\n"))],
                                       "must be a command name")),
    ("evaluate-batch-0", lambda t: (["evaluate", "networks/weights/synthetic_nyu40.pt", "synthetic:1000",
                                     "--synthetic-frames", "2", "--synthetic-size", "64x48", "--batch-size", "0"],
                                    "--batch-size 0")),
    ("evaluate-class-slice", lambda t: (["evaluate", "networks/weights/synthetic_nyu40.pt", "synthetic:1000",
                                         "--synthetic-frames", "2", "--synthetic-size", "64x48", "--class-slice",
                                         "30:10"], "FIRST < END")),
    ("evaluate-frames-0", lambda t: (["evaluate", "networks/weights/synthetic_nyu40.pt", "synthetic:1000",
                                      "--synthetic-frames", "0"], "--synthetic-frames 0")),
    ("evaluate-max-depth-nan", lambda t: (["evaluate", "networks/weights/synthetic_nyu40.pt", "synthetic:1000",
                                           "--max-depth", "nan"], "--max-depth nan")),
    ("overwrite-user-folder", lambda t: (["predict", str(_image(t / "a.png")), "--overwrite"],
                                         "not a slamseg run folder")),
    ("compare-depth-zero-depth", lambda t: (["compare-depth", str(_tum_copy(t, _zero_depth))],
                                            "has valid sensor depth")),
    ("checkpoint-label-set-mismatch", lambda t: (["predict", str(_image(t / "a.png")), "--checkpoint",
                                                  str(_mislabelled_checkpoint(t))], "13 classes")),
    ("out-not-writable", lambda t: (["predict", str(_image(t / "a.png")), "--out", "/proc/slamseg-test/out"],
                                    "/proc")),
]


def _bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("name", "make"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2(name: str, make, tmp_path: Path) -> None:
    argv, fragment = make(tmp_path)
    out = tmp_path / "out"
    if name == "overwrite-user-folder":
        out.mkdir()
        (out / "mine.txt").write_text("a user's file")
    if "--out" not in argv and argv[0] != "config":
        argv = [*argv, "--out", str(out)]
    res = subprocess.run([SLAMSEG, *argv], capture_output=True, text=True, timeout=300, cwd=DATA.parent.parent)
    errors = [line for line in res.stderr.splitlines() if ": error: " in line]
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(errors) == 1 and errors[0].startswith(f"slamseg {argv[0]}: error: "), res.stderr[-2000:]
    assert fragment in errors[0], errors[0]
    assert "Traceback" not in res.stderr
    if name == "overwrite-user-folder":
        assert (out / "mine.txt").read_text() == "a user's file"
    else:
        assert not out.exists()
    resumable = argv[0] in ("reconstruct", "train")
    assert resumable or not out.with_name("out.partial").exists()
