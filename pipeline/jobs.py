"""The jobs cron and the daemon both call: open the store, work, close, return a report."""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline.acquire import documents
from pipeline.acquire.fetch import Fetcher, HttpLimits
from pipeline.acquire.robots_gate import RobotsGate
from pipeline.config import Settings, reference_dir
from pipeline.config.references import Seed, read_reference_set
from pipeline.content import dedup
from pipeline.content import fingerprint as fp
from pipeline.content.archive import PageArchive
from pipeline.content.reextract import ReextractReport
from pipeline.content.reextract import reextract as redo_pages
from pipeline.content.outlets import OutletResolver
from pipeline.content.worker import ExtractorPool, IsolatedExtractor
from pipeline.errors import ConfigError, StoreError
from pipeline.models import RunReport, SourceOutcome
from pipeline.polling import SerializedStore, poll_sources
from pipeline.refresh import RunContext, record_internal_error, refresh_source
from pipeline.store import (
    Batch,
    Store,
    article_id_for,
    is_storage_error,
    open_writer,
    storage_errors,
    writer_lock,
)
from pipeline.story import decisions as scoring
from pipeline.story import unresolved

log = logging.getLogger("newswatch.jobs")

# progress(source_id, sources done, sources due, outcome or None while it runs[, detail])
Progress = Callable[..., None]


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        user_agent=settings.get("http", "user_agent"),
        connect_timeout=float(settings.get("http", "connect_timeout")),
        deadline=float(settings.get("http", "feed_timeout")),
        max_body_bytes=int(settings.get("http", "max_body_bytes")),
        max_redirects=int(settings.get("http", "max_redirects")),
        allow_networks=settings.allow_networks,
        host_delay=float(settings.get("http", "host_delay")),
        connections=max(4, int(settings.get("http", "concurrency"))),
    )


def ingest(settings: Settings, now: datetime, *, force: bool = False, progress: Progress | None = None,
           stop: threading.Event | None = None) -> RunReport:
    """One ingest pass over the due sources (all of them with ``force``). A storage error
    (disk full, ...) stops it with a StoreError naming the warehouse."""
    with storage_errors(settings.warehouse_path), writer_lock(settings.warehouse_path):
        # Forked before the warehouse opens: the workers inherit no database handle.
        with ExtractorPool(int(settings.get("extract", "workers")),
                           timeout=float(settings.get("http", "page_timeout"))) as extractor:
            store = open_writer(settings.warehouse_path, settings.warehouse_memory_limit)
            try:
                return _ingest(store, settings, now, force, progress, stop, extractor)
            finally:
                store.close()


def _ingest(store: Store, settings: Settings, now: datetime, force: bool, progress: Progress | None,
            stop: threading.Event | None, extractor: ExtractorPool) -> RunReport:
    store.sync_outlets(settings.outlets, now)
    store.sync_sources(settings.sources)
    run_id = store.start_run(now)
    with _failed_run_closed(store, run_id):
        return _ingest_run(store, settings, now, force, progress, stop, extractor, run_id)


def _ingest_run(store: Store, settings: Settings, now: datetime, force: bool, progress: Progress | None,
                stop: threading.Event | None, extractor: IsolatedExtractor, run_id: int) -> RunReport:
    report = RunReport(run_id=run_id, started_at=now)
    resolver = OutletResolver(settings.outlets)
    report.seeds_loaded = load_seeds(store, settings, resolver, now, run_id)
    due = [s.id for s in settings.sources] if force else store.due_sources(now)
    serial = SerializedStore(store)  # sources are polled in threads: one store call at a time
    with Fetcher(http_limits(settings)) as fetcher, PageArchive(archive_dir(settings)) as archive:
        ctx = _context(serial, fetcher, resolver, settings, run_id, now)
        ctx.extract, ctx.archive = extractor, archive
        ctx.extract_async = extractor.submit if extractor.size > 1 else None
        ctx.robots = RobotsGate(fetcher, serial, now, float(settings.get("http", "feed_timeout")))
        report.interrupted = poll_sources(ctx, due, int(settings.get("http", "concurrency")), report.outcomes,
                                          progress, stop, poll=_refresh_isolated)
    unresolved.match_unresolved(store, now)  # aggregator items whose article turned up (issue 4)
    report.analysis = analyse(store, settings, now)
    report.finished_at = now
    store.finish_run(run_id, datetime.now(now.tzinfo), "interrupted" if report.interrupted else "done",
                     _counts(report))
    return report


