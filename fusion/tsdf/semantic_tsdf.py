"""Semantic TSDF: Open3D's tensor VoxelBlockGrid (tsdf, weight, colour) plus per-voxel class log-probabilities.

Geometry and colour go through Open3D's own integrate kernel. Open3D's kernels ignore extra attributes, so the
label attribute is updated by our numba kernel (fusion/tsdf/kernels.py) over the voxels of the same touched
blocks whose projective signed distance lies inside the truncation band. The hash map is grown before it can
overflow (DESIGN.md pitfalls); every numpy view of an attribute is fetched afresh after integrate because
growth reallocates the buffers.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import open3d as o3d
import open3d.core as o3c

from slamseg.fusion.bayes import MapLabelSets, prepare_probs
from slamseg.fusion.errors import MapError
from slamseg.fusion.params import TSDFParams
from slamseg.fusion.tsdf import kernels as kern
from slamseg.fusion.tsdf.raycast import (
    block_distance_grid,
    block_index_grid,
    block_range_map,
    camera_normals,
    raycast_kernel,
)
from slamseg.fusion.types import RenderedView
from slamseg.sequences import Camera, LabelSet

log = logging.getLogger(__name__)

OPEN3D_PLAIN_BYTES_PER_VOXEL = 4 + 4 + 3 * 4  # Open3D's own TSDF + weight + colour, float32 each


def depth_weights(depth: np.ndarray, params: TSDFParams) -> np.ndarray | None:
    """Per-pixel integration weight w(z) of params.depth_weighting (see TSDFParams); None for "constant".

    Args:
        depth: H x W float32 metres (0 = invalid).
    Returns:
        H x W float32 in [weight_min, 1], or None.
    """
    if params.depth_weighting == "constant":
        return None
    z = np.maximum(depth, 1e-6)
    if params.depth_weighting == "inverse_square":
        w = (params.weight_ref_depth / z) ** 2
    else:  # linear_falloff
        span = max(params.depth_max - params.weight_ref_depth, 1e-6)
        w = 1.0 - (z - params.weight_ref_depth) / span
    return np.clip(w, params.weight_min, 1.0).astype(np.float32)


class SemanticTSDF(MapLabelSets):
    """A dense TSDF whose voxels carry colour and a fused class distribution over ``label_set``.

    Args:
        params: integration parameters (voxel size, truncation, depth range, growth, label cadence...).
        label_set: the map's label set (name or object), default "nyu13" (K = 13).
        probs_label_set: the set the probabilities given to :meth:`integrate` are in, when it differs from the
            map's (e.g. "nyu40" network output into a "nyu13" map: mapped by summing source classes).
    """

    def __init__(
        self,
        params: TSDFParams | None = None,
        label_set: str | LabelSet = "nyu13",
        probs_label_set: str | LabelSet | None = None,
    ) -> None:
        self.params = (params or TSDFParams()).validate()
        super().__init__(label_set, probs_label_set)
        self._device = o3c.Device(self.params.device)
        self._vbg = self._new_grid(self.params.block_count)
        self._log_q: np.ndarray | None = None  # per-pixel log-probability buffer reused between frames
        self.frames_integrated = 0
        self.frames_labelled = 0
        self.growths = 0

    # ------------------------------------------------------------------ properties
    @property
    def voxel_grid(self) -> o3d.t.geometry.VoxelBlockGrid:
        """The underlying Open3D grid (attributes tsdf, weight, color, label)."""
        return self._vbg

    @property
    def capacity(self) -> int:
        """Hash-map capacity in blocks (grows automatically)."""
        return int(self._vbg.hashmap().capacity())

    @property
    def num_blocks(self) -> int:
        """Active (allocated) blocks."""
        return int(self._vbg.hashmap().size())

    def _new_grid(self, block_count: int) -> o3d.t.geometry.VoxelBlockGrid:
        return o3d.t.geometry.VoxelBlockGrid(
            ("tsdf", "weight", "color", "label"),
            (o3c.float32, o3c.float32, o3c.float32, o3c.int16),
            ((1), (1), (3), (self.num_classes)),
            self.params.voxel_size,
            self.params.block_resolution,
            int(block_count),
            self._device,
        )

    def _attr(self, name: str) -> np.ndarray:
        """Numpy view (shared memory on CPU) of an attribute: capacity x R x R x R x C."""
        return self._vbg.attribute(name).numpy()

    # ------------------------------------------------------------------ integration
    def ensure_capacity(self, incoming: int) -> None:
        """Grow the hash map (keeping every block's values) before ``incoming`` new blocks could overflow it."""
        hashmap = self._vbg.hashmap()
        size, cap = int(hashmap.size()), int(hashmap.capacity())
        needed = size + incoming
        if needed <= self.params.growth_threshold * cap:
            return
        new_cap = max(math.ceil(cap * self.params.growth_factor), math.ceil(needed / self.params.growth_threshold))
        t0 = time.perf_counter()
        hashmap.reserve(new_cap)
        self.growths += 1
        log.info(
            "semantic TSDF: grew block capacity %d -> %d (%d active, %d incoming) in %.1f ms",
            cap, int(hashmap.capacity()), size, incoming, 1e3 * (time.perf_counter() - t0),
        )

    def _check_inputs(self, depth: np.ndarray, rgb: np.ndarray | None, camera: Camera, pose: np.ndarray) -> None:
        if camera.distortion is not None and any(camera.distortion):
            raise MapError(f"semantic TSDF needs undistorted images; camera has distortion {camera.distortion}")
        if depth.shape != camera.shape:
            raise MapError(f"depth of shape {depth.shape} does not fit camera {camera.width}x{camera.height}")
        if rgb is not None and (rgb.shape != (*camera.shape, 3)):
            raise MapError(f"rgb of shape {rgb.shape} does not fit camera (expected {(*camera.shape, 3)})")
        if np.shape(pose) != (4, 4) or not np.all(np.isfinite(pose)):
            raise MapError(f"pose must be a finite 4x4 camera-to-world matrix, got shape {np.shape(pose)}")

    def integrate(
        self,
        depth: np.ndarray,
        rgb: np.ndarray | None,
        probs: np.ndarray | None,
        camera: Camera,
        pose: np.ndarray,
    ) -> dict[str, Any]:
        """Fuse one frame.

        Args:
            depth: H x W float32 metres, 0 = invalid; values outside [depth_min, depth_max] are ignored.
            rgb: H x W x 3 uint8 RGB, or None for geometry only.
            probs: H x W x K float32 class probabilities of ``probs_label_set`` (channel c = id c + 1), or H x W
                integer hard labels (one-hot with ``hard_label_confidence``), or None (no label update).
            camera: pinhole intrinsics of depth/rgb (undistorted).
            pose: 4 x 4 float64 camera-to-world.
        Returns:
            dict with ``blocks`` (touched), ``labelled_voxels`` (label updates this frame, 0 if skipped).
        """
        p = self.params
        depth = np.asarray(depth, dtype=np.float32)
        self._check_inputs(depth, rgb, camera, pose)
        depth = np.where((depth >= p.depth_min) & (depth <= p.depth_max), depth, np.float32(0.0))
        depth = np.ascontiguousarray(depth, dtype=np.float32)
        if not depth.any():
            # Open3D aborts ("No block is touched") on a frame without usable depth; such a frame (a blank
            # prediction, a sensor drop-out) simply adds nothing.
            log.debug("frame without depth in [%.2f, %.2f] m: nothing to integrate", p.depth_min, p.depth_max)
            self.frames_integrated += 1
            return {"blocks": 0, "labelled_voxels": 0}
        world_to_cam = np.linalg.inv(np.asarray(pose, dtype=np.float64))
        # Open3D computes voxel projections in float32; the kernels repeat them with the same float32 values
        extr32 = np.ascontiguousarray(world_to_cam[:3], dtype=np.float32)
        intr32 = np.array([camera.fx, camera.fy, camera.cx, camera.cy], dtype=np.float32)
        intr_t = o3c.Tensor(camera.K, o3c.float64)
        extr_t = o3c.Tensor(world_to_cam, o3c.float64)
        depth_img = o3d.t.geometry.Image(o3c.Tensor(depth, device=self._device))

        block_coords = self._vbg.compute_unique_block_coordinates(
            depth_img, intr_t, extr_t, 1.0, p.depth_max, p.trunc_voxels
        )
        n_blocks = int(block_coords.shape[0])
        self.frames_integrated += 1
        if n_blocks == 0:
            return {"blocks": 0, "labelled_voxels": 0}
        self.ensure_capacity(n_blocks)

        pix_weight = depth_weights(depth, p)
        snapshot = None
        if pix_weight is not None:
            self._vbg.hashmap().activate(block_coords)
            buf = self._vbg.hashmap().find(block_coords)[0].numpy().astype(np.int64)
            snapshot = (self._attr("tsdf")[buf], self._attr("weight")[buf], self._attr("color")[buf])

        if rgb is not None:
            color_img = o3d.t.geometry.Image(o3c.Tensor(np.asarray(rgb, dtype=np.float32), device=self._device))
            self._vbg.integrate(block_coords, depth_img, color_img, intr_t, extr_t, 1.0, p.depth_max, p.trunc_voxels)
        else:
            self._vbg.integrate(block_coords, depth_img, intr_t, extr_t, 1.0, p.depth_max, p.trunc_voxels)

        keys = block_coords.numpy()
        # Open3D's integrate may grow (rehash) the hash map itself, moving blocks to other buffer rows: the rows
        # are looked up again after it (the snapshot holds the old values in block order, which do not move).
        buf = self._vbg.hashmap().find(block_coords)[0].numpy().astype(np.int64)
        if snapshot is not None:
            old_t, old_w, old_c = snapshot
            colour = self._attr("color") if rgb is not None else np.zeros((0, 1, 1, 1, 3), np.float32)
            kern.reweight_kernel(
                self._attr("tsdf"), self._attr("weight"), colour, old_t, old_w, old_c, buf, keys,
                np.float32(p.voxel_size), extr32, intr32, pix_weight,
            )

        labelled = 0
        if probs is not None:
            q = prepare_probs(probs, self._label_set, self._probs_label_set, p.hard_label_confidence)
            if q.shape[:2] != camera.shape:
                raise MapError(f"class probabilities of shape {q.shape} do not fit camera {camera.shape}")
            labelled = self._fuse_labels(q, buf, keys, extr32, intr32, depth, pix_weight)
            self.frames_labelled += 1
        return {"blocks": n_blocks, "labelled_voxels": labelled}

    def _fuse_labels(
        self,
        q: np.ndarray,
        buf: np.ndarray,
        keys: np.ndarray,
        extr: np.ndarray,
        intr: np.ndarray,
        depth: np.ndarray,
        pix_weight: np.ndarray | None,
    ) -> int:
        """Bayes-update the labels of the band's voxels of the visited blocks with the H x W x K ``q``.

        Three passes (fusion/tsdf/kernels.py): find each voxel's pixel (the one Open3D fused it from), take logs
        at those pixels only (a fraction of the image: a full-image log was as costly as the update itself), then
        update the voxels.
        """
        p = self.params
        h, w = depth.shape
        needed = np.zeros((h, w), dtype=np.uint8)
        pix = kern.band_pixels_kernel(
            buf.shape[0], keys, p.block_resolution, np.float32(p.voxel_size), extr, intr, depth,
            np.float32(p.label_band), needed,
        )
        if self._log_q is None or self._log_q.shape != q.shape:
            # kept between frames: a fresh 16 MB buffer each frame costs thousands of page faults
            self._log_q = np.empty(q.shape, dtype=np.float32)
        kern.log_needed_kernel(np.ascontiguousarray(q, dtype=np.float32), needed, p.prob_floor, self._log_q)
        weights = np.zeros(0, np.float32) if pix_weight is None else np.ascontiguousarray(pix_weight).reshape(-1)
        return kern.apply_labels_kernel(
            self._attr("label"), buf, pix, self._log_q.reshape(h * w, -1), weights, p.label_clamp
        )

    # ------------------------------------------------------------------ queries
    def active_blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """(N x 3 int32 block coordinates, N int64 buffer indices) of the allocated blocks."""
        hashmap = self._vbg.hashmap()
        buf = hashmap.active_buf_indices()
        keys = hashmap.key_tensor()[buf].numpy().astype(np.int32)
        return keys, buf.numpy().astype(np.int64)

    def voxel_log_probs(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Label log-probabilities (up to a constant) of the voxels nearest to world points.

        Args:
            points: N x 3 float world coordinates in metres.
        Returns:
            (N x K float32 log-probabilities, zeros = uniform where no voxel exists; N bool, voxel exists).
        """
        res = self.params.block_resolution
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        vox = np.round(pts / self.params.voxel_size).astype(np.int64)
        block = np.floor_divide(vox, res)
        local = vox - block * res
        out = np.zeros((len(pts), self.num_classes), dtype=np.float32)
        if len(pts) == 0:
            return out, np.zeros(0, dtype=bool)
        ukeys, inverse = np.unique(block, axis=0, return_inverse=True)
        buf_t, found_t = self._vbg.hashmap().find(o3c.Tensor(ukeys.astype(np.int32), device=self._device))
        buf, found = buf_t.numpy().astype(np.int64)[inverse.ravel()], found_t.numpy()[inverse.ravel()]
        labels = self._attr("label")
        out[found] = labels[buf[found], local[found, 2], local[found, 1], local[found, 0]] / kern.LABEL_SCALE
        return out, found

    @property
    def bytes_per_voxel(self) -> int:
        """Bytes one voxel takes: tsdf, weight (float32), colour (3 float32) and K int16 label values."""
        return OPEN3D_PLAIN_BYTES_PER_VOXEL + 2 * self.num_classes

    def stats(self) -> dict[str, Any]:
        """Counters and memory of the map (JSON-friendly): the keys every map has (see fusion/types.py) and the
        TSDF's own. ``memory_bytes`` counts the allocated capacity (what the process holds), ``active_bytes`` the
        blocks in use; ``bytes_vs_open3d_plain`` compares with Open3D's plain TSDF + weight + colour."""
        res3 = self.params.block_resolution ** 3
        memory = self.capacity * res3 * self.bytes_per_voxel
        return {
            "type": "tsdf",
            "frames": self.frames_integrated,
            "memory_bytes": memory,
            "active_bytes": self.num_blocks * res3 * self.bytes_per_voxel,
            "bytes_per_voxel": self.bytes_per_voxel,
            "bytes_vs_open3d_plain": self.bytes_per_voxel / OPEN3D_PLAIN_BYTES_PER_VOXEL,
            "frames_integrated": self.frames_integrated,
            "frames_labelled": self.frames_labelled,
            "active_blocks": self.num_blocks,
            "block_capacity": self.capacity,
            "growths": self.growths,
            "voxel_size_m": self.params.voxel_size,
            "num_classes": self.num_classes,
            "label_set": self._label_set.name,
            "attribute_memory_mb": memory / 2**20,
        }

    # ------------------------------------------------------------------ rendering
    def render(self, camera: Camera, pose: np.ndarray, with_probs: bool = False,
               with_labels: bool = True) -> RenderedView:
        """Ray-cast the map into ``camera`` at ``pose`` (4 x 4 camera-to-world).

        Returns a :class:`RenderedView`: depth (z, metres), camera-frame normals facing the camera, RGB colour,
        labels (argmax of the trilinear mixture of the hit's 8 neighbour voxels' distributions; 0 where nothing
        was hit or no neighbour was ever labelled) and, with ``with_probs``, the mixture itself (H x W x K).
        ``with_labels=False`` (what tracking asks for) skips the label mixture: labels are all 0, depth, normals
        and colour are the same. Ray casting is ours (fusion/tsdf/raycast.py), not Open3D's (see there why).
        """
        p = self.params
        h, w = camera.shape
        empty = RenderedView(
            depth=np.zeros((h, w), np.float32), normals=np.zeros((h, w, 3), np.float32),
            colour=np.zeros((h, w, 3), np.uint8), labels=np.zeros((h, w), np.int32),
            probs=np.zeros((h, w, self.num_classes), np.float32) if with_probs else None,
        )
        if self.num_blocks == 0:
            return empty
        keys, buf = self.active_blocks()
        grid, origin = block_index_grid(keys, buf)
        pose = np.asarray(pose, dtype=np.float64)
        intr = np.array([camera.fx, camera.fy, camera.cx, camera.cy], dtype=np.float64)
        ranges = block_range_map(keys, p.block_resolution, p.voxel_size, np.linalg.inv(pose), intr, h, w,
                                 p.depth_min, p.depth_max)
        depth, grad, colour, probs, labels = raycast_kernel(
            self._attr("tsdf"), self._attr("weight"), self._attr("color"), self._attr("label"), grid, origin,
            block_distance_grid(grid), ranges, p.voxel_size, p.trunc, pose, intr, h, w, p.depth_min, p.depth_max,
            p.weight_threshold, with_labels or with_probs,
        )
        hit = depth > 0
        normals = camera_normals(grad @ pose[:3, :3].astype(np.float32), camera, hit)
        # Open3D stores float colour input multiplied by 255 (it expects [0, 1] floats; we give 0..255).
        colour = np.clip(np.round(colour / 255.0), 0, 255).astype(np.uint8)
        return RenderedView(depth=depth, normals=normals, colour=colour, labels=labels,
                            probs=probs if with_probs else None)

    # ------------------------------------------------------------------ extraction
    def extract_mesh(self, with_probs: bool = False) -> Any:
        """Marching-cubes mesh with per-vertex labels, RGB and class colours (see fusion/export.py)."""
        from slamseg.fusion.export import semantic_mesh_from_tsdf

        return semantic_mesh_from_tsdf(self, with_probs=with_probs)

    def extract_point_cloud(self, with_probs: bool = False) -> Any:
        """Zero-crossing points with per-point labels, RGB and class colours (see fusion/export.py)."""
        from slamseg.fusion.export import semantic_points_from_tsdf

        return semantic_points_from_tsdf(self, with_probs=with_probs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, compress: bool = True) -> Path:
        """Write the map to one ``.npz`` (active blocks' attributes + JSON metadata, docs/FORMATS.md), atomically.

        ``compress=False`` writes ~10x faster and ~3x larger (run snapshots, which are deleted at the end)."""
        from slamseg.fusion.tsdf.persistence import save_tsdf

        return save_tsdf(self, path, compress)

    @classmethod
    def load(cls, path: str | Path) -> SemanticTSDF:
        """Read a map written by :meth:`save`; raises MapError naming the file when it is not one."""
        from slamseg.fusion.tsdf.persistence import load_tsdf

        return load_tsdf(cls, path)
