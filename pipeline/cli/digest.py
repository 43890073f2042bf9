"""`digest`: show, write or send the daily digest; the daemon's digest jobs."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from pipeline.cli.common import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_UNDELIVERED,
)
from pipeline.config import (
    Settings,
)
from pipeline.errors import LockedError, NewswatchError


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
    from pipeline.jobs import due_digest_day, preview_digest, send_digest

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
    from pipeline.deliver.mailer import wire_bytes

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
    from pipeline.jobs import due_digest_day, send_digest

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




def daemon_jobs(settings: Settings) -> list[tuple[Callable[[], Any], Any, str]]:
    """The digest, daily at digest.time; and hourly, to send what a busy warehouse or a
    failing server held back (a no-op once the due day's digest went out)."""
    from apscheduler.triggers.interval import IntervalTrigger

    from pipeline.daemon import digest_trigger

    if not settings.get("digest", "recipients"):
        return []
    job = lambda: digest_job(settings)  # noqa: E731
    return [(job, digest_trigger(settings), "digest"), (job, IntervalTrigger(hours=1), "digest-retry")]


DIGEST_COMMANDS: dict[str, tuple[Callable[..., int], str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "digest": (cmd_digest, "show, write or send the daily digest (sent once per story, day and recipient)",
               "newswatch digest --send", _args_digest),
}