# -- one source's failure stays its own (issue 10) ---------------------------------------

def _refresh_isolated(ctx: RunContext, source_id: str, state: dict[str, Any] | None = None) -> SourceOutcome:
    """``refresh_source``, with whatever it raises recorded on that source (kind
    "internal") and its traceback logged, so the run goes on with the next source. Only
    storage errors stop the run: the next source could not be written either. Called
    in the polling threads (``polling.poll_sources``)."""
    try:
        return refresh_source(ctx, source_id, state)
    except StoreError:
        raise
    except Exception as exc:
        if is_storage_error(exc):
            raise
        log.error("source %s: internal error, recorded on the source; the run goes on", source_id,
                  exc_info=True)
        return record_internal_error(ctx, source_id, exc)


@contextmanager
def _failed_run_closed(store: Store, run_id: int) -> Iterator[None]:
    """A run stopped by an error is closed as 'failed' if the warehouse still takes the
    write; otherwise the next run finds it 'running' and closes it as 'killed'."""
    try:
        yield
    except Exception:
        try:
            store.finish_run(run_id, datetime.now(timezone.utc), "failed", dict.fromkeys(_COUNTS, 0))
        except Exception:  # noqa: BLE001 (the original error is the one to report)
            log.warning("run %s could not be closed as failed; the next run closes it", run_id)
        raise


def archive_dir(settings: Settings) -> Path:
    """The page archive's folder: ``archive/`` beside the warehouse file."""
    return settings.warehouse_path.parent / "archive"


def analyse(store: Store, settings: Settings, now: datetime, *, all_clusters: bool = False) -> dict[str, int]:
    """What follows the facts: near-duplicate links, clusters, story scores. Each step
    only handles what is still pending, so a crashed run's leftovers are done next time.
    Clusters are recomputed for the articles checked since the last time, or all of them
    (``all_clusters``); "clusters" counts the multi-member clusters written."""
    links = dedup.link_pending(store, now)
    clusters = dedup.recluster(store, full=all_clusters)
    scored = scoring.score_pending(store, settings, now)
    return {"dup_links": links, "clusters": clusters, "scored": scored}


def rescore(settings: Settings, now: datetime, *, story_id: str | None = None,
            redo_duplicates: bool = False) -> dict[str, int]:
    """Recompute every decision (after a story's configuration changed), fetching nothing."""
    if story_id is not None:
        settings.story(story_id)  # KeyError for an unknown story
    with writer_lock(settings.warehouse_path):
        store = open_writer(settings.warehouse_path, settings.warehouse_memory_limit)
        try:
            store.clear_scores(story_id)
            if redo_duplicates:
                store.reset_dedup()
            return analyse(store, settings, now, all_clusters=redo_duplicates)
        finally:
            store.close()


def label(settings: Settings, now: datetime, url: str, url_key: str, *, story_id: str, label: str,
          judged_by: str, note: str | None = None) -> dict[str, Any]:
    """Record a person's judgment of the article ``url`` leads to, and store its decision
    anew (fetching nothing); returns the article and its stored score for the story."""
    with writer_lock(settings.warehouse_path):
        store = open_writer(settings.warehouse_path, settings.warehouse_memory_limit)
        try:
            article = store.find_article(url, url_key)
            if article is None:
                raise ConfigError([f"no article known for {url}: newswatch only judges pages it has "
                                   "(see `newswatch query \"select url from articles\"`)"])
            store.save_judgment((story_id, article["article_id"], label, now, judged_by, url, note))
            scoring.score_pending(store, settings, now)
            return {"article": article, "score": store.stored_scores(article["article_id"]).get(story_id)}
        finally:
            store.close()


