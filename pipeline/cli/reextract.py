"""``newswatch reextract``: the archived pages read again with the current extractor and
rules (dates, decoding, titles), fetching nothing. Thin: parse, call ``jobs.reextract``, print."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timezone

from pipeline.config import Settings
from pipeline.errors import ConfigError


def _args_reextract(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="only articles first seen on or after this day (UTC)")
    p.add_argument("--source", metavar="ID", help="only articles listed by this source")


def cmd_reextract(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.jobs import reextract

    if args.source and args.source not in {s.id for s in settings.sources}:
        raise ConfigError([f"--source {args.source!r}: no source with that id in {settings.config_dir / 'sources.toml'}"])
    since = datetime.combine(args.since, datetime.min.time(), timezone.utc) if args.since else None
    report, analysis = reextract(settings, datetime.now(timezone.utc), since=since, source_id=args.source)
    print(f"re-extracted {report.considered} archived pages: {report.extracted} articles, "
          f"{report.failed} not articles, {report.missing} unreadable in the archive, "
          f"{report.skipped} left as they were (extraction timed out); "
          f"{analysis['scored']} decisions rescored, {analysis['dup_links']} duplicate links")
    return 0


REEXTRACT_COMMANDS = {
    "reextract": (cmd_reextract, "read archived pages again with the current extractor and rules (no fetching)",
                  "newswatch reextract --since 2026-06-01 --source daily-circuit-rss", _args_reextract),
}
