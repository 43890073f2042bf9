"""``newswatch daemon``: APScheduler 3.x calling the very same jobs as cron does.

One ingest at a time (``max_instances=1``, missed runs coalesced). SIGTERM or SIGINT sets
a stop flag that ``jobs.ingest`` checks between sources, so the current source finishes
and is committed; then the scheduler shuts down and the process exits 0. The warehouse is
never held open between jobs.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timezone
from typing import Any, Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from pipeline.config import Settings
from pipeline.errors import LockedError, NewswatchError
from pipeline.models import format_report

log = logging.getLogger("newswatch.daemon")


def build_scheduler(settings: Settings, stop: threading.Event, *, run_now: bool = True,
                    extra_jobs: list[tuple[Callable[[], Any], Any, str]] | None = None) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=timezone.utc)
    minutes = int(settings.get("schedule", "interval_minutes"))
    first = datetime.now(timezone.utc) if run_now else None
    scheduler.add_job(lambda: ingest_job(settings, stop), IntervalTrigger(minutes=minutes),
                      id="ingest", max_instances=1, coalesce=True, next_run_time=first,
                      misfire_grace_time=minutes * 60)
    for func, trigger, job_id in extra_jobs or []:
        scheduler.add_job(func, trigger, id=job_id, max_instances=1, coalesce=True,
                          misfire_grace_time=3600)
    return scheduler


def digest_trigger(settings: Settings) -> CronTrigger:
    hh, mm = settings.get("digest", "time").split(":")
    return CronTrigger(hour=int(hh), minute=int(mm), timezone=settings.get("digest", "timezone"))


def ingest_job(settings: Settings, stop: threading.Event) -> None:
    from pipeline.jobs import ingest

    try:
        report = ingest(settings, datetime.now(timezone.utc), stop=stop)
        log.info("%s", format_report(report))
        print(format_report(report), flush=True)
    except LockedError as exc:
        log.warning("skipped: %s", exc)
    except NewswatchError as exc:
        log.error("ingest failed: %s", exc.describe())
    except Exception:  # a bug must not end the daemon: the next interval tries again
        log.exception("ingest failed with an internal error; the daemon goes on")


def run_daemon(settings: Settings, *, run_now: bool = True,
               extra_jobs: list[tuple[Callable[[], Any], Any, str]] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    scheduler = build_scheduler(settings, stop, run_now=run_now, extra_jobs=extra_jobs)

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %s: finishing the current source, then stopping", signum)
        stop.set()
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"newswatch daemon: ingest every {settings.get('schedule', 'interval_minutes')} min; "
          "SIGTERM stops it", flush=True)
    scheduler.start()
    print("newswatch daemon: stopped", flush=True)
    return 0