def reextract(settings: Settings, now: datetime, *, since: datetime | None = None,
              source_id: str | None = None) -> tuple[ReextractReport, dict[str, int]]:
    """Archived pages through the current extractor, then the analysis; nothing fetched."""
    with writer_lock(settings.warehouse_path):
        with IsolatedExtractor(timeout=float(settings.get("http", "page_timeout"))) as extractor:
            store = open_writer(settings.warehouse_path, settings.warehouse_memory_limit)
            try:
                report = redo_pages(store, extractor, archive_dir(settings), now, since, source_id)
                return report, analyse(store, settings, now)
            finally:
                store.close()


def _context(store: Any, fetcher: Fetcher, resolver: OutletResolver, settings: Settings,
             run_id: int, now: datetime) -> RunContext:
    return RunContext(
        store=store, fetcher=fetcher, resolver=resolver, run_id=run_id, now=now,
        feed_timeout=float(settings.get("http", "feed_timeout")),
        page_timeout=float(settings.get("http", "page_timeout")),
        max_pages=int(settings.get("http", "max_pages_per_source")),
        min_poll=timedelta(minutes=int(settings.get("schedule", "min_poll_minutes"))),
        max_backoff=timedelta(hours=float(settings.get("schedule", "max_backoff_hours"))),
        max_poll=timedelta(minutes=int(settings.get("schedule", "max_poll_minutes"))),
        sitemap_since=documents.sitemap_since(settings.stories, now),
    )


_COUNTS = ("sources_ok", "sources_failed", "new_sightings", "new_articles", "extraction_failures",
           "seeds_loaded")


def _counts(report: RunReport) -> dict[str, int]:
    return {"sources_ok": report.sources_ok, "sources_failed": report.sources_failed,
            "new_sightings": report.new_sightings, "new_articles": report.new_articles,
            "extraction_failures": report.extraction_failures, "seeds_loaded": report.seeds_loaded}


# -- the reference set -----------------------------------------------------------------

def load_seeds(store: Store, settings: Settings, resolver: OutletResolver, now: datetime,
               run_id: int) -> int:
    """Load every story's reference articles (idempotent: unchanged seeds are not rewritten)."""
    loaded = 0
    for story in settings.stories:
        seeds = read_reference_set(reference_dir(settings, story))
        batch = Batch()
        for seed in seeds:
            loaded += _seed_rows(store, batch, story.id, seed, resolver, now, run_id)
        store.save_batch(batch)
    return loaded


def _seed_rows(store: Store, batch: Batch, story_id: str, seed: Seed, resolver: OutletResolver,
               now: datetime, run_id: int) -> int:
    canonical = fp.canonical_url(seed.url) if seed.url else f"reference:{story_id}/{seed.file}"
    article_id = article_id_for(canonical)
    print_ = fp.fingerprint(seed.text)
    current = store.scalar("SELECT content_hash FROM articles WHERE article_id = ?", [article_id])
    if current == print_.content_hash:
        return 1
    outlet_id = _seed_outlet(batch, seed, resolver, now)
    batch.articles.append(_seed_article(article_id, canonical, seed, outlet_id, print_, now, run_id))
    batch.urls.append((canonical, article_id))
    batch.fingerprints.append((article_id, list(print_.minhash), list(print_.bands)))
    return 1


def _seed_outlet(batch: Batch, seed: Seed, resolver: OutletResolver, now: datetime) -> str | None:
    if seed.url:
        match = resolver.resolve(seed.url, seed.outlet)
        if match and not match.configured:
            batch.outlets.append((match.outlet_id, match.name, match.domain, now))
        return match.outlet_id if match else None
    if not seed.outlet:
        return None
    outlet_id = re.sub(r"[^a-z0-9]+", "-", seed.outlet.lower()).strip("-")
    batch.outlets.append((outlet_id, seed.outlet, None, now))
    return outlet_id


