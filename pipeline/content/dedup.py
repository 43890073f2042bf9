"""Near-duplicates and clusters of copies, over what the warehouse holds.

Steps, each resumable (an article is marked checked in the same transaction as its links):
1. candidates: articles sharing an LSH band key (MinHash, ``fingerprint.band_keys``), plus
   articles with the same normalized-text hash; never all pairs;
2. confirm: exact word-shingle Jaccard / containment (``neardup.compare_shingles``), with
   each side's outlet template (learnt first from the outlet's recent pages and stored,
   ``learn_templates``) left out, so furniture never makes two pages copies;
3. two more links that need no text: a page's canonical link to another outlet's page
   (the publisher's syndication claim), and Media Cloud's rule, the same normalized title
   inside one outlet within 7 days (a story republished at a new URL);
4. clusters: union-find over all links, excerpt links never bridging two clusters
   (``neardup.cluster``); the origin is the earliest published member, else
   the earliest seen (``neardup.origin``); everything else in the cluster is a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from pipeline.content import fingerprint as fp
from pipeline.content import neardup
from pipeline.store import Store

Link = tuple[str, str, str, float | None, float | None]  # a < b, relation, jaccard, containment


CHUNK = 200  # articles checked, and committed, together


def link_pending(store: Store, now: datetime, progress: Callable[[int, int], None] | None = None) -> int:
    """Check every article not checked yet; returns the number of links found. Each chunk
    is committed with its "checked" marks, so an interrupted pass resumes where it was."""
    pending = store.articles_to_dedup()
    learn_templates(store, {a["outlet_id"] for a in pending if a.get("outlet_id")}, now)
    references = store.reference_bodies()
    quoted = frozenset().union(*(_shingled(body)[1] for body in references.values()))
    found = 0
    for start in range(0, len(pending), CHUNK):
        part = pending[start:start + CHUNK]
        links = _links_for_chunk(store, part, quoted, frozenset(references))
        store.save_dup_links(links, [a["article_id"] for a in part], now)
        found += len(links)
        if progress:
            progress(start + len(part), len(pending))
    return found


def learn_templates(store: Store, outlet_ids: set[str], now: datetime) -> None:
    """Relearn the template shingles of these outlets from their recent pages."""
    if not outlet_ids:
        return
    bodies = store.outlet_bodies(sorted(outlet_ids), neardup.TEMPLATE_SAMPLE)
    learnt = {o: (len(texts), neardup.template_shingles([_shingled(t)[1] for t in texts]))
              for o, texts in bodies.items()}
    store.save_outlet_templates(learnt, now)


@dataclass(frozen=True)
class _Setting:
    """What a comparison leaves out and allows: each side's outlet template, and (between
    two coverage pages) the text of the stories' reference articles, which both may
    quote; a shared passage counts only between pages of different outlets."""

    templates: dict[str, frozenset[int]]
    outlets: dict[str, str]
    quoted: frozenset[int]
    references: frozenset[str]

    def ignore(self, a: str, b: str) -> frozenset[int]:
        none: frozenset[int] = frozenset()
        left_out = self.templates.get(a, none) | self.templates.get(b, none)
        return left_out if a in self.references or b in self.references else left_out | self.quoted

    def passage(self, a: str, b: str) -> bool:
        mine, theirs = self.outlets.get(a), self.outlets.get(b)
        return mine is not None and theirs is not None and mine != theirs


def _links_for_chunk(store: Store, part: list[dict[str, Any]], quoted: frozenset[int],
                     references: frozenset[str]) -> list[Link]:
    candidates = store.candidates_of([a["article_id"] for a in part])
    others = sorted({o for c in candidates.values() for o in c})
    shingled = {aid: _shingled(body) for aid, body in store.bodies(others).items()}
    ids = others + [a["article_id"] for a in part]
    setting = _Setting(store.outlet_templates(ids), store.outlets_of(ids), quoted, references)
    links: dict[tuple[str, str], Link] = {}
    for article in part:
        mine = _shingled(article["body"])
        found = _text_links(article["article_id"], mine, candidates.get(article["article_id"], set()), shingled,
                            setting)
        for link in found + _canonical_links(store, article) + _title_links(store, article):
            links.setdefault((link[0], link[1]), link)
    return [links[k] for k in sorted(links)]


def _shingled(body: str) -> tuple[list[str], set[int]]:
    tokens = fp.words(body)
    return tokens, fp.shingles_of_words(tokens)


def _text_links(me: str, mine: tuple[list[str], set[int]], candidates: set[str],
                shingled: dict[str, tuple[list[str], set[int]]],
                setting: _Setting) -> list[Link]:
    links = []
    for other in sorted(candidates & shingled.keys()):
        theirs = shingled[other]
        match = neardup.compare_shingles(mine[1], theirs[1], len(mine[0]), len(theirs[0]),
                                         exact=bool(mine[0]) and mine[0] == theirs[0],
                                         ignore=setting.ignore(me, other), passage=setting.passage(me, other))
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
    roots = neardup.cluster(pairs, {m[0]: neardup.origin_time(m) for m in members}, store.word_counts())
    groups: dict[str, list[tuple[str, datetime | None, datetime]]] = {}
    for member in members:
        groups.setdefault(roots.get(member[0], member[0]), []).append(member)
    rows = []
    for group in groups.values():
        first = neardup.origin(group)
        rows += [(m[0], first, m[0] == first) for m in group]
    store.replace_clusters(rows)
    return sum(1 for g in groups.values() if len(g) > 1)
