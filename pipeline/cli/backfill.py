"""`backfill`, `compact` and `export`: archives in, shards merged, snapshots out."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from pipeline.cli.common import EXIT_OK
from pipeline.config import Settings
from pipeline.errors import ConfigError


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _args_backfill(p: argparse.ArgumentParser) -> None:
    p.add_argument("warc", nargs="+", metavar="WARC",
                   help="WARC files (.warc or .warc.gz), or .txt/.lst files listing one path a line")
    p.add_argument("--story", metavar="ID", help="keep only pages this story's scorer does not rule out "
                                                 "(default: keep every article); --since defaults to its window")
    p.add_argument("--since", type=_day, metavar="D", help="first capture day taken (WARC-Date, UTC)")
    p.add_argument("--until", type=_day, metavar="D", help="last capture day taken (inclusive)")
    p.add_argument("--hosts", metavar="FILE", help="hosts or domains to read, one a line (subdomains included)")
    p.add_argument("--workers", type=int, metavar="N", help="local processes (default backfill.workers, 0: cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the tasks on this Dask scheduler (tcp://host:8786) instead of locally")
    p.add_argument("--shards", metavar="DIR", help="shard folder (default backfill.shards)")


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.backfill.runner import backfill

    plan = _plan(args, settings)
    progress = _progress_line if sys.stderr.isatty() else None
    summary = backfill(settings, plan, datetime.now(timezone.utc), progress)
    if progress:
        print(file=sys.stderr)
    print(json.dumps(summary, indent=2, default=str))
    return EXIT_OK


def _plan(args: argparse.Namespace, settings: Settings) -> Any:
    from pipeline.acquire.warc import PageFilter, read_hosts, warc_paths
    from pipeline.backfill.runner import BackfillPlan, shard_root

    try:
        hosts = read_hosts(Path(args.hosts)) if args.hosts else None
        paths = warc_paths(args.warc)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{getattr(exc, 'filename', None) or args.hosts}: cannot read: {exc}"]) from None
    since = args.since or (settings.story(args.story).window_start if _known(settings, args.story) else None)
    wanted = PageFilter(hosts, _utc(since), _utc(args.until + timedelta(days=1)) if args.until else None)
    workers = args.workers if args.workers is not None else int(settings.get("backfill", "workers"))
    return BackfillPlan(tuple(paths), Path(args.shards).resolve() if args.shards else shard_root(settings),
                        wanted, args.story, workers, args.scheduler or settings.get("backfill", "scheduler") or None)


def _known(settings: Settings, story_id: str | None) -> bool:
    return story_id is not None and any(s.id == story_id for s in settings.stories)


def _utc(day: date | None) -> datetime | None:
    return datetime.combine(day, time(0), tzinfo=timezone.utc) if day else None


def _progress_line(t: Any) -> None:
    print(f"\rfiles {t.files_done}/{t.files}  records {t.records()}  articles kept {t.kept()}  "
          f"{t.rate():.1f} records/s ", end="", file=sys.stderr, flush=True)


def _args_compact(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", metavar="DIR", help="shard folder (default backfill.shards)")


def cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.backfill.runner import shard_root
    from pipeline.backfill.shards import compact

    root = Path(args.shards).resolve() if args.shards else shard_root(settings)
    print(json.dumps(compact(root), indent=2))
    return EXIT_OK


def _args_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="folder under which the dated snapshot folder is made")
    p.add_argument("--story", metavar="ID", help="the story (needed when more than one is configured)")


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.backfill.export import export_story

    result = export_story(settings, Path(args.dir), args.story, datetime.now(timezone.utc))
    print(json.dumps(result, indent=2))
    return EXIT_OK


BACKFILL_COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "backfill": (cmd_backfill, "read a story's past coverage from WARC archives into the warehouse",
                 "newswatch backfill CC-NEWS-20260605*.warc.gz --story rsi-pause --hosts hosts.txt",
                 _args_backfill),
    "compact": (cmd_compact, "merge the small Parquet shards backfill wrote",
                "newswatch compact", _args_compact),
    "export": (cmd_export, "write a story's tables and views as a dated Parquet snapshot",
               "newswatch export snapshots/ --story rsi-pause", _args_export),
}
