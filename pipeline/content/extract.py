"""A fetched page -> ``Article``: decoded as browsers do, trafilatura's text, dated and titled
with provenance; or an ``ExtractError``.

``extract_page(body, url, headers=None, feed_date=None, feed_title=None)`` is the one
entry point, and a stable one: the fetch path, ``newswatch reextract`` and archive
backfills (issue 13, with ``content.archive.iter_responses``) all call it. ``headers`` is
any mapping of response headers (names in any case); ``feed_date`` an aware datetime.
1. refuse bodies that sniff as binary (ZIP, PDF, images...) whatever their Content-Type;
2. decode (``decode.decode_page``: BOM, HTTP charset, meta prescan, detection);
3. trafilatura on the decoded tree, with its own defaults (measured on AEB, see
   docs/design.md: every option tried made more pages worse than trafilatura alone);
4. minimum length: 25 words, or 50 characters of scripts written without spaces (CJK,
   Thai...), so a Japanese article is not "7 words";
5. the date (``dates.choose``: page metadata, JSON-LD, feed, URL; a guess kept apart);
6. the title: og:title, else the single h1, else trafilatura's, cleaned of a
   " | Site name" suffix; else the feed's title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

import lxml.html
import trafilatura

from pipeline.content import dates, page_meta
from pipeline.content.decode import decode_page, sniff_binary
from pipeline.content.fingerprint import canonical_url
from pipeline.errors import ExtractError
from pipeline.models import Article

MIN_WORDS = 25  # below this a "page" is a teaser, paywall stub or error page
MIN_UNSPACED_CHARS = 50  # the same for scripts written without spaces between words
_UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
                       "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_TITLE_SEPARATORS = (" | ", " - ", " – ", " — ", " :: ", " · ")


def extract_page(body: bytes, url: str, headers: Mapping[str, str] | None = None,
                 feed_date: datetime | None = None, feed_title: str | None = None) -> Article:
    """Extract one fetched page. Raises ExtractError(reason) when it holds no usable article."""
    content_type = _header(headers, "content-type")
    binary = sniff_binary(body or b"")
    if binary:
        raise ExtractError(url, "not_article", f"not an article page: the body is {binary} "
                           f"(served as {content_type or 'no Content-Type'})")
    decoded = decode_page(body or b"", content_type)
    if not decoded.text[:4096].strip():
        raise ExtractError(url, "empty", "empty page")
    tree = _tree(decoded.text, url)
    data = _trafilatura(tree, url)
    text = (data.get("text") or "").strip()
    _check_length(text, url)
    dated = dates.choose(tree, url, feed_date, data.get("date"))
    site_name = _clean(data.get("sitename"))
    return Article(
        url=url, canonical_url=canonical_url(url, _declared_canonical(tree)),
        title=_title(tree, data, site_name, url) or _clean(feed_title),
        author=_clean(data.get("author")), published=dated.published, site_name=site_name,
        language=_clean(data.get("language")) or _lang_attr(tree), text=text,
        description=_clean(data.get("description")), published_source=dated.source,
        date_guess=dated.guess, encoding=decoded.encoding, encoding_source=decoded.source,
        notes=dated.notes,
    )


def provenance_columns(article: Article) -> dict[str, object]:
    """Where an article's date and text encoding came from: its warehouse columns."""
    return {"published_source": article.published_source, "date_guess": article.date_guess,
            "encoding": article.encoding, "encoding_source": article.encoding_source,
            "extract_notes": "; ".join(article.notes) or None}


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _trafilatura(tree: lxml.html.HtmlElement, url: str) -> dict:
    """The text by trafilatura (on its own copy of the tree), then only the metadata fields
    newswatch stores (``page_meta``): trafilatura's own metadata step also reads licences,
    categories and tags, which newswatch never stores."""
    doc = trafilatura.bare_extraction(tree, url=url, with_metadata=False, include_comments=False)
    if doc is None:
        raise ExtractError(url, "no_text", "no article text found on the page")
    return {"text": doc.text, **page_meta.metadata(tree, url)}


def _check_length(text: str, url: str) -> None:
    words, unspaced = len(text.split()), len(_UNSPACED.findall(text))
    if words < MIN_WORDS and unspaced < MIN_UNSPACED_CHARS:
        size = f"{unspaced} characters" if unspaced > words else f"{words} words"
        raise ExtractError(url, "too_short", f"article text too short ({size})")


def _tree(text: str, url: str) -> lxml.html.HtmlElement:
    """trafilatura's own parser settings: plain lxml.html lost text on 4 AEB pages. The tree
    is not changed by the extraction, so dates and titles are read from it afterwards."""
    # lxml refuses str input that still carries an XML encoding declaration
    tree = trafilatura.load_html(_XML_DECL.sub("", text, count=1))
    if tree is None:
        raise ExtractError(url, "not_html", "page is not parseable HTML")
    return tree


def _title(tree: lxml.html.HtmlElement, data: dict, site_name: str | None, url: str) -> str | None:
    og = next((m.get("content") for m in tree.iter("meta")
               if (m.get("property") or m.get("name") or "").lower() == "og:title"), None)
    h1s = [h.text_content() for h in tree.iter("h1")]
    for candidate in (og, h1s[0] if len(h1s) == 1 else None, data.get("title")):
        cleaned = clean_title(_clean(candidate), site_name, url)
        if cleaned:
            return cleaned
    return None


def clean_title(title: str | None, site_name: str | None, url: str = "") -> str | None:
    """``title`` without a trailing (or leading) " | Site name"."""
    if not title:
        return None
    host = re.sub(r"^www\.", "", (re.match(r"\w+://([^/:]+)", url or "") or [None, ""])[1]).lower()
    names = {n.lower() for n in (site_name, host, host.split(".")[0]) if n}
    for sep in _TITLE_SEPARATORS:
        head, _, tail = title.rpartition(sep)
        if head and (tail.lower() in names or tail.lower().replace(" ", "") in names):
            return head.strip()
        first, _, rest = title.partition(sep)
        if rest and first.lower() in names:
            return rest.strip()
    head, _, tail = title.rpartition(" | ")  # "Headline | Outlet": a short last segment
    return head.strip() if head and len(tail.split()) <= 4 and len(head.split()) >= 3 else title


def _declared_canonical(tree: lxml.html.HtmlElement) -> str | None:
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "canonical" in rels and link.get("href"):
            return link.get("href").strip()
    for meta in tree.iter("meta"):
        if (meta.get("property") or "").lower() == "og:url" and meta.get("content"):
            return meta.get("content").strip()
    return None


def _lang_attr(tree: lxml.html.HtmlElement) -> str | None:
    lang = tree.get("lang") or ""
    return lang.split("-")[0].lower() or None


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text or None
