"""Decoding ROS image and camera-info messages (as rosbags deserialises them) into slamseg's arrays.

Field names follow the message definitions; ROS 1's CameraInfo spells ``K``/``D``/``P`` where ROS 2 spells
``k``/``d``/``p``, and both are accepted. Every error names the topic (and stamp) and what was expected.

- ``sensor_msgs/Image`` colour: rgb8, bgr8, rgba8, bgra8, mono8 (8UC1/8UC3/8UC4 are read as mono8/bgr8/bgra8,
  OpenCV's channel order); depth: 16UC1 / mono16 (millimetres, REP 118; ``depth_scale`` units per metre) and
  32FC1 (metres; NaN, inf and values <= 0 are invalid = 0). Row padding (``step``) and big-endian data are handled.
- ``sensor_msgs/CompressedImage`` colour: any format Pillow decodes (jpeg, png). ``compressedDepth`` (the
  image_transport plugin): a 12-byte header (format, two float quantisation parameters) then a PNG, 16UC1
  millimetres, or for 32FC1 quantised inverse depth, depth = a / (value - b). Its ``rvl`` codec is refused.
"""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image, UnidentifiedImageError

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError

log = logging.getLogger(__name__)

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
# encoding -> (channels, channel order to RGB)
COLOUR_ENCODINGS = {
    "rgb8": (3, (0, 1, 2)), "bgr8": (3, (2, 1, 0)), "rgba8": (4, (0, 1, 2)), "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)), "8uc1": (1, (0, 0, 0)), "8uc3": (3, (2, 1, 0)), "8uc4": (4, (2, 1, 0)),
}
DEPTH_ENCODINGS = {"16uc1", "mono16", "32fc1"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_depth_message(msgtype: str, msg: object, topic: str) -> bool:
    """True for a depth image: a depth encoding, a compressedDepth format, or "depth" in the topic name."""
    if msgtype == IMAGE:
        encoding = str(msg.encoding).lower()
        if encoding in DEPTH_ENCODINGS:
            return True
        if encoding in COLOUR_ENCODINGS:
            return False
    elif "compresseddepth" in str(msg.format).lower():
        return True
    return "depth" in topic.lower()


def image_kind(msgtype: str, msg: object) -> str:
    """Short description of an image message for listings, e.g. ``Image rgb8 64x48``."""
    if msgtype == IMAGE:
        return f"Image {msg.encoding} {msg.width}x{msg.height}"
    return f"CompressedImage {msg.format or '?'}"


def _pixels(msg: object, where: str) -> tuple[str, np.ndarray]:
    """(lower-case encoding, H x W x C raw pixel array) of a ``sensor_msgs/Image``, step and endianness applied."""
    encoding = str(msg.encoding).lower()
    if encoding in COLOUR_ENCODINGS:
        dtype, channels = np.dtype(np.uint8), COLOUR_ENCODINGS[encoding][0]
    elif encoding in ("16uc1", "mono16"):
        dtype, channels = np.dtype(np.uint16), 1
    elif encoding == "32fc1":
        dtype, channels = np.dtype(np.float32), 1
    else:
        raise SequenceFormatError(f"{where}: unsupported image encoding {msg.encoding!r} (expected one of rgb8, bgr8, "
                                  "rgba8, bgra8, mono8, 16UC1, mono16, 32FC1)")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    row = width * channels * dtype.itemsize
    if step < row or data.size < step * height or height == 0 or width == 0:
        raise SequenceFormatError(f"{where}: {msg.encoding} image of {width}x{height} needs rows of {row} bytes; "
                                  f"got step {step} and {data.size} bytes of data")
    rows = data[:step * height].reshape(height, step)[:, :row]
    arr = np.ascontiguousarray(rows).view(dtype.newbyteorder(">" if msg.is_bigendian else "<"))
    return encoding, arr.reshape(height, width, channels).astype(dtype, copy=False)


def _decode_compressed(data: np.ndarray, where: str) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(np.asarray(data, dtype=np.uint8).tobytes()))
        img.load()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise SequenceFormatError(f"{where}: cannot decode the compressed image: {err}") from err
    return img


def decode_colour(msgtype: str, msg: object, where: str) -> np.ndarray:
    """H x W x 3 uint8 RGB from an Image or CompressedImage message; ``where`` names it in errors."""
    if msgtype == COMPRESSED:
        img = _decode_compressed(msg.data, where)
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            raise SequenceFormatError(f"{where}: expected an 8-bit colour image, got mode {img.mode!r}")
        return np.asarray(img.convert("RGB"))
    encoding, arr = _pixels(msg, where)
    if encoding not in COLOUR_ENCODINGS:
        raise SequenceFormatError(f"{where}: expected a colour image (rgb8, bgr8, rgba8, bgra8, mono8), got "
                                  f"{msg.encoding!r}")
    return np.ascontiguousarray(arr[:, :, list(COLOUR_ENCODINGS[encoding][1])])


