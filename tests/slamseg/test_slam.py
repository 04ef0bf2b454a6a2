"""The SLAM core without files: synthetic frames in memory, tracking + fusion, statuses, loop closure, rebuild."""

from __future__ import annotations

import numpy as np
import pytest

from slamseg.fusion.keyframes import KeyframeStore, keyframes_from_arrays, keyframes_to_arrays, pose_distance
from slamseg.fusion.metrics import absolute_trajectory_error
from slamseg.fusion.odometry import make_tracking_image
from slamseg.fusion.params import TSDFParams
from slamseg.fusion.posegraph import LoopClosureConfig
from slamseg.fusion.tracking import TrackerConfig
from slamseg.fusion.tsdf import SemanticTSDF
from slamseg.sequences import Frame
from slamseg.sequences.synthetic import SyntheticSequence
from slamseg.slam import FrameRecord, SemanticSLAM, make_tracker


def _tsdf() -> SemanticTSDF:
    return SemanticTSDF(TSDFParams(voxel_size=0.04, block_count=2000), label_set="nyu13", probs_label_set="nyu40")


@pytest.fixture(scope="module")
def room_frames() -> list[Frame]:
    seq = SyntheticSequence(seed=3, num_frames=16, width=160, height=120, noise=True)
    return list(seq)


def test_core_tracks_and_fuses_a_synthetic_room(room_frames: list[Frame]) -> None:
    slam = SemanticSLAM(_tsdf(), make_tracker("keyframe", TrackerConfig(scale=1)), LoopClosureConfig())
    steps = [slam.step(f, probs=f.labels) for f in room_frames]
    assert [s.record.status for s in steps] == ["tracked"] * len(room_frames)
    assert all(s.record.fused and s.record.keyframe is not None for s in steps)
    assert steps[0].record.reference == "first frame" and np.array_equal(steps[0].pose, room_frames[0].pose)
    assert slam.map.frames_integrated == len(room_frames) and slam.map.num_blocks > 0
    assert all(set(s.timings) == {"tracking", "fusion"} for s in steps)
    result = slam.finish()
    assert result.counts() == {"tracked": len(room_frames), "recovered": 0, "predicted": 0, "lost": 0}
    gt = np.stack([f.pose for f in room_frames])
    est = np.stack([result.poses()[f.index] for f in room_frames])
    ate, _ = absolute_trajectory_error(gt, est)
    assert ate.rmse < 0.02
    # the map's labels come from the fused NYU-40 ground truth mapped to NYU-13
    view = slam.map.render(room_frames[5].camera, result.poses()[room_frames[5].index])
    assert (view.labels[view.valid] > 0).mean() > 0.9


def test_core_with_the_frames_own_poses_loses_frames_without_one(room_frames: list[Frame]) -> None:
    slam = SemanticSLAM(_tsdf(), make_tracker("gt"))
    frames = room_frames[:4]
    no_pose = Frame(index=frames[2].index, timestamp=frames[2].timestamp, rgb=frames[2].rgb, camera=frames[2].camera,
                    depth=frames[2].depth)
    for f in (frames[0], frames[1], no_pose, frames[3]):
        slam.step(f)
    statuses = [(r.status, r.fused) for r in slam.records]
    assert statuses == [("tracked", True), ("tracked", True), ("lost", False), ("tracked", True)]
    assert slam.map.frames_integrated == 3
    assert slam.finish().poses().keys() == {frames[0].index, frames[1].index, frames[3].index}


def test_frame_records_round_trip_through_json(room_frames: list[Frame]) -> None:
    import json

    slam = SemanticSLAM(_tsdf(), make_tracker("keyframe", TrackerConfig(scale=1)))
    for f in room_frames[:3]:
        slam.step(f)
    back = [FrameRecord.from_dict(json.loads(json.dumps(r.to_dict()))) for r in slam.records]
    for a, b in zip(slam.records, back):
        assert np.array_equal(a.pose, b.pose) and a.status == b.status and a.keyframe == b.keyframe


