"""The Sequence over an indexed ROS bag: frames decoded on demand through a per-thread read cursor.

:func:`slamseg.sequences.readers.rosbag.open_rosbag` builds it (and documents the format); this module holds the
bag access both share: opening a reader (``rosbags``, imported lazily: it is an optional extra) and the per-topic
index of messages.

A message is named by (topic kind, position in its topic) and found in the bag by (bag time, order among the
topic's messages of that same bag time). Each thread has a cursor: an open reader and a live ``messages()``
generator over the colour and depth topics. A frame's messages are read by advancing the cursor; messages it
passes that the next few frames need are kept, the rest dropped; a frame behind the cursor restarts it at the
frame's earliest bag time.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.frame import Frame
from slamseg.sequences.readers import rosbag_messages as rm
from slamseg.sequences.readers.rgbd_list import resize_rgb
from slamseg.sequences.sequence import Sequence
from slamseg.sequences.undistort import Undistorter, has_distortion

READ_AHEAD_FRAMES = 8  # messages of the next frames kept when the cursor passes them (bounded memory)


def open_reader(root: Path) -> object:
    """An open ``rosbags.highlevel.AnyReader`` of the bag at ``root``; errors become SequenceFormatError."""
    try:
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore
    except ImportError as err:
        raise SequenceFormatError(f"{root}: reading ROS bags needs the rosbags package "
                                  "(pip install 'slamseg[bags]')") from err
    # ROS 2 bags recorded before Iron carry no message definitions: the standard messages are the same in all
    # distributions, so the latest store decodes them
    reader = AnyReader([root], default_typestore=get_typestore(Stores.LATEST))
    try:
        reader.open()
    except Exception as err:  # rosbags raises its own error classes, OSError and sqlite3 errors for bad bags
        raise SequenceFormatError(f"{root}: cannot read the bag: {err}") from err
    return reader


@dataclass
class Track:
    """The index of one image topic: per message its bag time (ns), its order among equal bag times, its stamp."""

    topic: str
    msgtype: str
    first: object
    bag_times: list[int] = field(default_factory=list)
    dups: list[int] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)

    def lookup(self) -> dict[tuple[int, int], int]:
        """(bag time, order among equal bag times) -> message position in the topic."""
        return {(t, d): k for k, (t, d) in enumerate(zip(self.bag_times, self.dups))}


class _Cursor:
    """One thread's open reader, its live message generator and read position, and the messages kept ahead."""

    def __init__(self, reader: object) -> None:
        self.reader = reader
        self.messages = None
        self.last_time = -1
        self.current_time: int | None = None
        self.counts: Counter = Counter()
        self.buffer: dict[tuple[str, int], tuple[str, bytes]] = {}


