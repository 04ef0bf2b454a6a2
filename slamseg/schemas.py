"""Which config dataclass validates which command's YAML files.

A config file names its command in a top-level ``command:`` key; the class is imported only when needed,
so listing or loading one config does not import torch or open3d.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from slamseg.config import load_config, read_yaml
from slamseg.errors import ConfigError

# command -> "module:Class". Each command adds its own entry.
SCHEMAS: dict[str, str] = {
    "demo": "slamseg.pipelines.demo_config:DemoConfig",
    "reconstruct": "slamseg.pipelines.reconstruct_config:ReconstructConfig",
    "compare-depth": "slamseg.pipelines.compare_depth_config:CompareDepthConfig",
    "synth": "slamseg.pipelines.synth_config:SynthConfig",
    "train": "slamseg.networks.train_config:TrainConfig",
    "predict": "slamseg.pipelines.job_configs:PredictConfig",
    "evaluate": "slamseg.pipelines.job_configs:EvaluateConfig",
    "evaluate-map": "slamseg.pipelines.job_configs:EvaluateMapConfig",
    "export": "slamseg.pipelines.job_configs:ExportConfig",
    "export-model": "slamseg.pipelines.job_configs:ExportModelConfig",
}

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def schema_for(command: str) -> type:
    """The dataclass that validates configs of ``command``."""
    if not isinstance(command, str):
        raise ConfigError(f"a config's 'command:' must be a command name, got {command!r}")
    if command not in SCHEMAS:
        raise ConfigError(f"no config schema for command {command!r}; known: {', '.join(sorted(SCHEMAS))}")
    module, cls = SCHEMAS[command].split(":")
    return getattr(importlib.import_module(module), cls)


def config_dir() -> Path:
    """Folder of the bundled configs (``configs/`` of the source tree, installed as ``slamseg.configs``)."""
    try:
        import slamseg.configs as bundled

        return Path(bundled.__file__).resolve().parent
    except ImportError:  # pragma: no cover - a source tree run without install
        return CONFIG_DIR


def list_configs() -> list[str]:
    """Names of the bundled configs."""
    return sorted(p.stem for p in config_dir().glob("*.yaml"))


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A bundled config name (``demo``) or a path to a YAML file -> the file's path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError(f"{p}: config file not found")
        return p
    candidate = config_dir() / f"{name_or_path}.yaml"
    if not candidate.exists():
        raise ConfigError(f"no bundled config named {str(name_or_path)!r}; bundled: {', '.join(list_configs())}")
    return candidate


def load_named_config(
    name_or_path: str | Path, overrides: list | None = None, command: str | None = None
) -> Any:
    """Load a config by bundled name or path, validated against its command's schema.

    Args:
        command: the command that will use the config; a file that names another command is an error.
    """
    path = resolve_config_path(name_or_path)
    tag = read_yaml(path).get("command")
    if tag is None and command is None:
        raise ConfigError(f"{path}: config has no 'command:' key, so its schema is unknown")
    if command is not None and tag is not None and tag != command:
        raise ConfigError(f"{path}: config is for command {tag!r}, not {command!r}")
    return load_config(schema_for(tag or command), path, overrides)