def decode_depth(msgtype: str, msg: object, where: str, depth_scale: float = 1000.0) -> np.ndarray:
    """H x W float32 metres (0 = invalid) from an Image (16UC1 / mono16 / 32FC1) or compressedDepth message.

    Args:
        depth_scale: stored units per metre of 16-bit depth (millimetres: 1000).
    """
    if msgtype == COMPRESSED:
        return _decode_compressed_depth(msg, where, depth_scale)
    encoding, arr = _pixels(msg, where)
    arr = arr[:, :, 0]
    if encoding == "32fc1":
        depth = arr.astype(np.float32)
        return np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(0)).astype(np.float32)
    if encoding in ("16uc1", "mono16"):
        return arr.astype(np.float32) * np.float32(1.0 / depth_scale)
    raise SequenceFormatError(f"{where}: expected a depth image (16UC1, mono16, 32FC1), got {msg.encoding!r}")


def _decode_compressed_depth(msg: object, where: str, depth_scale: float) -> np.ndarray:
    fmt = str(msg.format)
    if "compresseddepth" not in fmt.lower():
        raise SequenceFormatError(f"{where}: a CompressedImage depth topic must use the compressedDepth format, "
                                  f"got {fmt!r}")
    if "rvl" in fmt.lower():
        raise SequenceFormatError(f"{where}: compressedDepth with the RVL codec ({fmt!r}) is not supported; "
                                  "record depth as sensor_msgs/Image or compressedDepth png")
    raw = np.asarray(msg.data, dtype=np.uint8).tobytes()
    start = raw.find(_PNG_SIGNATURE, 0, 64)  # after the plugin's 12-byte ConfigHeader
    if start < 0:
        raise SequenceFormatError(f"{where}: compressedDepth data holds no PNG after its header ({fmt!r})")
    img = _decode_compressed(np.frombuffer(raw[start:], dtype=np.uint8), where)
    values = np.asarray(img)
    if values.ndim != 2:
        raise SequenceFormatError(f"{where}: compressedDepth PNG must be single-channel, got mode {img.mode!r}")
    if fmt.lower().startswith("32fc1"):
        if start < 12:
            raise SequenceFormatError(f"{where}: compressedDepth 32FC1 needs the 12-byte quantisation header")
        quant_a, quant_b = np.frombuffer(raw[4:12], dtype="<f4")
        inverse = values.astype(np.float32)
        with np.errstate(divide="ignore"):
            depth = np.where(inverse > 0, quant_a / (inverse - quant_b), 0.0).astype(np.float32)
        return np.where(np.isfinite(depth) & (depth > 0), depth, np.float32(0)).astype(np.float32)
    return values.astype(np.float32) * np.float32(1.0 / depth_scale)


def _field(msg: object, name: str) -> np.ndarray:
    value = getattr(msg, name, None)
    if value is None:
        value = getattr(msg, name.upper())
    return np.asarray(value, dtype=np.float64).reshape(-1)


def camera_from_info(msg: object, where: str, rectified: bool = False, strict_distortion: bool = True) -> Camera:
    """Camera of a ``sensor_msgs/CameraInfo``: K and D (plumb_bob, or rational_polynomial whose extra terms are
    zero); ``rectified`` (the image topic is ``image_rect*``): P's intrinsics and no distortion. A distortion
    model slamseg cannot undistort raises, or with ``strict_distortion=False`` is dropped with a warning."""
    k, p, d = _field(msg, "k"), _field(msg, "p"), _field(msg, "d")
    width, height = int(msg.width), int(msg.height)
    if rectified and p.size == 12 and p[0] > 0:
        fx, fy, cx, cy, dist = p[0], p[5], p[2], p[6], None
    else:
        if k.size != 9 or k[0] <= 0:
            raise SequenceFormatError(f"{where}: CameraInfo holds no calibration (K = {k.tolist()}); pass camera=...")
        fx, fy, cx, cy = k[0], k[4], k[2], k[5]
        dist = _distortion(str(msg.distortion_model), d, where, strict_distortion)
    try:
        return Camera(float(fx), float(fy), float(cx), float(cy), width, height, distortion=dist)
    except SequenceFormatError as err:
        raise SequenceFormatError(f"{where}: {err}") from None


def _distortion(model: str, d: np.ndarray, where: str, strict: bool) -> tuple[float, ...] | None:
    if d.size == 0 or not np.any(d):
        return None
    # rational_polynomial is plumb_bob plus k4..k6; with those zero it is the same model
    if model in ("plumb_bob", "rational_polynomial") and d.size >= 4 and (d.size <= 5 or not np.any(d[5:])):
        return tuple(float(v) for v in d[:5])
    message = (f"{where}: distortion model {model!r} with coefficients {d.tolist()} is not supported (plumb_bob "
               "only)")
    if strict:
        raise SequenceFormatError(f"{message}; pass undistort=False to use the images as stored, or camera=...")
    log.warning("%s; the images are used as stored, without distortion", message)
    return None
