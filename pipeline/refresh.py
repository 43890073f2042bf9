"""One source, end to end: fetch -> parse -> new entries -> pages -> extract ->
fingerprint -> one transaction. Read ``refresh_source`` top to bottom for the whole life
of a poll; every step it names lives in its own room."""

from __future__ import annotations

import hashlib
import random
import threading
from contextlib import nullcontext
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable

from pipeline.acquire.documents import (
    SITEMAP_RECENT,
    Timeouts,
    fetch_document,
    read_document,
)
from pipeline.acquire import schedule
from pipeline.acquire.fetch import Fetcher, Validators
from pipeline.acquire.robots_gate import RobotsGate
from pipeline.content import fingerprint as fp
from pipeline.content.archive import ArchiveRef, PageArchive
from pipeline.content.claims import Claims
from pipeline.content.dates import in_range
from pipeline.content.extract import extract_page, provenance_columns
from pipeline.content.reextract import TRANSIENT  # the extractor's limits, not the page's content
from pipeline.content.outlets import OutletMatch, OutletResolver
from pipeline.errors import ExtractError, FetchError, SourceError
from pipeline.models import Article, FeedEntry, FetchResult, ParsedFeed, SourceOutcome
from pipeline.store import Batch, Store, article_id_for

UNCONDITIONAL_EVERY = timedelta(hours=12)  # validators can lie; refetch in full now and then
MAX_PAGE_ATTEMPTS = 3
_PARSING = threading.Lock()  # sources polled side by side parse their documents in turn
READ_AHEAD = 16  # entries whose pages are fetched and in the extraction pool ahead of the one taken


@dataclass
class RunContext:
    store: Store
    fetcher: Fetcher
    resolver: OutletResolver
    run_id: int
    now: datetime
    feed_timeout: float
    page_timeout: float
    max_pages: int
    min_poll: timedelta
    max_backoff: timedelta
    max_poll: timedelta | None = None  # None: every source at min_poll (no adaptive interval)
    on_page: Callable[[str], None] = lambda url: None
    # extract(body, url, headers, feed_date, feed_title): content.extract.extract_page's shape
    extract: Callable[..., Article] = extract_page
    archive: PageArchive | None = None  # None: fetched pages are not archived
    robots: RobotsGate | None = None  # None: robots.txt not consulted
    sitemap_since: datetime | None = None  # oldest sitemap date taken (documents.sitemap_since)
    # Concurrency (issue 12): with ``extract_async``, a source's new pages are all fetched
    # first, one after another, each handed to the extraction pool as it arrives; the
    # entries are then taken in feed order exactly as before, from the results.
    extract_async: Callable[..., Future[Article]] | None = None  # extract's shape, as a Future
    failed_page_sources: set[str] | None = None  # sources with pages to retry; None: ask per source
    polls: Callable[[Batch], bool] | None = None  # takes a poll-only batch to write with others
    claims: Claims | None = None  # set when sources are polled side by side


@dataclass
class _SourceWork:
    """What one source accumulates before it is written in one transaction."""

    source_id: str
    batch: Batch = field(default_factory=Batch)
    known_entries: set[str] = field(default_factory=set)
    url_map: dict[str, str] = field(default_factory=dict)  # url_key -> article_id, this batch
    # url_key -> (article_id, status) or None: what the warehouse said of the entries'
    # links when the source's entries were taken, read in one query (``_look_up_links``)
    looked_up: dict[str, tuple[str, str] | None] = field(default_factory=dict)
    new_sightings: int = 0
    new_articles: int = 0
    failures: int = 0
    pages_fetched: int = 0
    state_extra: dict[str, Any] = field(default_factory=dict)  # saved with a good poll
    warnings: list[str] = field(default_factory=list)  # e.g. feed dates out of the sane range
    ahead: dict[str, _Ahead] = field(default_factory=dict)  # link_key -> page read ahead


