"""The ``slamseg`` command: one entry point with subcommands.

Each subcommand is a module in ``slamseg.commands`` exposing ``add_parser(subparsers)``; modules import
torch/open3d only inside their ``run`` function, so ``slamseg --help`` stays fast. Known errors
(:class:`SlamSegError`) become one line on stderr and exit status 2; anything else keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from slamseg._version import __version__

# Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "demo",
    "predict",
    "reconstruct",
    "compare_depth",
    "export",
    "export_model",
    "evaluate",
    "evaluate_map",
    "train",
    "label",
    "synth",
    "model_info",
    "config_cmd",
    "doctor",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every subcommand registered)."""
    parser = argparse.ArgumentParser(
        prog="slamseg",
        description="Dense semantic SLAM with one real-time joint depth + segmentation network.",
    )
    parser.add_argument("--version", action="version", version=f"slamseg {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"slamseg.commands.{name}").add_parser(sub)
    return parser


def configure_logging(verbose: int, quiet: bool) -> None:
    """Logging for CLI runs: INFO by default, DEBUG with -vv, WARNING with -q."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    if verbose < 2:  # third-party chatter stays out of INFO output
        for noisy in ("matplotlib", "PIL", "numba", "trimesh", "h5py"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    configure_logging(args.verbose, args.quiet)
    from slamseg.runtime import configure_runtime

    configure_runtime()
    from slamseg.errors import SlamSegError
    from slamseg.runs import discard_unfinished_runs

    try:
        result = args.func(args)
    except SlamSegError as err:
        discard_unfinished_runs()
        print(f"slamseg {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # permissions, a full disk, a read-only file system: the path and the reason
        discard_unfinished_runs()
        where = err.filename if err.filename is not None else "a file"
        print(f"slamseg {args.command}: error: {where}: {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"slamseg {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
