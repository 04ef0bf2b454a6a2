"""Camera poses from a ROS bag: the tf tree (``/tf``, ``/tf_static``) and pose topics (Odometry, PoseStamped).

A ``geometry_msgs/TransformStamped`` with ``header.frame_id`` = parent and ``child_frame_id`` = child gives the
child frame's pose in the parent (child-to-parent), so the camera-to-world pose is the product of the transforms
along the tree from the root (or ``world_frame``) down to the camera's frame. Dynamic edges are interpolated at
each frame stamp (linear + slerp, :func:`~slamseg.sequences.poses.interpolate_poses`); a frame outside an edge's
samples, or across a gap longer than ``max_gap``, gets no pose. Frame names lose a leading ``/`` (ROS 1).

The camera's frame is taken as an optical frame (REP 103: x right, y down, z forward, OpenCV's axes), which is
what the ``frame_id`` of a camera driver's images is; nothing is rotated.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np

from slamseg.sequences.poses import interpolate_poses, quat_to_matrix

log = logging.getLogger(__name__)

TF_TYPES = {"tf2_msgs/msg/TFMessage", "tf/msg/tfMessage"}
ODOMETRY = "nav_msgs/msg/Odometry"
POSE_TYPES = {ODOMETRY, "geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/PoseWithCovarianceStamped"}


def frame_name(name: str) -> str:
    """A tf frame id without ROS 1's leading slash."""
    return str(name).lstrip("/")


def stamp_seconds(stamp: object) -> float:
    """Seconds of a ``builtin_interfaces/Time`` (ROS 2 ``nanosec``, ROS 1 ``nsec`` in older definitions)."""
    nanos = getattr(stamp, "nanosec", None)
    if nanos is None:
        nanos = getattr(stamp, "nsec", 0)
    return float(stamp.sec) + float(nanos) * 1e-9


def _vector7(position: object, orientation: object) -> list[float]:
    return [position.x, position.y, position.z, orientation.x, orientation.y, orientation.z, orientation.w]


class Trajectory:
    """Samples of one moving transform: ``add(t, [tx, ty, tz, qx, qy, qz, qw])``, then ``at(stamps)``."""

    def __init__(self) -> None:
        self._samples: list[tuple[float, list[float]]] = []

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, t: float, values: list[float]) -> None:
        """One sample at ``t`` seconds; translation in metres, quaternion scalar-last (normalised later)."""
        self._samples.append((t, values))

    def at(self, stamps: np.ndarray, max_gap: float) -> list[np.ndarray | None]:
        """4 x 4 transforms at ``stamps`` (seconds), None outside the samples or across gaps over ``max_gap``."""
        samples = sorted((s for s in self._samples if np.isfinite(s[1]).all() and np.linalg.norm(s[1][3:]) > 1e-9),
                         key=lambda s: s[0])
        if not samples:
            return [None] * len(stamps)
        times = np.array([s[0] for s in samples])
        values = np.array([s[1] for s in samples], dtype=np.float64)
        poses = np.tile(np.eye(4), (len(samples), 1, 1))
        poses[:, :3, :3] = quat_to_matrix(values[:, 3:])
        poses[:, :3, 3] = values[:, :3]
        return interpolate_poses(times, poses, stamps, max_gap)


