"""slamseg.fusion: semantic TSDF and surfel maps, Bayesian label fusion, tracking, rendering, export.

Depends on open3d, numpy, numba, trimesh and slamseg.sequences; never torch. Heavy submodules load lazily.
"""
