"""``slamseg predict``: run the joint network on images/folders/sequences: depth, labels, normals PNGs.

Run the joint depth + segmentation network on every frame of the INPUTS (image files, folders of images, or any
sequence slamseg reads) and write per frame, into a run folder: ``depth/<name>.png`` (uint16, depth x
--depth-factor, 1000 = millimetres), ``labels/<name>.png`` (label ids, 0 = void), ``depth_vis/``, ``labels_vis/``
and ``normals_vis/`` colour PNGs, and with --save-probs ``probs/<name>.npz`` (``probs``: H x W x K float16); plus
metrics.json (frames, frames/s, the model) and config.yaml (the options, reloadable with --config).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slamseg.commands.options import flags, register
from slamseg.errors import ConfigError, SequenceFormatError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


FLAGS = flags("checkpoint", "device", "mode", "dtype", "backend", "class_slice", "depth_factor", "threads",
              "max_pixels",
              positional_list="inputs", switches={"--save-probs": ("save_probs", True)}, sizes={"--input-size": ""},
              helps={"--save-probs": "also write probs/<name>.npz (float16)",
                     "--input-size": "run the network at WxH (e.g. 320x240); outputs keep the image size"})


def add_parser(sub: argparse._SubParsersAction) -> None:
    from slamseg.pipelines.job_configs import PredictConfig

    register(sub, "predict", __doc__, PredictConfig, FLAGS, run)


MIN_IMAGE_SIDE = 16  # pixels: below this there is nothing to segment (and the depth is a guess)


def _read_image(path: Path) -> Any:
    import imageio.v3 as iio
    from PIL import Image, UnidentifiedImageError

    from slamseg.sequences.imageio_utils import check_image_pixels

    try:
        with Image.open(path) as img:  # the header only: refuse a huge image before decoding it
            size = img.size
    except (OSError, UnidentifiedImageError):
        size = None  # not something Pillow reads: imageio below says what it is
    if size is not None:
        check_image_pixels(path, *size)
        if min(size) < MIN_IMAGE_SIDE:
            raise SequenceFormatError(f"{path}: image of {size[0]}x{size[1]} pixels is too small to predict on "
                                      f"(at least {MIN_IMAGE_SIDE} pixels a side)")
    try:
        return iio.imread(path)
    except Exception as err:  # imageio raises format-specific errors for damaged or non-image files
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise SequenceFormatError(f"{path}: unreadable image ({type(err).__name__}: {first_line})") from err


def iter_frames(inputs: list[str]) -> Iterator[tuple[str, Any]]:
    """(output name, RGB array) for every frame of every input, in order; names are unique (a name seen before,
    e.g. ``a/0001.png`` then ``b/0001.png``, gets ``_2``, ``_3``... so no output overwrites another)."""
    seen: dict[str, int] = {}
    for name, rgb in _iter_named_frames(inputs):
        if name in seen:
            seen[name] += 1
            unique = f"{name}_{seen[name]}"
            while unique in seen:
                seen[name] += 1
                unique = f"{name}_{seen[name]}"
            log.warning("two inputs are named %r: writing the later one as %r", name, unique)
            name = unique
        seen[name] = 1
        yield name, rgb


def _iter_named_frames(inputs: list[str]) -> Iterator[tuple[str, Any]]:
    from slamseg.sequences.sequence import detect_format, open_sequence

    for text in inputs:
        path = Path(text)
        if not path.exists():
            raise SequenceFormatError(f"{path}: no such file or folder")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            yield path.stem, _read_image(path)
            continue
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else []
        try:
            fmt = detect_format(path)
        except SequenceFormatError:
            if not images:
                raise
            fmt = "image_folder"
        if fmt == "image_folder" and images:
            # A plain folder of images: read each one as it is (sizes may differ, unlike in a sequence).
            for image in images:
                yield image.stem, _read_image(image)
        else:
            for frame in open_sequence(path, format=fmt):
                yield f"{path.stem}_{frame.index:06d}", frame.rgb


def _write_png(path: Path, array: Any) -> None:
    import imageio.v3 as iio

    from slamseg.sequences.atomic import atomic_path

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, array)


def write_prediction(run: Any, name: str, pred: Any, depth_factor: float, save_probs: bool,
                     num_classes: int | None) -> None:
    """Write one frame's outputs (see the module docstring) into the run folder; ``num_classes`` (None: unknown)
    picks the label PNG's bit depth, the same for every frame."""
    import numpy as np

    from slamseg.figures import colourise_depth, colourise_normals
    from slamseg.sequences.atomic import atomic_path
    from slamseg.sequences.labelsets import get_label_set
    from slamseg.sequences.writers import encode_depth

    if pred.depth is not None:
        scaled = encode_depth(pred.depth, depth_factor)  # too far for uint16: 0 (invalid), not saturated
        _write_png(run.file(f"depth/{name}.png"), scaled)
        _write_png(run.file(f"depth_vis/{name}.png"), colourise_depth(pred.depth))
    if pred.labels is not None:
        k = num_classes or max(int(pred.labels.max(initial=0)), 1)
        small = num_classes is not None and num_classes < 256
        _write_png(run.file(f"labels/{name}.png"), pred.labels.astype(np.uint8 if small else np.uint16))
        if pred.label_set is not None:
            colours = get_label_set(pred.label_set).colourise(pred.labels)
        else:
            import matplotlib  # a multi-dataset model without a slice: a plain hue wheel, black void

            palette = (matplotlib.colormaps["hsv"](np.linspace(0, 1, k, endpoint=False))[:, :3] * 255).astype(np.uint8)
            colours = np.concatenate([np.zeros((1, 3), np.uint8), palette])[pred.labels]
        _write_png(run.file(f"labels_vis/{name}.png"), colours)
        if save_probs:
            with atomic_path(run.file(f"probs/{name}.npz")) as tmp, open(tmp, "wb") as fh:
                np.savez_compressed(fh, probs=pred.probs.astype(np.float16))
    if pred.normals is not None:
        _write_png(run.file(f"normals_vis/{name}.png"), colourise_normals(pred.normals))


