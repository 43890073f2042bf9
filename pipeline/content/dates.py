"""Publication dates with their provenance, and the rule that picks one.

Sources, best first: ``page`` (``article:published_time`` and kin, ``<time
itemprop=datePublished>``), ``jsonld`` (``datePublished`` of a JSON-LD object), ``feed`` (the
entry's own date), ``url`` (``/2026/06/05/`` or ``2026-06-05`` in the path), ``guess``
(trafilatura's date found in the text). A guess is kept apart (``Dated.guess``) and never
becomes ``published``: the story window, timeline and digest treat a guess-only article as
undated. A guess on 1 January of a year the page names in a copyright line or alone is not
a date at all (that is how a footer "(c) 2026 Example Media" became 2026-01-01).

Sanity range: a date before 1990 or more than a day in the future is dropped with a note,
never stored; it is a parse error or a placeholder, not a publication date.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import lxml.html

EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)
_PAGE_META = {"article:published_time", "og:article:published_time", "datepublished", "publish-date",
              "pubdate", "dc.date", "dc.date.issued", "dcterms.created", "dcterms.issued", "sailthru.date",
              "parsely-pub-date", "article.published"}
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?:/|-|\b)")
_COPYRIGHT_YEAR = re.compile(r"(?:©|&copy;|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?((?:19|20)\d\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Dated:
    published: datetime | None  # the best date that is not a guess, UTC
    source: str | None  # "page", "jsonld", "feed", "url"; None when undated
    guess: datetime | None = None  # trafilatura's guess, kept for the record only
    notes: tuple[str, ...] = ()  # dates dropped by the sanity range


def choose(tree: lxml.html.HtmlElement, url: str, feed_date: datetime | None, guess: str | None,
           now: datetime | None = None) -> Dated:
    """The publication date of a page, best source first, each candidate range-checked."""
    now = now or datetime.now(timezone.utc)
    notes: list[str] = []
    candidates = (("page", _page_meta(tree)), ("jsonld", _json_ld(tree)), ("feed", feed_date),
                  ("url", url_date(url)))
    for source, when in candidates:
        kept = in_range(when, now, f"{source} date", notes)
        if kept:
            return Dated(kept, source, _guess(tree, guess, now, notes), tuple(notes))
    return Dated(None, None, _guess(tree, guess, now, notes), tuple(notes))


def in_range(when: datetime | None, now: datetime, what: str, notes: list[str]) -> datetime | None:
    """``when`` as UTC if it is plausible; otherwise None, with a note saying why."""
    if when is None:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    if when < EARLIEST or when > now + FUTURE_SLACK:
        notes.append(f"{what} {when.isoformat()} dropped: outside 1990 .. tomorrow")
        return None
    return when.astimezone(timezone.utc)


def parse_iso(value: str) -> datetime | None:
    """An ISO 8601 date or date-time as aware UTC; a date alone is taken as midnight UTC."""
    value = (value or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00+00:00"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # an odd time part: the day it names still stands
        if not re.match(r"\d{4}-\d{2}-\d{2}[T ]", value):
            return None
        return parse_iso(value[:10])
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def url_date(url: str) -> datetime | None:
    match = _URL_DATE.search(url or "")
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=timezone.utc)
    except ValueError:
        return None


def _page_meta(tree: lxml.html.HtmlElement) -> datetime | None:
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _PAGE_META and _full_date(meta.get("content")):
            return parse_iso(meta.get("content") or "")
    for node in tree.iter("time"):
        if (node.get("itemprop") or "").lower() == "datepublished" or node.get("pubdate") is not None:
            if _full_date(node.get("datetime")):
                return parse_iso(node.get("datetime") or "")
    return None


def _json_ld(tree: lxml.html.HtmlElement) -> datetime | None:
    for script in tree.iter("script"):
        if "ld+json" not in (script.get("type") or "").lower():
            continue
        try:
            data = json.loads(script.text_content() or "")
        except ValueError:
            continue
        found = _date_published(data)
        if found:
            return found
    return None


def _date_published(data: object) -> datetime | None:
    if isinstance(data, list):
        return next((d for d in map(_date_published, data) if d), None)
    if not isinstance(data, dict):
        return None
    value = data.get("datePublished") or data.get("dateCreated")
    if isinstance(value, str) and _full_date(value):
        return parse_iso(value)
    return _date_published(data.get("@graph") or data.get("mainEntity") or [])


def _full_date(value: str | None) -> bool:
    """A day is named (year-only and year-month values are not publication dates)."""
    return bool(value and re.match(r"\s*\d{4}-\d{2}-\d{2}", value) and parse_iso(value) is not None)


def _guess(tree: lxml.html.HtmlElement, guess: str | None, now: datetime, notes: list[str]) -> datetime | None:
    when = in_range(parse_iso(guess or ""), now, "guessed date", notes)
    if when is None or (when.month, when.day) != (1, 1):
        return when
    copyright_years = set(_COPYRIGHT_YEAR.findall(tree.text_content()))
    return None if str(when.year) in copyright_years or not guess or len(guess) <= 4 else when
