"""CPU inference stand-ins for the decoder's slowest modules: CRP max-pools, depthwise 1x1s, the 1-channel head.

At 640x480 the four 5x5 stride-1 max-pools of the full-resolution-quarter block ``crp1`` (256 channels at
160x120) took about 40 % of a forward pass in PyTorch 2.x: its channels-last max-pool also computes the argmax
indices, which inference never needs, and the depthwise 1x1 "convolutions" of ``crp1`` (a per-channel scale) and
the residual sums each make one more full pass over 20 MB of activations. Here the pool is separable (a 5-wide
max along x, then along y: the same maximum, exactly), runs over bands of rows with a row buffer that stays in
cache, and for ``crp1`` the per-channel scale and the residual sum are applied in the same pass.

Everything works on channels-last float32 CPU tensors (memory = N x H x W x C) without copies; the results equal
PyTorch's (the maximum is exact; the scale and sum are the same float32 operations in the same order).

Two smaller stand-ins: a depthwise 1x1 convolution (the heads' ``pre_*``) is a per-channel scale, one elementwise
pass instead of oneDNN's slower grouped convolution; and a 3x3 convolution with ONE output channel (the depth
head), which oneDNN runs at a few percent of its usual throughput, becomes one 1x1 GEMM to the 9 taps followed by
a sum of 9 shifted single-channel maps (same products, summed in another order: ~1e-6 relative difference).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import torch
from torch import nn

_BAND = 16  # output rows per parallel task: 4 halo rows of horizontal maxima are recomputed per band

# No "contract" flag: a fused multiply-add would round differently from PyTorch's separate scale and sum.
_KERNEL = {"parallel": True, "fastmath": {"nnan", "ninf", "nsz"}, "cache": True, "nogil": True}


@nb.njit(inline="always", fastmath={"nnan", "ninf", "nsz"})
def _max(a: float, b: float) -> float:
    return a if a > b else b


@nb.njit(inline="always", fastmath={"nnan", "ninf", "nsz"})
def _row_max5(src: np.ndarray, dst: np.ndarray) -> None:
    """dst[x, c] = max(src[x-2 .. x+2, c]) over the columns inside the row (W x C arrays)."""
    w, c_n = src.shape
    for x in range(w):
        if 2 <= x < w - 2:  # interior: five unconditional loads, one store (vectorises over c)
            a, b, m, d, e = src[x - 2], src[x - 1], src[x], src[x + 1], src[x + 2]
            out = dst[x]
            for c in range(c_n):
                out[c] = _max(_max(_max(a[c], b[c]), _max(m[c], d[c])), e[c])
        else:
            lo = max(x - 2, 0)
            hi = min(x + 3, w)
            for c in range(c_n):
                dst[x, c] = src[lo, c]
            for xx in range(lo + 1, hi):
                for c in range(c_n):
                    dst[x, c] = _max(dst[x, c], src[xx, c])


@nb.njit(inline="always", fastmath={"nnan", "ninf", "nsz"})
def _col_max5(rows: np.ndarray, lo: int, hi: int, x: int, col: np.ndarray) -> None:
    """col[c] = max(rows[lo:hi, x, c]) (hi - lo is 3 to 5)."""
    c_n = col.shape[0]
    if hi - lo == 5:
        a, b, m, d, e = rows[lo, x], rows[lo + 1, x], rows[lo + 2, x], rows[lo + 3, x], rows[lo + 4, x]
        for c in range(c_n):
            col[c] = _max(_max(_max(a[c], b[c]), _max(m[c], d[c])), e[c])
    else:
        for c in range(c_n):
            col[c] = rows[lo, x, c]
        for r in range(lo + 1, hi):
            for c in range(c_n):
                col[c] = _max(col[c], rows[r, x, c])


@nb.njit(inline="always")
def _band_row_maxima(x: np.ndarray, task: int, n_bands: int) -> tuple:
    """Band ``task`` of an N x H x W x C input: (image n, first row y0, end row y1, first buffered row r0, the
    horizontal 5-wide maxima of rows r0 .. min(y1 + 2, H) - 1 as a (rows x W x C) buffer)."""
    h, w, c_n = x.shape[1], x.shape[2], x.shape[3]
    n = task // n_bands
    y0 = (task % n_bands) * _BAND
    y1 = min(y0 + _BAND, h)
    r0 = max(y0 - 2, 0)
    r1 = min(y1 + 2, h)
    rows = np.empty((r1 - r0, w, c_n), dtype=np.float32)
    for r in range(r0, r1):
        _row_max5(x[n, r], rows[r - r0])
    return n, y0, y1, r0, rows


@nb.njit(**_KERNEL)
def maxpool5_nhwc(x: np.ndarray, out: np.ndarray) -> None:
    """5x5 max-pool, stride 1, padding 2 (padding never wins): N x H x W x C float32 -> ``out`` of the same shape."""
    n_img, h, w = x.shape[0], x.shape[1], x.shape[2]
    n_bands = (h + _BAND - 1) // _BAND
    for task in nb.prange(n_img * n_bands):
        n, y0, y1, r0, rows = _band_row_maxima(x, task, n_bands)
        for y in range(y0, y1):
            lo = max(y - 2, 0) - r0
            hi = min(y + 3, h) - r0
            for xx in range(w):
                _col_max5(rows, lo, hi, xx, out[n, y, xx])


@nb.njit(**_KERNEL)
def maxpool5_scale_accumulate_nhwc(top: np.ndarray, scale: np.ndarray, out: np.ndarray, acc: np.ndarray) -> None:
    """One depthwise CRP stage: out = maxpool5(top) * scale[c]; acc += out (N x H x W x C float32, in place)."""
    n_img, h, w, c_n = top.shape
    n_bands = (h + _BAND - 1) // _BAND
    for task in nb.prange(n_img * n_bands):
        n, y0, y1, r0, rows = _band_row_maxima(top, task, n_bands)
        col = np.empty(c_n, dtype=np.float32)
        for y in range(y0, y1):
            lo = max(y - 2, 0) - r0
            hi = min(y + 3, h) - r0
            for xx in range(w):
                _col_max5(rows, lo, hi, xx, col)
                o = out[n, y, xx]
                a = acc[n, y, xx]
                for c in range(c_n):
                    v = col[c] * scale[c]
                    o[c] = v
                    a[c] += v


def _nhwc_view(t: torch.Tensor) -> np.ndarray:
    """The N x H x W x C numpy view of a channels-last N x C x H x W CPU float32 tensor (no copy)."""
    return t.permute(0, 2, 3, 1).numpy()


def _kernel_applies(x: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.dim() == 4
        and not x.requires_grad
        and x.is_contiguous(memory_format=torch.channels_last)
    )


class FastCRPBlock(nn.Module):
    """Inference-only stand-in for :class:`slamseg.networks.refinenet.CRPBlock` (same convolutions, same result).

    On channels-last float32 CPU inputs without gradients the pools run in the kernels above; any other input
    (CUDA, another dtype or layout, autograd) goes through the original block's arithmetic unchanged.
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block
        self.convs = [getattr(block, f"{i + 1}_outvar_dimred") for i in range(block.n_stages)]
        self.depthwise = all(c.groups == c.in_channels == c.out_channels for c in self.convs)
        if self.depthwise:
            # a depthwise 1x1 convolution is a per-channel scale (plus bias when it has one)
            self._scales = [c.weight.detach().reshape(-1).float().contiguous() for c in self.convs]
            self._has_bias = any(c.bias is not None for c in self.convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _kernel_applies(x) or (self.depthwise and self._has_bias):
            return self.block(x)
        # the kernels use as many threads as PyTorch was given (Predictor(num_threads=...), the benchmarks)
        nb.set_num_threads(max(1, min(torch.get_num_threads(), nb.config.NUMBA_NUM_THREADS)))
        acc = x.clone(memory_format=torch.channels_last)
        top = x
        for i, conv in enumerate(self.convs):
            pooled = torch.empty_like(top, memory_format=torch.channels_last)
            if self.depthwise:
                maxpool5_scale_accumulate_nhwc(_nhwc_view(top), self._scales[i].numpy(), _nhwc_view(pooled),
                                               _nhwc_view(acc))
                top = pooled
            else:
                maxpool5_nhwc(_nhwc_view(top), _nhwc_view(pooled))
                top = conv(pooled)
                if not top.is_contiguous(memory_format=torch.channels_last):
                    return self.block(x)
                acc.add_(top)
        return acc


class ChannelScale(nn.Module):
    """A depthwise 1x1 convolution as a per-channel scale (and bias): N x C x H x W -> same, memory format kept."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        self.register_buffer("scale", conv.weight.detach().reshape(1, -1, 1, 1).clone())
        self.register_buffer("shift", None if conv.bias is None else conv.bias.detach().reshape(1, -1, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != self.scale.dtype:
            return self.conv(x)
        y = x * self.scale
        return y if self.shift is None else y.add_(self.shift)


class SingleChannel3x3(nn.Module):
    """A 3x3 / padding 1 / stride 1 convolution with one output channel as a GEMM to 9 taps plus shifted sums.

    N x C x H x W -> N x 1 x H x W. Falls back to the convolution off the CPU float32 channels-last path.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        # C x 9 matrix, column ky * 3 + kx = the weights of tap (ky, kx)
        self.register_buffer("taps", conv.weight.detach()[0].permute(1, 2, 0).reshape(9, -1).t().contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _kernel_applies(x):
            return self.conv(x)
        n, c, h, w = x.shape
        per_tap = (x.permute(0, 2, 3, 1).reshape(-1, c) @ self.taps).reshape(n, h, w, 9)
        padded = nn.functional.pad(per_tap, (0, 0, 1, 1, 1, 1))  # zero padding of the convolution, in y and x
        out = padded[:, 0:h, 0:w, 0].clone()
        for tap in range(1, 9):
            ky, kx = divmod(tap, 3)
            out += padded[:, ky : ky + h, kx : kx + w, tap]
        if self.conv.bias is not None:
            out += self.conv.bias
        return out.unsqueeze(1)


def _is_depthwise_1x1(m: nn.Module) -> bool:
    return (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.stride == (1, 1) and m.padding == (0, 0)
            and m.groups == m.in_channels == m.out_channels)


def _is_single_output_3x3(m: nn.Module) -> bool:
    return (isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.stride == (1, 1) and m.padding == (1, 1)
            and m.dilation == (1, 1) and m.groups == 1 and m.out_channels == 1)


def use_cpu_kernels(model: nn.Module) -> dict[str, int]:
    """Swap (in place) CRP blocks, depthwise 1x1 convolutions outside them and 1-output 3x3 convolutions for the
    stand-ins above; returns how many of each. Inference only: the stand-ins do not train."""
    from slamseg.networks.refinenet import CRPBlock

    counts = {"crp": 0, "depthwise_1x1": 0, "single_output_3x3": 0}
    for module in list(model.modules()):
        if isinstance(module, (CRPBlock, FastCRPBlock)):
            continue  # their convolutions are handled by FastCRPBlock
        for name, child in list(module.named_children()):
            if isinstance(child, CRPBlock):
                setattr(module, name, FastCRPBlock(child))
                counts["crp"] += 1
            elif _is_depthwise_1x1(child):
                setattr(module, name, ChannelScale(child))
                counts["depthwise_1x1"] += 1
            elif _is_single_output_3x3(child):
                setattr(module, name, SingleChannel3x3(child))
                counts["single_output_3x3"] += 1
    return counts