def refresh_source(ctx: RunContext, source_id: str, state: dict[str, Any] | None = None) -> SourceOutcome:
    """Poll one source; ``state`` is its row of ``sources`` when the caller read it already."""
    state = ctx.store.source_state(source_id) if state is None else state
    work = _SourceWork(source_id)
    try:
        result = _fetch_document(ctx, work, state)  # a page source: the feed found on it
    except SourceError as exc:
        return _failed(ctx, work, state, exc)
    if result.not_modified or _same_body(state, result):
        return _unchanged(ctx, work, state, result)
    try:
        parsed = _parse_document(ctx, work, state, result)  # sitemap indexes: children too
    except SourceError as exc:
        return _failed(ctx, work, state, exc, result)
    work.known_entries = _known_entry_keys(ctx.store, source_id)  # only a changed feed needs them
    try:
        _take_entries(ctx, work, state, parsed.entries)
    finally:
        if ctx.claims is not None:
            ctx.claims.release_all(source_id)
    return _succeeded(ctx, work, state, result, parsed)


# -- the document ------------------------------------------------------------------------

def _fetch_document(ctx: RunContext, work: _SourceWork, state: dict[str, Any]) -> FetchResult:
    fetched = fetch_document(ctx.fetcher, state, _validators(ctx, state), _timeouts(ctx))
    if fetched.discovered:  # remembered, so the page is read again only when the feed fails
        work.state_extra.update(discovered_url=fetched.discovered, discovered_at=ctx.now)
    return fetched.result


def _parse_document(ctx: RunContext, work: _SourceWork, state: dict[str, Any],
                    result: FetchResult) -> ParsedFeed:
    since = ctx.sitemap_since or ctx.now - SITEMAP_RECENT
    with _PARSING:  # CPU-bound under the GIL anyway; one at a time keeps its time budget its own
        parsed = read_document(ctx.fetcher, state, result, since, _timeouts(ctx))
    if parsed.children:  # an index's validators say nothing about its children: never skip it
        work.state_extra.update(etag=None, last_modified=None, body_hash=None)
    return parsed


def _timeouts(ctx: RunContext) -> Timeouts:
    return Timeouts(feed=ctx.feed_timeout, page=ctx.page_timeout)


def _validators(ctx: RunContext, state: dict[str, Any]) -> Validators | None:
    last_full = state.get("last_unconditional_at")
    if last_full is None or ctx.now - last_full >= UNCONDITIONAL_EVERY:
        return None
    return Validators(state.get("etag"), state.get("last_modified"))


def _same_body(state: dict[str, Any], result: FetchResult) -> bool:
    return bool(state.get("body_hash")) and state["body_hash"] == _body_hash(result.body)


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _known_entry_keys(store: Store, source_id: str) -> set[str]:
    _, rows = store.query("SELECT entry_key FROM sightings WHERE source_id = ?", [source_id])
    return {r[0] for r in rows}


# -- entries -----------------------------------------------------------------------------

def _take_entries(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entries: list[FeedEntry],
                  take: Callable[..., None] | None = None) -> None:
    """Each entry in feed order; those whose page another source is fetching right now
    come last, after that source is done with it (and, most often, has stored it)."""
    take = take or _take_entry
    _look_up_links(ctx, work, entries)
    plan = _plan_ahead(ctx, work, entries)
    later = []
    for index, entry in enumerate(entries):
        _read_ahead(ctx, work, plan, index + READ_AHEAD)
        if _held_elsewhere(ctx, work, entry) is not None:
            later.append(entry)
        else:
            take(ctx, work, state, entry)
    if ctx.claims is None:
        return
    ctx.claims.release_all(work.source_id)  # nobody waits on what this source won't use
    for entry in later:
        held = _held_elsewhere(ctx, work, entry)
        if held is not None:
            held.wait(timeout=2 * ctx.page_timeout)  # the holder's fetch and extraction
        take(ctx, work, state, entry)


def _look_up_links(ctx: RunContext, work: _SourceWork, entries: list[FeedEntry]) -> None:
    """The warehouse's answer for every entry's link, in one set-based lookup instead of
    one to three point queries a page. It stays true while the entries are taken: this
    source writes its batch only at the end (its own new links are in ``url_map``), and
    what sources polled at the same time store or fail this run is in ``ctx.claims``,
    which ``_known`` and its callers consult first."""
    keys = {fp.canonical_url(e.url) for e in entries if e.url} - work.looked_up.keys()
    if keys:
        work.looked_up.update(ctx.store.articles_for_urls(sorted(keys)))


