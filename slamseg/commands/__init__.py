"""CLI subcommands: each module has ``add_parser(subparsers)`` and keeps heavy imports inside ``run``."""
