from __future__ import annotations

import json
from pathlib import Path

import pytest

from slamseg.errors import RunFolderError
from slamseg.runs import RunFolder


def test_run_folder_appears_only_when_finished(tmp_path: Path) -> None:
    run = RunFolder("reconstruct", out=tmp_path / "r1")
    run.write_json("metrics.json", {"a": 1})
    assert not (tmp_path / "r1").exists() and (tmp_path / "r1.partial" / "metrics.json").exists()
    final = run.finish()
    assert final == tmp_path / "r1"
    assert json.loads((final / "metrics.json").read_text()) == {"a": 1}


def test_existing_and_interrupted_runs_need_a_flag(tmp_path: Path) -> None:
    RunFolder("x", out=tmp_path / "done").finish()
    with pytest.raises(RunFolderError, match="already exists"):
        RunFolder("x", out=tmp_path / "done")
    RunFolder("x", out=tmp_path / "half")  # never finished
    with pytest.raises(RunFolderError, match="--resume"):
        RunFolder("x", out=tmp_path / "half", resumable=True)
    # a command without --resume never suggests it
    with pytest.raises(RunFolderError, match="cannot be resumed; pass --overwrite") as info:
        RunFolder("x", out=tmp_path / "half")
    assert "--resume" not in str(info.value)
    with pytest.raises(RunFolderError) as info:
        RunFolder("x", out=tmp_path / "done")
    assert str(info.value).endswith("or pass --overwrite")
    resumed = RunFolder("x", out=tmp_path / "half", resume=True)
    assert resumed.resumed
    assert RunFolder("x", out=tmp_path / "done", overwrite=True).path == tmp_path / "done.partial"
    RunFolder("x", out=tmp_path / "other").finish()
    with pytest.raises(RunFolderError, match="finished run"):
        RunFolder("x", out=tmp_path / "other", resume=True)


def test_default_name_has_command_and_timestamp(tmp_path: Path) -> None:
    run = RunFolder("predict", root=tmp_path)
    assert run.final.parent == tmp_path and run.final.name.startswith("predict-")


def test_write_json_is_strict_json_with_null_for_undefined_values(tmp_path: Path) -> None:
    import numpy as np

    run = RunFolder("x", out=tmp_path / "run")
    path = run.write_json("m.json", {"iou": np.array([0.5, np.nan]), "rmse": float("inf"), "n": np.int64(3),
                                     "rows": [(1.0, float("nan"))]})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"iou": [0.5, None], "rmse": None, "n": 3, "rows": [[1.0, None]]}


def test_overwrite_deletes_only_folders_slamseg_made(tmp_path: Path) -> None:
    user = tmp_path / "my_dataset"
    user.mkdir()
    (user / "precious.png").write_bytes(b"not a run")
    with pytest.raises(RunFolderError, match="not a slamseg run folder"):
        RunFolder("export", out=user, overwrite=True)
    assert (user / "precious.png").read_bytes() == b"not a run"
    user_partial = tmp_path / "data.partial"  # a user's folder that happens to end in .partial
    user_partial.mkdir()
    (user_partial / "keep.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="not a slamseg run folder"):
        RunFolder("export", out=tmp_path / "data", overwrite=True)
    assert (user_partial / "keep.txt").read_text() == "mine"
    made = RunFolder("export", out=tmp_path / "run")
    assert json.loads((made.path / ".slamseg-run").read_text())["command"] == "export"
    made.finish()
    again = RunFolder("export", out=tmp_path / "run", overwrite=True)  # ours: replaced
    assert not (tmp_path / "run").exists() and again.path.exists()