def _held_elsewhere(ctx: RunContext, work: _SourceWork, entry: FeedEntry) -> Any:
    if ctx.claims is None or not entry.url:
        return None
    return ctx.claims.held_by_other(fp.canonical_url(entry.url), work.source_id)


def _take_entry(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entry: FeedEntry) -> None:
    if not entry.url:
        return
    entry = _sane_date(ctx, work, entry)
    link_key = fp.canonical_url(entry.url)
    article_id = _article_for(ctx, work, state, entry, link_key)
    if article_id is None:
        return
    is_new = entry.key not in work.known_entries
    work.known_entries.add(entry.key)
    work.new_sightings += int(is_new)
    work.batch.sightings.append((work.source_id, entry.key, article_id, entry.url, entry.title,
                                 entry.published, entry.publisher_name, entry.publisher_url,
                                 ctx.now, ctx.now, ctx.run_id))


def _sane_date(ctx: RunContext, work: _SourceWork, entry: FeedEntry) -> FeedEntry:
    """A feed date before 1990 or past tomorrow is dropped (with a warning), never stored."""
    notes: list[str] = []
    if entry.published is None or in_range(entry.published, ctx.now, "feed date", notes):
        return entry
    work.warnings += [f"{entry.url}: {n}" for n in notes]
    return replace(entry, published=None)


def _article_for(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entry: FeedEntry,
                 link_key: str) -> str | None:
    if link_key in work.url_map:
        return work.url_map[link_key]
    if ctx.claims is not None and link_key in ctx.claims.ids:
        return ctx.claims.ids[link_key]
    known = _known(ctx, work, link_key)
    if known and not _should_retry(ctx, known):
        return known[0]
    if entry.unresolved:
        return _unresolved_article(ctx, work, state, entry, link_key)
    if work.pages_fetched >= ctx.max_pages:
        return None  # left for the next run: no sighting, so the entry stays new
    work.pages_fetched += 1
    if ctx.claims is not None:
        ctx.claims.hold(link_key, work.source_id)
    return _fetch_article(ctx, work, state, entry, link_key)


def _known(ctx: RunContext, work: _SourceWork, link_key: str) -> tuple[str, str] | None:
    """(article_id, status) a link led to: this run's failure by another source first
    (not written yet), else the warehouse (as looked up for the source's entries)."""
    if ctx.claims is not None and link_key in ctx.claims.failed:
        return ctx.claims.failed[link_key][0], "failed"
    return _stored(ctx, work, link_key)


def _stored(ctx: RunContext, work: _SourceWork, link_key: str) -> tuple[str, str] | None:
    """(article_id, status) the warehouse holds for a link."""
    if link_key in work.looked_up:
        return work.looked_up[link_key]
    return ctx.store.article_for_url(link_key)


def _should_retry(ctx: RunContext, known: tuple[str, str]) -> bool:
    article_id, status = known
    if ctx.claims is not None and any(f[0] == article_id for f in ctx.claims.failed.values()):
        return False  # failed this run, by another source polled at the same time: next run
    return status == "failed" and ctx.store.retryable(article_id, MAX_PAGE_ATTEMPTS)


def _attempts(ctx: RunContext, link_key: str, article_id: str) -> int:
    if ctx.claims is not None and link_key in ctx.claims.failed:
        return ctx.claims.failed[link_key][1]
    return ctx.store.article_attempts(article_id)


def _fetch_article(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entry: FeedEntry,
                   link_key: str) -> str:
    ctx.on_page(entry.url or "")
    if ctx.robots is not None and not ctx.robots.allows(entry.url or ""):
        if ctx.robots.outage(entry.url or ""):  # 5xx or unreachable: a passing failure
            return _failed_article(ctx, work, state, entry, link_key,
                                   "robots: robots.txt could not be read (5xx or unreachable); tried again later", True)
        return _failed_article(ctx, work, state, entry, link_key, "robots: robots.txt disallows this page", False)
    try:
        ref, extraction = _page_for(ctx, work, entry, link_key)
    except FetchError as exc:
        return _failed_article(ctx, work, state, entry, link_key, f"{exc.kind}: {exc}", exc.transient)
    try:
        article = extraction()
    except ExtractError as exc:
        return _failed_article(ctx, work, state, entry, link_key, f"extract/{exc.reason}: {exc}",
                               exc.reason in TRANSIENT, ref)
    return _stored_article(ctx, work, state, entry, link_key, article, ref)


