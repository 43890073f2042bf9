"""The command line: parse input, call one job, map reports and errors to exit codes.

One module per command family (``ingest``: run, daemon, config; ``sources``; ``query``;
``digest``; ``story``: explain, rescore, eval; ``reextract``; ``backfill``: backfill, compact,
export); ``common`` holds the exit codes and the
row printer they share.

Exit codes:
  0  done (sources that failed are reported, not fatal; see --strict)
  1  unexpected internal error
  2  bad usage or bad configuration
  3  another job is writing to the warehouse (locked)
  4  the warehouse cannot be opened, migrated or queried
  5  --strict was given and at least one source failed
  6  digest --send: a digest was not delivered (still pending, refused, or outcome unknown)
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from pipeline import __version__
from pipeline.cli.common import (
    EXIT_CONFIG,
    EXIT_INTERNAL,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_STORE,
    EXIT_STRICT,
    EXIT_UNDELIVERED,
)
from pipeline.cli.backfill import BACKFILL_COMMANDS
from pipeline.cli.digest import DIGEST_COMMANDS
from pipeline.cli.ingest import INGEST_COMMANDS
from pipeline.cli.query import QUERY_COMMANDS
from pipeline.cli.reextract import REEXTRACT_COMMANDS
from pipeline.cli.sources import SOURCE_COMMANDS
from pipeline.cli.story import STORY_COMMANDS
from pipeline.config import ENV_CONFIG, load_settings, resolve_config_dir
from pipeline.errors import ConfigError, LockedError, NewswatchError, StoreError
from pipeline.store.hygiene import escape_controls

__all__ = ["COMMANDS", "EXIT_CONFIG", "EXIT_INTERNAL", "EXIT_LOCKED", "EXIT_OK", "EXIT_STORE", "EXIT_STRICT",
           "EXIT_UNDELIVERED", "build_parser", "main"]

EPILOG = (f"Configuration folder: --config DIR, else ${ENV_CONFIG}, else ./config.\n"
          "Exit codes: 0 done, 1 internal error, 2 usage/config error, 3 warehouse locked by "
          "another job,\n4 warehouse error, 5 --strict and a source failed, 6 digest not delivered.")



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newswatch", description="Follow one news story across the web.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="DIR", help=f"configuration folder (default ${ENV_CONFIG} or ./config)")
    parser.add_argument("--version", action="version", version=f"newswatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (func, help_, example, add_args) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=f"{help_}\n\nExample:\n  {example}",
                           epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        add_args(p)
        p.set_defaults(func=func)
    return parser


COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    **INGEST_COMMANDS, **SOURCE_COMMANDS, **QUERY_COMMANDS, **DIGEST_COMMANDS, **STORY_COMMANDS,
    **REEXTRACT_COMMANDS,
    **BACKFILL_COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_CONFIG
    try:
        settings = load_settings(resolve_config_dir(args.config))
        return args.func(args, settings)
    except ConfigError as exc:
        return _fail(exc, EXIT_CONFIG)
    except LockedError as exc:
        return _fail(exc, EXIT_LOCKED)
    except StoreError as exc:
        return _fail(exc, EXIT_STORE)
    except NewswatchError as exc:
        return _fail(exc, EXIT_INTERNAL)
    except BrokenPipeError:  # `newswatch query ... | head`
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("newswatch: interrupted", file=sys.stderr)
        return 130


def _fail(exc: NewswatchError, code: int) -> int:
    print(f"newswatch: {escape_controls(exc.describe(), keep_lines=True)}", file=sys.stderr)
    return code

