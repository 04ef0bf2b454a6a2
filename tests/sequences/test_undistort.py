"""Shared lens undistortion: analytic checks with the Brown-Conrady model, and the TUM freiburg1 sample."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from slamseg.sequences import Camera, SequenceFormatError, open_sequence
from slamseg.sequences.undistort import Undistorter, has_distortion

DATA = Path(__file__).parents[1] / "data" / "tum_fr1_rpy"
# A strongly distorted small camera so that pixel shifts are large (~10 px in the corners) and the test is fast.
CAM = Camera(260.0, 255.0, 161.3, 118.7, 320, 240, distortion=(0.2, -0.1, 0.002, -0.001, 0.05))


def brown_conrady(u: float, v: float, cam: Camera) -> tuple[float, float]:
    """Where the undistorted pixel (u, v) lies in the distorted image, written out by hand for the test."""
    k1, k2, p1, p2, k3 = cam.distortion
    x, y = (u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd * cam.fx + cam.cx, yd * cam.fy + cam.cy


def test_dots_drawn_where_the_model_puts_them_come_back_to_their_undistorted_place():
    targets = [(20.0, 20.0), (300.0, 25.0), (160.0, 120.0), (30.0, 220.0), (290.0, 215.0)]
    v, u = np.indices(CAM.shape, dtype=np.float64)
    image = np.zeros((*CAM.shape, 3), np.uint8)
    for tu, tv in targets:
        du, dv = brown_conrady(tu, tv, CAM)
        image[(u - du) ** 2 + (v - dv) ** 2 <= 3.0**2] = 255
    shift = np.hypot(*np.subtract(brown_conrady(20.0, 20.0, CAM), (20.0, 20.0)))
    assert shift > 8  # the corner dot really moved: the check below is not trivially met

    undistorter = Undistorter(CAM)
    out = undistorter.rgb(image)[..., 0].astype(np.float64)
    for tu, tv in targets:
        window = (np.abs(u - tu) <= 6) & (np.abs(v - tv) <= 6)
        weight = out * window
        centroid = (weight * u).sum() / weight.sum(), (weight * v).sum() / weight.sum()
        assert centroid == pytest.approx((tu, tv), abs=0.35)
    assert undistorter.camera == Camera(260.0, 255.0, 161.3, 118.7, 320, 240)


def test_flat_colour_stays_flat_and_outside_is_black():
    out = Undistorter(CAM).rgb(np.full((*CAM.shape, 3), 200, np.uint8))
    centre = out[40:200, 40:280]
    assert np.all(centre == 200)  # fixed-point weights sum to exactly 256
    # pincushion (k1 > 0): the undistorted corner's source lies outside the stored image
    assert brown_conrady(0.0, 0.0, CAM)[0] < -0.5 and np.all(out[0, 0] == 0)


def test_depth_and_labels_are_never_blended_across_an_edge():
    depth = np.full(CAM.shape, 1.0, np.float32)
    depth[:, 150:] = 4.0  # a vertical step edge
    labels = np.where(depth > 2, 7, 3).astype(np.uint8)
    undistorter = Undistorter(CAM)
    out_depth, out_labels = undistorter.depth(depth), undistorter.labels(labels)
    assert set(np.unique(out_depth)) <= {0.0, 1.0, 4.0}
    assert set(np.unique(out_labels)) <= {0, 3, 7}
    # the pixel (u, v) takes the value of the stored pixel nearest to the model's source position
    for u, v in [(5, 5), (140, 60), (160, 200), (310, 230)]:
        su, sv = brown_conrady(u, v, CAM)
        iu, iv = round(su), round(sv)
        expected = depth[iv, iu] if 0 <= iu < 320 and 0 <= iv < 240 else 0.0
        assert out_depth[v, u] == expected


def test_bad_coefficients_and_no_distortion():
    assert not has_distortion(Camera(500, 500, 320, 240, 640, 480, distortion=(0, 0, 0, 0, 0)))
    with pytest.raises(SequenceFormatError, match="got 3 coefficients"):
        Undistorter(Camera(500, 500, 320, 240, 640, 480, distortion=(0.1, 0.2, 0.3)))


def test_tum_freiburg1_sample_is_undistorted_by_default():
    seq = open_sequence(DATA)
    assert seq.camera.distortion is None and seq.camera.fx == 517.306408 and seq.camera.cy == 255.313989
    raw = open_sequence(DATA, undistort=False)
    assert raw.camera.distortion[0] == 0.262383
    frame, stored = seq[0], raw[0]
    assert frame.meta["undistorted"] and not stored.meta["undistorted"]
    valid = frame.depth[frame.depth > 0]
    # nearest neighbour only moves stored values: every undistorted depth is one of the stored depths
    assert np.isin(valid, stored.depth).all()
    assert valid.min() >= 0.74 - 0.005 and valid.max() <= 2.81 + 0.005
    assert 0.5 * (stored.depth > 0).mean() < (frame.depth > 0).mean() <= (stored.depth > 0).mean() + 0.01
    # the image does change (fr1's k1 = 0.26 moves the corners by several pixels), but little at the centre
    assert np.abs(frame.rgb[:40].astype(int) - stored.rgb[:40]).mean() > 2
    centre = np.abs(frame.rgb[230:280, 300:340].astype(int) - stored.rgb[230:280, 300:340]).mean()
    assert centre < 3


def test_tum_freiburg3_needs_no_undistortion(tmp_path: Path):
    f3 = tmp_path / "rgbd_dataset_freiburg3_long_office"
    shutil.copytree(DATA, f3)
    seq = open_sequence(f3)
    assert seq.undistorter is None and not seq[0].meta["undistorted"]