def test_rebuild_fuses_the_frames_again_at_the_final_poses(room_frames: list[Frame]) -> None:
    frames = room_frames[:6]
    slam = SemanticSLAM(_tsdf(), make_tracker("gt"))
    for f in frames:
        slam.step(f)
    shift = np.eye(4)
    shift[:3, 3] = [0.1, 0.0, 0.0]
    for r in slam.records:  # as if loop closure had moved every pose by 10 cm
        r.pose = shift @ r.pose
    rebuilt = slam.rebuild(_tsdf(), ((f, None, None) for f in frames))
    reference = _tsdf()
    for f in frames:
        reference.integrate(f.depth, f.rgb, None, f.camera, shift @ f.pose)
    assert slam.map is rebuilt and rebuilt.num_blocks == reference.num_blocks
    pose = shift @ frames[3].pose
    assert np.array_equal(rebuilt.render(frames[3].camera, pose).depth, reference.render(frames[3].camera, pose).depth)


def test_keyframes_are_selected_by_motion_and_survive_a_round_trip(room_frames: list[Frame]) -> None:
    store = KeyframeStore(min_translation=0.05, min_rotation_deg=3.0)
    for f in room_frames:
        if store.is_new_view(f.pose):
            store.add(f.index, f.timestamp, f.pose, make_tracking_image(f.depth, f.rgb, f.camera, 2))
    assert 2 <= len(store) < len(room_frames)
    for a, b in zip(store.keyframes[:-1], store.keyframes[1:]):
        dist, angle = pose_distance(a.pose, b.pose)
        assert dist >= 0.05 or angle >= 3.0
    assert store.nearest(room_frames[-1].pose)[0].id == store.keyframes[-1].id
    back = keyframes_from_arrays(keyframes_to_arrays(store.keyframes))
    assert [k.frame_index for k in back] == [k.frame_index for k in store.keyframes]
    assert np.array_equal(back[1].depth_mm, store[1].depth_mm) and back[1].camera == store[1].camera
    # stored at tracking resolution in millimetres: a quarter of the pixels, 2 + 3 bytes each
    assert store[0].nbytes == 80 * 60 * 5


@pytest.mark.slow
def test_pose_graph_closes_a_synthetic_loop() -> None:
    """One lap with Kinect noise: loop edges between the end and the start pull the drifted end back."""
    seq = SyntheticSequence(seed=5, num_frames=160, width=160, height=120, noise=True, trajectory="loop")
    slam = SemanticSLAM(_tsdf(), make_tracker("odometry", TrackerConfig(scale=1)),
                        LoopClosureConfig(max_distance=0.5, max_angle_deg=25.0))
    frames = list(seq)
    for f in frames:
        slam.step(f)
    before = {r.index: r.pose.copy() for r in slam.records}
    result = slam.finish()
    assert result.loops_kept >= 1 and result.counts()["tracked"] == len(frames)

    def end_drift(poses: dict[int, np.ndarray]) -> float:
        rel_est = np.linalg.inv(poses[0]) @ poses[len(frames) - 1]
        rel_gt = np.linalg.inv(frames[0].pose) @ frames[-1].pose
        return pose_distance(rel_est, rel_gt)[0]

    assert end_drift(result.poses()) < 0.5 * end_drift(before)


def test_frames_without_usable_depth_are_not_fused_and_tracking_starts_on_the_first_with_depth(
        room_frames: list[Frame]) -> None:
    slam = SemanticSLAM(_tsdf(), make_tracker("keyframe", TrackerConfig(scale=1)))
    blank = [Frame(index=f.index, timestamp=f.timestamp, rgb=f.rgb, camera=f.camera, depth=np.zeros_like(f.depth),
                   pose=f.pose) for f in room_frames[:2]]
    for f in (*blank, *room_frames[2:5]):
        slam.step(f)
    records = slam.records
    assert [(r.fused, r.reason) for r in records[:2]] == [(False, "no usable depth")] * 2
    assert records[2].reference == "first frame" and np.array_equal(records[2].pose, room_frames[2].pose)
    assert all(r.fused and r.status == "tracked" for r in records[2:])
    gt_slam = SemanticSLAM(_tsdf(), make_tracker("gt"))
    assert not gt_slam.step(blank[0]).record.fused and gt_slam.map.num_blocks == 0
