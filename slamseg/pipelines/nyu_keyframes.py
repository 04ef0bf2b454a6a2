"""SemanticFusion's NYU keyframe protocol for a reconstructed NYU Depth v2 raw scene (``--nyu-labeled``).

SemanticFusion (McCormac et al., ICRA 2017) evaluates its maps on the NYU Depth v2 labelled frames that belong to
the raw scenes it reconstructs: the map is rendered into each labelled frame at that frame's estimated pose and
its labels are compared on 13 classes with the labelled set's annotations, beside the single-frame network's
labels on the same frames.

``nyu_depth_v2_labeled.mat`` names, for each labelled frame, its scene (``scenes``) and the raw files it was made
from (``rawRgbFilenames``, ``rawDepthFilenames``, e.g. ``bedroom_0001/r-1294886360.208451-2996770081.ppm``). A
labelled frame is a frame of the run when the run processed a frame with its raw depth file's time stamp (the NYU
raw reader stamps a frame with its depth file's time) and that frame, read again, was made from the same depth
and colour files. Without ``rawDepthFilenames`` the colour file's stamp selects the nearest frame (within one
frame interval), and the colour file name must agree.

Approximation (stated in metrics.json): the labelled images are the raw colour frames undistorted with the
toolbox's calibration, 640 x 480, uncropped (pixels without a label are 0 = void, ignored), which is what the raw
reader does to its colour images; so labels and the rendered map are compared pixel for pixel in the raw
reader's undistorted colour camera. The labelled set's own depth (projected, in-painted) is not used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from slamseg.errors import ConfigError, LabelSetError, SequenceFormatError
from slamseg.sequences import Frame, LabelSet, get_mapping
from slamseg.sequences.readers.nyu_labeled import NUM_CLASSES_894, decode_matlab_string, read_cell_strings
from slamseg.sequences.readers.nyu_raw import parse_kinect_time

if TYPE_CHECKING:
    from slamseg.pipelines.reconstruct_outputs import ReconstructionResult

log = logging.getLogger(__name__)

LABEL_SET = "nyu13"
RGB_MATCH_TOLERANCE = 1.0 / 30  # seconds: one Kinect frame interval (colour stamp -> nearest depth-stamped frame)
SUMMARY_KEYS = ("class_average_accuracy", "pixel_accuracy", "mean_iou", "labelled_pixels")
ALIGNMENT = ("the raw frame of the labelled frame's depth file, colour undistorted by the NYU raw reader "
             "(the toolbox's calibration); labelled images are those undistorted colour frames at 640x480, "
             "uncropped, unlabelled pixels ignored")


@dataclass(frozen=True)
class LabelledFrame:
    """One labelled frame of ``nyu_depth_v2_labeled.mat`` and the raw files it was made from.

    Attributes:
        mat_index: 1-based index into the file's 1449 frames.
        scene: e.g. ``bedroom_0001``.
        rgb_file, depth_file: raw file names as the file gives them (``scene/r-<t>-<n>.ppm``); depth_file None
            when the file has no ``rawDepthFilenames``.
        timestamp: seconds, from the depth file's name (else the colour file's).
    """

    mat_index: int
    scene: str
    rgb_file: str
    depth_file: str | None
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {"mat_index": self.mat_index, "rgb_file": self.rgb_file, "depth_file": self.depth_file}


def check_label_set(map_label_set: LabelSet) -> None:
    """A ConfigError unless the map's labels map into NYU-13 (an NYU map)."""
    try:
        get_mapping(map_label_set, LABEL_SET)
    except LabelSetError:
        raise ConfigError(f"--nyu-labeled compares NYU-13 labels, but the map's classes are {map_label_set.name}"
                          ) from None