@dataclass(frozen=True)
class _Ahead:
    """A page read ahead: its archive record and its extraction under way, or why the
    fetch failed (recorded when its entry's turn comes, in feed order)."""

    ref: ArchiveRef | None = None
    article: Future[Article] | None = None
    error: FetchError | None = None


def _page_for(ctx: RunContext, work: _SourceWork, entry: FeedEntry,
              link_key: str) -> tuple[ArchiveRef | None, Callable[[], Article]]:
    """The page's archive record and how to get its article: from the read-ahead, or
    fetched now and extracted when called."""
    ahead = work.ahead.pop(link_key, None)
    if ahead is not None:
        if ahead.error is not None:
            raise ahead.error
        assert ahead.article is not None
        return ahead.ref, ahead.article.result
    page, ref = _page(ctx, entry)
    return ref, lambda: ctx.extract(page.body, page.final_url, dict(page.headers), entry.published, entry.title)


def _page(ctx: RunContext, entry: FeedEntry) -> tuple[FetchResult, ArchiveRef | None]:
    page = ctx.fetcher.get(entry.url or "", deadline=ctx.page_timeout,
                           accept="text/html, application/xhtml+xml;q=0.9, */*;q=0.5")
    return page, ctx.archive.write(page) if ctx.archive is not None else None


def _plan_ahead(ctx: RunContext, work: _SourceWork, entries: list[FeedEntry]) -> deque[tuple[int, str, FeedEntry]]:
    """(entry index, link key, entry) of the pages the entries will ask for, by the same
    rules (known, unresolved, the page cap, robots.txt); held for this source."""
    plan: deque[tuple[int, str, FeedEntry]] = deque()
    if ctx.extract_async is None:
        return plan
    keys: set[str] = set()
    for index, entry in enumerate(entries):
        link_key = fp.canonical_url(entry.url) if entry.url else ""
        if len(keys) >= ctx.max_pages:
            break
        if not link_key or entry.unresolved or link_key in keys or not _wanted(ctx, work, link_key):
            continue
        if ctx.robots is not None and not ctx.robots.allows(entry.url or ""):
            continue
        if ctx.claims is not None and not ctx.claims.hold(link_key, work.source_id):
            continue  # another source is fetching it
        keys.add(link_key)
        plan.append((index, link_key, entry))
    return plan


def _read_ahead(ctx: RunContext, work: _SourceWork, plan: deque[tuple[int, str, FeedEntry]], upto: int) -> None:
    """Fetch the planned pages of the entries up to ``upto``, one at a time, handing each
    to the extraction pool as it arrives: the pool works on the next pages while this
    thread takes the entries, and at most READ_AHEAD pages wait in memory. What
    ``_take_entry`` finds here it uses, the rest it fetches itself, so the outcome is the
    same as without reading ahead."""
    while plan and plan[0][0] <= upto:
        _, link_key, entry = plan.popleft()
        work.ahead[link_key] = _read_page(ctx, entry)


def _wanted(ctx: RunContext, work: _SourceWork, link_key: str) -> bool:
    if ctx.claims is not None and link_key in ctx.claims.ids:
        return False
    known = _known(ctx, work, link_key)
    return known is None or _should_retry(ctx, known)


def _read_page(ctx: RunContext, entry: FeedEntry) -> _Ahead:
    assert ctx.extract_async is not None
    try:
        page, ref = _page(ctx, entry)
    except FetchError as exc:
        return _Ahead(error=exc)
    return _Ahead(ref, ctx.extract_async(page.body, page.final_url, dict(page.headers), entry.published,
                                         entry.title))


def _stored_article(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entry: FeedEntry,
                    link_key: str, article: Article, ref: ArchiveRef | None = None) -> str:
    with ctx.claims.lock if ctx.claims is not None else nullcontext():
        article_id, keys = _new_or_known(ctx, work, state, link_key, article, ref)
        if ctx.claims is not None:
            ctx.claims.ids.update(dict.fromkeys(keys, article_id))
    if ctx.claims is not None:
        ctx.claims.release(link_key, work.source_id)
    return article_id


