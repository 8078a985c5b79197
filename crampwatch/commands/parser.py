"""A command's parser whose options may be defined when the command is first used.

`crampwatch --help` lists the commands without building their options; a command whose
options need a heavy module (synth's families of variation, the default classifier,
the virtual band's defaults) defines them in a function given to :meth:`add_later`,
which runs before that command's own parse, help or usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

OptionsAdder = Callable[[argparse.ArgumentParser], None]


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that completes itself from deferred option definitions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._later: list[OptionsAdder] = []

    def add_later(self, add: OptionsAdder) -> None:
        """Run ``add(self)`` before this parser is first used."""
        self._later.append(add)

    def complete(self) -> None:
        """Add every deferred option now (once)."""
        while self._later:
            self._later.pop(0)(self)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.complete()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.complete()
        return super().format_usage()

    def format_help(self) -> str:
        self.complete()
        return super().format_help()


def command_parser(subparsers: argparse._SubParsersAction, name: str,
                   **kwargs: Any) -> CommandParser:
    """Add command ``name`` to ``subparsers`` and return its (deferrable) parser."""
    parser = subparsers.add_parser(name, **kwargs)
    if not isinstance(parser, CommandParser):
        raise TypeError("crampwatch's subcommands are made with parser_class=CommandParser")
    return parser
