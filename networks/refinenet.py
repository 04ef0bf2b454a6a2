"""Light-Weight RefineNet decoder with per-task heads on the MobileNet-v2 encoder: the paper's joint network.

Module names follow the authors' release (``conv8`` ... ``conv3``, ``crp4`` ... ``crp1``, ``conv_adapt4..2``,
``pre_<head>`` + ``<head>``) so that the released checkpoints load strictly (see ../shared/reference/authors_net/).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from slamseg.networks.errors import NetworkError
from slamseg.networks.mobilenetv2 import MobileNetV2Encoder

# Output key (the forward contract) -> head module name in the released checkpoints.
HEAD_NAMES: dict[str, str] = {"segm": "segm", "depth": "depth", "normals": "normal"}
KNOWN_TASKS: tuple[str, ...] = tuple(HEAD_NAMES)
DECODER_CHANNELS = 256


def conv1x1(in_ch: int, out_ch: int, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    """1x1 convolution (bias-free by default, as everywhere in the released decoder)."""
    return nn.Conv2d(in_ch, out_ch, 1, bias=bias, groups=groups)


def conv3x3(in_ch: int, out_ch: int, bias: bool = True) -> nn.Conv2d:
    """3x3 convolution with padding 1 (the heads' last layer, with bias)."""
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=bias)


class CRPBlock(nn.Module):
    """Chained residual pooling: ``n_stages`` times (5x5 stride-1 max-pool -> 1x1 conv), each result added to x.

    One max-pool module is reused across the stages (as released). ``depthwise`` makes the 1x1 convolutions
    grouped per channel (the last block ``crp1``). Shape preserved: N x C x H x W -> N x C x H x W.
    """

    def __init__(self, channels: int, n_stages: int = 4, depthwise: bool = False) -> None:
        super().__init__()
        self.n_stages = n_stages
        for i in range(n_stages):
            # Released names start with a digit ("1_outvar_dimred"): setattr is the only way to register them.
            setattr(self, f"{i + 1}_outvar_dimred", conv1x1(channels, channels, groups=channels if depthwise else 1))
        self.maxpool = nn.MaxPool2d(kernel_size=5, stride=1, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top = x
        for i in range(self.n_stages):
            top = getattr(self, f"{i + 1}_outvar_dimred")(self.maxpool(top))
            x = top + x
        return x


def _upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    # Bilinear, align_corners=False, to the skip's exact size: inputs need not be multiples of 32.
    return nn.functional.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class JointNet(MobileNetV2Encoder):
    """MobileNet-v2 + Light-Weight RefineNet with one head per task, outputs at 1/4 resolution.

    Args:
        num_classes: segmentation classes K (ignored, stored as 0, when "segm" is not a task).
        tasks: subset of ("segm", "depth", "normals"), in any order; the output dict keeps the canonical order.
        arch: registry name stored on the model (``model.arch``) for checkpoints and reports.

    ``forward(x)``: x is N x 3 x H x W float (normalised RGB). Returns a dict with, for h = ceil(H/4),
    w = ceil(W/4): ``"segm"`` N x K x h x w logits, ``"depth"`` N x 1 x h x w (raw; metres up to sign, the
    released demo takes the absolute value), ``"normals"`` N x 3 x h x w (unnormalised) for the tasks present.
    """

    def __init__(self, num_classes: int = 40, tasks: Sequence[str] = ("segm", "depth"), arch: str = "custom") -> None:
        super().__init__()
        unknown = [t for t in tasks if t not in HEAD_NAMES]
        if unknown or not tasks:
            raise NetworkError(f"tasks {list(tasks)!r}: expected a non-empty subset of {list(KNOWN_TASKS)}")
        self.tasks: tuple[str, ...] = tuple(t for t in KNOWN_TASKS if t in tasks)
        if "segm" in self.tasks and (not isinstance(num_classes, int) or num_classes < 1):
            raise NetworkError(f"num_classes={num_classes!r}: expected a positive integer for the 'segm' task")
        self.num_classes: int = int(num_classes) if "segm" in self.tasks else 0
        self.arch = arch
        c = DECODER_CHANNELS
        self.conv8 = conv1x1(320, c)
        self.conv7 = conv1x1(160, c)
        self.conv6 = conv1x1(96, c)
        self.conv5 = conv1x1(64, c)
        self.conv4 = conv1x1(32, c)
        self.conv3 = conv1x1(24, c)
        self.crp4 = nn.Sequential(CRPBlock(c))
        self.crp3 = nn.Sequential(CRPBlock(c))
        self.crp2 = nn.Sequential(CRPBlock(c))
        self.crp1 = nn.Sequential(CRPBlock(c, depthwise=True))
        self.conv_adapt4 = conv1x1(c, c)
        self.conv_adapt3 = conv1x1(c, c)
        self.conv_adapt2 = conv1x1(c, c)
        self.relu = nn.ReLU6(inplace=True)
        # Heads: depthwise 1x1 + ReLU6 + 3x3 (with bias) per task. Registration order follows the release.
        out_channels = {"segm": self.num_classes, "depth": 1, "normals": 3}
        for task in ("depth", "segm", "normals"):
            if task in self.tasks:
                name = HEAD_NAMES[task]
                setattr(self, f"pre_{name}", conv1x1(c, c, groups=c))
                setattr(self, name, conv3x3(c, out_channels[task]))
        self._init_weights()

    def _init_weights(self) -> None:
        # The encoder has BatchNorm after every convolution: He initialisation. The decoder and heads have none,
        # and their skip sums and CRP chains add outputs up: with He (fan-out) initialisation the first gradients
        # reach 1e4 at the input layer and one SGD step saturates every ReLU6 (a dead network that only learns
        # the class prior through the head bias). So the decoder's convolutions preserve variance (fan-in,
        # linear gain) and each CRP stage starts as a near-identity residual branch (std 0.01). A checkpoint
        # overwrites all of it.
        crp = {id(m) for name, child in self.named_children() if name.startswith("crp") for m in child.modules()}
        decoder = {id(m) for name, child in self.named_children() if not name.startswith("layer")
                   for m in child.modules()}
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if id(m) in crp:
                    nn.init.normal_(m.weight, std=0.01)
                elif id(m) in decoder:
                    nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="linear")
                else:
                    nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def decode(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Encoder features (l3 ... l8) -> N x 256 x h x w decoder features at 1/4 resolution."""
        l3, l4, l5, l6, l7, l8 = feats
        x = self.relu(self.conv8(l8) + self.conv7(l7))
        x = self.conv_adapt4(self.crp4(x))
        x = _upsample_to(x, l6)
        x = self.relu(self.conv5(l5) + self.conv6(l6) + x)
        x = self.conv_adapt3(self.crp3(x))
        x = _upsample_to(x, l4)
        x = self.relu(self.conv4(l4) + x)
        x = self.conv_adapt2(self.crp2(x))
        x = _upsample_to(x, l3)
        x = self.relu(self.conv3(l3) + x)
        return self.crp1(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise NetworkError(f"input of shape {tuple(x.shape)}: expected N x 3 x H x W normalised RGB")
        top = self.decode(self.encode(x))
        out: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            name = HEAD_NAMES[task]
            out[task] = getattr(self, name)(self.relu(getattr(self, f"pre_{name}")(top)))
        return out
