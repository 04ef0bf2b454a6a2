"""Inference fast paths for the joint network: BatchNorm folding, channels-last memory, CPU kernels for the
decoder (networks/cpu_kernels.py), reduced precision, torch.compile and frozen TorchScript.

Every transformation returns a NEW module (the given model is left untouched) that computes the same function
up to floating-point rounding; tests/networks/test_predictor.py checks each one against the eager float32 model.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from slamseg.networks.errors import NetworkError
from slamseg.sequences.runtime import retain_freed_memory  # noqa: F401  (re-exported: benchmarks use it here)

log = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (eval mode) with every Conv2d -> BatchNorm2d pair of an ``nn.Sequential`` folded into
    the convolution (w' = w * gamma / sqrt(var + eps), b' = beta + (b - mean) * gamma / sqrt(var + eps)); the
    BatchNorm becomes ``nn.Identity``. Only valid for inference: the running statistics are baked in."""
    folded = copy.deepcopy(model).eval()
    count = 0
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module)
        for i in range(len(children) - 1):
            conv, bn = children[i], children[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = fuse_conv_bn_eval(conv, bn)
                module[i + 1] = nn.Identity()
                count += 1
    log.debug("folded %d BatchNorm layers", count)
    return folded


# glibc mallopt parameters (malloc.h)


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """'float32' / 'float16' / 'bfloat16' (or a torch dtype) -> torch dtype; float16 is refused on CPU, where
    PyTorch's half-precision convolutions are missing or far slower than float32, and bfloat16 on a CPU without
    AVX-512 BF16 or AMX, where it is emulated."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise NetworkError(f"dtype {dtype!r}: expected one of {sorted(DTYPES)} (int8: backend onnxruntime)")
        dtype = DTYPES[dtype]
    if dtype == torch.float16 and device.type == "cpu":
        raise NetworkError("dtype float16 needs a CUDA device; use float32 or bfloat16 on CPU")
    if dtype == torch.bfloat16 and device.type == "cpu":
        from slamseg.networks.backends import require_bf16_cpu

        require_bf16_cpu()
    return dtype


def prepare(model: nn.Module, device: str | torch.device = "cpu", *, fold_bn: bool = True,
            channels_last: bool = True, dtype: str | torch.dtype = "float32", compile: bool = False,  # noqa: A002
            jit: bool = False, cpu_kernels: bool = False,
            example: torch.Tensor | None = None) -> Callable[[torch.Tensor], dict]:
    """The model made ready to serve: a callable N x 3 x H x W -> output dict (as :class:`JointNet.forward`).

    ``compile`` wraps it in ``torch.compile`` (compilation happens on the first call, per input size);
    ``jit`` traces and freezes it with TorchScript (needs ``example``, an input of the serving size);
    ``cpu_kernels`` swaps in the decoder stand-ins of :mod:`slamseg.networks.cpu_kernels` (CPU, float32,
    channels-last, eager only: it cannot be combined with ``compile`` or ``jit``).
    """
    device = torch.device(device)
    dtype = resolve_dtype(dtype, device)
    net = fold_batchnorm(model) if fold_bn else copy.deepcopy(model).eval()
    net = net.to(device=device, dtype=dtype)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if compile and jit:
        raise NetworkError("choose compile or jit, not both")
    if cpu_kernels:
        if device.type != "cpu" or dtype != torch.float32 or not channels_last or compile or jit:
            raise NetworkError("cpu_kernels needs device cpu, float32, channels_last and neither compile nor jit")
        from slamseg.networks.cpu_kernels import use_cpu_kernels

        log.debug("CPU kernels: %s", use_cpu_kernels(net))
    if compile:
        return torch.compile(net)
    if jit:
        if example is None:
            raise NetworkError("jit=True needs an example input of the serving size")
        example = example.to(device=device, dtype=dtype)
        if channels_last:
            example = example.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(False), torch.no_grad():
            traced = torch.jit.trace(net, example, strict=False)
        return torch.jit.freeze(traced.eval())
    return net
