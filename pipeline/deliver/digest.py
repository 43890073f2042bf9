"""The daily digest email: ``DigestData`` in, a multipart text + HTML message out.

Pure: no clock, no network, no database. The only thing read is the package's own
templates (``pipeline/deliver/templates/``). Every string that came from the web (titles, outlet
names, URLs, error messages) is cleaned here before a template sees it, and the HTML
template is autoescaped on top of that, so a hostile feed cannot inject markup, headers
or terminal escapes into the digest.

Charts are drawn without images: table cells with inline widths and colours in HTML (mail
clients block remote images and ignore most CSS), unicode block characters in text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from typing import Any, Iterable
from urllib.parse import urlsplit

import jinja2

from pipeline.config.addresses import address as _address
from pipeline.config.addresses import domain as _domain

SUBJECT_MAX = 120
STORY_NAME_MAX = 100
TITLE_MAX = 300
OUTLET_MAX = 80
URL_MAX = 2048  # the same cap as ingestion: longer URLs are dropped there too
URL_TEXT_MAX = 200
MESSAGE_MAX = 300
MAX_CLUSTERS = 40
MAX_LINKS = 20
MAX_NEW_OUTLETS = 50
MAX_BARS = 15
MAX_FAILING = 30
DAYS = 14
SPARKS = "▁▂▃▄▅▆▇█"
TEXT_BAR_WIDTH = 30
TEXT_LABEL_WIDTH = 24
DAY_BAR_MAX_PX = 60
BAR_COLOR = "#3b6ea5"
EMPTY_BAR_COLOR = "#d9d9d9"

# C0/C1 controls and the unicode line/paragraph separators become spaces: a title must
# stay on one line (no header or line injection in the text part, no ANSI escapes).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Bidi embeddings/overrides/isolates can make text read differently from what it is
# (CVE-2021-42574 "Trojan Source"); lone surrogates cannot be encoded as UTF-8.
_INVISIBLE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")


@dataclass(frozen=True)
class ClusterItem:
    """One story cluster: an original article and the outlets that carried it."""

    title: str
    origin_outlet: str
    origin_url: str | None
    outlets_count: int
    links: tuple[tuple[str, str], ...] = ()  # (outlet, url) of the other copies

    def __post_init__(self) -> None:
        _freeze(self, "links", lambda row: tuple(row))


@dataclass(frozen=True)
class FailingSource:
    """A source that has been failing, with the error of its last attempt."""

    source_id: str
    url: str
    since: datetime
    error_kind: str
    message: str


@dataclass(frozen=True)
class DigestData:
    """Everything one digest shows. Sequences may be given as lists of plain tuples (as
    DuckDB returns rows); they are stored as tuples. ``daily`` may skip days with no
    articles: the chart fills the 14 days ending at ``date`` with zeros."""

    story_id: str
    story_name: str
    date: date
    window_start: datetime  # the previous digest (or the story's start), aware
    window_end: datetime  # now, aware; also the message's Date
    new_articles: int = 0
    new_outlets: int = 0
    copies_carried: int = 0
    clusters: tuple[ClusterItem, ...] = ()
    new_outlet_names: tuple[str, ...] = ()
    by_outlet: tuple[tuple[str, int], ...] = ()
    daily: tuple[tuple[date, int], ...] = ()
    failing_sources: tuple[FailingSource, ...] = ()

    def __post_init__(self) -> None:
        _freeze(self, "clusters", lambda c: c)
        _freeze(self, "new_outlet_names", str)
        _freeze(self, "by_outlet", lambda row: (str(row[0]), int(row[1])))
        _freeze(self, "daily", lambda row: (row[0], int(row[1])))
        _freeze(self, "failing_sources",
                lambda row: row if isinstance(row, FailingSource) else FailingSource(*row))

    @property
    def empty(self) -> bool:
        return self.new_articles == 0 and not self.clusters


def _freeze(obj: object, name: str, convert: Any) -> None:
    # Frozen dataclass: __post_init__ is the one place allowed to normalise a field.
    object.__setattr__(obj, name, tuple(convert(v) for v in getattr(obj, name)))


# ---------------------------------------------------------------- cleaning


def clean_line(value: object, limit: int) -> str:
    """``value`` as one line of visible text, at most ``limit`` characters."""
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", str(value)))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def safe_http_url(url: str | None) -> str | None:
    """``url`` when it is fit for an href: absolute http(s), no spaces or controls."""
    if not url or len(url) > URL_MAX or _CONTROL.search(url) or _INVISIBLE.search(url):
        return None
    if any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and host else None


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {many or word + 's'}"


def _fmt_dt(value: datetime) -> str:
    # Naive datetimes are taken as UTC, the warehouse's convention.
    aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return aware.strftime("%Y-%m-%d %H:%M %Z").strip()


# ---------------------------------------------------------------- view model


@dataclass(frozen=True)
class _Link:
    label: str  # cleaned text to show (a title or an outlet name)
    href: str | None  # a safe http(s) URL, or None: then ``url_text`` is shown as text
    url_text: str


@dataclass(frozen=True)
class _ClusterView:
    title: _Link
    origin: str
    outlets_count: int
    links: tuple[_Link, ...]
    more_links: int


@dataclass(frozen=True)
class _Bar:
    label: str
    count: int
    percent: int  # width of the HTML bar, 1..100 (0 only for a zero count)
    text_bar: str
    text_label: str  # label cut and padded to line the text bars up


@dataclass(frozen=True)
class _Day:
    day: date
    count: int
    height: int  # pixels of the HTML column
    color: str


@dataclass(frozen=True)
class _Failure:
    source_id: str
    link: _Link
    since: str
    kind: str
    message: str


def _link(label: object, url: str | None, limit: int) -> _Link:
    href = safe_http_url(url)
    text = clean_line(url or "", URL_TEXT_MAX) if href is None else href
    return _Link(clean_line(label, limit) or "(untitled)", href, text)


def _cluster_view(item: ClusterItem) -> _ClusterView:
    links = tuple(_link(outlet, url, OUTLET_MAX) for outlet, url in item.links[:MAX_LINKS])
    return _ClusterView(
        title=_link(item.title, item.origin_url, TITLE_MAX),
        origin=clean_line(item.origin_outlet, OUTLET_MAX) or "(unknown outlet)",
        outlets_count=item.outlets_count,
        links=links,
        more_links=max(0, len(item.links) - MAX_LINKS),
    )


def outlet_bars(rows: Iterable[tuple[str, int]]) -> list[_Bar]:
    """Bars scaled to the largest count, largest first."""
    ordered = sorted(rows, key=lambda r: (-r[1], str(r[0])))[:MAX_BARS]
    top = max((count for _, count in ordered), default=0) or 1
    return [_bar(label, count, top) for label, count in ordered]


def _bar(label: str, count: int, top: int) -> _Bar:
    share = max(count, 0) / top
    percent = max(1, round(share * 100)) if count > 0 else 0
    chars = max(1, round(share * TEXT_BAR_WIDTH)) if count > 0 else 0
    text_label = clean_line(label, TEXT_LABEL_WIDTH).ljust(TEXT_LABEL_WIDTH)
    return _Bar(clean_line(label, OUTLET_MAX), count, percent, "█" * chars, text_label)


def daily_series(rows: Iterable[tuple[date, int]], end: date,
                 days: int = DAYS) -> list[tuple[date, int]]:
    """Counts for each of the ``days`` days ending at ``end``; missing days are 0."""
    counts: dict[date, int] = {}
    for day, count in rows:
        key = day.date() if isinstance(day, datetime) else day
        counts[key] = counts.get(key, 0) + count
    first = end - timedelta(days=days - 1)
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
            for i in range(days)]


def sparkline(values: Iterable[int]) -> str:
    """One block character per value; zero is the lowest block, any non-zero value at
    least the second lowest so that a quiet day and an empty one look different."""
    values = list(values)
    top = max(values, default=0) or 1
    return "".join(SPARKS[0] if v <= 0 else SPARKS[1 + round(v / top * (len(SPARKS) - 2))]
                   for v in values)


def _day_columns(series: list[tuple[date, int]]) -> list[_Day]:
    top = max((count for _, count in series), default=0) or 1
    return [_Day(day, count, max(2, round(count / top * DAY_BAR_MAX_PX)) if count > 0 else 1,
                 BAR_COLOR if count > 0 else EMPTY_BAR_COLOR)
            for day, count in series]


def _failure_view(row: FailingSource) -> _Failure:
    return _Failure(
        source_id=clean_line(row.source_id, OUTLET_MAX),
        link=_link(row.url, row.url, URL_TEXT_MAX),
        since=_fmt_dt(row.since),
        kind=clean_line(row.error_kind, 40),
        message=clean_line(row.message, MESSAGE_MAX),
    )


def _context(data: DigestData) -> dict[str, Any]:
    """The cleaned values both templates render; nothing raw from ``data`` gets through."""
    series = daily_series(data.daily, data.date)
    counts = [count for _, count in series]
    return {
        "story_name": _story_name(data), "story_id": clean_line(data.story_id, 64),
        "date": data.date.isoformat(), "empty": data.empty,
        "window_start": _fmt_dt(data.window_start), "window_end": _fmt_dt(data.window_end),
        "new_articles": data.new_articles, "new_outlets": data.new_outlets,
        "copies_carried": data.copies_carried, "headline": _headline(data),
        "clusters": [_cluster_view(c) for c in data.clusters[:MAX_CLUSTERS]],
        "more_clusters": max(0, len(data.clusters) - MAX_CLUSTERS),
        "new_outlet_names": [clean_line(n, OUTLET_MAX)
                             for n in data.new_outlet_names[:MAX_NEW_OUTLETS]],
        "more_new_outlets": max(0, len(data.new_outlet_names) - MAX_NEW_OUTLETS),
        "bars": outlet_bars(data.by_outlet), "more_bars": max(0, len(data.by_outlet) - MAX_BARS),
        "days": _day_columns(series), "spark": sparkline(counts),
        "days_total": sum(counts), "days_max": max(counts, default=0),
        "failing": [_failure_view(f) for f in data.failing_sources[:MAX_FAILING]],
        "more_failing": max(0, len(data.failing_sources) - MAX_FAILING),
        "bar_color": BAR_COLOR, "bar_px": DAY_BAR_MAX_PX,
    }


def _headline(data: DigestData) -> str:
    return " | ".join((plural(data.new_articles, "new article"),
                       plural(data.new_outlets, "new outlet"),
                       plural(data.copies_carried, "copy", "copies") + " carried"))


def _story_name(data: DigestData) -> str:
    return clean_line(data.story_name, STORY_NAME_MAX) or clean_line(data.story_id, STORY_NAME_MAX)


# ---------------------------------------------------------------- templates


@cache
def _environment(html: bool) -> jinja2.Environment:
    # Two environments: autoescape on for HTML; off for text, whose values are already
    # cleaned to single visible lines by ``_context``.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.deliver", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["plural"] = plural
    return env


def render_text(data: DigestData) -> str:
    """The text/plain part."""
    return _environment(False).get_template("digest.txt.j2").render(_context(data))


def render_preview_html(data: DigestData) -> str:
    """The text/html part (also what ``newswatch digest --to FILE`` writes)."""
    return _environment(True).get_template("digest.html.j2").render(_context(data))


# ---------------------------------------------------------------- the message


def digest_subject(data: DigestData) -> str:
    """``[story] 2026-06-05: 12 new articles, 3 new outlets``: safe parts only."""
    if data.empty:
        tail = "no new coverage"
    else:
        tail = (f"{plural(data.new_articles, 'new article')}, "
                f"{plural(data.new_outlets, 'new outlet')}")
    return clean_line(f"[{_story_name(data)}] {data.date.isoformat()}: {tail}", SUBJECT_MAX)


def message_id(story_id: str, day: date, recipient: str, domain: str) -> str:
    """Stable per (story, day, recipient): a resent digest keeps its id, so mail clients
    and servers can drop the duplicate (RFC 5322 section 3.6.4)."""
    digest = hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()[:16]
    host = _domain(domain, "message_id_domain")
    return f"<digest.{_id_part(story_id)}.{day.isoformat()}.{digest}@{host}>"


def list_id_header(story_id: str, domain: str) -> str:
    """RFC 2919 List-Id: one list per story, ``<story.domain>``."""
    return f"<{_id_part(story_id)}.{_domain(domain, 'list_id')}>"


def render_digest(data: DigestData, *, sender: str, recipient: str, list_id: str,
                  message_id_domain: str | None = None) -> EmailMessage:
    """The digest for one recipient: multipart/alternative, text first (RFC 2046 5.1.4:
    the last part is the preferred one). ``message_id_domain`` defaults to the sender's
    domain."""
    from_addr, to_addr = _address(sender, "sender"), _address(recipient, "recipient")
    msg = EmailMessage()
    msg["Subject"] = digest_subject(data)
    msg["From"] = from_addr
    msg["To"] = to_addr
    msg["Date"] = format_datetime(_aware(data.window_end))
    msg["Message-ID"] = message_id(data.story_id, data.date, to_addr.addr_spec,
                                   message_id_domain or from_addr.domain)
    _list_headers(msg, data, list_id)
    # Quoted-printable keeps every line short and 7-bit: no 8BITMIME needed (RFC 6152).
    msg.set_content(render_text(data), subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(render_preview_html(data), subtype="html", charset="utf-8",
                        cte="quoted-printable")
    return msg


def _list_headers(msg: EmailMessage, data: DigestData, list_domain: str) -> None:
    msg["List-Id"] = list_id_header(data.story_id, list_domain)
    # RFC 3834 section 5: automatic responders must not answer auto-generated mail.
    msg["Auto-Submitted"] = "auto-generated"
    # Exchange/Outlook do not read Auto-Submitted; this asks them not to send OOF replies.
    msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Newswatch-Story"] = _id_part(data.story_id)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _id_part(story_id: str) -> str:
    # Only dot-atom-safe characters go into Message-ID and List-Id (RFC 5322 3.2.3).
    part = _ID_UNSAFE.sub("-", story_id).strip("-")[:64]
    return part or "story"