def _keys(link_key: str, article: Article) -> set[str]:
    return {link_key, fp.canonical_url(article.url), article.canonical_url}


def _new_or_known(ctx: RunContext, work: _SourceWork, state: dict[str, Any], link_key: str,
                  article: Article, ref: ArchiveRef | None) -> tuple[str, set[str]]:
    article, declared = _own_identity(ctx, article)
    keys = _keys(link_key, article)
    existing = (ctx.claims.first(keys) if ctx.claims else None) or _existing_id(ctx, work, keys - {link_key})
    if existing:  # the same page reached by another link: one article, another sighting
        _remember_urls(work, keys, existing)
        return existing, keys
    # A page that failed before keeps the id its failure got; otherwise the id follows
    # from the canonical URL.
    prior = _known(ctx, work, link_key)
    article_id = prior[0] if prior else article_id_for(article.canonical_url)
    if prior:  # scored on its feed snippet until now: the page text decides from here
        work.batch.rescore.append(article_id)
    outlet = _outlet(ctx, work, state, article.url, article.site_name)
    print_ = fp.fingerprint(article.text)
    row = _article_row(ctx, article_id, article, outlet, print_)
    row["declared_canonical"] = declared
    row.update(archive_columns(ref))
    work.batch.articles.append(row)
    work.batch.fingerprints.append((article_id, list(print_.minhash), list(print_.bands)))
    _remember_urls(work, keys, article_id)
    work.new_articles += 1
    return article_id, keys


def _own_identity(ctx: RunContext, article: Article) -> tuple[Article, str | None]:
    """A canonical link to *another outlet* is a syndication claim, not this page's
    identity: the copy stays an article of the outlet that published it (and dedup links
    it to the original), so the original is still fetched when its own feed lists it."""
    own = fp.canonical_url(article.url)
    if article.canonical_url == own or _same_outlet(ctx, article.canonical_url, article.url):
        return article, None
    return replace(article, canonical_url=own), article.canonical_url


def _same_outlet(ctx: RunContext, a: str, b: str) -> bool:
    first, second = ctx.resolver.resolve(a), ctx.resolver.resolve(b)
    return bool(first and second and first.outlet_id == second.outlet_id)


def _existing_id(ctx: RunContext, work: _SourceWork, keys: set[str]) -> str | None:
    for key in sorted(keys):
        found = work.url_map.get(key) or (_stored(ctx, work, key) or (None,))[0]
        if found:
            return found
    return None


def _remember_urls(work: _SourceWork, keys: set[str], article_id: str) -> None:
    for key in sorted(keys):
        work.url_map[key] = article_id
        work.batch.urls.append((key, article_id))


def _article_row(ctx: RunContext, article_id: str, article: Article, outlet: OutletMatch | None,
                 print_: Any) -> dict[str, Any]:
    return {
        "article_id": article_id, "canonical_url": article.canonical_url, "url": article.url,
        "outlet_id": outlet.outlet_id if outlet else None, "status": "extracted", "fail_reason": None,
        "attempts": 1, "title": article.title, "author": article.author,
        "published_at": article.published, "site_name": article.site_name,
        "language": article.language, "description": article.description, "body": article.text,
        "content_hash": print_.content_hash, "word_count": print_.word_count,
        "first_seen_at": ctx.now, "updated_at": ctx.now, "run_id": ctx.run_id,
        **provenance_columns(article),
    }


def archive_columns(ref: ArchiveRef | None) -> dict[str, Any]:
    return {"warc_file": ref.file, "warc_offset": ref.offset} if ref else {}


def _failed_article(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entry: FeedEntry,
                    link_key: str, reason: str, transient: bool, ref: ArchiveRef | None = None) -> str:
    known = _known(ctx, work, link_key)
    article_id = known[0] if known else article_id_for(link_key)
    attempts = (_attempts(ctx, link_key, article_id) if known else 0) + 1
    outlet = _outlet(ctx, work, state, entry.url, entry.publisher_name)  # the aggregator's claim
    work.batch.articles.append({
        "article_id": article_id, "canonical_url": link_key, "url": entry.url,
        "outlet_id": outlet.outlet_id if outlet else None, "status": "failed", "fail_reason": reason[:500],
        "fail_transient": transient, "attempts": attempts, "title": entry.title, "published_at": entry.published,
        "published_source": "feed" if entry.published else None,
        "description": entry.summary,  # the feed's snippet: what scoring can read without the page
        "first_seen_at": ctx.now, "updated_at": ctx.now, "run_id": ctx.run_id, **archive_columns(ref),
    })
    _remember_urls(work, {link_key}, article_id)
    work.failures += 1
    if ctx.claims is not None:
        ctx.claims.failed[link_key] = (article_id, attempts, transient)
        ctx.claims.release(link_key, work.source_id)
    return article_id


