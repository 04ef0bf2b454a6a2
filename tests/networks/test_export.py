"""ONNX (torch.onnx dynamo exporter) and torch.export (.pt2) exports give the eager model's outputs at batch sizes
and image sizes other than the example's, carry the serving metadata, and raise no deprecation warning.

Relative error of an output = max |exported - eager| / max |eager| over the whole output tensor (conftest.rel_err).
One trace (export_program) feeds both files: tracing the joint network with dynamic shapes takes ~10-25 s here, so
the export is a session fixture (conftest.exported) that the runtime backends' tests share.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from slamseg.networks import load_model
from slamseg.networks.export import PT2_METADATA, export_metadata, export_program
from slamseg.sequences.labelsets import get_label_set

from .conftest import RANDOM_CKPT, rel_err

pytestmark = pytest.mark.slow

def test_no_deprecation_warning(exported: dict) -> None:
    deprecations = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in exported["warnings"]
                    if issubclass(w.category, (DeprecationWarning, FutureWarning))]
    assert deprecations == []


def test_onnx_parity_with_dynamic_batch_and_size(exported: dict) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = exported["model"]
    session = ort.InferenceSession(str(exported["onnx"]), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == list(model.tasks)
    assert session.get_inputs()[0].shape == ["batch", 3, "height", "width"]
    assert all(o.shape[0] == "batch" and "height" in o.shape[2] and "width" in o.shape[3]
               for o in session.get_outputs()), [o.shape for o in session.get_outputs()]
    for x, ref in zip(exported["inputs"], exported["refs"]):
        for task, array in zip(model.tasks, session.run(None, {"input": x})):
            assert array.shape == tuple(ref[task].shape)
            assert rel_err(array, ref[task]) <= 1e-4, (x.shape, task)


def test_onnx_is_one_file_with_metadata(exported: dict) -> None:
    onnx = pytest.importorskip("onnx")
    assert sorted(p.name for p in exported["folder"].iterdir()) == ["net.onnx", "net.pt2"]  # weights inside
    props = {p.key: json.loads(p.value) for p in onnx.load(str(exported["onnx"])).metadata_props}
    model = exported["model"]
    assert props == export_metadata(model)
    assert props["mean"] == pytest.approx([0.485, 0.456, 0.406])
    assert props["std"] == pytest.approx([0.229, 0.224, 0.225])
    assert props["label_set"] == "nyu40" and props["class_names"] == list(get_label_set("nyu40").class_names)
    assert props["tasks"] == ["segm", "depth"] and props["output_stride"] == 4 and props["depth_scale"] == 1.0
    assert props["arch"] == "nyud_joint" and props["slamseg_version"] not in ("", "unknown")


def test_pt2_parity_and_metadata(exported: dict) -> None:
    model = exported["model"]
    extra = {PT2_METADATA: ""}
    loaded = torch.export.load(exported["pt2"], extra_files=extra).module()
    assert json.loads(extra[PT2_METADATA]) == export_metadata(model)
    with torch.inference_mode():
        for x, ref in zip(exported["inputs"], exported["refs"]):
            out = loaded(torch.from_numpy(x))
            assert len(out) == len(model.tasks)
            for task, tensor in zip(model.tasks, out):
                assert rel_err(tensor, ref[task]) <= 1e-4, (x.shape, task)


def test_export_size_is_checked(tmp_path: Path) -> None:
    from slamseg.networks.errors import NetworkError

    with pytest.raises(NetworkError, match=r"export size 32x96: width and height must be 33\.\.8192"):
        export_program(load_model(RANDOM_CKPT), size=(32, 96))
