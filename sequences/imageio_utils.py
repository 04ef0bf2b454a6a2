"""Strict image reading and atomic image writing for the dataset readers and writers.

Every reader goes through these functions so that a truncated file, a wrong bit depth or a wrong size gives one
:class:`SequenceFormatError` that names the file and says what was expected, instead of a Pillow traceback.

Decoding uses Pillow directly (``PIL.Image.open`` + ``np.asarray``), which avoids imageio's plugin dispatch per
call, except for 8-bit RGB PNGs (the colour images of TUM, ICL-NUIM, KITTI and slamseg layouts): those go through
libspng (``pyspng``) when it is installed, about 1.7x faster than Pillow here (7.4 vs 12.7 ms per 640x480 TUM
frame); every other PNG kind, and every PNG when pyspng is missing, falls back to Pillow. (For 16-bit grey depth
pyspng is no faster: it expands to grey + alpha.) :func:`set_png_decoder` switches for benchmarks and tests.

Pillow cannot write or read 16-bit-per-channel RGB PNGs (it truncates them to 8 bits), which the slamseg normals
layout needs, so :func:`write_png_rgb16` and :func:`read_png_rgb16` implement that one case with zlib
(non-interlaced, filter types None/Sub/Up decoded vectorised; Average/Paeth rows are unfiltered row by row).
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

try:  # optional fast PNG decoder (a declared dependency, but every reader works without it)
    import pyspng
except ImportError:  # pragma: no cover - depends on the environment
    pyspng = None

from slamseg.sequences.atomic import atomic_path
from slamseg.sequences.errors import SequenceFormatError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_png_decoder = "spng" if pyspng is not None else "pillow"


# Largest image (width x height) decoded: a 10000 x 10000 image costs gigabytes and minutes before anything can
# tell the user it is not a camera frame. SLAMSEG_MAX_IMAGE_PIXELS or set_max_image_pixels() change it.
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000
_max_pixels = int(os.environ.get("SLAMSEG_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS))
# Our limit replaces Pillow's decompression-bomb check: every reader here checks ours from the header before
# decoding, and Pillow's (which fires while the header is read) would only add a warning before our one-line error.
Image.MAX_IMAGE_PIXELS = None


def set_max_image_pixels(pixels: int) -> int:
    """Set the largest image (width x height) readers decode; returns the previous limit."""
    global _max_pixels
    if pixels < 1:
        raise ValueError(f"the image pixel limit must be a positive number of pixels, got {pixels}")
    previous, _max_pixels = _max_pixels, int(pixels)
    return previous


def check_image_pixels(path: Path, width: int, height: int) -> None:
    """Refuse an image larger than the pixel limit, from its header (before any pixel is decoded)."""
    if width * height > _max_pixels:
        raise SequenceFormatError(
            f"{path}: image of {width}x{height} pixels is larger than the limit of {_max_pixels} pixels "
            "(raise it with --max-pixels or SLAMSEG_MAX_IMAGE_PIXELS)")


def set_png_decoder(name: str) -> str:
    """Choose the decoder of 8-bit RGB PNGs: "spng" (pyspng, when installed) or "pillow"; returns the previous one."""
    global _png_decoder
    if name not in ("spng", "pillow"):
        raise ValueError(f"PNG decoder must be 'spng' or 'pillow', got {name!r}")
    if name == "spng" and pyspng is None:
        raise ValueError("the 'spng' PNG decoder needs the pyspng package (pip install pyspng)")
    previous, _png_decoder = _png_decoder, name
    return previous


def _read_rgb8_png_spng(path: Path) -> np.ndarray | None:
    """H x W x 3 uint8 via libspng when ``path`` is an 8-bit RGB PNG (IHDR bit depth 8, colour type 2), else None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SequenceFormatError(f"{path}: image file is missing") from None
    # IHDR is the first chunk: signature (8) + length (4) + b"IHDR" (4) + width, height (8) + depth, colour type
    if len(data) < 26 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR" or data[24:26] != b"\x08\x02":
        return None
    check_image_pixels(path, *struct.unpack(">II", data[16:24]))
    try:
        return pyspng.load(data, format="RGB")
    except RuntimeError as err:
        raise SequenceFormatError(f"{path}: cannot decode image (truncated or not an image?): {err}") from err


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise SequenceFormatError(f"{path}: image file is missing")
    try:
        img = Image.open(path)  # lazy: reads the header only
        check_image_pixels(path, *img.size)
        img.load()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise SequenceFormatError(f"{path}: cannot decode image (truncated or not an image?): {err}") from err
    return img


