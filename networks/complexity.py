"""Model complexity: parameters and multiply-adds, counted by our own forward hooks.

Convention (documented in ``slamseg model-info``): one multiply-add (MAC) per weight use in convolutions and
linear layers, i.e. ``C_out * H_out * W_out * (C_in / groups) * k_h * k_w`` per conv, bias additions, BatchNorm,
activations, pooling, upsampling and residual additions NOT counted. With this convention ``nyud_joint`` costs
5.94 G MACs at 640x480 (../shared/reference/README.md); the paper's "6.49 GFLOPs" follows no common convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class BlockCost:
    """Parameters and multiply-adds (per image) of one top-level block of the model."""

    name: str
    params: int
    macs: int


def count_parameters(model: nn.Module) -> int:
    """All nn.Parameters (BatchNorm affine included), the paper's convention (3,070,057 for nyud_joint)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, size: tuple[int, int] = (640, 480)) -> list[BlockCost]:
    """Per top-level block (``layer1`` ... ``layer8``, ``conv8``, ``crp4``, ..., heads) costs for one
    3 x H x W image, ``size`` = (width, height). Sum ``macs`` for the total."""
    width, height = size
    macs: dict[str, int] = {}
    handles = []
    for top_name, top in model.named_children():
        macs[top_name] = 0

        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor, name: str = top_name) -> None:
            if isinstance(module, nn.Conv2d):
                per_output = (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
                macs[name] += output[0].numel() * per_output  # output[0]: one image of the batch
            else:  # nn.Linear
                macs[name] += output[0].numel() * module.in_features

        for sub in top.modules():
            if isinstance(sub, (nn.Conv2d, nn.Linear)):
                handles.append(sub.register_forward_hook(hook))
    try:
        was_training = model.training
        model.eval()
        with torch.inference_mode():
            model(torch.zeros(1, 3, height, width))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return [BlockCost(name, count_parameters(child), macs[name]) for name, child in model.named_children()]
