"""The surfel map, whole: the map (surfel_map.py) and its numba kernels (kernels.py: vertex and normal maps, index
map, association and fusion, creation, clean-up; render.py: splat rendering)."""

from slamseg.fusion.params import SurfelParams
from slamseg.fusion.surfel.surfel_map import SurfelCloud, SurfelMap

__all__ = ["SurfelCloud", "SurfelMap", "SurfelParams"]
