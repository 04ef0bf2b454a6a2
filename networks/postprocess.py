"""The network's quarter-resolution outputs -> depth, labels and (when asked) class probabilities at the image size.

Two ways to the same labels:

- **fused** (CPU default): one pass of :mod:`slamseg.networks.upsample_kernels` resizes the class scores and takes
  the argmax per pixel, and the softmax only when probabilities are asked for. Same resize weights as PyTorch, so
  the labels equal the release path's except where two classes tie to float32 rounding.
- **release-exact**: the authors' demo, step by step in PyTorch: logits resized to the image (bicubic), softmax over
  the full-resolution tensor, argmax (without probabilities the argmax is taken on the resized logits, which
  differs from the softmax's only where rounding makes two probabilities equal). It is what CUDA runs, and the
  CPU's option when a result must be the reference's operator for operator.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812  (the conventional name)

from slamseg.networks.upsample_kernels import resize_argmax


def _nhwc_numpy(t: torch.Tensor) -> np.ndarray:
    """N x C x H x W CPU float32 tensor -> N x H x W x C contiguous numpy array (a view when the tensor is already
    channels-last)."""
    return np.ascontiguousarray(t.detach().permute(0, 2, 3, 1).numpy())


def class_outputs(logits: torch.Tensor, size: tuple[int, int], *, resize: str, probs: bool, fused: bool,
                  mapping: tuple[torch.Tensor, bool] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels and optional probabilities at ``size`` from N x K x h x w float32 logits.

    Args:
        logits: N x K x h x w float32 network class scores (any memory format; CPU when ``fused``).
        size: (H, W) output size in pixels.
        resize: "bicubic" or "bilinear": how the logits are resized when ``mapping`` is None.
        probs: also return the probabilities (N x H x W x Kout float32); otherwise None, and no full-resolution
            softmax is computed.
        fused: resize and argmax in the one-pass CPU kernel; else PyTorch's operators, as the released demo.
        mapping: (K x Kt class-summing matrix, whether some classes map to void) to another label set: softmax at
            the network's resolution, classes summed there (renormalised over the kept mass when some map to void)
            and only those Kt probabilities resized, bilinearly, so they stay distributions.

    Returns:
        (N x H x W int32 labels = argmax channel + 1, N x H x W x Kout float32 probabilities or None).
    """
    if mapping is not None:
        matrix, drops_classes = mapping
        low = torch.einsum("nkhw,kt->nthw", torch.softmax(logits, dim=1), matrix)
        if drops_classes:
            low = low / low.sum(dim=1, keepdim=True).clamp_min(1e-12)
        if fused:
            labels, values = resize_argmax(_nhwc_numpy(low), size, "bilinear", "scores" if probs else None,
                                           threads=torch.get_num_threads())
            return labels, values
        up = F.interpolate(low.contiguous(memory_format=torch.channels_last), size=size, mode="bilinear",
                           align_corners=False)
        labels_t = (up.argmax(dim=1) + 1).to(torch.int32)
        return labels_t.cpu().numpy(), (up.permute(0, 2, 3, 1).contiguous().cpu().numpy() if probs else None)
    if fused:
        return resize_argmax(_nhwc_numpy(logits), size, resize, "softmax" if probs else None,
                             threads=torch.get_num_threads())
    up = F.interpolate(logits, size=size, mode=resize, align_corners=False)
    if not probs:  # softmax is monotonic: the labels need no probabilities
        return (up.argmax(dim=1) + 1).to(torch.int32).cpu().numpy(), None
    soft = torch.softmax(up, dim=1)
    labels_t = (soft.argmax(dim=1) + 1).to(torch.int32)
    return labels_t.cpu().numpy(), soft.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def resize_depth(raw_depth: torch.Tensor, size: tuple[int, int], *, scale: float, mode: str,
                 edge_jump: float | None) -> torch.Tensor:
    """N x 1 x h x w network depth -> N x H x W metres at ``size`` = (H, W); 0 = invalid.

    ``scale`` is the checkpoint's depth scale; "bicubic" takes the absolute value (the released demo), "bilinear"
    clamps negatives to 0. With ``edge_jump`` set, pixels whose bilinear footprint spans a relative jump larger than
    it become 0 (see :func:`spans_depth_edge`).
    """
    low = raw_depth * scale
    up = F.interpolate(low, size=size, mode=mode, align_corners=False)[:, 0]
    up = up.abs() if mode == "bicubic" else up.clamp_min(0.0)
    if edge_jump is not None and min(low.shape[-2:]) >= 2:
        up = up * ~spans_depth_edge(low[:, 0], size, edge_jump)
    return up


def spans_depth_edge(low: torch.Tensor, size: tuple[int, int], edge_jump: float) -> torch.Tensor:
    """N x H x W bool: the output pixel's bilinear footprint (the 2 x 2 network output samples around it) holds
    depths differing by more than ``edge_jump`` times the smallest of them. ``low``: N x h x w metres."""
    hi = F.max_pool2d(low[:, None], 2, stride=1)[:, 0]
    lo = -F.max_pool2d(-low[:, None], 2, stride=1)[:, 0]
    cell = (hi - lo) > edge_jump * lo.clamp_min(1e-6)  # N x (h-1) x (w-1), cell (i, j) = samples i..i+1
    h, w = low.shape[-2:]
    height, width = size

    def cells(n_out: int, n_in: int) -> torch.Tensor:  # output pixel -> the cell holding its footprint
        centre = (torch.arange(n_out, device=low.device, dtype=torch.float32) + 0.5) * (n_in / n_out) - 0.5
        return centre.floor().clamp(0, n_in - 2).long()

    return cell[:, cells(height, h)][:, :, cells(width, w)]
