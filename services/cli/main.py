"""`dondoc`: the command line for clerks and operators. Each command group lives in its own module
and registers itself here; `dondoc --help` lists them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

# Each entry is a module with a `register(subparsers)` function. Modules are imported when the parser
# is built; add a group by adding its module here.
COMMAND_GROUPS: tuple[str, ...] = (
    "services.cli.report",
    "services.cli.dlq",
    "services.cli.agencies",
    "services.cli.directory",
    "services.cli.plan",
    "services.cli.contracts",
    "services.cli.escalations",
    "services.cli.links",
    "services.cli.tokens",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dondoc",
        description="dondoc — theo dõi, đôn đốc việc thực hiện kế hoạch / follow up work plans.",
    )
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND")
    for module_path in COMMAND_GROUPS:
        module = __import__(module_path, fromlist=["register"])
        register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = module.register
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