def _seed_article(article_id: str, canonical: str, seed: Seed, outlet_id: str | None, print_: Any,
                  now: datetime, run_id: int) -> dict[str, Any]:
    return {
        "article_id": article_id, "canonical_url": canonical, "url": seed.url or canonical,
        "outlet_id": outlet_id, "status": "reference", "fail_reason": None, "attempts": 0,
        "title": seed.headline, "author": None, "published_at": None, "site_name": seed.outlet,
        "language": None, "description": None, "body": seed.text,
        "content_hash": print_.content_hash, "word_count": print_.word_count,
        "is_reference": True, "reference_file": seed.file,
        "first_seen_at": now, "updated_at": now, "run_id": run_id,
    }


# -- the daily digest (issue 5) ----------------------------------------------------------
# Imported here, not at the top, to keep this section in one piece.
import time as _time  # noqa: E402
from datetime import date  # noqa: E402
from datetime import time as time_of_day  # noqa: E402 (the name time is left to the module)
from email.message import EmailMessage  # noqa: E402
from email.parser import BytesParser  # noqa: E402
from email.policy import default as _default_policy  # noqa: E402
from email.utils import parseaddr  # noqa: E402
from typing import Sequence  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from pipeline.config import smtp_password  # noqa: E402
from pipeline.deliver.digest import DAYS, ClusterItem, DigestData, render_digest  # noqa: E402
from pipeline.deliver.mailer import SmtpSettings, send_message, wire_bytes  # noqa: E402
from pipeline.errors import ConfigError, MailError  # noqa: E402
from pipeline.models import DigestOutcome  # noqa: E402

FAILING_FOR = timedelta(days=1)  # a source failing this long is listed in the digest


def digest_time(settings: Settings, day: date) -> datetime:
    """When ``day``'s digest is due: digest.time on that day in digest.timezone."""
    hh, mm = (int(part) for part in settings.get("digest", "time").split(":"))
    return datetime.combine(day, time_of_day(hh, mm), tzinfo=ZoneInfo(settings.get("digest", "timezone")))


def due_digest_day(settings: Settings, now: datetime) -> date:
    """The latest day whose digest time has come: today after digest.time, else yesterday."""
    today = now.astimezone(ZoneInfo(settings.get("digest", "timezone"))).date()
    return today if now >= digest_time(settings, today) else today - timedelta(days=1)


def smtp_settings(settings: Settings) -> SmtpSettings:
    """The [smtp] table as mailer settings; refuses a login it could not make, up front,
    so that a configuration mistake never marks a digest failed."""
    user = settings.get("smtp", "user") or None
    password = smtp_password(settings)
    if user and password is None:
        raise ConfigError([f"newswatch.toml: smtp.user is {user!r} but ${settings.get('smtp', 'password_env')} "
                           "(named by smtp.password_env) is not set"])
    if user and settings.get("smtp", "security") == "none":
        raise ConfigError(["newswatch.toml: smtp.user is set with smtp.security = \"none\": the password "
                           "would cross the network in clear; use \"starttls\" or \"tls\""])
    return SmtpSettings(
        host=settings.get("smtp", "host"), port=int(settings.get("smtp", "port")),
        security=settings.get("smtp", "security"), user=user, password=password,
        timeout=float(settings.get("smtp", "timeout")), ca_file=settings.get("smtp", "ca_file") or None,
        helo_name=settings.get("smtp", "helo_name") or None)


def send_digest(settings: Settings, day: date, now: datetime, *, story_ids: Sequence[str] | None = None,
                resend: bool = False, attempts: int = 3, backoff: float = 5.0,
                sleep: Callable[[float], None] = _time.sleep) -> list[DigestOutcome]:
    """Send ``day``'s digest of each story to each recipient, at most once (docs/design.md):
    the outbox row and its message are written before any SMTP; pending digests of earlier
    days go too; ``resend`` also sends ``day``'s digests whose outcome is unknown or that
    failed for good. Transient failures are retried ``attempts`` times in all."""
    smtp = smtp_settings(settings)
    stories = digest_stories(settings, story_ids)
    recipients = _recipients(settings)
    with writer_lock(settings.warehouse_path):
        with _outbox(settings) as store:
            queue, outcomes = _queue_digests(store, settings, stories, recipients, day, now, resend)
        for row in queue:
            outcomes.append(_deliver_queued(settings, row, smtp, attempts, backoff, sleep))
    return outcomes


