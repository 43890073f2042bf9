"""The command line: parse input, call one job, map reports and errors to exit codes.

Exit codes:
  0  done (sources that failed are reported, not fatal; see --strict)
  1  unexpected internal error
  2  bad usage or bad configuration
  3  another job is writing to the warehouse (locked)
  4  the warehouse cannot be opened, migrated or queried
  5  --strict was given and at least one source failed
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import date, datetime, timezone
from typing import Any, Callable, Sequence

from . import __version__
from .config import ENV_CONFIG, Settings, effective_settings, load_settings, resolve_config_dir
from .errors import ConfigError, LockedError, NewswatchError, StoreError
from .cli_story import STORY_COMMANDS
from .models import RunReport, SourceOutcome

EXIT_OK, EXIT_INTERNAL, EXIT_CONFIG, EXIT_LOCKED, EXIT_STORE, EXIT_STRICT = 0, 1, 2, 3, 4, 5

EPILOG = (f"Configuration folder: --config DIR, else ${ENV_CONFIG}, else ./config.\n"
          "Exit codes: 0 done, 1 internal error, 2 usage/config error, 3 warehouse locked by "
          "another job,\n4 warehouse error, 5 --strict and a source failed.")


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


# -- run ---------------------------------------------------------------------------------

def _args_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", dest="force",
                   help="poll every source now, even those not yet due or backing off")
    p.add_argument("--strict", action="store_true", help="exit 5 when any source failed")
    p.add_argument("--quiet", action="store_true", help="print only the summary")


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs import ingest

    progress = _progress_printer() if sys.stderr.isatty() and not args.quiet else None
    report = ingest(settings, datetime.now(timezone.utc), force=args.force, progress=progress)
    print(format_report(report, verbose=not args.quiet))
    if args.strict and report.sources_failed:
        return EXIT_STRICT
    return EXIT_OK


def _progress_printer() -> Callable[[str, int, int, SourceOutcome | None], None]:
    def show(source_id: str, done: int, total: int, outcome: SourceOutcome | None) -> None:
        state = "..." if outcome is None else ("ok" if outcome.ok else f"FAILED ({outcome.error_kind})")
        sys.stderr.write(f"\r\033[K[{done}/{total}] {source_id} {state}")
        if done == total and outcome is not None:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def format_report(report: RunReport, *, verbose: bool = True) -> str:
    lines = []
    if verbose:
        for o in report.outcomes:
            if not o.ok:
                lines.append(f"  FAILED {o.source_id}: [{o.error_kind}] {o.error}")
            elif o.error:
                lines.append(f"  warning {o.source_id}: {o.error}")
    kinds = ", ".join(f"{k} {n}" for k, n in report.failures_by_kind().items())
    lines.append(f"run {report.run_id}: sources ok {report.sources_ok}, failed {report.sources_failed}"
                 + (f" ({kinds})" if kinds else ""))
    lines.append(f"  new sightings {report.new_sightings}, new articles {report.new_articles}, "
                 f"extraction failures {report.extraction_failures}, reference articles {report.seeds_loaded}")
    if report.interrupted:
        lines.append("  interrupted: stopped before all sources were polled; the next run goes on")
    return "\n".join(lines)


# -- sources -----------------------------------------------------------------------------

def _args_sources(p: argparse.ArgumentParser) -> None:
    _output_args(p)


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    return _print_query(settings, "SELECT source_id, kind, state, last_success_at, last_error_kind, "
                        "consecutive_failures, last_error FROM source_health", args.format)


# -- query -------------------------------------------------------------------------------

def _args_query(p: argparse.ArgumentParser) -> None:
    p.add_argument("sql", help="one SQL statement; the warehouse is opened read-only")
    _output_args(p)


def _output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format")


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    return _print_query(settings, args.sql, args.format)


def _print_query(settings: Settings, sql: str, fmt: str) -> int:
    from .store import open_reader
    import duckdb

    store = open_reader(settings.warehouse_path)
    try:
        cols, rows = store.query(sql)
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {str(exc).splitlines()[0]}",
                         remedy="the warehouse is read-only here; list tables with "
                                "\"select table_name, table_type from information_schema.tables\"") from exc
    finally:
        store.close()
    print(render_rows(cols, rows, fmt))
    return EXIT_OK


def render_rows(cols: list[str], rows: list[tuple], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([dict(zip(cols, r)) for r in rows], default=_json_value, indent=2, ensure_ascii=False)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows([[_cell(v) for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    return _table(cols, rows)


def _json_value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (date, datetime)) else str(v)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if v.tzinfo else str(v)
    return " ".join(str(v).split())


def _table(cols: list[str], rows: list[tuple], width: int = 60) -> str:
    cells = [[_cell(v)[:width] for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()
    out = [line(cols), line(["-" * w for w in widths])] + [line(r) for r in cells]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


# -- config, daemon ------------------------------------------------------------------------

def _args_none(p: argparse.ArgumentParser) -> None:
    return None


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(effective_settings(settings))
    return EXIT_OK


def cmd_daemon(args: argparse.Namespace, settings: Settings) -> int:
    from .daemon import run_daemon

    return run_daemon(settings, run_now=not args.no_initial_run)


def _args_daemon(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-initial-run", action="store_true", help="wait for the first interval before ingesting")


COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": (cmd_run, "poll the due sources once, load new articles, print a summary",
            "newswatch run --all", _args_run),
    "sources": (cmd_sources, "list the sources with their health",
                "newswatch sources --format csv", _args_sources),
    "query": (cmd_query, "run read-only SQL against the warehouse",
              'newswatch query "select * from coverage_by_outlet" --format json', _args_query),
    "config": (cmd_config, "print the effective settings (secrets masked)",
               "newswatch --config /etc/newswatch config", _args_none),
    "daemon": (cmd_daemon, "run ingest on the configured interval until stopped (SIGTERM/Ctrl-C)",
               "newswatch daemon", _args_daemon),
}


COMMANDS.update(STORY_COMMANDS)


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
    print(f"newswatch: {exc.describe()}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
