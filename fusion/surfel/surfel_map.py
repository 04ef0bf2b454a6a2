"""Semantic surfel map in the style of ElasticFusion / SemanticFusion, numba-accelerated.

Each surfel has a position, normal, radius, colour, confidence, last-seen / created frame counters and a class
distribution over the map's K classes. One :meth:`SurfelMap.integrate` call:

1. vertex and normal maps of the depth image (normals from neighbour cross products), a per-pixel confidence
   (ElasticFusion's Gaussian of the normalised distance from the principal point, sigma 0.6) and radius
   (``sqrt(2) z / f``, enlarged for oblique views, capped at 2x);
2. an index map: every surfel centre projected into the frame, z-buffered;
3. data association per index-map cell (depth within ``depth_tol_abs + depth_tol_rel * z`` and normals within
   ``max_normal_angle_deg``) and confidence-weighted averaging of position, normal, colour and radius, plus
   SemanticFusion's label rule (p <- p * q, renormalise, uniform when the sum <= 1e-5);
4. a new surfel for every valid pixel that no surfel within ``assoc_window`` index-map cells explains;
5. removal of unstable surfels (confidence < ``stable_confidence`` and unseen for more than ``unstable_age``
   frames) and of unstable surfels found in observed free space.

Not done (documented limits): ElasticFusion's 4x super-sampled index map (a search window replaces it), surfel
merging, deformation-graph loop closure and the active/inactive time window.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slamseg.fusion.bayes import MapLabelSets, prepare_probs
from slamseg.fusion.errors import MapError
from slamseg.fusion.maps import CORRUPT_ARCHIVE
from slamseg.fusion.params import SurfelParams
from slamseg.fusion.surfel import kernels, render
from slamseg.fusion.types import RenderedView
from slamseg.sequences import Camera, LabelSet
from slamseg.sequences.atomic import atomic_path

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_ARRAYS = ("pos", "nrm", "rad", "col", "conf", "t_last", "t_init", "probs")


@dataclass
class SurfelCloud:
    """The semantic point cloud of a surfel map (what :meth:`SurfelMap.point_cloud` returns).

    Attributes: points N x 3 float32 world metres; normals N x 3 float32; radii N float32 metres; colours N x 3
    uint8 RGB; labels N int32 class ids (argmax + 1); probs N x K float32; confidence N float32.
    """

    points: np.ndarray
    normals: np.ndarray
    radii: np.ndarray
    colours: np.ndarray
    labels: np.ndarray
    probs: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.points.shape[0])


@dataclass
class _FrameStats:
    fused: int = 0
    created: int = 0
    removed: int = 0
    ms: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)


class SurfelMap(MapLabelSets):
    """Semantic surfel map; implements the common map API (fusion/types.py ``SemanticMap``).

    Args (in the order of :class:`SemanticTSDF`'s):
        params: :class:`SurfelParams`.
        label_set: the map's label set (name or object), ``"nyu13"`` by default.
        probs_label_set: the set that ``integrate``'s probs are expressed in when it differs (mapped by summing
            source classes, fusion/bayes.py ``prepare_probs``); None = the map's set.
    """

    def __init__(
        self,
        params: SurfelParams | None = None,
        label_set: str | LabelSet = "nyu13",
        probs_label_set: str | LabelSet | None = None,
    ) -> None:
        super().__init__(label_set, probs_label_set)
        self.params = (params or SurfelParams()).validate()
        self.frame = 0  # number of integrate calls so far (the surfels' clock)
        self.n = 0
        self._alloc(self.params.initial_capacity)
        self.last = _FrameStats()
        self._pix_cache: dict[tuple, tuple[np.ndarray, float]] = {}

    # ------------------------------------------------------------------------------------------ storage
    def _alloc(self, capacity: int) -> None:
        k = self.num_classes
        self.pos = np.zeros((capacity, 3), np.float32)
        self.nrm = np.zeros((capacity, 3), np.float32)
        self.rad = np.zeros(capacity, np.float32)
        self.col = np.zeros((capacity, 3), np.float32)
        self.conf = np.zeros(capacity, np.float32)
        self.t_last = np.zeros(capacity, np.int32)
        self.t_init = np.zeros(capacity, np.int32)
        self.probs = np.zeros((capacity, k), np.float32)

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return int(self.conf.shape[0])

    def _reserve(self, needed: int) -> None:
        """Grow storage (doubling) so that ``needed`` rows fit; existing rows are kept."""
        if needed <= self.capacity:
            return
        new_cap = self.capacity
        while new_cap < needed:
            new_cap *= 2
        log.debug("surfel map grows from %d to %d rows", self.capacity, new_cap)
        for name in _ARRAYS:
            old = getattr(self, name)
            grown = np.zeros((new_cap, *old.shape[1:]), old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    # ------------------------------------------------------------------------------------------ API
    def __len__(self) -> int:
        return self.n

    def _pixel_confidence(self, camera: Camera) -> tuple[np.ndarray, float]:
        """ElasticFusion's per-pixel confidence exp(-g^2 / (2 0.6^2)), g = distance from the principal point over
        the largest such distance; and the mean focal length. Cached per camera."""
        key = (camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy)
        if key not in self._pix_cache:
            v, u = np.indices(camera.shape, dtype=np.float32)
            d = np.hypot(u - camera.cx, v - camera.cy)
            gamma = d / max(float(d.max()), 1e-6)
            self._pix_cache = {
                key: (np.exp(-(gamma**2) / (2 * 0.6**2)).astype(np.float32), 0.5 * (camera.fx + camera.fy))
            }
        return self._pix_cache[key]

    def _check_inputs(self, depth: np.ndarray, rgb: np.ndarray, camera: Camera, pose: np.ndarray) -> None:
        h, w = camera.shape
        if depth.shape != (h, w):
            raise MapError(f"depth of shape {depth.shape} does not fit camera {h}x{w}")
        if rgb.shape != (h, w, 3) or rgb.dtype != np.uint8:
            raise MapError(f"rgb must be {h}x{w}x3 uint8, got {rgb.shape} {rgb.dtype}")
        if np.shape(pose) != (4, 4) or not np.all(np.isfinite(pose)):
            raise MapError(f"pose must be a finite 4x4 camera-to-world matrix, got shape {np.shape(pose)}")

    def integrate(
        self, depth: np.ndarray, rgb: np.ndarray, probs: np.ndarray | None, camera: Camera, pose: np.ndarray
    ) -> None:
        """Fuse one frame (see the module docstring for the steps).

        Args:
            depth: H x W float32 metres, 0 = invalid.
            rgb: H x W x 3 uint8.
            probs: H x W x K float32 class probabilities (channel c = id c + 1 of the map's set or of
                ``probs_label_set``), H x W integer hard labels, or None for geometry only.
            camera: intrinsics of the frame.
            pose: 4 x 4 float64 camera-to-world.
        """
        self._check_inputs(depth, rgb, camera, pose)
        p = self.params
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        use_probs = probs is not None
        q = (
            np.ascontiguousarray(prepare_probs(probs, self._label_set, self._probs_label_set), dtype=np.float32)
            if use_probs
            else np.zeros((1, 1, self.num_classes), np.float32)
        )
        if use_probs and q.shape[:2] != camera.shape:
            raise MapError(f"probs of shape {q.shape} do not fit camera {camera.shape}")
        pose = np.asarray(pose, np.float64)
        r_wc = np.ascontiguousarray(pose[:3, :3])
        t_wc = np.ascontiguousarray(pose[:3, 3])
        r_cw = np.ascontiguousarray(r_wc.T)
        t_cw = -r_cw @ t_wc
        depth32 = np.ascontiguousarray(depth, dtype=np.float32)
        vert, nrm_cam, valid = kernels.vertex_normal_maps(
            depth32, camera.fx, camera.fy, camera.cx, camera.cy, p.min_depth, p.max_depth, p.pixel_stride
        )
        pix_conf, f_mean = self._pixel_confidence(camera)
        # Footprint radius sqrt(2) z / f, grown for oblique views (1 / |n_z|, capped at 2x) and by the stride.
        pix_rad = (
            np.sqrt(2.0) * vert[..., 2] / f_mean / np.maximum(np.abs(nrm_cam[..., 2]), 0.5) * p.pixel_stride
        ).astype(np.float32)
        t1 = time.perf_counter()
        timings["normals"] = (t1 - t0) * 1e3

        h, w = camera.shape
        idx, zbuf = render.index_map(
            self.pos, self.conf, self.n, r_cw, t_cw, camera.fx, camera.fy, camera.cx, camera.cy, h, w, p.max_depth
        )
        t2 = time.perf_counter()
        timings["index_map"] = (t2 - t1) * 1e3
        cos_n = float(np.cos(np.radians(p.max_normal_angle_deg)))
        self.frame += 1
        rgb_c = np.ascontiguousarray(rgb)
        fused = kernels.associate_and_fuse(
            idx, zbuf, vert, nrm_cam, valid, rgb_c, pix_conf, pix_rad, q, use_probs, r_wc, t_wc,
            self.pos, self.nrm, self.rad, self.col, self.conf, self.t_last, self.probs,
            self.frame, p.stable_confidence, p.depth_tol_abs, p.depth_tol_rel, cos_n, p.radius_ratio, p.reset_eps,
            p.label_update == "visible",
        )  # fmt: skip
        t3 = time.perf_counter()
        timings["fuse"] = (t3 - t2) * 1e3
        new_mask = kernels.unexplained_pixels(
            idx, zbuf, vert, nrm_cam, valid, r_wc, self.nrm, p.assoc_window, p.depth_tol_abs, p.depth_tol_rel, cos_n
        )
        n_new = int(np.count_nonzero(new_mask))
        self._reserve(self.n + n_new)
        n_before = self.n
        self.n = kernels.create_surfels(
            new_mask, vert, nrm_cam, rgb_c, pix_conf, pix_rad, q, use_probs, r_wc, t_wc,
            self.pos, self.nrm, self.rad, self.col, self.conf, self.t_last, self.t_init, self.probs,
            self.n, self.frame, p.reset_eps,
        )  # fmt: skip
        t4 = time.perf_counter()
        timings["create"] = (t4 - t3) * 1e3
        n_after_create = self.n
        self.n = kernels.remove_unstable(
            self.pos, self.nrm, self.rad, self.col, self.conf, self.t_last, self.t_init, self.probs,
            self.n, self.frame, p.stable_confidence, p.unstable_age,
        )  # fmt: skip
        t5 = time.perf_counter()
        timings["cleanup"] = (t5 - t4) * 1e3
        self.last = _FrameStats(
            fused=fused, created=n_after_create - n_before,
            removed=n_after_create - self.n, ms=(t5 - t0) * 1e3, timings_ms=timings,
        )  # fmt: skip

    def _min_conf(self, min_confidence: float | None) -> float:
        return self.params.stable_confidence if min_confidence is None else float(min_confidence)

    def render(
        self, camera: Camera, pose: np.ndarray, min_confidence: float | None = None, with_probs: bool = True
    ) -> RenderedView:
        """Splat the map into a view: z-buffered discs, exact ray-disc depth.

        Args:
            camera: intrinsics of the rendered image; pose: 4 x 4 float64 camera-to-world.
            min_confidence: draw surfels at least this confident; None = ``params.stable_confidence`` (stable
                surfels only, as ElasticFusion's model prediction); 0 draws every surfel.
            with_probs: fill ``RenderedView.probs``.
        Returns:
            RenderedView (depth metres along z, camera-frame unit normals facing the camera as fusion/types.py
            specifies, colour, labels; 0 where nothing was hit).
        """
        pose = np.asarray(pose, np.float64)
        if pose.shape != (4, 4):
            raise MapError(f"pose must be 4x4, got {pose.shape}")
        r_cw = np.ascontiguousarray(pose[:3, :3].T)
        t_cw = -r_cw @ pose[:3, 3]
        h, w = camera.shape
        depth, idx = render.splat(
            self.pos, self.nrm, self.rad, self.col, self.conf, self.probs, self.n, self._min_conf(min_confidence),
            r_cw, t_cw, camera.fx, camera.fy, camera.cx, camera.cy, h, w, self.params.max_depth,
        )  # fmt: skip
        hit = idx >= 0
        sel = idx[hit]
        normals = np.zeros((h, w, 3), np.float32)
        # Surfels store world normals; the view reports them in the camera frame, facing the camera (as the TSDF).
        cam_normals = self.nrm[sel] @ r_cw.T
        cam_points = self.pos[sel] @ r_cw.T + t_cw
        facing_away = np.sum(cam_normals * cam_points, axis=1) > 0
        cam_normals[facing_away] *= -1.0
        normals[hit] = cam_normals
        colour = np.zeros((h, w, 3), np.uint8)
        colour[hit] = np.clip(np.rint(self.col[sel]), 0, 255).astype(np.uint8)
        labels = np.zeros((h, w), np.int32)
        labels[hit] = np.argmax(self.probs[sel], axis=1).astype(np.int32) + 1
        probs = None
        if with_probs:
            probs = np.zeros((h, w, self.num_classes), np.float32)
            probs[hit] = self.probs[sel]
        return RenderedView(depth=depth, normals=normals, colour=colour, labels=labels, probs=probs)

    def point_cloud(self, min_confidence: float | None = None) -> SurfelCloud:
        """The surfels with confidence >= ``min_confidence`` (None = stable only) as a semantic point cloud."""
        keep = np.flatnonzero(self.conf[: self.n] >= self._min_conf(min_confidence))
        probs = self.probs[keep].copy()
        return SurfelCloud(
            points=self.pos[keep].copy(),
            normals=self.nrm[keep].copy(),
            radii=self.rad[keep].copy(),
            colours=np.clip(np.rint(self.col[keep]), 0, 255).astype(np.uint8),
            labels=(np.argmax(probs, axis=1) + 1).astype(np.int32) if len(keep) else np.zeros(0, np.int32),
            probs=probs,
            confidence=self.conf[keep].copy(),
        )

    def extract_mesh(self, with_probs: bool = False) -> Any:
        """A surfel map has no triangles: the stable surfels as a face-less ``SemanticMesh`` (fusion/export.py),
        which the exporters write as a PLY point cloud with a ``label`` property.

        Args:
            with_probs: keep the per-surfel class probabilities on the result.
        """
        from slamseg.fusion.export import SemanticMesh

        cloud = self.point_cloud()
        return SemanticMesh(vertices=cloud.points, faces=np.zeros((0, 3), np.int32), normals=cloud.normals,
                            rgb=cloud.colours, labels=cloud.labels, label_set=self._label_set,
                            probs=cloud.probs if with_probs else None)

    def stats(self) -> dict[str, Any]:
        """Counts, memory and the last update's timings."""
        n = self.n
        return {
            "type": "surfel",
            "label_set": self._label_set.name,
            "num_classes": self.num_classes,
            "frames": self.frame,
            "surfels": n,
            "stable_surfels": int(np.count_nonzero(self.conf[:n] >= self.params.stable_confidence)),
            "capacity": self.capacity,
            "memory_bytes": int(sum(getattr(self, a).nbytes for a in _ARRAYS)),
            "last_update_ms": self.last.ms,
            "last_fused": self.last.fused,
            "last_created": self.last.created,
            "last_removed": self.last.removed,
            "last_timings_ms": dict(self.last.timings_ms),
        }

    # ------------------------------------------------------------------------------------------ persistence
    def save(self, path: str | Path, compress: bool = False) -> Path:
        """Write the map to one ``.npz`` (arrays + a JSON metadata string), atomically. Returns the path.

        ``compress`` compresses the arrays (slower; float surfel attributes shrink little)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        meta = {
            "format": "slamseg.surfel_map",
            "version": FORMAT_VERSION,
            "label_set": self._label_set.name,
            "probs_label_set": self._probs_label_set.name,
            "frame": self.frame,
            "count": self.n,
            "params": asdict(self.params),
        }
        arrays = {name: getattr(self, name)[: self.n] for name in _ARRAYS}
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            (np.savez_compressed if compress else np.savez)(fh, metadata=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SurfelMap:
        """Read a map written by :meth:`save` (bit-exact round trip)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                # "metadata" as in TSDF files; maps saved before 2026-11-21 named it "meta_json"
                meta = json.loads(str(data["metadata"] if "metadata" in data.files else data["meta_json"]))
                arrays = {name: data[name] for name in _ARRAYS}
        except CORRUPT_ARCHIVE as exc:
            raise MapError(f"{path}: not a readable surfel map file ({exc})") from exc
        if meta.get("format") != "slamseg.surfel_map" or meta.get("version") != FORMAT_VERSION:
            raise MapError(
                f"{path}: expected format slamseg.surfel_map version {FORMAT_VERSION}, got "
                f"{meta.get('format')!r} version {meta.get('version')!r}"
            )
        m = cls(SurfelParams(**meta["params"]), meta["label_set"], meta["probs_label_set"])
        n = int(meta["count"])
        if arrays["probs"].shape != (n, m.num_classes):
            raise MapError(f"{path}: probs of shape {arrays['probs'].shape}, expected ({n}, {m.num_classes})")
        m._reserve(max(n, 1))
        for name in _ARRAYS:
            getattr(m, name)[:n] = arrays[name]
        m.n = n
        m.frame = int(meta["frame"])
        return m