def _check_size(path: Path, arr: np.ndarray, size: tuple[int, int] | None) -> None:
    if size is not None and arr.shape[:2] != tuple(size):
        raise SequenceFormatError(
            f"{path}: expected an image of {size[1]}x{size[0]} pixels (WxH), got {arr.shape[1]}x{arr.shape[0]}"
        )


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image from its header, without decoding the pixels."""
    path = Path(path)
    if not path.is_file():
        raise SequenceFormatError(f"{path}: image file is missing")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, UnidentifiedImageError) as err:
        raise SequenceFormatError(f"{path}: cannot read image header: {err}") from err
    return h, w


def read_rgb(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an 8-bit colour image (PNG, JPG, PPM...) as H x W x 3 uint8 RGB.

    Grey, palette and RGBA images are converted to RGB (alpha dropped); 16-bit images are refused.

    Args:
        path: image file.
        size: expected (height, width), or None to accept any size.
    """
    path = Path(path)
    if _png_decoder == "spng" and path.suffix.lower() == ".png":
        arr = _read_rgb8_png_spng(path)
        if arr is not None:
            _check_size(path, arr, size)
            return arr
    img = _open(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        raise SequenceFormatError(f"{path}: expected an 8-bit colour image, got mode {img.mode!r} (16/32-bit)")
    if img.mode != "RGB":
        img = img.convert("RGB")
    arr = np.asarray(img)
    _check_size(path, arr, size)
    return arr


def read_uint16(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a single-channel 16-bit PNG (depth) as H x W uint16; 8-bit or colour images are refused."""
    path = Path(path)
    img = _open(path)
    if img.mode not in ("I;16", "I;16B", "I;16L", "I"):
        raise SequenceFormatError(f"{path}: expected a single-channel 16-bit image, got mode {img.mode!r}")
    arr = np.asarray(img)
    if arr.dtype != np.uint16:
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 65535:
            raise SequenceFormatError(f"{path}: 16-bit image holds values outside 0..65535")
        arr = arr.astype(np.uint16)
    _check_size(path, arr, size)
    return arr


def read_label_image(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a single-channel 8- or 16-bit label image (palette images give their indices) as H x W uint8/uint16."""
    path = Path(path)
    img = _open(path)
    if img.mode in ("L", "P"):
        arr = np.asarray(img)
    elif img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = read_uint16(path)
    else:
        raise SequenceFormatError(f"{path}: expected a single-channel label image (8/16-bit), got mode {img.mode!r}")
    _check_size(path, arr, size)
    return arr


_PNM_HEADER = re.compile(rb"\A(P[56])\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s")


def read_pnm_raw(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a binary PGM (P5) or PPM (P6) without interpreting 16-bit byte order.

    Returns:
        (data, maxval): data is H x W (P5) or H x W x 3 (P6); uint8 when maxval < 256, else H x W(x3) x 2 uint8
        bytes of each sample in file order, so the caller decides the byte order (NYU raw depth is little-endian
        although the PGM standard says big-endian).
    """
    path = Path(path)
    if not path.is_file():
        raise SequenceFormatError(f"{path}: PGM/PPM file is missing")
    data = path.read_bytes()
    m = _PNM_HEADER.match(data[:512])
    if m is None:
        raise SequenceFormatError(f"{path}: expected a binary PGM/PPM header 'P5|P6 <w> <h> <maxval>'")
    magic, w, h, maxval = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    if not 0 < maxval < 65536 or w <= 0 or h <= 0:
        raise SequenceFormatError(f"{path}: invalid PGM/PPM header values {w}x{h} maxval {maxval}")
    channels = 3 if magic == b"P6" else 1
    bytes_per_sample = 1 if maxval < 256 else 2
    expected = w * h * channels * bytes_per_sample
    payload = data[m.end():m.end() + expected]
    if len(payload) < expected:
        raise SequenceFormatError(
            f"{path}: truncated {magic.decode()} file: {w}x{h}x{channels} samples of {bytes_per_sample} byte(s) "
            f"need {expected} payload bytes, found {len(payload)}"
        )
    shape = (h, w, 3) if channels == 3 else (h, w)
    arr = np.frombuffer(payload, dtype=np.uint8)
    if bytes_per_sample == 2:
        arr = arr.reshape(*shape, 2)
    else:
        arr = arr.reshape(shape)
    return arr, maxval


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write an 8-bit (H x W, H x W x 3) or 16-bit single-channel (H x W uint16) PNG atomically.

    16-bit colour images go through :func:`write_png_rgb16`.
    """
    image = np.ascontiguousarray(image)
    if image.dtype == np.uint16 and image.ndim == 3:
        write_png_rgb16(path, image)
        return
    if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3):
        raise ValueError(f"write_png needs H x W(x3) uint8 or H x W uint16, got {image.shape} {image.dtype}")
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", compress_level=1)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_png_rgb16(path: str | Path, image: np.ndarray) -> None:
    """Write an H x W x 3 uint16 image as a 48-bit RGB PNG (filter type Up on every row), atomically."""
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"write_png_rgb16 needs H x W x 3 uint16, got {image.shape} {image.dtype}")
    h, w, _ = image.shape
    rows = image.astype(">u2").view(np.uint8).reshape(h, w * 6)
    # Filter "Up" (type 2): difference to the row above, mod 256; smooth normal maps compress much better.
    filtered = rows.copy()
    filtered[1:] = rows[1:] - rows[:-1]
    scan = np.empty((h, w * 6 + 1), dtype=np.uint8)
    scan[:, 0] = 2
    scan[:, 1:] = filtered
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    png = _PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(scan.tobytes(), 3))
    png += _chunk(b"IEND", b"")
    with atomic_path(path) as tmp:
        tmp.write_bytes(png)


