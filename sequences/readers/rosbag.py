"""ROS 1 bags (``.bag``) and ROS 2 bag folders (``metadata.yaml`` + ``.db3`` or ``.mcap``), read with ``rosbags``
(pure Python, the ``slamseg[bags]`` extra; no ROS installation).

- Topics: colour and depth image topics (``sensor_msgs/Image``, ``CompressedImage``; encodings in
  :mod:`.rosbag_messages`) are found from the first message of each: depth is a 16UC1 / mono16 / 32FC1 encoding, a
  compressedDepth format, or "depth" in the topic name. With exactly one of each (colour: preferring non-mono
  topics; depth: preferring "aligned" / "registered" names) they are used; else ``rgb_topic=`` / ``depth_topic=``
  choose, and the error lists the image topics. A bag without a depth topic gives frames without depth.
- Stamps: each image's ``header.stamp`` (the bag's receive time when the stamp is zero). Colour and depth pair
  like TUM's associate.py (:func:`~slamseg.sequences.association.associate_stamps`, ``max_difference`` 0.02 s);
  colour frames without depth within it are dropped.
- Camera, first match wins: the ``camera`` option; the ``sensor_msgs/CameraInfo`` beside the image topic
  (``<namespace>/camera_info``, else one with the image's ``frame_id``): K and plumb_bob D, or P for
  ``image_rect*`` topics. Depth must be registered to colour (``depth_registered``, ``aligned_depth_to_color``):
  frames keep the colour camera. When depth has another size than colour, colour is resized to the depth's size
  and the depth's camera is used (ScanNet's rule). Distorted images are undistorted as TUM's
  (``undistort``, default None = when D is non-zero; colour bilinear, depth nearest).
- Poses (camera-to-world, :mod:`.rosbag_poses`): ``pose_topic=`` (Odometry, PoseStamped,
  PoseWithCovarianceStamped); else tf (``/tf`` + ``/tf_static``) from the image's ``frame_id`` (or
  ``camera_frame=``) up to the root (or ``world_frame=``) when that chain moves; else the bag's only pose topic;
  else none. Interpolated at the colour stamps; None outside, or across gaps over ``max_pose_gap`` seconds.

Memory: opening reads the chosen image topics once to index their stamps (one message in memory at a time; the
index is a few numbers per message) and keeps the tf / pose samples. Frames are decoded on demand: in-order access
advances one read cursor over the bag, keeping at most the messages of the next few frames; going backwards
restarts it near the frame (ROS 1's reader walks its index from the start on each restart, a few ms per 10,000
messages). Each thread gets its own bag reader (SQLite connections stay in their thread); pickling drops them.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from slamseg.sequences.association import associate_stamps
from slamseg.sequences.camera import Camera
from slamseg.sequences.errors import SequenceFormatError
from slamseg.sequences.readers import rosbag_messages as rm
from slamseg.sequences.readers.rosbag_poses import (
    POSE_TYPES,
    TF_TYPES,
    Trajectory,
    TransformTree,
    camera_poses,
    pose_message_sample,
    stamp_seconds,
)
from slamseg.sequences.readers.rosbag_sequence import BagSequence, Track, open_reader

log = logging.getLogger(__name__)

_ROS2_MARKER = "rosbag2_bagfile_information"


def bag_root(path: Path) -> Path:
    """The path rosbags opens: a ``.bag`` file, or the ROS 2 folder (also for a ``.db3`` / ``.mcap`` inside it)."""
    path = Path(path)
    if path.is_file() and path.suffix in (".db3", ".mcap") and (path.parent / "metadata.yaml").is_file():
        return path.parent
    return path


def detect_rosbag(path: Path) -> bool:
    """A ``.bag`` file starting with ROS 1's ``#ROSBAG V2.0``, or a ROS 2 bag folder (or a file inside one)."""
    path = bag_root(path)
    if path.is_file():
        with path.open("rb") as f:
            return f.read(13) == b"#ROSBAG V2.0\n"
    meta = path / "metadata.yaml"
    return meta.is_file() and _ROS2_MARKER in meta.read_text(errors="replace")[:4096]


def _first_message(reader: object, connections: list) -> object:
    for conn, _, raw in reader.messages(connections=connections):
        return reader.deserialize(raw, conn.msgtype)
    return None


def _choose(kinds: dict[str, str], candidates: list[str], preferred: list[str], role: str, option: str,
            root: Path) -> str | None:
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if len(preferred) == 1:
        return preferred[0]
    listing = "; ".join(f"{t} ({kinds[t]})" for t in sorted(kinds))
    raise SequenceFormatError(f"{root}: {len(candidates)} {role} image topics ({', '.join(sorted(candidates))}); "
                              f"pass {option}=... (image topics: {listing})")