class TransformTree:
    """The tf tree of a bag: static edges (one transform each) and dynamic edges (a :class:`Trajectory` each)."""

    def __init__(self) -> None:
        self.static: dict[tuple[str, str], list[float]] = {}
        self.dynamic: dict[tuple[str, str], Trajectory] = defaultdict(Trajectory)

    def add_message(self, msg: object, static: bool) -> None:
        """Add every transform of a ``tf2_msgs/TFMessage`` (``static``: it came from ``/tf_static``)."""
        for tf in msg.transforms:
            edge = (frame_name(tf.header.frame_id), frame_name(tf.child_frame_id))
            values = _vector7(tf.transform.translation, tf.transform.rotation)
            if static:
                self.static[edge] = values
            else:
                self.dynamic[edge].add(stamp_seconds(tf.header.stamp), values)

    def parent(self, child: str) -> tuple[str, bool] | None:
        """(parent frame, edge is static) of ``child``; the parent with the most samples when tf names several."""
        candidates = [(1, p, True) for (p, c) in self.static if c == child]
        candidates += [(len(traj), p, False) for (p, c), traj in self.dynamic.items() if c == child]
        if not candidates:
            return None
        if len({p for _, p, _ in candidates}) > 1:
            log.warning("tf gives frame %r several parents (%s); using the one with the most transforms", child,
                        ", ".join(sorted({p for _, p, _ in candidates})))
        _, parent, static = max(candidates, key=lambda c: c[0])
        return parent, static

    def chain(self, child: str, top: str | None = None) -> list[tuple[str, str, bool]]:
        """Edges (parent, child, static) from ``child`` up to ``top`` (or the root), nearest first.

        Raises KeyError when ``top`` is given and is not an ancestor of ``child``.
        """
        edges: list[tuple[str, str, bool]] = []
        seen = {child}
        while child != top:
            found = self.parent(child)
            if found is None:
                if top is not None:
                    raise KeyError(top)
                break
            parent, static = found
            if parent in seen:  # a cycle in a broken tf tree: stop where it closes
                log.warning("tf has a cycle through frame %r", parent)
                break
            edges.append((parent, child, static))
            seen.add(parent)
            child = parent
        return edges

    def transforms_at(self, edges: list[tuple[str, str, bool]], stamps: np.ndarray,
                      max_gap: float) -> list[np.ndarray | None]:
        """Products of ``edges`` (as :meth:`chain` returns them) at each stamp: the child's pose in the top frame."""
        out: list[np.ndarray | None] = [np.eye(4) for _ in stamps]
        for parent, child, static in edges:  # nearest first: left-multiply by each parent's transform
            if static:
                matrix = _matrix(self.static[(parent, child)])
                step: list[np.ndarray | None] = [matrix] * len(stamps)
            else:
                step = self.dynamic[(parent, child)].at(stamps, max_gap)
            out = [None if a is None or b is None else b @ a for a, b in zip(out, step)]
        return out


def _matrix(values: list[float]) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = quat_to_matrix(np.array(values[3:]))
    matrix[:3, 3] = values[:3]
    return matrix


def pose_message_sample(msgtype: str, msg: object) -> tuple[float, list[float], str | None]:
    """(seconds, [tx, ty, tz, qx, qy, qz, qw], child frame or None) of an Odometry / PoseStamped /
    PoseWithCovarianceStamped message: the pose of the child frame (only Odometry names it) in the world."""
    pose = msg.pose.pose if msgtype != "geometry_msgs/msg/PoseStamped" else msg.pose
    child = frame_name(msg.child_frame_id) if msgtype == ODOMETRY else None
    return stamp_seconds(msg.header.stamp), _vector7(pose.position, pose.orientation), child


def camera_poses(tree: TransformTree, camera_frame: str, stamps: np.ndarray, max_gap: float,
                 world_frame: str | None = None, pose_track: tuple[Trajectory, str | None] | None = None,
                 ) -> tuple[list[np.ndarray | None], str]:
    """Camera-to-world poses at ``stamps`` and a description of their source.

    With ``pose_track`` (a pose topic's samples and its child frame), the topic gives the child frame's pose and
    tf the fixed or moving transform from that child down to the camera (identity when tf does not connect them,
    i.e. the topic is taken as the camera's pose). Without, tf's chain from the camera up to ``world_frame`` is
    used, or up to the root when at least one of its edges moves; else no poses.
    """
    if pose_track is not None:
        track, child = pose_track
        base = track.at(stamps, max_gap)
        below: list[tuple[str, str, bool]] = []
        if child is not None and child != camera_frame:
            try:
                below = tree.chain(camera_frame, top=child)
            except KeyError:
                log.info("tf does not connect %r to the camera frame %r; the pose topic is taken as the camera's "
                         "pose", child, camera_frame)
        local = tree.transforms_at(below, stamps, max_gap)
        return [None if a is None or b is None else a @ b for a, b in zip(base, local)], "pose topic"
    try:
        edges = tree.chain(camera_frame, top=world_frame)
    except KeyError:
        log.warning("tf does not connect the camera frame %r to world_frame %r: frames get no pose", camera_frame,
                    world_frame)
        return [None] * len(stamps), "none"
    if world_frame is None and all(static for _, _, static in edges):
        return [None] * len(stamps), "none"  # a camera mount alone (base_link -> camera) says nothing of motion
    top = edges[-1][0]
    return tree.transforms_at(edges, stamps, max_gap), f"tf {top} -> {camera_frame}"
