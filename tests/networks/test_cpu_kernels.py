"""The decoder's CPU stand-ins compute what the modules they replace compute (exactly, or to float rounding)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from slamseg.networks.cpu_kernels import (
    ChannelScale,
    FastCRPBlock,
    SingleChannel3x3,
    maxpool5_nhwc,
    use_cpu_kernels,
)
from slamseg.networks.refinenet import CRPBlock
from slamseg.networks.registry import build_model


def _channels_last(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).contiguous(memory_format=torch.channels_last)


def _random_weights(module: nn.Module, seed: int = 1) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return module.eval()


@pytest.mark.parametrize("shape", [(1, 8, 37, 45), (2, 16, 4, 3), (1, 8, 1, 1), (1, 24, 33, 7)])
def test_maxpool_equals_torch_exactly(shape: tuple[int, ...]) -> None:
    x = _channels_last(*shape)
    out = torch.empty_like(x)
    maxpool5_nhwc(x.permute(0, 2, 3, 1).numpy(), out.permute(0, 2, 3, 1).numpy())
    assert torch.equal(out, nn.functional.max_pool2d(x, 5, 1, 2))


@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("shape", [(1, 16, 35, 50), (2, 16, 17, 9)])
def test_crp_block_equals_the_original_exactly(depthwise: bool, shape: tuple[int, ...]) -> None:
    block = _random_weights(CRPBlock(16, depthwise=depthwise))
    fast = FastCRPBlock(copy.deepcopy(block))
    x = _channels_last(*shape)
    with torch.inference_mode():
        want = block(x)
        got = fast(x)
    assert torch.equal(got, want)
    assert torch.equal(x, _channels_last(*shape))  # the input is not modified in place


def test_crp_block_falls_back_off_the_kernel_path() -> None:
    block = _random_weights(CRPBlock(8, depthwise=True))
    fast = FastCRPBlock(copy.deepcopy(block))
    x = torch.randn(1, 8, 12, 10)  # NCHW: not the kernels' layout
    with torch.inference_mode():
        assert torch.equal(fast(x), block(x))
    # with autograd the original arithmetic runs and gradients reach the convolutions
    fast(x.contiguous(memory_format=torch.channels_last).requires_grad_()).sum().backward()
    assert fast.block.get_parameter("1_outvar_dimred.weight").grad is not None


def test_channel_scale_and_single_output_conv_match_convolutions() -> None:
    x = _channels_last(2, 32, 21, 30)
    dw = _random_weights(nn.Conv2d(32, 32, 1, groups=32, bias=True))
    head = _random_weights(nn.Conv2d(32, 1, 3, padding=1))
    with torch.inference_mode():
        assert torch.allclose(ChannelScale(dw)(x), dw(x), rtol=1e-6, atol=1e-6)
        want = head(x)
        got = SingleChannel3x3(head)(x)
    assert got.shape == want.shape == (2, 1, 21, 30)
    assert (got - want).abs().max() <= 1e-5 * want.abs().max()


def test_joint_network_with_kernels_matches_the_eager_network() -> None:
    model = _random_weights(build_model("nyud_joint"), seed=4)
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    counts = use_cpu_kernels(fast)
    assert counts == {"crp": 4, "depthwise_1x1": 2, "single_output_3x3": 1}
    x = _channels_last(1, 3, 121, 161, seed=5)  # not a multiple of 32
    with torch.inference_mode():
        want, got = model(x), fast(x)
    for task in ("segm", "depth"):
        assert got[task].shape == want[task].shape
        assert (got[task] - want[task]).abs().max() <= 1e-4 * want[task].abs().max(), task
