"""``slamseg config list|show``: the bundled configs, resolved with their defaults."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="list bundled configs or show one resolved",
                       description="List the bundled YAML configs, or print one with every default filled in.")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="print a config (bundled name or YAML path) resolved and validated")
    show.add_argument("name", help="bundled config name (see 'slamseg config list') or a YAML file")
    show.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="override a value, e.g. --set voxel_size=0.02 (repeatable)")
    show.set_defaults(func=run_show)
    lst = csub.add_parser("list", help="list the bundled configs")
    lst.set_defaults(func=run_list)


def run_show(args: argparse.Namespace) -> int:
    from slamseg.config import dump_yaml, read_yaml
    from slamseg.schemas import load_named_config, resolve_config_path

    path = resolve_config_path(args.name)
    cfg = load_named_config(path, args.overrides)
    print(f"# {path} (command: {read_yaml(path).get('command')})")
    print(dump_yaml(cfg), end="")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from slamseg.config import read_yaml
    from slamseg.schemas import config_dir, list_configs

    for name in list_configs():
        print(f"{name:<24} command: {read_yaml(config_dir() / f'{name}.yaml').get('command')}")
    return 0
