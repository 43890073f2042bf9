"""`run`, `daemon` and `config`: ingest now, ingest on a schedule, show the settings."""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime, timezone
from typing import Callable

from pipeline.cli.common import (
    EXIT_OK,
    EXIT_STRICT,
)
from pipeline.config import (
    Settings,
    effective_settings,
)
from pipeline.models import SourceOutcome, format_report
from pipeline.store.hygiene import escape_controls


def _args_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", dest="force",
                   help="poll every source now, even those not yet due or backing off")
    p.add_argument("--strict", action="store_true", help="exit 5 when any source failed")
    p.add_argument("--quiet", action="store_true", help="print only the summary")


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.jobs import ingest

    progress = _progress_printer() if sys.stderr.isatty() and not args.quiet else None
    report = ingest(settings, datetime.now(timezone.utc), force=args.force, progress=progress)
    print(escape_controls(format_report(report, verbose=not args.quiet), keep_lines=True))  # errors quote servers
    if args.strict and report.sources_failed:
        return EXIT_STRICT
    return EXIT_OK


def _progress_printer() -> Callable[..., None]:
    def show(source_id: str, done: int, total: int, outcome: SourceOutcome | None, detail: str = "") -> None:
        state = detail or "..." if outcome is None else ("ok" if outcome.ok else f"FAILED ({outcome.error_kind})")
        line = escape_controls(f"[{done}/{total}] {source_id} {state}")
        width = shutil.get_terminal_size((100, 20)).columns - 1
        sys.stderr.write(f"\r\033[K{line[:width]}")
        if done == total and outcome is not None:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show




def _args_none(p: argparse.ArgumentParser) -> None:
    return None


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    print(effective_settings(settings))
    return EXIT_OK


def cmd_daemon(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.cli.digest import daemon_jobs
    from pipeline.daemon import run_daemon

    return run_daemon(settings, run_now=not args.no_initial_run, extra_jobs=daemon_jobs(settings))


def _args_daemon(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-initial-run", action="store_true", help="wait for the first interval before ingesting")


INGEST_COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": (cmd_run, "poll the due sources once, load new articles, print a summary",
            "newswatch run --all", _args_run),
    "config": (cmd_config, "print the effective settings (secrets masked)",
               "newswatch --config /etc/newswatch config", _args_none),
    "daemon": (cmd_daemon, "run ingest on the configured interval until stopped (SIGTERM/Ctrl-C)",
               "newswatch daemon", _args_daemon),
}
