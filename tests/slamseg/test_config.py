from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from slamseg.config import apply_overrides, dump_yaml, from_dict, load_config, read_yaml
from slamseg.errors import ConfigError


@dataclass
class Inner:
    voxel_size: float = 0.02
    mode: Literal["a", "b"] = "a"


@dataclass
class Outer:
    name: str = "x"
    frames: int | None = None
    inner: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)


def test_defaults_and_nested_values() -> None:
    cfg = from_dict(Outer, {"frames": 3, "inner": {"voxel_size": 1}})
    assert cfg.frames == 3
    assert cfg.inner.voxel_size == 1.0 and isinstance(cfg.inner.voxel_size, float)
    assert cfg.inner.mode == "a"


def test_unknown_key_names_the_dotted_key_and_suggests() -> None:
    with pytest.raises(ConfigError, match=r"'inner\.voxle_size'.*did you mean 'voxel_size'"):
        from_dict(Outer, {"inner": {"voxle_size": 0.1}})


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"frames": "many"}, "'frames'"),
        ({"frames": True}, "'frames'"),
        ({"inner": {"mode": "c"}}, r"'inner\.mode'.*not one of"),
        ({"tags": [1]}, r"'tags\[0\]'"),
        ({"inner": 5}, "'inner'"),
    ],
)
def test_invalid_values_are_errors(data: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        from_dict(Outer, data)


def test_overrides_parse_yaml_values_and_win_over_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("command: x\nname: file\ninner:\n  voxel_size: 0.05\n")
    cfg = load_config(Outer, path, ["inner.voxel_size=0.01", "frames=7", "tags=[a, b]"])
    assert (cfg.name, cfg.frames, cfg.inner.voxel_size, cfg.tags) == ("file", 7, 0.01, ["a", "b"])


def test_bad_override_syntax() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["novalue"])


def test_dump_round_trips(tmp_path: Path) -> None:
    cfg = from_dict(Outer, {"frames": 2, "tags": ["t"], "inner": {"mode": "b"}})
    path = tmp_path / "out.yaml"
    path.write_text(dump_yaml(cfg))
    assert from_dict(Outer, read_yaml(path)) == cfg


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("frames: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        load_config(Outer, bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "missing.yaml")


@dataclass
class _Validated:
    size: float = 1.0

    def __post_init__(self) -> None:
        if self.size <= 0:
            from slamseg.sequences.errors import SlamSegError

            raise SlamSegError(f"size must be > 0, got {self.size}")


@dataclass
class _Holder:
    part: _Validated = field(default_factory=_Validated)


def test_post_init_errors_of_nested_sections_name_the_section() -> None:
    with pytest.raises(ConfigError, match=r"'part'.*size must be > 0"):
        from_dict(_Holder, {"part": {"size": -1.0}})


def test_typed_flag_overrides_are_not_reparsed() -> None:
    """A path from a flag stays the string it is ('#' is no YAML comment, '2024' no number)."""
    data = apply_overrides({}, [("name", "runs/#2"), ("inner.voxel_size", 0.5), "frames=3"])
    assert data == {"name": "runs/#2", "inner": {"voxel_size": 0.5}, "frames": 3}
    assert from_dict(Outer, apply_overrides({}, [("name", "2024")])).name == "2024"


def test_exponent_floats_without_a_dot_are_numbers(tmp_path: Path) -> None:
    """YAML 1.1 reads 1e-4 as a string; configs and --set read it as the number it is."""
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  voxel_size: 5e-3\n")
    cfg = load_config(Outer, path, ["frames=3"])
    assert cfg.inner.voxel_size == 0.005
    assert load_config(Outer, None, ["inner.voxel_size=1e-4"]).inner.voxel_size == 1e-4
    assert load_config(Outer, None, ["name=1e-4x"]).name == "1e-4x"