def preview_digest(settings: Settings, day: date, now: datetime, story_id: str | None = None
                   ) -> tuple[EmailMessage, DigestData]:
    """The message ``send_digest`` would write for ``day`` (to the first recipient, else to
    the sender), without touching the outbox."""
    stories = digest_stories(settings, [story_id] if story_id else None)
    if len(stories) != 1:
        raise ConfigError([f"stories/: {len(stories)} stories are configured; choose one with --story"
                           if stories else "stories/: no story is configured, so there is no digest"])
    story = stories[0]
    recipients = _recipients(settings, required=False) or [_address_key(settings.get("digest", "sender"))]
    key, address = recipients[0]
    with writer_lock(settings.warehouse_path):
        with _outbox(settings) as store:
            data = digest_data(store, settings, story, day, *_window(store, settings, story, key, day, now))
    return _render(settings, data, address), data


def digest_stories(settings: Settings, story_ids: Sequence[str] | None) -> list[Any]:
    if not story_ids:
        return list(settings.stories)
    known = {s.id: s for s in settings.stories}
    missing = [i for i in story_ids if i not in known]
    if missing:
        raise ConfigError([f"stories/: no story with id {i!r} (configured: {', '.join(known) or 'none'})"
                           for i in missing])
    return [known[i] for i in story_ids]


def _recipients(settings: Settings, required: bool = True) -> list[tuple[str, str]]:
    """(outbox key, address as configured) of each distinct recipient."""
    found: dict[str, str] = {}
    for address in settings.get("digest", "recipients"):
        found.setdefault(*_address_key(address))
    if required and not found:
        raise ConfigError(["newswatch.toml: digest.recipients is empty: nobody to send the digest to"])
    return list(found.items())


def _address_key(address: str) -> tuple[str, str]:
    # Domains are case-insensitive and local parts nearly always are in practice: one row
    # per mailbox even if the configuration changes the display name or the case.
    return parseaddr(address)[1].lower(), address


@contextmanager
def _outbox(settings: Settings) -> Iterator[Store]:
    """The warehouse, open only for one step: readers (``newswatch query``) are not locked
    out for the length of an SMTP conversation."""
    store = open_writer(settings.warehouse_path, settings.warehouse_memory_limit)
    try:
        yield store
    finally:
        store.close()


def _queue_digests(store: Store, settings: Settings, stories: list[Any], recipients: list[tuple[str, str]],
                   day: date, now: datetime, resend: bool) -> tuple[list[dict[str, Any]], list[DigestOutcome]]:
    """Write the missing outbox rows of ``day``; return the rows to send and what became of
    the others (already sent, unknown, failed)."""
    cache: dict[tuple[Any, ...], DigestData] = {}
    with store.transaction():
        store.mark_interrupted_digests(now)
        for story in stories:
            for key, address in recipients:
                if store.digest_state(story.id, day, key) is None:
                    store.add_digest(_new_row(store, settings, story, day, now, key, address, cache))
        queue = store.digests_to_send([s.id for s in stories], [k for k, _ in recipients], day, resend)
    queued = {(r["story_id"], r["day"], r["recipient"]) for r in queue}
    left = [DigestOutcome(s.id, day, key, store.digest_state(s.id, day, key) or "", False)
            for s in stories for key, _ in recipients if (s.id, day, key) not in queued]
    return queue, left


def _new_row(store: Store, settings: Settings, story: Any, day: date, now: datetime, key: str,
             address: str, cache: dict[tuple[Any, ...], DigestData]) -> dict[str, Any]:
    start, end = _window(store, settings, story, key, day, now)
    if (story.id, start, end) not in cache:
        cache[(story.id, start, end)] = digest_data(store, settings, story, day, start, end)
    msg = _render(settings, cache[(story.id, start, end)], address)
    return {"story_id": story.id, "day": day, "recipient": key, "message_id": msg["Message-ID"],
            "window_start": start, "window_end": end, "message": wire_bytes(msg), "created_at": now}