def _info_for(reader: object, topics: dict, image_topic: str, frame_id: str) -> object | None:
    infos = [t for t, info in topics.items() if info.msgtype == rm.CAMERA_INFO]
    namespace = image_topic
    for suffix in ("/compressedDepth", "/compressed"):
        namespace = namespace.removesuffix(suffix)
    beside = namespace.rsplit("/", 1)[0] + "/camera_info"
    ordered = ([beside] if beside in infos else []) + [t for t in infos if t != beside]
    for topic in ordered:
        msg = _first_message(reader, topics[topic].connections)
        if msg is not None and (topic == beside or str(msg.header.frame_id) == frame_id):
            return msg
    return None


def _first_size(track: Track, kind: str) -> tuple[int, int]:
    """(height, width) of a topic's first image, checked to be colour ("rgb") or depth ("depth") at opening."""
    msg, where = track.first, f"{track.topic} (first message)"
    if track.msgtype == rm.IMAGE:
        allowed = rm.COLOUR_ENCODINGS if kind == "rgb" else rm.DEPTH_ENCODINGS
        if str(msg.encoding).lower() not in allowed:
            raise SequenceFormatError(f"{where}: expected a {'colour' if kind == 'rgb' else 'depth'} image, got "
                                      f"encoding {msg.encoding!r}")
        return int(msg.height), int(msg.width)
    if kind == "rgb":
        return rm.decode_colour(track.msgtype, msg, where).shape[:2]
    return rm.decode_depth(track.msgtype, msg, where).shape[:2]


def open_rosbag(path: Path, rgb_topic: str | None = None, depth_topic: str | None = None,
                pose_topic: str | None = None, camera_frame: str | None = None, world_frame: str | None = None,
                camera: Camera | dict | None = None, max_difference: float = 0.02, max_pose_gap: float = 0.1,
                depth_scale: float = 1000.0, undistort: bool | None = None, strict: bool = True) -> BagSequence:
    """Open a ROS 1 ``.bag`` or a ROS 2 bag folder as a Sequence (see module doc for every option's rule)."""
    root = bag_root(Path(path))
    reader = open_reader(root)
    try:
        topics = reader.topics
        images = {t: info for t, info in topics.items() if info.msgtype in (rm.IMAGE, rm.COMPRESSED) and info.msgcount}
        if not images:
            listing = ", ".join(f"{t} ({info.msgtype})" for t, info in sorted(topics.items())) or "none"
            raise SequenceFormatError(f"{root}: no sensor_msgs/Image or CompressedImage messages; expected a colour "
                                      f"image topic (topics in the bag: {listing})")
        firsts = {t: _first_message(reader, info.connections) for t, info in images.items()}
        kinds = {t: rm.image_kind(images[t].msgtype, m) for t, m in firsts.items()}
        for given, option in ((rgb_topic, "rgb_topic"), (depth_topic, "depth_topic")):
            if given is not None and given not in images:
                raise SequenceFormatError(f"{root}: {option}={given!r} is not an image topic of this bag (image "
                                          f"topics: {', '.join(sorted(images))})")
        is_depth = {t: rm.is_depth_message(images[t].msgtype, m, t) for t, m in firsts.items()}
        if rgb_topic is None:
            colour = [t for t in images if not is_depth[t]]
            rgb_topic = _choose(kinds, colour, [t for t in colour if "mono" not in kinds[t].lower()], "colour",
                                "rgb_topic", root)
            if rgb_topic is None:
                raise SequenceFormatError(f"{root}: no colour image topic (image topics: {', '.join(sorted(kinds))});"
                                          " pass rgb_topic=...")
        if depth_topic is None:
            depth = [t for t in images if is_depth[t] and t != rgb_topic]
            depth_topic = _choose(kinds, depth, [t for t in depth if "aligned" in t or "registered" in t], "depth",
                                  "depth_topic", root)
            if depth_topic is None:
                log.info("%s: no depth image topic; frames have colour only", root)
        tracks = {"rgb": Track(rgb_topic, images[rgb_topic].msgtype, firsts[rgb_topic])}
        if depth_topic is not None:
            tracks["depth"] = Track(depth_topic, images[depth_topic].msgtype, firsts[depth_topic])
        tree, pose_tracks = _index(reader, topics, tracks)

        frame_id = str(tracks["rgb"].first.header.frame_id).lstrip("/")
        sizes = {kind: _first_size(track, kind) for kind, track in tracks.items()}
        target = sizes.get("depth", sizes["rgb"])
        if isinstance(camera, dict):
            camera = Camera.from_dict(camera)
        if camera is None:
            camera = _camera_from_bag(reader, topics, tracks, sizes, root, undistort is not False)
        if camera.shape != target:
            log.info("%s: camera calibrated at %dx%d, images are %dx%d; intrinsics scaled", root, camera.width,
                     camera.height, target[1], target[0])
            camera = camera.scaled(target[1], target[0])
    finally:
        reader.close()

    rgb_stamps = np.array(tracks["rgb"].stamps)
    if "depth" in tracks:
        rgb_idx, depth_idx = associate_stamps(rgb_stamps, np.array(tracks["depth"].stamps), max_difference)
        if rgb_idx.size == 0:
            raise SequenceFormatError(f"{root}: no {rgb_topic} and {depth_topic} stamps within {max_difference} s "
                                      "of each other (pass max_difference=... or check the topics)")
        log.debug("%s: associated %d of %d colour frames", root, rgb_idx.size, rgb_stamps.size)
    else:
        rgb_idx, depth_idx = np.arange(rgb_stamps.size), None

    camera_frame = camera_frame or frame_id
    pose_track = None
    if pose_topic is not None:
        if pose_topic not in pose_tracks:
            raise SequenceFormatError(f"{root}: pose_topic={pose_topic!r} is not an Odometry/PoseStamped topic of this "
                                      f"bag (pose topics: {', '.join(sorted(pose_tracks)) or 'none'})")
        pose_track = pose_tracks[pose_topic]
    poses, source = camera_poses(tree, camera_frame, rgb_stamps[rgb_idx], max_pose_gap, world_frame, pose_track)
    if source == "none" and pose_track is None and len(pose_tracks) == 1:
        pose_topic, pose_track = next(iter(pose_tracks.items()))
        poses, source = camera_poses(tree, camera_frame, rgb_stamps[rgb_idx], max_pose_gap, world_frame, pose_track)
    if source == "pose topic":
        source = f"pose topic {pose_topic}"
    elif source == "none" and pose_tracks:
        log.warning("%s: tf gives no moving chain to %r and there are several pose topics (%s): frames get no pose "
                    "(pass pose_topic=...)", root, camera_frame, ", ".join(sorted(pose_tracks)))
    log.info("%s: %d frames from %s%s, poses from %s (%d of %d frames have one)", root, len(rgb_idx), rgb_topic,
             f" + {depth_topic}" if depth_topic else "", source, sum(p is not None for p in poses), len(poses))
    name = root.stem if root.is_file() else root.name
    return BagSequence(name, root, tracks, rgb_idx, depth_idx, poses, camera, sizes["rgb"] != target, depth_scale,
                       undistort, strict)