def _unfilter_slow(kind: int, row: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    out = row.astype(np.int32)
    up = prev.astype(np.int32)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        upper_left = up[i - bpp] if i >= bpp else 0
        if kind == 3:
            out[i] = (out[i] + (left + up[i]) // 2) & 0xFF
        else:  # Paeth
            p = left + up[i] - upper_left
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - upper_left)
            pred = left if pa <= pb and pa <= pc else (up[i] if pb <= pc else upper_left)
            out[i] = (out[i] + pred) & 0xFF
    return out.astype(np.uint8)


def read_png_rgb16(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a 48-bit RGB PNG (as written by :func:`write_png_rgb16`) as H x W x 3 uint16."""
    path = Path(path)
    if not path.is_file():
        raise SequenceFormatError(f"{path}: image file is missing")
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise SequenceFormatError(f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        if len(payload) < length:
            raise SequenceFormatError(f"{path}: truncated PNG chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", payload)
        elif kind == b"IDAT":
            idat.append(payload)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise SequenceFormatError(f"{path}: truncated PNG (no IHDR/IDAT)")
    w, h, bit_depth, colour_type, _, _, interlace = header
    if bit_depth != 16 or colour_type != 2 or interlace != 0:
        raise SequenceFormatError(
            f"{path}: expected a non-interlaced 16-bit RGB PNG, got bit depth {bit_depth}, colour type {colour_type}"
        )
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as err:
        raise SequenceFormatError(f"{path}: corrupt PNG data: {err}") from err
    stride = w * 6
    if len(raw) != h * (stride + 1):
        raise SequenceFormatError(f"{path}: truncated PNG data ({len(raw)} bytes, expected {h * (stride + 1)})")
    scan = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
    kinds, rows = scan[:, 0], scan[:, 1:].copy()
    if np.all(kinds == 2):  # the writer's case: Up everywhere = cumulative sum down the columns, mod 256
        rows = np.cumsum(rows, axis=0, dtype=np.uint8)
    else:
        prev = np.zeros(stride, dtype=np.uint8)
        for r in range(h):
            kind = int(kinds[r])
            if kind == 1:
                rows[r] = np.cumsum(rows[r].reshape(w, 6), axis=0, dtype=np.uint8).reshape(-1)
            elif kind == 2:
                rows[r] = rows[r] + prev
            elif kind in (3, 4):
                rows[r] = _unfilter_slow(kind, rows[r], prev, 6)
            elif kind != 0:
                raise SequenceFormatError(f"{path}: invalid PNG filter type {kind} in row {r}")
            prev = rows[r]
    arr = rows.view(">u2").reshape(h, w, 3).astype(np.uint16)
    _check_size(path, arr, size)
    return arr