def _window(store: Store, settings: Settings, story: Any, key: str, day: date,
            now: datetime) -> tuple[datetime, datetime]:
    """(start, end] of the recipient's digest for ``day``: from the end of their previous
    digest (else the story's first day) to the digest time of ``day`` (or now, if earlier)."""
    end = min(now, digest_time(settings, day)).astimezone(timezone.utc)
    start = store.digest_window_start(story.id, key, day)
    if start is None:
        start = datetime.combine(story.window_start, time_of_day(0), tzinfo=timezone.utc)
    return min(start, end), end


def digest_data(store: Store, settings: Settings, story: Any, day: date, start: datetime,
                end: datetime) -> DigestData:
    """Everything one digest shows, read from the warehouse for the window (start, end]."""
    tz = settings.get("digest", "timezone")
    articles, copies = store.digest_counts(story.id, start, end)
    new_outlets = store.digest_new_outlets(story.id, start, end)
    return DigestData(
        story_id=story.id, story_name=story.name, date=day,
        window_start=start.astimezone(ZoneInfo(tz)), window_end=end.astimezone(ZoneInfo(tz)),
        new_articles=articles, new_outlets=len(new_outlets), copies_carried=copies,
        clusters=[ClusterItem(*row) for row in store.digest_clusters(story.id, start, end)],
        new_outlet_names=new_outlets, by_outlet=store.digest_by_outlet(story.id, end),
        daily=store.digest_daily(story.id, end, tz, day - timedelta(days=DAYS - 1), day),
        failing_sources=[(source, url, since.astimezone(ZoneInfo(tz)), kind, error)
                         for source, url, since, kind, error in store.failing_sources(story.id, end, FAILING_FOR)])


def _render(settings: Settings, data: DigestData, address: str) -> EmailMessage:
    return render_digest(data, sender=settings.get("digest", "sender"), recipient=address,
                         list_id=settings.get("digest", "list_id"))


def _deliver_queued(settings: Settings, row: dict[str, Any], smtp: SmtpSettings, attempts: int,
                    backoff: float, sleep: Callable[[float], None]) -> DigestOutcome:
    """Up to ``attempts`` SMTP sessions while failures are transient, waiting ``backoff``,
    then twice that, between them (an unknown outcome is never retried)."""
    key = (row["story_id"], row["day"], row["recipient"])
    msg = BytesParser(policy=_default_policy).parsebytes(bytes(row["message"]))
    state, detail = "pending", ""
    for attempt in range(1, max(1, attempts) + 1):
        state, detail = _attempt(settings, key, msg, smtp)  # type: ignore[arg-type]
        if state != "pending" or attempt == attempts:
            break
        sleep(backoff * 2 ** (attempt - 1))
    return DigestOutcome(*key, state, True, detail)


def _attempt(settings: Settings, key: tuple[str, date, str], msg: EmailMessage,
             smtp: SmtpSettings) -> tuple[str, str]:
    """One SMTP session. 'sending' is committed before the first byte goes out and the
    result only after the server answered, so a crash in between leaves 'sending', which
    the next job reads as 'unknown'."""
    with _outbox(settings) as store:
        store.set_digest_state(key, "sending", datetime.now(timezone.utc))
    state, detail = _smtp_outcome(msg, smtp)
    with _outbox(settings) as store:
        store.set_digest_state(key, state, datetime.now(timezone.utc), error=None if state == "sent" else detail,
                               reply=detail if state == "sent" else None)
    return state, detail


def _smtp_outcome(msg: EmailMessage, smtp: SmtpSettings) -> tuple[str, str]:
    """(state, server reply or error): 4xx and network trouble leave it pending; a lost
    reply to the final "." is unknown (RFC 5321 4.1.1.4); anything else failed."""
    try:
        return "sent", send_message(msg, smtp)
    except MailError as exc:
        state = "unknown" if exc.outcome_unknown else "pending" if exc.transient else "failed"
        return state, exc.describe()
    except ValueError as exc:  # the envelope: config validation should have caught it
        return "failed", str(exc)
