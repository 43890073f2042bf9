"""`query`: read-only SQL against the warehouse."""

from __future__ import annotations

import argparse
from typing import Callable

from pipeline.cli.common import (
    output_args,
    print_query,
)
from pipeline.config import (
    Settings,
)


def _args_query(p: argparse.ArgumentParser) -> None:
    p.add_argument("sql", help="one SQL statement; the warehouse is opened read-only")
    output_args(p)


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    return print_query(settings, args.sql, args.format)


QUERY_COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "query": (cmd_query, "run read-only SQL against the warehouse",
              'newswatch query "select * from coverage_by_outlet" --format json', _args_query),
}
