"""The `crampwatch` command line: one subcommand per module in ``crampwatch.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from crampwatch import __version__
from crampwatch.commands.parser import CommandParser
from crampwatch.errors import UserError

# Each module defines register(subparsers) which adds its parser and sets
# ``func(args) -> int`` as the parser default. Order is the order of --help. A module
# imports what its command needs when it runs (or when its own options are built), so
# that `crampwatch --help` loads none of it.
COMMAND_MODULES: tuple[str, ...] = (
    "synth", "replay", "evaluate", "train", "serve", "users", "band", "scan", "run", "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crampwatch",
        description="Night-time leg-cramp detection from a surface-EMG leg band.",
    )
    parser.add_argument("--version", action="version", version=f"crampwatch {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeat for debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=CommandParser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"crampwatch.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except UserError as exc:
        print(f"crampwatch {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