def _unresolved_article(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entry: FeedEntry,
                        link_key: str) -> str:
    """An aggregator link we cannot follow offline: keep the item's claims."""
    article_id = article_id_for(link_key)
    outlet = ctx.resolver.resolve(entry.publisher_url, entry.publisher_name) if entry.publisher_url else None
    if outlet and not outlet.configured:
        work.batch.outlets.append((outlet.outlet_id, outlet.name, outlet.domain, ctx.now))
    work.batch.articles.append({
        "article_id": article_id, "canonical_url": link_key, "url": entry.url,
        "outlet_id": outlet.outlet_id if outlet else None, "status": "unresolved", "fail_reason": None,
        "attempts": 0, "title": entry.title, "published_at": entry.published,
        "published_source": "feed" if entry.published else None,
        "description": entry.summary,  # the aggregator's snippet: what scoring can read
        "first_seen_at": ctx.now, "updated_at": ctx.now, "run_id": ctx.run_id,
    })
    _remember_urls(work, {link_key}, article_id)
    return article_id


def _outlet(ctx: RunContext, work: _SourceWork, state: dict[str, Any], url: str | None,
            site_name: str | None) -> OutletMatch | None:
    match = ctx.resolver.resolve(url, site_name)
    if match is None and state.get("outlet_id"):
        match = ctx.resolver.configured(state["outlet_id"])
    if match and not match.configured:
        work.batch.outlets.append((match.outlet_id, match.name, match.domain, ctx.now))
    return match


# -- outcomes ----------------------------------------------------------------------------

def _succeeded(ctx: RunContext, work: _SourceWork, state: dict[str, Any], result: FetchResult,
               parsed: ParsedFeed) -> SourceOutcome:
    work.batch.fetch_log.append(_log_row(ctx, work, state, result, None, len(parsed.entries)))
    work.batch.source_state = {**_ok_state(ctx, state, result, full=True,
                                           listed=(len(parsed.entries), work.new_sightings)),
                               **work.state_extra}
    ctx.store.save_batch(work.batch)
    return SourceOutcome(work.source_id, True, entries_seen=len(parsed.entries),
                         new_sightings=work.new_sightings, new_articles=work.new_articles,
                         extraction_failures=work.failures,
                         error="; ".join([*parsed.warnings, *work.warnings])[:500] or None)


def _unchanged(ctx: RunContext, work: _SourceWork, state: dict[str, Any], result: FetchResult) -> SourceOutcome:
    _retry_failed_pages(ctx, work, state)
    work.batch.fetch_log.append(_log_row(ctx, work, state, result, None, 0))
    work.batch.source_state = {**_ok_state(ctx, state, result, full=not result.not_modified),
                               **work.state_extra}
    _save(ctx, work.batch)
    return SourceOutcome(work.source_id, True, not_modified=True, new_articles=work.new_articles,
                         extraction_failures=work.failures)


def _retry_failed_pages(ctx: RunContext, work: _SourceWork, state: dict[str, Any]) -> None:
    """An unchanged feed lists no new entries, but its pages that failed for a passing
    reason (timeout, 5xx) are still owed a fetch: they get one, up to MAX_PAGE_ATTEMPTS."""
    if ctx.failed_page_sources is not None and work.source_id not in ctx.failed_page_sources:
        return
    entries = [FeedEntry(key=key, url=url, title=title, published=published, summary=snippet)
               for key, url, title, published, snippet in ctx.store.failed_pages_of(work.source_id,
                                                                                    MAX_PAGE_ATTEMPTS)]
    try:  # the same checks as a new entry (another source may have retried it this run)
        _take_entries(ctx, work, state, entries, _retry_page)
    finally:
        if ctx.claims is not None:
            ctx.claims.release_all(work.source_id)