def run(args: argparse.Namespace) -> int:
    import time

    from slamseg.commands.options import load_options, require
    from slamseg.errors import NetworkError
    from slamseg.networks import Predictor, load_model
    from slamseg.pipelines.job_configs import PredictConfig
    from slamseg.runs import RunFolder
    from slamseg.sequences.progress import progress_bar

    cfg = load_options(args, PredictConfig, "predict", FLAGS)
    require(cfg.inputs, "image files, image folders or sequence paths (INPUTS)", "predict")
    if not 0 < cfg.depth_factor < float("inf"):  # NaN fails this too
        raise ConfigError(f"--depth-factor {cfg.depth_factor}: must be a finite positive number")
    if cfg.max_pixels is not None:
        if cfg.max_pixels < 1:
            raise ConfigError(f"--max-pixels {cfg.max_pixels}: must be a positive number of pixels")
        from slamseg.sequences.imageio_utils import set_max_image_pixels

        set_max_image_pixels(cfg.max_pixels)
    input_size = (cfg.input_width, cfg.input_height) if cfg.input_width and cfg.input_height else None
    class_slice: Any = cfg.class_slice
    if class_slice and ":" in class_slice:
        try:
            class_slice = tuple(int(v) for v in class_slice.split(":"))
        except ValueError:
            raise ConfigError(f"--class-slice {cfg.class_slice!r}: expected NAME or FIRST:END") from None
    from slamseg.pipelines.common import bundled_checkpoint

    checkpoint = cfg.checkpoint or bundled_checkpoint()
    model = load_model(checkpoint)
    predictor = Predictor(model, device=cfg.device, mode=cfg.mode, dtype=cfg.dtype, input_size=input_size,
                          class_slice=class_slice, num_threads=cfg.threads, backend=cfg.backend)
    frames = iter_frames(cfg.inputs)
    run_folder = RunFolder("predict", out=args.out, overwrite=args.overwrite)
    run_folder.write_config(cfg, command="predict")
    count, network_s = 0, 0.0
    start = time.perf_counter()
    for name, rgb in progress_bar(frames, desc="predict", unit="frame", enabled=not args.no_progress):
        t0 = time.perf_counter()
        try:
            pred = predictor.predict(rgb, probs=cfg.save_probs)
        except NetworkError as err:
            raise NetworkError(f"{name}: {err}") from err
        network_s += time.perf_counter() - t0
        write_prediction(run_folder, name, pred, cfg.depth_factor, cfg.save_probs, predictor.num_classes)
        count += 1
    total_s = time.perf_counter() - start
    if count == 0:
        raise SequenceFormatError(f"no images found in {', '.join(cfg.inputs)}")
    metrics = {"frames": count, "seconds": total_s, "frames_per_second": count / total_s,
               "predict_ms_per_frame": 1000 * network_s / count, "checkpoint": str(checkpoint),
               "arch": model.arch, "label_set": predictor.label_set, "predictor": predictor.settings}
    run_folder.write_json("metrics.json", metrics)
    final = run_folder.finish()
    print(f"{count} frames in {total_s:.1f} s ({metrics['frames_per_second']:.2f} frames/s; "
          f"{metrics['predict_ms_per_frame']:.0f} ms/frame in the network) -> {final}")
    return 0
