"""Article HTML -> ``Article``: trafilatura's text plus metadata, or an ``ExtractError``.

trafilatura gives the main text, title, author, site name and language. The page's own
``<link rel="canonical">`` and ``article:published_time`` are read here directly with lxml:
trafilatura's date is day-precision, and the timeline views need the time of day.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import lxml.html
import trafilatura

from pipeline.content.fingerprint import canonical_url
from pipeline.errors import ExtractError
from pipeline.models import Article

MIN_WORDS = 25  # below this a "page" is a teaser, paywall stub or error page
_DATE_META = ("article:published_time", "og:article:published_time", "datePublished",
              "publish-date", "pubdate", "date", "dc.date", "dcterms.created", "sailthru.date")


def extract_article(html: bytes | str, url: str) -> Article:
    """Extract one page. Raises ExtractError(reason) when it holds no usable article."""
    if not html or not str(html[:2048] if isinstance(html, str) else html[:2048]).strip():
        raise ExtractError(url, "empty", "empty page")
    tree = _tree(html, url)
    doc = trafilatura.bare_extraction(tree, url=url, with_metadata=True, include_comments=False,
                                      include_tables=False, deduplicate=True)
    if doc is None:
        raise ExtractError(url, "no_text", "no article text found on the page")
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = (data.get("text") or "").strip()
    if len(text.split()) < MIN_WORDS:
        raise ExtractError(url, "too_short", f"article text too short ({len(text.split())} words)")
    return Article(
        url=url,
        canonical_url=canonical_url(url, _declared_canonical(tree)),
        title=_clean(data.get("title")),
        author=_clean(data.get("author")),
        published=_published(tree) or _day(data.get("date")),
        site_name=_clean(data.get("sitename")),
        language=_clean(data.get("language")) or _lang_attr(tree),
        text=text,
        description=_clean(data.get("description")),
    )


def _tree(html: bytes | str, url: str) -> lxml.html.HtmlElement:
    try:
        return lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError) as exc:
        raise ExtractError(url, "not_html", f"page is not parseable HTML: {exc}") from exc


def _declared_canonical(tree: lxml.html.HtmlElement) -> str | None:
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "canonical" in rels and link.get("href"):
            return link.get("href").strip()
    for meta in tree.iter("meta"):
        if (meta.get("property") or "").lower() == "og:url" and meta.get("content"):
            return meta.get("content").strip()
    return None


def _published(tree: lxml.html.HtmlElement) -> datetime | None:
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in (k.lower() for k in _DATE_META) and meta.get("content"):
            parsed = parse_iso(meta.get("content"))
            if parsed:
                return parsed
    for node in tree.iter("time"):
        parsed = parse_iso(node.get("datetime") or "")
        if parsed:
            return parsed
    return None


def parse_iso(value: str) -> datetime | None:
    """An ISO 8601 date or date-time as aware UTC; a date alone is taken as midnight UTC."""
    value = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value += "T00:00:00+00:00"
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _day(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


def _lang_attr(tree: lxml.html.HtmlElement) -> str | None:
    lang = tree.get("lang") or ""
    return lang.split("-")[0].lower() or None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None
