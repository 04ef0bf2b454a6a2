"""ROS 1 bags and ROS 2 bag folders (SQLite and MCAP) written by the test with rosbags itself: raw and compressed
colour, 16UC1 / 32FC1 / compressedDepth depth, CameraInfo, tf chains and odometry."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from slamseg.sequences import SequenceFormatError, detect_format, open_sequence
from slamseg.sequences.poses import matrix_to_quat
from slamseg.sequences.readers import rosbag_messages as rm
from tests.sequences.rgbd_layouts import CAMERA, depth_mm, reconstruct_and_check, room_views

T0 = 1_700_000_000  # seconds; frames every 1/30 s, depth stamped 5 ms after colour
OPTICAL = "camera_rgb_optical_frame"
# a fixed camera mount: the optical frame 10 cm to the side of base_link and rotated about z
MOUNT = np.eye(4)
MOUNT[:3, :3] = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
MOUNT[:3, 3] = [0.1, 0.0, 0.0]


class BagWriter:
    """Writes sensor messages with rosbags into a ROS 1 bag (``ros2=False``) or a ROS 2 bag folder."""

    def __init__(self, path: Path, ros2: bool, storage: StoragePlugin = StoragePlugin.SQLITE3) -> None:
        self.ros2 = ros2
        self.store = get_typestore(Stores.ROS2_HUMBLE if ros2 else Stores.ROS1_NOETIC)
        if not ros2:  # Noetic's store lacks tf2_msgs: register it from its definition
            self.store.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms",
                                                   "tf2_msgs/msg/TFMessage"))
        self.writer = Writer2(path, version=9, storage_plugin=storage) if ros2 else Writer1(path)
        self.writer.open()
        self.connections: dict[str, object] = {}
        self.t = self.store.types

    def header(self, stamp: float, frame: str) -> object:
        sec, nanosec = int(stamp), round((stamp - int(stamp)) * 1e9)
        time = self.t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
        extra = {} if self.ros2 else {"seq": 0}
        return self.t["std_msgs/msg/Header"](stamp=time, frame_id=frame, **extra)

    def write(self, topic: str, msg: object, stamp: float) -> None:
        msgtype = msg.__msgtype__
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(topic, msgtype, typestore=self.store)
        data = self.store.serialize_cdr(msg, msgtype) if self.ros2 else self.store.serialize_ros1(msg, msgtype)
        self.writer.write(self.connections[topic], round(stamp * 1e9), data)

    def image(self, topic: str, stamp: float, array: np.ndarray, encoding: str, frame: str = OPTICAL) -> None:
        data = np.ascontiguousarray(array)
        msg = self.t["sensor_msgs/msg/Image"](
            header=self.header(stamp, frame), height=data.shape[0], width=data.shape[1], encoding=encoding,
            is_bigendian=0, step=data.strides[0], data=data.view(np.uint8).reshape(-1))
        self.write(topic, msg, stamp)

    def compressed(self, topic: str, stamp: float, payload: bytes, fmt: str) -> None:
        msg = self.t["sensor_msgs/msg/CompressedImage"](header=self.header(stamp, OPTICAL), format=fmt,
                                                         data=np.frombuffer(payload, np.uint8))
        self.write(topic, msg, stamp)

    def camera_info(self, topic: str, stamp: float) -> None:
        k = CAMERA.K.reshape(-1)
        p = np.hstack([CAMERA.K, np.zeros((3, 1))]).reshape(-1)
        names = ("d", "k", "r", "p") if self.ros2 else ("D", "K", "R", "P")
        values = dict(zip(names, (np.zeros(5), k, np.eye(3).reshape(-1), p)))
        roi = self.t["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        msg = self.t["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp, OPTICAL), height=CAMERA.height, width=CAMERA.width,
            distortion_model="plumb_bob", binning_x=0, binning_y=0, roi=roi, **values)
        self.write(topic, msg, stamp)

    def _pose_parts(self, pose: np.ndarray) -> tuple[object, object]:
        g = self.t
        qx, qy, qz, qw = matrix_to_quat(pose[:3, :3])
        return (g["geometry_msgs/msg/Vector3"](x=pose[0, 3], y=pose[1, 3], z=pose[2, 3]),
                g["geometry_msgs/msg/Quaternion"](x=qx, y=qy, z=qz, w=qw))

    def tf(self, stamp: float, parent: str, child: str, pose: np.ndarray, static: bool = False) -> None:
        g = self.t
        translation, rotation = self._pose_parts(pose)
        transform = g["geometry_msgs/msg/TransformStamped"](
            header=self.header(stamp, parent), child_frame_id=child,
            transform=g["geometry_msgs/msg/Transform"](translation=translation, rotation=rotation))
        self.write("/tf_static" if static else "/tf", g["tf2_msgs/msg/TFMessage"](transforms=[transform]), stamp)

    def odometry(self, topic: str, stamp: float, pose: np.ndarray, child: str) -> None:
        g = self.t
        translation, rotation = self._pose_parts(pose)
        position = g["geometry_msgs/msg/Point"](x=translation.x, y=translation.y, z=translation.z)
        msg = g["nav_msgs/msg/Odometry"](
            header=self.header(stamp, "odom"), child_frame_id=child,
            pose=g["geometry_msgs/msg/PoseWithCovariance"](pose=g["geometry_msgs/msg/Pose"](
                position=position, orientation=rotation), covariance=np.zeros(36)),
            twist=g["geometry_msgs/msg/TwistWithCovariance"](twist=g["geometry_msgs/msg/Twist"](
                linear=g["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0),
                angular=g["geometry_msgs/msg/Vector3"](x=0.0, y=0.0, z=0.0)), covariance=np.zeros(36)))
        self.write(topic, msg, stamp)

    def close(self) -> None:
        self.writer.close()


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def _write_ros1(path: Path, views: list) -> Path:
    """rgb8 + registered 16UC1 depth + camera_info; tf: world -> base_link (moving) -> optical frame (static)."""
    bag = BagWriter(path, ros2=False)
    bag.tf(T0, "base_link", OPTICAL, MOUNT, static=True)
    for k, (rgb, depth, _) in enumerate(views):
        t = T0 + k / 30.0
        # tf at 60 Hz: at the frame and half-way to the next; the colour stamp (not depth's) hits the first
        for half in (0.0, 0.5):
            pose_base = _interpolated(views, k + half) @ np.linalg.inv(MOUNT)
            bag.tf(t + half / 30.0, "/world", "base_link", pose_base)
        bag.image("/camera/rgb/image_color", t, rgb, "rgb8")
        bag.image("/camera/depth_registered/image_raw", t + 0.005, depth_mm(depth), "16UC1")
        bag.camera_info("/camera/rgb/camera_info", t)
    bag.close()
    return path


def _interpolated(views: list, x: float) -> np.ndarray:
    """Camera pose at fractional frame ``x`` (linear in translation, slerp in rotation; exact at frames)."""
    from slamseg.sequences.poses import interpolate_pose

    stamps = np.arange(-1, len(views) + 1, dtype=float)
    poses = np.stack([views[0][2], *[v[2] for v in views], views[-1][2]])
    return interpolate_pose(stamps, poses, x, max_gap=2.0)


@pytest.fixture(scope="module")
def ros1_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    views = room_views(4)
    return _write_ros1(tmp_path_factory.mktemp("ros1") / "room.bag", views), views


def test_ros1_bag_round_trip_with_a_tf_chain(ros1_bag: tuple[Path, list]) -> None:
    path, views = ros1_bag
    assert detect_format(path) == "rosbag"
    seq = open_sequence(path)
    assert len(seq) == 4 and seq.name == "room" and seq.camera == CAMERA
    frames = list(seq)
    for k, frame in enumerate(frames):
        rgb, depth, pose = views[k]
        assert frame.timestamp == pytest.approx(T0 + k / 30.0, abs=1e-6)
        assert frame.meta["time_diff"] == pytest.approx(0.005, abs=1e-6)
        assert np.array_equal(frame.rgb, rgb)
        assert np.allclose(frame.depth, depth_mm(depth) / 1000.0, atol=1e-6)
        assert np.allclose(frame.pose, pose, atol=1e-6)  # world -> base_link -> optical frame, interpolated
    # random access backwards and forwards gives the same frames as iteration
    for k in (3, 0, 2, 1):
        assert np.array_equal(seq[k].rgb, frames[k].rgb) and np.array_equal(seq[k].depth, frames[k].depth)
    # up to base_link only: the fixed mount, the optical frame's pose in base_link
    mount = open_sequence(path, world_frame="base_link")
    assert np.allclose(mount[2].pose, MOUNT, atol=1e-9)


def test_reconstruct_from_a_ros1_bag(ros1_bag: tuple[Path, list]) -> None:
    reconstruct_and_check(open_sequence(ros1_bag[0]))


def test_ros2_sqlite_bag_bgr8_32fc1_and_odometry(tmp_path: Path) -> None:
    views = room_views(3)
    bag = BagWriter(tmp_path / "ros2bag", ros2=True)
    for k, (rgb, depth, pose) in enumerate(views):
        t = T0 + k / 30.0
        bag.odometry("/odom", t, pose, child=OPTICAL)
        metres = depth.copy()
        metres[0, :4] = np.nan  # 32FC1 marks no measurement with NaN
        bag.image("/camera/color/image_raw", t, rgb[:, :, ::-1], "bgr8")
        bag.image("/camera/aligned_depth_to_color/image_raw", t + 0.005, metres, "32FC1")
        bag.image("/camera/depth/image_rect_raw", t + 0.005, depth_mm(depth), "16UC1")  # unaligned: not chosen
        bag.camera_info("/camera/color/camera_info", t)
    bag.close()
    seq = open_sequence(tmp_path / "ros2bag")
    assert len(seq) == 3 and seq.camera == CAMERA
    for k, frame in enumerate(seq):
        rgb, depth, pose = views[k]
        assert np.array_equal(frame.rgb, rgb)
        assert frame.depth[0, :4].tolist() == [0.0] * 4 and np.array_equal(frame.depth[1:], depth[1:])
        assert np.allclose(frame.pose, pose, atol=1e-9)
    unaligned = open_sequence(tmp_path / "ros2bag", depth_topic="/camera/depth/image_rect_raw")
    assert np.allclose(unaligned[1].depth, depth_mm(views[1][1]) / 1000.0, atol=1e-6)


def test_ros2_mcap_bag_compressed_colour_and_depth(tmp_path: Path) -> None:
    views = room_views(2)
    bag = BagWriter(tmp_path / "mcapbag", ros2=True, storage=StoragePlugin.MCAP)
    for k, (rgb, depth, _) in enumerate(views):
        t = T0 + k / 30.0
        bag.compressed("/camera/color/image_raw/compressed", t, _png(rgb), "rgb8; png compressed bgr8")
        header = struct.pack("<iff", 0, 0.0, 0.0)  # image_transport's ConfigHeader before the PNG
        bag.compressed("/camera/depth/image_raw/compressedDepth", t, header + _png(depth_mm(depth)),
                       "16UC1; compressedDepth png")
        bag.camera_info("/camera/color/camera_info", t)
    bag.close()
    seq = open_sequence(tmp_path / "mcapbag" / "mcapbag.mcap")  # the file inside the folder opens the folder
    assert len(seq) == 2
    frame = seq[1]
    assert np.array_equal(frame.rgb, views[1][0]) and frame.pose is None
    assert np.allclose(frame.depth, depth_mm(views[1][1]) / 1000.0, atol=1e-6)


def test_topic_choice_and_bad_bags_give_one_clear_error(tmp_path: Path) -> None:
    rgb, depth, _ = room_views(1)[0]
    bag = BagWriter(tmp_path / "two_cameras", ros2=True)
    for topic in ("/left/image_raw", "/right/image_raw"):
        bag.image(topic, T0, rgb, "rgb8")
    bag.image("/depth/image_raw", T0, depth_mm(depth), "16UC1")
    bag.close()
    with pytest.raises(SequenceFormatError, match=r"2 colour image topics \(/left/image_raw, /right/image_raw\); "
                                                  r"pass rgb_topic=.*Image rgb8 64x48"):
        open_sequence(tmp_path / "two_cameras")
    with pytest.raises(SequenceFormatError, match=r"no sensor_msgs/CameraInfo for /left/image_raw"):
        open_sequence(tmp_path / "two_cameras", rgb_topic="/left/image_raw")
    seq = open_sequence(tmp_path / "two_cameras", rgb_topic="/left/image_raw", camera=CAMERA.to_dict())
    assert len(seq) == 1 and seq[0].pose is None
    # a camera with lens distortion: frames are undistorted (colour bilinear, depth nearest), as TUM's
    distorted = {**CAMERA.to_dict(), "distortion": [0.2, 0.0, 0.0, 0.0, 0.0]}
    seq = open_sequence(tmp_path / "two_cameras", rgb_topic="/left/image_raw", camera=distorted)
    assert seq.camera.distortion is None and seq[0].meta["undistorted"]
    assert not np.array_equal(seq[0].depth, depth_mm(depth) / 1000.0)
    with pytest.raises(SequenceFormatError, match=r"/depth/image_raw \(first message\): expected a colour image, "
                                                  r"got encoding '16UC1'"):
        open_sequence(tmp_path / "two_cameras", rgb_topic="/depth/image_raw", camera=CAMERA.to_dict())
    with pytest.raises(SequenceFormatError, match=r"rgb_topic='/front' is not an image topic"):
        open_sequence(tmp_path / "two_cameras", rgb_topic="/front")

    bag = BagWriter(tmp_path / "no_images", ros2=True)
    bag.odometry("/odom", T0, np.eye(4), child="base_link")
    bag.close()
    with pytest.raises(SequenceFormatError, match=r"no_images: no sensor_msgs/Image .* \(topics in the bag: /odom "
                                                  r"\(nav_msgs/msg/Odometry\)\)"):
        open_sequence(tmp_path / "no_images")

    broken = tmp_path / "broken.bag"
    broken.write_bytes(b"#ROSBAG V2.0\n" + b"\x00" * 64)
    assert detect_format(broken) == "rosbag"
    with pytest.raises(SequenceFormatError, match=r"broken.bag: cannot read the bag"):
        open_sequence(broken)


def _msg(**fields: object) -> SimpleNamespace:
    return SimpleNamespace(**fields)


def test_message_decoding_encodings_padding_and_byte_order() -> None:
    rgba = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    padded = np.zeros((2, 16), np.uint8)  # rows of 12 bytes padded to a step of 16
    padded[:, :12] = rgba.reshape(2, 12)
    msg = _msg(encoding="bgra8", height=2, width=3, step=16, is_bigendian=0, data=padded.reshape(-1))
    assert np.array_equal(rm.decode_colour(rm.IMAGE, msg, "t"), rgba[:, :, [2, 1, 0]])
    mono = _msg(encoding="mono8", height=2, width=3, step=3, is_bigendian=0, data=np.arange(6, dtype=np.uint8))
    assert rm.decode_colour(rm.IMAGE, mono, "t")[1, 2].tolist() == [5, 5, 5]
    big = np.array([[1000, 65535]], dtype=">u2")
    msg = _msg(encoding="16UC1", height=1, width=2, step=4, is_bigendian=1, data=big.view(np.uint8).reshape(-1))
    assert rm.decode_depth(rm.IMAGE, msg, "t")[0] == pytest.approx([1.0, 65.535])
    with pytest.raises(SequenceFormatError, match=r"t: unsupported image encoding 'bayer_rggb8'"):
        rm.decode_colour(rm.IMAGE, _msg(encoding="bayer_rggb8", height=1, width=1, step=1, is_bigendian=0,
                                        data=np.zeros(1, np.uint8)), "t")
    short = _msg(encoding="rgb8", height=2, width=3, step=9, is_bigendian=0, data=np.zeros(10, np.uint8))
    with pytest.raises(SequenceFormatError, match=r"t: rgb8 image of 3x2 needs rows of 9 bytes; got step 9 and 10"):
        rm.decode_colour(rm.IMAGE, short, "t")
    # compressedDepth of 32FC1: quantised inverse depth, depth = a / (value - b); 0 = no measurement
    quant_a, quant_b = 100.0, 10.0
    inverse = np.array([[0, 60, 110]], dtype=np.uint16)
    payload = struct.pack("<iff", 0, quant_a, quant_b) + _png(inverse)
    msg = _msg(format="32FC1; compressedDepth png", data=np.frombuffer(payload, np.uint8))
    assert rm.decode_depth(rm.COMPRESSED, msg, "t").tolist() == [[0.0, 2.0, 1.0]]
    with pytest.raises(SequenceFormatError, match=r"compressedDepth with the RVL codec"):
        rm.decode_depth(rm.COMPRESSED, _msg(format="16UC1; compressedDepth rvl", data=np.zeros(4, np.uint8)), "t")


def test_camera_info_models() -> None:
    k = CAMERA.K.reshape(-1)
    p = np.hstack([CAMERA.K * [[0.5], [0.5], [1.0]], np.zeros((3, 1))]).reshape(-1)

    def info(model: str, d: list[float]) -> SimpleNamespace:
        return _msg(k=k, d=np.array(d), p=p, width=64, height=48, distortion_model=model)

    assert rm.camera_from_info(info("plumb_bob", [0.1, 0, 0, 0, 0]), "t").distortion == (0.1, 0, 0, 0, 0)
    assert rm.camera_from_info(info("rational_polynomial", [0.1, 0, 0, 0, 0, 0, 0, 0]), "t").distortion[0] == 0.1
    rectified = rm.camera_from_info(info("plumb_bob", [0.1, 0, 0, 0, 0]), "t", rectified=True)
    assert rectified.fx == CAMERA.fx / 2 and rectified.distortion is None
    with pytest.raises(SequenceFormatError, match=r"t: distortion model 'equidistant' .* pass undistort=False"):
        rm.camera_from_info(info("equidistant", [0.1, 0.0, 0.0, 0.0]), "t")
    assert rm.camera_from_info(info("equidistant", [0.1, 0, 0, 0]), "t", strict_distortion=False).distortion is None
    with pytest.raises(SequenceFormatError, match=r"t: CameraInfo holds no calibration"):
        rm.camera_from_info(_msg(k=np.zeros(9), d=np.zeros(0), p=np.zeros(12), width=64, height=48,
                                 distortion_model=""), "t")
