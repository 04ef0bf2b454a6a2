"""MobileNet-v2 encoder exactly as in the authors' released checkpoints (Nekrasov et al., ICRA 2019).

Module names follow the release (``layer1`` ... ``layer8``, ``output.<i>.<0 conv|1 bn>``) so that released
state_dicts load strictly. It differs from torchvision's MobileNet-v2 in one place: the first inverted residual
block (expansion 1) still has its 1x1 expansion convolution, as in the release.
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion factor t, output channels c, repeats n, stride of the first repeat s) per stage: layer2 ... layer8.
MOBILENET_V2_CONFIG: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32


def conv_bn_relu6(in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, groups: int = 1,
                  act: bool = True) -> nn.Sequential:
    """Conv (no bias, 'same' padding for odd kernels) + BatchNorm (+ ReLU6). Keys: ``0`` conv, ``1`` bn."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_ch),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1x1 expansion + ReLU6, 3x3 depthwise (stride s) + ReLU6, 1x1 linear projection; identity skip when the
    shape is kept. Input N x C_in x H x W -> N x C_out x ceil(H/s) x ceil(W/s)."""

    def __init__(self, in_ch: int, out_ch: int, expansion: int, stride: int = 1) -> None:
        super().__init__()
        hidden = in_ch * expansion
        self.use_residual = in_ch == out_ch and stride == 1
        self.output = nn.Sequential(
            conv_bn_relu6(in_ch, hidden, 1),
            conv_bn_relu6(hidden, hidden, 3, stride=stride, groups=hidden),
            conv_bn_relu6(hidden, out_ch, 1, act=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.output(x)
        return out + x if self.use_residual else out


class MobileNetV2Encoder(nn.Module):
    """The encoder: ``encode`` (and ``forward``) return the six feature maps the decoder uses.

    The joint network subclasses this module so that its parameters keep the released flat names
    (``layer1.0.weight``, not ``encoder.layer1.0.weight``).

    Input: N x 3 x H x W normalised RGB. Output: (l3, l4, l5, l6, l7, l8) with channels (24, 32, 64, 96, 160, 320)
    at strides (4, 8, 16, 16, 32, 32); spatial sizes are ceil-divisions, so any H, W works.
    """

    out_channels = (24, 32, 64, 96, 160, 320)

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = conv_bn_relu6(3, STEM_CHANNELS, 3, stride=2)
        in_ch = STEM_CHANNELS
        for index, (t, c, n, s) in enumerate(MOBILENET_V2_CONFIG, start=2):
            blocks = []
            for repeat in range(n):
                blocks.append(InvertedResidual(in_ch, c, expansion=t, stride=s if repeat == 0 else 1))
                in_ch = c
            setattr(self, f"layer{index}", nn.Sequential(*blocks))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """N x 3 x H x W -> (l3, l4, l5, l6, l7, l8) feature maps (see the class docstring)."""
        x = self.layer2(self.layer1(x))  # 1/2
        l3 = self.layer3(x)  # 24 ch, 1/4
        l4 = self.layer4(l3)  # 32 ch, 1/8
        l5 = self.layer5(l4)  # 64 ch, 1/16
        l6 = self.layer6(l5)  # 96 ch, 1/16
        l7 = self.layer7(l6)  # 160 ch, 1/32
        l8 = self.layer8(l7)  # 320 ch, 1/32
        return l3, l4, l5, l6, l7, l8

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.encode(x)