class BagSequence(Sequence):
    """Frames of a ROS bag, decoded on demand (built by :func:`~slamseg.sequences.readers.rosbag.open_rosbag`,
    whose module documents the format).

    Args:
        name, path: sequence name and the bag (``.bag`` file or ROS 2 folder).
        tracks: "rgb" (and "depth") topic indexes.
        rgb_idx, depth_idx: (N,) message positions of each frame's colour and depth (None: no depth).
        poses: N camera-to-world 4 x 4 poses or None.
        camera: intrinsics of the stored frames (at the depth size; may carry distortion).
        resize: colour is stored at another size and is resized to the camera's.
        depth_scale: 16-bit depth units per metre.
        undistort: as :class:`~slamseg.sequences.readers.rgbd_list.RgbdListSequence`.
        strict: raise on a corrupt frame (True) or skip it with a warning (False).
    """

    def __init__(self, name: str, path: Path, tracks: dict[str, Track], rgb_idx: np.ndarray,
                 depth_idx: np.ndarray | None, poses: list[np.ndarray | None], camera: Camera, resize: bool,
                 depth_scale: float, undistort: bool | None, strict: bool) -> None:
        super().__init__()
        if not depth_scale > 0 or not np.isfinite(depth_scale):
            raise SequenceFormatError(f"{path}: depth_scale must be a finite number > 0, got {depth_scale}")
        self.name, self.path, self.strict = name, path, strict
        self.tracks = {kind: replace(track, first=None) for kind, track in tracks.items()}
        self.rgb_idx, self.depth_idx, self.poses = rgb_idx, depth_idx, poses
        self.stored_camera = camera
        self.undistort = has_distortion(camera) if undistort is None else bool(undistort and has_distortion(camera))
        self.camera = replace(camera, distortion=None) if self.undistort else camera
        self.resize, self.depth_scale = resize, float(depth_scale)
        self._lookup = {kind: track.lookup() for kind, track in self.tracks.items()}
        self._kind_of = {track.topic: kind for kind, track in self.tracks.items()}
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._local = threading.local()
        self._undistorter = Undistorter(self.stored_camera) if self.undistort else None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        del state["_local"]  # open readers stay in their process and thread
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def __len__(self) -> int:
        return len(self.rgb_idx)

    def _refs(self, i: int) -> list[tuple[str, int]]:
        refs = [("rgb", int(self.rgb_idx[i]))]
        if self.depth_idx is not None:
            refs.append(("depth", int(self.depth_idx[i])))
        return refs

    def _cursor(self) -> _Cursor:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = _Cursor(open_reader(self.path))
        return cursor

    def _restart(self, cursor: _Cursor, start: int) -> None:
        if cursor.messages is not None:
            cursor.messages.close()
        connections = [c for c in cursor.reader.connections if c.topic in self._kind_of]
        cursor.messages = cursor.reader.messages(connections=connections, start=start)
        cursor.last_time, cursor.current_time, cursor.counts = start, None, Counter()

    def _fetch(self, i: int) -> dict[str, tuple[str, bytes]]:
        """Raw (msgtype, bytes) of frame ``i``'s messages by kind, advancing or restarting this thread's cursor."""
        cursor = self._cursor()
        wanted = set(self._refs(i))
        keep = {ref for j in range(i, min(i + READ_AHEAD_FRAMES, len(self))) for ref in self._refs(j)}
        got = {ref: cursor.buffer.pop(ref) for ref in wanted if ref in cursor.buffer}
        cursor.buffer = {ref: raw for ref, raw in cursor.buffer.items() if ref in keep}
        missing = wanted - set(got)
        for attempt in range(2):
            if not missing:
                break
            start = min(self.tracks[kind].bag_times[k] for kind, k in missing)
            # a message at the cursor's own time may be behind it already: restart rather than read to the end
            if cursor.messages is None or start <= cursor.last_time or attempt == 1:
                self._restart(cursor, start)
            for conn, bag_time, raw in cursor.messages:
                if bag_time != cursor.current_time:  # messages come in bag-time order: count duplicates per time
                    cursor.current_time, cursor.counts = bag_time, Counter()
                cursor.last_time = bag_time
                kind = self._kind_of[conn.topic]
                ref = (kind, self._lookup[kind].get((bag_time, cursor.counts[kind]), -1))
                cursor.counts[kind] += 1
                if ref in missing:
                    got[ref] = (conn.msgtype, raw)
                    missing.discard(ref)
                    if not missing:
                        break
                elif ref in keep:
                    cursor.buffer[ref] = (conn.msgtype, raw)
        if missing:
            kind, k = next(iter(missing))
            raise SequenceFormatError(f"{self.path}: the {self.tracks[kind].topic} message at "
                                      f"{self.tracks[kind].stamps[k]:.6f} s is gone (was the bag changed after it "
                                      "was opened?)")
        return {kind: got[(kind, k)] for kind, k in wanted}

    def _load_frame(self, i: int) -> Frame:
        raw = self._fetch(i)
        reader = self._cursor().reader
        rgb_track, k = self.tracks["rgb"], int(self.rgb_idx[i])
        where = f"{self.path}: {rgb_track.topic} at {rgb_track.stamps[k]:.6f} s"
        try:
            msgs = {kind: reader.deserialize(data, msgtype) for kind, (msgtype, data) in raw.items()}
        except Exception as err:  # rosbags' serde errors
            raise SequenceFormatError(f"{where}: cannot decode the message: {err}") from err
        shape = self.stored_camera.shape
        rgb = rm.decode_colour(raw["rgb"][0], msgs["rgb"], where)
        if self.resize:
            rgb = resize_rgb(rgb, shape)
        meta: dict = {"source": where}
        depth = None
        if "depth" in msgs:
            depth_track, m = self.tracks["depth"], int(self.depth_idx[i])
            depth_where = f"{self.path}: {depth_track.topic} at {depth_track.stamps[m]:.6f} s"
            depth = rm.decode_depth(raw["depth"][0], msgs["depth"], depth_where, self.depth_scale)
            if depth.shape != shape:
                raise SequenceFormatError(f"{depth_where}: expected a {shape[1]}x{shape[0]} depth image, got "
                                          f"{depth.shape[1]}x{depth.shape[0]}")
            meta.update(depth_source=depth_where, depth_timestamp=depth_track.stamps[m],
                        time_diff=abs(depth_track.stamps[m] - rgb_track.stamps[k]))
        if rgb.shape[:2] != shape:
            raise SequenceFormatError(f"{where}: expected a {shape[1]}x{shape[0]} colour image, got "
                                      f"{rgb.shape[1]}x{rgb.shape[0]}")
        if self._undistorter is not None:
            rgb = self._undistorter.rgb(rgb)
            depth = None if depth is None else self._undistorter.depth(depth)
        meta["undistorted"] = self._undistorter is not None
        pose = self.poses[i]
        return Frame(index=i, timestamp=rgb_track.stamps[k], rgb=rgb, camera=self.camera, depth=depth,
                     pose=None if pose is None else pose.copy(), meta=meta).validate()

    def close(self) -> None:
        """Close this thread's bag reader (others close when their threads' readers are collected)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is not None:
            if cursor.messages is not None:
                cursor.messages.close()
            cursor.reader.close()
            self._local.cursor = None

