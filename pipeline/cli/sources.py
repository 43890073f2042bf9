"""`sources`: the sources and their health; `sources add URL`."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from pipeline.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    output_args,
    print_query,
)
from pipeline.config import (
    Settings,
)
from pipeline.errors import ConfigError


def _args_sources(p: argparse.ArgumentParser) -> None:
    output_args(p)
    p.add_argument("action", nargs="?", choices=("add",),
                   help="add: fetch URL, find out what it is and append a [[source]] to sources.toml")
    p.add_argument("url", nargs="?", help="add: a feed, search feed, sitemap, robots.txt or web page")
    p.add_argument("--id", help="add: the new source's id (default: from its title or URL)")
    p.add_argument("--outlet", help="add: the [[outlet]] id it belongs to")
    p.add_argument("--story", help="add: the story whose query fills {query} (search sources)")


def cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "add":
        return cmd_sources_add(args, settings)
    return print_query(settings, "SELECT source_id, kind, state, last_success_at, last_error_kind, "
                        "consecutive_failures, last_error FROM source_health", args.format)


def cmd_sources_add(args: argparse.Namespace, settings: Settings) -> int:
    """Detect what the URL serves and append it; exit 2 when it cannot be added."""
    from pipeline.acquire.catalog import append_source, detect_source, source_table
    from pipeline.acquire.documents import Timeouts
    from pipeline.acquire.fetch import Fetcher
    from pipeline.errors import SourceError
    from pipeline.jobs import http_limits

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


SOURCE_COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "sources": (cmd_sources, "list the sources with their health, or add one (sources add URL)",
                "newswatch sources --format csv\n  newswatch sources add https://www.example.org/ --outlet example",
                _args_sources),
}
