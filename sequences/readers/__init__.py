"""Dataset readers; importing this package registers every format with ``open_sequence``.

Order matters: detection tries formats in registration order, most specific first; the image folder, which
accepts any folder with images, comes last.
"""

from slamseg.sequences.readers import icl, image_folder, kitti, nyu_labeled, nyu_raw, rosbag, scannet, sevenscenes, tum
from slamseg.sequences.sequence import register_format

register_format(
    "nyu_labeled", nyu_labeled.detect_nyu_labeled,
    "NYU Depth v2 labelled set (nyu_depth_v2_labeled.mat, MATLAB v7.3 / HDF5)",
)(nyu_labeled.open_nyu_labeled)
register_format(
    "nyu_raw", nyu_raw.detect_nyu_raw, "NYU Depth v2 raw scene folder (d-*.pgm, r-*.ppm, a-*.dump)"
)(nyu_raw.open_nyu_raw)
register_format(
    "tum", tum.detect_tum, "TUM RGB-D folder (rgb.txt, depth.txt, groundtruth.txt) or slamseg's TUM-style layout"
)(tum.open_tum)
register_format(
    "icl_nuim", icl.detect_icl, "ICL-NUIM TUM-compatible folder (associations.txt, rgb/, depth/, *.gt.sim)"
)(icl.open_icl)
register_format(
    "redwood", icl.detect_redwood, "Redwood/Open3D RGB-D folder (color/, depth/ in mm, trajectory.log, camera json)"
)(icl.open_redwood)
register_format("kitti", kitti.detect_kitti, "KITTI raw drive folder (image_02/data, velodyne_points/data)")(
    kitti.open_kitti
)
register_format(
    "seven_scenes", sevenscenes.detect_seven_scenes,
    "7-Scenes / 3DMatch / tsdf-fusion folder (frame-NNNNNN.color.png|jpg, .depth.png in mm, .pose.txt)",
)(sevenscenes.open_seven_scenes)
register_format(
    "scannet", scannet.detect_scannet,
    "ScanNet SensReader export (color/N.jpg, depth/N.png in mm, pose/N.txt, intrinsic/)",
)(scannet.open_scannet)
register_format(
    "rosbag", rosbag.detect_rosbag,
    "ROS 1 .bag or ROS 2 bag folder (sensor_msgs Image/CompressedImage, CameraInfo, tf or odometry; rosbags)",
)(rosbag.open_rosbag)
register_format(
    "image_folder", image_folder.detect_image_folder, "any folder of images (+ optional depth_dir=...)"
)(image_folder.open_image_folder)
