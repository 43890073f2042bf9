"""Frozen dataclasses passed between the rooms of the pipeline.

No raw feedparser dicts, httpx responses or DuckDB rows travel past the room that made
them: each room hands the next one of these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, sitemap or search result list, already normalized.

    ``key`` is stable across polls of the same source: the GUID when the feed gives a
    usable one, else a hash of the link, else a hash of title + date (see ``acquire.feeds``).
    ``url`` is absolute, with aggregator redirect wrappers removed where possible.
    ``published`` is timezone-aware UTC or None.
    """

    key: str
    url: str | None
    title: str | None = None
    published: datetime | None = None
    summary: str | None = None
    author: str | None = None
    guid: str | None = None
    # What an aggregator item claims about the publisher (Google News <source url="">).
    publisher_name: str | None = None
    publisher_url: str | None = None
    # True when the link cannot be resolved to the publisher's page offline
    # (e.g. a Google News article token): the entry is kept with its claims only.
    unresolved: bool = False


@dataclass(frozen=True)
class ParsedFeed:
    """The result of parsing one feed document."""

    kind: str  # "rss", "atom", "rdf", "json", "sitemap", "search-json", ...
    title: str | None
    link: str | None
    entries: tuple[FeedEntry, ...]
    warnings: tuple[str, ...] = ()  # bozo messages of a feed that still yielded entries
    dropped: int = 0  # entries dropped (over the per-document cap, URL too long, no link)
    # kind "sitemap-index" only: the child sitemap URLs to fetch next (parse.parse_document).
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class FetchResult:
    """What ``fetch`` got for one URL."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int  # 200, 304, ...
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None
    elapsed_ms: int
    redirects: int = 0
    # The final hop's response and request headers, as sent (for the page archive).
    headers: tuple[tuple[str, str], ...] = ()
    request_headers: tuple[tuple[str, str], ...] = ()
    http_version: str = "HTTP/1.1"

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Article:
    """The text and metadata extracted from one article page."""

    url: str  # the URL the page was fetched from (after redirects)
    canonical_url: str  # fingerprint.canonical_url of the declared canonical or url
    title: str | None
    author: str | None
    published: datetime | None  # UTC
    site_name: str | None
    language: str | None
    text: str
    description: str | None = None
    published_source: str | None = None  # "page", "jsonld", "feed", "url" (content.dates)
    date_guess: datetime | None = None  # a date guessed from the text: never ``published``
    encoding: str | None = None  # the codec the page was decoded with (content.decode)
    encoding_source: str | None = None  # how it was chosen: "bom", "http", "meta", "detected"...
    notes: tuple[str, ...] = ()  # facts dropped on the way (dates outside the sane range)


@dataclass(frozen=True)
class Fingerprint:
    """Identity of an article's content."""

    content_hash: str  # hex digest of the normalized text
    word_count: int
    minhash: tuple[int, ...]  # MinHash signature over word shingles
    bands: tuple[int, ...]  # one LSH band key per band, derived from ``minhash``


@dataclass(frozen=True)
class SourceOutcome:
    """How one source went in one run."""

    source_id: str
    ok: bool
    error_kind: str | None = None  # errors.FetchError.kind etc.
    error: str | None = None
    not_modified: bool = False
    entries_seen: int = 0
    new_sightings: int = 0
    new_articles: int = 0
    extraction_failures: int = 0


@dataclass
class RunReport:
    """Summary of one ingest run (mutable while the run goes on)."""

    run_id: int
    started_at: datetime
    finished_at: datetime | None = None
    outcomes: list[SourceOutcome] = field(default_factory=list)
    seeds_loaded: int = 0
    interrupted: bool = False
    analysis: dict[str, int] = field(default_factory=dict)  # dedup links, clusters, scores

    @property
    def sources_ok(self) -> int:
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def sources_failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    def failures_by_kind(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for o in self.outcomes:
            if not o.ok:
                kinds[o.error_kind or "error"] = kinds.get(o.error_kind or "error", 0) + 1
        return dict(sorted(kinds.items()))

    @property
    def new_sightings(self) -> int:
        return sum(o.new_sightings for o in self.outcomes)

    @property
    def new_articles(self) -> int:
        return sum(o.new_articles for o in self.outcomes)

    @property
    def extraction_failures(self) -> int:
        return sum(o.extraction_failures for o in self.outcomes)


@dataclass(frozen=True)
class DigestOutcome:
    """What became of one digest (story, day, recipient) in one ``send_digest`` call.

    ``state`` is the outbox state afterwards (pending, sent, failed, unknown); ``attempted``
    tells whether this call talked to the SMTP server for it; ``detail`` is the server's
    reply or the error."""

    story_id: str
    day: date
    recipient: str
    state: str
    attempted: bool
    detail: str = ""

    @property
    def undelivered(self) -> bool:
        """Sent for in this call, and not known to have arrived."""
        return self.attempted and self.state != "sent"


def format_report(report: RunReport, *, verbose: bool = True) -> str:
    """A run's summary as the command line and the daemon's log both word it."""
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