def _retry_page(ctx: RunContext, work: _SourceWork, state: dict[str, Any], entry: FeedEntry) -> None:
    _article_for(ctx, work, state, entry, fp.canonical_url(entry.url or ""))


def _failed(ctx: RunContext, work: _SourceWork, state: dict[str, Any], exc: SourceError,
            result: FetchResult | None = None) -> SourceOutcome:
    failures = int(state.get("consecutive_failures") or 0) + 1
    delay = _backoff(ctx, failures, getattr(exc, "retry_after", None))
    work.batch.fetch_log.append(_log_row(ctx, work, state, result, exc, 0))
    work.batch.source_state = {
        "source_id": work.source_id, "last_attempt_at": ctx.now, "last_error_at": ctx.now,
        "last_error_kind": exc.kind, "last_error": str(exc)[:1000], "consecutive_failures": failures,
        "next_check_at": ctx.now + delay,
    }
    if state.get("kind") == "page":  # forget its feed: the next poll reads the page again
        work.batch.source_state["discovered_url"] = None
    _save(ctx, work.batch)
    return SourceOutcome(work.source_id, False, error_kind=exc.kind, error=str(exc))


def _save(ctx: RunContext, batch: Batch) -> None:
    """A batch of poll records only goes to ``ctx.polls`` when one is set (written with
    others, set-based); anything else is written now, in its own transaction."""
    if ctx.polls is None or not ctx.polls(batch):
        ctx.store.save_batch(batch)


def record_internal_error(ctx: RunContext, source_id: str, exc: BaseException) -> SourceOutcome:
    """What an unexpected exception in a poll leaves (the orchestrator's net, issue 10):
    the source failed with kind "internal", the exception's type and message, and backs
    off like any failure; nothing else of that poll is written."""
    state = ctx.store.source_state(source_id)
    error = SourceError(state.get("url") or "", f"{type(exc).__name__}: {exc}", kind="internal")
    return _failed(ctx, _SourceWork(source_id), state, error)


def _backoff(ctx: RunContext, failures: int, retry_after: float | None) -> timedelta:
    """Doubling from the poll interval, capped; Retry-After wins when longer (capped 24 h)."""
    base = ctx.min_poll * (2 ** min(failures - 1, 16))
    delay = min(base, ctx.max_backoff) * (1 + random.uniform(0, 0.1))  # jitter spreads retries
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, 24 * 3600)))
    return delay


def _ok_state(ctx: RunContext, state: dict[str, Any], result: FetchResult, *, full: bool,
              listed: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """Poll state after a success; ``listed``: (entries listed, new ones) for the interval."""
    interval = _poll_interval(ctx, state, *listed)
    new = {
        "source_id": state["source_id"], "last_attempt_at": ctx.now, "last_success_at": ctx.now,
        "consecutive_failures": 0, "next_check_at": schedule.next_poll(ctx.now, interval),
        "poll_interval_s": interval,
        "etag": result.etag or state.get("etag"),
        "last_modified": result.last_modified or state.get("last_modified"),
    }
    if not result.not_modified:
        new["body_hash"] = _body_hash(result.body)
    if full or state.get("last_unconditional_at") is None:
        new["last_unconditional_at"] = ctx.now
    return new


def _poll_interval(ctx: RunContext, state: dict[str, Any], entries: int, new: int) -> float:
    """The source's next interval (``acquire.schedule``), fixed at min_poll without a maximum."""
    limits = schedule.PollLimits(ctx.min_poll.total_seconds(),
                                 (ctx.max_poll or ctx.min_poll).total_seconds())
    return schedule.next_interval(state.get("poll_interval_s"), entries, new, limits)


def _log_row(ctx: RunContext, work: _SourceWork, state: dict[str, Any], result: FetchResult | None,
             exc: SourceError | None, entries: int) -> tuple:
    return (ctx.run_id, work.source_id, state["url"], ctx.now,
            result.status if result else getattr(exc, "status", None), exc is None,
            exc.kind if exc else None, str(exc)[:1000] if exc else None,
            result.elapsed_ms if result else None, len(result.body) if result else None,
            entries, work.new_sightings)
