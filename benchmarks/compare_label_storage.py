"""Fused-label accuracy of two versions of slamseg on the same inputs: the float32 label storage of an older commit
against the int16 storage of the working tree (used once to check that compact labels change nothing measurable).

Usage::

    git worktree add /tmp/oldsrc 38db1dc
    python benchmarks/compare_label_storage.py old /tmp/oldsrc      # float32 labels, unbounded
    python benchmarks/compare_label_storage.py new . 32              # int16, clamp 32 (no bound in effect)
    python benchmarks/compare_label_storage.py new . 10              # int16, the default clamp
    python benchmarks/compare_label_storage.py report

Each run writes benchmarks/results/label_storage_<tag>.json (synthetic rooms: fused class-average / pixel accuracy)
and .npy (TUM fr1/rpy rendered labels, when ../shared is present); ``report`` prints the table, with TUM agreement
against the network's single-frame labels. The "old" run points the editable install's module mapping at the given
source tree before slamseg is imported.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _use_source(tree: Path) -> None:
    finder = next((m for name, m in sys.modules.items() if name.startswith("__editable__") and
                   hasattr(m, "MAPPING")), None)
    if finder is None:
        raise SystemExit("slamseg is not an editable install: cannot point it at another source tree")
    current = Path(finder.MAPPING["slamseg"]).parent
    for key, value in list(finder.MAPPING.items()):
        finder.MAPPING[key] = str(tree.resolve() / Path(value).relative_to(current))


def _label_fusion():
    spec = importlib.util.spec_from_file_location("label_fusion", HERE / "label_fusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(tag: str, tree: Path, clamp: float | None) -> None:
    if tag == "old":
        _use_source(tree)
    import numpy as np

    lf = _label_fusion()
    name = tag if clamp is None else f"{tag}_{clamp:g}"
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for seed in (0, 1):
            folder = lf.RunFolder("synth", out=tmp / f"room{seed}")
            lf.write_synthetic_sequence(lf.SynthConfig(seed=seed, frames=60, width=320, height=240), folder,
                                        progress=False)
            out[f"seed {seed}"] = lf.network_labels(folder.finish(), tmp / f"net{seed}", clamp)
            print(name, seed, out[f"seed {seed}"], flush=True)
        if lf.TUM.exists():
            np.save(RESULTS / f"label_storage_{name}.npy", lf.tum_rendered_labels(tmp / "tum", clamp))
    (RESULTS / f"label_storage_{name}.json").write_text(json.dumps(out, indent=2))


def report() -> None:
    import numpy as np

    lf = _label_fusion()
    tags = sorted(p.stem.removeprefix("label_storage_") for p in RESULTS.glob("label_storage_*.json"))
    single = None
    if lf.TUM.exists():
        from slamseg.networks import Predictor
        from slamseg.pipelines.common import bundled_checkpoint

        predictor = Predictor(bundled_checkpoint(), input_size=(320, 240))
        seq = lf.open_sequence(lf.TUM)
        single = np.stack([predictor.predict(seq[i].rgb, label_set="nyu13").labels for i in range(0, len(seq), 5)])
    for tag in tags:
        rows = json.loads((RESULTS / f"label_storage_{tag}.json").read_text())
        line = f"{tag:<8}" + "".join(f"  {k}: {v['fused'][0]:.1f} / {v['fused'][1]:.1f}" for k, v in rows.items())
        npy = RESULTS / f"label_storage_{tag}.npy"
        if single is not None and npy.exists():
            labels = np.load(npy)
            ok = labels > 0
            line += f"  TUM agreement with single frames: {100 * np.mean(labels[ok] == single[ok]):.2f} %"
        print(line)


if __name__ == "__main__":
    if sys.argv[1:2] == ["report"]:
        report()
    elif len(sys.argv) >= 3:
        run(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else None)
    else:
        raise SystemExit(__doc__)