def read_labelled_frames(path: str | Path, scene: str, size: tuple[int, int] | None = None) -> list[LabelledFrame]:
    """The labelled frames of ``scene`` in ``nyu_depth_v2_labeled.mat`` (MATLAB v7.3), in file order.

    ``size`` = (width, height) of the sequence's frames: checked against the labels here, before any work.

    Raises:
        ConfigError: no such file, not HDF5, a key missing, or no labelled frame of ``scene``.
        SequenceFormatError: a cell array is not one of strings, or the labels are not of ``size``.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file (--nyu-labeled expects nyu_depth_v2_labeled.mat)")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ConfigError(f"{path}: cannot open as HDF5 (MATLAB v7.3 .mat): {err}") from err
    with f:
        for key in ("labels", "scenes", "rawRgbFilenames"):
            if key not in f:
                raise ConfigError(f"{path}: key {key!r} is missing (--nyu-labeled needs labels, scenes, "
                                  "rawRgbFilenames and, best, rawDepthFilenames)")
        labels = f["labels"]
        if size is not None and (labels.ndim != 3 or labels.shape[1:] != tuple(size)):
            raise SequenceFormatError(f"{path}: key 'labels': expected h5py shape (N, {size[0]}, {size[1]}) for "
                                      f"the sequence's {size[0]} x {size[1]} frames, got {labels.shape}")
        scenes = read_cell_strings(f, "scenes")
        count = labels.shape[0]
        if len(scenes) != count:
            raise SequenceFormatError(f"{path}: scenes ({len(scenes)}) and labels ({count}) must count the same "
                                      "frames")
        mine = [k for k, name in enumerate(scenes) if name == scene]
        if not mine:
            known = sorted(set(scenes))
            shown = ", ".join(known[:5]) + (f" and {len(known) - 5} more" if len(known) > 5 else "")
            raise ConfigError(f"{path}: no labelled frame of scene {scene!r} (the sequence folder's name); the "
                              f"file's scenes: {shown}")
        # only this scene's file names are decoded (one HDF5 read each: the whole file has 1449 per key)
        rgb = _cell_strings_at(f, "rawRgbFilenames", mine, count)
        depth = (_cell_strings_at(f, "rawDepthFilenames", mine, count) if "rawDepthFilenames" in f
                 else [None] * len(mine))
    return [LabelledFrame(k + 1, scene, rgb_file, depth_file, parse_kinect_time(Path(depth_file or rgb_file)))
            for k, rgb_file, depth_file in zip(mine, rgb, depth)]


def _cell_strings_at(f: h5py.File, key: str, positions: list[int], count: int) -> list[str]:
    """Entries ``positions`` (0-based) of the MATLAB cell array of char ``key`` that should hold ``count``."""
    try:
        refs = np.asarray(f[key][()]).ravel(order="F")
        if len(refs) != count:
            raise ValueError(f"{len(refs)} entries, but labels has {count} frames")
        return [decode_matlab_string(f[refs[k]]) for k in positions]
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        raise SequenceFormatError(f"{f.filename}: key {key!r}: expected a MATLAB cell array of char (object "
                                  f"references to uint16 char arrays), one per labelled frame: {err}") from err


def _match(labelled: LabelledFrame, stamps: np.ndarray, indices: np.ndarray) -> int | None:
    """Dataset index of the processed frame of ``labelled`` (by time stamp), or None."""
    if len(stamps) == 0:
        return None
    nearest = int(np.argmin(np.abs(stamps - labelled.timestamp)))
    tolerance = 1e-6 if labelled.depth_file else RGB_MATCH_TOLERANCE
    return int(indices[nearest]) if abs(stamps[nearest] - labelled.timestamp) <= tolerance else None


def _same_files(frame: Frame, labelled: LabelledFrame) -> str | None:
    """None when ``frame`` was read from the labelled frame's raw files; else why not."""
    depth = Path(str(frame.meta.get("source", ""))).name
    rgb = Path(str(frame.meta.get("rgb_source", ""))).name
    if labelled.depth_file and depth != Path(labelled.depth_file).name:
        return f"the run's frame was read from {depth or 'no depth file'}"
    if rgb != Path(labelled.rgb_file).name:
        return f"the run paired its depth with colour file {rgb or '(none)'}"
    return None


def _summary(metrics: Any) -> dict[str, Any]:
    return {k: v for k, v in metrics.to_dict().items() if k in SUMMARY_KEYS}


