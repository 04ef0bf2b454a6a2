"""Typed, validated configuration: YAML files -> nested dataclasses, with command-line overrides.

Every command's options are a dataclass (fields with defaults). :func:`from_dict` builds one from plain data
and refuses unknown keys and values of the wrong type, naming the dotted key; :func:`apply_overrides` applies
``a.b.c=value`` strings (values parsed as YAML) before validation, so flags and files share one path.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from slamseg.errors import ConfigError, SlamSegError

T = TypeVar("T")


class _YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading floats as YAML 1.2 does: ``1e-4`` (no dot) is a number, not a string."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.VERBOSE),
    list("-+0123456789."),
)


def parse_yaml(text: str) -> Any:
    """YAML text -> data (safe loader, ``1e-4`` read as a float)."""
    return yaml.load(text, Loader=_YamlLoader)  # a SafeLoader subclass: no arbitrary objects


def _fail(where: str, msg: str) -> typing.NoReturn:
    raise ConfigError(f"config key {where!r}: {msg}" if where else f"config: {msg}")


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Check/convert ``value`` to the annotation ``tp``; raise ConfigError naming ``where``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError as err:
                errors.append(str(err))
        _fail(where, f"{value!r} fits none of {tp}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            _fail(where, f"{value!r} is not one of {', '.join(repr(a) for a in allowed)}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            _fail(where, f"expected a mapping of {tp.__name__} options, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            _fail(where, f"expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                _fail(where, f"expected {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            _fail(where, f"expected a mapping, got {value!r}")
        _, vt = get_args(tp) or (str, Any)
        return {str(k): _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            _fail(where, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _fail(where, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            _fail(where, f"expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)):
            _fail(where, f"expected a path, got {value!r}")
        return Path(value)
    raise TypeError(f"config annotation {tp!r} at {where!r} is not supported")


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and bad values raise ConfigError naming the key."""
    if not isinstance(data, Mapping):
        _fail(where, f"expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            _fail(dotted, f"unknown key{hint}; known keys here: {', '.join(fields)}")
        kwargs[key] = _convert(hints[key], value, dotted)
    missing = [
        n for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        _fail(where, f"missing required key(s): {', '.join(missing)}")
    try:
        obj = cls(**kwargs)
    except (ValueError, TypeError, SlamSegError) as err:  # __post_init__ validation of lower packages' params
        _fail(where, str(err))
    return obj


def to_dict(obj: Any) -> Any:
    """Dataclass (nested) -> plain YAML-friendly data (paths as strings, tuples as lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


Override = str | tuple[str, Any]


def apply_overrides(data: dict[str, Any], overrides: list[Override]) -> dict[str, Any]:
    """Apply overrides to nested dict ``data`` in place.

    An override is either a ``"dotted.key=value"`` string (``--set``; the value is parsed as YAML, so numbers and
    lists work) or a ``(dotted.key, value)`` pair of an already typed value (a CLI flag: a path such as
    ``runs/#2`` or ``2024`` must stay the string it is).
    """
    for item in overrides:
        if isinstance(item, tuple):
            key, value = item
        else:
            if "=" not in item:
                raise ConfigError(f"override {item!r} must look like key=value (e.g. fusion.voxel_size=0.02)")
            key, raw = item.split("=", 1)
            try:
                value = parse_yaml(raw) if raw != "" else ""
            except yaml.YAMLError as err:
                raise ConfigError(f"override {key!r}: cannot parse value {raw!r}: {err}") from None
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {key!r}: {part!r} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file."""
    path = Path(path)
    try:
        with open(path) as f:
            data = parse_yaml(f.read())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a YAML config file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[Override] | None = None) -> T:
    """Defaults of ``cls`` <- YAML file (optional) <- overrides, validated."""
    data = read_yaml(path) if path is not None else {}
    data.pop("command", None)  # the file's schema tag, not an option
    apply_overrides(data, list(overrides or []))
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        if path is not None:
            raise ConfigError(f"{path}: {err}") from None
        raise


def dump_yaml(obj: Any) -> str:
    """A dataclass config (or plain data) as YAML text, keys in declaration order."""
    return yaml.safe_dump(to_dict(obj), sort_keys=False, default_flow_style=False)
