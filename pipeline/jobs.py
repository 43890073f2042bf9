"""The jobs cron and the daemon both call: open the store, work, close, return a report."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta
from typing import Any, Callable

from . import fingerprint as fp
from .config import Settings, reference_dir
from .fetch import Fetcher, HttpLimits
from . import dedup, scoring
from .isolate import IsolatedExtractor
from .models import RunReport, SourceOutcome
from .outlets import OutletResolver
from .refresh import RunContext, refresh_source
from .seeds import Seed, read_reference_set
from .store import Batch, Store, article_id_for, open_writer, writer_lock

Progress = Callable[[str, int, int, SourceOutcome | None], None]


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        user_agent=settings.get("http", "user_agent"),
        connect_timeout=float(settings.get("http", "connect_timeout")),
        deadline=float(settings.get("http", "feed_timeout")),
        max_body_bytes=int(settings.get("http", "max_body_bytes")),
        max_redirects=int(settings.get("http", "max_redirects")),
        allow_networks=settings.allow_networks,
    )


def ingest(settings: Settings, now: datetime, *, force: bool = False, progress: Progress | None = None,
           stop: threading.Event | None = None) -> RunReport:
    """One ingest pass over the due sources (all of them with ``force``)."""
    with writer_lock(settings.warehouse_path):
        # Forked before the warehouse opens: the worker inherits no database handle.
        with IsolatedExtractor(timeout=float(settings.get("http", "page_timeout"))) as extractor:
            store = open_writer(settings.warehouse_path)
            try:
                return _ingest(store, settings, now, force, progress, stop, extractor)
            finally:
                store.close()


def _ingest(store: Store, settings: Settings, now: datetime, force: bool, progress: Progress | None,
            stop: threading.Event | None, extractor: IsolatedExtractor) -> RunReport:
    store.sync_outlets(settings.outlets, now)
    store.sync_sources(settings.sources)
    run_id = store.start_run(now)
    report = RunReport(run_id=run_id, started_at=now)
    resolver = OutletResolver(settings.outlets)
    report.seeds_loaded = load_seeds(store, settings, resolver, now, run_id)
    due = [s.id for s in settings.sources] if force else store.due_sources(now)
    with Fetcher(http_limits(settings)) as fetcher:
        ctx = _context(store, fetcher, resolver, settings, run_id, now)
        ctx.extract = extractor
        for i, source_id in enumerate(due):
            if stop is not None and stop.is_set():
                report.interrupted = True
                break
            if progress:
                progress(source_id, i, len(due), None)
            outcome = refresh_source(ctx, source_id)
            report.outcomes.append(outcome)
            if progress:
                progress(source_id, i + 1, len(due), outcome)
    report.analysis = analyse(store, settings, now)
    report.finished_at = now
    store.finish_run(run_id, datetime.now(now.tzinfo), "interrupted" if report.interrupted else "done",
                     _counts(report))
    return report


def analyse(store: Store, settings: Settings, now: datetime) -> dict[str, int]:
    """What follows the facts: near-duplicate links, clusters, story scores. Each step
    only handles what is still pending, so a crashed run's leftovers are done next time."""
    links = dedup.link_pending(store, now)
    clusters = dedup.recluster(store)
    scored = scoring.score_pending(store, settings, now)
    return {"dup_links": links, "clusters": clusters, "scored": scored}


def rescore(settings: Settings, now: datetime, *, story_id: str | None = None,
            redo_duplicates: bool = False) -> dict[str, int]:
    """Recompute every decision (after a story's configuration changed), fetching nothing."""
    if story_id is not None:
        settings.story(story_id)  # KeyError for an unknown story
    with writer_lock(settings.warehouse_path):
        store = open_writer(settings.warehouse_path)
        try:
            store.clear_scores(story_id)
            if redo_duplicates:
                store.reset_dedup()
            return analyse(store, settings, now)
        finally:
            store.close()


def _context(store: Store, fetcher: Fetcher, resolver: OutletResolver, settings: Settings,
             run_id: int, now: datetime) -> RunContext:
    return RunContext(
        store=store, fetcher=fetcher, resolver=resolver, run_id=run_id, now=now,
        feed_timeout=float(settings.get("http", "feed_timeout")),
        page_timeout=float(settings.get("http", "page_timeout")),
        max_pages=int(settings.get("http", "max_pages_per_source")),
        min_poll=timedelta(minutes=int(settings.get("schedule", "min_poll_minutes"))),
        max_backoff=timedelta(hours=float(settings.get("schedule", "max_backoff_hours"))),
    )


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
