"""The command line: parse input, call one job, map reports and errors to exit codes.

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
import csv
import io
import json
import shutil
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .config import ENV_CONFIG, Settings, effective_settings, load_settings, resolve_config_dir
from .errors import ConfigError, LockedError, NewswatchError, StoreError
from .cli_story import STORY_COMMANDS
from .models import RunReport, SourceOutcome

EXIT_OK, EXIT_INTERNAL, EXIT_CONFIG, EXIT_LOCKED, EXIT_STORE, EXIT_STRICT = 0, 1, 2, 3, 4, 5
EXIT_UNDELIVERED = 6  # digest --send: a digest was not delivered

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


def _progress_printer() -> Callable[..., None]:
    def show(source_id: str, done: int, total: int, outcome: SourceOutcome | None, detail: str = "") -> None:
        state = detail or "..." if outcome is None else ("ok" if outcome.ok else f"FAILED ({outcome.error_kind})")
        line = f"[{done}/{total}] {source_id} {state}"
        width = shutil.get_terminal_size((100, 20)).columns - 1
        sys.stderr.write(f"\r\033[K{line[:width]}")
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
    p.add_argument("action", nargs="?", choices=("add",),
                   help="add: fetch URL, find out what it is and append a [[source]] to sources.toml")
    p.add_argument("url", nargs="?", help="add: a feed, search feed, sitemap, robots.txt or web page")
    p.add_argument("--id", help="add: the new source's id (default: from its title or URL)")
    p.add_argument("--outlet", help="add: the [[outlet]] id it belongs to")
    p.add_argument("--story", help="add: the story whose query fills {query} (search sources)")


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "add":
        return cmd_sources_add(args, settings)
    return _print_query(settings, "SELECT source_id, kind, state, last_success_at, last_error_kind, "
                        "consecutive_failures, last_error FROM source_health", args.format)


def cmd_sources_add(args: argparse.Namespace, settings: Settings) -> int:
    """Detect what the URL serves and append it; exit 2 when it cannot be added."""
    from .catalog import append_source, detect_source, source_table
    from .documents import Timeouts
    from .errors import SourceError
    from .fetch import Fetcher
    from .jobs import http_limits

    if not args.url:
        print("newswatch: sources add needs a URL (newswatch sources add URL)", file=sys.stderr)
        return EXIT_CONFIG
    timeouts = Timeouts(float(settings.get("http", "feed_timeout")), float(settings.get("http", "page_timeout")))
    try:
        with Fetcher(http_limits(settings)) as fetcher:
            detected = detect_source(fetcher, args.url, timeouts, _story_query(settings, args.story))
    except SourceError as exc:
        print(f"newswatch: cannot add {args.url}: {exc.describe()}", file=sys.stderr)
        return EXIT_CONFIG
    table = source_table(settings, args.url, detected, source_id=args.id, outlet=args.outlet, story=args.story)
    added = append_source(settings.config_dir, table)  # ConfigError (exit 2): file restored
    print(f"{detected.kind}: {detected.description}\nappended to {settings.config_dir / 'sources.toml'}:{added}",
          end="")
    return EXIT_OK


def _story_query(settings: Settings, story_id: str | None) -> str | None:
    if story_id is None:
        return None
    try:
        story = settings.story(story_id)
    except KeyError:
        raise ConfigError([f"--story {story_id}: no story with that id in stories/"]) from None
    return getattr(story, "query", None) or story.name


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

    return run_daemon(settings, run_now=not args.no_initial_run, extra_jobs=daemon_jobs(settings))


def daemon_jobs(settings: Settings) -> list[tuple[Callable[[], Any], Any, str]]:
    """The digest, daily at digest.time; and hourly, to send what a busy warehouse or a
    failing server held back (a no-op once the due day's digest went out)."""
    from apscheduler.triggers.interval import IntervalTrigger

    from .daemon import digest_trigger

    if not settings.get("digest", "recipients"):
        return []
    job = lambda: digest_job(settings)  # noqa: E731
    return [(job, digest_trigger(settings), "digest"), (job, IntervalTrigger(hours=1), "digest-retry")]


def _args_daemon(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-initial-run", action="store_true", help="wait for the first interval before ingesting")


# -- digest ------------------------------------------------------------------------------

def _args_digest(p: argparse.ArgumentParser) -> None:
    p.add_argument("--date", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="the digest's day (default: the latest day whose digest.time has passed, "
                        "in digest.timezone)")
    p.add_argument("--story", metavar="ID", help="only this story (default: every story)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--to", metavar="FILE", type=Path,
                     help="write the message to FILE (.eml) and its HTML part beside it (.html); "
                          "sends nothing and leaves the outbox alone")
    out.add_argument("--send", action="store_true",
                     help="send it to digest.recipients, at most once per story, day and recipient; "
                          "digests still pending from earlier calls go too")
    p.add_argument("--resend", action="store_true",
                   help="with --send: send the day's digests whose outcome is unknown or that failed "
                        "for good once more")
    p.add_argument("--retries", type=int, default=2, metavar="N",
                   help="with --send: retry a transient failure N times, 5 s then 10 s apart (default 2)")


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    from .jobs import due_digest_day, preview_digest, send_digest

    now = datetime.now(timezone.utc)
    day = args.date or due_digest_day(settings, now)
    problem = _digest_usage(args, settings, now, day)
    if problem:
        print(f"newswatch digest: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if args.send:
        outcomes = send_digest(settings, day, now, story_ids=[args.story] if args.story else None,
                               resend=args.resend, attempts=args.retries + 1)
        print(format_digest_outcomes(outcomes))
        return EXIT_UNDELIVERED if any(o.undelivered for o in outcomes) else EXIT_OK
    msg, _ = preview_digest(settings, day, now, args.story)
    if args.to is None:
        print(msg.get_body(("plain",)).get_content(), end="")  # type: ignore[union-attr]
        return EXIT_OK
    return _write_digest(msg, args.to)


def _digest_usage(args: argparse.Namespace, settings: Settings, now: datetime, day: date) -> str | None:
    from zoneinfo import ZoneInfo

    today = now.astimezone(ZoneInfo(settings.get("digest", "timezone"))).date()
    if day > today:
        return f"--date {day} is in the future (today is {today} in {settings.get('digest', 'timezone')})"
    if (args.resend or args.retries != 2) and not args.send:
        return "--resend and --retries go with --send"
    if args.retries < 0:
        return "--retries must be 0 or more"
    if args.to is not None and args.to.suffix.lower() == ".html":
        return "--to names the .eml file; the HTML preview is written beside it with .html"
    return None


def _write_digest(msg: Any, target: Path) -> int:
    from .mailer import wire_bytes

    preview = target.with_suffix(".html")
    target.write_bytes(wire_bytes(msg))
    preview.write_text(msg.get_body(("html",)).get_content(), encoding="utf-8")
    print(f"wrote {target} and {preview} (nothing sent)")
    return EXIT_OK


def format_digest_outcomes(outcomes: Sequence[Any]) -> str:
    """One line per digest (story, day, recipient) and what became of it."""
    if not outcomes:
        return "no digest to send (no story configured)"
    return "\n".join(_digest_line(o) for o in outcomes)


def _digest_line(o: Any) -> str:
    what = f"{o.story_id} {o.day} to {o.recipient}"
    again = f"`newswatch digest --send --resend --date {o.day}`"
    if o.state == "sent":
        return f"sent {what}: {o.detail}" if o.attempted else f"already sent {what}"
    if o.state == "pending":
        return f"NOT SENT {what}, still pending; the next `newswatch digest --send` retries it: {o.detail}"
    if o.state == "unknown":
        lead = "OUTCOME UNKNOWN" if o.attempted else "outcome unknown, not sent again:"
        return f"{lead} {what}: {o.detail or 'may have been delivered'}; check the mailbox, then {again}"
    lead = "FAILED" if o.attempted else "failed earlier, not sent again:"
    return f"{lead} {what}: {o.detail or 'refused'}; fix the cause, then {again}"


def digest_job(settings: Settings) -> None:
    """The daemon's digest job: the due day's digest and any still pending. A busy
    warehouse or a failure waits for the next trigger (the daemon also retries hourly)."""
    from .jobs import due_digest_day, send_digest

    now = datetime.now(timezone.utc)
    try:
        outcomes = send_digest(settings, due_digest_day(settings, now), now)
    except LockedError as exc:
        print(f"newswatch daemon: digest skipped: {exc}", flush=True)
        return
    except NewswatchError as exc:
        print(f"newswatch daemon: digest failed: {exc.describe()}", file=sys.stderr, flush=True)
        return
    print(format_digest_outcomes(outcomes), flush=True)


COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": (cmd_run, "poll the due sources once, load new articles, print a summary",
            "newswatch run --all", _args_run),
    "sources": (cmd_sources, "list the sources with their health, or add one (sources add URL)",
                "newswatch sources --format csv\n  newswatch sources add https://www.example.org/ --outlet example",
                _args_sources),
    "query": (cmd_query, "run read-only SQL against the warehouse",
              'newswatch query "select * from coverage_by_outlet" --format json', _args_query),
    "config": (cmd_config, "print the effective settings (secrets masked)",
               "newswatch --config /etc/newswatch config", _args_none),
    "daemon": (cmd_daemon, "run ingest on the configured interval until stopped (SIGTERM/Ctrl-C)",
               "newswatch daemon", _args_daemon),
    "digest": (cmd_digest, "show, write or send the daily digest (sent once per story, day and recipient)",
               "newswatch digest --send", _args_digest),
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
