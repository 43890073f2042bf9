"""Near-duplicates and clusters of copies, over what the warehouse holds.

Steps, each resumable (an article is marked checked in the same transaction as its links):
1. candidates: articles sharing an LSH band key (MinHash, ``fingerprint.band_keys``), plus
   articles with the same normalized-text hash; never all pairs;
2. confirm: exact word-shingle Jaccard / containment (``neardup.compare_shingles``);
3. two more links that need no text: a page's canonical link to another outlet's page
   (the publisher's syndication claim), and Media Cloud's rule, the same normalized title
   inside one outlet within 7 days (a story republished at a new URL);
4. clusters: union-find over all links; the origin is the earliest published member, else
   the earliest seen (``neardup.origin``); everything else in the cluster is a copy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from . import fingerprint as fp
from . import neardup
from .store import Store

Link = tuple[str, str, str, float | None, float | None]  # a < b, relation, jaccard, containment


def link_pending(store: Store, now: datetime, progress: Callable[[int, int], None] | None = None) -> int:
    """Check every article not checked yet; returns the number of links found."""
    pending = store.articles_to_dedup()
    found = 0
    for i, article in enumerate(pending):
        links = _links_for(store, article)
        store.save_dup_links(links, [article["article_id"]], now)
        found += len(links)
        if progress:
            progress(i + 1, len(pending))
    return found


def _links_for(store: Store, article: dict[str, Any]) -> list[Link]:
    me = article["article_id"]
    links = _text_links(store, article)
    links += _canonical_links(store, article)
    links += _title_links(store, article)
    seen: dict[tuple[str, str], Link] = {}
    for link in links:
        seen.setdefault((link[0], link[1]), link)
    return [link for key, link in sorted(seen.items()) if me in key]


def _text_links(store: Store, article: dict[str, Any]) -> list[Link]:
    me = article["article_id"]
    candidates = sorted(set(store.band_candidates(me)) | set(store.same_hash(me, article["content_hash"])))
    if not candidates:
        return []
    mine = fp.words(article["body"])
    my_shingles = fp.shingles_of_words(mine)
    links = []
    for other, body in sorted(store.bodies(candidates).items()):
        theirs = fp.words(body)
        match = neardup.compare_shingles(my_shingles, fp.shingles_of_words(theirs), len(mine), len(theirs),
                                         exact=bool(mine) and mine == theirs)
        if match.duplicate:
            links.append(_pair(me, other, match.relation, match.jaccard, match.containment))
    return links


def _canonical_links(store: Store, article: dict[str, Any]) -> list[Link]:
    declared = article.get("declared_canonical")
    if not declared:
        return []
    known = store.article_for_url(fp.canonical_url(declared))
    if not known or known[0] == article["article_id"]:
        return []
    return [_pair(article["article_id"], known[0], "canonical", None, None)]


def _title_links(store: Store, article: dict[str, Any]) -> list[Link]:
    """Media Cloud's rule: same normalized title, same outlet, within 7 days."""
    if not article.get("outlet_id") or not article.get("title"):
        return []
    mine = fp.normalized_title(article["title"], article.get("site_name"))
    if len(mine.split()) < 4:  # "Live updates", "Opinion": too generic to mean the same story
        return []
    when = article["published_at"] or article["first_seen_at"]
    return [_pair(article["article_id"], other, "title", None, None)
            for other, title, site in store.outlet_titles_near(article["outlet_id"], when, article["article_id"])
            if fp.normalized_title(title, site) == mine]


def _pair(a: str, b: str, relation: str, jaccard: float | None, containment: float | None) -> Link:
    lo, hi = sorted((a, b))
    return (lo, hi, relation, None if jaccard is None else round(jaccard, 4),
            None if containment is None else round(containment, 4))


def recluster(store: Store) -> int:
    """Rebuild the clusters table from all links; returns the number of multi-member clusters."""
    pairs, members = store.cluster_inputs()
    roots = neardup.cluster(pairs)
    groups: dict[str, list[tuple[str, datetime | None, datetime]]] = {}
    for member in members:
        groups.setdefault(roots.get(member[0], member[0]), []).append(member)
    rows = []
    for group in groups.values():
        first = neardup.origin(group)
        rows += [(m[0], first, m[0] == first) for m in group]
    store.replace_clusters(rows)
    return sum(1 for g in groups.values() if len(g) > 1)