def evaluate_nyu_keyframes(path: str | Path, labelled: list[LabelledFrame], result: ReconstructionResult,
                           load_frame: Callable[[int], Frame],
                           predict: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, Any]:
    """Class-average accuracy, pixel accuracy and mIoU on NYU-13 of the map (and the network) on the labelled
    frames of the run, per frame and pooled over them (one confusion matrix).

    Args:
        path: ``nyu_depth_v2_labeled.mat``; labelled: its frames of the run's scene (:func:`read_labelled_frames`).
        result: the finished run (map, camera, records, final poses).
        load_frame: dataset index -> that frame, read again.
        predict: H x W x 3 uint8 RGB -> H x W NYU-13 ids of the single-frame network, or None.
    Returns:
        metrics.json's ``evaluation.nyu_keyframes`` (see docs/FORMATS.md).
    """
    from slamseg.fusion.metrics import label_metrics

    check_label_set(result.map_label_set)
    to_13 = get_mapping("nyu894", LABEL_SET)
    map_to_13 = get_mapping(result.map_label_set, LABEL_SET)
    num_ids = len(to_13.target.names)
    stamps = np.array([r.timestamp for r in result.records], dtype=np.float64)
    indices = np.array([r.index for r in result.records], dtype=np.int64)
    poses = result.estimated_poses()
    camera = result.camera
    per_frame, skipped, stacks = [], [], {"gt": [], "fused_map": [], "single_frame": []}
    with h5py.File(path, "r") as f:
        labels = f["labels"]
        if labels.ndim != 3 or labels.shape[1:] != (camera.width, camera.height):
            raise SequenceFormatError(f"{path}: key 'labels': expected h5py shape (N, {camera.width}, "
                                      f"{camera.height}) (MATLAB {camera.height} x {camera.width} x N, the run's "
                                      f"camera), got {labels.shape}")
        for item in labelled:
            index = _match(item, stamps, indices)
            reason = ("not among the reconstructed frames" if index is None else
                      None if index in poses else "not fused (tracking rejected it)")
            frame = load_frame(index) if reason is None else None
            reason = reason or _same_files(frame, item)
            gt894 = np.asarray(labels[item.mat_index - 1]).T if reason is None else None
            if gt894 is not None and gt894.size and (gt894.min() < 0 or gt894.max() > NUM_CLASSES_894):
                reason = f"label ids {gt894.min()}..{gt894.max()} outside 0..{NUM_CLASSES_894}"
                gt894 = None
            gt = None if gt894 is None else to_13.map_labels(gt894.astype(np.int64)).astype(np.uint8)
            if gt is not None and not (gt != 0).any():
                reason = "no labelled pixel"
            if reason is not None:
                skipped.append(item.to_dict() | {"reason": reason})
                continue
            view = result.semantic_map.render(camera, poses[index])
            outputs = {"fused_map": map_to_13.map_labels(view.labels.astype(np.int64)).astype(np.uint8)}
            if predict is not None:
                outputs["single_frame"] = np.asarray(predict(frame.rgb)).astype(np.uint8)
            entry = item.to_dict() | {"frame": index, "timestamp": round(item.timestamp, 6)}
            stacks["gt"].append(gt)
            for key, pred in outputs.items():
                entry[key] = _summary(label_metrics(pred, gt, num_ids))
                stacks[key].append(pred)
            per_frame.append(entry)
    out: dict[str, Any] = {"file": str(path), "scene": labelled[0].scene, "label_set": LABEL_SET,
                           "labelled_frames": len(labelled), "frames": len(per_frame), "alignment": ALIGNMENT}
    if per_frame:
        gt_all = np.stack(stacks["gt"])
        for key in ("fused_map", "single_frame"):
            if stacks[key]:
                out[key] = label_metrics(np.stack(stacks[key]), gt_all, num_ids).to_dict()
    out["per_frame"] = per_frame
    out["not_evaluated"] = skipped
    _log_summary(out)
    return out


def _log_summary(out: dict[str, Any]) -> None:
    if not out["frames"]:
        log.warning("NYU keyframes of %s: none of its %d labelled frames could be evaluated (see "
                    "evaluation.nyu_keyframes.not_evaluated)", out["scene"], out["labelled_frames"])
        return
    parts = [f"{name} class-avg {m['class_average_accuracy']:.3f} pixel {m['pixel_accuracy']:.3f} "
             f"mIoU {m['mean_iou']:.3f}" for name, m in (("map", out.get("fused_map")),
                                                           ("network", out.get("single_frame"))) if m]
    log.info("NYU keyframes of %s (%d of %d labelled frames, 13 classes): %s", out["scene"], out["frames"],
             out["labelled_frames"], "; ".join(parts))
