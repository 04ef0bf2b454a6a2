"""The multiply-add counter against the reference figure and hand-computed cases."""

from __future__ import annotations

from torch import nn

from slamseg.networks import build_model
from slamseg.networks.complexity import count_macs, count_parameters


def test_nyud_joint_matches_reference_figures() -> None:
    """../shared/reference/README.md: 3,070,057 parameters; convolutions cost 5.94 G multiply-adds at 640x480."""
    blocks = count_macs(build_model("nyud_joint"), (640, 480))
    assert sum(b.params for b in blocks) == 3_070_057
    assert round(sum(b.macs for b in blocks) / 1e9, 2) == 5.94
    by_name = {b.name: b for b in blocks}
    # The stem by hand: 32 x 3 x 3 x 3 weights applied at 320 x 240 outputs.
    assert by_name["layer1"].macs == 32 * 3 * 3 * 3 * 320 * 240
    # conv8: 1x1 320 -> 256 at 1/32 resolution (20 x 15).
    assert by_name["conv8"].macs == 320 * 256 * 20 * 15


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(self.dw(self.conv(x)))


def test_hand_computed_small_model() -> None:
    blocks = {b.name: b for b in count_macs(_Tiny(), (8, 6))}
    # conv: output 8 x 3 x 4, each output 3*3*3 weights; depthwise: 8 x 3 x 4 outputs, 9 weights each;
    # linear on the last axis (4 -> 5): 8 x 3 x 5 outputs, 4 weights each.
    assert blocks["conv"].macs == 8 * 3 * 4 * 27
    assert blocks["dw"].macs == 8 * 3 * 4 * 9
    assert blocks["fc"].macs == 8 * 3 * 5 * 4
    assert count_parameters(_Tiny()) == (8 * 27 + 8) + 8 * 9 + (4 * 5 + 5)
