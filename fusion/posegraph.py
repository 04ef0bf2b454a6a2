"""Loop closure over keyframes: candidates by pose proximity, a geometric check, Open3D's pose-graph optimisation.

Nodes are keyframes (camera-to-world poses). Consecutive keyframes are joined by odometry edges (their current
relative pose, weighted by the information matrix of their depth correspondences). A loop candidate is an earlier,
non-adjacent keyframe whose camera is near (``max_distance``, ``max_angle_deg``); it becomes an edge only when
RGB-D odometry between the two views converges and passes the tracker's acceptance checks (overlap, depth inliers,
RMSE). Open3D's ``global_optimization`` (Levenberg-Marquardt with line processes) then optimises the graph and
prunes loop edges that disagree with the rest (``edge_prune_threshold``).

Frames that are not keyframes follow the keyframe they were anchored to: ``P' = K' K^-1 P``.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np

from slamseg.fusion.keyframes import Keyframe, pose_distance
from slamseg.fusion.odometry import check_alignment, information_matrix, odometry_between
from slamseg.fusion.tracking import FailureThresholds

log = logging.getLogger(__name__)


@dataclass
class LoopClosureConfig:
    """When keyframes are joined by loop edges and how the graph is optimised.

    Attributes:
        enabled: detect loops and optimise at all.
        max_distance: metres between camera centres of a candidate pair.
        max_angle_deg: degrees between their viewing directions (overlap needs similar views).
        max_candidates: nearest candidates checked per keyframe.
        min_separation: keyframes between a pair (in creation order): nearer ones are already joined by odometry,
            and a loop is about coming back.
        method: odometry of the geometric check ("hybrid", "intensity" or "point_to_plane").
        iterations: per pyramid level of that odometry, finest first.
        depth_max: metres. distance: metres, correspondence distance of odometry and information matrices.
        thresholds: acceptance of a loop edge (the tracker's checks; ``max_correction`` bounds the drift a loop
            may correct).
        edge_prune_threshold: Open3D's line-process threshold (loop edges below it are pruned as false).
        preference_loop_closure: Open3D's weight of loop edges against odometry edges.
        line_process_distance: metres; Open3D's line-process scale (``max_correspondence_distance``): loop edges
            whose residual is large against it are down-weighted as likely false.
    """

    enabled: bool = True
    max_distance: float = 1.0
    max_angle_deg: float = 30.0
    max_candidates: int = 3
    min_separation: int = 5
    method: str = "hybrid"
    iterations: tuple[int, ...] = (10, 5, 3)
    depth_max: float = 4.0
    distance: float = 0.07
    thresholds: FailureThresholds = field(default_factory=lambda: FailureThresholds(min_overlap=0.4,
                                                                                    max_correction=0.5))
    edge_prune_threshold: float = 0.25
    preference_loop_closure: float = 1.0
    line_process_distance: float = 0.07


def loop_closure_for(depth_source: str, depth_max: float = 4.0, enabled: bool = True) -> LoopClosureConfig:
    """Loop-closure settings for sensor depth, or for predicted depth (photometric check, looser depth
    agreement: see TrackerConfig.depth_source)."""
    if depth_source == "predicted":
        return LoopClosureConfig(enabled=enabled, method="intensity", depth_max=depth_max, thresholds=FailureThresholds(
            min_overlap=0.4, max_correction=0.5, inlier_distance=0.1, max_rmse=0.15))
    return LoopClosureConfig(enabled=enabled, depth_max=depth_max)


@dataclass
class PoseGraphEdge:
    """A relative-pose constraint: ``transform`` maps ``source``'s camera frame into ``target``'s."""

    source: int
    target: int
    transform: np.ndarray
    information: np.ndarray
    loop: bool
    inlier_ratio: float = 1.0


def odometry_edges(keyframes: list[Keyframe], config: LoopClosureConfig) -> list[PoseGraphEdge]:
    """Edges between consecutive keyframes from their current poses."""
    edges = []
    for a, b in itertools.pairwise(keyframes):
        motion = np.linalg.inv(a.pose) @ b.pose  # b's frame -> a's frame
        info = information_matrix(b.image(), a.image(), motion, config.distance, config.depth_max)
        edges.append(PoseGraphEdge(b.id, a.id, motion, info, loop=False))
    return edges


def verify_loop(newer: Keyframe, older: Keyframe, config: LoopClosureConfig) -> PoseGraphEdge | None:
    """Odometry from ``newer`` to ``older`` from their current relative pose; an edge when it is accepted."""
    th = config.thresholds
    src, dst = newer.image(), older.image()
    guess = np.linalg.inv(older.pose) @ newer.pose
    try:
        est = odometry_between(src, dst, guess, config.method, config.depth_max, config.distance, config.iterations)
    except RuntimeError:
        return None
    if not np.all(np.isfinite(est.motion)):
        return None
    check = check_alignment(src, dst, est.motion, th.inlier_distance)
    corr_m, corr_deg = pose_distance(guess, est.motion)
    if th.rejection(check, est.min_info_eig(src.depth.size), corr_m, corr_deg) is not None:
        return None
    # the odometry's information matrix is the edge's: the same correspondences within config.distance
    info = est.info.astype(np.float64)
    return PoseGraphEdge(newer.id, older.id, est.motion, info, loop=True, inlier_ratio=check.inlier_ratio)


def loop_candidates(keyframes: list[Keyframe], newer: Keyframe, config: LoopClosureConfig) -> list[Keyframe]:
    """Earlier keyframes, at least ``min_separation`` back, near ``newer``: nearest first, ``max_candidates``."""
    scored = []
    for kf in keyframes:
        if kf.id > newer.id - config.min_separation:
            continue
        dist, angle = pose_distance(kf.pose, newer.pose)
        if dist <= config.max_distance and angle <= config.max_angle_deg:
            scored.append((dist / config.max_distance + angle / config.max_angle_deg, kf.id))
    by_id = {kf.id: kf for kf in keyframes}
    return [by_id[i] for _, i in sorted(scored)[: config.max_candidates]]


def detect_loops(keyframes: list[Keyframe], config: LoopClosureConfig) -> list[PoseGraphEdge]:
    """Verified loop edges of every keyframe with its candidates."""
    loops = []
    for kf in keyframes:
        for other in loop_candidates(keyframes, kf, config):
            edge = verify_loop(kf, other, config)
            if edge is not None:
                loops.append(edge)
    log.info("loop closure: %d verified loop edges among %d keyframes", len(loops), len(keyframes))
    return loops


def optimise(keyframes: list[Keyframe], edges: list[PoseGraphEdge], config: LoopClosureConfig
             ) -> tuple[dict[int, np.ndarray], int]:
    """Optimise the keyframe poses; returns ({keyframe id: new 4 x 4 pose}, loop edges kept after pruning).

    The first keyframe is held fixed (it defines the world frame).
    """
    import open3d as o3d

    reg = o3d.pipelines.registration
    ids = [kf.id for kf in keyframes]
    node_of = {kf_id: n for n, kf_id in enumerate(ids)}
    graph = reg.PoseGraph()
    for kf in keyframes:
        graph.nodes.append(reg.PoseGraphNode(np.asarray(kf.pose, np.float64)))
    for e in edges:
        graph.edges.append(reg.PoseGraphEdge(node_of[e.source], node_of[e.target], e.transform, e.information,
                                             uncertain=e.loop))
    option = reg.GlobalOptimizationOption(max_correspondence_distance=config.line_process_distance,
                                          edge_prune_threshold=config.edge_prune_threshold,
                                          preference_loop_closure=config.preference_loop_closure,
                                          reference_node=0)
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        reg.global_optimization(graph, reg.GlobalOptimizationLevenbergMarquardt(),
                                reg.GlobalOptimizationConvergenceCriteria(), option)
    kept = sum(1 for e in graph.edges if e.uncertain)
    return {kf_id: np.asarray(graph.nodes[node_of[kf_id]].pose).copy() for kf_id in ids}, kept


def close_loops(keyframes: list[Keyframe], config: LoopClosureConfig) -> tuple[dict[int, np.ndarray], int, int]:
    """Detect loops, optimise, and return ({keyframe id: optimised pose}, loop edges found, loop edges kept).

    With no verified loop the poses come back unchanged (odometry edges alone do not move anything).
    """
    if not config.enabled or len(keyframes) < 3:
        return {kf.id: kf.pose.copy() for kf in keyframes}, 0, 0
    loops = detect_loops(keyframes, config)
    if not loops:
        return {kf.id: kf.pose.copy() for kf in keyframes}, 0, 0
    poses, kept = optimise(keyframes, odometry_edges(keyframes, config) + loops, config)
    return poses, len(loops), kept


def correct_pose(pose: np.ndarray, anchor_before: np.ndarray, anchor_after: np.ndarray) -> np.ndarray:
    """A frame's pose moved with its anchor keyframe: ``anchor_after @ anchor_before^-1 @ pose``."""
    return anchor_after @ np.linalg.inv(anchor_before) @ pose
