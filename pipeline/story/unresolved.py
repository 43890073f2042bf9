"""Aggregator items that could not be followed offline, matched to the publisher's article.

A Google News article token (``news.google.com/rss/articles/...``) cannot be turned into
the publisher's URL without asking Google, so ``refresh`` keeps such an item as an
``unresolved`` placeholder with what the item claims: title, publisher, date. When the
publisher's article turns up by another channel (its feed, a sitemap, another search
feed), the placeholder is merged into it: same outlet, same normalized title (a trailing
" - Publisher" that aggregators append is dropped), dates within ``MATCH_DAYS``. The match
must be unique; an ambiguous placeholder stays unresolved rather than join the wrong
article.

This runs after every source of a run, so the order in which channels are polled does not
matter: the placeholder may come first or last.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.content.fingerprint import normalized_title
from pipeline.store import Store

MATCH_DAYS = 3


def match_unresolved(store: Store, now: datetime) -> int:
    """Merge every unresolved placeholder that now has exactly one matching article;
    returns how many were merged."""
    merged = 0
    for item in store.unresolved_articles():
        found = _match(store, item)
        if found is not None:
            store.merge_article(item["article_id"], found, now)
            merged += 1
    return merged


def _match(store: Store, item: dict[str, Any]) -> str | None:
    when = item["published_at"] or item["first_seen_at"]
    wanted = _title_forms(item["title"], (item["outlet_name"], item["publisher_name"]))
    found = {c["article_id"] for c in store.outlet_articles_near(item["outlet_id"], when, MATCH_DAYS)
             if wanted & _title_forms(c["title"], (c["site_name"], item["outlet_name"]))}
    return found.pop() if len(found) == 1 else None


def _title_forms(title: str, site_names: tuple[str | None, ...]) -> set[str]:
    """The title normalized with each possible site name stripped from its end."""
    forms = {normalized_title(title, name) for name in site_names if name}
    forms.add(normalized_title(title))
    forms.discard("")
    return forms