def _index(reader: object, topics: dict, tracks: dict[str, Track],
           ) -> tuple[TransformTree, dict[str, tuple[Trajectory, str | None]]]:
    """One pass over the image, tf and pose topics: image stamps into ``tracks``, the tf tree, pose samples."""
    by_topic = {track.topic: track for track in tracks.values()}
    tf_topics = {t for t, info in topics.items() if info.msgtype in TF_TYPES}
    pose_topics = {t for t, info in topics.items() if info.msgtype in POSE_TYPES}
    connections = [c for t in (*by_topic, *tf_topics, *pose_topics) for c in topics[t].connections]
    tree = TransformTree()
    poses: dict[str, tuple[Trajectory, str | None]] = {}
    current, counts = None, Counter()
    for conn, bag_time, raw in reader.messages(connections=connections):
        try:
            msg = reader.deserialize(raw, conn.msgtype)
        except Exception as err:  # rosbags' serde errors: a truncated or mistyped message
            raise SequenceFormatError(f"{reader.paths[0]}: cannot decode a {conn.msgtype} message on {conn.topic} "
                                      f"at {bag_time * 1e-9:.6f} s: {err}") from err
        track = by_topic.get(conn.topic)
        if track is not None:
            if bag_time != current:
                current, counts = bag_time, Counter()
            track.bag_times.append(bag_time)
            track.dups.append(counts[conn.topic])
            counts[conn.topic] += 1
            stamp = stamp_seconds(msg.header.stamp)
            track.stamps.append(stamp if stamp > 0 else bag_time * 1e-9)
        elif conn.topic in tf_topics:
            tree.add_message(msg, static=conn.topic.endswith("tf_static"))
        else:
            t, values, child = pose_message_sample(conn.msgtype, msg)
            trajectory = poses.setdefault(conn.topic, (Trajectory(), child))[0]
            trajectory.add(t, values)
    return tree, poses


def _camera_from_bag(reader: object, topics: dict, tracks: dict[str, Track], sizes: dict, root: Path,
                     strict_distortion: bool) -> Camera:
    # registered depth keeps the colour camera; depth of another size keeps its own (colour is resized to it)
    order = ("depth", "rgb") if "depth" in sizes and sizes["depth"] != sizes["rgb"] else ("rgb", "depth")
    for kind in (k for k in order if k in tracks):
        track = tracks[kind]
        msg = _info_for(reader, topics, track.topic, str(track.first.header.frame_id))
        if msg is not None:
            return rm.camera_from_info(msg, f"{root}: camera_info of {track.topic}", "rect" in track.topic,
                                       strict_distortion)
    listing = ", ".join(t for t, info in sorted(topics.items()) if info.msgtype == rm.CAMERA_INFO) or "none"
    raise SequenceFormatError(f"{root}: no sensor_msgs/CameraInfo for {tracks['rgb'].topic} (camera_info topics: "
                              f"{listing}); pass camera=Camera(...) or a dict fx, fy, cx, cy, width, height")
