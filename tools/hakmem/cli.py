"""The `hakmem` command: one entry point, one module per subcommand."""
from __future__ import annotations

import argparse
import importlib
import sys

# Each module in hakmem.commands exposes register(subparsers) -> None and sets
# a `func(args) -> int` default on the parser it adds.
COMMANDS = ["validate", "modes", "config", "run", "bench", "stats", "trace"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hakmem", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"hakmem.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"hakmem.commands.{name}":
                continue  # subcommand not shipped in this tree
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
