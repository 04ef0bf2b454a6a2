"""The fast colour PNG path (pyspng) gives Pillow's pixels and the same errors; other PNG kinds use Pillow."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slamseg.sequences import SequenceFormatError
from slamseg.sequences.imageio_utils import read_rgb, set_png_decoder

DATA = Path(__file__).parents[1] / "data" / "tum_fr1_rpy"


@pytest.fixture
def spng():
    previous = set_png_decoder("spng")
    yield
    set_png_decoder(previous)


def test_real_tum_colour_frames_decode_identically(spng):
    for path in sorted((DATA / "rgb").glob("*.png"))[:3]:
        fast = read_rgb(path, (480, 640))
        assert fast.shape == (480, 640, 3) and fast.dtype == np.uint8
        assert np.array_equal(fast, np.asarray(Image.open(path).convert("RGB")))


def test_errors_name_the_file(tmp_path: Path, spng):
    src = sorted((DATA / "rgb").glob("*.png"))[0]
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(SequenceFormatError, match=r"truncated.png: cannot decode image"):
        read_rgb(truncated)
    with pytest.raises(SequenceFormatError, match=r"missing.png: image file is missing"):
        read_rgb(tmp_path / "missing.png")
    with pytest.raises(SequenceFormatError, match=r"expected an image of 320x240 pixels"):
        read_rgb(src, (240, 320))


def test_other_png_kinds_fall_back_to_pillow(tmp_path: Path, spng):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey).save(tmp_path / "grey.png")
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 128)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert np.array_equal(read_rgb(tmp_path / "grey.png"), np.dstack([grey] * 3))
    assert np.array_equal(read_rgb(tmp_path / "rgba.png"), np.dstack([grey] * 3))  # alpha dropped
    Image.fromarray(np.zeros((3, 4), np.uint16)).save(tmp_path / "depth.png")
    with pytest.raises(SequenceFormatError, match="expected an 8-bit colour image"):
        read_rgb(tmp_path / "depth.png")
