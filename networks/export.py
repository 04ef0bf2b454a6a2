"""Export the joint network for serving without slamseg: TorchScript and ONNX.

Both take the BatchNorm-folded eval model; inputs are N x 3 x H x W normalised RGB (ImageNet mean/std of
image/255 for the released models) and the outputs are the raw network outputs at 1/4 resolution, named by
task (``segm``, ``depth``, ``normals``) in ``model.tasks`` order. Files are written atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from slamseg.networks.errors import NetworkError
from slamseg.networks.fast import fold_batchnorm
from slamseg.sequences.atomic import atomic_path

log = logging.getLogger(__name__)


class _TupleOutputs(nn.Module):
    """Dict outputs -> tuple in task order (ONNX and TorchScript graphs prefer positional outputs)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.tasks = tuple(model.tasks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(x)
        return tuple(out[t] for t in self.tasks)


def export_torchscript(model: nn.Module, path: str | Path, size: tuple[int, int] = (640, 480)) -> Path:
    """Trace (at ``size`` = (width, height); other sizes work too), freeze and save; returns the path.
    The saved module returns a tuple in ``model.tasks`` order."""
    width, height = size
    net = _TupleOutputs(fold_batchnorm(model)).eval()
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(net, torch.zeros(1, 3, height, width)))
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.jit.save(frozen, str(tmp))
    return path


def export_onnx(model: nn.Module, path: str | Path, size: tuple[int, int] = (640, 480), opset: int = 17) -> Path:
    """Export to ONNX with dynamic batch and spatial axes; output names = ``model.tasks``. Needs the ``onnx``
    package (extra ``slamseg[onnx]``)."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; fail with a clear message)
    except ImportError as err:
        raise NetworkError("ONNX export needs the 'onnx' package: pip install 'slamseg[onnx]'") from err
    width, height = size
    net = _TupleOutputs(fold_batchnorm(model)).eval()
    dynamic = {0: "batch", 2: "height", 3: "width"}
    path = Path(path)
    with atomic_path(path) as tmp, torch.no_grad():
        torch.onnx.export(net, (torch.zeros(1, 3, height, width),), str(tmp), input_names=["input"],
                          output_names=list(net.tasks), opset_version=opset, dynamo=False,
                          dynamic_axes={"input": dynamic, **dict.fromkeys(net.tasks, dynamic)})
    return path
