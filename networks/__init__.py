"""slamseg.networks: the joint depth + segmentation (+ normals) network, checkpoints, serving, training.

Depends on torch, numpy and slamseg.sequences; never open3d. Heavy submodules load lazily.
"""
