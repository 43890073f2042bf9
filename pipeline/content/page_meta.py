"""The metadata fields newswatch stores, read with trafilatura's own field readers.

``trafilatura.bare_extraction(with_metadata=True)`` reads every field it knows: title,
author, URL, date, site name, and also categories, tags and the licence, which walk every
link of the page (menus, footers, related lists). newswatch stores none of those three;
leaving them out saves 2-3 ms of CPU a page (``bench/bench_extract_cost.py --before``). This module asks trafilatura for the stored fields only, with
the same readers, the same order of precedence and the same date settings, so the values
are the ones ``with_metadata=True`` gives (``tests/test_page_meta.py`` holds the two side by
side on generated pages; ``bench/bench_extract_speed.py`` on the 181 real AEB pages).

The readers are module-level functions of ``trafilatura.metadata`` (a documented module,
not a private one); a trafilatura release that renamed them fails the import here, loudly,
and the test above.
"""

from __future__ import annotations

import lxml.html
from htmldate import find_date
from trafilatura import metadata as tm
from trafilatura.settings import DEFAULT_CONFIG, Document, set_date_params

STORED = ("title", "author", "url", "date", "sitename", "description")


def metadata(tree: lxml.html.HtmlElement, url: str | None) -> dict[str, str | None]:
    """Title, author, URL, date, site name and description of a parsed page (not changed)."""
    doc = _from_meta_tags(tree)
    doc.title = doc.title or tm.extract_title(tree)
    doc.author = doc.author or tm.extract_author(tree)
    doc.url = doc.url or tm.extract_url(tree, url)
    doc.date = find_date(tree, **_date_params(doc.url))
    doc.sitename = _sitename(tree, doc)
    doc.clean_and_trim()
    return {field: getattr(doc, field) for field in STORED}


def _date_params(url: str | None) -> dict[str, object]:
    """htmldate's settings as trafilatura sets them by default (its config's extensive
    search), made per page as trafilatura does, so that "today" is never stale in a daemon."""
    extensive = DEFAULT_CONFIG.getboolean("DEFAULT", "EXTENSIVE_DATE_SEARCH")
    return {**set_date_params(extensive), "url": url}


def _from_meta_tags(tree: lxml.html.HtmlElement) -> Document:
    """<meta> tags, then JSON-LD over them; a one-word meta author is no name."""
    doc = tm.examine_meta(tree)
    if doc.author and " " not in doc.author:
        doc.author = None
    try:
        return tm.extract_meta_json(tree, doc)
    except Exception:  # noqa: BLE001 (trafilatura's JSON-LD reader has its own bugs; the meta tags stand)
        return doc


def _sitename(tree: lxml.html.HtmlElement, doc: Document) -> str | None:
    name = doc.sitename or tm.extract_sitename(tree)
    if name:
        name = name.lstrip("@")
        return name.title() if name and "." not in name and not name[0].isupper() else name
    match = tm.META_URL.match(doc.url) if doc.url else None
    return match[1] if match else None
