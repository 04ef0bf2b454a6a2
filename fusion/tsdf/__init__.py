"""The semantic TSDF, whole: the map on Open3D's VoxelBlockGrid (semantic_tsdf.py), its numba label kernels
(kernels.py), its ray caster (raycast.py) and its file format (persistence.py)."""

from slamseg.fusion.tsdf.persistence import FORMAT, FORMAT_VERSION
from slamseg.fusion.tsdf.semantic_tsdf import OPEN3D_PLAIN_BYTES_PER_VOXEL, SemanticTSDF, depth_weights

__all__ = ["FORMAT", "FORMAT_VERSION", "OPEN3D_PLAIN_BYTES_PER_VOXEL", "SemanticTSDF", "depth_weights"]
