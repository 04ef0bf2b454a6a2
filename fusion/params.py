"""Map parameters (semantic TSDF, surfel map) as plain dataclasses the top-level config embeds (no open3d here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from slamseg.fusion.errors import MapError

DEPTH_WEIGHTINGS = ("constant", "inverse_square", "linear_falloff")
SURFEL_LABEL_UPDATES = ("visible", "associated")
LABEL_CLAMP_LIMIT = 32.0  # nats; the semantic TSDF stores log-probabilities as int16 thousandths of a nat


@dataclass
class TSDFParams:
    """How a :class:`~slamseg.fusion.tsdf.SemanticTSDF` integrates frames.

    Attributes:
        voxel_size: voxel edge in metres.
        trunc_voxels: truncation distance in voxels (SDF band = trunc_voxels * voxel_size either side).
        block_resolution: voxels per block edge (Open3D's hash-map block; 8 or 16).
        block_count: initial hash-map capacity in blocks; grown automatically (x ``growth_factor``) when the
            active blocks would exceed ``growth_threshold`` of it. Memory is capacity x R^3 x bytes per voxel
            (``stats()``), so the default starts small and grows with the map.
        growth_factor: capacity multiplier on growth (> 1).
        growth_threshold: fraction of capacity that triggers growth before a frame is integrated: growth happens
            when the active blocks plus the frame's touched blocks would exceed it. 1.0 grows exactly when
            Open3D's own activation would (it counts every touched block as new and doubles the capacity itself).
        depth_min, depth_max: metres; depth outside is ignored (depth truncation).
        label_band_voxels: half-width in voxels of the band around the surface whose voxels get label updates;
            None = trunc_voxels (every voxel Open3D updates whose distance it did not truncate). Meshing and
            rendering read only voxels within ~1 voxel of the zero crossing, so 2 gives the same labels there at
            a fraction of the cost. (Which frames carry labels is the caller's choice: integrate fuses labels
            whenever it is given probabilities.)
        prob_floor: floor on observed class probabilities before the log (see fusion/bayes.py).
        label_clamp: the most confidence a voxel can hold, in nats: no class's log-probability falls more than
            this below the voxel's most likely class (OctoMap-style clamping). Frames are strongly correlated,
            so without a bound a label agreed on by N frames takes about N contrary frames to change; with it, a
            few confident frames suffice. At most 32 (the int16 storage's range; 32 = no clamp in effect).
        hard_label_confidence: probability of the labelled class when integer labels are given instead of probs.
        depth_weighting: per-pixel integration weight w(z) of a pixel at depth z (metres):
            ``"constant"``: w = 1;
            ``"inverse_square"``: w = min(1, (weight_ref_depth / z)^2) -- stereo/predicted-depth error grows
            ~z^2, so far pixels count less;
            ``"linear_falloff"``: w = clip(1 - (z - weight_ref_depth) / (depth_max - weight_ref_depth),
            weight_min, 1).
            The weight scales the geometry/colour running average (w instead of 1) and tempers the label
            likelihood (log p += w log q, i.e. q^w).
        weight_ref_depth: metres, depth up to which a pixel has full weight.
        weight_min: lower bound on w (> 0) so far pixels still count a little.
        weight_threshold: minimum accumulated weight for a voxel to be rendered / meshed.
        device: Open3D device string; only "CPU:0" for now (the label kernels are numba CPU code).
    """

    voxel_size: float = 0.02
    trunc_voxels: float = 4.0
    block_resolution: int = 8
    block_count: int = 1_024
    growth_factor: float = 1.5
    growth_threshold: float = 1.0
    depth_min: float = 0.1
    depth_max: float = 4.0
    label_band_voxels: float | None = None
    prob_floor: float = 1e-4
    label_clamp: float = 10.0
    hard_label_confidence: float = 0.9
    depth_weighting: str = "constant"
    weight_ref_depth: float = 1.5
    weight_min: float = 0.1
    weight_threshold: float = 1.0
    device: str = "CPU:0"

    def __post_init__(self) -> None:
        self.validate()

    @property
    def label_band(self) -> float:
        """Half-width in metres of the band of voxels whose labels are updated."""
        band = self.trunc_voxels if self.label_band_voxels is None else min(self.label_band_voxels, self.trunc_voxels)
        return band * self.voxel_size

    @property
    def trunc(self) -> float:
        """Truncation distance in metres."""
        return self.trunc_voxels * self.voxel_size

    def validate(self) -> TSDFParams:
        """Raise MapError naming the first bad value; returns self."""
        checks = [
            (0 < self.voxel_size <= 1.0, f"voxel_size must be in (0, 1] metres, got {self.voxel_size}"),
            (self.trunc_voxels >= 1, f"trunc_voxels must be >= 1, got {self.trunc_voxels}"),
            (self.block_resolution in (4, 8, 16), f"block_resolution must be 4, 8 or 16, got {self.block_resolution}"),
            (self.block_count >= 1, f"block_count must be >= 1, got {self.block_count}"),
            (self.growth_factor > 1, f"growth_factor must be > 1, got {self.growth_factor}"),
            (0 < self.growth_threshold <= 1, f"growth_threshold must be in (0, 1], got {self.growth_threshold}"),
            (0 <= self.depth_min < self.depth_max, f"need 0 <= depth_min < depth_max, got "
                                                   f"{self.depth_min}, {self.depth_max}"),
            (self.label_band_voxels is None or self.label_band_voxels > 0,
             f"label_band_voxels must be > 0 or None, got {self.label_band_voxels}"),
            (0 < self.label_clamp <= LABEL_CLAMP_LIMIT, f"label_clamp must be in (0, {LABEL_CLAMP_LIMIT:g}] nats, "
                                                          f"got {self.label_clamp}"),
            (0 < self.prob_floor < 1, f"prob_floor must be in (0, 1), got {self.prob_floor}"),
            (0 < self.hard_label_confidence <= 1, f"hard_label_confidence must be in (0, 1], got "
                                                  f"{self.hard_label_confidence}"),
            (self.depth_weighting in DEPTH_WEIGHTINGS, f"depth_weighting must be one of {DEPTH_WEIGHTINGS}, got "
                                                        f"{self.depth_weighting!r}"),
            (self.weight_ref_depth > 0, f"weight_ref_depth must be > 0, got {self.weight_ref_depth}"),
            (0 < self.weight_min <= 1, f"weight_min must be in (0, 1], got {self.weight_min}"),
            (self.weight_threshold >= 0, f"weight_threshold must be >= 0, got {self.weight_threshold}"),
            # The label, re-weighting and ray-casting kernels are numba CPU kernels reading the voxel blocks
            # through numpy: a CUDA grid would need them ported first.
            (self.device.upper().startswith("CPU"), f"device must be a CPU device (CUDA TSDFs are not supported "
                                                    f"yet), got {self.device!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise MapError(f"TSDF parameters: {message}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (round-trips through :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TSDFParams:
        """Inverse of :meth:`to_dict`; unknown keys raise MapError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise MapError(f"TSDF parameters: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**d)


@dataclass
class SurfelParams:
    """Surfel map settings (metres, frames, degrees).

    Attributes:
        min_depth, max_depth: depth range used (metres).
        depth_tol_abs, depth_tol_rel: association tolerance ``abs + rel * z`` between a surfel's and a pixel's
            camera depth (metres; rel is per metre of depth).
        max_normal_angle_deg: association tolerance between normals.
        assoc_window: half-size (cells) of the index-map window searched before creating a surfel.
        radius_ratio: a pixel whose footprint radius exceeds ``radius_ratio`` x the surfel's adds confidence only.
        stable_confidence: confidence at which a surfel is stable (rendered, never removed as unstable).
            ElasticFusion uses 10 at 30 Hz; 3 suits the short sequences here and is configurable.
        unstable_age: frames an unstable surfel may go unseen before it is removed.
        pixel_stride: use every Nth row/column only (pixel subsampling for speed; 1 = all pixels). With a
            stride the created surfels are sparser, and their radii are scaled by the stride so that rendering
            stays hole-free.
        initial_capacity: rows allocated up front; storage doubles when full.
        reset_eps: SemanticFusion's reset threshold on the sum of p * q.
        label_update: which surfels a frame's class probabilities update: "visible" (SemanticFusion: every surfel
            of the index map at the frame's pose, with the probabilities of its pixel) or "associated" (only the
            surfels a depth measurement was fused into this frame).
    """

    min_depth: float = 0.1
    max_depth: float = 5.0
    depth_tol_abs: float = 0.02
    depth_tol_rel: float = 0.02
    max_normal_angle_deg: float = 30.0
    assoc_window: int = 1
    radius_ratio: float = 1.5
    stable_confidence: float = 3.0
    unstable_age: int = 20
    pixel_stride: int = 1
    initial_capacity: int = 1 << 16
    reset_eps: float = 1e-5
    label_update: str = "visible"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> SurfelParams:
        """Raise MapError for settings that cannot work; returns self."""
        if self.label_update not in SURFEL_LABEL_UPDATES:
            raise MapError(f"label_update must be one of {SURFEL_LABEL_UPDATES}, got {self.label_update!r}")
        if not 0 <= self.min_depth < self.max_depth:
            raise MapError(f"surfel depth range must satisfy 0 <= min < max, got {self.min_depth}..{self.max_depth}")
        if self.pixel_stride < 1 or self.assoc_window < 0 or self.initial_capacity < 1:
            raise MapError(
                f"pixel_stride >= 1, assoc_window >= 0 and initial_capacity >= 1 expected, got "
                f"{self.pixel_stride}, {self.assoc_window}, {self.initial_capacity}"
            )
        if not 0.0 < self.max_normal_angle_deg <= 180.0:
            raise MapError(f"max_normal_angle_deg must be in (0, 180], got {self.max_normal_angle_deg}")
        return self
