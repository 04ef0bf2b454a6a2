"""Command-line options declared once: each flag names a key of the command's config dataclass, and its type,
choices and default come from that dataclass (the one place an option is declared). Flags, ``--config`` and
``--set key=value`` go through the same validation (slamseg.config), so a run's ``config.yaml`` reloads with
``--config`` to the same settings.

Why dataclasses and our validator rather than pydantic or a dataclass CLI library: the options of the lower
packages (``TSDFParams``, ``TrainConfig``...) are plain dataclasses that must not depend on the application's
tools, and the validator's messages (the dotted key, "did you mean") are what users see. pydantic's strict mode
refuses YAML lists for tuples, its lax mode takes ``true`` for 1; tyro and jsonargparse own the whole parser,
which would change today's flag names.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

_UNSET: Any = object()


@dataclass(frozen=True)
class Flag:
    """One command-line option bound to a config key.

    Attributes:
        key: dotted config key (``tsdf.voxel_size``), or for ``size`` flags the section holding
            ``input_width`` / ``input_height``.
        help: what the option does; None takes the field's description from its dataclass's docstring
            (``Attributes:``). The default is appended from the dataclass.
        name: the flag (``--voxel-size``); default ``--`` + the key's last part with dashes. A name without
            dashes is a positional argument (optional: a config file may give the value instead).
        const: a switch: the flag stores this value (e.g. ``--no-median-scaling`` stores False).
        size: ``WxH`` text parsed into ``<key>.input_width`` and ``<key>.input_height``.
        nargs: for a positional list option ("*": any number; a config file may give them instead).
    """

    key: str
    help: str | None = None
    name: str | None = None
    const: Any = _UNSET
    size: bool = False
    nargs: str | None = None

    @property
    def dest(self) -> str:
        return "opt__" + self.key.replace(".", "__") + ("__size" if self.size else "")

    @property
    def flag(self) -> str:
        return self.name or "--" + self.key.rsplit(".", 1)[-1].replace("_", "-")


def _strip_optional(tp: Any) -> Any:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _owner(schema: type, key: str) -> tuple[Any, str]:
    """(the dataclass that declares the dotted ``key``'s last part, that part)."""
    cls: Any = schema
    *sections, name = key.split(".")
    for section in sections:
        cls = _strip_optional(get_type_hints(cls)[section])
    return cls, name


def field_at(schema: type, key: str) -> tuple[Any, Any]:
    """(annotation, default) of the dotted ``key`` of dataclass ``schema``; default is _UNSET when required."""
    cls, name = _owner(schema, key)
    hints = get_type_hints(cls)
    if name not in hints:
        raise KeyError(f"{schema.__name__} has no option {key!r}")
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    if field.default is not dataclasses.MISSING:
        return _strip_optional(hints[name]), field.default
    if field.default_factory is not dataclasses.MISSING:
        return _strip_optional(hints[name]), field.default_factory()
    return _strip_optional(hints[name]), _UNSET


def attribute_docs(cls: type) -> dict[str, str]:
    """Field name -> its description in the ``Attributes:`` section of ``cls``'s docstring (Google style; an entry
    may name several fields: ``start, stop, step: ...``)."""
    docs: dict[str, str] = {}
    current: list[str] = []
    inside = False
    for line in (inspect.getdoc(cls) or "").splitlines():
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        entry = re.match(r"^ {4}([A-Za-z_][\w, ]*):\s*(.*)$", line)
        if entry and not line.startswith(" " * 8):
            current = [name.strip() for name in entry.group(1).split(",")]
            for name in current:
                docs[name] = entry.group(2).strip()
        elif current and line.strip():
            for name in current:
                docs[name] = f"{docs[name]} {line.strip()}".strip()
    return docs


def _field_help(schema: type, key: str) -> str:
    """The docstring description of the dotted ``key`` (its owning dataclass's ``Attributes:`` entry)."""
    cls, name = _owner(schema, key)
    return attribute_docs(cls).get(name, "")


def flags(*keys: str, positional: str | None = None, positional_list: str | None = None,
          switches: dict[str, tuple[str, Any]] | None = None, sizes: dict[str, str] | None = None,
          names: dict[str, str] | None = None, helps: dict[str, str] | None = None) -> tuple[Flag, ...]:
    """A command's flags, compactly: each of ``keys`` is a config key whose flag is named after it.

    Args:
        positional: the config key of the optional positional argument (named after the key's last part, or
            ``names``).
        positional_list: the config key (a top-level list) of any number of positional values.
        switches: ``{flag: (key, value)}`` switches that store a constant (``"--no-median-scaling": ("median_scaling",
            False)``).
        sizes: ``{flag: section}`` ``WxH`` options setting ``section.input_width`` / ``input_height``.
        names: ``{key: flag}`` where a flag's name is not its key's.
        helps: ``{key or flag: text}`` where the docstring's description is not what the flag should say.
    """
    helps = helps or {}
    out = []
    names = names or {}
    if positional:
        out.append(Flag(positional, helps.get(positional), name=names.get(positional, positional.rsplit(".")[-1])))
    if positional_list:
        out.append(Flag(positional_list, helps.get(positional_list), name=positional_list, nargs="*"))
    out += [Flag(key, helps.get(key), name=names.get(key)) for key in keys]
    out += [Flag(key, helps.get(flag), name=flag, const=value) for flag, (key, value) in (switches or {}).items()]
    out += [Flag(section, helps.get(flag, "network input size WxH, e.g. 320x240"), name=flag, size=True)
            for flag, section in (sizes or {}).items()]
    return tuple(out)


def _argument(flag: Flag, schema: type) -> tuple[list[str], dict[str, Any]]:
    kwargs: dict[str, Any] = {"dest": flag.dest, "default": None}
    names = [flag.flag]
    if flag.size:
        kwargs.update(metavar="WxH", help=flag.help)
        return names, kwargs
    tp, default = field_at(schema, flag.key)
    help_text = flag.help if flag.help is not None else _field_help(schema, flag.key)
    if flag.const is not _UNSET:
        kwargs.update(action="store_const", const=flag.const)
        return names, kwargs | {"help": help_text}
    if get_origin(tp) is Literal:
        choices = list(get_args(tp))
        kwargs["choices"] = choices
        kwargs["type"] = type(choices[0])
    elif tp in (int, float, str):
        kwargs["type"] = tp
    if default not in (_UNSET, None, "") and "(default" not in help_text:
        help_text = f"{help_text} (default {default})"
    kwargs["help"] = help_text
    if "choices" not in kwargs:
        kwargs["metavar"] = flag.key.rsplit(".", 1)[-1].upper()
    if not flag.flag.startswith("-"):
        names = [flag.dest]
        kwargs.pop("dest")
        if flag.nargs:  # a list of paths: each value stays the string it is
            kwargs.pop("type", None)
        kwargs.update(nargs=flag.nargs or "?", metavar=flag.flag)
    return names, kwargs


def add_options(parser: argparse.ArgumentParser, schema: type, flags: typing.Sequence[Flag],
                config: bool = True, config_default: str | None = None) -> None:
    """Add ``flags`` (typed from ``schema``), and ``--config`` / ``--set``, to a command's parser."""
    for flag in flags:
        names, kwargs = _argument(flag, schema)
        parser.add_argument(*names, **kwargs)
    if config:
        where = f" (default: {config_default})" if config_default else ""
        parser.add_argument("--config", default=config_default, metavar="NAME|YAML",
                            help=f"config: a bundled name or a YAML file, e.g. a run's config.yaml{where}; "
                            "flags override it")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config value, e.g. --set tsdf.depth_max=5 (repeatable)")


def register(sub: argparse._SubParsersAction, name: str, doc: str | None, schema: type,
             command_flags: typing.Sequence[Flag], run: typing.Callable[[argparse.Namespace], int], *,
             config_default: str | None = None, resume: bool = False, progress: bool = True,
             epilog: str | None = None, run_folder: bool = True) -> argparse.ArgumentParser:
    """Add a command whose options are ``schema``: help from the first paragraph of ``doc`` (the command module's
    docstring, with its ``slamseg NAME`` title removed), description from the rest, then its flags, ``--config``,
    ``--set`` and, unless ``run_folder`` is False (a command that writes one file it is given), the run-folder
    options."""
    paragraphs = [" ".join(p.split()) for p in (doc or "").strip().split("\n\n")]
    summary = re.sub(r"^``slamseg [\w-]+[^`]*``:\s*", "", paragraphs[0]).rstrip(".")
    parser = sub.add_parser(name, help=summary, description=" ".join(paragraphs[1:]) or summary, epilog=epilog)
    add_options(parser, schema, command_flags, config_default=config_default)
    if run_folder:
        add_run_options(parser, name, resume=resume, progress=progress)
    parser.set_defaults(func=run)
    return parser


def add_run_options(parser: argparse.ArgumentParser, command: str, resume: bool = False,
                    progress: bool = True) -> None:
    """The run-folder options every command that writes one shares."""
    parser.add_argument("--out", help=f"run folder (default runs/{command}-<time>)")
    if resume:
        parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_size(text: str, flag: str = "--input-size") -> tuple[int, int]:
    """``"320x240"`` -> (320, 240); a ConfigError naming ``flag`` otherwise."""
    from slamseg.errors import ConfigError

    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    if width < 1 or height < 1:
        raise ConfigError(f"{flag} {text!r}: width and height must be positive")
    return width, height


def overrides_of(args: argparse.Namespace, flags: typing.Sequence[Flag]) -> list:
    """The flags given on the command line as typed ``(key, value)`` overrides, then the ``--set`` strings."""
    out: list = []
    for flag in flags:
        value = getattr(args, flag.dest, None)
        if value is None or value == []:  # not given (an empty positional list leaves the config's value)
            continue
        if flag.size:
            width, height = parse_size(value, flag.flag)
            prefix = f"{flag.key}." if flag.key else ""
            out += [(f"{prefix}input_width", width), (f"{prefix}input_height", height)]
        else:
            out.append((flag.key, value))
    return out + list(getattr(args, "overrides", []))


def require(value: object, what: str, command: str) -> None:
    """A ConfigError when an option that has no default was given neither as a flag nor in ``--config``."""
    from slamseg.errors import ConfigError

    if value in (None, "", [], ()):
        raise ConfigError(f"{command} needs {what} (on the command line or in --config)")


def load_options(args: argparse.Namespace, schema: type, command: str, flags: typing.Sequence[Flag]) -> Any:
    """The command's config: ``schema`` defaults <- ``--config`` file <- flags and ``--set``, validated."""
    from slamseg.config import load_config
    from slamseg.schemas import load_named_config

    overrides = overrides_of(args, flags)
    if getattr(args, "config", None):
        return load_named_config(args.config, overrides, command=command)
    return load_config(schema, None, overrides)
