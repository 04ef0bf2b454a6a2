"""Installs the repository's four folders as one import root: slamseg, slamseg.sequences, slamseg.networks,
slamseg.fusion (DESIGN.md: ``fusion``, ``networks`` and ``sequences`` are other projects' names on PyPI)."""

import re
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent
# folder on disk -> package name
FOLDERS = {
    "slamseg": "slamseg",
    "sequences": "slamseg.sequences",
    "networks": "slamseg.networks",
    "fusion": "slamseg.fusion",
    "configs": "slamseg.configs",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages, package_dir = [], {}
    for folder, package in FOLDERS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / folder)
            name = ".".join([package, *rel.parts]) if rel.parts else package
            packages.append(name)
            package_dir[name] = str(init.parent.relative_to(ROOT))
    return packages, package_dir


VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "slamseg" / "_version.py").read_text()).group(1)
PACKAGES, PACKAGE_DIR = _packages()

setup(
    name="slamseg",
    version=VERSION,
    description="Dense semantic SLAM with one real-time joint depth + segmentation network",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    package_data={
        "slamseg.configs": ["*.yaml", "ablation/*.yaml"],
        "slamseg.sequences": ["data/*.json"],
        "slamseg.networks": ["weights/*.pt", "weights/*.json"],
    },
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "scipy>=1.10",
        "numba>=0.58",
        "pyyaml>=6.0",
        "imageio>=2.31",
        "trimesh>=4.0",
        "h5py>=3.9",
        "pyspng>=0.1.4",  # fast PNG decoding of colour frames (sequences/imageio_utils.py); Pillow is the fallback
        "tqdm>=4.65",
        "matplotlib>=3.7",
    ],
    extras_require={
        "cpu": ["open3d-cpu>=0.18"],
        "cuda": ["open3d>=0.18"],
        # onnxscript: torch.onnx.export(dynamo=True), the exporter torch keeps, needs it
        "onnx": ["onnx>=1.15", "onnxruntime>=1.17", "onnxscript>=0.2"],
        "openvino": ["openvino>=2024.0"],
        # ROS 1 / ROS 2 bags, read in pure Python without a ROS installation
        "bags": ["rosbags>=0.10"],
        "viz": ["rerun-sdk>=0.23"],
        # dev: what `make test` needs; the ONNX, OpenVINO, bags and rerun extras are tested too, so they are part
        # of it; evo is the reference the trajectory metrics are tested against; build makes the wheel a test lists.
        "dev": [
            "pytest>=7.4", "pytest-xdist>=3.5", "ruff>=0.4", "onnx>=1.15", "onnxruntime>=1.17", "onnxscript>=0.2",
            "rerun-sdk>=0.23", "evo>=1.28", "rosbags>=0.10", "openvino>=2024.0", "build>=1.0",
        ],
    },
    entry_points={"console_scripts": ["slamseg=slamseg.cli:main"]},
)
