from __future__ import annotations

import numpy as np
import pytest

from slamseg.sequences import Camera, Frame, Sequence, SequenceFormatError


class _Toy(Sequence):
    """A sequence of solid-colour frames; frame 2 is 'corrupt'."""

    name = "toy"

    def __init__(self, n: int = 5, strict: bool = True) -> None:
        super().__init__()
        self.n, self.strict = n, strict
        self.camera = Camera(100.0, 100.0, 15.5, 11.5, 32, 24)

    def __len__(self) -> int:
        return self.n

    def _load_frame(self, i: int) -> Frame:
        if i == 2:
            raise SequenceFormatError("toy/2.png: truncated")
        return Frame(i, i * 0.1, np.full((24, 32, 3), i, np.uint8), self.camera).validate()


def test_camera_backprojection_of_a_plane() -> None:
    cam = Camera(500.0, 400.0, 31.5, 23.5, 64, 48)
    pts = cam.backproject(np.full((48, 64), 2.0, np.float32))
    assert np.allclose(pts[..., 2], 2.0)
    # pixel (u=63, v=0): x = (63 - 31.5) * 2 / 500
    assert pts[0, 63, 0] == pytest.approx(0.126) and pts[0, 63, 1] == pytest.approx(-0.1175)


def test_camera_scaling_keeps_the_field_of_view() -> None:
    cam = Camera(500.0, 500.0, 319.5, 239.5, 640, 480).scaled(320, 240)
    assert (cam.fx, cam.cx, cam.cy, cam.width) == (250.0, 159.5, 119.5, 320)
    assert Camera.from_dict(cam.to_dict()) == cam
    with pytest.raises(SequenceFormatError):
        Camera(1, 1, 0, 0, 0, 10)


def test_slicing_keeps_indices_and_strictness() -> None:
    seq = _Toy(6, strict=False)
    view = seq[3:6]
    assert len(view) == 3 and [f.index for f in view] == [3, 4, 5]
    assert [f.index for f in seq.slice(0, 6, 2)] == [0, 4]  # 2 is corrupt and skipped
    assert seq.skipped and seq.skipped[0][0] == 2 and "truncated" in seq.skipped[0][1]
    assert seq[-1].index == 5
    with pytest.raises(IndexError):
        seq[6]


def test_strict_iteration_raises() -> None:
    with pytest.raises(SequenceFormatError, match="truncated"):
        list(_Toy(4, strict=True))


def test_frame_validation_names_the_problem() -> None:
    cam = Camera(1.0, 1.0, 0.0, 0.0, 4, 3)
    with pytest.raises(SequenceFormatError, match="depth must be 3x4 float32"):
        Frame(0, 0.0, np.zeros((3, 4, 3), np.uint8), cam, depth=np.zeros((3, 4), np.float64)).validate()


def test_atomic_files_get_the_umask_permissions(tmp_path) -> None:
    import os
    import stat

    from slamseg.sequences.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_atomic_json_is_strict_with_plain_values(tmp_path) -> None:
    import json
    from collections import OrderedDict
    from pathlib import Path

    from slamseg.sequences.atomic import atomic_write_json

    data = OrderedDict(iou=np.array([0.5, np.nan]), rmse=float("inf"), n=np.int64(3), ok=np.bool_(True),
                       rows=[(1.0, float("nan"))], path=Path("a/b.txt"), nested={1: np.float32(0.25)})
    atomic_write_json(tmp_path / "m.json", data)
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text and text.endswith("}\n")
    assert json.loads(text) == {"iou": [0.5, None], "rmse": None, "n": 3, "ok": True, "rows": [[1.0, None]],
                                "path": "a/b.txt", "nested": {"1": 0.25}}
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()


@pytest.mark.parametrize(("values", "message"), [
    ((float("nan"), 500.0, 319.5, 239.5), "finite"),
    ((-500.0, 500.0, 319.5, 239.5), "positive"),
    ((500.0, 500.0, 900.0, 239.5), "outside"),
    ((500.0, 500.0, 319.5, float("inf")), "finite"),
])
def test_impossible_cameras_are_refused(values: tuple, message: str) -> None:
    with pytest.raises(SequenceFormatError, match=message):
        Camera(*values, 640, 480)


def test_a_non_rigid_pose_is_refused() -> None:
    from slamseg.sequences.frame import check_pose

    check_pose(np.eye(4), "ok")
    sheared = np.eye(4)
    sheared[0, 1] = 0.2
    for bad, message in ((sheared, "not a rigid"), (np.diag([1.0, 1.0, -1.0, 1.0]), "det"),
                         (np.full((4, 4), np.nan), "non-finite")):
        with pytest.raises(SequenceFormatError, match=message):
            check_pose(bad, "frame 3")


def test_images_over_the_pixel_limit_are_refused_before_decoding(tmp_path) -> None:
    from PIL import Image

    from slamseg.sequences.imageio_utils import read_rgb, read_uint16, set_max_image_pixels

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.zeros((48, 64), np.uint16)).save(tmp_path / "depth.png")
    previous = set_max_image_pixels(64 * 48 - 1)
    try:
        for read, name in ((read_rgb, "rgb.png"), (read_uint16, "depth.png")):
            with pytest.raises(SequenceFormatError, match=f"{name}: image of 64x48 pixels is larger than the limit"):
                read(tmp_path / name)
        set_max_image_pixels(64 * 48)
        assert read_rgb(tmp_path / "rgb.png").shape == (48, 64, 3)
    finally:
        set_max_image_pixels(previous)
